package web_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/web"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// monSite is a site with the withdrawal, verification and monitoring pages
// on, the monitoring service wired as `warden serve` wires it: a rule's
// restriction goes through the withdrawal service, a freeze through the
// account service.
type monSite struct {
	*wdSite
	mon *monitor.Service
}

// ruleActor is server.ruleActor: what a rule's action does.
type ruleActor struct {
	accounts    *account.Service
	withdrawals *withdrawal.Service
}

func (r ruleActor) Restrict(ctx context.Context, tx monitor.Tx, accountID, reason string, now time.Time) ([]string, error) {
	_, stale, err := r.withdrawals.RestrictIn(ctx, tx.(withdrawal.Tx), accountID,
		withdrawal.NewRestriction{Kind: "withdrawals", Reason: reason, LiftOn: "verification"}, account.Meta{Actor: "system:monitor"}, now)
	return stale, err
}

func (r ruleActor) Freeze(ctx context.Context, tx monitor.Tx, accountID, reason string, now time.Time) ([]string, error) {
	return r.accounts.FreezeIn(ctx, tx, accountID, reason, account.Meta{Actor: "system:monitor"}, now)
}

// newMonitorSite serves the withdrawal, verification and monitoring pages,
// their services wired to each other as `warden serve` wires them.
func newMonitorSite(t *testing.T) *monSite { return newMonitorSiteWith(t, nil) }

// newMonitorSiteWith is newMonitorSite with more of the configuration set
// by configure, last: the cases' site adds its service so.
func newMonitorSiteWith(t *testing.T, configure func(c *web.Config, st *store.Store)) *monSite {
	t.Helper()
	var wd *withdrawal.Service
	var mon *monitor.Service
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		st := c.Audit.(*store.Store)
		wd = testWithdrawals(c, st)
		wd.Policy.RequireSecondFactor = false
		kyc := testVerification(t, c, st, document.Limits{})
		// As internal/server wires them.
		kyc.Approved = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) error {
			return withdrawal.LiftOnVerification(ctx, tx.(withdrawal.Tx), c.Accounts, a, now)
		}
		kyc.AwaitsVerification = func(ctx context.Context, tx verification.Tx, a account.Account, now time.Time) (bool, error) {
			return withdrawal.AwaitsVerification(ctx, tx.(withdrawal.Tx), a.ID, now)
		}
		mon = &monitor.Service{
			Transact: func(ctx context.Context, fn func(monitor.Tx) error) error {
				return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			View: func(ctx context.Context, fn func(monitor.Tx) error) error {
				return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
			},
			Accounts: c.Accounts, Actor: ruleActor{accounts: c.Accounts, withdrawals: wd},
			Currency: wd.Currency, SyncTimeout: 2 * time.Second, Now: time.Now,
		}
		c.Withdrawals, c.Verification, c.Monitoring, c.Currency = wd, kyc, mon, wd.Currency
		if configure != nil {
			configure(c, st)
		}
	})
	m := &monSite{wdSite: &wdSite{site: s, wd: wd}, mon: mon}
	m.prices()
	return m
}

// ingest stores the platform's events and runs the rules over them, as
// the evaluation loop of `warden serve` does.
func (s *monSite) ingest(events ...monitor.EventInput) {
	s.t.Helper()
	ctx := context.Background()
	if _, err := s.mon.Ingest(ctx, events); err != nil {
		s.t.Fatalf("ingest: %v", err)
	}
	if _, err := s.mon.EvaluatePending(ctx, 1000); err != nil {
		s.t.Fatalf("evaluate: %v", err)
	}
}

var eventSeq int

