package mfa

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/totp"
)

// Tx is what the service needs from one database transaction; the store implements it.
type Tx interface {
	account.Tx
	TOTPSecretOf(ctx context.Context, accountID string) (TOTPSecret, error)
	// PutTOTPSecret stores a pending secret, replacing a pending one.
	PutTOTPSecret(ctx context.Context, t TOTPSecret) error
	ConfirmTOTPSecret(ctx context.Context, accountID string, now time.Time) error
	// UseTOTPStep records step as used unless it, or a later one, already
	// was; false means the code was spent. Atomic, so a race has one winner.
	UseTOTPStep(ctx context.Context, accountID string, step int64) (bool, error)
	DeleteTOTPSecret(ctx context.Context, accountID string) error
	// ReplaceRecoveryCodes voids the account's codes and stores hashes (none: just void).
	ReplaceRecoveryCodes(ctx context.Context, accountID string, hashes []string, now time.Time) error
	// UseRecoveryCode spends an unused code; false when there is none with this hash.
	UseRecoveryCode(ctx context.Context, accountID, hash string, now time.Time) (bool, error)
	RecoveryCodesLeft(ctx context.Context, accountID string) (int, error)
	InsertPasskey(ctx context.Context, p Passkey) error
	PasskeysOf(ctx context.Context, accountID string) ([]Passkey, error)
	UpdatePasskey(ctx context.Context, accountID, id string, fn func(old Passkey) (Passkey, error)) (Passkey, error)
	DeletePasskey(ctx context.Context, accountID, id string) (Passkey, error)
	InsertChallenge(ctx context.Context, c Challenge) error
	// UpdateChallenge is read-modify-write of a challenge under a lock.
	UpdateChallenge(ctx context.Context, idHash string, fn func(old Challenge) (Challenge, error)) (Challenge, error)
	// SetSessionMFA marks a second factor proven in the session at now (aal2)
	// and tells other nodes to drop it from their caches.
	SetSessionMFA(ctx context.Context, sessionID string, now time.Time) error
	// RefreshSessions makes every node drop the account's sessions from its
	// cache, for a change to the account they carry, and returns their hashes.
	RefreshSessions(ctx context.Context, accountID string) ([]string, error)
	// ChallengeByEmailToken finds the challenge a new-device email confirms.
	ChallengeByEmailToken(ctx context.Context, tokenHash string) (Challenge, error)
	ChallengeByIDHash(ctx context.Context, idHash string) (Challenge, error)
}

// RelyingParty runs WebAuthn ceremonies; *passkey.RP is one.
type RelyingParty interface {
	BeginRegistration(u passkey.User) (options, state []byte, err error)
	FinishRegistration(u passkey.User, state, response []byte) (passkey.Credential, error)
	BeginLogin(u passkey.User) (options, state []byte, err error)
	FinishLogin(u passkey.User, state, response []byte) (credentialID, updated []byte, err error)
}

// Policy holds the second-factor rules that are configuration.
type Policy struct {
	// ChallengeTTL is how long a login or step-up challenge may be answered (5 min).
	ChallengeTTL time.Duration
	// MaxFailures wrong answers void a challenge (5).
	MaxFailures int
	// StepUpWindow is how recent a second factor must be for sensitive actions (5 min).
	StepUpWindow time.Duration
}

