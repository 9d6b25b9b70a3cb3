package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/web"
)

// caseSite is a site with every page on, as `warden serve` wires it:
// withdrawals, verification, monitoring and cases.
type caseSite struct {
	*monSite
	cases *cases.Service
}

func newCaseSite(t *testing.T) *caseSite {
	t.Helper()
	var cs *cases.Service
	m := newMonitorSiteWith(t, func(c *web.Config, st *store.Store) {
		cs = &cases.Service{
			Transact: func(ctx context.Context, fn func(cases.Tx) error) error {
				return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			View: func(ctx context.Context, fn func(cases.Tx) error) error {
				return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			Accounts: c.Accounts, Assets: testCatalog(), Currency: c.Currency, Policy: cases.DefaultPolicy(), Now: time.Now,
		}
		c.Cases = cs
	})
	return &caseSite{monSite: m, cases: cs}
}

func (s *caseSite) openCases(userID string) []cases.Case {
	s.t.Helper()
	list, err := s.cases.List(context.Background(), cases.Filter{AccountID: userID, Status: cases.StatusOpen})
	if err != nil {
		s.t.Fatal(err)
	}
	return list
}

// caseCookie is the browser's access token to its report, sent to /account/report only.
func (c *client) caseCookie() *http.Cookie { return c.cookieAt("/account/report", "warden_case") }

// TestReportFromAccountFreezesAndOpensCase: a signed-in user reports with
// the form; the account is frozen, the session ends, a case is opened
// with their words and their recent logins; the browser follows the case
// without a session, and adds to it.
func TestReportFromAccountFreezesAndOpensCase(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	const email = "rae@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	user := s.accountOf(email)

	expect(t, "freeze page links the report", c.get("/account/freeze"), 200, `href="/account/report"`)
	res := c.get("/account/report")
	expect(t, "report page", res, 200, "Report a compromised account", `<form method="post" action="/account/report" id="report-form" novalidate>`,
		`id="report-statement"`, "Freeze my account and report", "What freezing does")
	absent(t, "report page", res, `id="case"`)
	expect(t, "empty report", c.post("/account/report", "statement", "  "), 422, "Say in a few words what happened.")
	if s.accountOf(email).Frozen() {
		t.Fatal("a refused report froze the account")
	}
	expect(t, "too long", c.post("/account/report", "statement", strings.Repeat("x", cases.MaxStatement+1)), 422, "Write at most 4000 characters.")

	session := c.cookie("warden_session").Value
	res = c.post("/account/report", "statement", "I never logged in from Lima <script>.")
	expect(t, "report", res, 303, "/account/report")
	for _, h := range res.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, "warden_case=") && (!strings.Contains(h, "HttpOnly") || !strings.Contains(h, "Path=/account/report")) {
			t.Errorf("case cookie: %s", h)
		}
	}
	if !s.accountOf(email).Frozen() {
		t.Fatal("the report did not freeze the account")
	}
	if c.cookie("warden_session") != nil || s.resolves(session) {
		t.Error("the session survived the report")
	}
	if ck := c.caseCookie(); ck == nil || !strings.HasPrefix(ck.Value, cases.AccessPrefix) {
		t.Fatalf("case cookie: %+v", ck)
	}
	res = c.get("/account/report")
	expect(t, "report state", res, 200, "We received your report.", `<span class="badge warning">Open</span>`,
		"I never logged in from Lima &lt;script&gt;.", "Add to your report")
	absent(t, "report state", res, "<script>.")
	open := s.openCases(user.ID)
	if len(open) != 1 || open[0].ReportCount != 1 || !open[0].Froze {
		t.Fatalf("open cases: %+v", open)
	}
	got, _ := s.cases.Get(context.Background(), open[0].ID)
	if snap := got.Reports[0].Snapshot; len(snap.Logins) == 0 || snap.Logins[0].Outcome != "succeeded" || len(snap.Sessions) != 1 || snap.WasFrozen {
		t.Errorf("snapshot: %+v", snap)
	}
	var subjects []string
	for _, e := range s.emails(email) {
		subjects = append(subjects, e.Subject)
	}
	if !strings.Contains(strings.Join(subjects, "|"), "We received your report") {
		t.Errorf("emails: %v", subjects)
	}

	// The browser adds to the open case with its cookie; another browser cannot.
	expect(t, "add", c.post("/account/report", "statement", "Also a withdrawal I did not ask for."), 303, "/account/report")
	expect(t, "added", c.get("/account/report"), 200, "Your words were added to your report.", "Also a withdrawal I did not ask for.")
	if open := s.openCases(user.ID); len(open) != 1 || open[0].ReportCount != 2 {
		t.Fatalf("after adding: %+v", open)
	}
	stranger := s.client()
	res = stranger.get("/account/report")
	expect(t, "stranger", res, 200, "we need to know that it is yours", `href="/login"`)
	absent(t, "stranger", res, `id="report-form"`, "Lima")
	expect(t, "stranger reports", stranger.post("/account/report", "statement", "hello"), 400, "could not tell that this report comes from the account")
	stranger.setCookie("/account/report", "warden_case", "wcr_forged")
	expect(t, "forged cookie", stranger.get("/account/report"), 200, "we need to know that it is yours")
}