// guessedLogin feeds five failed logins and a success of the user in the
// last minutes: the default rule failed_logins_then_success raises an
// alert and restricts withdrawals until the user is verified.
func (s *monSite) guessedLogin(email string) monitor.Alert {
	s.t.Helper()
	userID := s.accountOf(email).ID
	now := time.Now()
	var events []monitor.EventInput
	for i := range 5 {
		eventSeq++
		events = append(events, monitor.EventInput{ID: fmt.Sprintf("evt-fail-%d", eventSeq), UserID: userID, Type: "login_failed",
			OccurredAt: now.Add(-time.Duration(10-i) * time.Minute)})
	}
	eventSeq++
	events = append(events, monitor.EventInput{ID: fmt.Sprintf("evt-ok-%d", eventSeq), UserID: userID, Type: "login_succeeded",
		OccurredAt: now.Add(-time.Minute), Attributes: map[string]any{"ip": "198.51.100.23"}})
	s.ingest(events...)
	alerts, err := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{UserID: userID, RuleID: "failed_logins_then_success"})
	if err != nil || len(alerts) == 0 {
		s.t.Fatalf("no alert raised: %v %v", alerts, err)
	}
	return alerts[0]
}

func esc(s string) string { return html.EscapeString(s) }

func TestConsoleAlertsByRole(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	const email = "ada@example.com"
	s.signedUp(email)
	a := s.guessedLogin(email)

	// Support reads alerts (alerts:read) but neither resolves them nor
	// changes the rules.
	support, _ := s.staffLoggedIn("sue@ops.example", staff.RoleSupport)
	expect(t, "support console", support.get("/console"), 200, `<a href="/console/alerts">Alerts</a>`, `id="alerts-queue"`)
	expect(t, "support queue", support.get("/console/alerts"), 200, `href="/console/alerts/`+a.ID+`"`)
	res := support.get("/console/alerts/" + a.ID)
	expect(t, "support detail", res, 200, `<h1 id="alert-rule">failed_logins_then_success</h1>`)
	absent(t, "support detail", res, `id="resolve-form"`)
	expect(t, "support resolves", support.post("/console/alerts/"+a.ID+"/resolve", "resolution", "false_positive", "note", "Looks fine to me."), 403)
	res = support.get("/console/rules")
	expect(t, "support rules", res, 200, `id="rules-read-only"`, " readonly")
	absent(t, "support rules", res, `id="save-rules"`, `id="run-backtest"`)
	expect(t, "support saves rules", support.post("/console/rules", "source", "rules: []\n", "base_version", "0"), 403)
	expect(t, "support backtests", support.post("/console/rules/backtest", "source", "rules: []\n", "since", "7d", "base_version", "0"), 403)

	// A role without alerts:read sees neither the queue nor the rules.
	web.SetStaffAllows(s.pages, func(role, scope string) bool {
		return (role != staff.RoleSupport || scope != "alerts:read") && staff.Allows(role, scope)
	})
	absent(t, "support console without alerts:read", support.get("/console"), `href="/console/alerts"`, `id="open-alerts"`)
	expect(t, "support queue without alerts:read", support.get("/console/alerts"), 403, "does not allow this")
	expect(t, "support alert without alerts:read", support.get("/console/alerts/"+a.ID), 403)
	expect(t, "support rules without alerts:read", support.get("/console/rules"), 403)
	res = support.get("/console/users/" + a.UserID)
	expect(t, "support user page", res, 200, email)
	absent(t, "support user page", res, `id="user-alerts"`, `id="no-alerts"`)
	if got, _ := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{Status: monitor.AlertOpen}); len(got) != 1 {
		t.Fatalf("open alerts after support's attempts: %d", len(got))
	}
}

