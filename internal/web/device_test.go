package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/web"
)

// poll asks, as static/login-wait.js does, whether the new-device email's
// link was followed, and returns the answer's state and location.
func (c *client) poll(path string, kv ...string) (state, location string) {
	c.s.t.Helper()
	req := c.formRequest(path, kv...)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res := c.do(req)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		c.s.t.Fatalf("poll %s: %d %s", path, res.status, res.body)
	}
	var answer struct{ State, Location string }
	if err := json.Unmarshal([]byte(res.body), &answer); err != nil {
		c.s.t.Fatalf("poll %s: %v in %s", path, err, res.body)
	}
	return answer.State, answer.Location
}

// A known account's login from a new browser waits for the email's link;
// the link's page only shows the login and a button; the waiting page (its
// script, its button, its refresh) goes on once the button was pressed.
func TestNewDeviceEmail(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("ned@example.com")
	s.loggedIn("ned@example.com", goodPassword) // the first login: no email needed

	c := s.client()
	expect(t, "password", c.post("/login", "email", "ned@example.com", "password", goodPassword, "next", "/account/devices"), 303,
		"/login/challenge?next=%2Faccount%2Fdevices")
	if c.cookie("warden_session") != nil {
		t.Fatal("the password alone started a session on a new device")
	}
	res := c.get("/login/challenge?next=%2Faccount%2Fdevices")
	expect(t, "waiting page", res, 200, "<h1>Confirm this device</h1>", "We sent a link to your email to confirm this device",
		"this page continues by itself", "We ask because this login came from a new device.",
		`data-login-wait="/login/challenge/email" data-next="/account/devices"`, `src="/static/login-wait.js?v=`,
		`<noscript><meta http-equiv="refresh" content="5"></noscript>`,
		`<form method="post" action="/login/challenge/email" data-wait-form>`, `id="continue-after-email"`, "I clicked the link — continue")
	absent(t, "waiting page", res, "wch_", `id="totp-form"`, "passkey.js")

	mail := s.emails("ned@example.com")[0]
	if !strings.Contains(mail.Text, "/confirm-device?token=") {
		t.Fatalf("newest email %q has no confirmation link:\n%s", mail.Subject, mail.Text)
	}
	link := s.link("ned@example.com", "/confirm-device")

	// Nothing confirmed yet: the script waits, the button says so.
	if state, _ := c.poll("/login/challenge/email"); state != "waiting" {
		t.Fatalf("before the link: %q", state)
	}
	expect(t, "button before the link", c.post("/login/challenge/email", "next", "/account/devices"), 303, "/login/challenge?next=%2Faccount%2Fdevices")
	expect(t, "still waiting", c.get("/login/challenge?next=%2Faccount%2Fdevices"), 200, "We have not seen your confirmation yet.")

	// Opening the link (twice, as a mail scanner might) confirms nothing.
	phone := s.client()
	for range 2 {
		expect(t, "link page", phone.get(link), 200, "<h1>Was this you?</h1>", `id="confirm-email">ned@example.com<`, testIP,
			`<form method="post" action="/confirm-device">`, `<input type="hidden" name="token" value="`+tokenOf(link)+`">`, "Yes, it was me")
	}
	if state, _ := c.poll("/login/challenge/email"); state != "waiting" {
		t.Fatalf("after opening the link: %q", state)
	}

	for _, tc := range []struct {
		name   string
		res    func() response
		status int
		want   []string
	}{
		{"no token", func() response { return phone.get("/confirm-device") }, 400, []string{"This link does not work", `id="confirm-invalid"`}},
		{"unknown token", func() response { return phone.get("/confirm-device?token=wdc_nothing") }, 400, []string{"This link does not work"}},
		{"post unknown token", func() response { return phone.post("/confirm-device", "token", "wdc_nothing") }, 400, []string{"This link does not work"}},
		{"confirm", func() response { return phone.post("/confirm-device", "token", tokenOf(link)) }, 200,
			[]string{"Confirmed — go back to the window where you were logging in", `id="device-confirmed"`}},
		{"link used", func() response { return phone.get(link) }, 400, []string{"was already used, or has expired"}},
		{"confirm again", func() response { return phone.post("/confirm-device", "token", tokenOf(link)) }, 400, []string{"This link does not work"}},
	} {
		expect(t, tc.name, tc.res(), tc.status, tc.want...)
	}
	expect(t, "a cross-site confirmation is refused", s.client().postFrom("https://evil.example", "/confirm-device", "token", "wdc_x"), 403)

	// The waiting page's script goes on, with the session and the device.
	state, location := c.poll("/login/challenge/email", "next", "/account/devices")
	if state != "done" || location != "/account/devices" {
		t.Fatalf("after the link: %q %q", state, location)
	}
	if c.cookie("warden_session") == nil || c.cookie("warden_device") == nil || c.cookieAt("/login/challenge", "warden_challenge") != nil {
		t.Fatal("cookies after the confirmed login")
	}
	res = c.get("/account/devices")
	expect(t, "devices", res, 200, "<h1>Devices</h1>", `<span class="badge info">This device</span>`, "Chrome on Linux", testIP,
		`<form method="post" action="/account/devices">`)
	if n := strings.Count(res.body, `<span class="badge success">Trusted</span>`); n != 2 {
		t.Errorf("%d trusted devices, want 2", n)
	}
	expect(t, "account links the devices", c.get("/account"), 200, `href="/account/devices"`)
	expect(t, "activity", c.get("/account/activity"), 200, "Login asked for confirmation", "Needed the link in our email. Why: a new device.",
		"New device confirmed from the email link", "From a new device.")
	// The same browser logs in again without the email: its device is trusted.
	c.post("/logout")
	expect(t, "trusted device", c.post("/login", "email", "ned@example.com", "password", goodPassword), 303, "/account/security-center")

	// Without JavaScript: the page's refresh (a GET) or its button goes on.
	for _, how := range []string{"refresh", "button"} {
		c := s.client()
		expect(t, how+": password", c.post("/login", "email", "ned@example.com", "password", goodPassword), 303, "/login/challenge")
		s.confirmDevice("ned@example.com")
		if how == "refresh" {
			expect(t, how, c.get("/login/challenge"), 303, "/account/security-center")
		} else {
			expect(t, how, c.post("/login/challenge/email"), 303, "/account/security-center")
		}
		expect(t, how+": signed in", c.get("/account"), 200, "ned@example.com")
	}
	// The poll of a browser without a challenge goes back to the login.
	if state, location := s.client().poll("/login/challenge/email"); state != "done" || location != "/login" {
		t.Errorf("poll without a challenge: %q %q", state, location)
	}
}