// TestReportFromFreezeLink: the "this wasn't me" landing page freezes and
// reports in one step with its token; the plain freeze leads to the frozen
// page, whose form reports once with the grant the freeze handed out.
func TestReportFromFreezeLink(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	const email = "sol@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	expect(t, "set code", c.post("/account/anti-phishing", "code", "GREEN TEA"), 303)
	link := s.link(email, "/freeze")
	token := tokenOf(link)

	expect(t, "landing", c.get(link), 200, `<form method="post" action="/freeze">`, `id="freeze-report"`,
		`<input type="hidden" name="token" value="`+token+`">`, "Freeze my account and report")
	other := s.client() // the link opened on another device, without a session
	expect(t, "empty words keep the token", other.post("/account/report", "token", token, "statement", ""), 422,
		"Say in a few words what happened.", `<input type="hidden" name="token" value="`+token+`">`)
	expect(t, "report by link", other.post("/account/report", "token", token, "statement", "I got a login alert from Peru."), 303, "/account/report")
	user := s.accountOf(email)
	if !user.Frozen() {
		t.Fatal("not frozen")
	}
	expect(t, "state", other.get("/account/report"), 200, "I got a login alert from Peru.", "Open")
	expect(t, "link spent", s.client().post("/account/report", "token", token, "statement", "again"), 400)
	expect(t, "link spent for freezing too", s.client().post("/freeze", "token", token), 400)
	open := s.openCases(user.ID)
	if len(open) != 1 {
		t.Fatalf("cases: %+v", open)
	}
	got, _ := s.cases.Get(context.Background(), open[0].ID)
	if got.Reports[0].Via != cases.ViaFreezeLink || !got.Reports[0].Froze {
		t.Errorf("report: %+v", got.Reports[0])
	}

	// A second user freezes with the plain button, then reports from the frozen page.
	const email2 = "tam@example.com"
	s.signedUp(email2)
	c2 := s.loggedIn(email2, goodPassword)
	expect(t, "set code", c2.post("/account/anti-phishing", "code", "BLUE TEA"), 303)
	freezer := s.client()
	expect(t, "freeze", freezer.post("/freeze", "token", tokenOf(s.link(email2, "/freeze"))), 303, "/frozen")
	expect(t, "frozen page", freezer.get("/frozen"), 200, `id="frozen-report"`, `<form method="post" action="/account/report" novalidate>`)
	expect(t, "report page with the grant", freezer.get("/account/report"), 200, `id="report-form"`, "Send the report")
	expect(t, "report", freezer.post("/account/report", "statement", "Not me."), 303, "/account/report")
	if ck := freezer.cookieAt("/account/report", "warden_report"); ck != nil {
		t.Error("the spent grant's cookie stayed")
	}
	user2 := s.accountOf(email2)
	if open := s.openCases(user2.ID); len(open) != 1 {
		t.Fatalf("cases of the second user: %+v", open)
	}
	got, _ = s.cases.Get(context.Background(), s.openCases(user2.ID)[0].ID)
	if got.Reports[0].Via != cases.ViaGrant || got.Reports[0].Froze {
		t.Errorf("report from the frozen page: %+v", got.Reports[0])
	}
	// Someone sent to /frozen by a refused login is pointed to the page.
	expect(t, "frozen help", s.client().get("/frozen"), 200, `id="report-link"`)
}

