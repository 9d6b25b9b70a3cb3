package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/web"
)

var _ web.Mailbox = (*store.Store)(nil)

// serveDev serves the pages in dev mode over HTTP on a real SQLite store and
// returns the store and the base URL on the host name localhost.
func serveDev(t *testing.T) (*store.Store, string) {
	t.Helper()
	st := storetest.SQLite(t)
	pages, err := web.New(web.Config{PlatformName: "Acme Exchange", Dev: true, Mailbox: st, Logger: quiet})
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	mux := http.NewServeMux()
	pages.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return st, browsertest.LocalURL(srv.URL)
}

// pathChecker returns a check that the browser is at path below base
// after step; at another page, the test cannot go on.
func pathChecker(t *testing.T, b *browsertest.Browser, base string) func(step, path string) {
	return func(step, path string) {
		t.Helper()
		if got := strings.TrimPrefix(b.URL(), base); got != path {
			t.Fatalf("%s: at %s, want %s", step, got, path)
		}
	}
}

// consoleLogin logs a staff member in to the console in the browser, with
// the second factor of their authenticator app.
func consoleLogin(t *testing.T, b *browsertest.Browser, base, email, secret string) {
	t.Helper()
	wantPath := pathChecker(t, b, base)
	b.Navigate(base + "/console/login")
	b.SendKeys("#console-login-email", email)
	b.SendKeys("#console-login-password", staffPassword)
	b.ClickNavigate(`form[action="/console/login"] button[type="submit"]`)
	wantPath("console password step", "/console/login/challenge")
	b.SendKeys("#challenge-code", code(t, secret, 0))
	b.ClickNavigate("#verify-code")
	wantPath("console login", "/console")
}

// checkFitsScreen opens each path below base and fails t where the page is
// wider than the browser's window, which the caller made a phone's.
func checkFitsScreen(t *testing.T, b *browsertest.Browser, base string, paths ...string) {
	t.Helper()
	for _, path := range paths {
		b.Navigate(base + path)
		if overflow := browsertest.Eval[int](b, "document.documentElement.scrollWidth - window.innerWidth"); overflow > 0 {
			t.Errorf("%s at %dpx: %dpx wider than the screen", path, browsertest.Eval[int](b, "window.innerWidth"), overflow)
		}
	}
}

// checkConsoleErrors fails t for each error the pages wrote to the
// browser's console, but those that contain one of expected: what the test
// caused on purpose, such as a form refused with 422.
func checkConsoleErrors(t *testing.T, b *browsertest.Browser, expected ...string) {
	t.Helper()
	for _, msg := range b.ConsoleErrors() {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(msg, e) }) {
			t.Errorf("console error: %s", msg)
		}
	}
}

