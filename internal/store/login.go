package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
)

const loginEventColumns = `id, account_id, occurred_at, ip, device_id, outcome, reasons, score,
	country, city, latitude, longitude, has_coordinates, asn`

// The statements of every login, kept prepared on the SQLite writer (hotStatements).
const (
	insertLoginEventSQL = `INSERT INTO login_events (` + loginEventColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	loginPressureSQL = `SELECT
		(SELECT COUNT(*) FROM login_events WHERE account_id = $1 AND occurred_at >= $3 AND outcome IN ('failed', 'locked')),
		(SELECT COUNT(DISTINCT ip) FROM login_events WHERE account_id = $1 AND occurred_at >= $3),
		(SELECT COUNT(DISTINCT account_id) FROM login_events WHERE ip = $2 AND occurred_at >= $3 AND outcome IN ('failed', 'locked'))`
	lockoutLaneSQL = `SELECT failures, locks, locked_until, updated_at, pending, pending_until FROM lockout_lanes
		WHERE account_id = $1 AND lane = $2`
	upsertLockoutLaneSQL = `INSERT INTO lockout_lanes (account_id, lane, failures, locks, locked_until, updated_at, pending, pending_until)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (account_id, lane) DO UPDATE SET failures = excluded.failures, locks = excluded.locks,
			locked_until = excluded.locked_until, updated_at = excluded.updated_at,
			pending = excluded.pending, pending_until = excluded.pending_until`
)

func scanLoginEvent(row rowScanner) (login.Event, error) {
	var e login.Event
	var at int64
	var reasons string
	var asn int64
	err := row.Scan(&e.ID, &e.AccountID, &at, &e.IP, &e.DeviceID, &e.Outcome, &reasons, &e.Score,
		&e.Country, &e.City, &e.Latitude, &e.Longitude, &e.HasCoordinates, &asn)
	if isNoRows(err) {
		return e, ErrNotFound
	}
	e.At, e.ASN = fromMicros(at), uint(asn)
	if reasons != "" {
		e.Reasons = strings.Split(reasons, ",")
	}
	return e, err
}

// InsertLoginEvent records a login attempt.
func (tx *Tx) InsertLoginEvent(ctx context.Context, e login.Event) error {
	_, err := tx.execHot(ctx, insertLoginEventSQL,
		e.ID, e.AccountID, micros(e.At), e.IP, e.DeviceID, e.Outcome, strings.Join(e.Reasons, ","), e.Score,
		e.Country, e.City, e.Latitude, e.Longitude, e.HasCoordinates, int64(e.ASN))
	if err != nil {
		return fmt.Errorf("record login event: %w", err)
	}
	return nil
}

// SetLoginOutcome changes a recorded attempt's outcome (a challenge that
// was later answered, say).
func (tx *Tx) SetLoginOutcome(ctx context.Context, id, outcome string) error {
	return tx.execOne(ctx, "set login outcome", `UPDATE login_events SET outcome = $2 WHERE id = $1`, id, outcome)
}

// LoginEvents lists an account's attempts with one of outcomes (all when
// none is given), newest first, at most limit.
func (tx *Tx) LoginEvents(ctx context.Context, accountID string, limit int, outcomes ...string) ([]login.Event, error) {
	args := []any{accountID}
	for _, o := range outcomes {
		args = append(args, o)
	}
	args = append(args, limit)
	return queryAll(ctx, tx.hotQ(), "list login events", scanLoginEvent, loginEventsSQL(len(outcomes)), args...)
}

// loginEventsSQL lists an account's events with one of n outcomes (any when
// n is 0). The text depends on n alone, so the one every login reads (n=1,
// its successful logins) stays prepared on SQLite's readers.
func loginEventsSQL(n int) string {
	q := `SELECT ` + loginEventColumns + ` FROM login_events WHERE account_id = $1`
	if n > 0 {
		ph := make([]string, n)
		for i := range ph {
			ph[i] = fmt.Sprintf("$%d", i+2)
		}
		q += ` AND outcome IN (` + strings.Join(ph, ", ") + `)`
	}
	return q + fmt.Sprintf(` ORDER BY occurred_at DESC, id DESC LIMIT $%d`, n+2)
}

// LoginPressure counts, since a moment: failures on the account, distinct
// IPs that tried it, and distinct accounts the IP failed on — the
// failure, many-IPs and credential-stuffing signals in one round trip.
func (tx *Tx) LoginPressure(ctx context.Context, accountID, ip string, since time.Time) (failures, ips, accountsFromIP int, err error) {
	err = tx.queryRowHot(ctx, loginPressureSQL,
		accountID, ip, micros(since)).Scan(&failures, &ips, &accountsFromIP)
	if err != nil {
		err = fmt.Errorf("count login pressure: %w", err)
	}
	return failures, ips, accountsFromIP, err
}

// LockoutLane reads an account's lane; a lane never used is empty, not an error.
func (tx *Tx) LockoutLane(ctx context.Context, accountID, lane string) (lockout.Lane, error) {
	l := lockout.Lane{AccountID: accountID, Key: lane}
	var until, updated, pendingUntil int64
	err := tx.queryRowHot(ctx, lockoutLaneSQL, accountID, lane).Scan(&l.Failures, &l.Locks, &until, &updated, &l.Pending, &pendingUntil)
	if isNoRows(err) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("read lockout lane: %w", err)
	}
	l.LockedUntil, l.UpdatedAt, l.PendingUntil = fromMicros(until), fromMicros(updated), fromMicros(pendingUntil)
	return l, nil
}

// UpdateLockoutLane is read-modify-write of a lane under a lock, so that
// concurrent failures on every node are all counted.
func (tx *Tx) UpdateLockoutLane(ctx context.Context, accountID, lane string, fn func(old lockout.Lane) (lockout.Lane, error)) (lockout.Lane, error) {
	if err := tx.Lock(ctx, "lane:"+accountID+":"+lane); err != nil {
		return lockout.Lane{}, err
	}
	old, err := tx.LockoutLane(ctx, accountID, lane)
	if err != nil {
		return old, err
	}
	l, err := fn(old)
	if err != nil {
		return lockout.Lane{}, err
	}
	_, err = tx.execHot(ctx, upsertLockoutLaneSQL,
		accountID, lane, l.Failures, l.Locks, micros(l.LockedUntil), micros(l.UpdatedAt), l.Pending, micros(l.PendingUntil))
	if err != nil {
		return lockout.Lane{}, fmt.Errorf("write lockout lane: %w", err)
	}
	return l, nil
}

// PruneLockoutLanes deletes lanes untouched since cutoff and not locked now:
// the lockout policy would forget them anyway.
func (s *Store) PruneLockoutLanes(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.q.ExecContext(ctx, `DELETE FROM lockout_lanes WHERE updated_at < $1 AND locked_until < $1`, micros(cutoff))
		if err != nil {
			return fmt.Errorf("prune lockout lanes: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
