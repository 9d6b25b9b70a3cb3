package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

const bootstrapKey = "test-bootstrap-admin-key-0123456789abcdef"

type fixture struct {
	log   *bytes.Buffer
	api   *httpapi.API
	srv   *httptest.Server
	store *store.Store
	wakes int
}

func (f *fixture) Wake() { f.wakes++ }

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key := make([]byte, keyring.KeySize)
	_, _ = rand.Read(key)
	keys, _ := keyring.New(key)
	s := storetest.SQLite(t, store.WithKeyring(keys))
	mailer, err := notify.NewMailer("http://warden.test", "Warden")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, log: &bytes.Buffer{}}
	f.api = httpapi.New(httpapi.Deps{
		Store: s, Keys: keys, Mailer: mailer, Outbox: f, BootstrapAdminKey: bootstrapKey,
		Log: slog.New(slog.NewJSONHandler(&lockedWriter{w: f.log}, nil)),
	})
	f.srv = httptest.NewServer(f.api.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// adminKeyWith stores an admin key holding only scopes, as staff would make
// one, and returns its secret.
func adminKeyWith(t *testing.T, s *store.Store, scopes ...string) string {
	t.Helper()
	plain, _ := storedAdminKey(t, s, scopes...)
	return plain
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, r.body)
	}
	return m
}

func (f *fixture) do(t *testing.T, method, path, key, contentType string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func expectProblem(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := r.json(t)
	if p["code"] != code || p["status"] != float64(status) || p["type"] == "" || p["title"] == "" {
		t.Fatalf("problem %v, want code %s", p, code)
	}
	return p
}

func TestBadRequestsGetProblemsAndChangeNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const path = "/admin/v1/webhooks"
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		status            int
		code, field       string
	}{
		{"malformed", "application/json", []byte(`{"url": `), 400, "invalid_json", ""},
		{"not an object", "application/json", []byte(`[1,2]`), 400, "invalid_json", ""},
		{"two values", "application/json", []byte(`{} {}`), 400, "invalid_json", ""},
		{"empty", "application/json", nil, 400, "invalid_json", ""},
		{"wrong type", "application/json", []byte(`{"url": 5, "event_types": ["*"]}`), 400, "validation_failed", "url"},
		{"unknown field", "application/json", []byte(`{"url": "https://x.test", "event_types": ["*"], "admin": true}`), 400, "validation_failed", "admin"},
		{"invalid value", "application/json", []byte(`{"url": "ftp://x.test", "event_types": ["*"]}`), 400, "validation_failed", "url"},
		{"unknown event", "application/json", []byte(`{"url": "https://x.test", "event_types": ["money.printed"]}`), 400, "validation_failed", "event_types"},
		{"form body", "application/x-www-form-urlencoded", []byte(`url=x`), 415, "unsupported_media_type", ""},
		{"too large", "application/json", append(append([]byte(`{"url": "https://x.test", "description": "`), bytes.Repeat([]byte("a"), httpapi.MaxBodyBytes)...), `"}`...), 413, "payload_too_large", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := expectProblem(t, f.do(t, "POST", path, bootstrapKey, tc.contentType, tc.body), tc.status, tc.code)
			if tc.field != "" {
				errs, _ := p["errors"].([]any)
				if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
					t.Fatalf("errors %v do not name field %s", p["errors"], tc.field)
				}
			}
		})
	}
	list := f.do(t, "GET", path, bootstrapKey, "", nil).json(t)
	if eps := list["endpoints"].([]any); len(eps) != 0 {
		t.Fatalf("a bad request created %d endpoints", len(eps))
	}
}

