package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/mfa"
)

// TOTPSecretOf finds the account's authenticator-app secret, pending or confirmed.
func (tx *Tx) TOTPSecretOf(ctx context.Context, accountID string) (mfa.TOTPSecret, error) {
	var t mfa.TOTPSecret
	var created, confirmed int64
	err := tx.q.QueryRowContext(ctx, `SELECT account_id, secret, key_id, created_at, confirmed_at, last_step
		FROM totp_secrets WHERE account_id = $1`, accountID).
		Scan(&t.AccountID, &t.Sealed, &t.KeyID, &created, &confirmed, &t.LastStep)
	if isNoRows(err) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("find totp secret: %w", err)
	}
	t.CreatedAt, t.ConfirmedAt = fromMicros(created), fromMicros(confirmed)
	return t, nil
}

// PutTOTPSecret stores a pending secret, replacing a pending one; a
// confirmed secret is never replaced this way.
func (tx *Tx) PutTOTPSecret(ctx context.Context, t mfa.TOTPSecret) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO totp_secrets (account_id, secret, key_id, created_at, confirmed_at, last_step)
		VALUES ($1, $2, $3, $4, 0, 0)
		ON CONFLICT (account_id) DO UPDATE SET secret = excluded.secret, key_id = excluded.key_id,
			created_at = excluded.created_at, last_step = 0
		WHERE totp_secrets.confirmed_at = 0`,
		t.AccountID, t.Sealed, t.KeyID, micros(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("store totp secret: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// ConfirmTOTPSecret switches the pending secret on.
func (tx *Tx) ConfirmTOTPSecret(ctx context.Context, accountID string, now time.Time) error {
	return tx.execOne(ctx, "confirm totp secret", `UPDATE totp_secrets SET confirmed_at = $2
		WHERE account_id = $1 AND confirmed_at = 0`, accountID, micros(now))
}

// UseTOTPStep spends a time step: the condition in the UPDATE makes a
// concurrent second use of the same step (or an older one) change no row.
func (tx *Tx) UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE totp_secrets SET last_step = $2
		WHERE account_id = $1 AND last_step < $2`, accountID, step)
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteTOTPSecret removes the account's secret.
func (tx *Tx) DeleteTOTPSecret(ctx context.Context, accountID string) error {
	return tx.execOne(ctx, "delete totp secret", `DELETE FROM totp_secrets WHERE account_id = $1`, accountID)
}

