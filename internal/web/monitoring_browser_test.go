package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/staff"
)

// TestBrowserAlertQueue: in Chromium, a compliance officer logs in to the
// console with a second factor, opens the alert queue from the menu, finds
// the alert a guessed password raised, opens it, is refused without a note,
// resolves it as a false positive, and the queue no longer lists it as open.
func TestBrowserAlertQueue(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	start := time.Now()
	s := newMonitorSite(t)
	base := browsertest.LocalURL(s.url)
	const (
		email      = "eve@example.com"
		staffEmail = "cora@ops.example"
	)
	s.signedUp(email)
	a := s.guessedLogin(email)
	_, _, secret := s.staffEnrolled(staffEmail, staff.RoleCompliance)

	wantPath := pathChecker(t, b, base)
	consoleLogin(t, b, base, staffEmail, secret)
	if got := b.Text("#open-alerts"); !strings.Contains(got, "1 open alert") {
		t.Errorf("home card: %q", got)
	}

	b.ClickNavigate(`.site-nav a[href="/console/alerts"]`)
	queue := b.Text("#alerts")
	for _, want := range []string{"failed_logins_then_success", email, "high", "Restrict withdrawals", "login_succeeded", `count("login_failed", 1h) = 5`} {
		if !strings.Contains(queue, want) {
			t.Errorf("queue lacks %q: %q", want, queue)
		}
	}
	b.Screenshot("alert-queue")
	b.ClickNavigate(`a.queue-item[href="/console/alerts/` + a.ID + `"]`)
	if got := b.Text("#alert-rule"); got != "failed_logins_then_success" {
		t.Fatalf("alert page: %q", got)
	}

	// Without a note it is refused, with the choice kept.
	b.Click("#resolution-false_positive")
	b.ClickNavigate("#resolve")
	if got := b.Text("#error-summary"); !strings.Contains(got, "Write a note") {
		t.Fatalf("without a note: %q", got)
	}
	if !browsertest.Eval[bool](b, `document.getElementById("resolution-false_positive").checked`) {
		t.Error("the outcome chosen was lost")
	}
	b.SendKeys("#resolve-note", "Customer confirmed the logins on a call, ticket 4711.")
	b.Screenshot("alert-resolve")
	b.ClickNavigate("#resolve")
	wantPath("resolved", "/console/alerts")
	if got := b.Text(".notice"); !strings.Contains(got, "resolved as a false positive") {
		t.Errorf("notice: %q", got)
	}
	if got := b.Text("#alerts-empty"); !strings.Contains(got, "no alert is open") {
		t.Errorf("queue after resolving: %q", got)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("tr.alert-row").length`); n != 0 {
		t.Errorf("%d alerts still listed as open", n)
	}
	open, err := s.mon.ListAlerts(b.Context(), monitor.AlertFilter{Status: monitor.AlertOpen})
	if err != nil || len(open) != 0 {
		t.Fatalf("open alerts %v %v", open, err)
	}

	// On a phone, nothing is wider than the screen.
	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/console/alerts?status=all", "/console/alerts/"+a.ID, "/console/rules")
	checkConsoleErrors(t, b, "status of 422") // the form refused on purpose
	t.Logf("walked through in %s", time.Since(start).Round(time.Millisecond))
}