func TestAdminAuthentication(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	plain := adminKeyWith(t, f.store, "audit:read")
	expectProblem(t, f.do(t, "GET", "/admin/v1/audit", "", "", nil), 401, "unauthenticated")
	expectProblem(t, f.do(t, "GET", "/admin/v1/audit", "wdn_"+strings.Repeat("a", 52), "", nil), 401, "unauthenticated")
	expectProblem(t, f.do(t, "GET", "/admin/v1/audit", "not-a-key", "", nil), 401, "unauthenticated")
	if r := f.do(t, "GET", "/admin/v1/audit", plain, "", nil); r.status != 200 {
		t.Fatalf("stored key with audit:read: %d %s", r.status, r.body)
	}
	p := expectProblem(t, f.do(t, "GET", "/admin/v1/webhooks", plain, "", nil), 403, "insufficient_scope")
	if p["required_scope"] != "webhooks:write" {
		t.Fatalf("problem does not name the missing scope: %v", p)
	}
	if r := f.do(t, "GET", "/admin/v1/webhooks", bootstrapKey, "", nil); r.status != 200 {
		t.Fatalf("bootstrap key: %d", r.status)
	}
}

func TestRoutingProblemsAndRequestIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	expectProblem(t, f.do(t, "GET", "/admin/v1/nothing-here", bootstrapKey, "", nil), 404, "not_found")
	expectProblem(t, f.do(t, "GET", "/v1/nothing-here", "", "", nil), 404, "not_found")
	r := f.do(t, "PUT", "/admin/v1/webhooks", bootstrapKey, "application/json", []byte(`{}`))
	expectProblem(t, r, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); allow != "DELETE, GET, POST" {
		t.Fatalf("Allow = %q", allow)
	}
	if !strings.HasPrefix(r.header.Get("X-Request-Id"), "req_") {
		t.Fatalf("no request id on the answer: %v", r.header)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", "platform-trace-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "platform-trace-42" {
		t.Fatalf("sane incoming request id not kept: %q", got)
	}
}

func TestWebhookEndpointLifecycleIsAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	created := f.do(t, "POST", "/admin/v1/webhooks", bootstrapKey, "application/json",
		[]byte(`{"url": "https://payouts.example/hooks", "event_types": ["withdrawal.approved", "account.frozen"]}`))
	if created.status != 201 {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	ep := created.json(t)
	if !strings.HasPrefix(ep["secret"].(string), "whsec_") {
		t.Fatalf("no signing secret in the answer: %v", ep)
	}
	epID := ep["id"].(string)
	listed := f.do(t, "GET", "/admin/v1/webhooks", bootstrapKey, "", nil)
	if bytes.Contains(listed.body, []byte("whsec_")) {
		t.Fatal("the secret is shown again in the listing")
	}
	if r := f.do(t, "POST", "/admin/v1/webhooks/"+epID+"/test", bootstrapKey, "", nil); r.status != 202 || f.wakes == 0 {
		t.Fatalf("test event: %d %s (wakes %d)", r.status, r.body, f.wakes)
	}
	if r := f.do(t, "DELETE", "/admin/v1/webhooks/"+epID, bootstrapKey, "", nil); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	expectProblem(t, f.do(t, "DELETE", "/admin/v1/webhooks/"+epID, bootstrapKey, "", nil), 404, "not_found")
	expectProblem(t, f.do(t, "POST", "/admin/v1/webhooks/"+epID+"/test", bootstrapKey, "", nil), 404, "not_found")

	audit := f.do(t, "GET", "/admin/v1/audit?type=webhook.endpoint_created", bootstrapKey, "", nil).json(t)
	records := audit["records"].([]any)
	if len(records) != 1 || records[0].(map[string]any)["actor"] != "admin_key:key_bootstrap" {
		t.Fatalf("audit records = %v", records)
	}
	verify := f.do(t, "GET", "/admin/v1/audit/verify", bootstrapKey, "", nil).json(t)
	if verify["ok"] != true || verify["records"] != float64(2) {
		t.Fatalf("verify = %v", verify)
	}
	outbox := f.do(t, "GET", "/admin/v1/outbox?status=pending", bootstrapKey, "", nil).json(t)
	if msgs := outbox["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["topic"] != "webhook.test" {
		t.Fatalf("outbox = %v", outbox)
	}
}

func TestAuditListingPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for range 5 {
		if r := f.do(t, "POST", "/admin/v1/outbox/test-email", bootstrapKey, "application/json", []byte(`{"to":"ops@example.com"}`)); r.status != 202 {
			t.Fatalf("test email: %d %s", r.status, r.body)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page := f.do(t, "GET", "/admin/v1/audit?limit=2&cursor="+cursor, bootstrapKey, "", nil).json(t)
		for _, r := range page["records"].([]any) {
			seen[r.(map[string]any)["id"].(string)] = true
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %d distinct records, want 5", len(seen))
	}
	expectProblem(t, f.do(t, "GET", "/admin/v1/audit?limit=0", bootstrapKey, "", nil), 400, "validation_failed")
	expectProblem(t, f.do(t, "GET", "/admin/v1/audit?cursor=bm90LWEtY3Vyc29y", bootstrapKey, "", nil), 400, "validation_failed")
	expectProblem(t, f.do(t, "POST", "/admin/v1/outbox/test-email", bootstrapKey, "application/json", []byte(`{"to":"Eve <eve@example.com>"}`)), 400, "validation_failed")
}

func TestPanicsAnswerAProblemWithoutInternals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Closing the database makes the next handler fail deep inside; the
	// answer must be a plain 500 problem that does not leak the cause.
	f.store.Close()
	r := f.do(t, "GET", "/admin/v1/audit", bootstrapKey, "", nil)
	p := expectProblem(t, r, 500, "internal_error")
	if strings.Contains(string(r.body), "sql") || strings.Contains(string(r.body), "closed") {
		t.Fatalf("500 leaks internals: %v", p)
	}
	expectProblem(t, f.do(t, "GET", "/readyz", "", "", nil), 503, "unavailable")
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "GET", "/healthz", "", "", nil)
	f.do(t, "GET", "/admin/v1/audit", "", "", nil)
	body := string(f.do(t, "GET", "/metrics", "", "", nil).body)
	for _, want := range []string{
		`warden_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`,
		`warden_http_requests_total{code="401",method="GET",route="GET /admin/v1/audit"} 1`,
		`warden_http_request_duration_seconds_bucket{method="GET",route="GET /healthz",le=`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The access log names each request but never carries what authenticates it
// or what travels in its query string.
func TestAccessLogHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "GET", "/admin/v1/audit?cursor=c2VjcmV0LXF1ZXJ5LXRva2Vu&user_id=usr_1", bootstrapKey, "", nil)
	f.do(t, "POST", "/admin/v1/outbox/test-email", bootstrapKey, "application/json", []byte(`{"to":"victim@example.com"}`))
	time.Sleep(10 * time.Millisecond)
	logged := f.log.String()
	if !strings.Contains(logged, `"route":"GET /admin/v1/audit"`) || !strings.Contains(logged, `"request_id":"req_`) {
		t.Fatalf("access log lacks route or request id: %s", logged)
	}
	for _, secret := range []string{bootstrapKey, "c2VjcmV0LXF1ZXJ5LXRva2Vu", "victim@example.com", "Bearer"} {
		if strings.Contains(logged, secret) {
			t.Errorf("access log contains %q", secret)
		}
	}
}

func TestAuditVerifyEndpointNamesTamperedRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.do(t, "POST", "/admin/v1/outbox/test-email", bootstrapKey, "application/json", []byte(`{"to":"a@example.com"}`))
	f.do(t, "POST", "/admin/v1/outbox/test-email", bootstrapKey, "application/json", []byte(`{"to":"b@example.com"}`))
	first := f.do(t, "GET", "/admin/v1/audit?limit=2", bootstrapKey, "", nil).json(t)["records"].([]any)[1].(map[string]any)
	if err := f.store.ExecRaw(context.Background(), `UPDATE audit_records SET actor = 'system' WHERE id = $1`, first["id"]); err != nil {
		t.Fatal(err)
	}
	rep := f.do(t, "GET", "/admin/v1/audit/verify", bootstrapKey, "", nil).json(t)
	broken, _ := rep["broken"].(map[string]any)
	if rep["ok"] != false || broken["record_id"] != first["id"] {
		t.Fatalf("verify after tampering = %v, want the record %v named", rep, first["id"])
	}
}
