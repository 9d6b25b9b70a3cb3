// Package store is Warden's storage layer: one SQL code path for embedded SQLite
// and PostgreSQL, with the few differences between them kept in a thin dialect layer.
//
// Every state change goes through Write, which runs a function inside one
// transaction; callers never begin or commit transactions themselves. That is
// what lets an action, its audit record and the messages it causes commit or
// fail together.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/keyring"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Dialect names the database behind a Store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a looked-up row does not exist. Capability
// packages, which do not import the store, recognise it by its NotFound method.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string  { return "not found" }
func (notFoundError) NotFound() bool { return true }

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	// writer runs write transactions. On SQLite it holds a single connection
	// whose transactions begin IMMEDIATE, so writers queue in Go instead of
	// failing with SQLITE_BUSY, and a transaction that reads before it writes
	// can never be overtaken.
	writer *sql.DB
	// reader serves read-only work; on SQLite (WAL) readers never block the writer.
	reader *sql.DB
	// keys seals the columns that hold secrets Warden must read back.
	keys *keyring.Keyring
	// url is the PostgreSQL URL, for connections outside the pool (LISTEN).
	url string
	// hot prepares hotStatements once on the SQLite writer; nil on PostgreSQL,
	// whose driver already keeps prepared statements per connection.
	hot *preparedSet
	// readHot prepares readHotStatements on the SQLite readers (each
	// connection prepares them on first use; database/sql keeps them).
	readHot *preparedSet
	// checkpoints moves SQLite's write-ahead log into the database file on
	// a connection of its own; nil on PostgreSQL. See runCheckpoints.
	checkpoints *checkpointer
}

// hotStatements run in nearly every write transaction. On SQLite, parsing
// them anew each time is about a quarter of an audit append's CPU time, so
// the writer connection keeps them prepared (see Tx.execHot, Tx.queryRowHot).
var hotStatements = []string{lockAuditHeadSQL, insertAuditRecordSQL, advanceAuditHeadSQL,
	insertLoginEventSQL, loginPressureSQL, lockoutLaneSQL, upsertLockoutLaneSQL}

// readHotStatements are what every login reads, kept prepared on SQLite's
// readers for the same reason (see Store.Read).
var readHotStatements = []string{loginPressureSQL, loginEventsSQL(1), devicesOfSQL}

// preparedSet holds statements prepared on a SQLite pool. It is filled
// before a write transaction begins, never inside one: the writer has a single
// connection, which the transaction would hold.
type preparedSet struct {
	queries []string
	mu      sync.Mutex
	ready   atomic.Bool
	stmts   map[string]*sql.Stmt // read-only once ready
}

// get returns the prepared statements, preparing them first if need be. It
// returns nil while they cannot be prepared, typically because the database
// is not migrated yet; the next write tries again.
func (p *preparedSet) get(ctx context.Context, db *sql.DB) map[string]*sql.Stmt {
	if p.ready.Load() {
		return p.stmts
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready.Load() {
		return p.stmts
	}
	stmts := make(map[string]*sql.Stmt, len(p.queries))
	for _, q := range p.queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				st.Close()
			}
			return nil
		}
		stmts[q] = st
	}
	p.stmts = stmts
	p.ready.Store(true)
	return stmts
}

func (p *preparedSet) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var err error
	if p.ready.Load() {
		for _, st := range p.stmts {
			err = errors.Join(err, st.Close())
		}
	}
	return err
}

// Option configures a Store.
type Option func(*Store)

// WithKeyring sets the keys that seal secret columns (webhook secrets, TOTP
// secrets, documents). Without it those columns cannot be written or read.
func WithKeyring(k *keyring.Keyring) Option { return func(s *Store) { s.keys = k } }

// Open connects to the database named by a WARDEN_DATABASE_URL:
// sqlite://PATH (the folder is created) or postgres://….
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	var s *Store
	var err error
	switch {
	case strings.HasPrefix(databaseURL, "sqlite://"):
		s, err = openSQLite(ctx, strings.TrimPrefix(databaseURL, "sqlite://"))
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		s, err = openPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("open database: unsupported URL scheme in %q (want sqlite:// or postgres://)", redactURL(databaseURL))
	}
	if err != nil {
		return nil, err
	}
	for _, opt := range opts {
		opt(s)
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open database: sqlite:// needs a file path")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open database: create folder %s: %w", dir, err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(NORMAL)", // durable across process crashes; WAL keeps it consistent across power loss
		"foreign_keys(ON)",
		"busy_timeout(10000)",
		// The writer never checkpoints: a checkpoint run by the commit that
		// crosses the threshold stalls that transaction for milliseconds
		// (the login p99 in docs/BENCHMARKS.md); runCheckpoints does it
		// beside the writer instead.
		"wal_autocheckpoint(0)",
	} {
		pragmas.Add("_pragma", p)
	}
	writeDSN := "file:" + path + "?" + pragmas.Encode() + "&_txlock=immediate"
	writer, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	// The first connection creates the file and switches it to WAL before readers open it.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	readPragmas := url.Values{}
	for _, p := range []string{"foreign_keys(ON)", "busy_timeout(10000)", "query_only(1)"} {
		readPragmas.Add("_pragma", p)
	}
	reader, err := sql.Open("sqlite", "file:"+path+"?"+readPragmas.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	cp, err := startCheckpoints(path)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, err
	}
	return &Store{dialect: SQLite, writer: writer, reader: reader, checkpoints: cp,
		hot: &preparedSet{queries: hotStatements}, readHot: &preparedSet{queries: readHotStatements}}, nil
}

