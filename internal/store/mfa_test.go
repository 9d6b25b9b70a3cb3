package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// The store satisfies what the second-factor service needs.
var _ mfa.Tx = (*store.Tx)(nil)

var mfaNow = time.Date(2031, time.March, 4, 5, 6, 7, 123456000, time.UTC)

func newAccount(t *testing.T, s *store.Store, email string) account.Account {
	t.Helper()
	addr, key, err := account.NormalizeEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key,
		PasswordHash: "$argon2id$unused", CreatedAt: mfaNow}
	write(t, s, func(tx *store.Tx) error { return tx.InsertAccount(context.Background(), a) })
	return a
}

func write(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// writeErr runs fn and returns its error.
func writeErr(s *store.Store, fn func(tx *store.Tx) error) error {
	return s.Write(context.Background(), fn)
}

func TestTOTPSecretLifecycle(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		get := func(accountID string) (mfa.TOTPSecret, error) {
			var sec mfa.TOTPSecret
			err := s.Read(ctx, func(tx *store.Tx) error {
				var err error
				sec, err = tx.TOTPSecretOf(ctx, accountID)
				return err
			})
			return sec, err
		}
		if _, err := get(a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no secret yet: %v, want ErrNotFound", err)
		}
		put := func(sealed string, at time.Time) error {
			return writeErr(s, func(tx *store.Tx) error {
				return tx.PutTOTPSecret(ctx, mfa.TOTPSecret{AccountID: a.ID, Sealed: []byte(sealed), KeyID: "k1", CreatedAt: at})
			})
		}
		use := func(step int64) bool {
			t.Helper()
			var fresh bool
			write(t, s, func(tx *store.Tx) error {
				var err error
				fresh, err = tx.UseTOTPStep(ctx, a.ID, step)
				return err
			})
			return fresh
		}

		if err := put("first", mfaNow); err != nil {
			t.Fatal(err)
		}
		if !use(100) {
			t.Fatal("a step on a pending secret")
		}
		// A pending secret is replaced, with a clean step record.
		if err := put("second", mfaNow.Add(time.Minute)); err != nil {
			t.Fatalf("replace a pending secret: %v", err)
		}
		sec, err := get(a.ID)
		if err != nil || string(sec.Sealed) != "second" || sec.KeyID != "k1" || !sec.CreatedAt.Equal(mfaNow.Add(time.Minute)) || sec.Confirmed() || sec.LastStep != 0 {
			t.Fatalf("pending secret %+v (%v)", sec, err)
		}
		write(t, s, func(tx *store.Tx) error { return tx.ConfirmTOTPSecret(ctx, a.ID, mfaNow.Add(2*time.Minute)) })
		if err := writeErr(s, func(tx *store.Tx) error { return tx.ConfirmTOTPSecret(ctx, a.ID, mfaNow) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("confirm twice: %v, want ErrNotFound", err)
		}
		if err := writeErr(s, func(tx *store.Tx) error { return tx.ConfirmTOTPSecret(ctx, b.ID, mfaNow) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("confirm without a secret: %v, want ErrNotFound", err)
		}
		if err := put("third", mfaNow); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("replace a confirmed secret: %v, want ErrConflict", err)
		}
		if sec, _ := get(a.ID); string(sec.Sealed) != "second" || !sec.ConfirmedAt.Equal(mfaNow.Add(2*time.Minute)) {
			t.Fatalf("confirmed secret %+v", sec)
		}

		// Steps are spent forward only.
		for _, c := range []struct {
			step  int64
			fresh bool
		}{{5, true}, {5, false}, {4, false}, {6, true}, {8, true}, {7, false}, {8, false}} {
			if got := use(c.step); got != c.fresh {
				t.Fatalf("use step %d: %v, want %v", c.step, got, c.fresh)
			}
		}
		if sec, _ := get(a.ID); sec.LastStep != 8 {
			t.Fatalf("last step %d, want 8", sec.LastStep)
		}
		write(t, s, func(tx *store.Tx) error {
			fresh, err := tx.UseTOTPStep(ctx, b.ID, 1)
			if fresh {
				return errors.New("a step spent on an account without a secret")
			}
			return err
		})

		write(t, s, func(tx *store.Tx) error { return tx.DeleteTOTPSecret(ctx, a.ID) })
		if err := writeErr(s, func(tx *store.Tx) error { return tx.DeleteTOTPSecret(ctx, a.ID) }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v, want ErrNotFound", err)
		}
		if _, err := get(a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		left := func(accountID string) int {
			t.Helper()
			var n int
			write(t, s, func(tx *store.Tx) error {
				var err error
				n, err = tx.RecoveryCodesLeft(ctx, accountID)
				return err
			})
			return n
		}
		use := func(accountID, hash string) bool {
			t.Helper()
			var ok bool
			write(t, s, func(tx *store.Tx) error {
				var err error
				ok, err = tx.UseRecoveryCode(ctx, accountID, hash, mfaNow)
				return err
			})
			return ok
		}
		write(t, s, func(tx *store.Tx) error {
			return tx.ReplaceRecoveryCodes(ctx, a.ID, []string{"h1", "h2", "h3"}, mfaNow)
		})
		write(t, s, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, b.ID, []string{"h1", "h9"}, mfaNow) })
		if left(a.ID) != 3 || left(b.ID) != 2 {
			t.Fatalf("codes left: %d and %d", left(a.ID), left(b.ID))
		}
		if !use(a.ID, "h2") || use(a.ID, "h2") || use(a.ID, "nope") || use(a.ID, "h9") {
			t.Fatal("a code is spent once, and only the account's own")
		}
		if left(a.ID) != 2 || left(b.ID) != 2 {
			t.Fatalf("after one use: %d and %d left", left(a.ID), left(b.ID))
		}
		// A new set voids the old, used or not.
		write(t, s, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, a.ID, []string{"n1", "h2"}, mfaNow) })
		if use(a.ID, "h1") || !use(a.ID, "h2") || left(a.ID) != 1 {
			t.Fatal("the old set survived a replacement")
		}
		write(t, s, func(tx *store.Tx) error { return tx.ReplaceRecoveryCodes(ctx, a.ID, nil, mfaNow) })
		if left(a.ID) != 0 || left(b.ID) != 2 || !use(b.ID, "h1") {
			t.Fatal("voiding one account's codes touched another's")
		}
	})
}

