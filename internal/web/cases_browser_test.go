package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/staff"
)

// TestBrowserReportCase: in Chromium, a signed-in user opens the report
// form from the freeze page, is refused without words, reports; the account
// is frozen and the page shows the open case. A compliance officer then
// finds the case in the console's queue and opens it.
func TestBrowserReportCase(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	start := time.Now()
	s := newCaseSite(t)
	base := browsertest.LocalURL(s.url)
	const (
		email      = "wren@example.com"
		staffEmail = "cora@ops.example"
		words      = "I got a login alert from a country I have never been to, then my password stopped working."
	)
	s.signedUp(email)
	_, _, secret := s.staffEnrolled(staffEmail, staff.RoleCompliance)
	wantPath := pathChecker(t, b, base)

	b.Navigate(base + "/login")
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", goodPassword)
	b.ClickNavigate(`form[action="/login"] button[type="submit"]`)
	b.Navigate(base + "/account/freeze")
	b.ClickNavigate(`#report-instead a[href="/account/report"]`)
	wantPath("report form", "/account/report")
	b.ClickNavigate("#send-report")
	if got := b.Text("#error-summary"); !strings.Contains(got, "Say in a few words what happened.") {
		t.Fatalf("without words: %q", got)
	}
	if s.accountOf(email).Frozen() {
		t.Fatal("a refused report froze the account")
	}
	b.SendKeys("#report-statement", words)
	b.Screenshot("report-form")
	b.ClickNavigate("#send-report")
	wantPath("reported", "/account/report")
	if got := b.Text(".notice"); !strings.Contains(got, "We received your report") {
		t.Errorf("notice: %q", got)
	}
	if got := b.Text("#case-status"); !strings.Contains(got, "Open") {
		t.Errorf("case state: %q", got)
	}
	if got := b.Text("#case-statements"); !strings.Contains(got, words) {
		t.Errorf("statements: %q", got)
	}
	b.Screenshot("report-open")
	user := s.accountOf(email)
	if !user.Frozen() {
		t.Fatal("the report did not freeze the account")
	}
	// Logged out: the account pages want a login again.
	b.Navigate(base + "/account")
	wantPath("logged out", "/login?next=%2Faccount")

	consoleLogin(t, b, base, staffEmail, secret)
	if got := b.Text("#open-cases"); !strings.Contains(got, "1 open case") {
		t.Errorf("home card: %q", got)
	}
	b.ClickNavigate(`.site-nav a[href="/console/cases"]`)
	wantPath("queue", "/console/cases")
	queue := b.Text("#cases")
	for _, want := range []string{email, "I got a login alert", "Open", "Froze the account"} {
		if !strings.Contains(queue, want) {
			t.Errorf("queue lacks %q: %q", want, queue)
		}
	}
	b.ClickNavigate(`#cases a.queue-item`)
	if got := b.Text("#case-user"); got != email {
		t.Fatalf("case page: %q", got)
	}
	if got := b.Text(".case-report blockquote"); got != words {
		t.Errorf("statement: %q", got)
	}
	if got := b.Text("#case-account"); !strings.Contains(got, "Frozen") {
		t.Errorf("account state: %q", got)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll(".snapshot-logins tbody tr").length`); n < 1 {
		t.Errorf("%d logins in the snapshot", n)
	}
	b.Screenshot("console-case")

	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/console/cases", strings.TrimPrefix(b.URL(), base))
	checkConsoleErrors(t, b, "status of 422") // the form refused on purpose
	t.Logf("walked through in %s", time.Since(start).Round(time.Millisecond))
}

// TestBrowserDashboard: in Chromium, an administrator opens the dashboard
// from the console's menu and sees the seeded queue counts and the bars of
// the charts (drawn as SVG on the server, no script), switches to seven
// days, and follows a chart's legend to the list behind it.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	s := newCaseSite(t)
	base := browsertest.LocalURL(s.url)
	sd := s.seedDashboard("xia@example.com")
	_, _, secret := s.staffEnrolled("ada@ops.example", staff.RoleAdmin)
	consoleLogin(t, b, base, "ada@ops.example", secret)

	b.ClickNavigate(`.site-nav a[href="/console/dashboard"]`)
	for id, want := range map[string]string{
		"#queue-withdrawals-count": "2", "#queue-verifications-count": "1", "#queue-alerts-count": "2", "#queue-cases-count": "1",
	} {
		if got := b.Text(id); got != want {
			t.Errorf("%s: %q, want %q", id, got, want)
		}
	}
	bar := func(chart, label, series string) int {
		t.Helper()
		return browsertest.Eval[int](b, `(() => {
			const bar = document.querySelector('#`+chart+` g.chart-bar[data-label="`+label+`"]');
			if (!bar) return -1;
			const seg = bar.querySelector('rect[data-series="`+series+`"]');
			return seg ? Number(seg.dataset.value) : 0;
		})()`)
	}
	// The bars are drawn: their heights on the page match the counts.
	if h := browsertest.Eval[float64](b, `document.querySelector('#chart-logins rect[data-series="succeeded"][data-value="3"]').getBBox().height`); h <= 0 {
		t.Errorf("allowed logins' bar height %v", h)
	}
	for _, c := range []struct {
		chart, label, series string
		want                 int
	}{
		{"chart-logins", hourLabel(sd.twoAgo), "succeeded", 3},
		{"chart-logins", hourLabel(sd.twoAgo), "challenged", 2},
		{"chart-logins", hourLabel(sd.twoAgo), "denied", 1},
		{"chart-lockouts", hourLabel(sd.twoAgo), "locked", 2},
		{"chart-withdrawals", hourLabel(sd.fiveAgo), "pending_review", 2},
		{"chart-alerts", hourLabel(sd.fiveAgo), "big_withdrawal", 2},
	} {
		if got := bar(c.chart, c.label, c.series); got != c.want {
			t.Errorf("%s at %s, %s: %d, want %d", c.chart, c.label, c.series, got, c.want)
		}
	}
	if title := browsertest.Eval[string](b, `document.querySelector('#chart-logins > title').textContent`); !strings.HasPrefix(title, "Logins by decision") {
		t.Errorf("chart title %q", title)
	}
	b.Screenshot("dashboard-24h")

	b.ClickNavigate("#period-7d")
	if got := bar("chart-logins", dayLabel(sd.daysAgo), "succeeded"); got != 4 {
		t.Errorf("7 days: allowed logins three days ago: %d", got)
	}
	b.Screenshot("dashboard-7d")
	b.ClickNavigate(`#chart-logins-legend a[data-series="denied"]`)
	if got := strings.TrimPrefix(b.URL(), base); got != "/console/logins?outcome=denied&period=7d" {
		t.Fatalf("legend link: at %s", got)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#logins tr.login-row").length`); n != 2 {
		t.Errorf("%d denied logins listed", n)
	}

	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/console/dashboard?period=30d")
	b.Screenshot("dashboard-30d-phone")
	checkConsoleErrors(t, b)
}
