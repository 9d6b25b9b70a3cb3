package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/ratelimit"
)

// errBucketVanished means a rate bucket was deleted (by PruneRateBuckets)
// between being made sure of and being locked: the transaction starts over.
var errBucketVanished = errors.New("rate bucket deleted concurrently")

// errBucketsNotSaved rolls back an UpdateBuckets whose update chose not to save.
var errBucketsNotSaved = errors.New("rate buckets not saved")

// UpdateBuckets implements ratelimit.BucketStore on the rate_buckets table:
// the buckets are read, updated and written back in one transaction.
//
// On PostgreSQL the rows are first created if missing (INSERT … ON CONFLICT
// DO NOTHING), then locked (SELECT … FOR UPDATE), both in bucket-name order,
// so two checks that share buckets wait for each other instead of
// deadlocking. On SQLite the write transaction already holds the database's
// only write lock; a missing row is a fresh bucket and is created on save.
// A refused check rolls back, leaving no trace. A saving check commits
// without waiting for PostgreSQL to flush it to disk (synchronous_commit off
// for that transaction): a database crash may forget the last fraction of a
// second of charges, which is worth far less than the flush on every request.
func (s *Store) UpdateBuckets(ctx context.Context, now time.Time, keys []ratelimit.Key, update func([]ratelimit.Bucket) ([]ratelimit.Bucket, bool)) error {
	if len(keys) == 0 {
		update(nil)
		return nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Bucket
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return fmt.Errorf("update rate buckets: bucket %s given twice", names[i])
		}
	}
	// A vanished bucket was one untouched for long; it comes back fresh, which
	// PruneRateBuckets (given a cutoff at least the refill period old) leaves
	// alone. So each retry follows the loss of another old bucket of these
	// keys, and len(keys)+1 attempts are enough.
	var err error
	for range len(keys) + 2 {
		err = s.Write(ctx, func(tx *Tx) error { return tx.updateBuckets(ctx, keys, names, update) })
		if !errors.Is(err, errBucketVanished) {
			break
		}
	}
	if errors.Is(err, errBucketsNotSaved) {
		return nil
	}
	return err
}

// updateBuckets is one attempt of UpdateBuckets; names are the keys' buckets, sorted.
func (tx *Tx) updateBuckets(ctx context.Context, keys []ratelimit.Key, names []string, update func([]ratelimit.Bucket) ([]ratelimit.Bucket, bool)) error {
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	lockClause := ""
	if tx.dialect == Postgres {
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO rate_buckets (bucket, tokens, updated_at) VALUES `+
			paramGroups(len(names), 1, "(", ", 0, 0)")+` ON CONFLICT (bucket) DO NOTHING`, args...); err != nil {
			return fmt.Errorf("create rate buckets: %w", err)
		}
		lockClause = " FOR UPDATE"
	}
	type row struct {
		name   string
		bucket ratelimit.Bucket
	}
	rows, err := queryAll(ctx, tx.q, "read rate buckets", func(r rowScanner) (row, error) {
		var got row
		var updated int64
		err := r.Scan(&got.name, &got.bucket.Tokens, &updated)
		got.bucket.UpdatedAt = fromMicros(updated)
		return got, err
	}, `SELECT bucket, tokens, updated_at FROM rate_buckets WHERE bucket IN (`+
		paramGroups(len(names), 1, "", "")+`) ORDER BY bucket`+lockClause, args...)
	if err != nil {
		return err
	}
	if tx.dialect == Postgres && len(rows) != len(names) {
		return errBucketVanished
	}
	byName := make(map[string]ratelimit.Bucket, len(rows))
	for _, r := range rows {
		byName[r.name] = r.bucket
	}
	current := make([]ratelimit.Bucket, len(keys))
	for i, k := range keys {
		current[i] = byName[k.Bucket] // zero (fresh) when missing, on SQLite
	}
	next, save := update(current)
	if !save {
		return errBucketsNotSaved
	}
	if len(next) != len(keys) {
		return fmt.Errorf("update rate buckets: %d buckets for %d keys", len(next), len(keys))
	}
	if tx.dialect == Postgres {
		// See UpdateBuckets: no waiting for the disk.
		if _, err := tx.q.ExecContext(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
			return fmt.Errorf("write rate buckets: %w", err)
		}
	}
	// In name order too, so that PostgreSQL updates the rows in the order it locked them.
	upsert := make([]any, 0, 3*len(keys))
	for _, n := range names {
		i := slices.IndexFunc(keys, func(k ratelimit.Key) bool { return k.Bucket == n })
		upsert = append(upsert, n, next[i].Tokens, micros(next[i].UpdatedAt))
	}
	if _, err := tx.q.ExecContext(ctx, `INSERT INTO rate_buckets (bucket, tokens, updated_at) VALUES `+
		paramGroups(len(names), 3, "(", ")")+`
		ON CONFLICT (bucket) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`, upsert...); err != nil {
		return fmt.Errorf("write rate buckets: %w", err)
	}
	return nil
}

// paramGroups lists n groups of width consecutive parameters ($1, $2, …),
// each group between opening and closing: paramGroups(2, 3, "(", ")") is
// "($1, $2, $3), ($4, $5, $6)".
func paramGroups(n, width int, opening, closing string) string {
	var b strings.Builder
	for g := range n {
		if g > 0 {
			b.WriteString(", ")
		}
		b.WriteString(opening)
		for j := range width {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$")
			b.WriteString(strconv.Itoa(g*width + j + 1))
		}
		b.WriteString(closing)
	}
	return b.String()
}

// rateBucketPruneBatch is how many rate buckets one PruneRateBuckets transaction deletes,
// at most, so that pruning never holds the (SQLite) write lock for long.
const rateBucketPruneBatch = 1000

// PruneRateBuckets deletes the rate buckets untouched since olderThan and
// returns how many it deleted. A bucket untouched for a whole refill period is
// full, which is what a missing bucket means too: pass a time at least the
// longest Limit.Per in use before now, or buckets that still count are reset.
//
// It deletes in small batches, each its own transaction, and skips buckets
// that a check holds locked. (rate_buckets has no index on updated_at, so
// each batch scans the table until it has found a batch.)
func (s *Store) PruneRateBuckets(ctx context.Context, olderThan time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.Write(ctx, func(tx *Tx) error {
			res, err := tx.q.ExecContext(ctx, `DELETE FROM rate_buckets WHERE bucket IN (
				SELECT bucket FROM rate_buckets WHERE updated_at < $1 LIMIT `+strconv.Itoa(rateBucketPruneBatch)+tx.skipLocked()+`)`,
				micros(olderThan))
			if err != nil {
				return fmt.Errorf("prune rate buckets: %w", err)
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n < rateBucketPruneBatch {
			return total, err
		}
	}
}
