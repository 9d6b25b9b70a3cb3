package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/staff"
)

// TestBrowserVerification: in Chromium, a user logs in, goes through the
// verification wizard with photos taken by the file inputs, and submits; a
// compliance officer logs in to the console with a second factor, opens the
// queue, sees the documents load and approves; the user then sees tier 2 and
// its limits.
func TestBrowserVerification(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	s := newKYCSite(t, document.Limits{})
	base := browsertest.LocalURL(s.url)
	const (
		email      = "vera@example.com"
		staffEmail = "cora@ops.example"
	)
	s.signedUp(email)

	dir := t.TempDir()
	files := map[string][]byte{
		"front.jpg":  testJPEG(t, 320, 200),
		"back.png":   testPNG(t, 320, 200),
		"selfie.jpg": testJPEG(t, 240, 320),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Context(), browsertest.StepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	attach := func(input, file string) {
		t.Helper()
		do("attach "+file, chromedp.SetUploadFiles(chromedp.CSS(input), []string{filepath.Join(dir, file)}))
	}
	wantPath := pathChecker(t, b, base)

	// The user logs in and opens the wizard from the navigation.
	b.Navigate(base + "/login")
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", goodPassword)
	b.ClickNavigate(`form[action="/login"] button[type="submit"]`)
	wantPath("logged in", "/account/security-center")
	b.ClickNavigate(`.site-nav a[href="/verification"]`)
	if got := b.Text("#current-tier"); got != "Tier 0: Email verified" {
		t.Errorf("tier before: %q", got)
	}

	b.Screenshot("wizard-info")

	// 1. Personal information. The date and the country are set as their
	// pickers would (typing into a date input depends on the locale).
	b.SendKeys("#info-legal-name", "Vera Müller")
	do("date and country", chromedp.SetValue(chromedp.CSS("#info-dob"), "1990-04-23"), chromedp.SetValue(chromedp.CSS("#info-country"), "DE"))
	b.SendKeys("#info-line1", "Hauptstraße 5")
	b.SendKeys("#info-city", "Berlin")
	b.SendKeys("#info-postal-code", "10115")
	b.ClickNavigate("#save-info")
	if got := b.Text(".notice"); !strings.Contains(got, "personal information was saved") {
		t.Errorf("notice after the personal information: %q", got)
	}

	// 2. An ID card, front and back; 3. a selfie.
	b.Click("#kind-id_card")
	b.ClickNavigate("#choose-kind-submit")
	if got := browsertest.Eval[string](b, `document.getElementById("upload-front").getAttribute("capture")`); got != "environment" {
		t.Errorf("front input capture = %q", got)
	}
	attach("#upload-front", "front.jpg")
	b.ClickNavigate("#upload-front-submit")
	b.WaitVisible("#upload-front-done")
	b.Screenshot("wizard-document")
	attach("#upload-back", "back.png")
	b.ClickNavigate("#upload-back-submit")
	if got := b.Text("#step-title"); got != "Selfie" {
		t.Fatalf("after the ID: step %q", got)
	}
	attach("#upload-selfie", "selfie.jpg")
	b.ClickNavigate("#upload-selfie-submit")

	// 4. Review and submit; 5. the status.
	if got := b.Text("#review-target"); !strings.Contains(got, "tier 2") {
		t.Errorf("review: %q", got)
	}
	if got := b.Text("#review-info"); !strings.Contains(got, "Vera Müller") || !strings.Contains(got, "Germany") {
		t.Errorf("review of the personal information: %q", got)
	}
	b.Screenshot("wizard-review")
	b.ClickNavigate("#submit-verification")
	if got := b.Text("#verification-status"); !strings.Contains(got, "Waiting for review") {
		t.Fatalf("status after submitting: %q", got)
	}

	// A compliance officer (password and authenticator set up before) logs in
	// to the console in the same browser, with the app's code.
	_, _, secret := s.staffEnrolled(staffEmail, staff.RoleCompliance)
	consoleLogin(t, b, base, staffEmail, secret)
	b.ClickNavigate(`.site-nav a[href="/console/verifications"]`)
	if got := b.Text("#queue"); !strings.Contains(got, email) || !strings.Contains(got, "Waiting for review") {
		t.Fatalf("queue: %q", got)
	}
	b.ClickNavigate("a.queue-item")
	if got := b.Text("#person-name"); got != "Vera Müller" {
		t.Errorf("person: %q", got)
	}
	// The page's load event waited for the images: each one decoded.
	loaded := browsertest.Eval[[]int](b, `Array.from(document.querySelectorAll("img.document-image")).map(i => i.complete ? i.naturalWidth : -1)`)
	if len(loaded) != 3 || loaded[0] != 320 || loaded[1] != 320 || loaded[2] != 240 {
		t.Errorf("document images' widths %v, want [320 320 240]", loaded)
	}
	b.Screenshot("console-review")
	b.ClickNavigate("#approve")
	wantPath("approved", "/console/verifications")
	if got := b.Text(".notice"); !strings.Contains(got, "Approved") {
		t.Errorf("notice after approving: %q", got)
	}

	// The user's pages show tier 2 and its limits.
	b.Navigate(base + "/limits")
	if got := b.Text("#limits-tier"); got != "Tier 2: Identity verified" {
		t.Errorf("limits tier: %q", got)
	}
	if got, got24 := b.Text("#limit-per-transaction"), b.Text("#limit-24h"); got != "50000.00 USD" || got24 != "100000.00 USD" {
		t.Errorf("limits: %q per withdrawal, %q per 24 hours", got, got24)
	}
	b.Screenshot("limits")
	b.Navigate(base + "/verification")
	if got := b.Text("#current-tier"); got != "Tier 2: Identity verified" {
		t.Errorf("verification tier: %q", got)
	}
	if got := b.Text("#verification-status"); !strings.Contains(got, "Your identity is verified") {
		t.Errorf("verification status: %q", got)
	}
	// On a phone, nothing is wider than the screen.
	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/verification?step=document&kind=id_card", "/limits")
	checkConsoleErrors(t, b)
}