// Service carries out second-factor actions, each in one transaction with
// its audit record and email.
type Service struct {
	Transact func(ctx context.Context, fn func(tx Tx) error) error
	View     func(ctx context.Context, fn func(tx Tx) error) error
	// Accounts renders and queues emails and audit records.
	Accounts *account.Service
	Keys     *keyring.Keyring
	// RecoveryKeys key the recovery-code hashes (derived from the secret
	// keys): new codes use the first, codes made before a rotation the others.
	RecoveryKeys [][]byte
	Passkeys     RelyingParty
	// Issuer names the platform in authenticator apps.
	Issuer string
	Policy Policy
	Now    func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

func isNotFound(err error) bool {
	var nf interface{ NotFound() bool }
	return errors.As(err, &nf) && nf.NotFound()
}

func secretBinding(accountID string) []byte {
	return keyring.Binding("totp_secrets", "secret", accountID)
}

// Enrolment is a new authenticator-app secret, to show once.
type Enrolment struct {
	Secret string
	URI    string
	QRPNG  []byte
}

// BeginTOTP makes a fresh secret for the account (replacing an unconfirmed
// one). It is not active until ConfirmTOTP.
func (s *Service) BeginTOTP(ctx context.Context, a account.Account) (Enrolment, error) {
	key, err := totp.Generate(s.Issuer, a.Email)
	if err != nil {
		return Enrolment{}, fmt.Errorf("generate totp secret: %w", err)
	}
	png, err := totp.QRCode(key.URI)
	if err != nil {
		return Enrolment{}, fmt.Errorf("render totp qr code: %w", err)
	}
	sealed, err := s.Keys.Seal([]byte(key.Secret), secretBinding(a.ID))
	if err != nil {
		return Enrolment{}, err
	}
	now := s.now()
	err = s.Transact(ctx, func(tx Tx) error {
		old, err := tx.TOTPSecretOf(ctx, a.ID)
		switch {
		case err == nil && old.Confirmed():
			return ErrAlreadyEnabled
		case err != nil && !isNotFound(err):
			return err
		}
		return tx.PutTOTPSecret(ctx, TOTPSecret{AccountID: a.ID, Sealed: sealed, KeyID: s.Keys.PrimaryID(), CreatedAt: now})
	})
	if err != nil {
		return Enrolment{}, err
	}
	return Enrolment{Secret: key.Secret, URI: key.URI, QRPNG: png}, nil
}

// ConfirmTOTP turns the pending secret on with a first code from the app,
// and returns a fresh set of recovery codes to show once. The code proves
// the factor, so the session that confirmed it counts as stepped up.
func (s *Service) ConfirmTOTP(ctx context.Context, a account.Account, sessionID, code string, m account.Meta) ([]string, error) {
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	codes := NewRecoveryCodes()
	var refused error
	err := s.Transact(ctx, func(tx Tx) error {
		sec, err := tx.TOTPSecretOf(ctx, a.ID)
		switch {
		case isNotFound(err):
			return ErrNoEnrolment
		case err != nil:
			return err
		case sec.Confirmed():
			return ErrAlreadyEnabled
		}
		if refused, err = refusal(s.checkTOTP(ctx, tx, sec, code, now)); err != nil || refused != nil {
			return err
		}
		if err := tx.ConfirmTOTPSecret(ctx, a.ID, now); err != nil {
			return err
		}
		if err := tx.SetSessionMFA(ctx, sessionID, now); err != nil {
			return err
		}
		if err := s.replaceRecoveryCodes(ctx, tx, a.ID, codes, now); err != nil {
			return err
		}
		updated, err := s.setEnabled(ctx, tx, a.ID, true, &stale)
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, updated, "mfa.totp_enabled", m, now, nil); err != nil {
			return err
		}
		return s.notify(ctx, tx, updated, m, now, "Two-factor authentication was turned on",
			"An authenticator app was added to your account", "Logins and sensitive actions now ask for a code from it.")
	})
	if err := s.settle(err, refused, stale); err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP removes the authenticator app after the password and a
// current code. It is a security change: withdrawals cool down.
func (s *Service) DisableTOTP(ctx context.Context, a account.Account, password, code string, m account.Meta) error {
	if _, err := s.Accounts.CheckPassword(ctx, a.ID, password); err != nil {
		return err
	}
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	var refused error
	err := s.Transact(ctx, func(tx Tx) error {
		sec, err := tx.TOTPSecretOf(ctx, a.ID)
		if isNotFound(err) || (err == nil && !sec.Confirmed()) {
			return ErrNotEnabled
		}
		if err != nil {
			return err
		}
		if refused, err = refusal(s.checkTOTP(ctx, tx, sec, code, now)); err != nil || refused != nil {
			return err
		}
		if err := tx.DeleteTOTPSecret(ctx, a.ID); err != nil {
			return err
		}
		updated, err := s.afterFactorRemoved(ctx, tx, a.ID, now, &stale)
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, updated, "mfa.totp_disabled", m, now, nil); err != nil {
			return err
		}
		return s.notify(ctx, tx, updated, m, now, "Two-factor authentication was turned off",
			"The authenticator app was removed from your account",
			"Withdrawals are paused for a while as a precaution. If this was not you, freeze your account now.")
	})
	return s.settle(err, refused, stale)
}

