package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/web"
)

var quiet = slog.New(slog.DiscardHandler)

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// fakeMailbox is an in-memory Mailbox; the browser test uses the real store.
type fakeMailbox struct {
	mails []notify.DevMail // newest first
	err   error
}

func (f *fakeMailbox) ListDevMail(_ context.Context, to string, limit int) ([]notify.DevMail, error) {
	if f.err != nil {
		return nil, f.err
	}
	var out []notify.DevMail
	for _, m := range f.mails {
		if (to == "" || m.To == to) && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (f *fakeMailbox) GetDevMail(_ context.Context, id string) (notify.DevMail, error) {
	if f.err != nil {
		return notify.DevMail{}, f.err
	}
	for _, m := range f.mails {
		if m.ID == id {
			return m, nil
		}
	}
	return notify.DevMail{}, store.ErrNotFound
}

const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`

func testMailbox() *fakeMailbox {
	return &fakeMailbox{mails: []notify.DevMail{
		{
			ID: "m3", MessageID: "<m3@warden.test>", ReceivedAt: now.Add(-2 * time.Minute),
			From: "Warden <no-reply@localhost>", To: "bob@example.com",
			Subject: "Newest: " + hostile,
			Text: "Hi Bob,\n\nConfirm: https://warden.test/confirm?token=a1&x=<b>.\n" +
				"Not links: javascript:alert(1) ftp://files.test/x data:text/html,hi\n" +
				"Quoted (http://warden.test/paren) and " + hostile + "\n",
			HTML: `<p>Hello <b>Bob</b></p><script>alert(1)</script>`,
		},
		{
			ID: "m2", MessageID: "<m2@warden.test>", ReceivedAt: now.Add(-time.Hour),
			From: "Warden <no-reply@localhost>", To: "alice@example.com",
			Subject: "Middle message", Text: "No HTML part here.",
		},
		{
			ID: "m1", MessageID: "<m1@warden.test>", ReceivedAt: now.Add(-48 * time.Hour),
			From: "Warden <no-reply@localhost>", To: "alice@example.com",
			Subject: "Oldest message", Text: "First.", HTML: "<p>First</p>",
		},
	}}
}

func newServer(t *testing.T, dev bool, mb web.Mailbox) http.Handler {
	t.Helper()
	cfg := web.Config{PlatformName: "Acme <Exchange>", Dev: dev, Now: func() time.Time { return now }, Logger: quiet}
	if dev {
		cfg.Mailbox = mb
	}
	p, err := web.New(cfg)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	return mux
}

type response struct {
	status int
	header http.Header
	body   string
}

func get(h http.Handler, method, target string, header ...string) response {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Result().Body)
	return response{status: rec.Code, header: rec.Result().Header, body: string(body)}
}

// A static file's versioned URL, as the layout writes it.
var cssURL = regexp.MustCompile(`/static/warden\.css\?v=[0-9a-f]{16}`)

func TestHandlers(t *testing.T) {
	devMux := newServer(t, true, testMailbox())
	prodMux := newServer(t, false, nil)
	home := get(devMux, "GET", "/").body
	versionedCSS := cssURL.FindString(home)
	if versionedCSS == "" {
		t.Fatalf("home page links no versioned stylesheet")
	}

	tests := []struct {
		name        string
		mux         http.Handler
		method      string
		target      string
		wantStatus  int
		wantType    string            // Content-Type prefix
		wantHeaders map[string]string // header → substring of its value
		want        []string          // substrings of the body
		notWant     []string
		inOrder     []string // substrings that must appear in this order
	}{
		{
			name: "home dev", mux: devMux, target: "/", wantStatus: 200, wantType: "text/html",
			wantHeaders: map[string]string{"Cache-Control": "no-store"},
			want: []string{
				"<h1", "Account security and withdrawal protection", "Acme &lt;Exchange&gt;",
				`href="/openapi.json"`, `href="/dev/mailbox"`, "Recovery codes", "Passkeys",
				"anti-phishing code", "Tamper-evident audit log", "KYC", `class="skip-link"`,
				`<main id="main"`, `<a href="/" aria-current="page">Home</a>`, ">Mailbox</a>",
			},
			notWant: []string{"Acme <Exchange>"},
		},
		{
			name: "home prod has no mailbox", mux: prodMux, target: "/", wantStatus: 200, wantType: "text/html",
			want:    []string{`href="/openapi.json"`, ">Home</a>"},
			notWant: []string{"/dev/mailbox", "Mailbox", "Development mode"},
		},
		{name: "HEAD home", mux: devMux, method: "HEAD", target: "/", wantStatus: 200, wantType: "text/html"},
		{name: "POST home not allowed", mux: devMux, method: "POST", target: "/", wantStatus: 405},
		{
			name: "versioned stylesheet", mux: devMux, target: versionedCSS, wantStatus: 200, wantType: "text/css",
			wantHeaders: map[string]string{"Cache-Control": "immutable", "X-Content-Type-Options": "nosniff", "ETag": `"`},
			want:        []string{"prefers-color-scheme: dark", ":focus-visible"},
		},
		{
			name: "unversioned stylesheet revalidates", mux: devMux, target: "/static/warden.css", wantStatus: 200,
			wantType: "text/css", wantHeaders: map[string]string{"Cache-Control": "no-cache"},
		},
		{
			name: "wrong version revalidates", mux: devMux, target: "/static/warden.css?v=0000", wantStatus: 200,
			wantType: "text/css", wantHeaders: map[string]string{"Cache-Control": "no-cache"},
		},
		{name: "script", mux: devMux, target: "/static/warden.js", wantStatus: 200, wantType: "text/javascript"},
		{
			name: "logo", mux: prodMux, target: "/static/logo.svg", wantStatus: 200, wantType: "image/svg+xml",
			wantHeaders: map[string]string{"Content-Security-Policy": "default-src 'none'"},
		},
		{name: "unknown static file", mux: devMux, target: "/static/nope.css", wantStatus: 404, wantType: "text/html"},
		{name: "static folder", mux: devMux, target: "/static/", wantStatus: 404, wantType: "text/html"},
		{
			name: "mailbox lists newest first, escaped", mux: devMux, target: "/dev/mailbox", wantStatus: 200, wantType: "text/html",
			want: []string{
				"3 messages", "Newest: &lt;script&gt;", `href="/dev/mailbox/m3"`, "2 minutes ago", "1 hour ago", "2 days ago",
				`<a href="/dev/mailbox" aria-current="page">Mailbox</a>`, "Warden &lt;no-reply@localhost&gt;",
			},
			notWant: []string{hostile, "<script>alert", "<img src=x"},
			inOrder: []string{"Newest:", "Middle message", "Oldest message"},
		},
		{
			name: "mailbox filtered by recipient", mux: devMux, target: "/dev/mailbox?to=alice@example.com", wantStatus: 200,
			want:    []string{"2 messages to alice@example.com", "Middle message", "Oldest message", `value="alice@example.com"`, "Show all"},
			notWant: []string{"Newest:"},
		},
		{
			name: "mailbox filter is escaped", mux: devMux, target: `/dev/mailbox?to=%22%3E%3Cscript%3E`, wantStatus: 200,
			want: []string{"No email to &#34;&gt;&lt;script&gt; yet."}, notWant: []string{`"><script>`},
		},
		{
			name: "message", mux: devMux, target: "/dev/mailbox/m3", wantStatus: 200, wantType: "text/html",
			want: []string{
				"<h1 id=\"mail-subject\" class=\"mail-subject\">Newest: &lt;script&gt;",
				`<a href="https://warden.test/confirm?token=a1&amp;x=" rel="noreferrer">https://warden.test/confirm?token=a1&amp;x=</a>&lt;b&gt;.`,
				`(<a href="http://warden.test/paren" rel="noreferrer">http://warden.test/paren</a>)`,
				"javascript:alert(1) ftp://files.test/x data:text/html,hi",
				`href="/dev/mailbox/m3/html"`, "&lt;m3@warden.test&gt;", `href="/dev/mailbox?to=bob%40example.com"`,
				"2026-11-24 11:58:00 UTC",
			},
			notWant: []string{hostile, `href="javascript`, `href="ftp`, `href="data`, "<script>alert"},
		},
		{
			name: "message without HTML part", mux: devMux, target: "/dev/mailbox/m2", wantStatus: 200,
			want: []string{"No HTML part", "No HTML part here."}, notWant: []string{"/dev/mailbox/m2/html"},
		},
		{
			name: "unknown message", mux: devMux, target: "/dev/mailbox/nope", wantStatus: 404, wantType: "text/html",
			want: []string{"Not Found", "no message with this id"},
		},
		{
			name: "HTML part in a sandbox", mux: devMux, target: "/dev/mailbox/m3/html", wantStatus: 200, wantType: "text/html",
			wantHeaders: map[string]string{
				"Content-Security-Policy": "sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation;",
				"X-Content-Type-Options":  "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
			},
			want: []string{`<p>Hello <b>Bob</b></p>`},
		},
		{name: "missing HTML part", mux: devMux, target: "/dev/mailbox/m2/html", wantStatus: 404, wantType: "text/html"},
		{name: "HTML part of unknown message", mux: devMux, target: "/dev/mailbox/nope/html", wantStatus: 404},
		{
			name: "JSON", mux: devMux, target: "/dev/mailbox.json", wantStatus: 200, wantType: "application/json",
			wantHeaders: map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
			want:        []string{`"id":"m3"`, `"message_id":"\u003cm3@warden.test\u003e"`, `"received_at":"2026-11-24T11:58:00Z"`},
			inOrder:     []string{`"id":"m3"`, `"id":"m2"`, `"id":"m1"`},
		},
		{name: "JSON filtered", mux: devMux, target: "/dev/mailbox.json?to=bob@example.com", wantStatus: 200, want: []string{`"id":"m3"`}, notWant: []string{`"id":"m2"`}},
		{name: "JSON empty is an array", mux: devMux, target: "/dev/mailbox.json?to=nobody@example.com", wantStatus: 200, want: []string{"[]"}},
		{name: "no mailbox in prod", mux: prodMux, target: "/dev/mailbox", wantStatus: 404},
		{name: "no JSON in prod", mux: prodMux, target: "/dev/mailbox.json", wantStatus: 404},
		{name: "no message in prod", mux: prodMux, target: "/dev/mailbox/m3", wantStatus: 404},
		{name: "no HTML part in prod", mux: prodMux, target: "/dev/mailbox/m3/html", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			res := get(tc.mux, method, tc.target)
			if res.status != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body:\n%s", res.status, tc.wantStatus, res.body)
			}
			if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type = %q, want %q…", ct, tc.wantType)
			}
			for h, want := range tc.wantHeaders {
				if got := res.header.Get(h); !strings.Contains(got, want) {
					t.Errorf("%s = %q, want it to contain %q", h, got, want)
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(res.body, s) {
					t.Errorf("body lacks %q; body:\n%s", s, res.body)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(res.body, s) {
					t.Errorf("body contains %q; body:\n%s", s, res.body)
				}
			}
			last := -1
			for _, s := range tc.inOrder {
				i := strings.Index(res.body, s)
				if i <= last {
					t.Errorf("%q is not after the previous item (at %d, previous at %d)", s, i, last)
				}
				last = i
			}
			if method == "HEAD" && res.body != "" {
				t.Errorf("HEAD answered with a body")
			}
			if strings.HasPrefix(res.header.Get("Content-Type"), "text/html") && !strings.Contains(tc.target, "/html") {
				checkPageSecurity(t, res)
			}
		})
	}
}