func TestConsoleAlertQueueAndResolve(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	const email = "bea@example.com"
	s.signedUp(email)
	a := s.guessedLogin(email)
	page := "/console/alerts/" + a.ID

	officer, officerAccount := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "console", officer.get("/console"), 200, `<a href="/console/alerts">Alerts</a>`, `<a href="/console/rules">Rules</a>`,
		`id="alerts-queue"`, `<strong>1</strong> open alert,`)
	res := officer.get("/console/alerts")
	expect(t, "queue", res, 200, `<option value="open" selected>`, `<a href="/console/alerts" aria-current="page">Alerts</a>`,
		`<a href="/console/alerts/`+a.ID+`" class="queue-item">failed_logins_then_success</a>`,
		`<span class="badge warning">high</span>`, "Restrict withdrawals",
		`<a href="/console/users/`+a.UserID+`">`+email+`</a>`, "<code>login_succeeded</code>",
		"<code>"+esc(`count("login_failed", 1h) = 5`)+"</code>")
	expect(t, "queue by rule", officer.get("/console/alerts?rule=failed_logins_then_success"), 200, a.ID,
		`<option value="failed_logins_then_success" selected>`)
	expect(t, "queue by another rule", officer.get("/console/alerts?rule=large_transfer"), 200, `id="alerts-empty"`)

	res = officer.get(page)
	expect(t, "detail", res, 200, `<h1 id="alert-rule">failed_logins_then_success</h1>`, `<span class="badge warning">Open</span>`,
		`<a href="/console/users/`+a.UserID+`">`+email+`</a>`, esc(`count("login_failed", 1h) = 5`),
		"<dt>Verification tier</dt>", "<dt>Two-factor authentication</dt>", "<code>ip</code>", "198.51.100.23",
		`action="/console/alerts/`+a.ID+`/resolve"`, `id="resolution-true_positive"`, `id="resolution-false_positive"`, `id="resolve-note"`)
	// The rule restricted the account, so the alert is in an alerts case;
	// without the case pages it is named, not linked, and none is offered.
	if a.CaseID == "" {
		t.Fatalf("a restricting alert in no case: %+v", a)
	}
	expect(t, "detail's case", res, 200, `<dd id="alert-case"><code>`+a.CaseID+`</code></dd>`)
	absent(t, "detail's case", res, `id="open-case"`, `href="/console/cases/`)
	expect(t, "no case pages", officer.post(page+"/case"), 404)

	// A note and an outcome are both required.
	expect(t, "no note", officer.post(page+"/resolve", "resolution", "false_positive", "note", "  "), 422,
		`<a href="#resolve-note">Write a note: what you checked and what you found.</a>`, `value="false_positive" required checked`)
	expect(t, "no outcome", officer.post(page+"/resolve", "note", "Customer confirmed on a call."), 422,
		`<a href="#resolution-true_positive">Choose whether it was a true or a false positive.</a>`, "Customer confirmed on a call.")
	expect(t, "long note", officer.post(page+"/resolve", "resolution", "true_positive", "note", strings.Repeat("x", 2001)), 422,
		"Write at most 2000 characters.")
	if got, _ := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{Status: monitor.AlertOpen}); len(got) != 1 {
		t.Fatalf("open alerts after refused forms: %d", len(got))
	}
	officer.site = "cross-site"
	expect(t, "cross-site resolve", officer.post(page+"/resolve", "resolution", "false_positive", "note", "forged"), 403)
	officer.site = "same-origin"

	expect(t, "resolve", officer.post(page+"/resolve", "resolution", "false_positive", "note", "Customer confirmed on a call, ticket 4711."),
		303, "/console/alerts")
	expect(t, "empty queue", officer.get("/console/alerts"), 200, "The alert was resolved as a false positive.", `id="alerts-empty"`)
	expect(t, "resolved list", officer.get("/console/alerts?status=resolved"), 200, a.ID, "False positive")
	expect(t, "resolved detail", officer.get(page), 200, `<span class="badge success">Resolved</span> False positive`,
		"by cora@ops.example", "Note: Customer confirmed on a call, ticket 4711.")
	absent(t, "resolved detail", officer.get(page), `id="resolve-form"`)
	expect(t, "resolve twice", officer.post(page+"/resolve", "resolution", "true_positive", "note", "Again."), 303, page)
	expect(t, "stale", officer.get(page), 200, "This alert had already been resolved")
	expect(t, "console", officer.get("/console"), 200, "No open alerts.")

	got, err := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{UserID: a.UserID})
	if err != nil || len(got) != 1 || got[0].Resolution != monitor.FalsePositive || got[0].ResolvedBy != "staff:"+officerAccount.ID ||
		got[0].Note != "Customer confirmed on a call, ticket 4711." {
		t.Fatalf("alert after resolving: %+v %v", got, err)
	}
	// The user's console page lists their alerts.
	expect(t, "user page", officer.get("/console/users/"+a.UserID), 200, `id="user-alerts"`,
		`<a href="/console/alerts/`+a.ID+`" class="queue-item">failed_logins_then_success</a>`)
	expect(t, "unknown alert", officer.get("/console/alerts/alr_nope"), 404)
	expect(t, "unknown alert resolved", officer.post("/console/alerts/alr_nope/resolve", "resolution", "true_positive", "note", "x"), 404)

	// A shadow rule's alert says that nothing was done.
	if _, err := s.mon.PutRules(context.Background(), []byte(shadowRules), account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	s.ingest(monitor.EventInput{ID: "dep-1", UserID: a.UserID, Type: "deposit", Asset: "BTC", Amount: "0.1", ReferenceValue: "6000.00",
		OccurredAt: time.Now().Add(-time.Minute)})
	res = officer.get("/console/alerts")
	expect(t, "shadow in queue", res, 200, "big_deposit", `<span class="badge" title="Shadow mode: recorded only, nothing was done">Shadow</span>`,
		"Nothing: shadow mode")
	shadow, _ := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{RuleID: "big_deposit"})
	if len(shadow) != 1 {
		t.Fatalf("shadow alerts %v", shadow)
	}
	expect(t, "shadow detail", officer.get("/console/alerts/"+shadow[0].ID), 200, `id="alert-shadow"`, "None (shadow mode)",
		"<dt>Reference value</dt>\n    <dd>6000.00 USD</dd>", "<dt>Asset</dt>\n    <dd>BTC</dd>")
}

