package mfa_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/passkey/passkeytest"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	rfc6238pkg "github.com/wardenhq/warden/internal/totp/rfc6238"
)

// t0 is where every test's clock starts: 10 seconds into a TOTP time step,
// so that a code for t0 ± n×30 s falls in a known step.
var t0 = time.Date(2031, time.March, 4, 5, 6, 10, 0, time.UTC)

const goodPassword = "correct horse battery staple"

var policy = mfa.Policy{ChallengeTTL: 5 * time.Minute, MaxFailures: 5, StepUpWindow: 5 * time.Minute}

var meta = account.Meta{IP: "203.0.113.7", UserAgent: "mfa-test", RequestID: "req_test"}

// env is the second-factor service assembled the way internal/server
// assembles it, on a real store, with an injected clock: the Services'
// MFA is this test's, with passkeys and the recovery keys of its keyring.
type env struct {
	*servicetest.Services
	t    *testing.T
	ctx  context.Context
	keys *keyring.Keyring
}

var (
	masterKey = bytes.Repeat([]byte{42}, keyring.KeySize)
	olderKey  = bytes.Repeat([]byte{7}, keyring.KeySize)
)

// each runs fn on SQLite and on PostgreSQL, in parallel, with a service
// whose keyring holds masterKey (the key servicetest.Each seals the store
// with too).
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	servicetest.Each(t, func(t *testing.T, st *store.Store, _ *keyring.Keyring) {
		fn(t, newEnv(t, st, servicetest.NewClock(t0), masterKey))
	})
}

// newEnv builds the services on st with a keyring of primary and older
// keys, recovery keys derived from them as internal/server derives them.
func newEnv(t *testing.T, st *store.Store, c *servicetest.Clock, primary []byte, older ...[]byte) *env {
	t.Helper()
	keys, err := keyring.New(primary, older...)
	if err != nil {
		t.Fatal(err)
	}
	base := servicetest.New(t, st, keys, c)
	rp, err := passkey.New(servicetest.BaseURL, "Warden")
	if err != nil {
		t.Fatal(err)
	}
	var recoveryKeys [][]byte
	ids := []string{keys.PrimaryID()}
	for _, k := range older {
		ids = append(ids, keyring.KeyID(k))
	}
	for _, id := range ids {
		k, err := keys.Derive(id, "recovery codes")
		if err != nil {
			t.Fatal(err)
		}
		recoveryKeys = append(recoveryKeys, k)
	}
	base.MFA = &mfa.Service{
		Transact: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts, Keys: keys, RecoveryKeys: recoveryKeys, Passkeys: rp,
		Issuer: "Warden", Policy: policy, Now: c.Now,
	}
	return &env{Services: base, t: t, ctx: context.Background(), keys: keys}
}

// with is e for a subtest: helpers report failures to t.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// user makes a verified account with goodPassword.
func (e *env) user(email string) account.Account {
	e.t.Helper()
	hash, err := e.Accounts.Hasher.Hash(e.ctx, goodPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	addr, key, err := account.NormalizeEmail(email)
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.Clock.Now()
	a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key,
		EmailVerifiedAt: now, PasswordHash: hash, CreatedAt: now}
	if err := e.Store.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertAccount(e.ctx, a) }); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// login opens a password-only session for a.
func (e *env) login(a account.Account) session.Session {
	e.t.Helper()
	started, err := e.Sessions.Start(e.ctx, a, session.AAL1, session.Meta{IP: meta.IP, UserAgent: meta.UserAgent})
	if err != nil {
		e.t.Fatal(err)
	}
	return started.Session
}

