package client_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/client"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/totp/rfc6238"
)

// The client is tested against a real Warden: the whole server, as `warden
// serve` runs it (server.New), on a real database, with its mail going to
// an in-process SMTP server the tests read the links from.

const (
	testAdminKey = "client-test-admin-key-0123456789-abcdefghijklmnop"
	testPassword = "correct horse battery staple"
)

// warden is a running Warden, with the client tests' steps on it.
type warden struct{ *servertest.Node }

// startWarden runs a Warden on dbURL until the test ends, with policies in
// seconds where the defaults are hours: a device's first login starts no
// withdrawal cooldown, and the per-IP rates let one test make many calls.
func startWarden(t *testing.T, dbURL string) *warden {
	t.Helper()
	n := servertest.Start(t, dbURL, testAdminKey, nil, map[string]string{
		"WARDEN_COOLDOWN_NEW_DEVICE":  "0s",
		"WARDEN_RATE_LOGIN_PER_IP":    "10000/1m",
		"WARDEN_RATE_REGISTER_PER_IP": "1000/1m",
	})
	return &warden{n}
}

// startSQLite is startWarden on a fresh SQLite database.
func startSQLite(t *testing.T) *warden {
	t.Helper()
	_, u := storetest.SQLiteURL(t)
	return startWarden(t, u)
}

// admin is a client with the bootstrap admin key; opts come after it.
func (w *warden) admin(t *testing.T, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(w.Base, append([]client.Option{client.WithAdminKey(testAdminKey)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signUp registers an account through the client, verifies its email and
// logs in: an account's first login opens a session at once.
func (w *warden) signUp(t *testing.T, c *client.Client, email string) *client.User {
	t.Helper()
	ctx := context.Background()
	u := c.User("", "")
	if err := u.Register(ctx, email, testPassword); err != nil {
		t.Fatal(err)
	}
	if err := u.VerifyEmail(ctx, w.EmailLinkToken(t, email, "Confirm your email", "/verify-email")); err != nil {
		t.Fatal(err)
	}
	res, err := u.Login(ctx, email, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Active() || u.SessionToken() == "" || u.DeviceToken() == "" || res.DeviceToken != u.DeviceToken() {
		t.Fatalf("first login: %+v, session %q, device %q", res, u.SessionToken(), u.DeviceToken())
	}
	return u
}

// withdrawer signs up a user who can withdraw: tier 1 (personal
// information: 1,000.00 a withdrawal, 2,000.00 a day) and an authenticator app.
func (w *warden) withdrawer(t *testing.T, c *client.Client, email string) (*client.User, *authenticator) {
	t.Helper()
	ctx := context.Background()
	u := w.signUp(t, c, email)
	if _, err := u.SavePersonalInfo(ctx, client.PersonalInfo{LegalName: "Ada Lovelace", DateOfBirth: "1990-12-10", Country: "GB",
		Address: client.PostalAddress{Line1: "12 St James's Square", City: "London"}}); err != nil {
		t.Fatal(err)
	}
	v, err := u.SubmitVerification(ctx)
	if err != nil || v.Tier != 1 {
		t.Fatalf("submit personal information: %+v, %v", v, err)
	}
	setup, err := u.BeginTOTP(ctx)
	if err != nil {
		t.Fatal(err)
	}
	au := &authenticator{rfc6238.Authenticator{Secret: setup.Secret}}
	codes, err := u.ConfirmTOTP(ctx, au.Take(t))
	if err != nil || len(codes) != 10 {
		t.Fatalf("confirm TOTP: %v, %v", codes, err)
	}
	return u, au
}

// authenticator is the user's authenticator app.
type authenticator struct{ rfc6238.Authenticator }

// --- transports that misbehave on purpose ---

// roundTripper adapts a function.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// attempts records the requests matching a method and path that went
// through a transport, with their Idempotency-Key.
type attempts struct {
	mu   sync.Mutex
	keys []string
}

func (a *attempts) add(r *http.Request) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = append(a.keys, r.Header.Get("Idempotency-Key"))
	return len(a.keys)
}

func (a *attempts) list() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.keys)
}

// dropFirstAnswer sends every request matching method and path to Warden,
// but loses the answer to the first one — as when a connection drops after
// the request was sent — and reports a network error.
func dropFirstAnswer(method, path string, seen *attempts) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method != method || r.URL.Path != path {
			return http.DefaultTransport.RoundTrip(r)
		}
		n := seen.add(r)
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || n > 1 {
			return resp, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errConnectionLost
	})}
}

var errConnectionLost = &netError{"read: connection reset by peer (the answer was lost in the test)"}

type netError struct{ s string }

func (e *netError) Error() string { return e.s }

// answerFirst answers the first request matching method and path itself,
// with status and header, without sending it to Warden; later ones go on.
func answerFirst(method, path string, status int, header http.Header, body string, seen *attempts) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if r.Method != method || r.URL.Path != path {
			return http.DefaultTransport.RoundTrip(r)
		}
		if seen.add(r) > 1 {
			return http.DefaultTransport.RoundTrip(r)
		}
		h := header.Clone()
		if h == nil {
			h = http.Header{}
		}
		return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: h, Request: r,
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), ProtoMajor: 1, ProtoMinor: 1}, nil
	})}
}
