// Package servertest runs a whole Warden — server.New, as `warden serve`
// runs it — for end-to-end tests, on a real database and with its mail
// going to an in-process SMTP server the tests read links from.
package servertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/server"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// Node is a running Warden.
type Node struct {
	Server *server.Server
	// Base is its URL, such as http://127.0.0.1:41234.
	Base string
	Mail *smtptest.Server
}

// Env is the configuration every end-to-end test starts from: policies in
// milliseconds where the defaults are minutes or hours (the outbox retries
// at once, the audit checkpoints and the server's duties tick every 100 ms),
// logs at warn, and the bootstrap admin key adminKey. A withdrawal's
// monitoring may take up to 10 s instead of 200 ms: on a loaded test machine
// the rules' reads alone can pass 200 ms, and the held withdrawal would fail
// tests that are not about it (internal/monitor tests the timeout itself).
func Env(dbURL, adminKey string, mail *smtptest.Server) map[string]string {
	return map[string]string{
		"WARDEN_ADDR":                      "127.0.0.1:0",
		"WARDEN_DATABASE_URL":              dbURL,
		"WARDEN_SECRET_KEY":                base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32)),
		"WARDEN_ADMIN_KEY":                 adminKey,
		"WARDEN_SMTP_URL":                  mail.URL(),
		"WARDEN_OUTBOX_BACKOFF_BASE":       "20ms",
		"WARDEN_OUTBOX_BACKOFF_MAX":        "100ms",
		"WARDEN_OUTBOX_POLL_INTERVAL":      "10ms",
		"WARDEN_OUTBOX_TIMEOUT":            "2s",
		"WARDEN_OUTBOX_MAX_ATTEMPTS":       "1000",
		"WARDEN_LOG_LEVEL":                 "warn",
		"WARDEN_AUDIT_CHECKPOINT_INTERVAL": "100ms",
		"WARDEN_MONITOR_SYNC_TIMEOUT":      "10s",
	}
}

// Start runs a Warden on dbURL until the test ends: Env with overrides laid
// over it, mail to mail (a new SMTP server when nil; nodes sharing a
// database share their outbox, so they share one).
func Start(t testing.TB, dbURL, adminKey string, mail *smtptest.Server, overrides map[string]string) *Node {
	t.Helper()
	if mail == nil {
		mail = smtptest.Start(t)
	}
	env := Env(dbURL, adminKey, mail)
	for k, v := range overrides {
		env[k] = v
	}
	cfg, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, false)
	if err != nil {
		t.Fatal(err)
	}
	logs := slog.DiscardHandler
	if os.Getenv("WARDEN_TEST_SERVER_LOGS") != "" {
		// For a failure that only the server's log explains.
		logs = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	}
	srv, err := server.New(context.Background(), cfg, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &Node{Server: srv, Base: "http://" + srv.Addr(), Mail: mail}
}

// EachDatabase runs fn, in parallel subtests, on the URL of a fresh SQLite
// database and of a fresh PostgreSQL schema (storetest.PostgresURL: skipped
// without WARDEN_TEST_POSTGRES_URL, failed under CI=true).
func EachDatabase(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.SQLiteURL(t)
		fn(t, dbURL)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.PostgresURL(t)
		fn(t, dbURL)
	})
}

// SignUp registers email with password through the API, verifies it with
// the link of the email Warden sends, and logs in: an account's first
// login opens a session at once. It returns the session token, and the
// device token that makes a later login come from the same device.
func (n *Node) SignUp(t testing.TB, email, password string) (session, device string) {
	t.Helper()
	account := map[string]string{"email": email, "password": password}
	n.post(t, "/v1/registrations", account, http.StatusAccepted)
	n.post(t, "/v1/email-verifications", map[string]string{"token": n.EmailLinkToken(t, email, "Confirm your email", "/verify-email")}, http.StatusOK)
	login := n.post(t, "/v1/sessions", account, http.StatusCreated)
	session, _ = login["session_token"].(string)
	device, _ = login["device_token"].(string)
	if session == "" || device == "" {
		t.Fatalf("first login of %s: %v", email, login)
	}
	return session, device
}

// post sends body as JSON to path and expects status; it returns the answer.
func (n *Node) post(t testing.TB, path string, body any, status int) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(n.Base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("POST %s: %d %s, want %d", path, resp.StatusCode, raw, status)
	}
	var answer map[string]any
	_ = json.Unmarshal(raw, &answer)
	return answer
}
