package account

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/password"
)

// Errors the service answers with; the API maps each to its problem code.
var (
	ErrInvalidCredentials = errors.New("invalid email or password")
	ErrEmailNotVerified   = errors.New("email not verified")
	ErrFrozen             = errors.New("account frozen")
	ErrInvalidToken       = errors.New("invalid, used or expired token")
	ErrNotFrozen          = errors.New("account is not frozen")
	ErrNoAccount          = errors.New("no such account")
)

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	AccountByEmail(ctx context.Context, realm, emailKey string) (Account, error)
	AccountByID(ctx context.Context, id string) (Account, error)
	InsertAccount(ctx context.Context, a Account) error
	UpdateAccount(ctx context.Context, id string, fn func(old Account) (Account, error)) (Account, error)
	InsertEmailToken(ctx context.Context, t EmailToken) error
	UseEmailToken(ctx context.Context, hash, purpose string, now time.Time) (EmailToken, error)
	// PeekEmailToken is UseEmailToken without spending the token.
	PeekEmailToken(ctx context.Context, hash, purpose string, now time.Time) (EmailToken, error)
	VoidEmailTokens(ctx context.Context, accountID, purpose string, now time.Time) error
	// RevokeSessions ends an account's sessions (all when id is ""), except
	// keepID, and returns the revoked tokens' hashes.
	RevokeSessions(ctx context.Context, accountID, id, keepID, reason string, now time.Time) ([]string, error)
	// VoidLoginChallenges ends the account's logins waiting for a second
	// factor or an email confirmation.
	VoidLoginChallenges(ctx context.Context, accountID string, now time.Time) error
	audit.AppendTx
	notify.WebhookTx
}

// Mailer renders emails; *notify.Mailer is one.
type Mailer interface {
	Render(name, to string, data map[string]any, antiPhishingCode string) (notify.Email, error)
}

// Policy holds the account rules that are configuration.
type Policy struct {
	VerifyEmailTTL   time.Duration // default 24h
	PasswordResetTTL time.Duration // default 30m
	FreezeLinkTTL    time.Duration // how long an email's "this wasn't me" link works (default 30 days)
}

// Meta describes the request behind an action, for audit records and emails.
type Meta struct {
	IP        string
	UserAgent string
	RequestID string
	// Actor is who acts when it is not the account itself (staff, an admin key).
	Actor string
}

// Service carries out account actions. Each action is one transaction: the
// change, its audit record, its emails and webhooks commit together.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction (on SQLite it does not wait for writers).
	View    func(ctx context.Context, fn func(tx Tx) error) error
	Hasher  *password.Hasher
	Mailer  Mailer
	BaseURL string // links in emails point here
	Policy  Policy
	Now     func() time.Time
	// Committed is told about every action that queued messages, after it
	// committed (the outbox worker's Wake), and about revoked sessions (so
	// caches drop them at once).
	Committed func(revokedTokenHashes []string)
	// Observe, if set, sees every recorded action in its transaction:
	// monitoring turns them into events.
	Observe func(ctx context.Context, tx Tx, a Account, action string, now time.Time, data map[string]any) error

	// resetTiming evens the answers to password-reset requests.
	resetTiming evenTiming
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) committed(revoked []string) {
	if s.Committed != nil {
		s.Committed(revoked)
	}
}

// AfterCommit tells the outbox worker that an action outside this service
// queued messages in a transaction that has now committed, and drops the
// sessions named by stale from the session caches.
func (s *Service) AfterCommit(stale []string) { s.committed(stale) }

// isNotFound recognises the store's not-found error without importing the store.
func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

func (s *Service) link(path string, query url.Values) string {
	return s.BaseURL + path + "?" + query.Encode()
}

