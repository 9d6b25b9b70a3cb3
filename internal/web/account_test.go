package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/passkey"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/risk"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/web"
)

var _ web.AuditStore = (*store.Store)(nil)

// site is the pages on a real SQLite store with real account and session
// services, served over HTTP.
type site struct {
	t        *testing.T
	store    *store.Store
	accounts *account.Service
	sessions *session.Service
	mfa      *mfa.Service
	login    *login.Service
	pages    *web.Pages
	url      string
}

const (
	testIP       = "203.0.113.7"
	goodPassword = "correct horse battery staple"
	newPassword  = "violet kettle drums at noon"
)

func newSite(t *testing.T, baseURL string) *site {
	t.Helper()
	hasher, err := password.NewHasher(password.CheapParamsForTests(), password.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return newSiteWith(t, baseURL, hasher)
}

func newSiteWith(t *testing.T, baseURL string, hasher *password.Hasher) *site {
	t.Helper()
	return newSiteConfig(t, baseURL, hasher, nil)
}

// newSiteConfig is newSiteWith with a last say on the pages' configuration.
func newSiteConfig(t *testing.T, baseURL string, hasher *password.Hasher, configure func(*web.Config)) *site {
	t.Helper()
	if hasher == nil {
		var err error
		if hasher, err = password.NewHasher(password.CheapParamsForTests(), password.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := keyring.New(bytes.Repeat([]byte{7}, keyring.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.SQLite(t, store.WithKeyring(keys))
	mailer, err := notify.NewMailer(baseURL, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	sessions := &session.Service{
		Transact: func(ctx context.Context, fn func(session.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Lookup: st,
		Policy: session.Policy{IdleTimeout: time.Hour, Lifetime: 24 * time.Hour},
		Now:    time.Now,
		Cache:  session.NewCache(time.Minute, 1000),
	}
	accounts := &account.Service{
		Transact: func(ctx context.Context, fn func(account.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(account.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Hasher: hasher, Mailer: mailer, BaseURL: baseURL,
		Policy:    account.Policy{VerifyEmailTTL: 24 * time.Hour, PasswordResetTTL: 30 * time.Minute, FreezeLinkTTL: 30 * 24 * time.Hour},
		Now:       time.Now,
		Committed: func(revoked []string) { sessions.Forget(revoked) },
	}
	rp, err := passkey.New(baseURL, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	factors := &mfa.Service{
		Transact: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(mfa.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Keys: keys, RecoveryKeys: [][]byte{bytes.Repeat([]byte{9}, 32)}, Passkeys: rp,
		Issuer: "Acme",
		Policy: mfa.Policy{ChallengeTTL: 5 * time.Minute, MaxFailures: 5, StepUpWindow: 5 * time.Minute},
		Now:    time.Now,
	}
	logins := &login.Service{
		Transact: func(ctx context.Context, fn func(login.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(login.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: accounts, Sessions: sessions, MFA: factors,
		// A new device of an account with 2FA gives the second factor only
		// (WARDEN_NEW_DEVICE_EMAIL_WITH_MFA=false); TestNewDeviceEmail
		// turns the email on for them too.
		Policy: login.Policy{Risk: risk.DefaultConfig(), Lockout: lockout.DefaultPolicy(), FailureWindow: time.Hour, HistorySize: 50},
		Now:    time.Now,
	}
	cfg := web.Config{
		PlatformName: "Acme", Dev: true, Mailbox: st, Logger: quiet,
		Accounts: accounts, Sessions: sessions, MFA: factors, Login: logins, Audit: st, BaseURL: baseURL,
		RequestInfo: func(*http.Request) (string, string) { return testIP, "req_test" },
	}
	if configure != nil {
		configure(&cfg)
	}
	pages, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	pages.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &site{t: t, store: st, accounts: accounts, sessions: sessions, mfa: factors, login: logins, pages: pages, url: srv.URL}
}

// client is one browser: a cookie jar, and redirects not followed so that
// the tests see them.
type client struct {
	s    *site
	http *http.Client
	// site is the Sec-Fetch-Site header of form posts; "" sends none.
	site string
}

func (s *site) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{s: s, site: "same-origin", http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) do(req *http.Request) response {
	c.s.t.Helper()
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36")
	resp, err := c.http.Do(req)
	if err != nil {
		c.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

func (c *client) get(path string) response {
	c.s.t.Helper()
	req, _ := http.NewRequest("GET", c.s.url+path, nil)
	return c.do(req)
}

// post sends a form of name and value pairs, as a page of c.site would.
func (c *client) post(path string, kv ...string) response {
	c.s.t.Helper()
	req := c.formRequest(path, kv...)
	if c.site != "" {
		req.Header.Set("Sec-Fetch-Site", c.site)
	}
	return c.do(req)
}

// postFrom sends a form as a page of origin would, from a browser that
// sends an Origin but no Sec-Fetch-Site.
func (c *client) postFrom(origin, path string, kv ...string) response {
	c.s.t.Helper()
	req := c.formRequest(path, kv...)
	req.Header.Set("Origin", origin)
	return c.do(req)
}

func (c *client) formRequest(path string, kv ...string) *http.Request {
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", c.s.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// sameDevice is a new browser session on c's device: its device cookie and
// no other.
func (c *client) sameDevice() *client {
	n := c.s.client()
	u, _ := url.Parse(c.s.url)
	if ck := c.cookie("warden_device"); ck != nil {
		n.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
	}
	return n
}

// cookie returns the browser's cookie called name, as sent to every page.
func (c *client) cookie(name string) *http.Cookie { return c.cookieAt("/", name) }

// cookieAt returns the browser's cookie called name, as sent to path.
func (c *client) cookieAt(path, name string) *http.Cookie {
	u, _ := url.Parse(c.s.url + path)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// resolves tells whether a session token still opens a session.
func (s *site) resolves(token string) bool {
	_, _, err := s.sessions.Resolve(context.Background(), token)
	return err == nil
}

// expect checks a response's status, its redirect target (when status is a
// redirect) or the substrings of its body.
func expect(t *testing.T, what string, res response, status int, want ...string) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d; Location %q; body:\n%s", what, res.status, status, res.header.Get("Location"), res.body)
	}
	if status >= 300 && status < 400 {
		if len(want) > 0 && res.header.Get("Location") != want[0] {
			t.Fatalf("%s: redirect to %q, want %q", what, res.header.Get("Location"), want[0])
		}
		return
	}
	for _, s := range want {
		if !strings.Contains(res.body, s) {
			t.Errorf("%s: body lacks %q; body:\n%s", what, s, res.body)
		}
	}
	if strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
		checkPageSecurity(t, res)
	}
}

func absent(t *testing.T, what string, res response, notWant ...string) {
	t.Helper()
	for _, s := range notWant {
		if strings.Contains(res.body, s) {
			t.Errorf("%s: body contains %q", what, s)
		}
	}
}

// emails lists the emails queued for "to", newest first.
func (s *site) emails(to string) []notify.Email {
	s.t.Helper()
	msgs, err := s.store.ListOutbox(context.Background(), store.OutboxFilter{Limit: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []notify.Email
	for _, m := range msgs { // newest first
		if m.Kind != outbox.KindEmail {
			continue
		}
		var e notify.Email
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			s.t.Fatal(err)
		}
		if e.To == to {
			out = append(out, e)
		}
	}
	return out
}

// link finds the newest email to "to" whose link has this path, and returns
// the link's path and query, ready for client.get.
func (s *site) link(to, path string) string {
	s.t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=[A-Za-z0-9_-]+`)
	for _, e := range s.emails(to) {
		if l := re.FindString(e.Text); l != "" {
			return l
		}
	}
	s.t.Fatalf("no email to %s with a %s link", to, path)
	return ""
}

// signedUp registers email with goodPassword and confirms it, through the pages.
func (s *site) signedUp(email string) {
	s.t.Helper()
	c := s.client()
	expect(s.t, "sign up", c.post("/signup", "email", email, "password", goodPassword), 303, "/signup/sent")
	expect(s.t, "confirm", c.post("/verify-email", "token", tokenOf(s.link(email, "/verify-email"))), 303, "/verify-email/done")
}

func tokenOf(link string) string {
	_, token, _ := strings.Cut(link, "?token=")
	return token
}

// loggedIn returns a client logged in as email. A new browser of an
// account that logged in before confirms the login from the email's link.
func (s *site) loggedIn(email, pw string) *client {
	s.t.Helper()
	c := s.client()
	res := c.post("/login", "email", email, "password", pw)
	if res.status == 303 && res.header.Get("Location") == "/login/challenge" {
		s.confirmDevice(email)
		res = c.get("/login/challenge")
	}
	expect(s.t, "log in", res, 303, "/account/security-center")
	return c
}

// confirmDevice follows the newest new-device email's link to email, in
// another browser, and confirms the login.
func (s *site) confirmDevice(email string) {
	s.t.Helper()
	expect(s.t, "confirm the device", s.client().post("/confirm-device", "token", tokenOf(s.link(email, "/confirm-device"))), 200, "Login confirmed")
}

func TestSignUpConfirmLogIn(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c := s.client()

	res := c.get("/signup")
	expect(t, "signup page", res, 200,
		`<form method="post" action="/signup" novalidate>`,
		`autocomplete="email"`, `autocomplete="new-password"`, `minlength="10"`,
		`for="signup-email"`, `for="signup-password"`, "10 to 128 characters", `aria-describedby="signup-password-hint"`,
		`href="/login"`, ">Log in</a>", ">Sign up</a>")
	absent(t, "signup page", res, "error-summary", "autofocus")

	// Errors come back on the form, with the email kept and the password not.
	res = c.post("/signup", "email", "", "password", "")
	expect(t, "empty signup", res, 422, `role="alert"`, `aria-live="assertive"`, `href="#signup-email"`, "Enter your email address.",
		`href="#signup-password"`, "Choose a password.", `aria-invalid="true"`)
	if strings.Count(res.body, " autofocus") != 1 || !regexp.MustCompile(`id="signup-email"[^>]*autofocus`).MatchString(res.body) {
		t.Errorf("the first invalid field (email) should have the only autofocus:\n%s", res.body)
	}
	res = c.post("/signup", "email", "alice@example.com", "password", "password123")
	expect(t, "weak password", res, 422, "too easy to guess", `value="alice@example.com"`,
		`aria-describedby="signup-password-hint signup-password-error"`, `class="feedback"`, "<li>")
	absent(t, "weak password", res, "password123")
	expect(t, "short password", c.post("/signup", "email", "alice@example.com", "password", "abc"), 422, "Use at least 10 characters.")
	expect(t, "password with the email", c.post("/signup", "email", "alice.smith@example.com", "password", "alice.smith likes long walks"),
		422, "Do not use your email address")
	expect(t, "invalid email", c.post("/signup", "email", "alice@localhost", "password", goodPassword), 422,
		"Enter an email address like name@example.com.", `value="alice@localhost"`)

	expect(t, "signup", c.post("/signup", "email", "alice@example.com", "password", goodPassword), 303, "/signup/sent")
	expect(t, "check your email", c.get("/signup/sent"), 200, "Check your email", `href="/dev/mailbox"`)
	// The same answer for an address that has an account.
	expect(t, "signup again", c.post("/signup", "email", "Alice@Example.com", "password", goodPassword), 303, "/signup/sent")

	// Not confirmed yet: the login explains, and offers a new link.
	res = c.post("/login", "email", "alice@example.com", "password", goodPassword)
	expect(t, "unconfirmed login", res, 403, "Confirm your email address first", `href="/signup?email=alice%40example.com"`)
	expect(t, "new link page", c.get("/signup?email=alice%40example.com"), 200, `value="alice@example.com"`)

	// Opening the link only shows a button: it does not spend the token.
	link := s.link("alice@example.com", "/verify-email")
	for range 2 {
		expect(t, "verify page", c.get(link), 200, "Confirm my email", `<input type="hidden" name="token" value="`+tokenOf(link)+`">`,
			`<form method="post" action="/verify-email">`)
	}
	expect(t, "still unconfirmed", c.post("/login", "email", "alice@example.com", "password", goodPassword), 403)
	expect(t, "confirm", c.post("/verify-email", "token", tokenOf(link)), 303, "/verify-email/done")
	expect(t, "confirmed", c.get("/verify-email/done"), 200, "Your email address is confirmed", `href="/login"`)
	expect(t, "confirmed page is shown once", c.get("/verify-email/done"), 303, "/login")
	expect(t, "link used", c.post("/verify-email", "token", tokenOf(link)), 400, "This link does not work")
	expect(t, "no token", c.get("/verify-email"), 400, "This link does not work")

	// Wrong password and unknown address answer alike.
	wrong := c.post("/login", "email", "alice@example.com", "password", "not my password at all")
	expect(t, "wrong password", wrong, 401, "The email address or password is wrong.", `href="/forgot-password"`, `value="alice@example.com"`)
	if !regexp.MustCompile(`class="error-summary"[^>]*autofocus`).MatchString(wrong.body) {
		t.Errorf("the error summary should take the focus when no field is at fault")
	}
	unknown := c.post("/login", "email", "nobody@example.com", "password", "not my password at all")
	expect(t, "unknown email", unknown, 401, "The email address or password is wrong.")
	expect(t, "empty login", c.post("/login", "email", "", "password", ""), 422, "Enter your email address.", "Enter your password.")

	expect(t, "login", c.post("/login", "email", "alice@example.com", "password", goodPassword), 303, "/account/security-center")
	sess, dev := c.cookie("warden_session"), c.cookie("warden_device")
	if sess == nil || !strings.HasPrefix(sess.Value, "wss_") || dev == nil || !strings.HasPrefix(dev.Value, "wdv_") {
		t.Fatalf("cookies after login: session %v, device %v", sess, dev)
	}
	res = c.get("/account")
	expect(t, "account", res, 200, "alice@example.com", `href="/account/password"`, `href="/account/sessions"`,
		`href="/account/anti-phishing"`, `href="/account/activity"`, `href="/account/freeze"`,
		`<a href="/account" aria-current="page">Account</a>`, `<form class="nav-form" method="post" action="/logout">`, "Confirmed")
	absent(t, "account", res, ">Sign up</a>", ">Log in</a>")
	expect(t, "login page when logged in", c.get("/login"), 303, "/account/security-center")

	// A second login on this browser keeps its device.
	c.post("/logout")
	expect(t, "login again", c.post("/login", "email", "alice@example.com", "password", goodPassword), 303, "/account/security-center")
	if got := c.cookie("warden_device"); got == nil || got.Value != dev.Value {
		t.Errorf("device cookie changed on a second login: %v → %v", dev, got)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string
		secure bool
	}{{"http://warden.test", false}, {"https://warden.test", true}} {
		s := newSite(t, tc.base)
		s.signedUp("bob@example.com")
		res := s.client().post("/login", "email", "bob@example.com", "password", goodPassword)
		expect(t, "login", res, 303, "/account/security-center")
		cookies := map[string]*http.Cookie{}
		for _, c := range (&http.Response{Header: res.header}).Cookies() {
			cookies[c.Name] = c
		}
		for _, name := range []string{"warden_session", "warden_device"} {
			c := cookies[name]
			if c == nil {
				t.Fatalf("%s: no %s cookie", tc.base, name)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.secure || c.Path != "/" {
				t.Errorf("%s: cookie %s: HttpOnly %v SameSite %v Secure %v Path %q", tc.base, name, c.HttpOnly, c.SameSite, c.Secure, c.Path)
			}
		}
	}
}

func TestSignedOutAndNext(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("carol@example.com")
	c := s.client()
	for _, path := range []string{"/account", "/account/password", "/account/sessions", "/account/anti-phishing", "/account/activity?before=x", "/account/freeze"} {
		expect(t, path, c.get(path), 303, "/login?next="+url.QueryEscape(path))
	}
	for _, path := range []string{"/account/password", "/account/sessions", "/account/anti-phishing", "/account/freeze"} {
		expect(t, "POST "+path, c.post(path), 303, "/login?next="+url.QueryEscape(path))
	}
	// A stale session cookie counts as signed out.
	u, _ := url.Parse(s.url)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "warden_session", Value: "wss_stale", Path: "/"}})
	expect(t, "stale cookie", c.get("/account"), 303, "/login?next=%2Faccount")

	res := c.get("/login?next=" + url.QueryEscape("/account/sessions?x=1"))
	expect(t, "login page keeps next", res, 200, `<input type="hidden" name="next" value="/account/sessions?x=1">`)
	expect(t, "login goes to next", c.post("/login", "email", "carol@example.com", "password", goodPassword, "next", "/account/sessions?x=1"),
		303, "/account/sessions?x=1")

	for _, next := range []string{
		"https://evil.example/", "//evil.example/x", "/\\evil.example", "\\\\evil.example", "/\t/evil.example",
		"javascript:alert(1)", "evil.example", "/ /evil.example", "http:/evil.example",
	} {
		c := c.sameDevice()
		expect(t, "next "+next, c.post("/login", "email", "carol@example.com", "password", goodPassword, "next", next), 303, "/account/security-center")
		page := c.get("/login?next=" + url.QueryEscape(next))
		if page.status != 303 || page.header.Get("Location") != "/account/security-center" {
			t.Errorf("login page with next %q while logged in: %d %q", next, page.status, page.header.Get("Location"))
		}
	}
	fresh := s.client()
	absent(t, "login page drops a foreign next", fresh.get("/login?next="+url.QueryEscape("//evil.example")), `name="next"`)
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("dave@example.com")
	c := s.loggedIn("dave@example.com", goodPassword)
	c.site = "cross-site"
	for _, path := range []string{"/login", "/signup", "/logout", "/forgot-password", "/verify-email", "/reset-password", "/freeze",
		"/account/password", "/account/sessions", "/account/anti-phishing", "/account/freeze"} {
		expect(t, "cross-site "+path, c.post(path, "email", "dave@example.com", "password", goodPassword, "code", "EVIL CODE", "others", "1"),
			403, "sent from another site")
	}
	// An Origin of another site, without Sec-Fetch-Site, is refused too.
	expect(t, "foreign origin", c.postFrom("https://evil.example", "/account/freeze"), 403)
	// Nothing changed: still logged in, not frozen.
	expect(t, "still logged in", c.get("/account"), 200, "dave@example.com")
	// Same-origin posts pass.
	c.site = "same-origin"
	expect(t, "same origin", c.post("/account/sessions", "others", "1"), 303, "/account/sessions")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("erin@example.com")
	c := s.loggedIn("erin@example.com", goodPassword)
	token := c.cookie("warden_session").Value
	expect(t, "logout", c.post("/logout"), 303, "/login")
	if c.cookie("warden_session") != nil {
		t.Error("the session cookie survived the logout")
	}
	res := c.get("/login")
	expect(t, "logged out notice", res, 200, `<div class="notice success" role="status">You are logged out.</div>`)
	absent(t, "notice shown once", c.get("/login"), "You are logged out.")
	if s.resolves(token) {
		t.Error("the session still resolves after logout")
	}
	expect(t, "logout when logged out", c.post("/logout"), 303, "/login")
}

func TestChangePasswordAndActivity(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("frank@example.com")
	other := s.loggedIn("frank@example.com", goodPassword)
	c := s.client()
	expect(t, "failed login", c.post("/login", "email", "frank@example.com", "password", "wrong password here"), 401)
	c = s.loggedIn("frank@example.com", goodPassword)

	res := c.get("/account/password")
	expect(t, "password page", res, 200, `autocomplete="current-password"`, `autocomplete="new-password"`,
		`<input type="email" autocomplete="username" value="frank@example.com" hidden readonly>`)
	expect(t, "wrong current", c.post("/account/password", "current_password", "not it at all", "new_password", newPassword),
		422, "Your current password is wrong.", `href="#change-current"`)
	res = c.post("/account/password", "current_password", goodPassword, "new_password", "qwertyuiop")
	expect(t, "weak new", res, 422, "too easy to guess", `href="#change-new"`, `class="feedback"`)
	if !regexp.MustCompile(`id="change-new"[^>]*autofocus`).MatchString(res.body) {
		t.Error("the new password field should take the focus")
	}
	expect(t, "empty", c.post("/account/password"), 422, "Enter your current password.", "Choose a new password.")
	expect(t, "change", c.post("/account/password", "current_password", goodPassword, "new_password", newPassword), 303, "/account")
	expect(t, "changed notice", c.get("/account"), 200, "Your password was changed.")
	expect(t, "still logged in here", c.get("/account/sessions"), 200)
	expect(t, "the other session ended", other.get("/account"), 303, "/login?next=%2Faccount")
	expect(t, "old password fails", s.client().post("/login", "email", "frank@example.com", "password", goodPassword), 401)
	s.loggedIn("frank@example.com", newPassword)

	res = c.get("/account/activity")
	expect(t, "activity", res, 200, "Account created", "Email address confirmed", "Logged in", "Failed login", "Wrong password.",
		"Password changed", testIP, "Chrome on Linux", "Mozilla/5.0 (X11; Linux x86_64)")
	// Newest first.
	if i, j := strings.Index(res.body, "Password changed"), strings.Index(res.body, "Account created"); i < 0 || j < i {
		t.Errorf("activity is not newest first")
	}
	expect(t, "bad cursor", c.get("/account/activity?before=nonsense"), 400)
}

func TestActivityPages(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("gina@example.com")
	c := s.loggedIn("gina@example.com", goodPassword)
	for i := range 50 {
		c.post("/account/sessions", "others", "1") // nothing to revoke: no record
		c.post("/account/anti-phishing", "code", fmt.Sprintf("code %d", i))
	}
	res := c.get("/account/activity")
	expect(t, "first page", res, 200, "Older events")
	older := regexp.MustCompile(`href="/account/activity\?before=([^"]+)"`).FindStringSubmatch(res.body)
	if older == nil {
		t.Fatal("no link to older events")
	}
	res = c.get("/account/activity?before=" + older[1])
	expect(t, "second page", res, 200, "Account created", "Newest events")
	absent(t, "second page", res, "Older events")
}

func TestSessionsPage(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("hana@example.com")
	a := s.loggedIn("hana@example.com", goodPassword)
	b := s.loggedIn("hana@example.com", goodPassword)
	third := s.loggedIn("hana@example.com", goodPassword)

	res := a.get("/account/sessions")
	expect(t, "sessions", res, 200, "This session", "Log out everywhere else", "all 2 other sessions", testIP, "Chrome on Linux")
	if n := strings.Count(res.body, `name="session"`); n != 2 {
		t.Errorf("%d revoke buttons, want 2 (the current session logs out instead)", n)
	}
	ids := regexp.MustCompile(`name="session" value="([^"]+)"`).FindAllStringSubmatch(res.body, -1)
	// Revoke one of the others: find b's session by its cookie.
	bSess, _, err := s.sessions.Resolve(context.Background(), b.cookie("warden_session").Value)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range ids {
		found = found || m[1] == bSess.ID
	}
	if !found {
		t.Fatalf("session %s not listed", bSess.ID)
	}
	expect(t, "revoke", a.post("/account/sessions", "session", bSess.ID), 303, "/account/sessions")
	expect(t, "revoked notice", a.get("/account/sessions"), 200, "The session was logged out.", "the other session")
	expect(t, "b is out", b.get("/account"), 303)
	expect(t, "revoke again", a.post("/account/sessions", "session", bSess.ID), 303, "/account/sessions")
	expect(t, "gone notice", a.get("/account/sessions"), 200, "That session had already ended.")
	expect(t, "someone else's session", a.post("/account/sessions", "session", "ses_not_mine"), 303, "/account/sessions")

	expect(t, "others", a.post("/account/sessions", "others", "1"), 303, "/account/sessions")
	res = a.get("/account/sessions")
	expect(t, "only one left", res, 200, "Every other session was logged out.", "This is your only session.")
	absent(t, "only one left", res, "Log out everywhere else")
	expect(t, "third is out", third.get("/account"), 303)

	// Revoking the current session from the list is a logout.
	aSess, _, _ := s.sessions.Resolve(context.Background(), a.cookie("warden_session").Value)
	expect(t, "revoke current", a.post("/account/sessions", "session", aSess.ID), 303, "/login")
	expect(t, "a is out", a.get("/account"), 303)
}

func TestAntiPhishingCode(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("ivan@example.com")
	c := s.loggedIn("ivan@example.com", goodPassword)

	expect(t, "page", c.get("/account/anti-phishing"), 200, "You have not chosen a code yet.", `maxlength="20"`, `autocomplete="off"`, "Save the code")
	expect(t, "account says not set", c.get("/account"), 200, "Not set")
	expect(t, "too short", c.post("/account/anti-phishing", "code", "ab"), 422, "The code must be 4 to 20 characters.")
	expect(t, "markup", c.post("/account/anti-phishing", "code", "<b>hello</b>"), 422, "may hold letters", `value="&lt;b&gt;hello&lt;/b&gt;"`)
	expect(t, "set", c.post("/account/anti-phishing", "code", "  BLUE-FALCON "), 303, "/account/anti-phishing")
	res := c.get("/account/anti-phishing")
	expect(t, "masked", res, 200, "Your anti-phishing code was saved.", `<span class="secret" id="current-code">BL••••••••N</span>`, "Change the code")
	absent(t, "masked", res, "BLUE-FALCON")
	expect(t, "account says set", c.get("/account"), 200, `<span class="badge success">Set</span>`)
}

func TestForgotAndResetPassword(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("jane@example.com")
	loggedIn := s.loggedIn("jane@example.com", goodPassword)
	c := s.client()

	expect(t, "page", c.get("/forgot-password"), 200, `autocomplete="email"`, "Send the reset link")
	expect(t, "empty", c.post("/forgot-password", "email", " "), 422, "Enter your email address.")
	expect(t, "unknown", c.post("/forgot-password", "email", "nobody@example.com"), 303, "/forgot-password/sent")
	expect(t, "not an address", c.post("/forgot-password", "email", "nonsense"), 303, "/forgot-password/sent")
	expect(t, "known", c.post("/forgot-password", "email", "jane@example.com"), 303, "/forgot-password/sent")
	expect(t, "sent", c.get("/forgot-password/sent"), 200, "If an account uses this address")

	link := s.link("jane@example.com", "/reset-password")
	expect(t, "reset page", c.get(link), 200, "Choose a new password", `autocomplete="new-password"`,
		`<input type="hidden" name="token" value="`+tokenOf(link)+`">`)
	expect(t, "no token", c.get("/reset-password"), 400, "This reset link does not work", `href="/forgot-password"`)
	expect(t, "weak", c.post("/reset-password", "token", tokenOf(link), "password", "jane@example.com1"), 422, "Do not use your email address")
	expect(t, "empty", c.post("/reset-password", "token", tokenOf(link)), 422, "Choose a new password.")
	expect(t, "bad token", c.post("/reset-password", "token", "nope", "password", newPassword), 400, "This reset link does not work")
	expect(t, "reset", c.post("/reset-password", "token", tokenOf(link), "password", newPassword), 303, "/login")
	expect(t, "reset notice", c.get("/login"), 200, "Your password was reset")
	expect(t, "used", c.post("/reset-password", "token", tokenOf(link), "password", newPassword), 400, "This reset link does not work")
	expect(t, "sessions ended", loggedIn.get("/account"), 303)
	expect(t, "old password", s.client().post("/login", "email", "jane@example.com", "password", goodPassword), 401)
	s.loggedIn("jane@example.com", newPassword)
}

func TestFreezeByLink(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("kim@example.com")
	c := s.loggedIn("kim@example.com", goodPassword)
	// A security email (here: the anti-phishing code was set) carries the link.
	expect(t, "set code", c.post("/account/anti-phishing", "code", "GREEN TEA"), 303)
	link := s.link("kim@example.com", "/freeze")

	for range 2 {
		expect(t, "freeze page", c.get(link), 200, "Freeze your account?", "What freezing does", "Freeze my account",
			`<form method="post" action="/freeze">`)
	}
	expect(t, "not frozen by opening the link", c.get("/account"), 200)
	expect(t, "no token", c.get("/freeze"), 400, "This freeze link does not work")
	expect(t, "bad token", c.post("/freeze", "token", "nope"), 400, "This freeze link does not work")
	expect(t, "freeze", c.post("/freeze", "token", tokenOf(link)), 303, "/frozen")
	if c.cookie("warden_session") != nil {
		t.Error("the session cookie of the frozen account survived")
	}
	expect(t, "frozen page", c.get("/frozen"), 200, "Your account is frozen", "Done. Every session was logged out", "Contact Acme support")
	res := c.get("/frozen")
	expect(t, "frozen help", res, 200, "When an account is frozen")
	absent(t, "frozen help", res, "Done.")
	expect(t, "link used", c.post("/freeze", "token", tokenOf(link)), 400)
	res = c.post("/login", "email", "kim@example.com", "password", goodPassword)
	expect(t, "frozen login", res, 403, "This account is frozen", `href="/frozen"`)
	expect(t, "frozen login with a wrong password", c.post("/login", "email", "kim@example.com", "password", "wrong wrong wrong"),
		401, "The email address or password is wrong.")
}

func TestFreezeFromAccount(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("lee@example.com")
	c := s.loggedIn("lee@example.com", goodPassword)
	other := s.loggedIn("lee@example.com", goodPassword)
	expect(t, "confirm page", c.get("/account/freeze"), 200, "Freeze your account?", "Yes, freeze my account", `href="/account">Cancel</a>`)
	expect(t, "freeze", c.post("/account/freeze"), 303, "/frozen")
	expect(t, "frozen", c.get("/frozen"), 200, "Your account is frozen")
	expect(t, "logged out", c.get("/account"), 303)
	expect(t, "other logged out", other.get("/account"), 303)
	expect(t, "activity shows it to staff only now", s.client().post("/login", "email", "lee@example.com", "password", goodPassword), 403)
}

func TestAccountPagesAreOffWithoutServices(t *testing.T) {
	t.Parallel()
	mux := newServer(t, false, nil)
	for _, path := range []string{"/login", "/signup", "/account"} {
		if res := get(mux, "GET", path); res.status != 404 {
			t.Errorf("%s: status %d without account services, want 404", path, res.status)
		}
	}
	absent(t, "home", get(mux, "GET", "/"), ">Log in</a>")
	if _, err := web.New(web.Config{Accounts: &account.Service{}}); err == nil {
		t.Error("New accepted Accounts without Sessions and Audit")
	}
}

func TestFormLimits(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c := s.client()
	huge := strings.Repeat("a", 70<<10)
	expect(t, "huge form", c.post("/login", "email", huge), 413)
	long := strings.Repeat("a", 5000)
	expect(t, "long email", c.post("/signup", "email", long+"@example.com", "password", goodPassword), 422, "at most 254 characters")
	expect(t, "long password", c.post("/signup", "email", "max@example.com", "password", long), 422, "Use at most 128 characters.")
	expect(t, "long login", c.post("/login", "email", "max@example.com", "password", long), 401, "The email address or password is wrong.")
}

func TestOverloaded(t *testing.T) {
	t.Parallel()
	// One worker, no queue, and a hash slow enough to hold the worker while
	// the pages ask for another.
	hasher, err := password.NewHasher(password.Params{MemoryKiB: 64 << 10, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32},
		password.Options{Workers: 1, Queue: -1})
	if err != nil {
		t.Fatal(err)
	}
	s := newSiteWith(t, "http://warden.test", hasher)
	c := s.client()
	for _, tc := range []struct {
		path string
		form []string
	}{
		{"/login", []string{"email", "olga@example.com", "password", goodPassword}},
		{"/signup", []string{"email", "olga@example.com", "password", goodPassword}},
	} {
		done := make(chan struct{})
		go func() { defer close(done); _, _ = hasher.Hash(context.Background(), "hold the only worker") }()
		for hasher.Stats().InFlight == 0 {
			time.Sleep(time.Millisecond)
		}
		res := c.post(tc.path, tc.form...)
		<-done
		expect(t, tc.path, res, 503, "Too many people are logging in right now.", `value="olga@example.com"`)
		if res.header.Get("Retry-After") == "" {
			t.Errorf("%s: no Retry-After", tc.path)
		}
	}
}
