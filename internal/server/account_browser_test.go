package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wardenhq/warden/internal/browsertest"
)

// A person signs up, confirms their email from the dev mailbox, logs in,
// changes their password, logs out, fails with the old password, logs in
// with the new one and finds all of it on their activity page — in a real
// browser, with plain HTML forms.
func TestBrowserAccountLifecycle(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	_, base := localhostNode(t, cheapHashing...)
	const (
		email       = "alice@example.com"
		oldPassword = "correct horse battery staple"
		newPassword = "violet kettle drums at noon"
	)
	focused := func() string {
		return browsertest.Eval[string](b, "document.activeElement ? document.activeElement.id : ''")
	}
	submit := func(action string) int { return b.ClickNavigate(`form[action="` + action + `"] button[type="submit"]`) }
	wantURL := func(step, path string) {
		t.Helper()
		if got := b.URL(); got != base+path {
			t.Fatalf("%s: at %s, want %s", step, got, base+path)
		}
	}

	// Sign up; a weak password is refused with advice, the address is kept.
	if got := b.Navigate(base + "/"); got != http.StatusOK {
		t.Fatalf("home: %d", got)
	}
	b.ClickNavigate(`.site-nav a[href="/signup"]`)
	b.SendKeys("#signup-email", email)
	b.SendKeys("#signup-password", "password123")
	if got := submit("/signup"); got != http.StatusUnprocessableEntity {
		t.Fatalf("weak password: status %d", got)
	}
	if got := b.Text("#error-summary"); !strings.Contains(got, "too easy to guess") {
		t.Fatalf("error summary = %q", got)
	}
	if got := focused(); got != "signup-password" {
		t.Errorf("after the error the focus is on %q, want the password field", got)
	}
	b.SendKeys("#signup-password", oldPassword)
	submit("/signup")
	if got := b.Text("h1"); got != "Check your email" {
		t.Fatalf("after signing up: h1 %q", got)
	}

	// The verification email reaches the dev mailbox; its link only shows a button.
	b.Navigate(base + "/dev/mailbox?to=" + email)
	for i := 0; !strings.Contains(b.Text("#mailbox-count"), "1 message"); i++ {
		if i > 50 {
			t.Fatalf("the verification email never arrived: %q", b.Text("#mailbox-count"))
		}
		b.Navigate(base + "/dev/mailbox?to=" + email)
	}
	b.ClickNavigate(".mail-list a.subject")
	if got := b.Text("h1"); !strings.Contains(got, "Confirm your email") {
		t.Fatalf("email subject %q", got)
	}
	if got := b.ClickNavigate(`.mail-text a[href^="` + base + `/verify-email?token="]`); got != http.StatusOK {
		t.Fatalf("verification link: %d", got)
	}
	if got := b.Text("h1"); got != "Confirm your email address" {
		t.Fatalf("verification page h1 %q", got)
	}
	b.ClickNavigate("#confirm-email")
	if got := b.Text("h1"); got != "Your email address is confirmed" {
		t.Fatalf("after confirming: h1 %q", got)
	}
	b.ClickNavigate("#continue-login")
	wantURL("confirmed, to log in", "/login")

	// Log in.
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", oldPassword)
	submit("/login")
	wantURL("logged in", "/account/security-center")
	b.ClickNavigate(`.site-nav a[href="/account"]`)
	if got := b.Text("#account-email"); got != email {
		t.Fatalf("account page shows %q", got)
	}
	if got := b.Text(".site-nav"); !strings.Contains(got, "Log out") || strings.Contains(got, "Sign up") {
		t.Errorf("navigation when logged in: %q", got)
	}

	// Change the password.
	b.ClickNavigate(`main a[href="/account/password"]`)
	b.SendKeys("#change-current", oldPassword)
	b.SendKeys("#change-new", newPassword)
	submit("/account/password")
	wantURL("password changed", "/account")
	if got := b.Text(".notice"); !strings.Contains(got, "Your password was changed") {
		t.Errorf("notice after the change: %q", got)
	}

	// Log out from the navigation.
	b.ClickNavigate(".site-nav .nav-form button")
	wantURL("logged out", "/login")
	if got := b.Text(".notice"); got != "You are logged out." {
		t.Errorf("notice after logging out: %q", got)
	}

	// The old password fails; the summary says why and takes the focus.
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", oldPassword)
	if got := submit("/login"); got != http.StatusUnauthorized {
		t.Fatalf("old password: status %d", got)
	}
	if got := b.Text("#error-summary"); !strings.Contains(got, "The email address or password is wrong.") {
		t.Fatalf("old password: error summary %q", got)
	}
	if got := focused(); got != "error-summary" {
		t.Errorf("after a wrong password the focus is on %q, want the error summary", got)
	}

	// The new one works (the form kept the address).
	b.SendKeys("#login-password", newPassword)
	submit("/login")
	wantURL("logged in with the new password", "/account/security-center")
	b.ClickNavigate(`.site-nav a[href="/account"]`)

	// The activity page tells the story.
	b.ClickNavigate(`main a[href="/account/activity"]`)
	activity := b.Text("table.activity tbody")
	for _, want := range []string{"Account created", "Email address confirmed", "Logged in", "Failed login", "Password changed", "Logged out"} {
		if !strings.Contains(activity, want) {
			t.Errorf("activity lacks %q:\n%s", want, activity)
		}
	}
	if n := strings.Count(activity, "Logged in"); n != 2 {
		t.Errorf("activity shows %d logins, want 2:\n%s", n, activity)
	}
	// The refused forms answered 422 and 401, which Chromium logs; anything
	// else (such as a resource the Content-Security-Policy refused) is a bug.
	for _, e := range b.ConsoleErrors() {
		if strings.Contains(e, "status of 422") || strings.Contains(e, "status of 401") {
			continue
		}
		t.Errorf("console error: %s", e)
	}
}