// Notify renders an email for a, adds a "this wasn't me" freeze link when
// freezeLink is set, and queues it in tx.
func (s *Service) Notify(ctx context.Context, tx Tx, a Account, template string, data map[string]any, freezeLink bool, now time.Time) error {
	if data == nil {
		data = map[string]any{}
	}
	if freezeLink && a.Realm == RealmUser {
		plain, tok := NewEmailToken(a.ID, PurposeFreeze, now, s.Policy.FreezeLinkTTL)
		if err := tx.InsertEmailToken(ctx, tok); err != nil {
			return err
		}
		data["freeze_url"] = s.link("/freeze", url.Values{"token": {plain}})
	}
	email, err := s.Mailer.Render(template, a.Email, data, a.AntiPhishingCode)
	if err != nil {
		return err
	}
	_, err = notify.EnqueueEmail(ctx, tx, now, template, email)
	return err
}

// Record appends an audit record of action on a, by the account itself
// unless m names another actor.
func (s *Service) Record(ctx context.Context, tx Tx, a Account, action string, m Meta, now time.Time, data map[string]any) error {
	actor := m.Actor
	if actor == "" {
		actor = a.Actor()
	}
	if data == nil {
		data = map[string]any{}
	}
	if m.UserAgent != "" {
		data["user_agent"] = m.UserAgent
	}
	if _, err := audit.Append(ctx, tx, now, audit.Entry{
		Actor: actor, Action: action, UserID: a.ID, IP: m.IP, RequestID: m.RequestID, Data: data,
	}); err != nil {
		return err
	}
	if s.Observe != nil {
		return s.Observe(ctx, tx, a, action, now, data)
	}
	return nil
}

// FreezeIn freezes an account in the caller's transaction (a monitoring
// rule's action) and returns the sessions it ended.
func (s *Service) FreezeIn(ctx context.Context, tx Tx, accountID, reason string, m Meta, now time.Time) ([]string, error) {
	_, revoked, err := s.freeze(ctx, tx, accountID, reason, m, now)
	return revoked, err
}

func when(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func orUnknown(s string) string {
	if s == "" {
		return "an unknown address"
	}
	return s
}

// Register signs a user up. The answer is the same whether or not the email
// is taken, and so is the cost: the password is hashed either way. A new
// account gets a verification email; an existing one gets "someone tried to
// sign up with your email" (or, if still unverified, a fresh verification link).
func (s *Service) Register(ctx context.Context, rawEmail, plain string, m Meta) error {
	email, key, err := NormalizeEmail(rawEmail)
	if err != nil {
		return err
	}
	if w := password.CheckPolicy(plain, email); w != nil {
		return w
	}
	hash, err := s.Hasher.Hash(ctx, plain)
	if err != nil {
		return err
	}
	now := s.now()
	err = s.Transact(ctx, func(tx Tx) error {
		existing, err := tx.AccountByEmail(ctx, RealmUser, key)
		switch {
		case err == nil && existing.Verified():
			if err := s.Record(ctx, tx, existing, "account.signup_attempted", m, now, nil); err != nil {
				return err
			}
			return s.Notify(ctx, tx, existing, "signup_existing", map[string]any{
				"when": when(now), "ip": orUnknown(m.IP), "reset_url": s.BaseURL + "/forgot-password",
			}, false, now)
		case err == nil:
			return s.sendVerification(ctx, tx, existing, now)
		case !isNotFound(err):
			return err
		}
		a := Account{ID: id.New("usr"), Realm: RealmUser, Email: email, EmailKey: key, PasswordHash: hash, CreatedAt: now}
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		if err := s.Record(ctx, tx, a, "account.registered", m, now, nil); err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, a, now)
	})
	if err != nil {
		return fmt.Errorf("register: %w", err)
	}
	s.committed(nil)
	return nil
}

