package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/web"
)

const staffPassword = "amber lantern over quiet harbours"

// createStaff adds a staff account as `warden admin create-staff` does and
// returns it with its one-time password.
func (s *site) createStaff(email, role string) (account.Account, string) {
	s.t.Helper()
	a, oneTime, err := s.accounts.CreateStaff(context.Background(), email, role, account.Meta{Actor: "system"})
	if err != nil {
		s.t.Fatal(err)
	}
	return a, oneTime
}

// staffLoggedIn returns a client logged in to the console as a new staff
// member with role, who has replaced the one-time password with staffPassword
// and set up an authenticator app.
func (s *site) staffLoggedIn(email, role string) (*client, account.Account) {
	s.t.Helper()
	c, a, _ := s.staffEnrolled(email, role)
	return c, a
}

// staffEnrolled is staffLoggedIn, and returns the authenticator app's key.
func (s *site) staffEnrolled(email, role string) (*client, account.Account, string) {
	s.t.Helper()
	a, oneTime := s.createStaff(email, role)
	c := s.client()
	expect(s.t, "console login", c.post("/console/login", "email", email, "password", oneTime), 303, "/console/password")
	expect(s.t, "set password", c.post("/console/password", "current_password", oneTime, "new_password", staffPassword), 303, "/console")
	expect(s.t, "2FA first", c.get("/console"), 303, "/console/mfa")
	secret, _ := c.enrol("/console/mfa", "/console/mfa/confirm")
	return c, a, secret
}

// consoleCookie is the browser's console cookie, sent to /console only.
func (c *client) consoleCookie() *http.Cookie { return c.cookieAt("/console", "warden_console") }

func (c *client) setCookie(path, name, value string) {
	u, _ := url.Parse(c.s.url + path)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: path}})
}

// frozenUser signs a user up and freezes the account as its owner would.
func (s *site) frozenUser(email string) account.Account {
	s.t.Helper()
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	expect(s.t, "freeze", c.post("/account/freeze"), 303, "/frozen")
	return s.accountOf(email)
}