// ReplaceRecoveryCodes deletes the account's codes and stores the new hashes.
func (tx *Tx) ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes []string, now time.Time) error {
	if _, err := tx.q.ExecContext(ctx, `DELETE FROM recovery_codes WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("void recovery codes: %w", err)
	}
	for _, h := range hashes {
		if _, err := tx.q.ExecContext(ctx, `INSERT INTO recovery_codes (account_id, code_hash, created_at) VALUES ($1, $2, $3)`,
			accountID, h, micros(now)); err != nil {
			return fmt.Errorf("store recovery code: %w", err)
		}
	}
	return nil
}

// UseRecoveryCode spends an unused code; of two racing uses one changes the row.
func (tx *Tx) UseRecoveryCode(ctx context.Context, accountID, hash string, now time.Time) (bool, error) {
	res, err := tx.q.ExecContext(ctx, `UPDATE recovery_codes SET used_at = $3
		WHERE account_id = $1 AND code_hash = $2 AND used_at = 0`, accountID, hash, micros(now))
	if err != nil {
		return false, fmt.Errorf("use recovery code: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodesLeft counts the account's unused codes.
func (tx *Tx) RecoveryCodesLeft(ctx context.Context, accountID string) (int, error) {
	var n int
	err := tx.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE account_id = $1 AND used_at = 0`, accountID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

const passkeyColumns = `id, account_id, credential_id, name, credential, created_at, last_used_at`

func scanPasskey(row rowScanner) (mfa.Passkey, error) {
	var p mfa.Passkey
	var created, used int64
	err := row.Scan(&p.ID, &p.AccountID, &p.CredentialID, &p.Name, &p.Credential, &created, &used)
	if isNoRows(err) {
		return p, ErrNotFound
	}
	p.CreatedAt, p.LastUsedAt = fromMicros(created), fromMicros(used)
	return p, err
}

// InsertPasskey stores a new passkey; ErrConflict when its credential id is
// registered already (to any account).
func (tx *Tx) InsertPasskey(ctx context.Context, p mfa.Passkey) error {
	res, err := tx.q.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (credential_id) DO NOTHING`,
		p.ID, p.AccountID, p.CredentialID, p.Name, p.Credential, micros(p.CreatedAt), micros(p.LastUsedAt))
	if err != nil {
		return fmt.Errorf("store passkey: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// PasskeysOf lists the account's passkeys, oldest first.
func (tx *Tx) PasskeysOf(ctx context.Context, accountID string) ([]mfa.Passkey, error) {
	return queryAll(ctx, tx.q, "list passkeys", scanPasskey,
		`SELECT `+passkeyColumns+` FROM passkeys WHERE account_id = $1 ORDER BY created_at, id`, accountID)
}

// UpdatePasskey is read-modify-write of one of the account's passkeys.
func (tx *Tx) UpdatePasskey(ctx context.Context, accountID, id string, fn func(old mfa.Passkey) (mfa.Passkey, error)) (mfa.Passkey, error) {
	if err := tx.Lock(ctx, "passkey:"+id); err != nil {
		return mfa.Passkey{}, err
	}
	old, err := scanPasskey(tx.q.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = $1 AND account_id = $2`, id, accountID))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return old, err
		}
		return old, fmt.Errorf("find passkey: %w", err)
	}
	p, err := fn(old)
	if err != nil {
		return mfa.Passkey{}, err
	}
	return p, tx.execOne(ctx, "update passkey", `UPDATE passkeys SET name = $3, credential = $4, last_used_at = $5
		WHERE id = $1 AND account_id = $2`, id, accountID, p.Name, p.Credential, micros(p.LastUsedAt))
}

// DeletePasskey removes one of the account's passkeys and returns it.
func (tx *Tx) DeletePasskey(ctx context.Context, accountID, id string) (mfa.Passkey, error) {
	p, err := scanPasskey(tx.q.QueryRowContext(ctx, `DELETE FROM passkeys WHERE id = $1 AND account_id = $2 RETURNING `+passkeyColumns, id, accountID))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return p, fmt.Errorf("delete passkey: %w", err)
	}
	return p, err
}

const challengeColumns = `id_hash, account_id, purpose, session_id, methods, state, failures, created_at, expires_at, used_at,
	requires, satisfied, email_token_hash, device_id, login_event_id, factor_at`

func scanChallenge(row rowScanner) (mfa.Challenge, error) {
	var c mfa.Challenge
	var methods, requires, satisfied string
	var created, expires, used, factor int64
	err := row.Scan(&c.IDHash, &c.AccountID, &c.Purpose, &c.SessionID, &methods, &c.State, &c.Failures, &created, &expires, &used,
		&requires, &satisfied, &c.EmailTokenHash, &c.DeviceID, &c.LoginEventID, &factor)
	if isNoRows(err) {
		return c, ErrNotFound
	}
	c.Methods, c.Requires, c.Satisfied = splitList(methods), splitList(requires), splitList(satisfied)
	c.CreatedAt, c.ExpiresAt, c.UsedAt, c.FactorAt = fromMicros(created), fromMicros(expires), fromMicros(used), fromMicros(factor)
	return c, err
}

// InsertChallenge stores a new challenge.
func (tx *Tx) InsertChallenge(ctx context.Context, c mfa.Challenge) error {
	if c.State == nil {
		c.State = []byte{}
	}
	_, err := tx.q.ExecContext(ctx, `INSERT INTO mfa_challenges (`+challengeColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		c.IDHash, c.AccountID, c.Purpose, c.SessionID, strings.Join(c.Methods, ","), c.State, c.Failures,
		micros(c.CreatedAt), micros(c.ExpiresAt), micros(c.UsedAt),
		strings.Join(c.Requires, ","), strings.Join(c.Satisfied, ","), c.EmailTokenHash, c.DeviceID, c.LoginEventID, micros(c.FactorAt))
	if err != nil {
		return fmt.Errorf("store challenge: %w", err)
	}
	return nil
}

