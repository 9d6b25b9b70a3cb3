package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	rfc6238pkg "github.com/wardenhq/warden/internal/totp/rfc6238"
	"github.com/wardenhq/warden/internal/web"
)

// rfc6238 is the code of an independent RFC 6238 implementation.
func rfc6238(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := rfc6238pkg.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// code is the account's code at now+offset: a test spends each time step
// once, so the steps before and after now give it three codes. Made in the
// last seconds of a 30-second step, a code would reach the server in the
// next one, a step off from what the test means; so it waits those out.
func code(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	const step, margin = 30 * time.Second, 3 * time.Second
	if left := step - time.Duration(time.Now().UnixNano())%step; left < margin {
		time.Sleep(left)
	}
	return rfc6238(t, secret, time.Now().Add(offset))
}

var (
	secretOnPage = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)</code>`)
	uriOnPage    = regexp.MustCompile(`name="uri" value="([^"]+)"`)
	codeOnPage   = regexp.MustCompile(`<li>([a-z2-7]{5}-[a-z2-7]{5})</li>`)
)

// setupOf reads the key and the otpauth URI off the set-up page.
func setupOf(t *testing.T, res response) (secret, uri string) {
	t.Helper()
	m, u := secretOnPage.FindStringSubmatch(res.body), uriOnPage.FindStringSubmatch(res.body)
	if m == nil || u == nil {
		t.Fatalf("no key or URI on the set-up page:\n%s", res.body)
	}
	return strings.ReplaceAll(m[1], " ", ""), html.UnescapeString(u[1])
}

