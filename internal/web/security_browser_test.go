package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
)

// TestBrowserSecurityCenterAndDriftChecker is issue 9's walk in Chromium:
// the user logs in and lands on the security center; they follow its fixes
// one by one — turn on two-factor authentication, set the anti-phishing
// code, turn on the allow-list with its one button — and after each the
// checklist shows the item done and the score (and, with 2FA, the level)
// rises. Then the help's drift checker is given a code of a phone whose
// clock is 2 minutes behind, made by the independent RFC 6238
// implementation, and says so.
func TestBrowserSecurityCenterAndDriftChecker(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	s := newWithdrawalSite(t, nil)
	base := browsertest.LocalURL(s.url)
	const email = "rosa@example.com"
	s.signedUp(email)

	wantPath := pathChecker(t, b, base)
	// center opens the security center from the navigation and reads the
	// level, the meter's value and whether item is done.
	center := func(step, item string) (level string, score int, done bool) {
		t.Helper()
		b.ClickNavigate(`.site-nav a[href="/account/security-center"]`)
		wantPath(step, "/account/security-center")
		level = b.Text("#security-level-name")
		score = int(browsertest.Eval[float64](b, `document.querySelector("#security-score").value`))
		if text := b.Text("#security-score-text"); text != strconv.Itoa(score)+" of 100" {
			t.Fatalf("%s: the meter says %d, the text %q", step, score, text)
		}
		done = browsertest.Eval[string](b, `document.querySelector("#check-`+item+`").dataset.done`) == "true"
		return level, score, done
	}

	b.Navigate(base + "/login")
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", goodPassword)
	b.ClickNavigate(`form[action="/login"] button[type="submit"]`)
	wantPath("logged in: the security center is home", "/account/security-center")
	level, score, done := center("new account", "two_factor")
	if level != "Basic" || score != 15 || done {
		t.Fatalf("new account: %s %d two_factor done=%v", level, score, done)
	}
	b.Screenshot("security-center-basic")

	// Two-factor authentication, from the item's fix.
	b.ClickNavigate("#fix-two_factor")
	wantPath("fix two-factor", "/account/security")
	b.ClickNavigate("#setup-totp")
	secret := strings.ReplaceAll(b.Text("#totp-secret"), " ", "")
	b.SendKeys("#totp-code", code(t, secret, -30*time.Second))
	b.ClickNavigate("#confirm-totp")
	b.ClickNavigate("#codes-saved")
	level, score, done = center("after 2FA", "two_factor")
	if level != "Good" || score != 55 || !done {
		t.Fatalf("after 2FA: %s %d two_factor done=%v", level, score, done)
	}

	// The anti-phishing code.
	b.ClickNavigate("#fix-anti_phishing_code")
	wantPath("fix the code", "/account/anti-phishing")
	b.SendKeys("#anti-phishing-code", "blue heron")
	b.ClickNavigate(`form[action="/account/anti-phishing"] button[type="submit"]`)
	level, score, done = center("after the code", "anti_phishing_code")
	if level != "Good" || score != 65 || !done {
		t.Fatalf("after the anti-phishing code: %s %d done=%v", level, score, done)
	}

	// The allow-list, with one button.
	b.ClickNavigate("#fix-allow_list")
	wantPath("allow-list on", "/addresses")
	if got := b.Text("#allow-list-state"); got != "On" {
		t.Fatalf("address book after the fix: allow-list %q", got)
	}
	level, score, done = center("after the allow-list", "allow_list")
	if level != "Good" || score != 75 || !done {
		t.Fatalf("after the allow-list: %s %d done=%v", level, score, done)
	}
	if got := b.Text("#security-next"); got != "To reach strong, add a passkey." {
		t.Fatalf("next level: %q", got)
	}
	b.Screenshot("security-center-good")

	// The drift checker, from the help linked in the navigation.
	b.ClickNavigate(`.site-nav a[href="/help"]`)
	wantPath("help", "/help")
	b.SendKeys("#drift-code", code(t, secret, -2*time.Minute))
	b.ClickNavigate("#check-drift")
	if got := b.Text("#drift-result"); !strings.Contains(got, "Your phone's clock is 2 minutes behind.") {
		t.Fatalf("drift result: %q", got)
	}
	if got := b.URL(); !strings.HasSuffix(got, "/help/drift#code-not-working") {
		t.Fatalf("after the check: at %s", got)
	}
	b.Screenshot("help-drift")
	if n := s.laneFailures(email); n != 0 {
		t.Fatalf("the drift check counted %d failures", n)
	}
	// Both pages fit a phone's screen.
	b.SetViewport(360, 740)
	checkFitsScreen(t, b, base, "/account/security-center", "/help")
	checkConsoleErrors(t, b)
}
