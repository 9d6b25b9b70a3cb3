// Package servicetest assembles the account, session and second-factor
// services the way internal/server does, on a real store and with an
// injected clock, for the tests of the packages built on them
// (verification, withdrawal, cases, …).
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
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

// Reload is the account a as stored now.
func (s *Services) Reload(t testing.TB, a account.Account) account.Account {
	t.Helper()
	out, err := s.Accounts.AccountByID(context.Background(), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Session is the session sess as stored now.
func (s *Services) Session(t testing.TB, sess session.Session) session.Session {
	t.Helper()
	out, err := s.Store.SessionByTokenHash(context.Background(), sess.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SubscribeWebhooks registers an endpoint for every event type: without
// one the services queue no webhooks, and Webhooks would count none.
func (s *Services) SubscribeWebhooks(t testing.TB) {
	t.Helper()
	if err := s.Store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.CreateWebhookEndpoint(context.Background(), notify.WebhookEndpoint{ID: id.New("whe"), URL: "http://127.0.0.1:9/hook",
			EventTypes: []string{"*"}, CreatedAt: s.Clock.Now()}, bytes.Repeat([]byte{3}, 32))
	}); err != nil {
		t.Fatal(err)
	}
}

// readLimit is more than a test queues or audits; a full page fails the
// test rather than hide what did not fit.
const readLimit = 1000

// queued is the outbox, oldest first.
func (s *Services) queued(t testing.TB) []outbox.Message {
	t.Helper()
	msgs, err := s.Store.ListOutbox(context.Background(), store.OutboxFilter{Limit: readLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) == readLimit {
		t.Fatalf("%d messages or more queued: the test reads only %d", readLimit, readLimit)
	}
	slices.Reverse(msgs)
	return msgs
}

// Emails are the emails queued for to, oldest first.
func (s *Services) Emails(t testing.TB, to string) []notify.Email {
	t.Helper()
	var out []notify.Email
	for _, m := range s.queued(t) {
		if m.Kind != outbox.KindEmail {
			continue
		}
		var mail notify.Email
		if err := json.Unmarshal(m.Payload, &mail); err != nil {
			t.Fatalf("queued email %s: %v", m.ID, err)
		}
		if mail.To == to {
			out = append(out, mail)
		}
	}
	return out
}

// EmailSubjects are the subjects of the emails queued for to, oldest first.
func (s *Services) EmailSubjects(t testing.TB, to string) []string {
	t.Helper()
	var out []string
	for _, mail := range s.Emails(t, to) {
		out = append(out, mail.Subject)
	}
	return out
}

// Webhooks counts the webhooks queued of an event type (see
// SubscribeWebhooks).
func (s *Services) Webhooks(t testing.TB, eventType string) int {
	t.Helper()
	n := 0
	for _, m := range s.queued(t) {
		if m.Kind == outbox.KindWebhook && m.Topic == eventType {
			n++
		}
	}
	return n
}

// AuditActions are the actions of the account's audit records, oldest first.
func (s *Services) AuditActions(t testing.TB, accountID string) []string {
	t.Helper()
	var records []audit.Record
	if err := s.Store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		records, err = tx.ListAuditRecords(context.Background(), store.AuditFilter{UserID: accountID, Limit: readLimit})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(records) == readLimit {
		t.Fatalf("%d audit records or more of %s: the test reads only %d", readLimit, accountID, readLimit)
	}
	out := make([]string, len(records))
	for i, r := range records {
		out[len(records)-1-i] = r.Action
	}
	return out
}