func (s *Service) sendVerification(ctx context.Context, tx Tx, a Account, now time.Time) error {
	plain, tok := NewEmailToken(a.ID, PurposeVerifyEmail, now, s.Policy.VerifyEmailTTL)
	if err := tx.InsertEmailToken(ctx, tok); err != nil {
		return err
	}
	return s.Notify(ctx, tx, a, "verify_email", map[string]any{
		"verify_url": s.link("/verify-email", url.Values{"token": {plain}}),
	}, false, now)
}

// VerifyEmail spends a verification token and marks the address verified.
func (s *Service) VerifyEmail(ctx context.Context, token string, m Meta) (Account, error) {
	now := s.now()
	var a Account
	err := s.Transact(ctx, func(tx Tx) error {
		t, err := tx.UseEmailToken(ctx, HashToken(token), PurposeVerifyEmail, now)
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		a, err = tx.UpdateAccount(ctx, t.AccountID, func(old Account) (Account, error) {
			if !old.Verified() {
				old.EmailVerifiedAt = now
			}
			return old, nil
		})
		if err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "account.email_verified", m, now, nil)
	})
	return a, err
}

// Authenticate checks an email and password. Unknown emails cost one hash
// like known ones, and every refusal before the password is proven looks
// alike: a caller learns that an account is unverified or frozen only with
// its password. rehash is a new hash when the stored one used weaker
// parameters; the caller stores it with the login.
func (s *Service) Authenticate(ctx context.Context, realm, rawEmail, plain string) (a Account, err error) {
	_, key, emailErr := NormalizeEmail(rawEmail)
	if emailErr == nil {
		err = s.View(ctx, func(tx Tx) error {
			var err error
			a, err = tx.AccountByEmail(ctx, realm, key)
			return err
		})
	}
	if emailErr != nil || isNotFound(err) {
		if err := s.Hasher.VerifyDummy(ctx, plain); err != nil {
			return Account{}, err
		}
		return Account{}, ErrInvalidCredentials
	}
	if err != nil {
		return Account{}, err
	}
	ok, rehash, err := s.Hasher.Verify(ctx, a.PasswordHash, plain)
	if err != nil {
		return Account{}, err
	}
	if !ok {
		return a, ErrInvalidCredentials
	}
	if rehash {
		if h, err := s.Hasher.Hash(ctx, plain); err == nil {
			_ = s.Transact(ctx, func(tx Tx) error {
				_, err := tx.UpdateAccount(ctx, a.ID, func(old Account) (Account, error) {
					old.PasswordHash = h
					return old, nil
				})
				return err
			})
		}
	}
	switch {
	case a.Frozen():
		return a, ErrFrozen
	case !a.Verified():
		return a, ErrEmailNotVerified
	}
	return a, nil
}

// RequestPasswordReset emails a reset link if the address has an account,
// and answers the same, in as long (evenTiming), if it has not.
func (s *Service) RequestPasswordReset(ctx context.Context, rawEmail string, m Meta) error {
	started := time.Now()
	now := s.now()
	found := false
	defer func() { s.resetTiming.pad(ctx, started, found) }()
	_, key, err := NormalizeEmail(rawEmail)
	if err != nil {
		return nil // the answer is always the same; there is no one to mail
	}
	err = s.Transact(ctx, func(tx Tx) error {
		a, err := tx.AccountByEmail(ctx, RealmUser, key)
		if isNotFound(err) {
			return nil
		}
		found = true
		if err != nil {
			return err
		}
		if err := tx.VoidEmailTokens(ctx, a.ID, PurposePasswordReset, now); err != nil {
			return err
		}
		plain, tok := NewEmailToken(a.ID, PurposePasswordReset, now, s.Policy.PasswordResetTTL)
		if err := tx.InsertEmailToken(ctx, tok); err != nil {
			return err
		}
		if err := s.Record(ctx, tx, a, "password.reset_requested", m, now, nil); err != nil {
			return err
		}
		return s.Notify(ctx, tx, a, "password_reset", map[string]any{
			"when": when(now), "ip": orUnknown(m.IP), "valid_for": s.Policy.PasswordResetTTL.String(),
			"reset_url": s.link("/reset-password", url.Values{"token": {plain}}),
		}, true, now)
	})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	s.committed(nil)
	return nil
}