func recoveryCodesOf(res response) []string {
	var out []string
	for _, m := range codeOnPage.FindAllStringSubmatch(res.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// enrol sets the authenticator app up through the pages, confirming with
// the code of the step before now, and returns the key and recovery codes.
func (c *client) enrol(begin, confirm string) (secret string, codes []string) {
	t := c.s.t
	t.Helper()
	res := c.post(begin)
	expect(t, "begin set-up", res, 200, `id="totp-secret"`)
	secret, uri := setupOf(t, res)
	res = c.post(confirm, "secret", secret, "uri", uri, "code", code(t, secret, -30*time.Second))
	expect(t, "confirm set-up", res, 200, "Save your recovery codes")
	codes = recoveryCodesOf(res)
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("%d recovery codes on the page, want %d", len(codes), mfa.RecoveryCodeCount)
	}
	return secret, codes
}

// mfaUser signs a user up, logs in and sets up the authenticator app.
func (s *site) mfaUser(email string) (c *client, secret string, codes []string) {
	s.t.Helper()
	s.signedUp(email)
	c = s.loggedIn(email, goodPassword)
	secret, codes = c.enrol("/account/security/totp", "/account/security/totp/confirm")
	return c, secret, codes
}

// ageStepUp makes every session's last second factor ten minutes old.
func (s *site) ageStepUp() {
	s.t.Helper()
	if err := s.store.ExecRaw(context.Background(), `UPDATE sessions SET mfa_at = mfa_at - 600000000 WHERE mfa_at > 0`); err != nil {
		s.t.Fatal(err)
	}
}

// challenged posts the password of a user with 2FA and checks that the
// login asks for the second factor.
func (s *site) challenged(email, next string) *client {
	s.t.Helper()
	c := s.client()
	want := "/login/challenge"
	kv := []string{"email", email, "password", goodPassword}
	if next != "" {
		kv = append(kv, "next", next)
		want += "?" + url.Values{"next": {next}}.Encode()
	}
	expect(s.t, "password step", c.post("/login", kv...), 303, want)
	return c
}

func TestAuthenticatorAppSetUp(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("ada@example.com")
	c := s.loggedIn("ada@example.com", goodPassword)

	expect(t, "signed out", s.client().get("/account/security"), 303, "/login?next=%2Faccount%2Fsecurity")
	res := c.get("/account")
	expect(t, "account", res, 200, `href="/account/security"`, "Two-factor authentication", `<span class="badge warning">Off</span>`)
	res = c.get("/account/security")
	expect(t, "security page", res, 200, "Security settings", `<form method="post" action="/account/security/totp">`,
		"Set up authenticator app", `id="no-passkeys"`, `data-passkey-register`, `src="/static/passkey.js?v=`)
	absent(t, "security page", res, "Recovery codes left", "/account/security/totp/disable")

	res = c.post("/account/security/totp")
	expect(t, "set-up page", res, 200, `<img src="data:image/png;base64,iVBOR`, `alt="QR code that adds Acme to an authenticator app.`,
		`href="otpauth://totp/Acme:ada@example.com?secret=`, `autocomplete="one-time-code"`, `inputmode="numeric"`,
		`<button type="button" class="secondary small" data-copy="#totp-secret" hidden>`, "Code not working?")
	secret, uri := setupOf(t, res)
	if grouped := secretOnPage.FindStringSubmatch(res.body)[1]; !regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`).MatchString(grouped) {
		t.Errorf("the key is not in groups of four: %q", grouped)
	}

	confirm := func(code string) response {
		return c.post("/account/security/totp/confirm", "secret", secret, "uri", uri, "code", code)
	}
	for _, tc := range []struct {
		name, code string
		want       []string
	}{
		{"empty", "", []string{"Enter the 6-digit code your app shows.", `href="#totp-code"`, `aria-invalid="true"`}},
		{"not digits", "12345a", []string{"This code is wrong."}},
		{"phone 5 minutes fast", code(t, secret, 5*time.Minute), []string{"your phone&#39;s clock is 5 minutes fast",
			"Android: Settings › Date &amp; time", "iPhone: Settings › General › Date &amp; Time", "Time correction for codes",
			`<details class="section" id="code-help" open>`}},
		{"phone 90 seconds slow", code(t, secret, -90*time.Second), []string{"your phone&#39;s clock is 1 minute and 30 seconds slow"}},
		{"30 minutes off", code(t, secret, -30*time.Minute), []string{"This code is wrong."}},
	} {
		res := confirm(tc.code)
		expect(t, tc.name, res, 422, tc.want...)
		// The page is drawn again with the same key, so the app need not scan again.
		if got, _ := setupOf(t, res); got != secret {
			t.Errorf("%s: the page shows another key", tc.name)
		}
	}
	if s.accountOf("ada@example.com").MFAEnabled {
		t.Fatal("wrong codes switched 2FA on")
	}
	// A forged key or URI only starts again.
	expect(t, "forged key", c.post("/account/security/totp/confirm", "secret", "AAAAAAAAAAAAAAAA", "uri", uri, "code", "123456"), 303, "/account/security")
	expect(t, "forged URI", c.post("/account/security/totp/confirm", "secret", secret, "uri", "https://evil.example/?secret="+secret+"&", "code", "123456"), 303, "/account/security")

	c1 := code(t, secret, 0)
	res = confirm(c1[:3] + " " + c1[3:])
	expect(t, "confirmed", res, 200, "Save your recovery codes", "This is the only time we show these codes.",
		`href="data:text/plain;charset=utf-8,Acme%20recovery%20codes`, `download="acme-recovery-codes.txt"`,
		`data-copy="#recovery-codes-text"`, `href="/account/security"`)
	codes := recoveryCodesOf(res)
	if len(codes) != 10 || !strings.Contains(res.body, url.PathEscape(codes[0])) {
		t.Fatalf("recovery codes %v, or not in the download", codes)
	}
	if !s.accountOf("ada@example.com").MFAEnabled {
		t.Fatal("2FA is not on")
	}
	expect(t, "the confirmation is spent", confirm(code(t, secret, 30*time.Second)), 303, "/account/security")
	res = c.get("/account/security")
	expect(t, "security page with 2FA", res, 200, `<span class="badge success">On</span>`, `<dd id="recovery-left">10 of 10</dd>`,
		`href="/account/security/recovery-codes"`, `href="/account/security/totp/disable"`)
	absent(t, "security page with 2FA", res, codes[0], "Set up authenticator app")
	expect(t, "sessions show the second factor", c.get("/account/sessions"), 200, `<span class="badge">2FA</span>`)
	if mail := s.emails("ada@example.com")[0]; mail.Subject != "Two-factor authentication was turned on" {
		t.Errorf("newest email %q", mail.Subject)
	}
	// Setting up again is refused while it is on (after a step-up).
	expect(t, "again", c.post("/account/security/totp"), 303, "/account/security")
}

