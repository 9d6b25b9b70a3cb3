package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/monitor"
)

const caseColumns = `id, account_id, kind, status, froze, resolution, user_note, internal_note, resolved_by,
	created_at, updated_at, resolved_at`

// caseListColumns are caseColumns, the number of the case's reports and of
// its alerts, and the first report's statement or the first alert's rule.
const caseListColumns = caseColumns + `, (SELECT COUNT(*) FROM case_reports r WHERE r.case_id = cases.id),
	(SELECT COUNT(*) FROM alerts a WHERE a.case_id = cases.id),
	COALESCE((SELECT r.statement FROM case_reports r WHERE r.case_id = cases.id ORDER BY r.created_at, r.id LIMIT 1),
		(SELECT a.rule_id || CASE WHEN a.description = '' THEN '' ELSE ': ' || a.description END FROM alerts a WHERE a.case_id = cases.id ORDER BY a.created_at, a.id LIMIT 1), '')`

func scanCase(row rowScanner, more ...any) (cases.Case, error) {
	var c cases.Case
	var created, updated, resolved int64
	dest := append([]any{&c.ID, &c.AccountID, &c.Kind, &c.Status, &c.Froze, &c.Resolution, &c.UserNote, &c.InternalNote, &c.ResolvedBy,
		&created, &updated, &resolved}, more...)
	err := row.Scan(dest...)
	if isNoRows(err) {
		return c, ErrNotFound
	}
	c.CreatedAt, c.UpdatedAt, c.ResolvedAt = fromMicros(created), fromMicros(updated), fromMicros(resolved)
	return c, err
}

func scanListedCase(row rowScanner) (cases.Case, error) {
	var reports, alerts int
	var summary string
	c, err := scanCase(row, &reports, &alerts, &summary)
	c.ReportCount, c.AlertCount, c.Summary = reports, alerts, summary
	return c, err
}

const caseReportColumns = `id, case_id, account_id, statement, via, ip, user_agent, froze, snapshot, access_hash,
	access_expires_at, created_at`

func scanCaseReport(row rowScanner) (cases.Report, error) {
	var r cases.Report
	var snapshot string
	var expires, created int64
	err := row.Scan(&r.ID, &r.CaseID, &r.AccountID, &r.Statement, &r.Via, &r.IP, &r.UserAgent, &r.Froze, &snapshot, &r.AccessHash,
		&expires, &created)
	if isNoRows(err) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.AccessExpiresAt, r.CreatedAt = fromMicros(expires), fromMicros(created)
	if err := json.Unmarshal([]byte(snapshot), &r.Snapshot); err != nil {
		return r, fmt.Errorf("case report %s: decode snapshot: %w", r.ID, err)
	}
	return r, nil
}

// InsertCase stores a new case (its reports are inserted one by one).
func (tx *Tx) InsertCase(ctx context.Context, c cases.Case) error {
	_, err := tx.q.ExecContext(ctx, `INSERT INTO cases (`+caseColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.AccountID, c.Kind, c.Status, c.Froze, c.Resolution, c.UserNote, c.InternalNote, c.ResolvedBy,
		micros(c.CreatedAt), micros(c.UpdatedAt), micros(c.ResolvedAt))
	if err != nil {
		return fmt.Errorf("insert case: %w", err)
	}
	return nil
}

// UpdateCase is read-modify-write of a case under its lock: fn sees the
// current row (without its reports) and returns the new one, or an error,
// which changes nothing. The id, account, kind and creation time never change.
func (tx *Tx) UpdateCase(ctx context.Context, id string, fn func(old cases.Case) (cases.Case, error)) (cases.Case, error) {
	if err := tx.Lock(ctx, "case:"+id); err != nil {
		return cases.Case{}, err
	}
	old, err := tx.oneCase(ctx, "find case "+id, `WHERE id = $1`, id)
	if err != nil {
		return cases.Case{}, err
	}
	c, err := fn(old)
	if err != nil {
		return cases.Case{}, err
	}
	c.ID, c.AccountID, c.Kind, c.CreatedAt = old.ID, old.AccountID, old.Kind, old.CreatedAt
	c.Reports, c.ReportCount, c.Alerts, c.AlertCount = nil, 0, nil, 0
	return c, tx.execOne(ctx, "update case "+id, `UPDATE cases SET status = $2, froze = $3, resolution = $4, user_note = $5,
			internal_note = $6, resolved_by = $7, updated_at = $8, resolved_at = $9
		WHERE id = $1`,
		id, c.Status, c.Froze, c.Resolution, c.UserNote, c.InternalNote, c.ResolvedBy, micros(c.UpdatedAt), micros(c.ResolvedAt))
}

