package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/server"
	"github.com/wardenhq/warden/internal/store/storetest"
)

const adminKey = "test-admin-key-for-server-tests-0123456789"

// node is one running `warden serve`, in-process.
type node struct {
	srv     *server.Server
	base    string
	stop    func() error
	devices *deviceJar
}

// settings are the environment a test node runs with, on top of these defaults.
func settings(databaseURL string, extra ...string) map[string]string {
	env := map[string]string{
		"WARDEN_ADDR":                 "127.0.0.1:0",
		"WARDEN_DATABASE_URL":         databaseURL,
		"WARDEN_SECRET_KEY":           base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32)),
		"WARDEN_ADMIN_KEY":            adminKey,
		"WARDEN_OUTBOX_BACKOFF_BASE":  "20ms",
		"WARDEN_OUTBOX_BACKOFF_MAX":   "100ms",
		"WARDEN_OUTBOX_POLL_INTERVAL": "10ms",
		"WARDEN_OUTBOX_TIMEOUT":       "2s",
		"WARDEN_OUTBOX_MAX_ATTEMPTS":  "1000",
		"WARDEN_LOG_LEVEL":            "warn",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return env
}

func start(t *testing.T, env map[string]string, dev bool) *node {
	t.Helper()
	cfg, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, dev)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := server.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return &node{srv: srv, base: "http://" + srv.Addr(), stop: stop, devices: &deviceJar{}}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// admin calls the admin API with the bootstrap key and answers the status
// and the decoded body.
func (n *node) admin(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	r := n.call(t, method, path, body, "Authorization", "Bearer "+adminKey)
	return r.status, r.body
}

func sendTestEmails(t *testing.T, n *node, count int) []string {
	t.Helper()
	var ids []string
	for i := range count {
		status, body := n.admin(t, "POST", "/admin/v1/outbox/test-email", map[string]string{"to": "ops" + string(rune('a'+i)) + "@example.com"})
		if status != 202 {
			t.Fatalf("test email: %d %v", status, body)
		}
		ids = append(ids, body["message_id"].(string))
	}
	return ids
}

func messageIDs(msgs []smtptest.Message, accepted bool) map[string]int {
	ids := map[string]int{}
	for _, m := range msgs {
		if m.Accepted == accepted {
			ids[m.Header.Get("Message-Id")]++
		}
	}
	return ids
}

// The outbox survives an SMTP outage and a server restart: the server is
// stopped while the SMTP server is down, both come back, and every message
// is delivered, with the Message-ID of its failed attempts.
func TestOutboxSurvivesSMTPOutageAndRestart(t *testing.T) {
	t.Parallel()
	mail := smtptest.Start(t)
	mail.SetDown(true)
	_, dbURL := storetest.SQLiteURL(t)
	env := settings(dbURL, "WARDEN_SMTP_URL", mail.URL())

	first := start(t, env, false)
	ids := sendTestEmails(t, first, 5)
	// Every message is attempted (and refused) at least once.
	if _, err := mail.WaitFor(10, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := first.stop(); err != nil {
		t.Fatalf("first server: %v", err)
	}
	mail.Stop()
	failed := messageIDs(mail.Messages(), false)
	if len(failed) != 5 {
		t.Fatalf("%d distinct messages attempted while SMTP was down, want 5", len(failed))
	}

	mail.SetDown(false)
	mail.Restart()
	second := start(t, env, false)
	deadline := time.Now().Add(15 * time.Second)
	for len(messageIDs(mail.Messages(), true)) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 5 delivered after the restart", len(messageIDs(mail.Messages(), true)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	delivered := messageIDs(mail.Messages(), true)
	for id := range failed {
		if delivered[id] == 0 {
			t.Errorf("message %s failed before the restart and was delivered under another Message-ID (or not at all)", id)
		}
	}
	for _, id := range ids {
		if !strings.Contains(strings.Join(keys(delivered), " "), id) {
			t.Errorf("outbox message %s was never delivered", id)
		}
	}
	// The deliveries are recorded just after the SMTP server accepts them.
	for {
		status, body := second.admin(t, "GET", "/admin/v1/outbox?status=delivered", nil)
		if status == 200 && len(body["messages"].([]any)) == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox does not show the 5 deliveries: %v", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get(second.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`warden_outbox_deliveries_total{kind="email",outcome="delivered"} 5`,
		`warden_outbox_depth{status="pending"} 0`,
		`warden_outbox_depth{status="dead"} 0`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Several `warden serve` processes on one PostgreSQL database share the
// outbox: every message is delivered once, none by two nodes.
func TestNodesShareOutboxOnPostgres(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.PostgresURL(t)
	mail := smtptest.Start(t)
	env := settings(dbURL, "WARDEN_SMTP_URL", mail.URL())
	a, b := start(t, env, false), start(t, env, false)
	var ids []string
	ids = append(ids, sendTestEmails(t, a, 10)...)
	ids = append(ids, sendTestEmails(t, b, 10)...)
	if _, err := mail.WaitFor(len(ids), 15*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up, if there were one
	delivered := messageIDs(mail.Messages(), true)
	if len(delivered) != len(ids) {
		t.Fatalf("%d distinct messages delivered, want %d", len(delivered), len(ids))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
}

// A stopping server lets the request in flight finish before it exits.
func TestGracefulShutdownFinishesRequestsInFlight(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := start(t, settings(dbURL, "WARDEN_SMTP_URL", "smtp://127.0.0.1:1"), false)

	conn, err := net.Dial("tcp", strings.TrimPrefix(n.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"to":"late@example.com"}`
	// Send the headers and half the body, then ask the server to stop.
	_, _ = io.WriteString(conn, "POST /admin/v1/outbox/test-email HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+adminKey+
		"\r\nContent-Type: application/json\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body[:10])
	time.Sleep(100 * time.Millisecond)
	stopped := make(chan error, 1)
	go func() { stopped <- n.stop() }()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("server stopped with a request in flight")
	default:
	}
	_, _ = io.WriteString(conn, body[10:])
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	if resp.StatusCode != 202 {
		t.Fatalf("in-flight request answered %d", resp.StatusCode)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(n.base + "/healthz"); err == nil {
		t.Fatal("server still accepts requests after stopping")
	}
}