func TestLoginChallenge(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var counted []string
	limited := false
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		c.LoginLimit = func(r *http.Request) (time.Duration, error) {
			mu.Lock()
			defer mu.Unlock()
			counted = append(counted, r.URL.Path)
			if limited {
				return 30 * time.Second, nil
			}
			return 0, nil
		}
	})
	_, secret, codes := s.mfaUser("bea@example.com")
	c := s.challenged("bea@example.com", "/account/sessions")
	mu.Lock()
	counted = nil // the set-up's code and the password
	mu.Unlock()
	if c.cookie("warden_session") != nil {
		t.Fatal("the password alone started a session")
	}
	ck := c.cookieAt("/login/challenge", "warden_challenge")
	if ck == nil || !strings.HasPrefix(ck.Value, "wch_") || c.cookie("warden_challenge") != nil {
		t.Fatalf("challenge cookie %v, or sent beyond the challenge page", ck)
	}
	res := c.get("/login/challenge?next=%2Faccount%2Fsessions")
	expect(t, "challenge page", res, 200, "Two-factor authentication", `<input type="hidden" name="method" value="totp">`,
		`<input type="hidden" name="next" value="/account/sessions">`, `autocomplete="one-time-code"`, `inputmode="numeric"`,
		"Use a recovery code instead", `id="challenge-recovery-code"`, "Code not working?", `href="/login"`)
	absent(t, "challenge page", res, "wch_", "data-passkey-get") // no passkey: no passkey form, and the id stays in the cookie

	post := func(kv ...string) response {
		return c.post("/login/challenge", append(kv, "next", "/account/sessions")...)
	}
	for _, tc := range []struct {
		name string
		kv   []string
		want []string
	}{
		{"empty code", []string{"method", "totp"}, []string{"Enter the 6-digit code your app shows.", `href="#challenge-code"`}},
		{"wrong code", []string{"method", "totp", "code", "000000"}, []string{"This code is wrong."}},
		{"drift", []string{"method", "totp", "code", code(t, secret, -3*time.Minute)}, []string{"your phone&#39;s clock is 3 minutes slow"}},
		{"wrong recovery code", []string{"method", "recovery_code", "recovery_code", "aaaaa-aaaaa"},
			[]string{"This recovery code is wrong, or was used already.", `<details class="section" open>`}},
		{"passkey without one", []string{"method", "webauthn", "credential", "{}"}, []string{"This way of confirming is not set up for your account."}},
		{"no method", nil, []string{"Choose how to confirm"}},
	} {
		expect(t, tc.name, post(tc.kv...), 422, tc.want...)
	}
	mu.Lock()
	// Every checked answer asks the client's address's budget first (the
	// account's lockout lane counts the wrong ones).
	if len(counted) != 4 || counted[0] != "/login/challenge" {
		t.Errorf("answers asked the login limit as %q, want 4 times from the challenge page", counted)
	}
	mu.Unlock()

	spent := code(t, secret, 0)
	expect(t, "right code", post("method", "totp", "code", spent), 303, "/account/sessions")
	if c.cookieAt("/login/challenge", "warden_challenge") != nil {
		t.Error("the challenge cookie outlived the login")
	}
	expect(t, "signed in with 2FA", c.get("/account/sessions"), 200, `<span class="badge">2FA</span>`)
	expect(t, "challenge page when signed in", c.get("/login/challenge"), 303, "/account/security-center")

	// A code spent once is refused the next time.
	c = s.challenged("bea@example.com", "")
	expect(t, "reused code", c.post("/login/challenge", "method", "totp", "code", spent), 422, "This code was used already.")
	// A recovery code works once, and says so.
	expect(t, "recovery code", c.post("/login/challenge", "method", "recovery_code", "recovery_code", strings.ToUpper(codes[0])), 303, "/account/security-center")
	expect(t, "recovery notice", c.get("/account"), 200, "You logged in with a recovery code.")
	expect(t, "codes left", c.get("/account/security"), 200, `<dd id="recovery-left">9 of 10</dd>`)
	c = s.challenged("bea@example.com", "")
	expect(t, "recovery code again", c.post("/login/challenge", "method", "recovery_code", "recovery_code", codes[0]), 422, "was used already")

	// When the login budget is spent, wrong answers are told to wait.
	c = s.challenged("bea@example.com", "")
	mu.Lock()
	limited = true
	mu.Unlock()
	res = c.post("/login/challenge", "method", "totp", "code", "333333")
	expect(t, "limited", res, 429, "Too many login attempts. Wait 30 seconds and try again.")
	if res.header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After %q", res.header.Get("Retry-After"))
	}
	mu.Lock()
	limited = false
	mu.Unlock()

	// Five wrong answers void the challenge: after them, a right one goes back to the login.
	c = s.challenged("bea@example.com", "")
	for i := range 4 {
		expect(t, fmt.Sprintf("wrong %d", i+1), c.post("/login/challenge", "method", "totp", "code", "111111"), 422)
	}
	// The fifth locks the lane, which voids every open login challenge.
	expect(t, "wrong 5", c.post("/login/challenge", "method", "totp", "code", "111111"), 303, "/login")
	expect(t, "void", c.post("/login/challenge", "method", "totp", "code", code(t, secret, 30*time.Second)), 303, "/login")
	expect(t, "login says why", c.get("/login"), 200, "Your login expired, or had too many wrong codes.")
	expect(t, "no challenge", c.get("/login/challenge"), 303, "/login")
	expect(t, "a post without a challenge", s.client().post("/login/challenge", "method", "totp", "code", "123456"), 303, "/login")
	// Those wrong answers locked the lane of new devices: the password step is
	// refused before the password is checked, with when to try again.
	res = s.client().post("/login", "email", "bea@example.com", "password", goodPassword)
	expect(t, "locked", res, 423, "Too many wrong attempts from this device.", "Try again in 1 minute (at ", "or log in from a device you have used before.")
	if res.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the lockout page")
	}
}

