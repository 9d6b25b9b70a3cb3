package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"

	"github.com/wardenhq/warden/internal/session"
)

const sessionColumns = `id, token_hash, account_id, realm, aal, device_id, ip, user_agent,
	created_at, last_seen_at, expires_at, revoked_at, revoke_reason, mfa_at`

func scanSession(row rowScanner) (session.Session, error) {
	var s session.Session
	var created, seen, expires, revoked, mfa int64
	err := row.Scan(&s.ID, &s.TokenHash, &s.AccountID, &s.Realm, &s.AAL, &s.DeviceID, &s.IP, &s.UserAgent,
		&created, &seen, &expires, &revoked, &s.RevokeReason, &mfa)
	if isNoRows(err) {
		return session.Session{}, ErrNotFound
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.RevokedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromMicros(revoked)
	s.MFAAt = fromMicros(mfa)
	return s, err
}

// InsertSession stores a new session (its token's hash only).
func (tx *Tx) InsertSession(ctx context.Context, s session.Session) error {
	_, err := tx.q.ExecContext(ctx, `
		INSERT INTO sessions (`+sessionColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		s.ID, s.TokenHash, s.AccountID, s.Realm, s.AAL, s.DeviceID, s.IP, s.UserAgent,
		micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ExpiresAt), micros(s.RevokedAt), s.RevokeReason, micros(s.MFAAt))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionAndAccount finds a session by its token's hash, with its account, in
// one query: introspection's one database round trip.
func (s *Store) SessionAndAccount(ctx context.Context, hash string) (session.Session, account.Account, error) {
	row := s.reader.QueryRowContext(ctx, `SELECT `+prefixed("s.", sessionColumns)+`, `+prefixed("a.", accountColumns)+`
		FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.token_hash = $1`, hash)
	var sess session.Session
	var created, seen, expires, revoked, mfa int64
	var a account.Account
	var verified, frozen, changed, acreated, pwChanged, mfaChanged, unfrozen int64
	var restrictions string
	err := row.Scan(&sess.ID, &sess.TokenHash, &sess.AccountID, &sess.Realm, &sess.AAL, &sess.DeviceID, &sess.IP, &sess.UserAgent,
		&created, &seen, &expires, &revoked, &sess.RevokeReason, &mfa,
		&a.ID, &a.Realm, &a.Email, &a.EmailKey, &verified, &a.PasswordHash, &a.StaffRole,
		&a.AntiPhishingCode, &frozen, &a.FrozenReason, &changed, &acreated, &a.MustChangePassword, &a.MFAEnabled, &a.VerificationTier,
		&pwChanged, &mfaChanged, &unfrozen, &restrictions)
	if isNoRows(err) {
		return session.Session{}, account.Account{}, ErrNotFound
	}
	if err != nil {
		return session.Session{}, account.Account{}, fmt.Errorf("find session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt, sess.RevokedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromMicros(revoked)
	sess.MFAAt = fromMicros(mfa)
	a.EmailVerifiedAt, a.FrozenAt, a.SecurityChangedAt, a.CreatedAt = fromMicros(verified), fromMicros(frozen), fromMicros(changed), fromMicros(acreated)
	a.PasswordChangedAt, a.MFAChangedAt, a.UnfrozenAt = fromMicros(pwChanged), fromMicros(mfaChanged), fromMicros(unfrozen)
	a.Restrictions = splitList(restrictions)
	a.PasswordHash = "" // not needed past this point; keep it out of caches
	return sess, a, nil
}

// prefixed qualifies each column of a list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// SessionByTokenHash finds a session by its token's hash (revoked or not).
func (s *Store) SessionByTokenHash(ctx context.Context, hash string) (session.Session, error) {
	got, err := scanSession(s.reader.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1`, hash))
	if err != nil && err != ErrNotFound {
		return got, fmt.Errorf("find session: %w", err)
	}
	return got, err
}

// SessionsOf lists an account's sessions that are not revoked and not past
// their absolute expiry, newest first.
func (tx *Tx) SessionsOf(ctx context.Context, accountID string, now time.Time) ([]session.Session, error) {
	return queryAll(ctx, tx.q, "list sessions", scanSession, `SELECT `+sessionColumns+` FROM sessions
		WHERE account_id = $1 AND revoked_at = 0 AND expires_at > $2 ORDER BY created_at DESC, id DESC`,
		accountID, micros(now))
}

// TouchSession records a use of the session.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.q.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, micros(now))
		if err != nil {
			return fmt.Errorf("touch session %s: %w", id, err)
		}
		return nil
	})
}

// RevokeSessions ends sessions of an account: the one given by id, or all of
// them when id is "", except keepID (the session asking, when it keeps
// itself). It returns the token hashes it revoked, for cache invalidation.
func (tx *Tx) RevokeSessions(ctx context.Context, accountID, id, keepID, reason string, now time.Time) ([]string, error) {
	hashes, err := queryAll(ctx, tx.q, "revoke sessions", func(row rowScanner) (string, error) {
		var h string
		return h, row.Scan(&h)
	}, `UPDATE sessions SET revoked_at = $4, revoke_reason = $5
		WHERE account_id = $1 AND revoked_at = 0 AND ($2 = '' OR id = $2) AND id <> $3
		RETURNING token_hash`, accountID, id, keepID, micros(now), reason)
	if err != nil {
		return nil, err
	}
	if err := tx.notifyRevoked(ctx, hashes); err != nil {
		return nil, err
	}
	return hashes, nil
}

// revokedChannel carries revoked session token hashes between nodes.
const revokedChannel = "warden_sessions_revoked"

// notifyRevoked tells every node sharing the PostgreSQL database that these
// sessions ended. NOTIFY is transactional: it is delivered when the
// revocation commits, and never if it rolls back. SQLite serves one node,
// which evicts its own cache.
func (tx *Tx) notifyRevoked(ctx context.Context, hashes []string) error {
	if tx.dialect != Postgres {
		return nil
	}
	// A payload must stay under 8000 bytes: 100 hashes of 64 characters fit.
	for start := 0; start < len(hashes); start += 100 {
		batch := hashes[start:min(start+100, len(hashes))]
		if _, err := tx.q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, revokedChannel, strings.Join(batch, ",")); err != nil {
			return fmt.Errorf("notify revoked sessions: %w", err)
		}
	}
	return nil
}