// enrolTOTP turns the authenticator app on for a, in session sess, at the
// clock's time, and returns its secret and recovery codes.
func (e *env) enrolTOTP(a account.Account, sess session.Session) (secret string, codes []string) {
	e.t.Helper()
	en, err := e.MFA.BeginTOTP(e.ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, err = e.MFA.ConfirmTOTP(e.ctx, a, sess.ID, rfc6238(e.t, en.Secret, e.Clock.Now()), meta)
	if err != nil {
		e.t.Fatalf("confirm the authenticator app: %v", err)
	}
	return en.Secret, codes
}

// registerPasskey adds a software passkey to a through the service.
func (e *env) registerPasskey(a account.Account, sess session.Session, name string) (*passkeytest.Authenticator, mfa.Registered) {
	e.t.Helper()
	reg, err := e.MFA.BeginPasskeyRegistration(e.ctx, a, sess.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	key := passkeytest.New(e.t, servicetest.BaseURL)
	done, err := e.MFA.FinishPasskeyRegistration(e.ctx, a, sess.ID, reg.ID, name, key.Create(reg.Options), meta)
	if err != nil {
		e.t.Fatalf("register passkey %q: %v", name, err)
	}
	return key, done
}

// code is a code from secret for the clock's current time, off by offset.
func (e *env) code(secret string, offset time.Duration) string {
	e.t.Helper()
	return rfc6238(e.t, secret, e.Clock.Now().Add(offset))
}

func totp(code string) mfa.Proof     { return mfa.Proof{Method: mfa.MethodTOTP, Code: code} }
func recovery(code string) mfa.Proof { return mfa.Proof{Method: mfa.MethodRecoveryCode, Code: code} }

// rfc6238 is the code of an independent RFC 6238 implementation.
func rfc6238(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := rfc6238pkg.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// A login challenge can be answered until its TTL runs out, and not after;
// an answer that comes too late spends nothing.
func TestChallengeExpiresAfterTTL(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("ada@example.com")
		secret, _ := e.enrolTOTP(a, e.login(a))

		start := e.Clock.Add(time.Minute)
		st, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		if !st.ExpiresAt.Equal(start.Add(policy.ChallengeTTL)) || !strings.HasPrefix(st.ID, mfa.ChallengeIDPrefix) {
			t.Fatalf("challenge %s expires at %v, want %v", st.ID, st.ExpiresAt, start.Add(policy.ChallengeTTL))
		}
		if want := []string{mfa.MethodTOTP, mfa.MethodRecoveryCode}; !slices.Equal(st.Methods, want) || st.WebAuthnOptions != nil {
			t.Fatalf("methods %v (webauthn options %s), want %v", st.Methods, st.WebAuthnOptions, want)
		}
		e.Clock.Add(policy.ChallengeTTL - time.Second)
		done, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", totp(e.code(secret, 0)), meta)
		if err != nil {
			t.Fatalf("answer a second before the TTL: %v", err)
		}
		if done.Account.ID != a.ID || done.Method != mfa.MethodTOTP {
			t.Fatalf("completion %+v", done)
		}

		late, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(policy.ChallengeTTL + time.Second)
		code := e.code(secret, 0)
		if _, err := e.MFA.CompleteChallenge(e.ctx, late.ID, mfa.PurposeLogin, "", totp(code), meta); !errors.Is(err, mfa.ErrChallengeExpired) {
			t.Fatalf("answer a second after the TTL: %v, want ErrChallengeExpired", err)
		}
		fresh, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.MFA.CompleteChallenge(e.ctx, fresh.ID, mfa.PurposeLogin, "", totp(code), meta); err != nil {
			t.Fatalf("the code refused on the expired challenge was spent: %v", err)
		}
	})
}

// Wrong answers count even though they are refused; the MaxFailures-th
// voids the challenge, so a right answer after it is refused too.
func TestWrongAnswersVoidTheChallenge(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("bo@example.com")
		secret, codes := e.enrolTOTP(a, e.login(a))
		e.Clock.Add(time.Minute)
		wrong := []mfa.Proof{recovery("aaaaa-aaaaa"), totp("12345a"), recovery("not a code"), totp(e.code(secret, -time.Hour)), recovery("bbbbb-bbbbb")}

		// One fewer than the limit: the right answer still opens it.
		st, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range wrong[:policy.MaxFailures-1] {
			if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", p, meta); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("wrong answer %+v: %v, want ErrInvalidCode", p, err)
			}
		}
		if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", totp(e.code(secret, 0)), meta); err != nil {
			t.Fatalf("right answer after %d wrong ones: %v", policy.MaxFailures-1, err)
		}

		// The limit: voided.
		st, err = e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range wrong[:policy.MaxFailures] {
			if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", p, meta); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("wrong answer %d (%+v): %v, want ErrInvalidCode", i+1, p, err)
			}
		}
		if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", recovery(codes[0]), meta); !errors.Is(err, mfa.ErrChallengeExpired) {
			t.Fatalf("right answer after %d wrong ones: %v, want ErrChallengeExpired", policy.MaxFailures, err)
		}
		if f, err := e.MFA.FactorsOf(e.ctx, a.ID); err != nil || f.RecoveryCodesLeft != mfa.RecoveryCodeCount {
			t.Fatalf("a voided challenge spent a recovery code: %d left (%v)", f.RecoveryCodesLeft, err)
		}
	})
}

