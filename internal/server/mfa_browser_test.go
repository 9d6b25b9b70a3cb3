package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/wardenhq/warden/internal/browsertest"
)

// wantAt fails the test unless the browser is at base+path.
func wantAt(t *testing.T, b *browsertest.Browser, base, step, path string) {
	t.Helper()
	if got := b.URL(); got != base+path {
		t.Fatalf("%s: at %s, want %s", step, got, base+path)
	}
}

// noConsoleErrors fails on script errors; refused forms (4xx pages) are
// logged by Chromium as failed loads and are expected.
func noConsoleErrors(t *testing.T, b *browsertest.Browser) {
	t.Helper()
	for _, e := range b.ConsoleErrors() {
		if regexp.MustCompile(`status of 4\d\d`).MatchString(e) {
			continue
		}
		t.Errorf("console error: %s", e)
	}
}

// enrolInBrowser sets up the authenticator app from the page it is on (the
// security settings or the console's enrolment page): it reads the key off
// the page, computes a code in Go, and returns the key and recovery codes.
func enrolInBrowser(t *testing.T, b *browsertest.Browser) (secret string, codes []string) {
	t.Helper()
	b.ClickNavigate("#setup-totp")
	if alt := browsertest.Eval[string](b, `document.querySelector(".qr img").alt`); !strings.Contains(alt, "QR code") {
		t.Errorf("QR code alt text %q", alt)
	}
	if ok := browsertest.Eval[bool](b, `document.querySelector(".qr img").naturalWidth >= 200`); !ok {
		t.Error("the QR code image did not load")
	}
	secret = strings.ReplaceAll(b.Text("#totp-secret"), " ", "")
	if len(secret) != 32 {
		t.Fatalf("key on the page %q", secret)
	}
	// A wrong code first: the error is linked and the field focused.
	b.SendKeys("#totp-code", "000000")
	if got := b.ClickNavigate("#confirm-totp"); got != http.StatusUnprocessableEntity {
		t.Fatalf("wrong code: status %d", got)
	}
	if got := b.Text("#error-summary"); !strings.Contains(got, "This code is wrong") {
		t.Errorf("error summary %q", got)
	}
	if got := browsertest.Eval[string](b, "document.activeElement ? document.activeElement.id : ''"); got != "totp-code" {
		t.Errorf("focus on %q after the error, want the code", got)
	}
	if got := strings.ReplaceAll(b.Text("#totp-secret"), " ", ""); got != secret {
		t.Fatalf("the key changed after a wrong code: %q", got)
	}
	b.SendKeys("#totp-code", rfc6238(t, secret, time.Now()))
	b.ClickNavigate("#confirm-totp")
	if got := b.Text("h1"); got != "Save your recovery codes" {
		t.Fatalf("after confirming: h1 %q", got)
	}
	if got := b.Text("#shown-once"); !strings.Contains(got, "only time we show these codes") {
		t.Errorf("the codes page does not say they are shown once: %q", got)
	}
	codes = browsertest.Eval[[]string](b, `Array.from(document.querySelectorAll("#recovery-codes li"), li => li.textContent)`)
	if len(codes) != 10 {
		t.Fatalf("recovery codes %q", codes)
	}
	if href := browsertest.Eval[string](b, `document.getElementById("download-codes").href`); !strings.HasPrefix(href, "data:text/plain") ||
		!strings.Contains(href, codes[0]) {
		t.Errorf("download link %q", href)
	}
	if hidden := browsertest.Eval[bool](b, `document.getElementById("copy-codes").hidden`); hidden {
		t.Error("the copy button stayed hidden with JavaScript on")
	}
	return secret, codes
}

// logInAs fills a login form and returns the status of the page it leads to.
func logInAs(b *browsertest.Browser, prefix, email, pw string) int {
	b.SendKeys("#"+prefix+"-email", email)
	b.SendKeys("#"+prefix+"-password", pw)
	return b.ClickNavigate(`form:has(#` + prefix + `-password) button[type="submit"]`)
}

