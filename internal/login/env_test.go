package login_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/risk"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// pw is every test account's password.
const pw = "correct horse battery staple"

// env is the login service assembled as internal/server does, on a real
// store, with an injected clock.
type env struct {
	t      *testing.T
	st     *store.Store
	base   *servicetest.Services
	logins *login.Service
	meta   session.Meta
}

func newEnv(t *testing.T, st *store.Store, keys *keyring.Keyring) *env {
	base := servicetest.New(t, st, keys, servicetest.NewClock(time.Now().UTC()))
	logins := &login.Service{
		Transact: func(ctx context.Context, fn func(login.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(login.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts, Sessions: base.Sessions, MFA: base.MFA,
		Policy: login.Policy{Risk: risk.DefaultConfig(), Lockout: lockout.DefaultPolicy(), FailureWindow: time.Hour,
			EmailWithMFA: true, DeviceConfirmationTTL: 15 * time.Minute, HistorySize: 20},
		Now: base.Clock.Now,
	}
	return &env{t: t, st: st, base: base, logins: logins,
		meta: session.Meta{IP: "81.2.69.160", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}}
}

// account stores a verified user account with password pw.
func (e *env) account(email string) account.Account {
	e.t.Helper()
	ctx := context.Background()
	hash, err := e.base.Accounts.Hasher.Hash(ctx, pw)
	if err != nil {
		e.t.Fatal(err)
	}
	addr, key, _ := account.NormalizeEmail(email)
	now := e.base.Clock.Now()
	a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key, PasswordHash: hash,
		EmailVerifiedAt: now, CreatedAt: now}
	if err := e.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertAccount(ctx, a) }); err != nil {
		e.t.Fatal(err)
	}
	return a
}
