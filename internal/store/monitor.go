package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/monitor"
)

// Events.

const eventColumns = `id, user_id, type, asset, amount, value, occurred_at, attributes, source, received_at, evaluated`

// eventColumnCount is how many parameters one event takes in an INSERT.
const eventColumnCount = 11

// How many events one INSERT statement carries. SQLite looks each $n
// parameter up in a list when it parses and binds a statement, which is
// quadratic in the parameters: 20 rows (220 parameters) a statement ingest
// about twice as fast as 100 there. PostgreSQL has no such cost and a round
// trip a statement, so it takes 100. Both stay far below the parameter
// limits (PostgreSQL 65535, modernc SQLite 32766).
const (
	sqliteEventChunk   = 20
	postgresEventChunk = 100
)

// insertEventsSQL inserts n events, skipping ids already stored.
func insertEventsSQL(n int) string {
	return `INSERT INTO events (` + eventColumns + `) VALUES ` + paramGroups(n, eventColumnCount, "(", ")") +
		` ON CONFLICT (id) DO NOTHING`
}

// The statements of whole chunks, built once.
var (
	insertSQLiteChunkSQL   = insertEventsSQL(sqliteEventChunk)
	insertPostgresChunkSQL = insertEventsSQL(postgresEventChunk)
)

// The rules' Amount and Value are not stored: the service derives them
// from AmountText and ValueMinor (the value's currency is its business).
func scanEvent(row rowScanner) (monitor.StoredEvent, error) {
	var e monitor.StoredEvent
	var occurred, received int64
	var attributes string
	err := row.Scan(&e.ID, &e.UserID, &e.Type, &e.Asset, &e.AmountText, &e.ValueMinor, &occurred, &attributes,
		&e.Source, &received, &e.Evaluated)
	if isNoRows(err) {
		return e, ErrNotFound
	}
	if err != nil {
		return e, err
	}
	e.OccurredAt, e.ReceivedAt = fromMicros(occurred), fromMicros(received)
	if e.Attributes, err = unmarshalObject(attributes); err != nil {
		return e, fmt.Errorf("event %s: attributes: %w", e.ID, err)
	}
	return e, nil
}