// RegenerateRecoveryCodes replaces the set after a current authenticator
// code; the old codes stop working at once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, a account.Account, code string, m account.Meta) ([]string, error) {
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	codes := NewRecoveryCodes()
	var refused error
	err := s.Transact(ctx, func(tx Tx) error {
		sec, err := tx.TOTPSecretOf(ctx, a.ID)
		if isNotFound(err) || (err == nil && !sec.Confirmed()) {
			return ErrNotEnabled
		}
		if err != nil {
			return err
		}
		if refused, err = refusal(s.checkTOTP(ctx, tx, sec, code, now)); err != nil || refused != nil {
			return err
		}
		if err := s.replaceRecoveryCodes(ctx, tx, a.ID, codes, now); err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, a, "mfa.recovery_codes_regenerated", m, now, nil); err != nil {
			return err
		}
		return s.notify(ctx, tx, a, m, now, "New recovery codes were made",
			"A new set of recovery codes was made for your account", "The previous codes no longer work.")
	})
	if err := s.settle(err, refused, stale); err != nil {
		return nil, err
	}
	return codes, nil
}

// Factors is what an account has set up.
type Factors struct {
	TOTP              bool
	TOTPPending       bool
	Passkeys          []Passkey
	RecoveryCodesLeft int
}

// Methods lists what a challenge for this account may be answered with.
func (f Factors) Methods() []string {
	var m []string
	if f.TOTP {
		m = append(m, MethodTOTP)
	}
	if len(f.Passkeys) > 0 {
		m = append(m, MethodWebAuthn)
	}
	if f.RecoveryCodesLeft > 0 {
		m = append(m, MethodRecoveryCode)
	}
	return m
}

// FactorsOf reads an account's second factors.
func (s *Service) FactorsOf(ctx context.Context, accountID string) (Factors, error) {
	var f Factors
	err := s.View(ctx, func(tx Tx) error {
		var err error
		f, err = factors(ctx, tx, accountID)
		return err
	})
	return f, err
}

func factors(ctx context.Context, tx Tx, accountID string) (Factors, error) {
	var f Factors
	sec, err := tx.TOTPSecretOf(ctx, accountID)
	switch {
	case err == nil:
		f.TOTP, f.TOTPPending = sec.Confirmed(), !sec.Confirmed()
	case !isNotFound(err):
		return f, err
	}
	if f.Passkeys, err = tx.PasskeysOf(ctx, accountID); err != nil {
		return f, err
	}
	f.RecoveryCodesLeft, err = tx.RecoveryCodesLeft(ctx, accountID)
	return f, err
}

// Started is a new challenge: the id and, when a passkey may answer it, the
// options for navigator.credentials.get.
type Started struct {
	ID              string
	Methods         []string
	WebAuthnOptions []byte
	ExpiresAt       time.Time
}

