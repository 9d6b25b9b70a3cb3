package notify_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
)

// The Standard Webhooks test vector, published with the specification and
// checked by every reference library.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// verifyStandardWebhook is a receiver's check, written from the
// specification and sharing no code with notify: its own secret decoding
// (a streaming base64 decoder), its own HMAC (RFC 2104 over SHA-256), a
// constant-time comparison with each listed signature, and a bound on the
// timestamp's age against replays.
func verifyStandardWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.TrimPrefix(secret, "whsec_"))))
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	msgID, tsText, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if msgID == "" || tsText == "" || sigs == "" {
		return errors.New("missing webhook headers")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	if age := now.Sub(time.Unix(ts, 0)); age > tolerance || age < -tolerance {
		return fmt.Errorf("timestamp %d outside tolerance", ts)
	}
	signed := []byte(msgID + "." + tsText + "." + string(body))
	want := rfc2104HMACSHA256(key, signed)
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && subtle.ConstantTimeCompare(got, want) == 1 {
			return nil
		}
	}
	return errors.New("no matching signature")
}

func rfc2104HMACSHA256(key, msg []byte) []byte {
	const blockSize = 64
	if len(key) > blockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	padded := make([]byte, blockSize)
	copy(padded, key)
	inner, outer := make([]byte, blockSize), make([]byte, blockSize)
	for i, b := range padded {
		inner[i], outer[i] = b^0x36, b^0x5c
	}
	innerSum := sha256.Sum256(append(inner, msg...))
	outerSum := sha256.Sum256(append(outer, innerSum[:]...))
	return outerSum[:]
}

func specHeader(sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", specID)
	h.Set("webhook-timestamp", strconv.Itoa(specTimestamp))
	h.Set("webhook-signature", sig)
	return h
}

func TestSignWebhookMatchesSpecVector(t *testing.T) {
	t.Parallel()
	key, err := notify.DecodeWebhookSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	got := notify.SignWebhook(key, specID, time.Unix(specTimestamp, 0), []byte(specBody))
	if got != specSignature {
		t.Errorf("SignWebhook = %q, want %q", got, specSignature)
	}
	// The independent verifier agrees with the vector too, so it checks
	// the scheme rather than our reading of it.
	at := time.Unix(specTimestamp, 0)
	if err := verifyStandardWebhook(specSecret, specHeader(specSignature), []byte(specBody), at, 5*time.Minute); err != nil {
		t.Errorf("independent verifier rejects the spec vector: %v", err)
	}
	if err := verifyStandardWebhook(specSecret, specHeader("v1,bm9wZQ== "+specSignature), []byte(specBody), at, 5*time.Minute); err != nil {
		t.Errorf("independent verifier rejects a list of signatures: %v", err)
	}
}

func TestWebhookSecrets(t *testing.T) {
	t.Parallel()
	a, b := notify.NewWebhookSecret(), notify.NewWebhookSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Errorf("secrets %q, %q: want distinct whsec_ values", a, b)
	}
	key, err := notify.DecodeWebhookSecret(a)
	if err != nil || len(key) != 32 {
		t.Errorf("DecodeWebhookSecret(new secret) = %d bytes, %v; want 32", len(key), err)
	}

	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, n)) }
	tests := []struct {
		secret  string
		wantLen int // 0: error
	}{
		{specSecret, 24},
		{strings.TrimPrefix(specSecret, "whsec_"), 24}, // the prefix is optional, as in the reference libraries
		{"whsec_" + b64(64), 64},
		{"whsec_" + b64(16), 0}, // too short to be a safe key
		{"whsec_" + b64(65), 0},
		{"whsec_" + strings.NewReplacer("+", "-", "/", "_").Replace(b64(32)), 0}, // URL alphabet is not the scheme's
		{"whsec_not base64!", 0},
		{"", 0},
	}
	for _, tt := range tests {
		key, err := notify.DecodeWebhookSecret(tt.secret)
		if (tt.wantLen == 0) != (err != nil) || len(key) != tt.wantLen {
			t.Errorf("DecodeWebhookSecret(%q) = %d bytes, %v; want %d", tt.secret, len(key), err, tt.wantLen)
		}
	}
}

func TestEnqueueWebhookEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 24, 10, 0, 0, 123, time.FixedZone("CET", 3600))
	tx := &fakeTx{endpoints: []notify.WebhookEndpoint{
		{ID: "whe_1", EventTypes: []string{"withdrawal.approved", "account.frozen"}},
		{ID: "whe_2", EventTypes: []string{"*"}},
		{ID: "whe_3", EventTypes: []string{"account.frozen"}}, // not subscribed: must be skipped even if listed
	}}
	data := map[string]any{"withdrawal_id": "wdr_1", "amount": "0.5", "note": "<&>"}
	msgs, err := notify.EnqueueWebhookEvent(context.Background(), tx, now, "withdrawal.approved", data)
	if err != nil {
		t.Fatalf("EnqueueWebhookEvent: %v", err)
	}
	if len(msgs) != 2 || len(tx.msgs) != 2 {
		t.Fatalf("enqueued %d (inserted %d), want 2", len(msgs), len(tx.msgs))
	}
	var bodies [][]byte
	for i, m := range msgs {
		if m.Kind != outbox.KindWebhook || m.Topic != "withdrawal.approved" || !m.CreatedAt.Equal(now) {
			t.Errorf("message %d = %+v", i, m)
		}
		var wd notify.WebhookDelivery
		if err := json.Unmarshal(m.Payload, &wd); err != nil {
			t.Fatal(err)
		}
		if want := []string{"whe_1", "whe_2"}[i]; wd.EndpointID != want {
			t.Errorf("message %d for %q, want %q", i, wd.EndpointID, want)
		}
		bodies = append(bodies, wd.Body)
	}
	if msgs[0].ID == msgs[1].ID {
		t.Error("two endpoints share a message id (their webhook-id)")
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		t.Errorf("bodies differ:\n%s\n%s", bodies[0], bodies[1])
	}
	var body struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(bodies[0], &body); err != nil {
		t.Fatalf("body %s: %v", bodies[0], err)
	}
	ts, err := time.Parse(time.RFC3339, body.Timestamp)
	if body.Type != "withdrawal.approved" || err != nil || !ts.Equal(now.Truncate(time.Second)) || !strings.HasSuffix(body.Timestamp, "Z") {
		t.Errorf("body type %q timestamp %q (%v)", body.Type, body.Timestamp, err)
	}
	if fmt.Sprint(body.Data) != fmt.Sprint(data) {
		t.Errorf("data = %v, want %v", body.Data, data)
	}

	t.Run("no subscriber", func(t *testing.T) {
		msgs, err := notify.EnqueueWebhookEvent(context.Background(), &fakeTx{}, now, "login.suspicious", nil)
		if err != nil || len(msgs) != 0 {
			t.Errorf("= %v, %v; want nothing", msgs, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := notify.EnqueueWebhookEvent(context.Background(), &fakeTx{err: boom}, now, "x.y", nil); !errors.Is(err, boom) {
			t.Errorf("transaction error: %v", err)
		}
		if _, err := notify.EnqueueWebhookEvent(context.Background(), tx, now, "x.y", make(chan int)); err == nil {
			t.Error("enqueued data that is not JSON")
		}
		for _, typ := range []string{"", "*"} {
			if _, err := notify.EnqueueWebhookEvent(context.Background(), tx, now, typ, nil); err == nil {
				t.Errorf("enqueued event type %q", typ)
			}
		}
	})
}

// secrets is a WebhookSecrets over fixed endpoints.
type secrets struct {
	url    string
	secret string // whsec_…
	found  bool
	err    error
}

func (s secrets) WebhookTarget(_ context.Context, _ string) (string, []byte, bool, error) {
	if s.err != nil || !s.found {
		return "", nil, false, s.err
	}
	key, err := notify.DecodeWebhookSecret(s.secret)
	return s.url, key, true, err
}

// received is one request an endpoint got.
type received struct {
	header http.Header
	body   []byte
}

type endpoint struct {
	*httptest.Server
	mu       sync.Mutex
	requests []received
}

func newEndpoint(t *testing.T, handler http.HandlerFunc) *endpoint {
	t.Helper()
	ep := &endpoint{}
	ep.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ep.mu.Lock()
		ep.requests = append(ep.requests, received{r.Header.Clone(), body})
		ep.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(ep.Close)
	return ep
}

func (ep *endpoint) got() []received {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return append([]received(nil), ep.requests...)
}

func webhookMessage(t *testing.T) (outbox.Message, []byte) {
	t.Helper()
	tx := &fakeTx{endpoints: []notify.WebhookEndpoint{{ID: "whe_1", EventTypes: []string{"*"}}}}
	msgs, err := notify.EnqueueWebhookEvent(context.Background(), tx, createdAt, "withdrawal.approved", map[string]string{"withdrawal_id": "wdr_1"})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("EnqueueWebhookEvent: %v, %v", msgs, err)
	}
	var wd notify.WebhookDelivery
	if err := json.Unmarshal(msgs[0].Payload, &wd); err != nil {
		t.Fatal(err)
	}
	return msgs[0], wd.Body
}