func (s *site) accountOf(email string) account.Account {
	s.t.Helper()
	var a account.Account
	err := s.store.Read(context.Background(), func(tx *store.Tx) error {
		_, key, err := account.NormalizeEmail(email)
		if err != nil {
			return err
		}
		a, err = tx.AccountByEmail(context.Background(), account.RealmUser, key)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

func (s *site) audit(userID string) []audit.Record {
	s.t.Helper()
	var out []audit.Record
	err := s.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		out, err = tx.ListAuditRecords(context.Background(), store.AuditFilter{UserID: userID, Limit: 100})
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

func TestConsoleLoginAndForcedPasswordChange(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	a, oneTime := s.createStaff("Sam@Acme.test", staff.RoleSupport)
	c := s.client()

	res := c.get("/console/login")
	expect(t, "login page", res, 200, `<form method="post" action="/console/login" novalidate>`, `autocomplete="username"`,
		`autocomplete="current-password"`, "Staff console", `aria-label="Console"`, `class="site-header console-header"`)
	absent(t, "login page", res, `href="/signup"`, `action="/logout"`, `href="/account"`)
	expect(t, "signed out", c.get("/console"), 303, "/console/login?next=%2Fconsole")
	expect(t, "signed out, a user page", c.get("/console/users/usr_x?tab=1"), 303, "/console/login?next="+url.QueryEscape("/console/users/usr_x?tab=1"))
	expect(t, "signed out, a post", c.post("/console/password"), 303, "/console/login?next=%2Fconsole%2Fpassword")

	expect(t, "empty", c.post("/console/login"), 422, "Enter your email address.", "Enter your password.")
	expect(t, "wrong password", c.post("/console/login", "email", "sam@acme.test", "password", "not the password at all"), 401,
		"The email address or password is wrong.", `value="sam@acme.test"`)
	expect(t, "unknown", c.post("/console/login", "email", "nobody@acme.test", "password", oneTime), 401, "The email address or password is wrong.")

	res = c.post("/console/login", "email", "sam@acme.test", "password", oneTime, "next", "/console/users/usr_x")
	expect(t, "one-time login", res, 303, "/console/password")
	ck := c.consoleCookie()
	if ck == nil || !strings.HasPrefix(ck.Value, "wss_") {
		t.Fatalf("console cookie after login: %v", ck)
	}
	if c.cookie("warden_session") != nil {
		t.Error("a console login set the user session cookie")
	}

	// Every console page sends to the password page until it is changed.
	for _, path := range []string{"/console", "/console?email=x%40y.test", "/console/users/usr_x", "/console/nowhere"} {
		expect(t, "must change: "+path, c.get(path), 303, "/console/password")
	}
	expect(t, "must change: post", c.post("/console/users/usr_x/unfreeze", "reason", "checked the passport"), 303, "/console/password")
	expect(t, "login page while signed in", c.get("/console/login"), 303, "/console")

	res = c.get("/console/password")
	expect(t, "password page", res, 200, "Choose your password", "One-time password", `autocomplete="new-password"`,
		`<input type="email" autocomplete="username" value="Sam@acme.test" hidden readonly>`, `action="/console/logout"`)
	absent(t, "password page", res, `href="/console">Users</a>`, "← Console")
	expect(t, "wrong one-time", c.post("/console/password", "current_password", "AAAAA-BBBBB", "new_password", staffPassword),
		422, "The one-time password is wrong.")
	expect(t, "weak", c.post("/console/password", "current_password", oneTime, "new_password", "password123"), 422, "too easy to guess")
	expect(t, "same", c.post("/console/password", "current_password", oneTime, "new_password", oneTime), 422, "Choose a password other than the current one.")
	expect(t, "empty", c.post("/console/password"), 422, "Enter your one-time password.", "Choose a new password.")
	expect(t, "set", c.post("/console/password", "current_password", oneTime, "new_password", staffPassword), 303, "/console")

	// The session cache still holds the account as it was at login: the
	// flag is checked again in the database, so there is no redirect loop.
	// The console then wants a second factor before anything else.
	expect(t, "2FA first", c.get("/console"), 303, "/console/mfa")
	expect(t, "2FA page", c.get("/console/mfa"), 200, "Your password was changed.", "Set up two-factor authentication")
	secret, _ := c.enrol("/console/mfa", "/console/mfa/confirm")
	res = c.get("/console")
	expect(t, "console", res, 200, `<a href="/console" aria-current="page">Users</a>`,
		`id="staff-email">Sam@acme.test</strong>`, `id="staff-role">support</strong>`, `action="/console/logout"`, "Find a user")
	expect(t, "password page again", c.get("/console/password"), 200, "Change your password", "Current password")

	expect(t, "one-time is spent", s.client().post("/console/login", "email", "sam@acme.test", "password", oneTime), 401)
	other := s.client()
	expect(t, "new password", other.post("/console/login", "email", "sam@acme.test", "password", staffPassword), 303, "/console/login/challenge")
	expect(t, "second factor", other.post("/console/login/challenge", "method", "totp", "code", code(t, secret, 0)), 303, "/console")
	expect(t, "next is followed", s.client().post("/console/login", "email", "sam@acme.test", "password", staffPassword, "next", "/console/users/usr_x?a=1"),
		303, "/console/login/challenge?next="+url.QueryEscape("/console/users/usr_x?a=1"))
	for _, next := range []string{"/account", "//evil.example/console", "https://evil.example/console", "/console/login", "/consolex"} {
		expect(t, "next "+next, s.client().post("/console/login", "email", "sam@acme.test", "password", staffPassword, "next", next), 303, "/console/login/challenge")
	}

	// The change and the logins are in the staff member's audit trail, as staff.
	var changed bool
	for _, rec := range s.audit(a.ID) {
		if rec.Action == "password.changed" {
			changed = rec.Actor == "staff:"+a.ID
		}
	}
	if !changed {
		t.Error("no password.changed record by the staff member")
	}

	// Log out.
	token := c.consoleCookie().Value
	expect(t, "logout", c.post("/console/logout"), 303, "/console/login")
	if c.consoleCookie() != nil {
		t.Error("the console cookie survived the logout")
	}
	expect(t, "logged out", c.get("/console/login"), 200, "You are logged out of the console.")
	if s.resolves(token) {
		t.Error("the staff session still resolves after logout")
	}
	expect(t, "other session lives", other.get("/console"), 200)
}

func TestConsoleCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base   string
		secure bool
	}{{"http://warden.test", false}, {"https://warden.test", true}} {
		s := newSite(t, tc.base)
		_, oneTime := s.createStaff("tess@acme.test", staff.RoleAdmin)
		res := s.client().post("/console/login", "email", "tess@acme.test", "password", oneTime)
		expect(t, "login", res, 303, "/console/password")
		var got *http.Cookie
		for _, c := range (&http.Response{Header: res.header}).Cookies() {
			switch c.Name {
			case "warden_console":
				got = c
			case "warden_session", "warden_device":
				t.Errorf("%s: a console login set %s", tc.base, c.Name)
			}
		}
		if got == nil {
			t.Fatalf("%s: no warden_console cookie", tc.base)
		}
		if !got.HttpOnly || got.SameSite != http.SameSiteStrictMode || got.Secure != tc.secure || got.Path != "/console" || got.Expires.IsZero() {
			t.Errorf("%s: console cookie: HttpOnly %v SameSite %v Secure %v Path %q Expires %v", tc.base, got.HttpOnly, got.SameSite, got.Secure, got.Path, got.Expires)
		}
	}
}

func TestConsoleAndUserSessionsNeverMix(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("uma@example.com")
	c := s.loggedIn("uma@example.com", goodPassword)
	userToken := c.cookie("warden_session").Value

	// Each login page knows only its own realm.
	expect(t, "user at the console login", s.client().post("/console/login", "email", "uma@example.com", "password", goodPassword), 401)
	_, oneTime := s.createStaff("vic@acme.test", staff.RoleAdmin)
	expect(t, "staff at the user login", s.client().post("/login", "email", "vic@acme.test", "password", oneTime), 401)

	// A signed-in user is signed out as far as the console goes.
	expect(t, "user at the console", c.get("/console"), 303, "/console/login?next=%2Fconsole")
	res := c.get("/console/login")
	expect(t, "console login page for a user", res, 200, "Log in to the console")
	absent(t, "console login page for a user", res, "uma@example.com", `href="/account"`)

	// A user's session token in the console cookie opens nothing, and the cookie is dropped.
	forged := s.client()
	forged.setCookie("/console", "warden_console", userToken)
	expect(t, "user token as console cookie", forged.get("/console"), 303, "/console/login?next=%2Fconsole")
	if forged.consoleCookie() != nil {
		t.Error("the console cookie holding a user session was kept")
	}

	// Both logged in, in one browser: each side sees only its own.
	expect(t, "staff login", c.post("/console/login", "email", "vic@acme.test", "password", oneTime), 303, "/console/password")
	expect(t, "staff password", c.post("/console/password", "current_password", oneTime, "new_password", staffPassword), 303, "/console")
	secret, _ := c.enrol("/console/mfa", "/console/mfa/confirm")
	staffToken := c.consoleCookie().Value
	if got := c.cookie("warden_session"); got == nil || got.Value != userToken {
		t.Fatalf("the console login touched the user session cookie: %v", got)
	}
	res = c.get("/console")
	expect(t, "console", res, 200, "vic@acme.test")
	absent(t, "console", res, "uma@example.com", `href="/account"`)
	res = c.get("/account")
	expect(t, "account", res, 200, "uma@example.com")
	absent(t, "account", res, "vic@acme.test", "/console")

	// A staff token in the user cookie opens no user page.
	forged = s.client()
	forged.setCookie("/", "warden_session", staffToken)
	expect(t, "staff token as user cookie", forged.get("/account"), 303, "/login?next=%2Faccount")
	expect(t, "staff token at the user login page", forged.get("/login"), 200, "Log in")

	// Logging out of one leaves the other.
	expect(t, "console logout", c.post("/console/logout"), 303, "/console/login")
	expect(t, "still a user", c.get("/account"), 200, "uma@example.com")
	expect(t, "staff login again", c.post("/console/login", "email", "vic@acme.test", "password", staffPassword), 303, "/console/login/challenge")
	expect(t, "staff second factor", c.post("/console/login/challenge", "method", "totp", "code", code(t, secret, 0)), 303, "/console")
	if got := c.cookie("warden_session"); got == nil || got.Value != userToken {
		t.Fatalf("the console challenge touched the user session cookie: %v", got)
	}
	expect(t, "user logout", c.post("/logout"), 303, "/login")
	expect(t, "still staff", c.get("/console"), 200, "vic@acme.test")
}

func TestConsoleFindAndUnfreeze(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	user := s.frozenUser("wes@example.com")
	c, member := s.staffLoggedIn("xena@acme.test", staff.RoleSupport)

	expect(t, "empty search", c.get("/console?email="), 422, "Enter the user&#39;s email address.")
	expect(t, "bad search", c.get("/console?email=nonsense"), 422, "Enter an email address like name@example.com.", `value="nonsense"`)
	expect(t, "no match", c.get("/console?email=nobody%40example.com"), 200, `id="no-match"`, "nobody@example.com")
	expect(t, "staff are not users", c.get("/console?email=xena%40acme.test"), 200, `id="no-match"`)
	expect(t, "found, any case", c.get("/console?email="+url.QueryEscape("  WES@Example.COM ")), 303, "/console/users/"+user.ID)

	res := c.get("/console/users/" + user.ID)
	expect(t, "user page", res, 200, `<h1 id="user-email">wes@example.com</h1>`, `id="frozen-state"`, "Frozen", "Reason: frozen by the owner",
		`<span class="badge success">Confirmed</span>`, "Not set", `id="no-sessions"`, "Recent activity", "Account frozen",
		"Logged in", "The user", "Chrome on Linux", testIP,
		`action="/console/users/`+user.ID+`/unfreeze"`, `<textarea id="unfreeze-reason" name="reason" rows="3" required minlength="5" maxlength="500"`,
		`<a href="/console" aria-current="page">Users</a>`)
	absent(t, "user page", res, `/freeze"`, goodPassword)

	post := func(reason string) response { return c.post("/console/users/"+user.ID+"/unfreeze", "reason", reason) }
	expect(t, "no reason", post("  "), 422, "Give a reason: it is kept in the audit log.", `href="#unfreeze-reason"`, `aria-invalid="true"`)
	expect(t, "short reason", post("ok"), 422, "Write at least 5 characters.", ">ok</textarea>")
	expect(t, "long reason", post(strings.Repeat("é", 501)), 422, "Write at most 500 characters.")
	expect(t, "markup kept as text", post("<b>"), 422, "&lt;b&gt;</textarea>")
	if !s.accountOf("wes@example.com").Frozen() {
		t.Fatal("an invalid reason unfroze the account")
	}
	reason := "passport and selfie checked on a video call"
	expect(t, "unfreeze", post("  "+reason+" "), 303, "/console/users/"+user.ID)
	res = c.get("/console/users/" + user.ID)
	expect(t, "unfrozen", res, 200, "The account was unfrozen.", `<span class="badge success">Active</span>`, "Account unfrozen",
		"Reason: "+reason, "Staff: xena@acme.test", `action="/console/users/`+user.ID+`/freeze"`, `id="freeze-reason"`)
	absent(t, "unfrozen", res, `id="frozen-state"`, `/unfreeze"`)
	expect(t, "unfreeze again", post(reason), 303, "/console/users/"+user.ID)
	expect(t, "stale", c.get("/console/users/"+user.ID), 200, "nothing was done")

	var found bool
	for _, rec := range s.audit(user.ID) {
		if rec.Action == "account.unfrozen" {
			found = true
			if rec.Actor != "staff:"+member.ID || rec.IP != testIP || rec.RequestID != "req_test" || !strings.Contains(string(rec.Data), reason) {
				t.Errorf("unfreeze record: actor %q ip %q request %q data %s", rec.Actor, rec.IP, rec.RequestID, rec.Data)
			}
		}
	}
	if !found {
		t.Fatal("no account.unfrozen record")
	}
	// The user can log in again and sees it in their activity.
	u := s.loggedIn("wes@example.com", goodPassword)
	expect(t, "user activity", u.get("/account/activity"), 200, "Account unfrozen by support")

	// Freeze again, from the console: the user's sessions end.
	expect(t, "freeze without reason", c.post("/console/users/"+user.ID+"/freeze"), 422, "Give a reason", `href="#freeze-reason"`)
	expect(t, "freeze", c.post("/console/users/"+user.ID+"/freeze", "reason", "account takeover reported by phone"), 303, "/console/users/"+user.ID)
	expect(t, "frozen notice", c.get("/console/users/"+user.ID), 200, "The account was frozen", "Reason: account takeover reported by phone")
	expect(t, "user logged out", u.get("/account"), 303)
	recs := s.audit(user.ID)
	if recs[0].Action != "account.frozen" || recs[0].Actor != "staff:"+member.ID {
		t.Errorf("newest record %s by %s, want account.frozen by staff:%s", recs[0].Action, recs[0].Actor, member.ID)
	}
	// Staff's reason is an internal note: the user's email does not quote it.
	if mail := s.emails("wes@example.com")[0]; !strings.Contains(mail.Subject, "frozen") ||
		strings.Contains(mail.Text, "takeover") || !strings.Contains(mail.Text, "by our security team") {
		t.Errorf("frozen email %q:\n%s", mail.Subject, mail.Text)
	}
	// The staff member's own sessions are recorded as staff actions.
	for _, rec := range s.audit(member.ID) {
		if strings.HasPrefix(rec.Action, "session.") && rec.Actor != "staff:"+member.ID {
			t.Errorf("%s by %q, want staff:%s", rec.Action, rec.Actor, member.ID)
		}
	}
	expect(t, "stale freeze", c.post("/console/users/"+user.ID+"/freeze", "reason", "twice in a row"), 303, "/console/users/"+user.ID)

	// Only users have a console page.
	expect(t, "unknown id", c.get("/console/users/usr_nobody"), 404, "There is no user with this id.", "Go to the console")
	expect(t, "staff id", c.get("/console/users/"+member.ID), 404)
	expect(t, "unfreeze a staff account", c.post("/console/users/"+member.ID+"/unfreeze", "reason", "not a user at all"), 404)
	expect(t, "console 404", c.get("/console/nowhere"), 404, `aria-label="Console"`)
}

func TestConsoleRolesAreEnforced(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	// A role that may read users but not change them, and not read the audit log.
	web.SetStaffAllows(s.pages, func(role, scope string) bool {
		if role == "reader" {
			return scope == "users:read"
		}
		return staff.Allows(role, scope)
	})
	user := s.frozenUser("yan@example.com")

	reader, _ := s.staffLoggedIn("rita@acme.test", "reader")
	expect(t, "reader finds", reader.get("/console?email=yan%40example.com"), 303, "/console/users/"+user.ID)
	res := reader.get("/console/users/" + user.ID)
	expect(t, "reader sees", res, 200, "yan@example.com", `id="frozen-state"`)
	absent(t, "reader sees", res, "<form method=\"post\" action=\"/console/users/", "Recent activity", "Unfreeze")
	for _, action := range []string{"unfreeze", "freeze"} {
		res = reader.post("/console/users/"+user.ID+"/"+action, "reason", "I should not be able to")
		expect(t, "reader posts "+action, res, 403, "Your role (reader) does not allow this.", "Go to the console")
	}

	// An unknown role gets nothing at all.
	nobody, _ := s.staffLoggedIn("nils@acme.test", "auditor")
	res = nobody.get("/console")
	expect(t, "no role: console", res, 200, `id="no-access"`, `id="staff-role">auditor</strong>`)
	absent(t, "no role: console", res, "Find a user", `href="/console">Users</a>`)
	expect(t, "no role: search", nobody.get("/console?email=yan%40example.com"), 403, "Your role (auditor) does not allow this.")
	expect(t, "no role: user page", nobody.get("/console/users/"+user.ID), 403)
	expect(t, "no role: unfreeze", nobody.post("/console/users/"+user.ID+"/unfreeze", "reason", "I should not be able to"), 403)

	if !s.accountOf("yan@example.com").Frozen() {
		t.Fatal("a refused unfreeze unfroze the account")
	}
	for _, rec := range s.audit(user.ID) {
		if rec.Action == "account.unfrozen" {
			t.Fatal("a refused unfreeze reached the audit log")
		}
	}
}

func TestConsoleRefusesCrossOriginPosts(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	user := s.frozenUser("zed@example.com")
	c, _ := s.staffLoggedIn("quinn@acme.test", staff.RoleAdmin)
	c.site = "cross-site"
	for _, path := range []string{"/console/login", "/console/logout", "/console/password",
		"/console/users/" + user.ID + "/unfreeze", "/console/users/" + user.ID + "/freeze"} {
		expect(t, "cross-site "+path, c.post(path, "email", "quinn@acme.test", "password", staffPassword, "reason", "cross-site request",
			"current_password", staffPassword, "new_password", "a brand new password for me"), 403, "sent from another site")
	}
	expect(t, "foreign origin", c.postFrom("https://evil.example", "/console/users/"+user.ID+"/unfreeze", "reason", "evil origin here"), 403)
	c.site = "same-origin"
	if !s.accountOf("zed@example.com").Frozen() {
		t.Fatal("a cross-site post unfroze the account")
	}
	expect(t, "still logged in", c.get("/console"), 200, "quinn@acme.test")
}

// Logging in on a browser that holds a session ends that session first.
func TestLoginEndsTheBrowsersPreviousSession(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("ann@example.com")
	s.signedUp("ben@example.com")
	c := s.loggedIn("ann@example.com", goodPassword)
	first := c.cookie("warden_session").Value
	expect(t, "login as ben", c.post("/login", "email", "ben@example.com", "password", goodPassword), 303, "/account/security-center")
	if s.resolves(first) {
		t.Fatal("ann's session survived a login as ben in the same browser")
	}
	expect(t, "ben", c.get("/account"), 200, "ben@example.com")
	second := c.cookie("warden_session").Value
	expect(t, "login as ben again", c.post("/login", "email", "ben@example.com", "password", goodPassword), 303, "/account/security-center")
	if s.resolves(second) {
		t.Fatal("the previous session survived a second login")
	}
	// A failed login leaves the session alone.
	third := c.cookie("warden_session").Value
	expect(t, "failed login", c.post("/login", "email", "ann@example.com", "password", "not her password"), 401)
	if !s.resolves(third) {
		t.Fatal("a failed login ended the browser's session")
	}
	// The logout is in ann's activity, with the device that did it.
	res := s.loggedIn("ann@example.com", goodPassword).get("/account/activity")
	expect(t, "activity", res, 200, "Logged out")
	if regexp.MustCompile(`Logged out</td>\s*<td>[^<]*</td>\s*<td>\s*<span class="muted">Unknown</span>`).MatchString(res.body) {
		t.Errorf("the logout shows an unknown device:\n%s", res.body)
	}
	var ua bool
	for _, rec := range s.audit(s.accountOf("ann@example.com").ID) {
		if rec.Action == "session.revoked" {
			ua = strings.Contains(string(rec.Data), `"user_agent":"Mozilla/5.0`)
		}
	}
	if !ua {
		t.Error("session.revoked does not record the user agent")
	}
}

func TestSupportURL(t *testing.T) {
	t.Parallel()
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) { c.SupportURL = "mailto:help@acme.test" })
	s.frozenUser("cat@example.com")
	c := s.client()
	expect(t, "frozen page", c.get("/frozen"), 200, `<a href="mailto:help@acme.test" id="contact-support">Contact Acme support</a>`)
	expect(t, "frozen login", c.post("/login", "email", "cat@example.com", "password", goodPassword), 403,
		`<a href="/frozen">What to do now</a> <a href="mailto:help@acme.test">Contact support</a>`)

	plain := newSite(t, "http://warden.test")
	absent(t, "no support URL", plain.client().get("/frozen"), "contact-support", "mailto:")
}