// TestConsoleCases: compliance sees the queue and the case with the
// user's words and the snapshot, and resolves it with a note the user then
// reads; support reads but does not resolve.
func TestConsoleCases(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	const email = "uma@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	expect(t, "report", c.post("/account/report", "statement", "My phone was stolen yesterday."), 303, "/account/report")
	user := s.accountOf(email)
	caseID := s.openCases(user.ID)[0].ID

	officer, _ := s.staffLoggedIn("cy@ops.example", staff.RoleCompliance)
	expect(t, "console home", officer.get("/console"), 200, `<a href="/console/cases">Cases</a>`, `id="cases-queue"`,
		`<strong>1</strong> open case:`, `<a href="/console/dashboard">Dashboard</a>`)
	res := officer.get("/console/cases")
	expect(t, "queue", res, 200, `<a href="/console/cases" aria-current="page">Cases</a>`, `<option value="open" selected>`,
		`<a href="/console/cases/`+caseID+`" class="queue-item">`+email+`</a>`, "My phone was stolen yesterday.", "Froze the account")
	res = officer.get("/console/cases/" + caseID)
	expect(t, "detail", res, 200, `<h1 id="case-user">`+email+`</h1>`, "My phone was stolen yesterday.", `<span class="badge danger">Frozen</span>`,
		`class="snapshot-logins"`, "Allowed", `class="snapshot-sessions"`, "Signed in", `id="resolve-form"`, `id="resolution-compromised"`,
		`href="/console/users/`+user.ID+`"`)
	expect(t, "missing case", officer.get("/console/cases/cas_nope"), 404)

	support, _ := s.staffLoggedIn("sam@ops.example", staff.RoleSupport)
	expect(t, "support queue", support.get("/console/cases"), 200, caseID)
	res = support.get("/console/cases/" + caseID)
	expect(t, "support detail", res, 200, "My phone was stolen yesterday.")
	absent(t, "support detail", res, `id="resolve-form"`)
	expect(t, "support resolves", support.post("/console/cases/"+caseID+"/resolve", "resolution", "compromised", "note", "x"), 403)

	expect(t, "no note", officer.post("/console/cases/"+caseID+"/resolve", "resolution", "compromised", "note", ""), 422,
		"Write a note to the user", `id="resolution-compromised" name="resolution" value="compromised" required checked`)
	expect(t, "no outcome", officer.post("/console/cases/"+caseID+"/resolve", "note", "Hi"), 422, "Choose what you found.")
	expect(t, "resolve", officer.post("/console/cases/"+caseID+"/resolve", "resolution", "compromised",
		"note", "We confirmed someone used your stolen phone. Call us to unfreeze.", "internal_note", "ticket 77"), 303, "/console/cases")
	expect(t, "resolved notice", officer.get("/console/cases"), 200, "The case was resolved.", `id="cases-empty"`)
	res = officer.get("/console/cases/" + caseID)
	expect(t, "resolved detail", res, 200, "Compromised", "cy@ops.example", "ticket 77", "We confirmed someone used your stolen phone.")
	absent(t, "resolved detail", res, `id="resolve-form"`)
	expect(t, "resolve again", officer.post("/console/cases/"+caseID+"/resolve", "resolution", "inconclusive", "note", "again"), 303,
		"/console/cases/"+caseID)

	// The user reads the outcome and staff's note to them, not the internal one.
	res = c.get("/account/report")
	expect(t, "user sees it", res, 200, `<span class="badge success">Resolved</span>`, "Someone else did get into your account.",
		"We confirmed someone used your stolen phone. Call us to unfreeze.", "Report again")
	absent(t, "user sees it", res, "ticket 77")
}