// StartChallenge asks the account for a second factor, for purpose. A
// step-up challenge belongs to sessionID and nothing else.
func (s *Service) StartChallenge(ctx context.Context, a account.Account, purpose, sessionID string) (Started, error) {
	now := s.now()
	var out Started
	err := s.Transact(ctx, func(tx Tx) error {
		f, err := factors(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		c := Challenge{AccountID: a.ID, Purpose: purpose, SessionID: sessionID, Methods: f.Methods(),
			State: []byte{}, CreatedAt: now, ExpiresAt: now.Add(s.Policy.ChallengeTTL)}
		if len(c.Methods) == 0 {
			return ErrNotEnabled
		}
		if len(f.Passkeys) > 0 && s.Passkeys != nil {
			if out.WebAuthnOptions, c.State, err = s.Passkeys.BeginLogin(passkeyUser(a, f.Passkeys)); err != nil {
				return fmt.Errorf("begin passkey login: %w", err)
			}
		}
		out.ID = id.Token(ChallengeIDPrefix)
		c.IDHash = HashChallengeID(out.ID)
		out.Methods, out.ExpiresAt = c.Methods, c.ExpiresAt
		return tx.InsertChallenge(ctx, c)
	})
	return out, err
}

// Proof answers a challenge: a code for totp and recovery_code, the
// browser's PublicKeyCredential JSON for webauthn.
type Proof struct {
	Method   string
	Code     string
	Response []byte
}

// Completion is a challenge answered.
type Completion struct {
	Account account.Account
	Method  string
	// Challenge is the challenge as it stands after the answer.
	Challenge Challenge
	// Pending lists what a login challenge still waits for; empty when done.
	Pending []string
	// RecoveryCodesLeft is set when a recovery code was spent.
	RecoveryCodesLeft int
}

// CompleteChallenge checks proof against the challenge with this id. Wrong
// answers count, and MaxFailures of them void the challenge; a right one
// spends it. For a step-up, the session is marked as having proven a factor.
func (s *Service) CompleteChallenge(ctx context.Context, challengeID, purpose, sessionID string, p Proof, m account.Meta) (Completion, error) {
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	var out Completion
	var refused error
	err := s.Transact(ctx, func(tx Tx) error {
		c, err := tx.UpdateChallenge(ctx, HashChallengeID(challengeID), func(c Challenge) (Challenge, error) {
			if c.Purpose != purpose || c.SessionID != sessionID || !c.Open(now, s.Policy.MaxFailures) {
				return c, ErrChallengeExpired
			}
			return c, nil
		})
		if isNotFound(err) {
			return ErrChallengeExpired
		}
		if err != nil {
			return err
		}
		if !c.Allows(p.Method) {
			return ErrMethodNotAllowed
		}
		a, err := tx.AccountByID(ctx, c.AccountID)
		if err != nil {
			return err
		}
		out.Account, out.Method, out.Challenge = a, p.Method, c
		if p.Method == MethodEmail {
			// Nothing to check here: the email's link was followed, or not yet.
			if !slices.Contains(c.Satisfied, RequireEmail) {
				return ErrConfirmationPending
			}
		} else {
			if refused, err = refusal(s.checkProof(ctx, tx, a, c.State, p, now, m, &out)); err != nil {
				return err
			}
			if refused != nil {
				_, err := tx.UpdateChallenge(ctx, c.IDHash, func(c Challenge) (Challenge, error) {
					c.Failures++
					return c, nil
				})
				return err
			}
		}
		c, err = tx.UpdateChallenge(ctx, c.IDHash, func(c Challenge) (Challenge, error) {
			if p.Method != MethodEmail && slices.Contains(c.Requires, RequireSecondFactor) && !slices.Contains(c.Satisfied, RequireSecondFactor) {
				c.Satisfied, c.FactorAt = append(c.Satisfied, RequireSecondFactor), now
			}
			if len(c.Missing()) == 0 {
				c.UsedAt = now
			}
			return c, nil
		})
		if err != nil {
			return err
		}
		out.Challenge, out.Pending = c, c.Missing()
		if purpose == PurposeStepUp {
			if err := tx.SetSessionMFA(ctx, sessionID, now); err != nil {
				return err
			}
			return s.Accounts.Record(ctx, tx, a, "mfa.step_up", m, now, map[string]any{"method": p.Method, "session_id": sessionID})
		}
		return nil
	})
	if err != nil {
		return Completion{}, err
	}
	if err := s.settle(nil, refused, stale); err != nil {
		return out, err // the refusal, with whose account it was
	}
	return out, nil
}

// PeekChallenge reads an open challenge of purpose without answering it
// (to know whose it is before an answer is checked).
func (s *Service) PeekChallenge(ctx context.Context, challengeID, purpose string) (Challenge, error) {
	now := s.now()
	var c Challenge
	err := s.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.ChallengeByIDHash(ctx, HashChallengeID(challengeID))
		return err
	})
	if isNotFound(err) || (err == nil && (c.Purpose != purpose || !c.Open(now, s.Policy.MaxFailures))) {
		return Challenge{}, ErrChallengeExpired
	}
	return c, err
}

// LoginChallenge is what a risk-judged login must still prove.
type LoginChallenge struct {
	Requires     []string // RequireEmail, RequireSecondFactor
	DeviceID     string
	LoginEventID string
	// TTL overrides Policy.ChallengeTTL (an email confirmation needs longer).
	TTL time.Duration
}

