package store_test

import (
	"context"
	"testing"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		applied, newest, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if applied != newest || applied == 0 {
			t.Fatalf("schema version applied %d, newest %d", applied, newest)
		}
	})
}
