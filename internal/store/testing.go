package store

import (
	"context"
	"fmt"
)

// ExecRaw runs a statement outside every rule of this package. It exists for
// tests that tamper with the database the way an intruder would; nothing in
// Warden itself calls it.
func (s *Store) ExecRaw(ctx context.Context, query string, args ...any) error {
	if _, err := s.writer.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("exec raw: %w", err)
	}
	return nil
}

// TestCounter and SetTestCounter read and write the test_counters table that
// the Lock conformance test creates; they let the test do read-modify-write
// inside a Tx like real capabilities do.
func TestCounter(ctx context.Context, tx *Tx, subject string) (int64, error) {
	var n int64
	err := tx.q.QueryRowContext(ctx, `SELECT n FROM test_counters WHERE subject = $1`, subject).Scan(&n)
	return n, err
}

// SetTestCounter: see TestCounter.
func SetTestCounter(ctx context.Context, tx *Tx, subject string, n int64) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE test_counters SET n = $2 WHERE subject = $1`, subject, n)
	return err
}