func (tx *Tx) oneCase(ctx context.Context, what, query string, args ...any) (cases.Case, error) {
	c, err := scanCase(tx.q.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM cases `+query, args...))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c, fmt.Errorf("%s: %w", what, err)
	}
	return c, err
}

// withReports reads a case's reports and alerts into it, oldest first.
func (tx *Tx) withReports(ctx context.Context, c cases.Case) (cases.Case, error) {
	reports, err := queryAll(ctx, tx.q, "list case reports", scanCaseReport, `SELECT `+caseReportColumns+` FROM case_reports
		WHERE case_id = $1 ORDER BY created_at, id`, c.ID)
	if err != nil {
		return c, err
	}
	c.Reports, c.ReportCount = reports, len(reports)
	alerts, err := queryAll(ctx, tx.q, "list case alerts", scanCaseAlert, `SELECT `+caseAlertColumns+` FROM alerts
		WHERE case_id = $1 ORDER BY created_at, id`, c.ID)
	if err != nil {
		return c, err
	}
	c.Alerts, c.AlertCount = alerts, len(alerts)
	return c, nil
}

const caseAlertColumns = `id, rule_id, event_id, event_type, action, severity, description, status, resolution, created_at`

func scanCaseAlert(row rowScanner) (cases.CaseAlert, error) {
	var a cases.CaseAlert
	var created int64
	err := row.Scan(&a.ID, &a.RuleID, &a.EventID, &a.EventType, &a.Action, &a.Severity, &a.Description, &a.Status, &a.Resolution, &created)
	a.CreatedAt = fromMicros(created)
	return a, err
}

// ResolveCaseAlerts resolves the case's open alerts, each under its lock
// (as UpdateAlert takes it), and returns how many it resolved.
func (tx *Tx) ResolveCaseAlerts(ctx context.Context, caseID, resolution, note, actor string, now time.Time) (int, error) {
	ids, err := queryAll(ctx, tx.q, "list open alerts of case "+caseID, func(row rowScanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT id FROM alerts WHERE case_id = $1 AND status = $2 ORDER BY id`, caseID, monitor.AlertOpen)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := tx.Lock(ctx, "alert:"+id); err != nil {
			return n, err
		}
		res, err := tx.q.ExecContext(ctx, `UPDATE alerts SET status = $2, resolution = $3, note = $4, resolved_by = $5, resolved_at = $6
			WHERE id = $1 AND status = $7`, id, monitor.AlertResolved, resolution, note, actor, micros(now), monitor.AlertOpen)
		if err != nil {
			return n, fmt.Errorf("resolve alert %s of case %s: %w", id, caseID, err)
		}
		if k, err := res.RowsAffected(); err == nil {
			n += int(k)
		}
	}
	return n, nil
}

// CaseByID reads a case with its reports.
func (tx *Tx) CaseByID(ctx context.Context, id string) (cases.Case, error) {
	c, err := tx.oneCase(ctx, "find case "+id, `WHERE id = $1`, id)
	if err != nil {
		return c, err
	}
	return tx.withReports(ctx, c)
}

// OpenCaseOf finds the account's open case of kind (without its reports).
func (tx *Tx) OpenCaseOf(ctx context.Context, accountID, kind string) (cases.Case, error) {
	return tx.oneCase(ctx, "find open case", `WHERE account_id = $1 AND kind = $2 AND status = $3
		ORDER BY created_at DESC, id DESC LIMIT 1`, accountID, kind, cases.StatusOpen)
}

// LatestCaseOf finds the account's newest case of kind, with its reports.
func (tx *Tx) LatestCaseOf(ctx context.Context, accountID, kind string) (cases.Case, error) {
	c, err := tx.oneCase(ctx, "find latest case", `WHERE account_id = $1 AND kind = $2
		ORDER BY created_at DESC, id DESC LIMIT 1`, accountID, kind)
	if err != nil {
		return c, err
	}
	return tx.withReports(ctx, c)
}

// ReportByAccess finds a report by the hash of its access token, whatever
// its expiry (the service checks it); an empty hash finds nothing.
func (tx *Tx) ReportByAccess(ctx context.Context, accessHash string) (cases.Report, error) {
	if accessHash == "" {
		return cases.Report{}, ErrNotFound
	}
	r, err := scanCaseReport(tx.q.QueryRowContext(ctx, `SELECT `+caseReportColumns+` FROM case_reports WHERE access_hash = $1`, accessHash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return r, fmt.Errorf("find case report by access token: %w", err)
	}
	return r, err
}

// InsertCaseReport stores a report of a case, its snapshot as JSON.
func (tx *Tx) InsertCaseReport(ctx context.Context, r cases.Report) error {
	snapshot, err := json.Marshal(r.Snapshot)
	if err != nil {
		return fmt.Errorf("insert case report: encode snapshot: %w", err)
	}
	_, err = tx.q.ExecContext(ctx, `INSERT INTO case_reports (`+caseReportColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		r.ID, r.CaseID, r.AccountID, r.Statement, r.Via, r.IP, r.UserAgent, r.Froze, string(snapshot), r.AccessHash,
		micros(r.AccessExpiresAt), micros(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert case report: %w", err)
	}
	return nil
}

// Cases lists cases by status and account (each optional), newest first,
// with the number of their reports but not the reports themselves.
func (tx *Tx) Cases(ctx context.Context, f cases.Filter) ([]cases.Case, error) {
	var args []any
	var where []string
	if f.Status != "" {
		where = append(where, "status = "+placeholders(&args, f.Status))
	}
	if f.AccountID != "" {
		where = append(where, "account_id = "+placeholders(&args, f.AccountID))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+placeholders(&args, f.Kind))
	}
	query := `SELECT ` + caseListColumns + ` FROM cases`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	args = append(args, limit)
	query += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	return queryAll(ctx, tx.q, "list cases", scanListedCase, query, args...)
}

// CountCases counts cases with status ("" for every status).
func (tx *Tx) CountCases(ctx context.Context, status string) (int, error) {
	var n int
	var err error
	if status == "" {
		err = tx.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases`).Scan(&n)
	} else {
		err = tx.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE status = $1`, status).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count cases: %w", err)
	}
	return n, nil
}

var _ cases.Tx = (*Tx)(nil)