const shadowRules = `rules:
  - id: big_deposit
    description: A deposit above 5,000.
    event_types: [deposit]
    condition: event.value > 5000.0
    action: alert
    severity: low
    mode: shadow
`

// badRules has a condition naming an undeclared variable, usr, on its
// second line, and a rule without an action.
const badRules = `rules:
  - id: fine_rule
    event_types: [deposit]
    condition: event.value > 1.0
    action: alert
  - id: bad_rule
    event_types: [withdrawal_requested]
    condition: |-
      event.value > 100.0 &&
        usr.tier < 2
    action: hold
    severity: high
  - id: no_action
    event_types: [deposit]
    condition: "true"
`

func TestConsoleRulesEdit(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	ctx := context.Background()
	admin, adminAccount := s.staffLoggedIn("root@ops.example", staff.RoleAdmin)

	res := admin.get("/console/rules")
	expect(t, "rules page", res, 200, `<a href="/console/rules" aria-current="page">Rules</a>`,
		"Warden's default rules are in force", "<code>large_transfer</code>", "<code>failed_logins_then_success</code>",
		`<input type="hidden" name="base_version" value="0">`, `id="save-rules"`, `id="run-backtest"`, `formaction="/console/rules/backtest"`,
		esc(`count("login_failed", duration("1h")) >= 5`))

	// A text that does not check is refused, each problem by its rule
	// with where it is, and the running version stays.
	res = admin.post("/console/rules", "source", strings.ReplaceAll(badRules, "\n", "\r\n"), "base_version", "0")
	expect(t, "bad rules", res, 422, "The rules have 2 problems, listed below. Nothing was changed: version 0 stays in force.",
		`<div class="rule-problem" data-rule="bad_rule">`, `Rule <code>bad_rule</code></strong> <span class="small">(from line 6)</span>`,
		`<code>condition</code> at <strong class="rule-position">2:3</strong>: Undeclared reference to &#39;usr&#39;`,
		"<pre><code>  usr.tier &lt; 2\n  ^</code></pre>",
		`<div class="rule-problem" data-rule="no_action">`, "<code>action</code>: Alert, hold, restrict or freeze.",
		"id: bad_rule", `aria-invalid="true"`)
	absent(t, "bad rules", res, `data-rule="fine_rule"`, "\r")
	if v, err := s.mon.RuleSet(ctx); err != nil || v.Version != 0 {
		t.Fatalf("after a bad text: version %d %v", v.Version, err)
	}
	expect(t, "not YAML", admin.post("/console/rules", "source", "rules:\n  - id: x\n    colour: blue\n", "base_version", "0"), 422,
		"<strong>The rules file</strong>", "field colour not found")
	expect(t, "empty", admin.post("/console/rules", "source", " \r\n", "base_version", "0"), 422,
		`<a href="#rules-source">Write the rules: a YAML file with a list of rules.</a>`)

	// A good text becomes version 1.
	expect(t, "save", admin.post("/console/rules", "source", strings.ReplaceAll(shadowRules, "\n", "\r\n"), "base_version", "0"), 303, "/console/rules")
	v, err := s.mon.RuleSet(ctx)
	if err != nil || v.Version != 1 || v.Source != shadowRules || v.CreatedBy != "staff:"+adminAccount.ID {
		t.Fatalf("after saving: %+v %v", v, err)
	}
	res = admin.get("/console/rules")
	expect(t, "version 1", res, 200, "The rules were saved as a new version.", "Version 1 is in force, saved by root@ops.example",
		"<code>big_deposit</code>", "Shadow mode: recorded only", `<input type="hidden" name="base_version" value="1">`)
	absent(t, "version 1", res, "<code>large_transfer</code>")
	expect(t, "unchanged", admin.post("/console/rules", "source", shadowRules, "base_version", "1"), 303, "/console/rules")
	expect(t, "unchanged notice", admin.get("/console/rules"), 200, "The text was the same as the rules in force")
	// A page drawn from version 0 does not overwrite version 1.
	expect(t, "stale page", admin.post("/console/rules", "source", "rules: []\n", "base_version", "0"), 409,
		"The rules changed while you edited them: version 1, by root@ops.example, is in force now.",
		`<input type="hidden" name="base_version" value="1">`)
	if v, _ := s.mon.RuleSet(ctx); v.Version != 1 {
		t.Fatalf("after a stale page: version %d", v.Version)
	}
	var saved bool
	err = s.store.Read(ctx, func(tx *store.Tx) error {
		recs, err := tx.ListAuditRecords(ctx, store.AuditFilter{Limit: 100})
		for _, r := range recs {
			saved = saved || r.Action == "rules.updated" && r.Actor == "staff:"+adminAccount.ID
		}
		return err
	})
	if err != nil || !saved {
		t.Errorf("no rules.updated by the admin in the audit log (%v)", err)
	}

	// Compliance reads the rules and changes nothing.
	officer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "compliance", officer.get("/console/rules"), 200, "<code>big_deposit</code>", `id="rules-read-only"`)
	expect(t, "compliance saves", officer.post("/console/rules", "source", badRules, "base_version", "1"), 403)
	admin.site = "cross-site"
	expect(t, "cross-site save", admin.post("/console/rules", "source", "rules: []\n", "base_version", "1"), 403)
	if v, _ := s.mon.RuleSet(ctx); v.Version != 1 {
		t.Fatalf("version %d", v.Version)
	}
}