// With WARDEN_NEW_DEVICE_EMAIL_WITH_MFA, a new device of an account with 2FA
// gives both the email's link and a second factor, in either order.
func TestNewDeviceEmailAndSecondFactor(t *testing.T) {
	t.Parallel()
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) { c.Login.Policy.EmailWithMFA = true })
	_, secret, codes := s.mfaUser("mo@example.com")

	// The code first, then the email.
	c := s.client()
	expect(t, "password", c.post("/login", "email", "mo@example.com", "password", goodPassword), 303, "/login/challenge")
	res := c.get("/login/challenge")
	expect(t, "both", res, 200, "Confirm this device", "and give your second factor", `id="email-wait"`, `id="totp-form"`, "<h2>Your second factor</h2>")
	absent(t, "both: no refresh while a code is typed", res, `http-equiv="refresh"`)
	expect(t, "wrong code", c.post("/login/challenge", "method", "totp", "code", "000000"), 422, "This code is wrong.", `id="email-wait"`)
	expect(t, "code", c.post("/login/challenge", "method", "totp", "code", code(t, secret, 0)), 303, "/login/challenge")
	res = c.get("/login/challenge")
	expect(t, "email left", res, 200, `id="email-wait"`, `http-equiv="refresh"`)
	absent(t, "email left", res, `id="totp-form"`)
	expect(t, "no second code", c.post("/login/challenge", "method", "totp", "code", "123456"), 303, "/login")
	// That post found nothing to answer and dropped the challenge; start again.
	c = s.client()
	expect(t, "password again", c.post("/login", "email", "mo@example.com", "password", goodPassword), 303, "/login/challenge")
	expect(t, "recovery code", c.post("/login/challenge", "method", "recovery_code", "recovery_code", codes[0]), 303, "/login/challenge")
	s.confirmDevice("mo@example.com")
	if state, location := c.poll("/login/challenge/email"); state != "done" || location != "/account/security-center" {
		t.Fatalf("after both: %q %q", state, location)
	}
	expect(t, "signed in after both", c.get("/account/sessions"), 200, `<span class="badge">2FA</span>`)

	// The email first, then the code.
	c = s.client()
	expect(t, "password", c.post("/login", "email", "mo@example.com", "password", goodPassword), 303, "/login/challenge")
	s.confirmDevice("mo@example.com")
	if state, _ := c.poll("/login/challenge/email"); state != "confirmed" {
		t.Fatalf("email first: %q", state)
	}
	res = c.get("/login/challenge")
	expect(t, "code left", res, 200, "This device is confirmed.", `id="totp-form"`, "<h1>Two-factor authentication</h1>")
	absent(t, "code left", res, `id="email-wait"`)
	expect(t, "recovery code", c.post("/login/challenge", "method", "recovery_code", "recovery_code", codes[1]), 303, "/account/security-center")
	expect(t, "signed in", c.get("/account/sessions"), 200, `<span class="badge">2FA</span>`)
}