func TestStepUpGuardsSensitivePages(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c, secret, codes := s.mfaUser("cal@example.com")
	// Right after the set-up the factor is fresh: no step-up.
	expect(t, "fresh", c.get("/account/password"), 200, "Change your password")
	s.ageStepUp()
	for _, path := range []string{"/account/password", "/account/security/recovery-codes", "/account/security/totp/disable"} {
		expect(t, "stale: "+path, c.get(path), 303, "/account/step-up?next="+url.QueryEscape(path))
	}
	expect(t, "stale: post", c.post("/account/password", "current_password", goodPassword, "new_password", newPassword), 303,
		"/account/step-up?next=%2Faccount%2Fpassword")
	expect(t, "stale: begin set-up", c.post("/account/security/totp"), 303, "/account/step-up?next=%2Faccount%2Fsecurity")
	// Forgetting another device (it would lose its lane and trust) needs it too.
	expect(t, "stale: forget another device", c.post("/account/devices", "device", "dev_another"), 303, "/account/step-up?next=%2Faccount%2Fdevices")

	res := c.get("/account/step-up?next=%2Faccount%2Fpassword")
	expect(t, "step-up page", res, 200, "Confirm it is you", `action="/account/step-up"`, `value="/account/password"`,
		`autocomplete="one-time-code"`, "Use a recovery code instead", `href="/account/password">Cancel</a>`)
	expect(t, "wrong", c.post("/account/step-up", "method", "totp", "code", "000000", "next", "/account/password"), 422, "This code is wrong.")
	expect(t, "drift", c.post("/account/step-up", "method", "totp", "code", code(t, secret, 2*time.Minute), "next", "/account/password"), 422,
		"your phone&#39;s clock is 2 minutes fast")
	expect(t, "passkey without challenge", c.post("/account/step-up", "method", "webauthn", "credential", "{}"), 422, "The passkey&#39;s answer was refused.")
	expect(t, "right", c.post("/account/step-up", "method", "totp", "code", code(t, secret, 0), "next", "/account/password"), 303, "/account/password")
	expect(t, "now allowed", c.get("/account/password"), 200, "Change your password")
	expect(t, "step-up page when fresh", c.get("/account/step-up?next=%2Faccount%2Fpassword"), 303, "/account/password")

	// next stays on this site, and off the console.
	s.ageStepUp()
	for i, tc := range []struct{ next, want string }{
		{"//evil.example/x", "/account/security"}, {"https://evil.example/", "/account/security"},
		{"/console/users/x", "/account/security"}, {"/account/step-up?next=%2F%2Fevil", "/account/security"},
		{"/account/sessions?a=1", "/account/sessions?a=1"},
	} {
		expect(t, "next "+tc.next, c.post("/account/step-up", "method", "recovery_code", "recovery_code", codes[i], "next", tc.next), 303, tc.want)
		s.ageStepUp()
	}
}