// TestConsoleAlertsCase: monitoring opens an alerts case when a rule
// restricts an account; the queue tells the kinds apart and filters by
// kind; the case lists its alerts and is resolved as a true or false
// positive, which resolves its alerts with the note and tells the user
// nothing.
func TestConsoleAlertsCase(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	ctx := context.Background()
	const email, reporter = "vic@example.com", "wes@example.com"
	s.signedUp(email)
	a := s.guessedLogin(email) // failed_logins_then_success restricts: a case opens
	if a.CaseID == "" {
		t.Fatalf("the restricting alert is in no case: %+v", a)
	}
	caseID := a.CaseID
	s.signedUp(reporter)
	expect(t, "report", s.loggedIn(reporter, goodPassword).post("/account/report", "statement", "Someone changed my email."), 303, "/account/report")
	reportID := s.openCases(s.accountOf(reporter).ID)[0].ID

	officer, officerAccount := s.staffLoggedIn("cy@ops.example", staff.RoleCompliance)
	expect(t, "console home", officer.get("/console"), 200, `<strong>2</strong> open cases`)
	for _, tc := range []struct {
		name, query   string
		want, notWant []string
	}{
		{"every kind", "", []string{
			`<option value="" selected>Every kind</option>`,
			`<tr class="case-row" data-case="` + caseID + `" data-kind="alerts">`,
			`<td class="case-kind"><span class="badge info">Alerts</span></td>`,
			"failed_logins_then_success: A login that succeeds after five or more failures",
			`<td class="case-count">1 alert</td>`,
			`<tr class="case-row" data-case="` + reportID + `" data-kind="user_report">`,
			`<td class="case-kind"><span class="badge">User report</span></td>`,
			"Someone changed my email.", `<td class="case-count">1 report</td>`,
		}, nil},
		{"alerts", "?kind=alerts", []string{`<option value="alerts" selected>Alerts</option>`, `data-case="` + caseID + `"`},
			[]string{reportID, "Someone changed my email."}},
		{"reports", "?kind=user_report", []string{`<option value="user_report" selected>User reports</option>`, `data-case="` + reportID + `"`},
			[]string{caseID, "failed_logins_then_success"}},
		{"unknown kind", "?kind=nonsense", []string{`<option value="" selected>Every kind</option>`, caseID, reportID}, nil},
		{"resolved alerts", "?kind=alerts&status=resolved", []string{`id="cases-empty"`, "no alerts case is resolved"}, []string{caseID}},
	} {
		res := officer.get("/console/cases" + tc.query)
		expect(t, tc.name, res, 200, tc.want...)
		absent(t, tc.name, res, tc.notWant...)
	}

	// The case lists its alerts; its form is an alerts case's.
	page := "/console/cases/" + caseID
	res := officer.get(page)
	expect(t, "detail", res, 200, "Case: alerts for investigation", `<h1 id="case-user">`+email+`</h1>`, "1 alert.",
		`<dd id="case-kind">Alerts <span class="small muted">(the user is not told of this case)</span></dd>`,
		`<table id="case-alerts">`, `<tr class="case-alert" data-alert="`+a.ID+`">`,
		`<a href="/console/alerts/`+a.ID+`" class="queue-item">failed_logins_then_success</a>`,
		`<span class="badge warning">high</span>`, "Restrict withdrawals", "<code>login_succeeded</code>", a.EventID,
		`id="resolve-form"`, `id="resolution-true_positive"`, `id="resolution-false_positive"`,
		"True positive: the alerts caught real abuse", "False positive: the activity was legitimate",
		"Recorded on each of its open alerts", `id="resolve-alerts-hint"`, "The user\n      is not told.")
	absent(t, "detail", res, `id="resolution-compromised"`, "Note to the user", "emailed", `class="case-report"`)
	// A report keeps its own page.
	res = officer.get("/console/cases/" + reportID)
	expect(t, "report detail", res, 200, "Case: reported compromised account", `id="resolution-compromised"`, "Note to the user")
	absent(t, "report detail", res, `id="case-alerts"`, `id="resolution-true_positive"`)

	support, _ := s.staffLoggedIn("sam@ops.example", staff.RoleSupport)
	res = support.get(page)
	expect(t, "support detail", res, 200, `id="case-alerts"`, a.ID)
	absent(t, "support detail", res, `id="resolve-form"`)
	expect(t, "support resolves", support.post(page+"/resolve", "resolution", "true_positive", "note", "x"), 403)

	// The alert's page links to its case and offers no other.
	res = officer.get("/console/alerts/" + a.ID)
	expect(t, "alert page", res, 200, `<dd id="alert-case"><a href="/console/cases/`+caseID+`">`+caseID+`</a></dd>`)
	absent(t, "alert page", res, `id="open-case"`)

	expect(t, "a report's outcome", officer.post(page+"/resolve", "resolution", "compromised", "note", "x"), 422,
		"Choose whether the alerts were a true or a false positive.")
	expect(t, "no note", officer.post(page+"/resolve", "resolution", "true_positive", "note", " "), 422,
		"Write a note: what you checked and what you found.", `value="true_positive" required checked`)
	mails := len(s.emails(email))
	const note = "Password guessed from a botnet; the user confirmed on a call and changed it."
	expect(t, "resolve", officer.post(page+"/resolve", "resolution", "true_positive", "note", note, "internal_note", "ticket 88"), 303, "/console/cases")
	expect(t, "resolved notice", officer.get("/console/cases?kind=alerts"), 200,
		"The case was resolved, and each of its open alerts with it, with your note. The user is not told.", `id="cases-empty"`)
	if n := len(s.emails(email)); n != mails {
		t.Errorf("the user was emailed about an alerts case: %d emails, %d before", n, mails)
	}
	got, err := s.mon.ListAlerts(ctx, monitor.AlertFilter{CaseID: caseID})
	if err != nil || len(got) != 1 || got[0].Status != monitor.AlertResolved || got[0].Resolution != monitor.TruePositive ||
		got[0].Note != note || got[0].ResolvedBy != "staff:"+officerAccount.ID {
		t.Fatalf("the case's alert after resolving: %+v %v", got, err)
	}
	res = officer.get(page)
	expect(t, "resolved detail", res, 200, `<span class="badge success">Resolved</span> True positive`, "by cy@ops.example",
		`<dd id="case-resolution-note">`+note, "ticket 88", `<span class="badge success">Resolved</span><br><span class="small muted">True positive</span>`)
	absent(t, "resolved detail", res, `id="resolve-form"`, "Note to the user")
	expect(t, "alert resolved", officer.get("/console/alerts/"+a.ID), 200, `<span class="badge success">Resolved</span> True positive`,
		"Note: "+note, `id="alert-case"`)
	expect(t, "resolve again", officer.post(page+"/resolve", "resolution", "false_positive", "note", "again"), 303, page)
	// The report is still open.
	if open := s.openCases(s.accountOf(reporter).ID); len(open) != 1 {
		t.Fatalf("the report: %+v", open)
	}
}