// marshalObject stores a JSON object column; nil (or empty) is "{}".
func marshalObject(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// unmarshalObject reads a JSON object column; "{}" comes back nil, as it
// went in (marshalObject), so a round trip keeps a missing map missing.
func unmarshalObject(s string) (map[string]any, error) {
	if s == "{}" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// InsertEvents stores events, skipping ids already stored (a retried
// batch), and returns how many were new. It writes many events a
// statement (sqliteEventChunk, postgresEventChunk): the ingest path.
func (tx *Tx) InsertEvents(ctx context.Context, events []monitor.StoredEvent) (int, error) {
	size, fullSQL := sqliteEventChunk, insertSQLiteChunkSQL
	if tx.dialect == Postgres {
		size, fullSQL = postgresEventChunk, insertPostgresChunkSQL
	}
	total := 0
	args := make([]any, 0, min(len(events), size)*eventColumnCount)
	for chunk := range slices.Chunk(events, size) {
		args = args[:0]
		for _, e := range chunk {
			attributes, err := marshalObject(e.Attributes)
			if err != nil {
				return total, fmt.Errorf("insert events: event %s: attributes: %w", e.ID, err)
			}
			args = append(args, e.ID, e.UserID, e.Type, e.Asset, e.AmountText, e.ValueMinor, micros(e.OccurredAt), attributes,
				e.Source, micros(e.ReceivedAt), e.Evaluated)
		}
		query := fullSQL
		if len(chunk) != size {
			query = insertEventsSQL(len(chunk))
		}
		res, err := tx.q.ExecContext(ctx, query, args...)
		if err != nil {
			return total, fmt.Errorf("insert events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("insert events: %w", err)
		}
		total += int(n)
	}
	return total, nil
}

// userIDsChunk is how many ids one UserIDsExisting query asks about.
const userIDsChunk = 500

// UserIDsExisting returns which of ids are user accounts (staff are not).
func (tx *Tx) UserIDsExisting(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, userIDsChunk) {
		args := []any{account.RealmUser}
		found, err := queryAll(ctx, tx.q, "find users", func(row rowScanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, `SELECT id FROM accounts WHERE realm = $1 AND id IN (`+placeholders(&args, chunk...)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// PendingEvents lists up to limit events not evaluated yet (100 when limit
// is not positive), oldest received first.
func (tx *Tx) PendingEvents(ctx context.Context, limit int) ([]monitor.StoredEvent, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, tx.q, "list pending events", scanEvent, `SELECT `+eventColumns+` FROM events
		WHERE NOT evaluated ORDER BY received_at, id LIMIT $1`, limit)
}

// ClaimEvents marks events evaluated and returns those this call claimed:
// one already evaluated (claimed by another node) or missing is left out.
// On PostgreSQL a concurrent claim waits for the first one's transaction
// and then finds nothing to change.
func (tx *Tx) ClaimEvents(ctx context.Context, ids []string) (map[string]bool, error) {
	claimed := map[string]bool{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			args[i], ph[i] = id, fmt.Sprintf("$%d", i+1)
		}
		rows, err := tx.q.QueryContext(ctx, `UPDATE events SET evaluated = TRUE WHERE id IN (`+strings.Join(ph, ", ")+`) AND NOT evaluated RETURNING id`, args...)
		if err != nil {
			return nil, fmt.Errorf("claim events: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("claim events: %w", err)
			}
			claimed[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("claim events: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("claim events: %w", err)
		}
	}
	return claimed, nil
}

// eachEventPage is how many events EachEvent reads a query.
const eachEventPage = 2000

// scanReplayedEvent reads EachEvent's columns.
func scanReplayedEvent(row rowScanner) (monitor.StoredEvent, error) {
	var e monitor.StoredEvent
	var occurred int64
	var attributes string
	if err := row.Scan(&e.ID, &e.UserID, &e.Type, &e.Asset, &e.AmountText, &e.ValueMinor, &occurred, &attributes); err != nil {
		return e, err
	}
	e.OccurredAt = fromMicros(occurred)
	var err error
	if e.Attributes, err = unmarshalObject(attributes); err != nil {
		return e, fmt.Errorf("event %s: attributes: %w", e.ID, err)
	}
	return e, nil
}

// EachEvent calls fn with every event that occurred in [from, to), ordered
// by occurrence and id, and stops at fn's first error, which it returns.
//
// It reads a page of events at a time (keyset on occurred_at, id) rather
// than holding one result open: fn may query the same transaction (a
// backtest reads each user's account), which PostgreSQL's connection cannot
// do while a result is being streamed. Memory stays at one page.
func (tx *Tx) EachEvent(ctx context.Context, from, to time.Time, fn func(monitor.StoredEvent) error) error {
	// The next page starts after (at, id); at = from and id = '' start at the beginning.
	at, id := micros(from), ""
	for {
		// A replay reads what rules see and nothing of the bookkeeping
		// (source, received_at, evaluated): a million rows, every byte counts.
		page, err := queryAll(ctx, tx.q, "list events", scanReplayedEvent, `SELECT id, user_id, type, asset, amount, value, occurred_at, attributes
			FROM events WHERE occurred_at >= $1 AND occurred_at < $2 AND (occurred_at > $1 OR id > $3)
			ORDER BY occurred_at, id LIMIT $4`, at, micros(to), id, eachEventPage)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < eachEventPage {
			return nil
		}
		last := page[len(page)-1]
		at, id = micros(last.OccurredAt), last.ID
	}
}

// CountEvents counts the events that occurred in [from, to).
func (tx *Tx) CountEvents(ctx context.Context, from, to time.Time) (int, error) {
	var n int
	if err := tx.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE occurred_at >= $1 AND occurred_at < $2`,
		micros(from), micros(to)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events: %w", err)
	}
	return n, nil
}

// Alerts.

const alertColumns = `id, rule_id, rule_version, event_id, event_type, user_id, action, severity, mode, description,
	aggregates, context, status, resolution, note, resolved_by, created_at, resolved_at, case_id`

func scanAlert(row rowScanner) (monitor.Alert, error) {
	var a monitor.Alert
	var aggregates, alertContext string
	var created, resolved int64
	err := row.Scan(&a.ID, &a.RuleID, &a.RuleVersion, &a.EventID, &a.EventType, &a.UserID, &a.Action, &a.Severity, &a.Mode,
		&a.Description, &aggregates, &alertContext, &a.Status, &a.Resolution, &a.Note, &a.ResolvedBy, &created, &resolved, &a.CaseID)
	if isNoRows(err) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.CreatedAt, a.ResolvedAt = fromMicros(created), fromMicros(resolved)
	if a.Aggregates, err = unmarshalObject(aggregates); err != nil {
		return a, fmt.Errorf("alert %s: aggregates: %w", a.ID, err)
	}
	if a.Context, err = unmarshalObject(alertContext); err != nil {
		return a, fmt.Errorf("alert %s: context: %w", a.ID, err)
	}
	return a, nil
}

// InsertAlert stores a new alert.
func (tx *Tx) InsertAlert(ctx context.Context, a monitor.Alert) error {
	aggregates, err := marshalObject(a.Aggregates)
	if err != nil {
		return fmt.Errorf("insert alert: aggregates: %w", err)
	}
	alertContext, err := marshalObject(a.Context)
	if err != nil {
		return fmt.Errorf("insert alert: context: %w", err)
	}
	_, err = tx.q.ExecContext(ctx, `INSERT INTO alerts (`+alertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		a.ID, a.RuleID, a.RuleVersion, a.EventID, a.EventType, a.UserID, a.Action, a.Severity, a.Mode, a.Description,
		aggregates, alertContext, a.Status, a.Resolution, a.Note, a.ResolvedBy, micros(a.CreatedAt), micros(a.ResolvedAt), a.CaseID)
	if err != nil {
		return fmt.Errorf("insert alert: %w", err)
	}
	return nil
}

// UpdateAlert is read-modify-write of an alert under its lock: fn sees the
// current row and returns the new one (or an error, which changes nothing).
// Only its handling changes (status, resolution, note, resolver, resolution
// time and case); what fired stays as inserted.
func (tx *Tx) UpdateAlert(ctx context.Context, id string, fn func(old monitor.Alert) (monitor.Alert, error)) (monitor.Alert, error) {
	if err := tx.Lock(ctx, "alert:"+id); err != nil {
		return monitor.Alert{}, err
	}
	old, err := tx.AlertByID(ctx, id)
	if err != nil {
		return monitor.Alert{}, err
	}
	changed, err := fn(old)
	if err != nil {
		return monitor.Alert{}, err
	}
	a := old
	a.Status, a.Resolution, a.Note, a.ResolvedBy, a.ResolvedAt = changed.Status, changed.Resolution, changed.Note, changed.ResolvedBy, changed.ResolvedAt
	a.CaseID = changed.CaseID
	return a, tx.execOne(ctx, "update alert "+id, `UPDATE alerts SET status = $2, resolution = $3, note = $4,
			resolved_by = $5, resolved_at = $6, case_id = $7
		WHERE id = $1`,
		id, a.Status, a.Resolution, a.Note, a.ResolvedBy, micros(a.ResolvedAt), a.CaseID)
}

// AlertByID finds an alert by id.
func (tx *Tx) AlertByID(ctx context.Context, id string) (monitor.Alert, error) {
	a, err := scanAlert(tx.q.QueryRowContext(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, fmt.Errorf("find alert %s: %w", id, err)
	}
	return a, err
}

// Alerts lists the alerts the filter selects (every field optional; Since
// is on the creation time, inclusive), newest first, at most f.Limit (100
// when not positive, never over 1000). The WHERE clause names only the
// filters given, so each can use its index.
func (tx *Tx) Alerts(ctx context.Context, f monitor.AlertFilter) ([]monitor.Alert, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	var args []any
	var where []string
	for _, c := range []struct{ column, value string }{{"status", f.Status}, {"user_id", f.UserID}, {"rule_id", f.RuleID}, {"case_id", f.CaseID}} {
		if c.value != "" {
			where = append(where, c.column+" = "+placeholders(&args, c.value))
		}
	}
	if !f.Since.IsZero() {
		args = append(args, micros(f.Since))
		where = append(where, fmt.Sprintf("created_at >= $%d", len(args)))
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	return queryAll(ctx, tx.q, "list alerts", scanAlert, query, args...)
}

// OpenAlertsOutsideCases lists the user's open alerts that are in no case,
// oldest first.
func (tx *Tx) OpenAlertsOutsideCases(ctx context.Context, userID string) ([]monitor.Alert, error) {
	return queryAll(ctx, tx.q, "list open alerts outside cases", scanAlert, `SELECT `+alertColumns+` FROM alerts
		WHERE user_id = $1 AND status = $2 AND case_id = '' ORDER BY created_at, id`, userID, monitor.AlertOpen)
}

// Rule sets.

const ruleSetColumns = `version, source, created_at, created_by`

func scanRuleSet(row rowScanner) (monitor.RuleSetVersion, error) {
	var v monitor.RuleSetVersion
	var created int64
	err := row.Scan(&v.Version, &v.Source, &created, &v.CreatedBy)
	if isNoRows(err) {
		return v, ErrNotFound
	}
	v.CreatedAt = fromMicros(created)
	return v, err
}

// LatestRuleSet reads the newest version of the rules; ErrNotFound when
// none was ever stored (the defaults are in force).
func (tx *Tx) LatestRuleSet(ctx context.Context) (monitor.RuleSetVersion, error) {
	v, err := scanRuleSet(tx.q.QueryRowContext(ctx, `SELECT `+ruleSetColumns+` FROM rule_sets ORDER BY version DESC LIMIT 1`))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return v, fmt.Errorf("find latest rule set: %w", err)
	}
	return v, err
}

// InsertRuleSet stores a new version of the rules, or returns ErrConflict
// when that version exists: of two nodes storing the same next version,
// one wins and the other is told.
func (tx *Tx) InsertRuleSet(ctx context.Context, v monitor.RuleSetVersion) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO rule_sets (`+ruleSetColumns+`) VALUES ($1, $2, $3, $4)
		ON CONFLICT (version) DO NOTHING`, v.Version, v.Source, micros(v.CreatedAt), v.CreatedBy)
	if err != nil {
		return fmt.Errorf("insert rule set: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("insert rule set: %w", err)
	} else if n == 0 {
		return ErrConflict
	}
	return nil
}

// UserEvents lists a user's events of each type in since (the type's own
// window: since[type] up to to), oldest first, with what aggregates read —
// id, type, amount, value and time; no attributes. It is everything one
// evaluation's aggregates need, in one query on events_by_user_type, and
// a type read over a short window costs only that window.
func (tx *Tx) UserEvents(ctx context.Context, userID string, since map[string]time.Time, to time.Time) ([]monitor.StoredEvent, error) {
	if len(since) == 0 {
		return nil, nil
	}
	types := make([]string, 0, len(since))
	for t := range since {
		types = append(types, t)
	}
	sort.Strings(types) // the same text for the same rules: prepared once
	args := []any{userID, micros(to)}
	ors := make([]string, len(types))
	for i, t := range types {
		args = append(args, t, micros(since[t]))
		ors[i] = fmt.Sprintf("(type = $%d AND occurred_at >= $%d)", len(args)-1, len(args))
	}
	return queryAll(ctx, tx.q, "list a user's events", func(row rowScanner) (monitor.StoredEvent, error) {
		var e monitor.StoredEvent
		var occurred int64
		err := row.Scan(&e.ID, &e.Type, &e.AmountText, &e.ValueMinor, &occurred)
		e.UserID, e.OccurredAt = userID, fromMicros(occurred)
		return e, err
	}, `SELECT id, type, amount, value, occurred_at FROM events
		WHERE user_id = $1 AND occurred_at < $2 AND (`+strings.Join(ors, " OR ")+`)
		ORDER BY occurred_at, id`, args...)
}