func TestRecoveryCodesAndTurningOff(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c, secret, old := s.mfaUser("dan@example.com")

	res := c.get("/account/security/recovery-codes")
	expect(t, "page", res, 200, "Make new recovery codes", `autocomplete="one-time-code"`)
	expect(t, "empty", c.post("/account/security/recovery-codes"), 422, "Enter the 6-digit code your app shows.")
	expect(t, "wrong", c.post("/account/security/recovery-codes", "code", "000000"), 422, "This code is wrong.")
	spent := code(t, secret, 0)
	res = c.post("/account/security/recovery-codes", "code", spent)
	expect(t, "new codes", res, 200, "Your old recovery codes no longer work.", "This is the only time we show these codes.")
	fresh := recoveryCodesOf(res)
	if len(fresh) != 10 || fresh[0] == old[0] {
		t.Fatalf("new codes %v", fresh)
	}

	res = c.get("/account/security/totp/disable")
	expect(t, "disable page", res, 200, "Turn off the authenticator app", `autocomplete="current-password"`, `autocomplete="one-time-code"`,
		`<input type="email" autocomplete="username" value="dan@example.com" hidden readonly>`)
	expect(t, "disable empty", c.post("/account/security/totp/disable"), 422, "Enter your password.", "Enter the 6-digit code your app shows.")
	expect(t, "disable wrong password", c.post("/account/security/totp/disable", "password", "not my password at all", "code", code(t, secret, 30*time.Second)),
		422, "Your password is wrong.")
	expect(t, "disable reused code", c.post("/account/security/totp/disable", "password", goodPassword, "code", spent), 422, "This code was used already.")
	expect(t, "disable", c.post("/account/security/totp/disable", "password", goodPassword, "code", code(t, secret, 30*time.Second)), 303, "/account/security")
	res = c.get("/account/security")
	expect(t, "off", res, 200, "The authenticator app was removed.", `<span class="badge warning">Off</span>`, "Set up authenticator app")
	absent(t, "off", res, "Recovery codes left")
	if s.accountOf("dan@example.com").MFAEnabled {
		t.Fatal("2FA still on")
	}
	s.loggedIn("dan@example.com", goodPassword) // without a second factor
	expect(t, "no codes page when off", c.get("/account/security/recovery-codes"), 303, "/account/security")
}