func TestLoginLimit(t *testing.T) {
	t.Parallel()
	calls := make(chan string, 10) // the page that asked
	var limited atomic.Bool
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		c.LoginLimit = func(r *http.Request) (time.Duration, error) {
			calls <- r.URL.Path
			if limited.Load() {
				return 1500 * time.Millisecond, nil
			}
			return 0, nil
		}
	})
	c := s.client()
	limited.Store(true)
	res := c.post("/login", "email", "limited@example.com", "password", goodPassword)
	expect(t, "user login", res, 429, "Too many login attempts. Wait 2 seconds and try again.", `value="limited@example.com"`)
	if got := res.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	// Only the client's address is limited: the account has its lockout lanes.
	if got := <-calls; got != "/login" {
		t.Errorf("user login asked the limit with %+v", got)
	}
	expect(t, "console login", c.post("/console/login", "email", "limited@acme.test", "password", goodPassword), 429, "Too many login attempts.")
	if got := <-calls; got != "/console/login" {
		t.Errorf("console login asked the limit with %+v", got)
	}
	limited.Store(false)
	expect(t, "not limited", c.post("/login", "email", "free@example.com", "password", goodPassword), 401)
	expect(t, "empty forms are not counted", c.post("/console/login"), 422)
	if len(calls) != 1 {
		t.Errorf("%d more limit checks, want 1", len(calls))
	}
}
