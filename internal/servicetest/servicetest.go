// Package servicetest assembles the account, session and second-factor
// services the way internal/server does, on a real store and with an
// injected clock, for the tests of the packages built on them
// (verification, withdrawal, cases, …).
package servicetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// BaseURL is where the services' emails link to; passkeys need a host name.
const BaseURL = "http://localhost:8443"

// Clock is the injected time of every service of a test.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Services are the services every domain service is built on.
type Services struct {
	Store    *store.Store
	Clock    *Clock
	Accounts *account.Service
	Sessions *session.Service
	MFA      *mfa.Service
}

// New assembles the services on st with keys (the store's keyring).
func New(t testing.TB, st *store.Store, keys *keyring.Keyring, clock *Clock) *Services {
	t.Helper()
	hasher, err := password.NewHasher(password.CheapParamsForTests(), password.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mailer, err := notify.NewMailer(BaseURL, "Warden")
	if err != nil {
		t.Fatal(err)
	}
	accounts := &account.Service{
		Transact: func(ctx context.Context, fn func(account.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(account.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Hasher: hasher, Mailer: mailer, BaseURL: BaseURL,
		Policy: account.Policy{VerifyEmailTTL: 24 * time.Hour, PasswordResetTTL: 30 * time.Minute, FreezeLinkTTL: 30 * 24 * time.Hour},
		Now:    clock.Now,
	}
	sessions := &session.Service{
		Transact: func(ctx context.Context, fn func(session.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Lookup: st, Policy: session.Policy{IdleTimeout: time.Hour, Lifetime: 24 * time.Hour}, Now: clock.Now,
	}
	factors := &mfa.Service{
		Transact: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Keys: keys, RecoveryKeys: [][]byte{make([]byte, 32)}, Issuer: "Warden",
		Policy: mfa.Policy{ChallengeTTL: 5 * time.Minute, MaxFailures: 5, StepUpWindow: 5 * time.Minute}, Now: clock.Now,
	}
	return &Services{Store: st, Clock: clock, Accounts: accounts, Sessions: sessions, MFA: factors}
}

// Each runs fn in parallel on SQLite and on PostgreSQL (when configured),
// each store sealed with one test keyring that fn gets too.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store, keys *keyring.Keyring)) {
	t.Helper()
	keys, err := keyring.New(bytes.Repeat([]byte{42}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		t.Parallel()
		fn(t, st, keys)
	}, store.WithKeyring(keys))
}
