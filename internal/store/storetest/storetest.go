// Package storetest opens real, migrated databases for tests: SQLite always,
// PostgreSQL when WARDEN_TEST_POSTGRES_URL names a server. Each PostgreSQL
// store lives in a schema of its own, dropped when the test ends, so tests run
// in parallel on one server without seeing each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardenhq/warden/internal/store"
)

// PostgresEnv names the variable that points the tests at PostgreSQL.
const PostgresEnv = "WARDEN_TEST_POSTGRES_URL"

// SQLite returns a migrated store on a fresh SQLite file in t's temp folder.
func SQLite(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	s, _ := SQLiteURL(t, opts...)
	return s
}

// SQLiteURL is SQLite that also returns the database URL, for tests that start processes on it.
func SQLiteURL(t testing.TB, opts ...store.Option) (*store.Store, string) {
	t.Helper()
	u := "sqlite://" + filepath.Join(t.TempDir(), "warden.db")
	return openMigrated(t, u, opts...), u
}

// Postgres returns a migrated store in a fresh schema, or skips the test when
// no server is configured — except under CI=true, where that fails it.
func Postgres(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	s, _ := PostgresURL(t, opts...)
	return s
}

// PostgresURL is Postgres that also returns the database URL (with the schema
// selected through search_path), for tests that start processes on it.
func PostgresURL(t testing.TB, opts ...store.Option) (*store.Store, string) {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is not set: the PostgreSQL tests must run in CI", PostgresEnv)
		}
		t.Skipf("%s not set: skipping the PostgreSQL run", PostgresEnv)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "warden_test_" + hex.EncodeToString(b[:])

	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema (is PostgreSQL running at %s?): %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})

	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return openMigrated(t, u.String(), opts...), u.String()
}

// Each runs fn once on SQLite and once on PostgreSQL (when configured), as subtests.
func Each(t *testing.T, fn func(t *testing.T, s *store.Store), opts ...store.Option) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, opts...)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, opts...)) })
}

func openMigrated(t testing.TB, databaseURL string, opts ...store.Option) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, databaseURL, opts...)
	if err != nil {
		t.Fatalf("open test store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate test store: %v", err)
	}
	return s
}