func TestPasskeyPages(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c, secret, _ := s.mfaUser("eve@example.com")
	a := s.accountOf("eve@example.com")
	added := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.InsertPasskey(context.Background(), mfa.Passkey{ID: "pky_test1", AccountID: a.ID, Name: "Work <laptop>",
			CredentialID: []byte("cred-1"), Credential: []byte("{}"), CreatedAt: added})
	})
	if err != nil {
		t.Fatal(err)
	}
	res := c.get("/account/security")
	expect(t, "listed", res, 200, `<table id="passkeys">`, "<td>Work &lt;laptop&gt;</td>", added.Format("2006-01-02 15:04:05 UTC"),
		`<span class="muted">Never</span>`, `href="/account/security/passkeys/pky_test1"`, "Add a passkey", "needs JavaScript")
	res = c.get("/account/security/passkeys/pky_test1")
	expect(t, "passkey page", res, 200, `value="Work &lt;laptop&gt;"`, `action="/account/security/passkeys/pky_test1/remove"`, "Never used.")
	absent(t, "passkey page", res, "It is your last second factor")

	for _, tc := range []struct{ name, value, want string }{
		{"empty", "  ", "Name the passkey"},
		{"control", "a\x01b", "Use ordinary text."},
		{"long", strings.Repeat("é", 61), "Use at most 60 characters."},
	} {
		expect(t, "rename "+tc.name, c.post("/account/security/passkeys/pky_test1", "name", tc.value), 422, tc.want, `href="#passkey-name"`)
	}
	expect(t, "rename", c.post("/account/security/passkeys/pky_test1", "name", " Phone "), 303, "/account/security")
	expect(t, "renamed", c.get("/account/security"), 200, "The passkey was renamed.", "<td>Phone</td>")
	expect(t, "unknown passkey", c.get("/account/security/passkeys/pky_nope"), 303, "/account/security")

	// Adding one without the script's answer explains what is missing.
	expect(t, "add without JS", c.post("/account/security/passkeys", "name", "Key"), 422, "Adding a passkey needs JavaScript")
	expect(t, "add without name", c.post("/account/security/passkeys", "registration_id", "wch_x", "credential", "{}"), 422, "Name the passkey")
	expect(t, "add stale", c.post("/account/security/passkeys", "name", "Key", "registration_id", "wch_nope", "credential", "{}"), 422, "took too long")

	// Removing wants a fresh second factor.
	s.ageStepUp()
	expect(t, "remove, stale", c.post("/account/security/passkeys/pky_test1/remove"), 303, "/account/step-up?next="+url.QueryEscape("/account/security/passkeys/pky_test1"))
	expect(t, "step up", c.post("/account/step-up", "method", "totp", "code", code(t, secret, 0), "next", "/account/security/passkeys/pky_test1"), 303,
		"/account/security/passkeys/pky_test1")
	expect(t, "remove", c.post("/account/security/passkeys/pky_test1/remove"), 303, "/account/security")
	expect(t, "removed", c.get("/account/security"), 200, "The passkey was removed", `id="no-passkeys"`)
	expect(t, "remove again", c.post("/account/security/passkeys/pky_test1/remove"), 303, "/account/security")
	if !s.accountOf("eve@example.com").MFAEnabled {
		t.Fatal("removing a passkey turned 2FA off while the app is set up")
	}
}

func TestMFAPagesRefuseCrossOriginPosts(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	c, secret, _ := s.mfaUser("fay@example.com")
	c.site = "cross-site"
	for _, path := range []string{"/account/security/totp", "/account/security/totp/confirm", "/account/security/totp/disable",
		"/account/security/recovery-codes", "/account/security/passkeys", "/account/step-up", "/login/challenge", "/console/mfa"} {
		expect(t, "cross-site "+path, c.post(path, "code", code(t, secret, 0), "password", goodPassword), 403, "sent from another site")
	}
}

// Staff set up an authenticator app right after their password, before
// anything else of the console; then every login asks for a code.
func TestConsoleStaffMustSetUpTwoFactor(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	a, oneTime := s.createStaff("gil@acme.test", staff.RoleSupport)
	c := s.client()
	expect(t, "login", c.post("/console/login", "email", "gil@acme.test", "password", oneTime), 303, "/console/password")
	expect(t, "mfa page waits for the password", c.get("/console/mfa"), 303, "/console/password")
	expect(t, "password", c.post("/console/password", "current_password", oneTime, "new_password", staffPassword), 303, "/console")
	for _, path := range []string{"/console", "/console/users/usr_x", "/console/nowhere", "/console/password"} {
		expect(t, "before 2FA: "+path, c.get(path), 303, "/console/mfa")
	}
	expect(t, "before 2FA: a post", c.post("/console/users/usr_x/unfreeze", "reason", "checked the passport"), 303, "/console/mfa")
	res := c.get("/console/mfa")
	expect(t, "mfa page", res, 200, "Your password was changed.", "Set up two-factor authentication", `action="/console/mfa"`,
		`action="/console/logout"`, "Staff console")
	absent(t, "mfa page", res, `href="/console">Users</a>`)
	res = c.post("/console/mfa")
	expect(t, "set-up", res, 200, `id="totp-secret"`, `action="/console/mfa/confirm"`, `href="otpauth://totp/Acme:gil@acme.test?`, `class="site-header console-header"`)
	secret, uri := setupOf(t, res)
	expect(t, "wrong code", c.post("/console/mfa/confirm", "secret", secret, "uri", uri, "code", "000000"), 422, "This code is wrong.")
	res = c.post("/console/mfa/confirm", "secret", secret, "uri", uri, "code", code(t, secret, -30*time.Second))
	expect(t, "codes", res, 200, "Save your recovery codes", `href="/console"`, "download=\"acme-recovery-codes.txt\"")
	expect(t, "console", c.get("/console"), 200, "Find a user", `aria-current="page">Users</a>`)
	expect(t, "mfa page after", c.get("/console/mfa"), 303, "/console")
	var enabled bool
	for _, rec := range s.audit(a.ID) {
		if rec.Action == "mfa.totp_enabled" {
			enabled = rec.Actor == "staff:"+a.ID
		}
	}
	if !enabled {
		t.Error("no mfa.totp_enabled record by the staff member")
	}

	// The next login goes through the console's challenge page.
	d := s.client()
	expect(t, "login again", d.post("/console/login", "email", "gil@acme.test", "password", staffPassword, "next", "/console/users/usr_x"), 303,
		"/console/login/challenge?next=%2Fconsole%2Fusers%2Fusr_x")
	if d.consoleCookie() != nil || d.cookieAt("/console/login/challenge", "warden_console_challenge") == nil {
		t.Fatal("the password alone opened the console, or no challenge cookie")
	}
	res = d.get("/console/login/challenge?next=%2Fconsole%2Fusers%2Fusr_x")
	expect(t, "console challenge", res, 200, "Staff console", `action="/console/login/challenge"`, `class="site-header console-header"`)
	expect(t, "user challenge page is not the console's", d.get("/login/challenge"), 303, "/login")
	expect(t, "wrong", d.post("/console/login/challenge", "method", "totp", "code", "000000"), 422, "This code is wrong.")
	expect(t, "right", d.post("/console/login/challenge", "method", "totp", "code", code(t, secret, 0), "next", "/console/users/usr_x"), 303, "/console/users/usr_x")
	expect(t, "in", d.get("/console"), 200, "gil@acme.test")
}

