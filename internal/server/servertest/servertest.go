// Package servertest runs a whole Warden — server.New, as `warden serve`
// runs it — for end-to-end tests, on a real database and with its mail
// going to an in-process SMTP server the tests read links from.
package servertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/server"
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
// logs at warn, and the bootstrap admin key adminKey.
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