var foreignResource = regexp.MustCompile(`<(?:link|script|img|iframe)\b[^>]*\b(?:src|href)="(?:[a-z]+:)?//`)

// checkPageSecurity checks what every page of the layout must have.
func checkPageSecurity(t *testing.T, res response) {
	t.Helper()
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	} {
		if got := res.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if res.body == "" {
		return
	}
	// The CSP would block these, so the pages must not rely on them.
	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>`).FindAllString(res.body, -1); len(m) > 0 {
		for _, tag := range m {
			if !strings.Contains(tag, `src="/static/`) {
				t.Errorf("inline or foreign script: %s", tag)
			}
		}
	}
	for _, bad := range []string{" style=", "<style", " onclick=", " onload="} {
		if strings.Contains(res.body, bad) {
			t.Errorf("page contains %q, which the policy forbids", bad)
		}
	}
	if m := foreignResource.FindString(res.body); m != "" {
		t.Errorf("page loads a resource from another origin: %s", m)
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, "<header", "<main", "<footer", `<nav class="site-nav" aria-label="`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestStaticRevalidation(t *testing.T) {
	mux := newServer(t, false, nil)
	first := get(mux, "GET", "/static/warden.css")
	etag := first.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(mux, "GET", "/static/warden.css", "If-None-Match", etag)
	if again.status != http.StatusNotModified || again.body != "" {
		t.Errorf("revalidation: status %d, body %d bytes; want 304 and none", again.status, len(again.body))
	}
	// The version in the page's link is the ETag: a changed file gets a new URL.
	home := get(mux, "GET", "/").body
	if v := cssURL.FindString(home); !strings.HasSuffix(v, "v="+strings.Trim(etag, `"`)) {
		t.Errorf("stylesheet link %q does not carry the content hash %s", v, etag)
	}
}

func TestJSONFields(t *testing.T) {
	mux := newServer(t, true, testMailbox())
	res := get(mux, "GET", "/dev/mailbox.json?to=bob@example.com")
	var got []map[string]any
	if err := json.Unmarshal([]byte(res.body), &got); err != nil {
		t.Fatalf("decode %s: %v", res.body, err)
	}
	if len(got) != 1 {
		t.Fatalf("got %d messages, want 1", len(got))
	}
	var keys []string
	for k := range got[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"from", "html", "id", "message_id", "received_at", "subject", "text", "to"}
	if !slices.Equal(keys, want) {
		t.Errorf("fields = %v, want %v", keys, want)
	}
	if got[0]["subject"] != "Newest: "+hostile {
		t.Errorf("subject = %q: JSON must carry the raw value", got[0]["subject"])
	}
}

func TestMailboxFailure(t *testing.T) {
	mux := newServer(t, true, &fakeMailbox{err: errors.New("database is down")})
	for _, target := range []string{"/dev/mailbox", "/dev/mailbox/m1", "/dev/mailbox/m1/html", "/dev/mailbox.json"} {
		res := get(mux, "GET", target)
		if res.status != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", target, res.status)
		}
		if strings.Contains(res.body, "database is down") {
			t.Errorf("%s: the answer shows the internal error", target)
		}
	}
}