// A session started by the challenge is aal2, as in the JSON API.
func TestChallengeLoginIsAAL2(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	_, secret, _ := s.mfaUser("hal@example.com")
	c := s.challenged("hal@example.com", "")
	expect(t, "answer", c.post("/login/challenge", "method", "totp", "code", code(t, secret, 0)), 303, "/account/security-center")
	sess, _, err := s.sessions.Resolve(context.Background(), c.cookie("warden_session").Value)
	if err != nil || sess.AAL != "aal2" {
		t.Fatalf("session %+v, %v: want aal2", sess, err)
	}
	if c.cookie("warden_device") == nil {
		t.Error("the device is not remembered")
	}
	// The login's second factor is fresh: no step-up right away.
	expect(t, "password page", c.get("/account/password"), 200, "Change your password")
}

// Removing the last second factor turns 2FA off: like turning the app off,
// it needs the password, not only a recent second factor.
func TestRemovingTheLastPasskeyNeedsThePassword(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("pia@example.com")
	c := s.loggedIn("pia@example.com", goodPassword)
	a := s.accountOf("pia@example.com")
	err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		if err := tx.InsertPasskey(context.Background(), mfa.Passkey{ID: "pky_last", AccountID: a.ID, Name: "Phone",
			CredentialID: []byte("cred-last"), Credential: []byte("{}"), CreatedAt: time.Now()}); err != nil {
			return err
		}
		_, err := tx.UpdateAccount(context.Background(), a.ID, func(old account.Account) (account.Account, error) {
			old.MFAEnabled = true
			return old, nil
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The passkey was just used: the step-up is fresh.
	if err := s.store.ExecRaw(context.Background(), `UPDATE sessions SET mfa_at = $1`, time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	expect(t, "page", c.get("/account/security/passkeys/pky_last"), 200, "It is your last second factor", `id="remove-password"`)
	expect(t, "no password", c.post("/account/security/passkeys/pky_last/remove"), 303, "/account/security/passkeys/pky_last")
	expect(t, "says why", c.get("/account/security/passkeys/pky_last"), 200, "The passkey was not removed: enter your password")
	expect(t, "wrong password", c.post("/account/security/passkeys/pky_last/remove", "password", "not the password"), 303, "/account/security/passkeys/pky_last")
	if !s.accountOf("pia@example.com").MFAEnabled {
		t.Fatal("2FA went off without the password")
	}
	expect(t, "with the password", c.post("/account/security/passkeys/pky_last/remove", "password", goodPassword), 303, "/account/security")
	if s.accountOf("pia@example.com").MFAEnabled {
		t.Fatal("2FA still on after removing the last passkey")
	}
}
