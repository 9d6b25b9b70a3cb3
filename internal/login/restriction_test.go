package login_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// A login restriction (API.md: restrict `withdrawals`, `login`, `trading`)
// ends the account's sessions and refuses its logins with login_denied and
// the reason "restricted", after the password and without counting a
// failure: the owner is never locked out by it, and can log in again once
// it is lifted. It cannot wait for a verification, which takes a login.
func TestLoginRestriction(t *testing.T) {
	t.Parallel()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) {
		ctx := context.Background()
		e := newEnv(t, st, keys)
		logins, base := e.logins, e.base
		restrictions := &withdrawal.Service{
			Transact: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
				return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			View: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
				return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			Accounts: base.Accounts, Now: base.Clock.Now,
		}
		rita := e.account("rita@example.com")
		attempt := login.Attempt{Realm: account.RealmUser, Email: rita.Email, Password: pw, Meta: e.meta}
		first, err := logins.Password(ctx, attempt)
		if err != nil || first.Started == nil {
			t.Fatalf("first login: %+v, %v", first, err)
		}
		attempt.Meta.DeviceToken = first.Started.DeviceToken

		if _, err := restrictions.Restrict(ctx, rita.ID, withdrawal.NewRestriction{Kind: account.RestrictionLogin, Reason: "chargeback fraud",
			LiftOn: "verification"}, account.Meta{Actor: "admin_key:test"}); err == nil {
			t.Fatal("a login restriction waiting for a verification was accepted")
		}
		r, err := restrictions.Restrict(ctx, rita.ID, withdrawal.NewRestriction{Kind: account.RestrictionLogin, Reason: "chargeback fraud"},
			account.Meta{Actor: "admin_key:test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := base.Sessions.Resolve(ctx, first.Started.Token); !errors.Is(err, session.ErrNoSession) {
			t.Fatalf("the session open before the restriction: %v, want ErrNoSession", err)
		}
		// More right passwords than the lockout allows wrong ones: each is
		// refused for the restriction, none locks the lane.
		for i := range lockout.DefaultPolicy().MaxFailures + 2 {
			res, err := logins.Password(ctx, attempt)
			var denied *login.DeniedError
			if !errors.As(err, &denied) || !slices.Equal(denied.Reasons, []string{login.ReasonRestricted}) || res.Started != nil {
				t.Fatalf("login %d while restricted: %+v, %v", i, res, err)
			}
		}
		attempt.Password = "not the password"
		if _, err := logins.Password(ctx, attempt); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("a wrong password while restricted: %v, want invalid credentials (the restriction shows only to the owner)", err)
		}
		attempt.Password = pw

		if _, err := restrictions.Lift(ctx, rita.ID, r.ID, account.Meta{Actor: "admin_key:test"}); err != nil {
			t.Fatal(err)
		}
		if res, err := logins.Password(ctx, attempt); err != nil || res.Started == nil {
			t.Fatalf("login after the lift: %+v, %v", res, err)
		}
	})
}