// A challenge answers only the purpose, and the session, it was made for.
func TestChallengeIsBoundToPurposeAndSession(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("cy@example.com")
		secret, _ := e.enrolTOTP(a, e.login(a))
		mine, other := e.login(a), e.login(a)

		e.Clock.Add(time.Minute)
		login, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		up, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeStepUp, mine.ID)
		if err != nil {
			t.Fatal(err)
		}
		code := e.code(secret, 0)
		for _, c := range []struct {
			what, id, purpose, session string
		}{
			{"a login challenge as a step-up", login.ID, mfa.PurposeStepUp, mine.ID},
			{"a login challenge as a step-up without a session", login.ID, mfa.PurposeStepUp, ""},
			{"a login challenge for a session", login.ID, mfa.PurposeLogin, mine.ID},
			{"a login challenge as a passkey registration", login.ID, mfa.PurposePasskeyRegistration, mine.ID},
			{"a step-up challenge as a login", up.ID, mfa.PurposeLogin, ""},
			{"a step-up challenge for another session", up.ID, mfa.PurposeStepUp, other.ID},
			{"a step-up challenge without its session", up.ID, mfa.PurposeStepUp, ""},
		} {
			if _, err := e.MFA.CompleteChallenge(e.ctx, c.id, c.purpose, c.session, totp(code), meta); !errors.Is(err, mfa.ErrChallengeExpired) {
				t.Errorf("%s: %v, want ErrChallengeExpired", c.what, err)
			}
		}
		if s := e.Session(t, other); !s.MFAAt.IsZero() || s.AAL != session.AAL1 {
			t.Fatalf("the other session was stepped up: aal %s at %v", s.AAL, s.MFAAt)
		}

		// The refusals spent nothing: each challenge still works for its own.
		if _, err := e.MFA.CompleteChallenge(e.ctx, up.ID, mfa.PurposeStepUp, mine.ID, totp(code), meta); err != nil {
			t.Fatalf("the step-up challenge in its session: %v", err)
		}
		if s := e.Session(t, mine); !s.MFAAt.Equal(e.Clock.Now()) || s.AAL != session.AAL2 {
			t.Fatalf("after the step-up: aal %s at %v, want aal2 at %v", s.AAL, s.MFAAt, e.Clock.Now())
		}
		e.Clock.Add(30 * time.Second)
		if _, err := e.MFA.CompleteChallenge(e.ctx, login.ID, mfa.PurposeLogin, "", totp(e.code(secret, 0)), meta); err != nil {
			t.Fatalf("the login challenge as a login: %v", err)
		}
	})
}

// An authenticator-app secret is sealed for its own row: copied onto
// another account's row it does not open, so neither code is accepted.
func TestSealedSecretDoesNotOpenOnAnotherAccount(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		victim, thief := e.user("vi@example.com"), e.user("th@example.com")
		victimSecret, _ := e.enrolTOTP(victim, e.login(victim))
		thiefSecret, _ := e.enrolTOTP(thief, e.login(thief))
		if err := e.Store.ExecRaw(e.ctx, `UPDATE totp_secrets SET secret = (SELECT secret FROM totp_secrets WHERE account_id = $1)
			WHERE account_id = $2`, victim.ID, thief.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(time.Minute)
		sess := e.login(thief)
		for name, secret := range map[string]string{"the copied secret's": victimSecret, "the thief's own": thiefSecret} {
			err := e.MFA.StepUp(e.ctx, thief, sess.ID, totp(e.code(secret, 0)), meta)
			if err == nil || !errors.Is(err, keyring.ErrCannotOpen) {
				t.Errorf("step-up with %s code: %v, want keyring.ErrCannotOpen", name, err)
			}
			st, err := e.MFA.StartChallenge(e.ctx, thief, mfa.PurposeLogin, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", totp(e.code(secret, 0)), meta); !errors.Is(err, keyring.ErrCannotOpen) {
				t.Errorf("login with %s code: %v, want keyring.ErrCannotOpen", name, err)
			}
		}
		if s := e.Session(t, sess); !s.MFAAt.IsZero() || s.AAL != session.AAL1 {
			t.Fatalf("the thief's session was stepped up: aal %s at %v", s.AAL, s.MFAAt)
		}
		// The victim's own row is untouched and still works.
		if err := e.MFA.StepUp(e.ctx, victim, e.login(victim).ID, totp(e.code(victimSecret, 0)), meta); err != nil {
			t.Fatalf("the victim's code on the victim's row: %v", err)
		}
	})
}

