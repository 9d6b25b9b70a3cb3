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
