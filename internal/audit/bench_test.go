package audit_test

// Benchmarks for appending to the audit log. They are the reproducible side of
// docs/BENCHMARKS.md; run them with, for example,
//
//	go test ./internal/audit/ -run '^$' -bench 'SQLite' -benchtime 2s -count 6
//	WARDEN_TEST_POSTGRES_URL=postgres://… go test ./internal/audit/ -run '^$' -bench 'Postgres' -benchtime 2s -count 6
//
// The PostgreSQL benchmark skips when WARDEN_TEST_POSTGRES_URL is unset.
//
// Every benchmark reports tx/s: committed transactions per second, one audit
// record in each.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// benchEntry is a typical record: a user acting on their own account.
func benchEntry(userID string, i int) audit.Entry {
	return audit.Entry{
		Actor:     "user:" + userID,
		Action:    "session.created",
		UserID:    userID,
		IP:        "192.0.2.1",
		RequestID: "req_benchmark",
		Data:      map[string]any{"session_id": "ses_benchmark", "method": "password", "i": i},
	}
}

// appendOne commits one transaction holding one audit record.
func appendOne(ctx context.Context, s *store.Store, e audit.Entry) error {
	return s.Write(ctx, func(tx *store.Tx) error {
		_, err := audit.Append(ctx, tx, time.Now(), e)
		return err
	})
}

func reportTxPerSecond(b *testing.B, n int) {
	if sec := b.Elapsed().Seconds(); sec > 0 {
		b.ReportMetric(float64(n)/sec, "tx/s")
	}
}

// BenchmarkAuditAppendSQLite commits one audit record per transaction through
// the store, as an action does: lock (upsert) the chain head, insert, advance
// the head, commit.
func BenchmarkAuditAppendSQLite(b *testing.B) {
	ctx := context.Background()
	s := storetest.SQLite(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := appendOne(ctx, s, benchEntry("usr_benchmark", i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	reportTxPerSecond(b, b.N)
}

// BenchmarkBareChainedInsertSQLite is the reference for
// BenchmarkAuditAppendSQLite: the least a hash-chained append can do on the
// same driver and settings (WAL, synchronous=NORMAL, one connection,
// BEGIN IMMEDIATE) — one INSERT of a row whose hash covers the previous hash
// kept in memory, no head row, no JSON, no store layer.
func BenchmarkBareChainedInsertSQLite(b *testing.B) {
	ctx := context.Background()
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(10000)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + filepath.Join(b.TempDir(), "bare.db") + "?" + pragmas.Encode() + "&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE chain (
		seq BIGINT PRIMARY KEY, occurred_at BIGINT NOT NULL, data TEXT NOT NULL,
		prev_hash TEXT NOT NULL, hash TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	prev := ""
	seq := int64(0)
	for b.Loop() {
		seq++
		at := time.Now().UnixMicro()
		data := fmt.Sprintf(`{"i":%d}`, seq)
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d|%d|%s|%s", seq, at, data, prev)))
		hash := hex.EncodeToString(sum[:])
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO chain (seq, occurred_at, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)`,
			seq, at, data, prev, hash); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		prev = hash
	}
	reportTxPerSecond(b, b.N)
}

// BenchmarkAuditAppendPostgres runs W concurrent writers, each committing one
// audit record per transaction. With distinct users the writers touch distinct
// chain heads and should scale; on one shared user they queue on that chain's
// head row, as they must.
func BenchmarkAuditAppendPostgres(b *testing.B) {
	s := storetest.Postgres(b) // skips when WARDEN_TEST_POSTGRES_URL is unset
	var run atomic.Int64       // makes every sub-benchmark round use fresh users
	for _, c := range []struct {
		name      string
		writers   int
		sameChain bool
	}{
		{"writers=1", 1, false},
		{"writers=16", 16, false},
		{"writers=16-one-chain", 16, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchmarkConcurrentAppend(b, s, c.writers, c.sameChain, run.Add(1))
		})
	}
}

func benchmarkConcurrentAppend(b *testing.B, s *store.Store, writers int, sameChain bool, run int64) {
	ctx := context.Background()
	// Warm the pool and create the chain heads outside the timed part.
	users := make([]string, writers)
	for w := range users {
		users[w] = fmt.Sprintf("usr_bench_%d_%d", run, w)
		if sameChain {
			users[w] = fmt.Sprintf("usr_bench_%d_shared", run)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			if err := appendOne(ctx, s, benchEntry(users[w], -1)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	var next atomic.Int64
	n := int64(b.N)
	b.ResetTimer()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > n {
					return
				}
				if err := appendOne(ctx, s, benchEntry(users[w], int(i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	reportTxPerSecond(b, b.N)
}