// A login stopped before or despite the right password says why, and when
// to try again.
func TestLoginStoppedPages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		configure func(*web.Config)
		staff     bool
		wrong     int
		status    int
		want      []string
		notWant   []string
	}{
		{name: "locked", wrong: 5, status: 423, want: []string{"<h1>Too many wrong attempts</h1>", "Too many wrong attempts from this device.",
			"Try again in 1 minute (at <time datetime=", "or log in from a device you have used before.", `href="/forgot-password"`, `href="/login"`}},
		{name: "console locked", staff: true, wrong: 5, status: 423, want: []string{"Staff console", "Too many wrong attempts from this device.",
			`href="/console/login"`}, notWant: []string{"/forgot-password"}},
		// Three wrong passwords score 20: denied from 20.
		{name: "denied", configure: func(c *web.Config) { c.Login.Policy.Risk.DenyAt = 20 }, wrong: 3, status: 403,
			want: []string{"<h1>This login was refused</h1>", "even though the password was right. Why: a new device, after several wrong passwords.",
				"We emailed the account's owner."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSiteConfig(t, "http://warden.test", nil, tc.configure)
			email, path, pw := "lou@example.com", "/login", goodPassword
			if tc.staff {
				path = "/console/login"
				_, pw = s.createStaff("lou@acme.test", "support")
				email = "lou@acme.test"
			} else {
				s.signedUp(email)
				s.loggedIn(email, goodPassword)
			}
			for range tc.wrong {
				expect(t, "wrong password", s.client().post(path, "email", email, "password", "not the password at all"), 401)
			}
			res := s.client().post(path, "email", email, "password", pw)
			expect(t, tc.name, res, tc.status, tc.want...)
			absent(t, tc.name, res, tc.notWant...)
			if tc.status == 423 && res.header.Get("Retry-After") != "60" {
				t.Errorf("Retry-After %q, want 60", res.header.Get("Retry-After"))
			}
		})
	}
}

// The devices page lists the account's devices; removing one logs out its
// sessions, removing this one logs out here.
func TestDevicesPage(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("dee@example.com")
	c := s.loggedIn("dee@example.com", goodPassword)
	other := s.loggedIn("dee@example.com", goodPassword)
	expect(t, "signed out", s.client().get("/account/devices"), 303, "/login?next=%2Faccount%2Fdevices")
	res := c.get("/account/devices")
	expect(t, "list", res, 200, `<tr class="current">`, "This device", "Last address", "First seen")
	if n := strings.Count(res.body, `name="device" value="dev_`); n != 2 {
		t.Fatalf("%d devices listed, want 2:\n%s", n, res.body)
	}
	otherDevice := s.accountDevice(t, other)
	for _, tc := range []struct {
		name     string
		kv       []string
		location string
	}{
		{"no device", nil, "/account/devices"},
		{"unknown device", []string{"device", "dev_nothing"}, "/account/devices"},
		{"other device", []string{"device", otherDevice}, "/account/devices"},
		{"gone already", []string{"device", otherDevice}, "/account/devices"},
	} {
		expect(t, tc.name, c.post("/account/devices", tc.kv...), 303, tc.location)
	}
	expect(t, "other logged out", other.get("/account"), 303, "/login?next=%2Faccount")
	expect(t, "notice", c.get("/account/devices"), 200, "That device had already been removed.")
	expect(t, "activity", c.get("/account/activity"), 200, "Device removed", "1 session was logged out.")
	expect(t, "this device", c.post("/account/devices", "device", s.accountDevice(t, c)), 303, "/login")
	expect(t, "logged out here", c.get("/login"), 200, "This device was removed, so you are logged out.")
	expect(t, "and stays so", c.get("/account"), 303, "/login?next=%2Faccount")
}

// accountDevice is the id of the device c's session is on.
func (s *site) accountDevice(t *testing.T, c *client) string {
	t.Helper()
	sess, _, err := s.sessions.Resolve(t.Context(), c.cookie("warden_session").Value)
	if err != nil {
		t.Fatal(err)
	}
	return sess.DeviceID
}

// The console's user page lists the user's devices and login decisions.
func TestConsoleUserDevicesAndLogins(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("val@example.com")
	s.loggedIn("val@example.com", goodPassword)
	s.client().post("/login", "email", "val@example.com", "password", "not the password at all")
	s.loggedIn("val@example.com", goodPassword)                                     // a new device, confirmed by email
	s.client().post("/login", "email", "val@example.com", "password", goodPassword) // and one that waits
	user := s.accountOf("val@example.com")
	// A role that may read users but not the audit log.
	web.SetStaffAllows(s.pages, func(role, scope string) bool {
		if role == "reader" {
			return scope == "users:read"
		}
		return staff.Allows(role, scope)
	})
	for _, tc := range []struct {
		role    string
		want    []string
		notWant []string
	}{
		{"admin", []string{`id="user-devices"`, "Chrome on Linux", `<span class="badge success">Trusted</span>`, `id="user-logins"`,
			"Login decisions", "Logged in", "Challenged", "a new device", "Failed", "invalid credentials", testIP}, nil},
		{"reader", []string{`id="user-devices"`}, []string{`id="user-logins"`}},
	} {
		member, _ := s.staffLoggedIn("staff-"+tc.role+"@acme.test", tc.role)
		res := member.get("/console/users/" + user.ID)
		expect(t, tc.role, res, 200, tc.want...)
		absent(t, tc.role, res, tc.notWant...)
	}
}