func TestConsoleRulesBacktest(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	const email = "cy@example.com"
	s.signedUp(email)
	userID := s.accountOf(email).ID
	now := time.Now()
	// Deposits 2 and 20 days ago; the rules in force (the defaults) ignore them.
	s.ingest(
		monitor.EventInput{ID: "dep-old", UserID: userID, Type: "deposit", Asset: "BTC", Amount: "1", ReferenceValue: "60000.00", OccurredAt: now.Add(-20 * 24 * time.Hour)},
		monitor.EventInput{ID: "dep-new", UserID: userID, Type: "deposit", Asset: "BTC", Amount: "0.1", ReferenceValue: "6000.00", OccurredAt: now.Add(-2 * 24 * time.Hour)},
		monitor.EventInput{ID: "dep-small", UserID: userID, Type: "deposit", Asset: "BTC", Amount: "0.001", ReferenceValue: "60.00", OccurredAt: now.Add(-24 * time.Hour)},
	)
	admin, _ := s.staffLoggedIn("root@ops.example", staff.RoleAdmin)
	hitsOf := func(body, rule string) string {
		m := regexp.MustCompile(`<tr data-rule="` + rule + `">[\s\S]*?<td class="backtest-hits">(\d+)</td>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no backtest row for %s:\n%s", rule, body)
		}
		return m[1]
	}
	res := admin.post("/console/rules/backtest", "source", shadowRules, "since", "7d", "base_version", "0")
	expect(t, "7 days", res, 200, `<strong id="backtest-hits">1 hits</strong>`, "Over the last 7 days",
		`<a href="/console/users/`+userID+`">`+email+`</a>`, `<option value="7d" selected>`, "id: big_deposit",
		`<input type="hidden" name="base_version" value="0">`)
	if got := hitsOf(res.body, "big_deposit"); got != "1" {
		t.Errorf("7 days: %s hits", got)
	}
	res = admin.post("/console/rules/backtest", "source", shadowRules, "since", "30d", "base_version", "0")
	if got := hitsOf(res.body, "big_deposit"); got != "2" {
		t.Errorf("30 days: %s hits", got)
	}
	// Nothing was recorded or changed.
	if got, _ := s.mon.ListAlerts(context.Background(), monitor.AlertFilter{}); len(got) != 0 {
		t.Errorf("a backtest raised %d alerts", len(got))
	}
	if v, _ := s.mon.RuleSet(context.Background()); v.Version != 0 {
		t.Errorf("a backtest saved version %d", v.Version)
	}
	expect(t, "bad text", admin.post("/console/rules/backtest", "source", badRules, "since", "7d", "base_version", "0"), 422,
		`<strong class="rule-position">2:3</strong>`)
	expect(t, "bad period", admin.post("/console/rules/backtest", "source", shadowRules, "since", "5y", "base_version", "0"), 422,
		"Choose how far back from the list.")
	officer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "compliance backtests", officer.post("/console/rules/backtest", "source", shadowRules, "since", "7d", "base_version", "0"), 403)
}

func TestWithdrawalsPausedNotice(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	ctx := context.Background()
	const email = "dee@example.com"
	s.signedUp(email)
	s.setTier(email, 1)
	c := s.loggedIn(email, goodPassword)
	absent(t, "not paused", c.get("/account"), `id="withdrawals-paused"`)
	expect(t, "not paused", c.get("/withdraw"), 200, `id="choose-asset"`)

	// A rule restricts withdrawals until the user is verified.
	a := s.guessedLogin(email)
	rs, err := s.wd.Restrictions(ctx, a.UserID)
	if err != nil || len(rs) != 1 || rs[0].LiftOn != "verification" || !strings.Contains(rs[0].Reason, "failed_logins_then_success") {
		t.Fatalf("restrictions %+v %v", rs, err)
	}
	internal := []string{"failed_logins_then_success", "monitoring rule", rs[0].Reason}
	res := c.get("/account")
	expect(t, "account", res, 200, `id="withdrawals-paused"`, "We paused withdrawals while we check recent activity.",
		"Completing identity verification lifts it.", `<a href="/verification" id="paused-verify">Verify your identity</a>`)
	absent(t, "account", res, internal...)
	res = c.get("/withdraw?asset=ETH:ethereum")
	expect(t, "withdraw", res, 200, `id="withdrawals-paused"`, "Completing identity verification lifts it.")
	absent(t, "withdraw", res, append(internal, `id="withdraw-form"`, `id="choose-asset"`)...)
	// A form drawn before the pause is refused without the staff's reason.
	res = c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", "k-before-the-pause", "address_id", "other", "address", ethAddr, "amount", "0.1")
	expect(t, "withdraw refused", res, 422, `id="withdrawals-paused"`)
	absent(t, "withdraw refused", res, internal...)
	if ws := s.withdrawalsOf(email); len(ws) != 0 {
		t.Fatalf("a paused account withdrew: %+v", ws)
	}

	// A pause with an end says when; one that only staff lift says they
	// will be in touch. Several are listed.
	until := time.Now().Add(24 * time.Hour)
	if _, err := s.wd.Restrict(ctx, a.UserID, withdrawal.NewRestriction{Kind: "withdrawals", Reason: "Chargeback 1234 under review",
		ExpiresAt: until}, account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wd.Restrict(ctx, a.UserID, withdrawal.NewRestriction{Kind: "withdrawals", Reason: "Sanctions screening hit"},
		account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	res = c.get("/account")
	expect(t, "three pauses", res, 200, "Withdrawals resume once each of these pauses is lifted:",
		"Completing identity verification lifts it.", "It ends on <time datetime=\""+until.UTC().Format(time.RFC3339)+"\"",
		"(in 24 h); nothing needs doing.", "Our team will contact you about it.")
	absent(t, "three pauses", res, "Chargeback 1234", "Sanctions screening", "failed_logins_then_success")

	// At the top tier the rule's pause is lifted by verifying again, with a
	// current ID and a new selfie.
	s.setTier(email, 2)
	res = c.get("/account")
	expect(t, "top tier", res, 200, "Completing identity verification lifts it.", `id="paused-verify"`,
		"Our team will contact you about it.", "(in 24 h); nothing needs doing.")
	res = c.get("/verification")
	expect(t, "verify again", res, 200, `<dd id="reverify">`, "verify your identity\n    again for tier 2",
		"Still needed: Personal information, Government ID, Selfie.")
	absent(t, "verify again", res, `id="next-tier"`)

	// Lifted, the notice goes.
	all, _ := s.wd.Restrictions(ctx, a.UserID)
	for _, r := range all {
		if _, err := s.wd.Lift(ctx, a.UserID, r.ID, account.Meta{Actor: "admin_key:test"}); err != nil {
			t.Fatal(err)
		}
	}
	absent(t, "lifted", c.get("/account"), `id="withdrawals-paused"`)
	expect(t, "lifted", c.get("/withdraw"), 200, `id="choose-asset"`)
	if slices.ContainsFunc(s.webhooks("account.restricted"), func(b string) bool { return !strings.Contains(b, a.UserID) }) {
		t.Error("a restriction webhook for someone else")
	}
}

// A login restriction ends the user's sessions; their next login, with the
// right password, says logins are paused by the security team (not that
// the login looked risky), and a wrong password still says only that.
func TestLoginRestrictedPage(t *testing.T) {
	t.Parallel()
	s := newMonitorSite(t)
	const email = "lou@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword)
	expect(t, "signed in", c.get("/account"), 200)
	if _, err := s.wd.Restrict(context.Background(), s.accountOf(email).ID, withdrawal.NewRestriction{Kind: account.RestrictionLogin,
		Reason: "Chargeback 99 under review"}, account.Meta{Actor: "admin_key:test"}); err != nil {
		t.Fatal(err)
	}
	expect(t, "session ended", c.get("/account"), 303, "/login?next=%2Faccount")
	res := s.client().post("/login", "email", email, "password", goodPassword)
	expect(t, "restricted", res, 403, `id="login-restricted"`, "Logins to this account are paused by our security team.")
	absent(t, "restricted", res, "looked too risky", "Chargeback 99")
	absent(t, "wrong password", s.client().post("/login", "email", email, "password", "not the password at all"), "login-restricted", "paused")
}