func openPostgres(ctx context.Context, databaseURL string) (*Store, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redactURL(databaseURL), err)
	}
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", redactURL(databaseURL), err)
	}
	return &Store{dialect: Postgres, writer: db, reader: db, url: databaseURL}, nil
}

// Dialect tells which database this store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close releases every connection.
func (s *Store) Close() error {
	var err error
	if s.checkpoints != nil {
		err = s.checkpoints.stop()
	}
	if s.hot != nil {
		err = errors.Join(err, s.hot.close())
	}
	if s.readHot != nil {
		err = errors.Join(err, s.readHot.close())
	}
	err = errors.Join(err, s.writer.Close())
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

// Ping checks that the database answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is one database transaction. Its methods (spread over the files of this
// package by subject) are the only way the rest of Warden reads or writes rows.
type Tx struct {
	q       querier
	dialect Dialect
	keys    *keyring.Keyring
	// hot holds the prepared hotStatements when q is a SQLite write transaction.
	hot map[string]*sql.Stmt
}

// execHot is q.ExecContext for a statement of hotStatements, prepared when it can be.
func (tx *Tx) execHot(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.hot[query]; st != nil {
		return tx.q.(*sql.Tx).StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.q.ExecContext(ctx, query, args...)
}

// queryRowHot is q.QueryRowContext for a statement of hotStatements, prepared
// when it can be. Scan the row before running the same statement again: both
// would share one SQLite statement.
func (tx *Tx) queryRowHot(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.hot[query]; st != nil {
		return tx.q.(*sql.Tx).StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.q.QueryRowContext(ctx, query, args...)
}

// hotQ is tx.q, with QueryContext running a hot statement prepared when it can.
func (tx *Tx) hotQ() querier {
	if tx.hot == nil {
		return tx.q
	}
	return hotQuerier{tx}
}

type hotQuerier struct{ tx *Tx }

func (h hotQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return h.tx.execHot(ctx, query, args...)
}

func (h hotQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := h.tx.hot[query]; st != nil {
		return h.tx.q.(*sql.Tx).StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return h.tx.q.QueryContext(ctx, query, args...)
}

func (h hotQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return h.tx.queryRowHot(ctx, query, args...)
}

// Write runs fn in one read-write transaction and commits it if fn returns nil.
// On SQLite write transactions run one at a time; on PostgreSQL they run
// concurrently and use Lock (or row locks) where order matters.
func (s *Store) Write(ctx context.Context, fn func(tx *Tx) error) error {
	var hot map[string]*sql.Stmt
	if s.hot != nil {
		hot = s.hot.get(ctx, s.writer)
	}
	return s.run(ctx, s.writer, nil, hot, fn)
}

// Read runs fn in a read-only transaction, so everything it reads comes from one snapshot.
func (s *Store) Read(ctx context.Context, fn func(tx *Tx) error) error {
	var opts *sql.TxOptions
	if s.dialect == Postgres {
		// REPEATABLE READ gives every statement of fn the same snapshot; SQLite's
		// WAL read transactions already do.
		opts = &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	var hot map[string]*sql.Stmt
	if s.readHot != nil {
		hot = s.readHot.get(ctx, s.reader)
	}
	return s.run(ctx, s.reader, opts, hot, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, hot map[string]*sql.Stmt, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(&Tx{q: sqlTx, dialect: s.dialect, keys: s.keys, hot: hot}); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// Dialect tells which database the transaction runs on.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// Lock serializes transactions that name the same subject (for example
// "user:usr_123") until the transaction ends, without holding up any other
// subject. Money decisions take it before they read what they decide on.
//
// On PostgreSQL it is a row lock; on SQLite every write transaction already
// began IMMEDIATE and holds the database's single write lock, so nothing more is needed.
func (tx *Tx) Lock(ctx context.Context, subject string) error {
	if tx.dialect != Postgres {
		return nil
	}
	if _, err := tx.q.ExecContext(ctx,
		`INSERT INTO subject_locks (subject) VALUES ($1) ON CONFLICT (subject) DO NOTHING`, subject); err != nil {
		return fmt.Errorf("lock %s: %w", subject, err)
	}
	var got string
	if err := tx.q.QueryRowContext(ctx,
		`SELECT subject FROM subject_locks WHERE subject = $1 FOR UPDATE`, subject).Scan(&got); err != nil {
		return fmt.Errorf("lock %s: %w", subject, err)
	}
	return nil
}

// skipLocked is appended to a SELECT that claims work: on PostgreSQL several
// processes then take different rows instead of waiting on each other. SQLite
// has one writer at a time, so there is nothing to skip.
func (tx *Tx) skipLocked() string {
	if tx.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// redactURL hides a password in a database URL before it reaches an error or a log.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// micros and fromMicros store instants as integer microseconds since the Unix
// epoch: the same column type and ordering on both databases, no time zones.
func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface{ Scan(dest ...any) error }

// queryAll runs a query and scans every row it returns; what names the
// query in errors.
func queryAll[T any](ctx context.Context, q querier, what string, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