// ResetPassword spends a reset token and sets the new password: every
// session of the account ends, the owner is emailed, and the change starts
// the withdrawal cooldown.
func (s *Service) ResetPassword(ctx context.Context, token, plain string, m Meta) error {
	now := s.now()
	// Check the token first, so a bad one costs no hash, and hash outside the
	// transaction, so the database is not held for it. The token is spent
	// only in the transaction below: of two requests racing with it, one wins.
	var a Account
	err := s.View(ctx, func(tx Tx) error {
		t, err := tx.PeekEmailToken(ctx, HashToken(token), PurposePasswordReset, now)
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		a, err = tx.AccountByID(ctx, t.AccountID)
		return err
	})
	if err != nil {
		return err
	}
	if w := password.CheckPolicy(plain, a.Email); w != nil {
		return w
	}
	hash, err := s.Hasher.Hash(ctx, plain)
	if err != nil {
		return err
	}
	var revoked []string
	err = s.Transact(ctx, func(tx Tx) error {
		t, err := tx.UseEmailToken(ctx, HashToken(token), PurposePasswordReset, now)
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		if a, err = tx.AccountByID(ctx, t.AccountID); err != nil {
			return err
		}
		return s.finishPasswordChange(ctx, tx, &a, hash, "", "reset", m, now, &revoked)
	})
	if err != nil {
		return err
	}
	s.committed(revoked)
	return nil
}

// AccountByID reads an account.
func (s *Service) AccountByID(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.AccountByID(ctx, id)
		return err
	})
	return a, err
}

// CheckPassword proves the signed-in owner still knows the password, for
// actions that ask for it again; ErrInvalidCredentials when not.
func (s *Service) CheckPassword(ctx context.Context, accountID, plain string) (Account, error) {
	var a Account
	if err := s.View(ctx, func(tx Tx) error {
		var err error
		a, err = tx.AccountByID(ctx, accountID)
		return err
	}); err != nil {
		return Account{}, err
	}
	ok, _, err := s.Hasher.Verify(ctx, a.PasswordHash, plain)
	if err != nil {
		return Account{}, err
	}
	if !ok {
		return Account{}, ErrInvalidCredentials
	}
	return a, nil
}

// ChangePassword sets a new password after proving the current one. Every
// other session ends; the one asking (keepSessionID) stays.
func (s *Service) ChangePassword(ctx context.Context, accountID, current, plain, keepSessionID string, m Meta) error {
	a, err := s.CheckPassword(ctx, accountID, current)
	if err != nil {
		return err
	}
	if w := password.CheckPolicy(plain, a.Email); w != nil {
		return w
	}
	hash, err := s.Hasher.Hash(ctx, plain)
	if err != nil {
		return err
	}
	now := s.now()
	var revoked []string
	err = s.Transact(ctx, func(tx Tx) error {
		return s.finishPasswordChange(ctx, tx, &a, hash, keepSessionID, "changed", m, now, &revoked)
	})
	if err != nil {
		return err
	}
	s.committed(revoked)
	return nil
}

