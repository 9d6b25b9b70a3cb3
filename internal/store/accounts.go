package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

// ErrConflict is returned when a row would break a uniqueness rule (an email
// already registered, say).
var ErrConflict = errors.New("conflict")

const accountColumns = `id, realm, email, email_key, email_verified_at, password_hash, staff_role,
	anti_phishing_code, frozen_at, frozen_reason, security_changed_at, created_at, must_change_password, mfa_enabled, verification_tier,
	password_changed_at, mfa_changed_at, unfrozen_at, restrictions`

func scanAccount(row rowScanner) (account.Account, error) {
	var a account.Account
	var verified, frozen, changed, created, pwChanged, mfaChanged, unfrozen int64
	var restrictions string
	err := row.Scan(&a.ID, &a.Realm, &a.Email, &a.EmailKey, &verified, &a.PasswordHash, &a.StaffRole,
		&a.AntiPhishingCode, &frozen, &a.FrozenReason, &changed, &created, &a.MustChangePassword, &a.MFAEnabled, &a.VerificationTier,
		&pwChanged, &mfaChanged, &unfrozen, &restrictions)
	if isNoRows(err) {
		return account.Account{}, ErrNotFound
	}
	a.Restrictions = splitList(restrictions)
	a.EmailVerifiedAt, a.FrozenAt, a.SecurityChangedAt, a.CreatedAt = fromMicros(verified), fromMicros(frozen), fromMicros(changed), fromMicros(created)
	a.PasswordChangedAt, a.MFAChangedAt, a.UnfrozenAt = fromMicros(pwChanged), fromMicros(mfaChanged), fromMicros(unfrozen)
	return a, err
}

// InsertAccount stores a new account, or returns ErrConflict when its email
// is taken in its realm.
func (tx *Tx) InsertAccount(ctx context.Context, a account.Account) error {
	res, err := tx.q.ExecContext(ctx, `
		INSERT INTO accounts (`+accountColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (realm, email_key) DO NOTHING`,
		a.ID, a.Realm, a.Email, a.EmailKey, micros(a.EmailVerifiedAt), a.PasswordHash, a.StaffRole,
		a.AntiPhishingCode, micros(a.FrozenAt), a.FrozenReason, micros(a.SecurityChangedAt), micros(a.CreatedAt), a.MustChangePassword, a.MFAEnabled, a.VerificationTier,
		micros(a.PasswordChangedAt), micros(a.MFAChangedAt), micros(a.UnfrozenAt), strings.Join(a.Restrictions, ","))
	if err != nil {
		return fmt.Errorf("insert account: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrConflict
	}
	return nil
}

// AccountByEmail finds an account by the unique form of its email.
func (tx *Tx) AccountByEmail(ctx context.Context, realm, emailKey string) (account.Account, error) {
	a, err := scanAccount(tx.q.QueryRowContext(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE realm = $1 AND email_key = $2`, realm, emailKey))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, fmt.Errorf("find account by email: %w", err)
	}
	return a, err
}

// AccountByID finds an account by id.
func (tx *Tx) AccountByID(ctx context.Context, id string) (account.Account, error) {
	a, err := scanAccount(tx.q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return a, fmt.Errorf("find account %s: %w", id, err)
	}
	return a, err
}