// depositWatch raises a medium alert for a big deposit: it opens no case.
const depositWatch = `rules:
  - id: big_deposit
    description: A deposit above 5,000.
    event_types: [deposit]
    condition: event.value > 5000.0
    action: alert
    severity: medium
`

// TestConsoleOpenCaseFromAlert: an open alert in no case has an "Open a
// case" button for roles that may write alerts; it puts the alert into its
// user's alerts case and leads there, the same case every time.
func TestConsoleOpenCaseFromAlert(t *testing.T) {
	t.Parallel()
	s := newCaseSite(t)
	ctx := context.Background()
	if _, err := s.mon.PutRules(ctx, []byte(depositWatch), account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	deposit := func(email, id string) monitor.Alert {
		t.Helper()
		s.signedUp(email)
		userID := s.accountOf(email).ID
		s.ingest(monitor.EventInput{ID: id, UserID: userID, Type: "deposit", Asset: "BTC", Amount: "0.1", ReferenceValue: "6000.00",
			OccurredAt: time.Now().Add(-time.Minute)})
		list, err := s.mon.ListAlerts(ctx, monitor.AlertFilter{UserID: userID})
		if err != nil || len(list) != 1 || list[0].CaseID != "" {
			t.Fatalf("alerts of %s: %+v %v", email, list, err)
		}
		return list[0]
	}
	a := deposit("xia@example.com", "dep-xia")
	alertPage := "/console/alerts/" + a.ID

	support, _ := s.staffLoggedIn("sam@ops.example", staff.RoleSupport)
	res := support.get(alertPage)
	expect(t, "support alert page", res, 200, `<h1 id="alert-rule">big_deposit</h1>`)
	absent(t, "support alert page", res, `id="open-case"`, `id="alert-case"`)
	expect(t, "support opens a case", support.post(alertPage+"/case"), 403)

	officer, officerAccount := s.staffLoggedIn("cy@ops.example", staff.RoleCompliance)
	res = officer.get(alertPage)
	expect(t, "alert page", res, 200, `<form method="post" action="/console/alerts/`+a.ID+`/case" id="open-case-form">`,
		`<button type="submit" class="secondary" id="open-case">Open a case</button>`)
	absent(t, "alert page", res, `id="alert-case"`)
	officer.site = "cross-site"
	expect(t, "cross-site", officer.post(alertPage+"/case"), 403)
	officer.site = "same-origin"
	if l, _ := s.cases.List(ctx, cases.Filter{Kind: cases.KindAlerts}); len(l) != 0 {
		t.Fatalf("cases after refused posts: %+v", l)
	}

	res = officer.post(alertPage + "/case")
	if res.status != 303 {
		t.Fatalf("open a case: %d %s", res.status, res.body)
	}
	open := s.openCases(a.UserID)
	if len(open) != 1 || open[0].Kind != cases.KindAlerts || open[0].AlertCount != 1 {
		t.Fatalf("cases after opening one: %+v", open)
	}
	casePage := "/console/cases/" + open[0].ID
	if loc := res.header.Get("Location"); loc != casePage {
		t.Fatalf("led to %q, want %q", loc, casePage)
	}
	expect(t, "case page", officer.get(casePage), 200, "The alert is in this case now.", "Case: alerts for investigation",
		`<a href="/console/alerts/`+a.ID+`" class="queue-item">big_deposit</a>`, `<span class="badge info">medium</span>`, "Alert only",
		`id="resolution-true_positive"`)
	expect(t, "again", officer.post(alertPage+"/case"), 303, casePage)
	if open := s.openCases(a.UserID); len(open) != 1 {
		t.Fatalf("cases after asking again: %+v", open)
	}
	res = officer.get(alertPage)
	expect(t, "alert page in a case", res, 200, `<dd id="alert-case"><a href="/console/cases/`+open[0].ID+`">`)
	absent(t, "alert page in a case", res, `id="open-case"`)
	var opened bool
	if err := s.store.Read(ctx, func(tx *store.Tx) error {
		recs, err := tx.ListAuditRecords(ctx, store.AuditFilter{Limit: 100})
		for _, r := range recs {
			opened = opened || r.Action == "case.opened" && r.Actor == "staff:"+officerAccount.ID && r.UserID == a.UserID
		}
		return err
	}); err != nil || !opened {
		t.Errorf("no case.opened by the officer in the audit log (%v)", err)
	}

	// An alert resolved on its own has nothing left to investigate.
	b := deposit("yan@example.com", "dep-yan")
	if _, err := s.mon.ResolveAlert(ctx, b.ID, monitor.FalsePositive, "Salary.", account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	absent(t, "resolved alert page", officer.get("/console/alerts/"+b.ID), `id="open-case"`, `id="alert-case"`)
	expect(t, "case for a resolved alert", officer.post("/console/alerts/"+b.ID+"/case"), 303, "/console/alerts/"+b.ID)
	expect(t, "notice", officer.get("/console/alerts/"+b.ID), 200, "nothing left to investigate in it")
	if l := s.openCases(b.UserID); len(l) != 0 {
		t.Fatalf("a case for a resolved alert: %+v", l)
	}
	expect(t, "unknown alert", officer.post("/console/alerts/alr_nope/case"), 404)
}
