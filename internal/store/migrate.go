package store

import (
	"context"
	"embed"
	"fmt"
	"hash/crc64"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies every embedded migration not yet applied. It is safe to run
// from several processes at once on PostgreSQL: a session lock lets one through.
func (s *Store) Migrate(ctx context.Context) error {
	provider, err := s.migrationProvider(ctx)
	if err != nil {
		return err
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// SchemaVersion reports the applied and the newest embedded migration version.
func (s *Store) SchemaVersion(ctx context.Context) (applied, newest int64, err error) {
	provider, err := s.migrationProvider(ctx)
	if err != nil {
		return 0, 0, err
	}
	applied, err = provider.GetDBVersion(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	sources := provider.ListSources()
	if len(sources) > 0 {
		newest = sources[len(sources)-1].Version
	}
	return applied, newest, nil
}

func (s *Store) migrationProvider(ctx context.Context) (*goose.Provider, error) {
	files, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		// The lock is per schema: migrating one schema never waits for another.
		var schema string
		if err := s.writer.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return nil, fmt.Errorf("read current schema: %w", err)
		}
		lockID := int64(crc64.Checksum([]byte("warden migrations "+schema), crc64.MakeTable(crc64.ECMA)) >> 1)
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true))
	provider, err := goose.NewProvider(dialect, s.writer, files, opts...)
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return provider, nil
}