// UpdateAccount changes an account by read-modify-write under its lock: fn
// sees the current row and returns the new one (or an error, which changes
// nothing). Concurrent updates of one account run one after the other.
func (tx *Tx) UpdateAccount(ctx context.Context, id string, fn func(old account.Account) (account.Account, error)) (account.Account, error) {
	if err := tx.Lock(ctx, "account:"+id); err != nil {
		return account.Account{}, err
	}
	old, err := tx.AccountByID(ctx, id)
	if err != nil {
		return account.Account{}, err
	}
	updated, err := fn(old)
	if err != nil {
		return account.Account{}, err
	}
	_, err = tx.q.ExecContext(ctx, `
		UPDATE accounts SET email_verified_at = $2, password_hash = $3, staff_role = $4, anti_phishing_code = $5,
			frozen_at = $6, frozen_reason = $7, security_changed_at = $8, must_change_password = $9, mfa_enabled = $10,
			verification_tier = $11, password_changed_at = $12, mfa_changed_at = $13, unfrozen_at = $14,
			restrictions = $15
		WHERE id = $1`,
		id, micros(updated.EmailVerifiedAt), updated.PasswordHash, updated.StaffRole, updated.AntiPhishingCode,
		micros(updated.FrozenAt), updated.FrozenReason, micros(updated.SecurityChangedAt), updated.MustChangePassword, updated.MFAEnabled, updated.VerificationTier,
		micros(updated.PasswordChangedAt), micros(updated.MFAChangedAt), micros(updated.UnfrozenAt), strings.Join(updated.Restrictions, ","))
	if err != nil {
		return account.Account{}, fmt.Errorf("update account %s: %w", id, err)
	}
	return updated, nil
}

// InsertEmailToken stores a token (its hash).
func (tx *Tx) InsertEmailToken(ctx context.Context, t account.EmailToken) error {
	_, err := tx.q.ExecContext(ctx, `
		INSERT INTO email_tokens (token_hash, account_id, purpose, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, t.Hash, t.AccountID, t.Purpose, micros(t.CreatedAt), micros(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert email token: %w", err)
	}
	return nil
}

// UseEmailToken spends a token: it must exist, be for purpose, unexpired and
// unused. One statement checks and spends it, so two requests racing with
// the same token cannot both succeed. Anything else is ErrNotFound.
func (tx *Tx) UseEmailToken(ctx context.Context, hash, purpose string, now time.Time) (account.EmailToken, error) {
	var t account.EmailToken
	var created, expires, used int64
	err := tx.q.QueryRowContext(ctx, `
		UPDATE email_tokens SET used_at = $3
		WHERE token_hash = $1 AND purpose = $2 AND used_at = 0 AND expires_at > $3
		RETURNING token_hash, account_id, purpose, created_at, expires_at, used_at`,
		hash, purpose, micros(now)).Scan(&t.Hash, &t.AccountID, &t.Purpose, &created, &expires, &used)
	if isNoRows(err) {
		return account.EmailToken{}, ErrNotFound
	}
	if err != nil {
		return account.EmailToken{}, fmt.Errorf("use email token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return t, nil
}

// PeekEmailToken is UseEmailToken without spending the token.
func (tx *Tx) PeekEmailToken(ctx context.Context, hash, purpose string, now time.Time) (account.EmailToken, error) {
	var t account.EmailToken
	var created, expires, used int64
	err := tx.q.QueryRowContext(ctx, `
		SELECT token_hash, account_id, purpose, created_at, expires_at, used_at FROM email_tokens
		WHERE token_hash = $1 AND purpose = $2 AND used_at = 0 AND expires_at > $3`,
		hash, purpose, micros(now)).Scan(&t.Hash, &t.AccountID, &t.Purpose, &created, &expires, &used)
	if isNoRows(err) {
		return account.EmailToken{}, ErrNotFound
	}
	if err != nil {
		return account.EmailToken{}, fmt.Errorf("peek email token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = fromMicros(created), fromMicros(expires), fromMicros(used)
	return t, nil
}

// VoidEmailTokens spends every unused token of purpose for an account: a new
// reset link voids the older ones.
func (tx *Tx) VoidEmailTokens(ctx context.Context, accountID, purpose string, now time.Time) error {
	_, err := tx.q.ExecContext(ctx, `
		UPDATE email_tokens SET used_at = $3 WHERE account_id = $1 AND purpose = $2 AND used_at = 0`,
		accountID, purpose, micros(now))
	if err != nil {
		return fmt.Errorf("void email tokens: %w", err)
	}
	return nil
}