// Two logins racing with one recovery code, or one time step: one wins.
func TestSecondFactorsAreSpentOnceUnderRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		write(t, s, func(tx *store.Tx) error {
			if err := tx.PutTOTPSecret(ctx, mfa.TOTPSecret{AccountID: a.ID, Sealed: []byte("x"), KeyID: "k", CreatedAt: mfaNow}); err != nil {
				return err
			}
			return tx.ReplaceRecoveryCodes(ctx, a.ID, []string{"code"}, mfaNow)
		})
		for name, spend := range map[string]func(tx *store.Tx) (bool, error){
			"recovery code": func(tx *store.Tx) (bool, error) { return tx.UseRecoveryCode(ctx, a.ID, "code", mfaNow) },
			"time step":     func(tx *store.Tx) (bool, error) { return tx.UseTOTPStep(ctx, a.ID, 42) },
		} {
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := s.Write(ctx, func(tx *store.Tx) error {
						ok, err := spend(tx)
						if ok {
							mu.Lock()
							wins++
							mu.Unlock()
						}
						return err
					})
					if err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("%s spent %d times by 8 racing transactions", name, wins)
			}
		}
	})
}

func TestPasskeys(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a, b := newAccount(t, s, "a@example.com"), newAccount(t, s, "b@example.com")
		laptop := mfa.Passkey{ID: id.New("pky"), AccountID: a.ID, Name: "Laptop", CredentialID: []byte{0, 1, 2, 0xff},
			Credential: []byte(`{"id":"AAEC_w"}`), CreatedAt: mfaNow}
		phone := mfa.Passkey{ID: id.New("pky"), AccountID: a.ID, Name: "Phone", CredentialID: []byte("phone"),
			Credential: []byte(`{}`), CreatedAt: mfaNow.Add(time.Second)}
		for _, p := range []mfa.Passkey{phone, laptop} {
			write(t, s, func(tx *store.Tx) error { return tx.InsertPasskey(ctx, p) })
		}
		// A credential id is unique across all accounts.
		stolen := laptop
		stolen.ID, stolen.AccountID = id.New("pky"), b.ID
		if err := writeErr(s, func(tx *store.Tx) error { return tx.InsertPasskey(ctx, stolen) }); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("the same credential id on another account: %v, want ErrConflict", err)
		}
		list := func(accountID string) []mfa.Passkey {
			t.Helper()
			var keys []mfa.Passkey
			write(t, s, func(tx *store.Tx) error {
				var err error
				keys, err = tx.PasskeysOf(ctx, accountID)
				return err
			})
			return keys
		}
		if keys := list(a.ID); len(keys) != 2 || keys[0].ID != laptop.ID || keys[1].ID != phone.ID ||
			!bytes.Equal(keys[0].CredentialID, laptop.CredentialID) || string(keys[0].Credential) != string(laptop.Credential) ||
			!keys[0].CreatedAt.Equal(mfaNow) || !keys[0].LastUsedAt.IsZero() || keys[0].Name != "Laptop" {
			t.Fatalf("a's passkeys, oldest first: %+v", keys)
		}
		if keys := list(b.ID); len(keys) != 0 {
			t.Fatalf("b's passkeys: %+v", keys)
		}

		update := func(accountID, id string) rowUpdate[mfa.Passkey] {
			return func(fn func(p mfa.Passkey) (mfa.Passkey, error)) (mfa.Passkey, error) {
				return writeTx(s, func(tx *store.Tx) (mfa.Passkey, error) { return tx.UpdatePasskey(ctx, accountID, id, fn) })
			}
		}
		checkUpdateNotFound(t, "another account's passkey", update(b.ID, laptop.ID))
		checkRefusedUpdate(t, update(a.ID, laptop.ID), func() mfa.Passkey { return list(a.ID)[0] }, func(p mfa.Passkey) mfa.Passkey {
			p.Name = "changed"
			return p
		}, laptop)
		used := mfaNow.Add(time.Hour)
		got, err := update(a.ID, laptop.ID)(func(p mfa.Passkey) (mfa.Passkey, error) {
			p.Name, p.Credential, p.LastUsedAt = "Work laptop", []byte(`{"signCount":3}`), used
			p.CredentialID, p.AccountID = []byte("ignored"), b.ID // not updatable
			return p, nil
		})
		if err != nil || got.Name != "Work laptop" {
			t.Fatalf("update: %+v, %v", got, err)
		}
		if k := list(a.ID)[0]; k.Name != "Work laptop" || string(k.Credential) != `{"signCount":3}` || !k.LastUsedAt.Equal(used) ||
			!bytes.Equal(k.CredentialID, laptop.CredentialID) || k.AccountID != a.ID {
			t.Fatalf("after update: %+v", k)
		}

		del := func(accountID, id string) (mfa.Passkey, error) {
			var out mfa.Passkey
			err := writeErr(s, func(tx *store.Tx) error {
				var err error
				out, err = tx.DeletePasskey(ctx, accountID, id)
				return err
			})
			return out, err
		}
		if _, err := del(b.ID, phone.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete another account's passkey: %v, want ErrNotFound", err)
		}
		if p, err := del(a.ID, phone.ID); err != nil || p.ID != phone.ID || p.Name != "Phone" || !bytes.Equal(p.CredentialID, phone.CredentialID) {
			t.Fatalf("delete: %+v, %v", p, err)
		}
		if _, err := del(a.ID, phone.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v, want ErrNotFound", err)
		}
		// Once removed, its credential id may be registered again.
		again := phone
		again.ID, again.AccountID = id.New("pky"), b.ID
		write(t, s, func(tx *store.Tx) error { return tx.InsertPasskey(ctx, again) })
		if keys := list(a.ID); len(keys) != 1 || keys[0].ID != laptop.ID {
			t.Fatalf("after delete: %+v", keys)
		}
	})
}