func TestNewNeedsMailboxInDev(t *testing.T) {
	if _, err := web.New(web.Config{Dev: true, Logger: quiet}); err == nil {
		t.Error("New accepted Dev without a Mailbox")
	}
	p, err := web.New(web.Config{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	res := httptest.NewRecorder()
	p.Render(res, httptest.NewRequest("GET", "/", nil), 200, "home", nil)
	if !strings.Contains(res.Body.String(), "<title>Account security · Warden</title>") {
		t.Errorf("default platform name missing: %s", res.Body.String())
	}
}

func TestRenderAndErrors(t *testing.T) {
	p, err := web.New(web.Config{PlatformName: "Acme", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		render     func(w http.ResponseWriter, r *http.Request)
		wantStatus int
		want       []string
		notWant    []string
	}{
		{
			name:       "unknown page is a 500",
			render:     func(w http.ResponseWriter, r *http.Request) { p.Render(w, r, 200, "no-such-page", nil) },
			wantStatus: 500, want: []string{"Internal Server Error", "Something went wrong"},
		},
		{
			name:       "template error is a clean 500",
			render:     func(w http.ResponseWriter, r *http.Request) { p.Render(w, r, 200, "mail", "not a mailPage") },
			wantStatus: 500, want: []string{"Internal Server Error"}, notWant: []string{"mail-subject"},
		},
		{
			name: "error page with a message",
			render: func(w http.ResponseWriter, r *http.Request) {
				p.Error(w, r, http.StatusForbidden, "Your account is frozen <b>now</b>.")
			},
			wantStatus: 403, want: []string{"Forbidden", "Your account is frozen &lt;b&gt;now&lt;/b&gt;."},
		},
		{
			name:       "not found",
			render:     p.NotFound,
			wantStatus: 404, want: []string{"Not Found", "There is nothing at this address", `href="/"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.render(rec, httptest.NewRequest("GET", "/somewhere", nil))
			res := response{status: rec.Code, header: rec.Result().Header, body: rec.Body.String()}
			if res.status != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.status, tc.wantStatus)
			}
			for _, s := range tc.want {
				if !strings.Contains(res.body, s) {
					t.Errorf("body lacks %q:\n%s", s, res.body)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(res.body, s) {
					t.Errorf("body contains %q", s)
				}
			}
			checkPageSecurity(t, res)
		})
	}
}