// A code is good in the current time step and one either side, and once:
// its step, and every earlier one, is spent by using it.
func TestTOTPWindowAndReuse(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("di@example.com")
		secret, _ := e.enrolTOTP(a, e.login(a))
		sess := e.login(a)
		e.Clock.Add(10 * time.Minute)
		step := 30 * time.Second
		for i, c := range []struct {
			offset time.Duration
			want   error
		}{
			{-step, nil},               // the previous step: a slow typist
			{-step, mfa.ErrCodeReused}, // the same code again
			{0, nil},                   // the current step
			{0, mfa.ErrCodeReused},     // again
			{-step, mfa.ErrCodeReused}, // an older step after a newer one
			{step, nil},                // the next step: a phone a little fast
			{step, mfa.ErrCodeReused},  // again
			{0, mfa.ErrCodeReused},     // the current step, now behind the last used
			{2 * step, &mfa.DriftError{Seconds: 60}},
			{-2 * step, &mfa.DriftError{Seconds: -60}},
		} {
			err := e.MFA.StepUp(e.ctx, a, sess.ID, totp(e.code(secret, c.offset)), meta)
			var drift, wantDrift *mfa.DriftError
			switch {
			case errors.As(c.want, &wantDrift):
				if !errors.As(err, &drift) || drift.Seconds != wantDrift.Seconds {
					t.Errorf("%d: code for now%+v: %v, want a drift of %d s", i, c.offset, err, wantDrift.Seconds)
				}
			case !errors.Is(err, c.want):
				t.Errorf("%d: code for now%+v: %v, want %v", i, c.offset, err, c.want)
			}
		}
	})
}

// A code right for a clock up to ten minutes off is refused with the
// drift, so the user can be told to fix the phone's time; further off it
// is only wrong. A drifted code spends nothing.
func TestDriftIsMeasured(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a := e.user("ed@example.com")
		en, err := e.MFA.BeginTOTP(e.ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		sess := e.login(a)
		// Enrolment is where drift shows first: the app was just set up.
		_, err = e.MFA.ConfirmTOTP(e.ctx, a, sess.ID, e.code(en.Secret, 5*time.Minute), meta)
		var drift *mfa.DriftError
		if !errors.As(err, &drift) || drift.Seconds != 300 || !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("confirm with a phone 5 minutes fast: %v, want a drift of 300 s that is an invalid code", err)
		}
		if _, err := e.MFA.ConfirmTOTP(e.ctx, a, sess.ID, e.code(en.Secret, 0), meta); err != nil {
			t.Fatal(err)
		}

		for _, c := range []struct {
			offset  time.Duration
			seconds int64 // 0: no drift, just wrong
		}{
			{-270 * time.Second, -270},
			{90 * time.Second, 90},
			{-10 * time.Minute, -600},
			{10 * time.Minute, 600},
			{11 * time.Minute, 0},
			{-30 * time.Minute, 0},
		} {
			e.Clock.Add(time.Minute)
			err := e.MFA.StepUp(e.ctx, a, sess.ID, totp(e.code(en.Secret, c.offset)), meta)
			var drift *mfa.DriftError
			switch {
			case c.seconds == 0 && (errors.As(err, &drift) || !errors.Is(err, mfa.ErrInvalidCode)):
				t.Errorf("code for now%+v: %v, want a plain invalid code", c.offset, err)
			case c.seconds != 0 && (!errors.As(err, &drift) || drift.Seconds != c.seconds):
				t.Errorf("code for now%+v: %v, want a drift of %d s", c.offset, err, c.seconds)
			}
			// Nothing was spent: the right code of this step still works.
			if err := e.MFA.StepUp(e.ctx, a, sess.ID, totp(e.code(en.Secret, 0)), meta); err != nil {
				t.Fatalf("right code after a drifted one: %v", err)
			}
		}
	})
}

