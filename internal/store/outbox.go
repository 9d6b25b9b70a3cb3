package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/outbox"
)

// InsertOutboxMessage implements outbox.EnqueueTx.
func (tx *Tx) InsertOutboxMessage(ctx context.Context, m outbox.Message) error {
	_, err := tx.q.ExecContext(ctx, `
		INSERT INTO outbox (id, kind, topic, payload, status, attempts, next_attempt_at, created_at)
		VALUES ($1, $2, $3, $4, $5, 0, $6, $7)`,
		m.ID, m.Kind, m.Topic, string(m.Payload), outbox.StatusPending, micros(m.NextAttemptAt), micros(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert outbox message: %w", err)
	}
	return nil
}

const outboxColumns = `id, kind, topic, payload, status, attempts, next_attempt_at, last_error, created_at, delivered_at`

func scanOutbox(row rowScanner) (outbox.Message, error) {
	var m outbox.Message
	var payload string
	var next, created, delivered int64
	err := row.Scan(&m.ID, &m.Kind, &m.Topic, &payload, &m.Status, &m.Attempts, &next, &m.LastError, &created, &delivered)
	m.Payload = []byte(payload)
	m.NextAttemptAt, m.CreatedAt, m.DeliveredAt = fromMicros(next), fromMicros(created), fromMicros(delivered)
	return m, err
}

// ClaimOutbox takes up to limit due messages for delivery and leases them
// until now+lease, counting the attempt. A leased message is invisible to
// every other worker, on this node or another; if this worker dies, the lease
// runs out and another takes the message over.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]outbox.Message, error) {
	var claimed []outbox.Message
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		claimed, err = queryAll(ctx, tx.q, "claim outbox messages", scanOutbox, `
			UPDATE outbox SET lease_until = $1, attempts = attempts + 1
			WHERE id IN (
				SELECT id FROM outbox
				WHERE status = 'pending' AND next_attempt_at <= $2 AND lease_until <= $2
				ORDER BY next_attempt_at LIMIT $3`+tx.skipLocked()+`)
			RETURNING `+outboxColumns,
			micros(now.Add(lease)), micros(now), limit)
		return err
	})
	return claimed, err
}

// MarkOutboxDelivered records a successful delivery.
func (s *Store) MarkOutboxDelivered(ctx context.Context, id string, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, `
			UPDATE outbox SET status = 'delivered', delivered_at = $2, lease_until = 0, last_error = ''
			WHERE id = $1`, id, micros(now))
		if err != nil {
			return fmt.Errorf("mark outbox message %s delivered: %w", id, err)
		}
		return nil
	})
}

// MarkOutboxFailed records a failed attempt: the message waits until next,
// or is parked dead when dead is true.
func (s *Store) MarkOutboxFailed(ctx context.Context, id string, next time.Time, dead bool, reason string) error {
	status := outbox.StatusPending
	if dead {
		status = outbox.StatusDead
	}
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, `
			UPDATE outbox SET status = $2, next_attempt_at = $3, lease_until = 0, last_error = $4
			WHERE id = $1`, id, status, micros(next), truncate(reason, 1000))
		if err != nil {
			return fmt.Errorf("mark outbox message %s failed: %w", id, err)
		}
		return nil
	})
}

// RetryOutbox puts a dead message back in the queue with a fresh set of attempts.
func (s *Store) RetryOutbox(ctx context.Context, id string, now time.Time) (outbox.Message, error) {
	var m outbox.Message
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		m, err = scanOutbox(tx.q.QueryRowContext(ctx, `
			UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, lease_until = 0
			WHERE id = $1 AND status = 'dead'
			RETURNING `+outboxColumns, id, micros(now)))
		if isNoRows(err) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("retry outbox message %s: %w", id, err)
		}
		return nil
	})
	return m, err
}

// OutboxFilter selects messages for the admin API.
type OutboxFilter struct {
	Status string
	// Before continues a listing: messages older than this position.
	Before *Cursor
	Limit  int
}

// ListOutbox lists messages, newest first.
func (s *Store) ListOutbox(ctx context.Context, f OutboxFilter) ([]outbox.Message, error) {
	before := f.Before.orEnd()
	return queryAll(ctx, s.reader, "list outbox", scanOutbox, `SELECT `+outboxColumns+` FROM outbox
		WHERE ($1 = '' OR status = $1) AND (created_at < $2 OR (created_at = $2 AND id < $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`, f.Status, micros(before.At), before.ID, f.Limit)
}

// OutboxDepth counts messages waiting for delivery, for the metrics.
func (s *Store) OutboxDepth(ctx context.Context) (pending, dead int64, err error) {
	err = s.reader.QueryRowContext(ctx, `
		SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
		       COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0)
		FROM outbox WHERE status <> 'delivered'`).Scan(&pending, &dead)
	if err != nil {
		return 0, 0, fmt.Errorf("count outbox: %w", err)
	}
	return pending, dead, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
