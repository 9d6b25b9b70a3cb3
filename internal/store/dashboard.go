package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// The staff dashboard's numbers: the queues' sizes, and counts of logins,
// lockouts, withdrawals and alerts per hour or day. Each count is one
// GROUP BY in SQL over a time index, the bucket an integer division of
// microseconds, which SQLite and PostgreSQL compute alike for BIGINT.

// QueueCounts are the sizes of the staff queues.
type QueueCounts struct {
	// Withdrawals waiting for review (pending_review).
	Withdrawals int
	// Verifications waiting for review (pending_review): tiers and 2FA resets.
	Verifications int
	// Alerts still open.
	Alerts int
	// Cases still open.
	Cases int
}

// QueueCounts counts what waits for staff, in one round trip.
func (tx *Tx) QueueCounts(ctx context.Context) (QueueCounts, error) {
	var q QueueCounts
	err := tx.q.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM withdrawals WHERE status = $1),
		(SELECT COUNT(*) FROM verifications WHERE status = $2),
		(SELECT COUNT(*) FROM alerts WHERE status = $3),
		(SELECT COUNT(*) FROM cases WHERE status = $4)`,
		withdrawal.StatusPendingReview, verification.StatusPendingReview, monitor.AlertOpen, cases.StatusOpen,
	).Scan(&q.Withdrawals, &q.Verifications, &q.Alerts, &q.Cases)
	if err != nil {
		return q, fmt.Errorf("count queues: %w", err)
	}
	return q, nil
}

// BucketCount is how many rows with Key fell in bucket Bucket: the
// interval [from + Bucket×width, from + (Bucket+1)×width).
type BucketCount struct {
	Bucket int
	Key    string
	N      int
}

// Span is the period a count covers, cut into buckets of Width.
type Span struct {
	From  time.Time
	To    time.Time // exclusive
	Width time.Duration
}

// Buckets is how many buckets the span has.
func (s Span) Buckets() int {
	if s.Width <= 0 {
		return 0
	}
	return int((s.To.Sub(s.From) + s.Width - 1) / s.Width)
}

func (s Span) valid() error {
	if s.Width < time.Second || !s.From.Before(s.To) || s.Buckets() > 10_000 {
		return fmt.Errorf("count by bucket: span %s to %s by %s is not countable", s.From, s.To, s.Width)
	}
	return nil
}

// countByBucket runs one aggregate: rows of table whose timeCol is in the
// span, counted by bucket and keyExpr, with further conditions in where
// (using placeholders from $4 on, whose values are extra).
func (tx *Tx) countByBucket(ctx context.Context, what, table, timeCol, keyExpr, where string, sp Span, extra ...any) ([]BucketCount, error) {
	if err := sp.valid(); err != nil {
		return nil, err
	}
	query := fmt.Sprintf(`SELECT (%[2]s - $1) / $3 AS bucket, %[3]s AS k, COUNT(*)
		FROM %[1]s WHERE %[2]s >= $1 AND %[2]s < $2`, table, timeCol, keyExpr)
	if where != "" {
		query += " AND " + where
	}
	query += " GROUP BY 1, 2 ORDER BY 1, 2"
	args := append([]any{micros(sp.From), micros(sp.To), sp.Width.Microseconds()}, extra...)
	return queryAll(ctx, tx.q, what, func(row rowScanner) (BucketCount, error) {
		var b BucketCount
		var bucket, n int64
		err := row.Scan(&bucket, &b.Key, &n)
		b.Bucket, b.N = int(bucket), int(n)
		return b, err
	}, query, args...)
}

// LoginsByBucket counts login attempts by outcome (succeeded, challenged,
// denied, failed, locked) per bucket of the span.
func (tx *Tx) LoginsByBucket(ctx context.Context, sp Span) ([]BucketCount, error) {
	return tx.countByBucket(ctx, "count logins by bucket", "login_events", "occurred_at", "outcome", "", sp)
}

// LockoutsByBucket counts lockouts (audit records login.locked: a lane
// locked after too many wrong passwords or codes) per bucket; the key is
// always "locked".
func (tx *Tx) LockoutsByBucket(ctx context.Context, sp Span) ([]BucketCount, error) {
	return tx.countByBucket(ctx, "count lockouts by bucket", "audit_records", "occurred_at", "'locked'", "action = $4", sp, "login.locked")
}

// WithdrawalsByBucket counts withdrawal requests made in each bucket by
// their status at now: one still awaiting confirmation past its time
// counts as expired.
func (tx *Tx) WithdrawalsByBucket(ctx context.Context, sp Span, now time.Time) ([]BucketCount, error) {
	return tx.countByBucket(ctx, "count withdrawals by bucket", "withdrawals", "created_at",
		"CASE WHEN status = $4 AND expires_at <= $5 THEN $6 ELSE status END", "", sp,
		withdrawal.StatusAwaitingConfirmation, micros(now), withdrawal.StatusExpired)
}

// AlertsByBucket counts the alerts raised in each bucket by rule.
func (tx *Tx) AlertsByBucket(ctx context.Context, sp Span) ([]BucketCount, error) {
	return tx.countByBucket(ctx, "count alerts by bucket", "alerts", "created_at", "rule_id", "", sp)
}

// LoginEventsSince lists every account's login attempts with outcome (any
// when empty) since a moment, newest first: the list behind the
// dashboard's login chart.
func (tx *Tx) LoginEventsSince(ctx context.Context, outcome string, since time.Time, limit int) ([]login.Event, error) {
	args := []any{micros(since)}
	query := `SELECT ` + loginEventColumns + ` FROM login_events WHERE occurred_at >= $1`
	if outcome != "" {
		query += " AND outcome = " + placeholders(&args, outcome)
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY occurred_at DESC, id DESC LIMIT $%d`, len(args))
	return queryAll(ctx, tx.q, "list login events since", scanLoginEvent, query, args...)
}