func TestChallenges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		login := mfa.Challenge{IDHash: mfa.HashChallengeID("wch_login"), AccountID: a.ID, Purpose: mfa.PurposeLogin,
			Methods: []string{mfa.MethodTOTP, mfa.MethodWebAuthn, mfa.MethodRecoveryCode}, State: []byte(`{"ceremony":"login"}`),
			CreatedAt: mfaNow, ExpiresAt: mfaNow.Add(5 * time.Minute)}
		up := mfa.Challenge{IDHash: mfa.HashChallengeID("wch_up"), AccountID: a.ID, Purpose: mfa.PurposeStepUp, SessionID: "ses_x",
			Methods: []string{mfa.MethodTOTP}, CreatedAt: mfaNow, ExpiresAt: mfaNow.Add(time.Minute)} // State nil
		for _, c := range []mfa.Challenge{login, up} {
			write(t, s, func(tx *store.Tx) error { return tx.InsertChallenge(ctx, c) })
		}
		if err := writeErr(s, func(tx *store.Tx) error { return tx.InsertChallenge(ctx, login) }); err == nil {
			t.Fatal("the same challenge id twice")
		}
		update := func(hash string) rowUpdate[mfa.Challenge] {
			return func(fn func(c mfa.Challenge) (mfa.Challenge, error)) (mfa.Challenge, error) {
				return writeTx(s, func(tx *store.Tx) (mfa.Challenge, error) { return tx.UpdateChallenge(ctx, hash, fn) })
			}
		}
		read := func(hash string) mfa.Challenge {
			t.Helper()
			var seen mfa.Challenge
			if _, err := update(hash)(func(c mfa.Challenge) (mfa.Challenge, error) { seen = c; return c, nil }); err != nil {
				t.Fatal(err)
			}
			return seen
		}
		got := read(login.IDHash)
		if got.IDHash != login.IDHash || got.AccountID != a.ID || got.Purpose != mfa.PurposeLogin || got.SessionID != "" ||
			!slices.Equal(got.Methods, login.Methods) || string(got.State) != string(login.State) || got.Failures != 0 ||
			!got.CreatedAt.Equal(mfaNow) || !got.ExpiresAt.Equal(login.ExpiresAt) || !got.UsedAt.IsZero() {
			t.Fatalf("login challenge read back as %+v", got)
		}
		if got := read(up.IDHash); got.SessionID != "ses_x" || len(got.State) != 0 || !slices.Equal(got.Methods, up.Methods) {
			t.Fatalf("step-up challenge read back as %+v", got)
		}
		checkUpdateNotFound(t, "an unknown challenge", update(mfa.HashChallengeID("wch_nonsense")))

		// Failures and use are written; a refusal by fn writes nothing.
		if _, err := update(login.IDHash)(func(c mfa.Challenge) (mfa.Challenge, error) { c.Failures += 2; return c, nil }); err != nil {
			t.Fatal(err)
		}
		checkRefusedUpdate(t, update(login.IDHash), func() mfa.Challenge { return read(login.IDHash) }, func(c mfa.Challenge) mfa.Challenge {
			c.Failures = 99
			return c
		}, read(login.IDHash))
		usedAt := mfaNow.Add(time.Minute)
		if _, err := update(login.IDHash)(func(c mfa.Challenge) (mfa.Challenge, error) {
			c.UsedAt, c.Purpose, c.Methods = usedAt, mfa.PurposeStepUp, nil // only failures and used_at change
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
		if got := read(login.IDHash); got.Failures != 2 || !got.UsedAt.Equal(usedAt) || got.Purpose != mfa.PurposeLogin || len(got.Methods) != 3 {
			t.Fatalf("after updates: %+v", got)
		}

		// Pruning removes what expired before the cutoff, and nothing else.
		n, err := s.PruneChallenges(ctx, up.ExpiresAt.Add(time.Second))
		if err != nil || n != 1 {
			t.Fatalf("prune: %d, %v; want 1", n, err)
		}
		checkUpdateNotFound(t, "a pruned challenge", update(up.IDHash))
		read(login.IDHash)
	})
}