func TestWebhookDeliverIsVerifiable(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, nil)
	secret := notify.NewWebhookSecret()
	clock := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	d := notify.WebhookDeliverer{
		Secrets: secrets{url: ep.URL + "/hooks/warden", secret: secret, found: true},
		Client:  ep.Client(),
		Now:     func() time.Time { return clock },
	}
	m, body := webhookMessage(t)

	// Two attempts of one message, a minute apart.
	for range 2 {
		if err := d.Deliver(context.Background(), m); err != nil {
			t.Fatalf("Deliver: %v", err)
		}
		clock = clock.Add(time.Minute)
	}
	reqs := ep.got()
	if len(reqs) != 2 {
		t.Fatalf("endpoint got %d requests, want 2", len(reqs))
	}
	for i, r := range reqs {
		attemptAt := time.Date(2026, 11, 24, 10, i, 0, 0, time.UTC)
		if err := verifyStandardWebhook(secret, r.header, r.body, attemptAt, 5*time.Minute); err != nil {
			t.Errorf("attempt %d does not verify: %v", i, err)
		}
		if got := r.header.Get("webhook-id"); got != m.ID {
			t.Errorf("attempt %d: webhook-id %q, want the outbox id %q", i, got, m.ID)
		}
		if got, want := r.header.Get("webhook-timestamp"), strconv.FormatInt(attemptAt.Unix(), 10); got != want {
			t.Errorf("attempt %d: webhook-timestamp %q, want this attempt's %q", i, got, want)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if !bytes.Equal(r.body, body) {
			t.Errorf("attempt %d: body %s, want %s", i, r.body, body)
		}
	}
	if reqs[0].header.Get("webhook-signature") == reqs[1].header.Get("webhook-signature") {
		t.Error("two attempts at different times carry the same signature")
	}

	// What a receiver must refuse.
	r := reqs[0]
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tampered := bytes.Replace(r.body, []byte("wdr_1"), []byte("wdr_2"), 1)
	if err := verifyStandardWebhook(secret, r.header, tampered, at, 5*time.Minute); err == nil {
		t.Error("a tampered body verifies")
	}
	if err := verifyStandardWebhook(notify.NewWebhookSecret(), r.header, r.body, at, 5*time.Minute); err == nil {
		t.Error("another secret verifies")
	}
	if err := verifyStandardWebhook(secret, r.header, r.body, at.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("a replay ten minutes later verifies")
	}
	otherID := r.header.Clone()
	otherID.Set("webhook-id", "msg_other")
	if err := verifyStandardWebhook(secret, otherID, r.body, at, 5*time.Minute); err == nil {
		t.Error("the signature does not bind the webhook-id")
	}
}