// A user sets up an authenticator app by reading the key off the page,
// sees the recovery codes once, logs out, and logs in through the challenge
// page: a code from a clock two minutes slow is explained, the right one
// gets in.
func TestBrowserTOTPEnrolmentAndLogin(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	n, base := localhostNode(t, cheapHashing...)
	const email = "tom@example.com"
	n.signUp(t, email)

	b.Navigate(base + "/login")
	logInAs(b, "login", email, strongPassword)
	// The account logged in through the API before: this browser is new.
	wantAt(t, b, base, "new device", "/login/challenge")
	n.confirmByMail(t, email)
	waitAt(t, b, base, "logged in", "/account/security-center", 8*time.Second)
	b.ClickNavigate(`.site-nav a[href="/account"]`)
	b.ClickNavigate(`.card a[href="/account/security"]`)
	secret, _ := enrolInBrowser(t, b)
	b.ClickNavigate("#codes-saved")
	wantAt(t, b, base, "codes saved", "/account/security")
	if got := b.Text("#recovery-left"); got != "10 of 10" {
		t.Errorf("recovery codes left %q", got)
	}
	b.ClickNavigate(".site-nav .nav-form button")
	wantAt(t, b, base, "logged out", "/login")

	b.Navigate(base + "/account/sessions")
	logInAs(b, "login", email, strongPassword)
	wantAt(t, b, base, "password step", "/login/challenge?next=%2Faccount%2Fsessions")
	if got := b.Text("h1"); got != "Two-factor authentication" {
		t.Fatalf("challenge page h1 %q", got)
	}
	if got := browsertest.Eval[string](b, `document.getElementById("challenge-code").getAttribute("autocomplete") + " " + document.getElementById("challenge-code").inputMode`); got != "one-time-code numeric" {
		t.Errorf("code field: %q", got)
	}
	b.SendKeys("#challenge-code", rfc6238(t, secret, time.Now().Add(-2*time.Minute)))
	if got := b.ClickNavigate("#verify-code"); got != http.StatusUnprocessableEntity {
		t.Fatalf("drifted code: status %d", got)
	}
	if got := b.Text("#challenge-code-error"); !strings.Contains(got, "your phone's clock is 2 minutes slow") || !strings.Contains(got, "Set Automatically") {
		t.Errorf("drift error %q", got)
	}
	if open := browsertest.Eval[bool](b, `document.getElementById("code-help").open`); !open {
		t.Error("the help on codes is closed after a drift")
	}
	b.SendKeys("#challenge-code", rfc6238(t, secret, time.Now().Add(30*time.Second)))
	b.ClickNavigate("#verify-code")
	wantAt(t, b, base, "second factor", "/account/sessions")
	if got := b.Text("tr.current"); !strings.Contains(got, "2FA") {
		t.Errorf("the session is not marked as 2FA: %q", got)
	}
	noConsoleErrors(t, b)
}