// InsertLoginChallenge stores a login challenge in the caller's transaction.
// When the email confirmation is required, emailToken is the link's token
// (only its hash is kept) for the caller to send.
func (s *Service) InsertLoginChallenge(ctx context.Context, tx Tx, a account.Account, lc LoginChallenge) (st Started, emailToken string, err error) {
	now := s.now()
	ttl := s.Policy.ChallengeTTL
	if lc.TTL > 0 {
		ttl = lc.TTL
	}
	c := Challenge{AccountID: a.ID, Purpose: PurposeLogin, State: []byte{}, CreatedAt: now, ExpiresAt: now.Add(ttl),
		Requires: lc.Requires, DeviceID: lc.DeviceID, LoginEventID: lc.LoginEventID}
	if slices.Contains(lc.Requires, RequireEmail) {
		c.Methods = append(c.Methods, MethodEmail)
		emailToken = id.Token("wdc_")
		c.EmailTokenHash = HashChallengeID(emailToken)
	}
	if slices.Contains(lc.Requires, RequireSecondFactor) {
		f, err := factors(ctx, tx, a.ID)
		if err != nil {
			return Started{}, "", err
		}
		c.Methods = append(c.Methods, f.Methods()...)
		if len(f.Passkeys) > 0 && s.Passkeys != nil {
			if st.WebAuthnOptions, c.State, err = s.Passkeys.BeginLogin(passkeyUser(a, f.Passkeys)); err != nil {
				return Started{}, "", fmt.Errorf("begin passkey login: %w", err)
			}
		}
	}
	st.ID = id.Token(ChallengeIDPrefix)
	c.IDHash = HashChallengeID(st.ID)
	st.Methods, st.ExpiresAt = c.Methods, c.ExpiresAt
	return st, emailToken, tx.InsertChallenge(ctx, c)
}

// ConfirmEmail satisfies the email requirement of the login challenge whose
// new-device email carried token, in the caller's transaction.
func (s *Service) ConfirmEmail(ctx context.Context, tx Tx, token string) (Challenge, error) {
	now := s.now()
	found, err := tx.ChallengeByEmailToken(ctx, HashChallengeID(token))
	if isNotFound(err) {
		return Challenge{}, ErrChallengeExpired
	}
	if err != nil {
		return Challenge{}, err
	}
	return tx.UpdateChallenge(ctx, found.IDHash, func(c Challenge) (Challenge, error) {
		if !c.Open(now, s.Policy.MaxFailures) || slices.Contains(c.Satisfied, RequireEmail) {
			return c, ErrChallengeExpired
		}
		c.Satisfied = append(c.Satisfied, RequireEmail)
		return c, nil
	})
}

// StepUp proves a second factor for the session with a code, without a
// challenge round trip (passkeys need one: StartChallenge first).
func (s *Service) StepUp(ctx context.Context, a account.Account, sessionID string, p Proof, m account.Meta) error {
	if p.Method == MethodWebAuthn {
		return ErrMethodNotAllowed
	}
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	var refused error
	err := s.Transact(ctx, func(tx Tx) error {
		var out Completion
		var err error
		if refused, err = refusal(s.checkProof(ctx, tx, a, nil, p, now, m, &out)); err != nil || refused != nil {
			return err
		}
		if err := tx.SetSessionMFA(ctx, sessionID, now); err != nil {
			return err
		}
		return s.Accounts.Record(ctx, tx, a, "mfa.step_up", m, now, map[string]any{"method": p.Method, "session_id": sessionID})
	})
	return s.settle(err, refused, stale)
}

// NeedsStepUp tells whether a sensitive action in session sess must first
// prove a second factor: the account has one and the session has not
// proven it within the step-up window.
func (s *Service) NeedsStepUp(a account.Account, sess session.Session) bool {
	if !a.MFAEnabled {
		return false
	}
	return sess.MFAAt.IsZero() || s.now().Sub(sess.MFAAt) > s.Policy.StepUpWindow
}

