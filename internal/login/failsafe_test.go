package login_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/risk"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/store"
)

// Issue 5: the risk engine fails safe. When the login history cannot be
// read — the database fails, or answers slower than SignalTimeout — a right
// password from the owner's trusted device is challenged with
// signal_unavailable, never allowed and never answered with an error; and
// its lockout try is given back, so the owner is not locked out by it.
func TestUnreadableSignalsChallengeTheLogin(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) {
		ctx := context.Background()
		for _, tc := range []struct {
			name  string
			fault func(ctx context.Context) error
		}{
			{"read error", func(context.Context) error { return errors.New("disk I/O error") }},
			{"too slow", func(ctx context.Context) error {
				select {
				case <-time.After(5 * time.Second):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, st, keys)
				a := e.account(tc.name[:3] + "@example.com")
				attempt := login.Attempt{Realm: account.RealmUser, Email: a.Email, Password: pw, Meta: e.meta}
				first, err := e.logins.Password(ctx, attempt)
				if err != nil || first.Started == nil {
					t.Fatalf("first login: %+v, %v", first, err)
				}
				attempt.Meta.DeviceToken = first.Started.DeviceToken
				if res, err := e.logins.Password(ctx, attempt); err != nil || res.Started == nil {
					t.Fatalf("a trusted device's login, signals readable: %+v, %v", res, err)
				}

				// From now on the signals' read (the login's only read-only
				// transaction after the password) fails.
				read := e.logins.View
				e.logins.View = func(ctx context.Context, fn func(login.Tx) error) error {
					if err := tc.fault(ctx); err != nil {
						return err
					}
					return read(ctx, fn)
				}
				e.logins.Policy.SignalTimeout = 100 * time.Millisecond
				for i := range lockout.DefaultPolicy().MaxFailures + 1 {
					started := time.Now()
					res, err := e.logins.Password(ctx, attempt)
					if err != nil || res.Challenge == nil || !slices.Contains(res.Decision.Reasons, risk.ReasonSignalUnavailable) {
						t.Fatalf("login %d with unreadable signals: %+v, %v; want a challenge for signal_unavailable", i, res, err)
					}
					if took := time.Since(started); took > 3*time.Second {
						t.Fatalf("login %d waited %v for the signals", i, took)
					}
				}
			})
		}
	})
}