func (s *Service) finishPasswordChange(ctx context.Context, tx Tx, a *Account, hash, keepSessionID, how string, m Meta, now time.Time, revoked *[]string) error {
	updated, err := tx.UpdateAccount(ctx, a.ID, func(old Account) (Account, error) {
		old.PasswordHash = hash
		old.MustChangePassword = false
		old.SecurityChangedAt, old.PasswordChangedAt = now, now
		// Proving control of the mailbox by a reset link verifies the address too.
		if how == "reset" && !old.Verified() {
			old.EmailVerifiedAt = now
		}
		return old, nil
	})
	if err != nil {
		return err
	}
	*a = updated
	// A login an attacker began with the old password must not finish.
	if err := tx.VoidLoginChallenges(ctx, a.ID, now); err != nil {
		return err
	}
	if *revoked, err = tx.RevokeSessions(ctx, a.ID, "", keepSessionID, "password_"+how, now); err != nil {
		return err
	}
	if err := tx.VoidEmailTokens(ctx, a.ID, PurposePasswordReset, now); err != nil {
		return err
	}
	if err := s.Record(ctx, tx, *a, "password."+how, m, now, map[string]any{"sessions_revoked": len(*revoked)}); err != nil {
		return err
	}
	return s.Notify(ctx, tx, *a, "password_changed", map[string]any{
		"how": how, "when": when(now), "ip": orUnknown(m.IP), "user_agent": orUnknownAgent(m.UserAgent),
	}, true, now)
}

func orUnknownAgent(ua string) string {
	if ua == "" {
		return "unknown device"
	}
	if len(ua) > 120 {
		return ua[:120] + "…"
	}
	return ua
}

// SetAntiPhishingCode sets the code every later email shows.
func (s *Service) SetAntiPhishingCode(ctx context.Context, accountID, code string, m Meta) error {
	if err := ValidateAntiPhishingCode(code); err != nil {
		return err
	}
	now := s.now()
	err := s.Transact(ctx, func(tx Tx) error {
		a, err := tx.UpdateAccount(ctx, accountID, func(old Account) (Account, error) {
			old.AntiPhishingCode = code
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Record(ctx, tx, a, "anti_phishing_code.set", m, now, nil); err != nil {
			return err
		}
		return s.Notify(ctx, tx, a, "anti_phishing_set", map[string]any{"when": when(now), "ip": orUnknown(m.IP)}, true, now)
	})
	if err != nil {
		return err
	}
	s.committed(nil)
	return nil
}

// FreezeByToken freezes the account named by a "this wasn't me" link.
func (s *Service) FreezeByToken(ctx context.Context, token string, m Meta) (Account, error) {
	now := s.now()
	var a Account
	var revoked []string
	err := s.Transact(ctx, func(tx Tx) error {
		t, err := tx.UseEmailToken(ctx, HashToken(token), PurposeFreeze, now)
		if isNotFound(err) {
			return ErrInvalidToken
		}
		if err != nil {
			return err
		}
		a, revoked, err = s.freeze(ctx, tx, t.AccountID, "this wasn't me link", m, now)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	s.committed(revoked)
	return a, nil
}

// Freeze freezes an account: by its owner from a session, or by staff.
func (s *Service) Freeze(ctx context.Context, accountID, reason string, m Meta) (Account, error) {
	now := s.now()
	var a Account
	var revoked []string
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		a, revoked, err = s.freeze(ctx, tx, accountID, reason, m, now)
		return err
	})
	if err != nil {
		return Account{}, err
	}
	s.committed(revoked)
	return a, nil
}

// freeze blocks logins and withdrawals and ends every session. Freezing a
// frozen account changes nothing and sends nothing.
func (s *Service) freeze(ctx context.Context, tx Tx, accountID, reason string, m Meta, now time.Time) (Account, []string, error) {
	wasFrozen := false
	a, err := tx.UpdateAccount(ctx, accountID, func(old Account) (Account, error) {
		if wasFrozen = old.Frozen(); !wasFrozen {
			old.FrozenAt, old.FrozenReason = now, reason
		}
		return old, nil
	})
	if err != nil {
		return Account{}, nil, err
	}
	revoked, err := tx.RevokeSessions(ctx, a.ID, "", "", "frozen", now)
	if err != nil || wasFrozen {
		return a, revoked, err
	}
	if err := s.Record(ctx, tx, a, "account.frozen", m, now, map[string]any{"reason": reason, "sessions_revoked": len(revoked)}); err != nil {
		return Account{}, nil, err
	}
	if _, err := notify.EnqueueWebhookEvent(ctx, tx, now, "account.frozen", map[string]any{
		"user_id": a.ID, "reason": reason, "frozen_at": now,
	}); err != nil {
		return Account{}, nil, err
	}
	// The email carries a link to tell us what happened (a report for
	// staff): the owner of a frozen account has no session to report from,
	// so the link's own single-use token stands in for one.
	data := map[string]any{"when": when(now), "how": freezeExplanation(a, reason, m)}
	if a.Realm == RealmUser {
		plain, tok := NewEmailToken(a.ID, PurposeFreeze, now, s.Policy.FreezeLinkTTL)
		if err := tx.InsertEmailToken(ctx, tok); err != nil {
			return Account{}, nil, err
		}
		data["report_url"] = s.link("/account/report", url.Values{"token": {plain}})
	}
	return a, revoked, s.Notify(ctx, tx, a, "account_frozen", data, false, now)
}

// freezeExplanation is what the frozen-account email says about why. The
// owner's own words come back to them as they were; a reason written by staff
// or an admin key is an internal note (it may name the fraud signal or the
// case) and stays in the audit log and the webhook.
func freezeExplanation(a Account, reason string, m Meta) string {
	if m.Actor == "" || m.Actor == a.Actor() {
		return reason
	}
	return "by our security team"
}

// Unfreeze lifts a freeze after staff checked the owner's identity. It
// counts as a security change: the withdrawal cooldown starts again.
func (s *Service) Unfreeze(ctx context.Context, accountID, reason string, m Meta) (Account, error) {
	now := s.now()
	var a Account
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		a, err = tx.UpdateAccount(ctx, accountID, func(old Account) (Account, error) {
			if old.Realm != RealmUser {
				// Staff accounts are not users: an admin key must not reach them here.
				return old, ErrNoAccount
			}
			if !old.Frozen() {
				return old, ErrNotFrozen
			}
			old.FrozenAt, old.FrozenReason, old.SecurityChangedAt, old.UnfrozenAt = time.Time{}, "", now, now
			return old, nil
		})
		if err != nil {
			return err
		}
		if err := s.Record(ctx, tx, a, "account.unfrozen", m, now, map[string]any{"reason": reason}); err != nil {
			return err
		}
		return s.Notify(ctx, tx, a, "account_unfrozen", map[string]any{"when": when(now)}, true, now)
	})
	if err != nil {
		return Account{}, err
	}
	s.committed(nil)
	return a, nil
}