// A second factor proven in a session marks that session, and only a live one.
func TestSetSessionMFA(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		a := newAccount(t, s, "a@example.com")
		policy := session.Policy{IdleTimeout: time.Hour, Lifetime: 24 * time.Hour}
		_, live := session.New(a, session.AAL1, "", "203.0.113.7", "test", mfaNow, policy)
		_, ended := session.New(a, session.AAL1, "", "203.0.113.7", "test", mfaNow, policy)
		for _, sess := range []session.Session{live, ended} {
			write(t, s, func(tx *store.Tx) error { return tx.InsertSession(ctx, sess) })
		}
		write(t, s, func(tx *store.Tx) error {
			_, err := tx.RevokeSessions(ctx, a.ID, ended.ID, "", "logout", mfaNow)
			return err
		})
		at := mfaNow.Add(time.Minute)
		write(t, s, func(tx *store.Tx) error { return tx.SetSessionMFA(ctx, live.ID, at) })
		for _, c := range []struct{ id, what string }{{ended.ID, "a revoked session"}, {"ses_nonsense", "no session"}} {
			if err := writeErr(s, func(tx *store.Tx) error { return tx.SetSessionMFA(ctx, c.id, at) }); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", c.what, err)
			}
		}
		for _, c := range []struct {
			sess  session.Session
			aal   string
			mfaAt time.Time
		}{{live, session.AAL2, at}, {ended, session.AAL1, time.Time{}}} {
			got, err := s.SessionByTokenHash(ctx, c.sess.TokenHash)
			if err != nil || got.AAL != c.aal || !got.MFAAt.Equal(c.mfaAt) {
				t.Errorf("session %s: aal %s at %v (%v), want %s at %v", c.sess.ID, got.AAL, got.MFAAt, err, c.aal, c.mfaAt)
			}
		}
		var hashes []string
		write(t, s, func(tx *store.Tx) error {
			var err error
			hashes, err = tx.RefreshSessions(ctx, a.ID)
			return err
		})
		if fmt.Sprint(hashes) != fmt.Sprint([]string{live.TokenHash}) {
			t.Fatalf("RefreshSessions = %v, want only the live session's hash", hashes)
		}
	})
}