// Removing the last second factor turns 2FA off, voids the recovery codes
// (they only stand in for a factor) and starts the security cooldown;
// removing one of two keeps 2FA on but is a security change all the same.
func TestRemovingTheLastFactorTurnsMFAOff(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		t.Run("passkey", func(t *testing.T) {
			e := e.with(t)
			a := e.user("fa@example.com")
			sess := e.login(a)
			key, reg := e.registerPasskey(a, sess, "Laptop")
			if len(reg.RecoveryCodes) != mfa.RecoveryCodeCount || !e.Reload(t, a).MFAEnabled {
				t.Fatalf("first factor: %d recovery codes, mfa_enabled %v", len(reg.RecoveryCodes), e.Reload(t, a).MFAEnabled)
			}
			// It works as a factor before it goes.
			st, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.MFA.CompleteChallenge(e.ctx, st.ID, mfa.PurposeLogin, "", mfa.Proof{Method: mfa.MethodWebAuthn, Response: key.Get(st.WebAuthnOptions)}, meta); err != nil {
				t.Fatalf("login with the passkey: %v", err)
			}

			removedAt := e.Clock.Add(time.Hour)
			if err := e.MFA.RemovePasskey(e.ctx, a, reg.Passkey.ID, goodPassword, meta); err != nil {
				t.Fatal(err)
			}
			after := e.Reload(t, a)
			if after.MFAEnabled || !after.SecurityChangedAt.Equal(removedAt) {
				t.Fatalf("after removing the last passkey: mfa_enabled %v, security changed at %v (want %v)", after.MFAEnabled, after.SecurityChangedAt, removedAt)
			}
			f, err := e.MFA.FactorsOf(e.ctx, a.ID)
			if err != nil || f.RecoveryCodesLeft != 0 || len(f.Passkeys) != 0 {
				t.Fatalf("factors left: %+v (%v)", f, err)
			}
			if err := e.MFA.StepUp(e.ctx, a, sess.ID, recovery(reg.RecoveryCodes[0]), meta); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("a recovery code after 2FA went off: %v, want ErrInvalidCode", err)
			}
			if _, err := e.MFA.StartChallenge(e.ctx, a, mfa.PurposeLogin, ""); !errors.Is(err, mfa.ErrNotEnabled) {
				t.Fatalf("a challenge without factors: %v, want ErrNotEnabled", err)
			}
			if err := e.MFA.RemovePasskey(e.ctx, a, reg.Passkey.ID, goodPassword, meta); !errors.Is(err, mfa.ErrPasskeyNotFound) {
				t.Fatalf("removing it twice: %v, want ErrPasskeyNotFound", err)
			}
			m := e.lastEmail(a.Email)
			if m.Subject != "A passkey was removed" || !strings.Contains(m.Text, "two-factor authentication is now off") || !strings.Contains(m.Text, "/freeze?token=") {
				t.Fatalf("email %q:\n%s", m.Subject, m.Text)
			}
		})
		t.Run("one of two, then the app", func(t *testing.T) {
			e := e.with(t)
			a := e.user("gu@example.com")
			sess := e.login(a)
			secret, codes := e.enrolTOTP(a, sess)
			_, reg := e.registerPasskey(a, sess, "Phone")
			if reg.RecoveryCodes != nil {
				t.Fatalf("a second factor came with new recovery codes")
			}
			removedAt := e.Clock.Add(time.Hour)
			if err := e.MFA.RemovePasskey(e.ctx, a, reg.Passkey.ID, goodPassword, meta); err != nil {
				t.Fatal(err)
			}
			after := e.Reload(t, a)
			if !after.MFAEnabled || !after.SecurityChangedAt.Equal(removedAt) {
				t.Fatalf("after removing one of two factors: mfa_enabled %v, security changed at %v (want %v)", after.MFAEnabled, after.SecurityChangedAt, removedAt)
			}
			if f, _ := e.MFA.FactorsOf(e.ctx, a.ID); f.RecoveryCodesLeft != mfa.RecoveryCodeCount || !f.TOTP {
				t.Fatalf("factors after removing the passkey: %+v", f)
			}

			offAt := e.Clock.Add(time.Hour)
			if err := e.MFA.DisableTOTP(e.ctx, a, "not the password", e.code(secret, 0), meta); !errors.Is(err, account.ErrInvalidCredentials) {
				t.Fatalf("turning the app off with a wrong password: %v", err)
			}
			if err := e.MFA.DisableTOTP(e.ctx, a, goodPassword, e.code(secret, 0), meta); err != nil {
				t.Fatal(err)
			}
			after = e.Reload(t, a)
			if after.MFAEnabled || !after.SecurityChangedAt.Equal(offAt) {
				t.Fatalf("after turning the app off: mfa_enabled %v, security changed at %v (want %v)", after.MFAEnabled, after.SecurityChangedAt, offAt)
			}
			if f, _ := e.MFA.FactorsOf(e.ctx, a.ID); f.RecoveryCodesLeft != 0 || f.TOTP || f.TOTPPending {
				t.Fatalf("factors after turning the app off: %+v", f)
			}
			if err := e.MFA.StepUp(e.ctx, a, sess.ID, recovery(codes[0]), meta); !errors.Is(err, mfa.ErrInvalidCode) {
				t.Fatalf("a recovery code after 2FA went off: %v, want ErrInvalidCode", err)
			}
		})
	})
}