// checkProof verifies one answer. A refusal is returned, not raised, so that
// the caller can count it in the same transaction and still commit.
func (s *Service) checkProof(ctx context.Context, tx Tx, a account.Account, state []byte, p Proof, now time.Time, m account.Meta, out *Completion) error {
	switch p.Method {
	case MethodTOTP:
		sec, err := tx.TOTPSecretOf(ctx, a.ID)
		if isNotFound(err) || (err == nil && !sec.Confirmed()) {
			return ErrMethodNotAllowed
		}
		if err != nil {
			return err
		}
		return s.checkTOTP(ctx, tx, sec, p.Code, now)
	case MethodRecoveryCode:
		code := NormalizeRecoveryCode(p.Code)
		if code == "" {
			return ErrInvalidCode
		}
		ok := false
		for _, key := range s.RecoveryKeys {
			var err error
			if ok, err = tx.UseRecoveryCode(ctx, a.ID, HashRecoveryCode(key, code), now); err != nil {
				return err
			}
			if ok {
				break
			}
		}
		if !ok {
			return ErrInvalidCode
		}
		left, err := tx.RecoveryCodesLeft(ctx, a.ID)
		if err != nil {
			return err
		}
		out.RecoveryCodesLeft = left
		if err := s.Accounts.Record(ctx, tx, a, "mfa.recovery_code_used", m, now, map[string]any{"left": left}); err != nil {
			return err
		}
		return s.notify(ctx, tx, a, m, now, "A recovery code was used",
			"One of your recovery codes was used to sign in or confirm an action",
			fmt.Sprintf("%d of %d codes are left. If this was not you, freeze your account now.", left, RecoveryCodeCount))
	case MethodWebAuthn:
		if len(state) == 0 || s.Passkeys == nil {
			return ErrMethodNotAllowed
		}
		keys, err := tx.PasskeysOf(ctx, a.ID)
		if err != nil {
			return err
		}
		credID, updated, err := s.Passkeys.FinishLogin(passkeyUser(a, keys), state, p.Response)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPasskey, err)
		}
		for _, k := range keys {
			if bytes.Equal(k.CredentialID, credID) {
				_, err := tx.UpdatePasskey(ctx, a.ID, k.ID, func(old Passkey) (Passkey, error) {
					old.Credential, old.LastUsedAt = updated, now
					return old, nil
				})
				return err
			}
		}
		return ErrInvalidPasskey
	default:
		return ErrMethodNotAllowed
	}
}

// settle ends an action whose transaction may have committed a refused
// answer: it returns the failure, else the refusal, else refreshes the
// sessions the change outdated and returns nil.
func (s *Service) settle(err, refused error, stale []string) error {
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	s.Accounts.AfterCommit(stale)
	return nil
}

// refusal splits what a check returned into a refused answer, which the
// transaction still commits (to count it), and a failure, which rolls back.
func refusal(err error) (refused, failed error) {
	var drift *DriftError
	switch {
	case err == nil:
		return nil, nil
	case errors.Is(err, ErrInvalidCode), errors.Is(err, ErrCodeReused), errors.Is(err, ErrInvalidPasskey),
		errors.Is(err, ErrMethodNotAllowed), errors.As(err, &drift):
		return err, nil
	default:
		return nil, err
	}
}

// checkTOTP verifies a code and spends its time step.
func (s *Service) checkTOTP(ctx context.Context, tx Tx, sec TOTPSecret, raw string, now time.Time) error {
	code, err := totp.NormalizeCode(raw)
	if err != nil {
		return ErrInvalidCode
	}
	secret, err := s.Keys.Open(sec.Sealed, secretBinding(sec.AccountID))
	if err != nil {
		return fmt.Errorf("open totp secret of %s: %w", sec.AccountID, err)
	}
	res, err := totp.Verify(string(secret), code, now)
	if err != nil {
		return fmt.Errorf("verify totp code: %w", err)
	}
	switch {
	case res.Drifted:
		return &DriftError{Seconds: res.DriftSeconds}
	case !res.OK:
		return ErrInvalidCode
	}
	fresh, err := tx.UseTOTPStep(ctx, sec.AccountID, res.Step)
	if err != nil {
		return err
	}
	if !fresh {
		return ErrCodeReused
	}
	return nil
}

func (s *Service) replaceRecoveryCodes(ctx context.Context, tx Tx, accountID string, codes []string, now time.Time) error {
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = HashRecoveryCode(s.RecoveryKeys[0], NormalizeRecoveryCode(c))
	}
	return tx.ReplaceRecoveryCodes(ctx, accountID, hashes, now)
}

// setEnabled switches the account's 2FA flag; stale receives the sessions
// whose cached copy of the account it outdates.
func (s *Service) setEnabled(ctx context.Context, tx Tx, accountID string, on bool, stale *[]string) (account.Account, error) {
	a, err := tx.UpdateAccount(ctx, accountID, func(old account.Account) (account.Account, error) {
		old.MFAEnabled = on
		return old, nil
	})
	if err != nil {
		return a, err
	}
	*stale, err = tx.RefreshSessions(ctx, accountID)
	return a, err
}