func TestWebhookDeliverOutcomes(t *testing.T) {
	t.Parallel()
	m, _ := webhookMessage(t)
	secret := notify.NewWebhookSecret()

	elsewhere := newEndpoint(t, nil) // where a redirect points: must never be reached
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name          string
		handler       http.HandlerFunc
		secrets       func(url string) secrets
		wantErr       bool
		wantPermanent bool
	}{
		{name: "200", handler: status(200)},
		{name: "204", handler: status(204)},
		{name: "202 with a body", handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(202); _, _ = w.Write([]byte("queued")) }},
		{name: "410 Gone is permanent", handler: status(410), wantErr: true, wantPermanent: true},
		{name: "404 is retried", handler: status(404), wantErr: true},
		{name: "429 is retried", handler: status(429), wantErr: true},
		{name: "500 is retried", handler: status(500), wantErr: true},
		{name: "redirect is not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
		}, wantErr: true},
		{name: "deleted endpoint is permanent", secrets: func(string) secrets { return secrets{found: false} }, wantErr: true, wantPermanent: true},
		{name: "secret store failure is retried", secrets: func(string) secrets { return secrets{err: errors.New("db down")} }, wantErr: true},
		{name: "URL that is not http is permanent", secrets: func(string) secrets {
			return secrets{url: "ftp://example.com/x", secret: secret, found: true}
		}, wantErr: true, wantPermanent: true},
		{name: "connection refused is retried", secrets: func(string) secrets {
			return secrets{url: closed.URL, secret: secret, found: true}
		}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, tt.handler)
			s := secrets{url: ep.URL, secret: secret, found: true}
			if tt.secrets != nil {
				s = tt.secrets(ep.URL)
			}
			err := notify.WebhookDeliverer{Secrets: s}.Deliver(context.Background(), m)
			if (err != nil) != tt.wantErr || outbox.IsPermanent(err) != tt.wantPermanent {
				t.Fatalf("Deliver = %v (permanent %v); want error %v, permanent %v", err, outbox.IsPermanent(err), tt.wantErr, tt.wantPermanent)
			}
		})
	}
	if n := len(elsewhere.got()); n != 0 {
		t.Errorf("a redirect was followed: the other host got %d request(s)", n)
	}
}

func TestWebhookDeliverBoundsResponse(t *testing.T) {
	t.Parallel()
	m, _ := webhookMessage(t)
	ep := newEndpoint(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		chunk := bytes.Repeat([]byte("x\x00\n"), 1<<10)
		for range 4 << 10 { // 12 MiB unless the client stops reading
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	err := notify.WebhookDeliverer{Secrets: secrets{url: ep.URL, secret: notify.NewWebhookSecret(), found: true}}.Deliver(context.Background(), m)
	if err == nil || outbox.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a retryable error", err)
	}
	if len(err.Error()) > 500 || strings.ContainsRune(err.Error(), 0) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not a short single line (%d bytes): %.200q", len(err.Error()), err.Error())
	}
}

func TestWebhookDeliverTimesOut(t *testing.T) {
	t.Parallel()
	m, _ := webhookMessage(t)
	ep := newEndpoint(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	d := notify.WebhookDeliverer{
		Secrets: secrets{url: ep.URL, secret: notify.NewWebhookSecret(), found: true},
		Client:  &http.Client{Timeout: 100 * time.Millisecond},
	}
	start := time.Now()
	if err := d.Deliver(context.Background(), m); err == nil || outbox.IsPermanent(err) {
		t.Fatalf("Deliver = %v, want a retryable error", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("the client's timeout was not honoured")
	}
}

func TestWebhookDeliverUndeliverablePayloads(t *testing.T) {
	t.Parallel()
	m, _ := webhookMessage(t)
	d := notify.WebhookDeliverer{Secrets: secrets{url: "http://127.0.0.1:1", secret: notify.NewWebhookSecret(), found: true}}
	wrongKind := m
	wrongKind.Kind = outbox.KindEmail
	badPayload := m
	badPayload.Payload = []byte("[")
	for _, bad := range []outbox.Message{wrongKind, badPayload} {
		if err := d.Deliver(context.Background(), bad); !outbox.IsPermanent(err) {
			t.Errorf("Deliver = %v, want permanent", err)
		}
	}
}