// UpdateChallenge is read-modify-write of a challenge under its lock, so two
// answers to one challenge are judged one after the other.
func (tx *Tx) UpdateChallenge(ctx context.Context, idHash string, fn func(old mfa.Challenge) (mfa.Challenge, error)) (mfa.Challenge, error) {
	if err := tx.Lock(ctx, "challenge:"+idHash); err != nil {
		return mfa.Challenge{}, err
	}
	old, err := scanChallenge(tx.q.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM mfa_challenges WHERE id_hash = $1`, idHash))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return old, err
		}
		return old, fmt.Errorf("find challenge: %w", err)
	}
	c, err := fn(old)
	if err != nil {
		return mfa.Challenge{}, err
	}
	return c, tx.execOne(ctx, "update challenge", `UPDATE mfa_challenges SET failures = $2, used_at = $3, satisfied = $4, factor_at = $5 WHERE id_hash = $1`,
		idHash, c.Failures, micros(c.UsedAt), strings.Join(c.Satisfied, ","), micros(c.FactorAt))
}

// VoidLoginChallenges ends the account's open login challenges.
func (tx *Tx) VoidLoginChallenges(ctx context.Context, accountID string, now time.Time) error {
	_, err := tx.q.ExecContext(ctx, `UPDATE mfa_challenges SET used_at = $2
		WHERE account_id = $1 AND purpose = 'login' AND used_at = 0`, accountID, micros(now))
	if err != nil {
		return fmt.Errorf("void login challenges: %w", err)
	}
	return nil
}

// ChallengeByIDHash finds a challenge by the hash of its id.
func (tx *Tx) ChallengeByIDHash(ctx context.Context, idHash string) (mfa.Challenge, error) {
	c, err := scanChallenge(tx.q.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM mfa_challenges WHERE id_hash = $1`, idHash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c, fmt.Errorf("find challenge: %w", err)
	}
	return c, err
}

// ChallengeByEmailToken finds the challenge a new-device email's link confirms.
func (tx *Tx) ChallengeByEmailToken(ctx context.Context, tokenHash string) (mfa.Challenge, error) {
	if tokenHash == "" {
		return mfa.Challenge{}, ErrNotFound
	}
	c, err := scanChallenge(tx.q.QueryRowContext(ctx, `SELECT `+challengeColumns+` FROM mfa_challenges WHERE email_token_hash = $1`, tokenHash))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return c, fmt.Errorf("find challenge by email token: %w", err)
	}
	return c, err
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// PruneChallenges deletes challenges that expired before cutoff.
func (s *Store) PruneChallenges(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.q.ExecContext(ctx, `DELETE FROM mfa_challenges WHERE expires_at < $1`, micros(cutoff))
		if err != nil {
			return fmt.Errorf("prune challenges: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// SetSessionMFA marks a second factor proven in the session and evicts it
// from every node's cache, so introspection reports aal2 at once.
func (tx *Tx) SetSessionMFA(ctx context.Context, sessionID string, now time.Time) error {
	var hash string
	err := tx.q.QueryRowContext(ctx, `UPDATE sessions SET aal = 'aal2', mfa_at = $2
		WHERE id = $1 AND revoked_at = 0 RETURNING token_hash`, sessionID, micros(now)).Scan(&hash)
	if isNoRows(err) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("mark session %s as aal2: %w", sessionID, err)
	}
	return tx.notifyRevoked(ctx, []string{hash})
}

// RefreshSessions makes every node drop the account's live sessions from its
// cache (they hold a copy of the account), and returns their token hashes.
func (tx *Tx) RefreshSessions(ctx context.Context, accountID string) ([]string, error) {
	hashes, err := queryAll(ctx, tx.q, "list live sessions", func(row rowScanner) (string, error) {
		var h string
		return h, row.Scan(&h)
	}, `SELECT token_hash FROM sessions WHERE account_id = $1 AND revoked_at = 0`, accountID)
	if err != nil {
		return nil, err
	}
	return hashes, tx.notifyRevoked(ctx, hashes)
}

// execOne runs a statement that must change exactly one row; none is ErrNotFound.
func (tx *Tx) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := tx.q.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	} else if n == 0 {
		return ErrNotFound
	}
	return nil
}