// afterFactorRemoved turns 2FA off when no factor is left (voiding the
// recovery codes, which only stand in for a factor) and starts the security
// cooldown either way.
func (s *Service) afterFactorRemoved(ctx context.Context, tx Tx, accountID string, now time.Time, stale *[]string) (account.Account, error) {
	f, err := factors(ctx, tx, accountID)
	if err != nil {
		return account.Account{}, err
	}
	left := f.TOTP || len(f.Passkeys) > 0
	if !left {
		if err := tx.ReplaceRecoveryCodes(ctx, accountID, nil, now); err != nil {
			return account.Account{}, err
		}
	}
	a, err := tx.UpdateAccount(ctx, accountID, func(old account.Account) (account.Account, error) {
		old.MFAEnabled, old.SecurityChangedAt, old.MFAChangedAt = left, now, now
		return old, nil
	})
	if err != nil {
		return a, err
	}
	*stale, err = tx.RefreshSessions(ctx, accountID)
	return a, err
}

// notify queues the security email every second-factor change sends, with
// the "this wasn't me" freeze link.
func (s *Service) notify(ctx context.Context, tx Tx, a account.Account, m account.Meta, now time.Time, subject, what, detail string) error {
	return s.Accounts.Notify(ctx, tx, a, "security_change", map[string]any{
		"subject": subject, "what": what, "detail": detail,
		"when": now.Format("2006-01-02 15:04 UTC"), "ip": orUnknown(m.IP, "an unknown address"), "user_agent": orUnknown(m.UserAgent, "unknown browser"),
	}, true, now)
}

func orUnknown(s, unknown string) string {
	if strings.TrimSpace(s) == "" {
		return unknown
	}
	return s
}

func passkeyUser(a account.Account, keys []Passkey) passkey.User {
	u := passkey.User{ID: a.ID, Email: a.Email}
	for _, k := range keys {
		u.Credentials = append(u.Credentials, passkey.Credential{ID: k.CredentialID, Data: k.Credential})
	}
	return u
}

// Registration is a passkey registration in progress.
type Registration struct {
	ID      string
	Options []byte // for navigator.credentials.create
}

// BeginPasskeyRegistration opens a registration for the session's account.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, a account.Account, sessionID string) (Registration, error) {
	if s.Passkeys == nil {
		return Registration{}, ErrPasskeysOff
	}
	now := s.now()
	var out Registration
	err := s.Transact(ctx, func(tx Tx) error {
		keys, err := tx.PasskeysOf(ctx, a.ID)
		if err != nil {
			return err
		}
		if len(keys) >= MaxPasskeys {
			return ErrTooManyPasskeys
		}
		c := Challenge{AccountID: a.ID, Purpose: PurposePasskeyRegistration, SessionID: sessionID,
			Methods: []string{MethodWebAuthn}, CreatedAt: now, ExpiresAt: now.Add(s.Policy.ChallengeTTL)}
		if out.Options, c.State, err = s.Passkeys.BeginRegistration(passkeyUser(a, keys)); err != nil {
			return fmt.Errorf("begin passkey registration: %w", err)
		}
		out.ID = id.Token(ChallengeIDPrefix)
		c.IDHash = HashChallengeID(out.ID)
		return tx.InsertChallenge(ctx, c)
	})
	return out, err
}

// MaxPasskeys bounds how many passkeys one account may register.
const MaxPasskeys = 20

// ErrTooManyPasskeys refuses a registration past MaxPasskeys.
var ErrTooManyPasskeys = errors.New("too many passkeys")

// Registered is a new passkey; RecoveryCodes is set when it was the
// account's first second factor (to show once).
type Registered struct {
	Passkey       Passkey
	RecoveryCodes []string
}