// lastEmail is the newest email queued for to.
func (e *env) lastEmail(to string) notify.Email {
	e.t.Helper()
	mails := e.Emails(e.t, to)
	if len(mails) == 0 {
		e.t.Fatalf("no email to %s", to)
	}
	return mails[len(mails)-1]
}

// After a key rotation, recovery codes hashed under the old key
// (RecoveryKeys[1]) still work, once; new codes are hashed under the new.
func TestRecoveryCodesSurviveKeyRotation(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		t.Parallel()
		c := servicetest.NewClock(t0)
		before := newEnv(t, st, c, olderKey)
		a := before.user("hu@example.com")
		secret, codes := before.enrolTOTP(a, before.login(a))

		rotated := newEnv(t, st, c, masterKey, olderKey)
		newOnly := newEnv(t, st, c, masterKey)
		if len(rotated.MFA.RecoveryKeys) != 2 || !bytes.Equal(rotated.MFA.RecoveryKeys[1], before.MFA.RecoveryKeys[0]) {
			t.Fatal("the rotated keyring does not derive the old recovery key second")
		}
		sess := rotated.login(a)

		// Without the old key the old codes are not found at all.
		if err := newOnly.MFA.StepUp(rotated.ctx, a, sess.ID, recovery(codes[0]), meta); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("an old code without the old key: %v, want ErrInvalidCode", err)
		}
		st1, err := rotated.MFA.StartChallenge(rotated.ctx, a, mfa.PurposeLogin, "")
		if err != nil {
			t.Fatal(err)
		}
		done, err := rotated.MFA.CompleteChallenge(rotated.ctx, st1.ID, mfa.PurposeLogin, "", recovery(codes[0]), meta)
		if err != nil || done.RecoveryCodesLeft != mfa.RecoveryCodeCount-1 {
			t.Fatalf("an old code after the rotation: %v, %d left", err, done.RecoveryCodesLeft)
		}
		if err := rotated.MFA.StepUp(rotated.ctx, a, sess.ID, recovery(codes[0]), meta); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("the same old code twice: %v, want ErrInvalidCode", err)
		}
		// The app's secret, sealed under the old key, opens too.
		c.Add(time.Minute)
		fresh, err := rotated.MFA.RegenerateRecoveryCodes(rotated.ctx, a, rfc6238(t, secret, c.Now()), meta)
		if err != nil {
			t.Fatalf("new codes after the rotation: %v", err)
		}
		if err := newOnly.MFA.StepUp(rotated.ctx, a, sess.ID, recovery(fresh[0]), meta); err != nil {
			t.Fatalf("a new code under the new key alone: %v", err)
		}
		if err := rotated.MFA.StepUp(rotated.ctx, a, sess.ID, recovery(codes[1]), meta); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("an old code after new codes were made: %v, want ErrInvalidCode", err)
		}
	})
}