func TestBrowserMailboxLinkToHome(t *testing.T) {
	b := browsertest.New(t)
	st, base := serveDev(t)
	ctx := context.Background()
	err := st.SaveDevMail(ctx, notify.DevMail{
		ID: "mail-1", MessageID: "<mail-1@warden.test>", ReceivedAt: time.Now().Add(-3 * time.Minute),
		From: "Acme Exchange <no-reply@localhost>", To: "alice@example.com",
		Subject: "Confirm your new device",
		Text:    "Hello Alice,\n\nA new device signed in. To continue, open " + base + "/ and confirm it.\n\nYour anti-phishing code: BLUE-FALCON\n",
		HTML:    `<h1 id="greeting">Hello Alice</h1><p>Open <a href="` + base + `/">Acme</a>.</p><script>document.title = "script ran"</script>`,
	})
	if err != nil {
		t.Fatalf("SaveDevMail: %v", err)
	}

	if status := b.Navigate(base + "/dev/mailbox"); status != http.StatusOK {
		t.Fatalf("mailbox: status %d", status)
	}
	if got := b.Text("h1"); got != "Dev mailbox" {
		t.Fatalf("mailbox h1 = %q", got)
	}
	b.ClickNavigate(`.mail-list a[href="/dev/mailbox/mail-1"]`)
	if got := b.Text("h1"); got != "Confirm your new device" {
		t.Fatalf("message h1 = %q", got)
	}
	if got := b.Text(".mail-text"); !strings.Contains(got, "BLUE-FALCON") {
		t.Errorf("text part = %q", got)
	}

	// The HTML part is shown on its own, and its script does not run.
	b.ClickNavigate(`a[href="/dev/mailbox/mail-1/html"]`)
	if got := b.Text("#greeting"); got != "Hello Alice" {
		t.Errorf("HTML part heading = %q", got)
	}
	if title := browsertest.Eval[string](b, "document.title"); title == "script ran" {
		t.Errorf("a script in the HTML part ran")
	}

	// Back to the message, and follow the link in its text part.
	b.Navigate(base + "/dev/mailbox/mail-1")
	if status := b.ClickNavigate(`.mail-text a`); status != http.StatusOK {
		t.Errorf("home: status %d", status)
	}
	if got := b.URL(); got != base+"/" {
		t.Errorf("after the click the URL is %q, want %q", got, base+"/")
	}
	if got := b.Text("h1"); got != "Account security and withdrawal protection" {
		t.Errorf("home h1 = %q", got)
	}
	// Skip the one refusal the sandbox test causes on purpose.
	checkConsoleErrors(t, b, "sandbox", "script ran")
}

// TestBrowserLayout checks the pages on a phone: nothing wider than the
// screen, the stylesheet and script load under the CSP, and it saves the
// screenshots to look at (set WARDEN_SCREENSHOTS to keep them).
func TestBrowserLayout(t *testing.T) {
	b := browsertest.New(t)
	st, base := serveDev(t)
	for i, subject := range []string{
		"Your withdrawal of 0.015 BTC is waiting for confirmation",
		"New sign-in from Firefox on Linux in Berlin, Germany",
		"Welcome to Acme Exchange: please verify your email address",
	} {
		err := st.SaveDevMail(context.Background(), notify.DevMail{
			ID: "mail-" + string(rune('a'+i)), MessageID: "<" + string(rune('a'+i)) + "@warden.test>",
			ReceivedAt: time.Now().Add(-time.Duration(i+1) * 17 * time.Minute),
			From:       "Acme Exchange <no-reply@localhost>", To: "alice.longname+security@example.com",
			Subject: subject,
			Text:    "Hello,\n\nConfirm here: " + base + "/v1/withdrawal-confirmations?token=" + strings.Repeat("x9", 40) + "\n",
			HTML:    "<p>Hello</p>",
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, width := range []int{360, 390} {
		b.SetViewport(width, 844)
		for _, page := range []struct{ name, path string }{
			{"home", "/"},
			{"mailbox", "/dev/mailbox"},
			{"message", "/dev/mailbox/mail-a"},
			{"not-found", "/dev/mailbox/nope"},
		} {
			b.Navigate(base + page.path)
			if overflow := browsertest.Eval[int](b, "document.documentElement.scrollWidth - window.innerWidth"); overflow > 0 {
				t.Errorf("%s at %dpx: %dpx wider than the screen", page.name, width, overflow)
			}
			if width == 390 {
				b.Screenshot(page.name + "-390")
			}
		}
	}
	b.SetColorScheme("dark")
	b.Navigate(base + "/")
	b.Screenshot("home-dark-390")
	b.Navigate(base + "/dev/mailbox/mail-a")
	b.Screenshot("message-dark-390")
	b.SetColorScheme("")
	b.SetViewport(1280, 900)
	b.Navigate(base + "/")
	b.Screenshot("home-1280")

	// The stylesheet was applied: the header is a flex row, not default block.
	if display := browsertest.Eval[string](b, "getComputedStyle(document.querySelector('.header-inner')).display"); display != "flex" {
		t.Errorf("stylesheet not applied: .header-inner display = %q", display)
	}
	checkConsoleErrors(t, b, "status of 404") // the not-found page itself
}
