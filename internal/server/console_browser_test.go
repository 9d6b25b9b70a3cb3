package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/config"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// cheapHashing is the cheapest Argon2id that both the configuration (m ≥ 8
// MiB) and the password package (m×t ≥ 35840 KiB, OWASP's floor) accept.
var cheapHashing = []string{"WARDEN_PASSWORD_MEMORY_KIB", "12288", "WARDEN_PASSWORD_ITERATIONS", "3"}

// createStaff does what `warden admin create-staff` does, on the node's
// database, and returns the account and its one-time password.
func createStaff(t *testing.T, n *node, email, role string) (account.Account, string) {
	t.Helper()
	hasher, err := password.NewHasher(password.Params{MemoryKiB: 12288, Iterations: 3, Parallelism: 1, SaltLen: 16, KeyLen: 32}, password.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := n.srv.Store()
	accounts := &account.Service{
		Transact: func(ctx context.Context, fn func(account.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Hasher: hasher, Now: time.Now,
	}
	a, oneTime, err := accounts.CreateStaff(context.Background(), email, role, account.Meta{Actor: "system"})
	if err != nil {
		t.Fatal(err)
	}
	return a, oneTime
}

// A user freezes their account through the API; a support agent, new to the
// console, logs in with the one-time password in Chromium, is made to choose
// a password, finds the user by email, sees the freeze, unfreezes it with a
// reason, and the user can log in again. The audit log names the agent.
func TestBrowserConsoleUnfreeze(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	n, base := localhostNode(t, cheapHashing...)
	const (
		email         = "frozen.user@example.com"
		staffEmail    = "agent@ops.example"
		staffPassword = "amber lantern over quiet harbours"
		reason        = "passport and selfie checked on a video call, ticket 4711"
	)

	// The user signs up and freezes the account through the API.
	token := n.signUp(t, email)
	n.call(t, "POST", "/v1/account/freeze", nil, "Authorization", "Bearer "+token).expect(t, 200, "")
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": strongPassword}).expect(t, 403, "account_frozen")
	member, oneTime := createStaff(t, n, staffEmail, "support")

	submit := func(action string) int { return b.ClickNavigate(`form[action="` + action + `"] button[type="submit"]`) }
	wantPath := func(step, path string) {
		t.Helper()
		if got := b.URL(); got != base+path {
			t.Fatalf("%s: at %s, want %s", step, got, base+path)
		}
	}

	// Log in with the one-time password; the console insists on a new one.
	b.Navigate(base + "/console")
	wantPath("signed out", "/console/login?next=%2Fconsole")
	b.SendKeys("#console-login-email", staffEmail)
	b.SendKeys("#console-login-password", oneTime)
	submit("/console/login")
	wantPath("one-time login", "/console/password")
	if got := b.Text("h1"); got != "Choose your password" {
		t.Fatalf("password page h1 %q", got)
	}
	b.Navigate(base + "/console/users/" + member.ID)
	wantPath("every page waits for the new password", "/console/password")
	b.SendKeys("#console-current", oneTime)
	b.SendKeys("#console-new", staffPassword)
	b.ClickNavigate("#set-password")
	// Then a second factor, before anything else.
	wantPath("password set", "/console/mfa")
	if got := b.Text(".notice"); !strings.Contains(got, "Your password was changed") {
		t.Errorf("notice after the password change: %q", got)
	}
	enrolInBrowser(t, b)
	b.ClickNavigate("#codes-saved")
	wantPath("2FA on", "/console")
	if got := b.Text(".site-nav"); !strings.Contains(got, "Users") || !strings.Contains(got, "Log out") || strings.Contains(got, "Account") {
		t.Errorf("console navigation: %q", got)
	}

	// Find the user by email, in other capitals.
	b.SendKeys("#console-search-email", "Frozen.User@EXAMPLE.com")
	b.ClickNavigate("#search-user")
	var userID string
	if path := strings.TrimPrefix(b.URL(), base); strings.HasPrefix(path, "/console/users/") {
		userID = strings.TrimPrefix(path, "/console/users/")
	} else {
		t.Fatalf("search led to %s", b.URL())
	}
	if got := b.Text("#user-email"); got != email {
		t.Fatalf("user page for %q", got)
	}
	if got := b.Text("#user-state"); !strings.Contains(got, "Frozen") || !strings.Contains(got, "Confirmed") {
		t.Errorf("security state: %q", got)
	}
	if got := b.Text("#frozen-state"); !strings.Contains(got, "Frozen since") {
		t.Errorf("frozen notice: %q", got)
	}
	if got := b.Text("#user-activity"); !strings.Contains(got, "Account frozen") || !strings.Contains(got, "Logged in") {
		t.Errorf("recent activity: %q", got)
	}

	// Too short a reason is refused, with the focus on the field.
	b.SendKeys("#unfreeze-reason", "ok")
	if got := b.ClickNavigate("#unfreeze"); got != http.StatusUnprocessableEntity {
		t.Fatalf("short reason: status %d", got)
	}
	if got := b.Text("#error-summary"); !strings.Contains(got, "Write at least 5 characters.") {
		t.Errorf("error summary %q", got)
	}
	if got := browsertest.Eval[string](b, "document.activeElement ? document.activeElement.id : ''"); got != "unfreeze-reason" {
		t.Errorf("focus on %q after the error, want the reason", got)
	}
	browsertest.Eval[string](b, `document.getElementById("unfreeze-reason").value = ""`)
	b.SendKeys("#unfreeze-reason", reason)
	b.ClickNavigate("#unfreeze")
	wantPath("unfrozen", "/console/users/"+userID)
	if got := b.Text(".notice"); !strings.Contains(got, "The account was unfrozen") {
		t.Errorf("notice after unfreezing: %q", got)
	}
	if got := b.Text("#user-state"); !strings.Contains(got, "Active") || strings.Contains(got, "Frozen") {
		t.Errorf("state after unfreezing: %q", got)
	}
	if got := b.Text("#user-activity"); !strings.Contains(got, "Account unfrozen") || !strings.Contains(got, "Staff: "+staffEmail) {
		t.Errorf("activity after unfreezing: %q", got)
	}

	// The user can log in again; the audit log names the staff member.
	n.login(t, email, strongPassword)
	status, body := n.admin(t, "GET", "/admin/v1/audit?user_id="+url.QueryEscape(userID)+"&type=account.unfrozen", nil)
	if status != 200 {
		t.Fatalf("audit: %d %v", status, body)
	}
	raw, _ := json.Marshal(body["records"])
	var records []struct {
		Actor  string         `json:"actor"`
		Action string         `json:"action"`
		Data   map[string]any `json:"data"`
	}
	_ = json.Unmarshal(raw, &records)
	if len(records) != 1 || records[0].Action != "account.unfrozen" || records[0].Actor != "staff:"+member.ID || records[0].Data["reason"] != reason {
		t.Fatalf("audit records of the unfreeze: %s", raw)
	}

	// Log out of the console.
	b.ClickNavigate(".site-nav .nav-form button")
	wantPath("logged out", "/console/login")
	b.Navigate(base + "/console")
	wantPath("logged out for good", "/console/login?next=%2Fconsole")

	for _, e := range b.ConsoleErrors() {
		if strings.Contains(e, "status of 422") {
			continue
		}
		t.Errorf("console error: %s", e)
	}
}

// A staff session opens neither the user API nor introspection, and a user
// session does not open the console.
func TestConsoleSessionIsNotAUserSession(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := start(t, settings(dbURL, cheapHashing...), true)
	userToken := n.signUp(t, "ursula@example.com")
	_, oneTime := createStaff(t, n, "sid@ops.example", "admin")

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.PostForm(n.base+"/console/login", url.Values{"email": {"sid@ops.example"}, "password": {oneTime}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/password" {
		t.Fatalf("console login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var staffToken string
	for _, c := range resp.Cookies() {
		if c.Name == "warden_console" {
			staffToken = c.Value
		}
	}
	if staffToken == "" {
		t.Fatal("no console cookie")
	}

	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+staffToken).expect(t, 401, "unauthenticated")
	n.call(t, "GET", "/v1/session", nil, "Cookie", "warden_session="+staffToken).expect(t, 401, "unauthenticated")
	n.call(t, "GET", "/v1/sessions", nil, "Authorization", "Bearer "+staffToken).expect(t, 401, "unauthenticated")
	intro := n.call(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": staffToken}, "Authorization", "Bearer "+adminKey).expect(t, 200, "")
	if intro.body["active"] != false {
		t.Errorf("introspection of a staff session: %s", intro.raw)
	}

	req, _ := http.NewRequest("GET", n.base+"/console", nil)
	req.AddCookie(&http.Cookie{Name: "warden_console", Value: userToken})
	resp, err = (&http.Client{CheckRedirect: browser.CheckRedirect}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Errorf("a user session in the console cookie: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+userToken).expect(t, 200, "")
}

// WARDEN_SUPPORT_URL takes an absolute http(s) URL or a mailto: address.
func TestSupportURLConfig(t *testing.T) {
	t.Parallel()
	load := func(v string) (config.Config, error) {
		env := map[string]string{"WARDEN_SUPPORT_URL": v}
		return config.Load(config.Source{LookupEnv: func(k string) (string, bool) { s, ok := env[k]; return s, ok }}, true)
	}
	for _, ok := range []string{"", "https://help.example.com/frozen?lang=en", "http://localhost:9000", "mailto:support@example.com"} {
		c, err := load(ok)
		if err != nil || c.SupportURL != ok {
			t.Errorf("%q: %v, SupportURL %q", ok, err, c.SupportURL)
		}
	}
	for _, bad := range []string{"help.example.com", "/support", "javascript:alert(1)", "ftp://files.example.com", "https://",
		"mailto:", "mailto:not-an-address", "mailto:Support <s@example.com>", "https://user:pw@example.com/", "https://example.com/a b",
		`https://example.com/"onmouseover=x`, "data:text/html,hi"} {
		if _, err := load(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		} else if key, _ := config.ErrorKey(err); key != "WARDEN_SUPPORT_URL" {
			t.Errorf("%q: error names %q", bad, key)
		}
	}
}

// The login pages and the JSON API share the account's lockout lanes: five
// wrong passwords, through either, lock the lane of unrecognised devices,
// and both then answer 423 with when to retry. A staff account of the same
// email has lanes of its own. The frozen page links the configured support.
func TestLoginPagesShareTheAPILimitAndLinkSupport(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := start(t, settings(dbURL, append([]string{"WARDEN_SUPPORT_URL", "https://help.example.com/frozen"}, cheapHashing...)...), true)
	const email = "rita@example.com"
	n.signUp(t, email)
	post := func(path, email, pw string) (*http.Response, string) {
		t.Helper()
		resp, err := http.PostForm(n.base+path, url.Values{"email": {email}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	const wrong = "not the password at all"
	// The API from an unknown device: no device token.
	api := func(pw string) (int, string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
		resp, err := http.Post(n.base+"/v1/sessions", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Code string `json:"code"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Code
	}
	// One wrong password through the API, four through the page: the lane
	// of unknown devices locks.
	if status, code := api(wrong); status != 401 || code != "invalid_credentials" {
		t.Fatalf("wrong password through the API: %d %s", status, code)
	}
	for i := range 4 {
		if resp, _ := post("/login", email, wrong); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d on the page: %d, want 401", i+2, resp.StatusCode)
		}
	}
	resp, page := post("/login", "Rita@Example.com", strongPassword)
	if resp.StatusCode != http.StatusLocked || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many wrong attempts from this device.") {
		t.Fatalf("login page after five wrong passwords: %d at %s, Retry-After %q:\n%s", resp.StatusCode, resp.Request.URL, resp.Header.Get("Retry-After"), page)
	}
	if status, code := api(strongPassword); status != http.StatusLocked || code != "account_locked" {
		t.Fatalf("API after five wrong passwords: %d %s, want 423 account_locked", status, code)
	}
	// The owner's trusted device (the one that signed up) is not locked out.
	n.login(t, email, strongPassword)

	// The staff account of the same address is not locked by the user's lane.
	createStaff(t, n, email, "support")
	if resp, _ := post("/console/login", email, wrong); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("console login with the user's lane locked: %d, want 401", resp.StatusCode)
	}
	for range 4 {
		post("/console/login", email, wrong)
	}
	if resp, page := post("/console/login", email, wrong); resp.StatusCode != http.StatusLocked || !strings.Contains(page, "Staff console") {
		t.Fatalf("console login after five wrong passwords: %d\n%s", resp.StatusCode, page)
	}

	resp, err := http.Get(n.base + "/frozen")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `<a href="https://help.example.com/frozen" id="contact-support">`) {
		t.Errorf("the frozen page does not link to the support URL:\n%s", body)
	}
}

// `serve --dev` makes a demo console login with a one-time password, shows
// the same one after a restart, and stops showing it once it is replaced.
func TestDevDemoStaffLogin(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	env := settings(dbURL, cheapHashing...)
	n := start(t, env, true)
	first := n.srv.DevStaff
	if first.Email == "" || len(first.OneTimePassword) < 20 {
		t.Fatalf("demo staff login = %+v", first)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	n = start(t, env, true)
	if n.srv.DevStaff != first {
		t.Fatalf("after a restart the demo login is %+v, want %+v", n.srv.DevStaff, first)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path string, form url.Values) *http.Response {
		t.Helper()
		resp, err := browser.PostForm(n.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("/console/login", url.Values{"email": {first.Email}, "password": {first.OneTimePassword}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/password" {
		t.Fatalf("console login with the demo password: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := post("/console/password", url.Values{"current_password": {first.OneTimePassword}, "new_password": {"amber lantern over quiet harbours"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("replace the demo password: %d", resp.StatusCode)
	}
	if err := n.stop(); err != nil {
		t.Fatal(err)
	}
	n = start(t, env, true)
	if got := n.srv.DevStaff; got.Email != first.Email || got.OneTimePassword != "" {
		t.Fatalf("after the password was replaced the demo login is %+v", got)
	}
}
