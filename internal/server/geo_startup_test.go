package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/server"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// logBuffer keeps what a server logs, safe for its goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes the JSON log lines.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// startLogged runs a dev node as start does, logging at info (the default
// WARDEN_LOG_LEVEL, which `warden serve` logs at) as JSON into logs.
func startLogged(t *testing.T, logs *logBuffer, extra ...string) *node {
	t.Helper()
	_, dbURL := storetest.SQLiteURL(t)
	env := settings(dbURL, append([]string{"WARDEN_LOG_LEVEL", "info"}, extra...)...)
	cfg, err := config.Load(config.Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}, true)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatalf("the server did not start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &node{srv: srv, base: "http://" + srv.Addr(), stop: func() error { return nil }, devices: &deviceJar{}}
}

// geoIPOff finds the start-up line saying GeoIP is off.
func geoIPOff(recs []map[string]any) map[string]any {
	for _, r := range recs {
		if msg, _ := r["msg"].(string); strings.Contains(msg, "GeoIP is off") {
			return r
		}
	}
	return nil
}

// Without WARDEN_GEOIP_DB the server starts, says once at start-up that
// the place signals are off and how to turn them on, and logins work; with
// a database it does not say so.
func TestMissingGeoIPIsSaidAtStartUp(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	n := startLogged(t, &logs, "WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")
	recs := logs.records(t)
	off := geoIPOff(recs)
	if off == nil {
		t.Fatalf("no start-up line says GeoIP is off; the log:\n%v", recs)
	}
	msg := off["msg"].(string)
	for _, want := range []string{"WARDEN_GEOIP_DB", "new-country", "impossible-travel"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the GeoIP line %q does not mention %s", msg, want)
		}
	}
	if off["level"] != "INFO" && off["level"] != "WARN" {
		t.Errorf("the GeoIP line is logged at %v, below what `warden serve` shows by default", off["level"])
	}

	// Logins work, without place signals: a trusted device from a far
	// address is let in at once, and a new device is asked to confirm.
	const email = "yusuf@example.com"
	device := n.signUpFrom(t, email, londonIP)
	for _, ip := range []string{londonIP, sydneyIP} {
		if status, body, err := n.rawLogin(email, strongPassword, device, ip); err != nil || status != 201 {
			t.Fatalf("without GeoIP, the trusted device from %s: %d %v %v", ip, status, body, err)
		}
	}
	if status, body, err := n.rawLogin(email, strongPassword, "", sydneyIP); err != nil || status != 202 {
		t.Fatalf("without GeoIP, a new device: %d %v %v", status, body, err)
	}
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": "not the password"}).expect(t, 401, "invalid_credentials")
	var count int
	for _, r := range logs.records(t) {
		if geoIPOff([]map[string]any{r}) != nil {
			count++
		}
	}
	if count != 1 {
		t.Errorf("the GeoIP line was logged %d times, want once at start-up", count)
	}

	// With a database: no such line.
	var withDB logBuffer
	startLogged(t, &withDB, "WARDEN_GEOIP_DB", tinyCityDB(t))
	if r := geoIPOff(withDB.records(t)); r != nil {
		t.Errorf("with WARDEN_GEOIP_DB set the server says %v", r)
	}
}