// CreateStaff adds a staff account with a one-time password, which is
// returned once: the first login must replace it.
func (s *Service) CreateStaff(ctx context.Context, rawEmail, role string, m Meta) (Account, string, error) {
	email, key, err := NormalizeEmail(rawEmail)
	if err != nil {
		return Account{}, "", err
	}
	oneTime := oneTimePassword()
	hash, err := s.Hasher.Hash(ctx, oneTime)
	if err != nil {
		return Account{}, "", err
	}
	now := s.now()
	a := Account{
		ID: id.New("stf"), Realm: RealmStaff, Email: email, EmailKey: key, EmailVerifiedAt: now,
		PasswordHash: hash, StaffRole: role, MustChangePassword: true, CreatedAt: now,
	}
	err = s.Transact(ctx, func(tx Tx) error {
		if err := tx.InsertAccount(ctx, a); err != nil {
			return err
		}
		return s.Record(ctx, tx, a, "staff.created", m, now, map[string]any{"role": role, "email": email})
	})
	if err != nil {
		return Account{}, "", err
	}
	return a, oneTime, nil
}

// oneTimePassword is 5 groups of 5 random base32 characters: 125 bits,
// easy to read out and type once.
func oneTimePassword() string {
	raw := id.Token("")[:25]
	var b strings.Builder
	for i := 0; i < len(raw); i += 5 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(raw[i : i+5])
	}
	return b.String()
}