// FinishPasskeyRegistration verifies the browser's answer and stores the
// passkey under name. A first factor switches 2FA on and comes with a set
// of recovery codes.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, a account.Account, sessionID, registrationID, name string, response []byte, m account.Meta) (Registered, error) {
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	var out Registered
	err := s.Transact(ctx, func(tx Tx) error {
		c, err := tx.UpdateChallenge(ctx, HashChallengeID(registrationID), func(c Challenge) (Challenge, error) {
			if c.Purpose != PurposePasskeyRegistration || c.SessionID != sessionID || c.AccountID != a.ID || !c.Open(now, 1) {
				return c, ErrChallengeExpired
			}
			c.UsedAt = now // one attempt: a failed ceremony starts again in the browser
			return c, nil
		})
		if isNotFound(err) {
			return ErrChallengeExpired
		}
		if err != nil {
			return err
		}
		f, err := factors(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		cred, err := s.Passkeys.FinishRegistration(passkeyUser(a, f.Passkeys), c.State, response)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidPasskey, err)
		}
		out.Passkey = Passkey{ID: id.New("pky"), AccountID: a.ID, Name: name, CredentialID: cred.ID, Credential: cred.Data, CreatedAt: now}
		if err := tx.InsertPasskey(ctx, out.Passkey); err != nil {
			return err
		}
		if err := tx.SetSessionMFA(ctx, sessionID, now); err != nil {
			return err
		}
		if !f.TOTP && len(f.Passkeys) == 0 {
			out.RecoveryCodes = NewRecoveryCodes()
			if err := s.replaceRecoveryCodes(ctx, tx, a.ID, out.RecoveryCodes, now); err != nil {
				return err
			}
		}
		updated, err := s.setEnabled(ctx, tx, a.ID, true, &stale)
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, updated, "mfa.passkey_added", m, now, map[string]any{"passkey_id": out.Passkey.ID, "name": name}); err != nil {
			return err
		}
		return s.notify(ctx, tx, updated, m, now, "A passkey was added",
			fmt.Sprintf("The passkey %q was added to your account", name), "It can now be used as your second factor.")
	})
	if err != nil {
		return Registered{}, err
	}
	s.Accounts.AfterCommit(stale)
	return out, nil
}

// RenamePasskey changes a passkey's name.
func (s *Service) RenamePasskey(ctx context.Context, a account.Account, passkeyID, name string) (Passkey, error) {
	var out Passkey
	err := s.Transact(ctx, func(tx Tx) error {
		var err error
		out, err = tx.UpdatePasskey(ctx, a.ID, passkeyID, func(old Passkey) (Passkey, error) {
			old.Name = name
			return old, nil
		})
		if isNotFound(err) {
			return ErrPasskeyNotFound
		}
		return err
	})
	return out, err
}

// RemovePasskey deletes a passkey. Removing the last second factor turns
// 2FA off; either way it is a security change.
//
// Removing the last factor turns 2FA off, which (like DisableTOTP) needs
// the password as well: a step-up alone is only a recent second factor,
// which a session stolen right after a login would have.
func (s *Service) RemovePasskey(ctx context.Context, a account.Account, passkeyID, password string, m account.Meta) error {
	f, err := s.FactorsOf(ctx, a.ID)
	if err != nil {
		return err
	}
	if !f.TOTP && len(f.Passkeys) == 1 && f.Passkeys[0].ID == passkeyID {
		if _, err := s.Accounts.CheckPassword(ctx, a.ID, password); err != nil {
			return err
		}
	}
	now := s.now()
	var stale []string // sessions whose cached account this change outdates
	err = s.Transact(ctx, func(tx Tx) error {
		removed, err := tx.DeletePasskey(ctx, a.ID, passkeyID)
		if isNotFound(err) {
			return ErrPasskeyNotFound
		}
		if err != nil {
			return err
		}
		updated, err := s.afterFactorRemoved(ctx, tx, a.ID, now, &stale)
		if err != nil {
			return err
		}
		if err := s.Accounts.Record(ctx, tx, updated, "mfa.passkey_removed", m, now, map[string]any{"passkey_id": removed.ID, "name": removed.Name}); err != nil {
			return err
		}
		detail := "If this was not you, freeze your account now."
		if !updated.MFAEnabled {
			detail = "It was your last second factor: two-factor authentication is now off. " + detail
		}
		return s.notify(ctx, tx, updated, m, now, "A passkey was removed",
			fmt.Sprintf("The passkey %q was removed from your account", removed.Name), detail)
	})
	if err != nil {
		return err
	}
	s.Accounts.AfterCommit(stale)
	return nil
}

// RemoveAllFactors deletes the account's authenticator secret, passkeys and
// recovery codes in the caller's transaction and starts the security
// cooldown: the end of an approved 2FA reset (package verification). The
// caller ends the sessions and sends the email.
func (s *Service) RemoveAllFactors(ctx context.Context, tx Tx, accountID string, now time.Time) (account.Account, error) {
	if err := tx.DeleteTOTPSecret(ctx, accountID); err != nil && !isNotFound(err) {
		return account.Account{}, err
	}
	keys, err := tx.PasskeysOf(ctx, accountID)
	if err != nil {
		return account.Account{}, err
	}
	for _, p := range keys {
		if _, err := tx.DeletePasskey(ctx, accountID, p.ID); err != nil {
			return account.Account{}, err
		}
	}
	var stale []string
	return s.afterFactorRemoved(ctx, tx, accountID, now, &stale)
}