// A user adds a passkey with Chromium's virtual authenticator (the first
// factor: recovery codes come with it), logs out, and logs in with the
// passkey as the second factor.
func TestBrowserPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	n, base := localhostNode(t, cheapHashing...)
	const email = "pam@example.com"
	n.signUp(t, email)

	ctx, cancel := context.WithTimeout(b.Context(), browsertest.StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	// Every flag set: AutomaticPresenceSimulation has no omitempty, and
	// false would leave navigator.credentials waiting forever.
	if _, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	}); err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}

	b.Navigate(base + "/account/security")
	logInAs(b, "login", email, strongPassword)
	wantAt(t, b, base, "new device", "/login/challenge?next=%2Faccount%2Fsecurity")
	n.confirmByMail(t, email)
	waitAt(t, b, base, "logged in", "/account/security", 8*time.Second)
	b.WaitVisible("#add-passkey-form")
	b.SendKeys("#passkey-name", "Test laptop")
	b.ClickNavigate("#add-passkey")
	if got := b.Text("h1"); got != "Save your recovery codes" {
		t.Fatalf("after adding the first passkey: h1 %q (%s)", got, b.URL())
	}
	b.ClickNavigate("#codes-saved")
	if got := b.Text("#passkeys"); !strings.Contains(got, "Test laptop") || !strings.Contains(got, "Never") {
		t.Errorf("passkeys table %q", got)
	}
	if got := b.Text("#mfa-state"); !strings.Contains(got, "On") {
		t.Errorf("2FA state %q", got)
	}
	b.ClickNavigate(".site-nav .nav-form button")

	b.Navigate(base + "/login")
	logInAs(b, "login", email, strongPassword)
	wantAt(t, b, base, "password step", "/login/challenge")
	if visible := browsertest.Eval[bool](b, `!document.getElementById("passkey-form").hidden && !document.getElementById("totp-form")`); !visible {
		t.Fatal("the passkey form is hidden, or a code form is offered without an app")
	}
	b.ClickNavigate("#use-passkey")
	wantAt(t, b, base, "passkey", "/account/security-center")
	b.Navigate(base + "/account/security")
	if got := b.Text("#passkeys"); strings.Contains(got, "Never") {
		t.Errorf("the passkey's last use is not recorded: %q", got)
	}

	// Ten minutes on, a password change asks for the passkey again.
	if err := n.srv.Store().ExecRaw(context.Background(), `UPDATE sessions SET mfa_at = mfa_at - 600000000 WHERE mfa_at > 0`); err != nil {
		t.Fatal(err)
	}
	b.Navigate(base + "/account/password")
	wantAt(t, b, base, "step-up", "/account/step-up?next=%2Faccount%2Fpassword")
	b.ClickNavigate("#use-passkey")
	wantAt(t, b, base, "stepped up", "/account/password")
	if got := b.Text("h1"); got != "Change your password" {
		t.Errorf("after the step-up: h1 %q", got)
	}
	noConsoleErrors(t, b)
}

// A new staff member logs in with the one-time password, must choose a
// password, then must set up an authenticator app; the next login goes
// through the console's challenge page.
func TestBrowserStaffFirstLogin(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	n, base := localhostNode(t, cheapHashing...)
	const staffEmail = "new.agent@ops.example"
	_, oneTime := createStaff(t, n, staffEmail, "support")

	b.Navigate(base + "/console")
	logInAs(b, "console-login", staffEmail, oneTime)
	wantAt(t, b, base, "one-time login", "/console/password")
	b.SendKeys("#console-current", oneTime)
	b.SendKeys("#console-new", "amber lantern over quiet harbours")
	b.ClickNavigate("#set-password")
	wantAt(t, b, base, "password set", "/console/mfa")
	b.Navigate(base + "/console")
	wantAt(t, b, base, "nothing before 2FA", "/console/mfa")
	if got := b.Text(".site-nav"); strings.Contains(got, "Users") {
		t.Errorf("console navigation before 2FA: %q", got)
	}
	secret, _ := enrolInBrowser(t, b)
	b.ClickNavigate("#codes-saved")
	wantAt(t, b, base, "2FA on", "/console")
	b.ClickNavigate(".site-nav .nav-form button")
	wantAt(t, b, base, "logged out", "/console/login")

	logInAs(b, "console-login", staffEmail, "amber lantern over quiet harbours")
	wantAt(t, b, base, "password step", "/console/login/challenge")
	b.SendKeys("#challenge-code", rfc6238(t, secret, time.Now().Add(30*time.Second)))
	b.ClickNavigate("#verify-code")
	wantAt(t, b, base, "second factor", "/console")
	if got := b.Text(".site-nav"); !strings.Contains(got, "Users") {
		t.Errorf("console navigation: %q", got)
	}
	noConsoleErrors(t, b)
}
