package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/server/servertest"
)

// Reports of a compromised account through the API, on the whole server
// (server.New, as `warden serve` runs it) with real SMTP: the user's report
// freezes and opens a case, the reporter follows it without a session,
// staff list, read and resolve it with the alerts scopes.

func TestAccountReportAndCases(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { accountReportAndCases(t, startWithdrawalNode(t, dbURL)) })
}

func accountReportAndCases(t *testing.T, n *kycNode) {
	const email = "report@example.com"
	session := n.signUp(t, email)
	userID := n.userID(t, session)

	n.call(t, "GET", "/v1/account/report", nil, bearer(session)...).expect(t, 404, "not_found")
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": "x"}).expect(t, 401, "unauthenticated")
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": " "}, bearer(session)...).expect(t, 400, "validation_failed").field(t, "note")
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": strings.Repeat("x", 4001)}, bearer(session)...).expect(t, 400, "validation_failed")
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": "x", "extra": "y"}, bearer(session)...).expect(t, 400, "")

	r := n.call(t, "POST", "/v1/account/report", map[string]string{"note": "Someone logged in from abroad and added an address."}, bearer(session)...).
		expect(t, 201, "")
	caseID, _ := r.body["case_id"].(string)
	access, _ := r.body["access_token"].(string)
	if caseID == "" || r.body["status"] != "open" || r.body["frozen"] != true || r.body["froze_now"] != true || r.body["added"] != false ||
		!strings.HasPrefix(access, "wcr_") || r.body["access_expires_at"] == nil || len(asList(r.body["reports"])) != 1 {
		t.Fatalf("report: %s", r.raw)
	}
	// Frozen: the session ended and the password no longer logs in.
	n.call(t, "GET", "/v1/session", nil, bearer(session)...).expect(t, 401, "unauthenticated")
	n.login(t, email).expect(t, 403, "account_frozen")
	n.Email(t, email, "We received your report")

	// The reporter follows the case, and adds to it, with the access token.
	r = n.call(t, "GET", "/v1/account/report", nil, "X-Warden-Case-Token", access).expect(t, 200, "")
	if r.body["case_id"] != caseID || r.body["status"] != "open" || r.body["note"] != nil {
		t.Fatalf("case by access: %s", r.raw)
	}
	n.call(t, "GET", "/v1/account/report", nil, "X-Warden-Case-Token", "wcr_forged").expect(t, 400, "invalid_token")
	r = n.call(t, "POST", "/v1/account/report", map[string]string{"statement": "They also changed my anti-phishing code.", "access_token": access}).
		expect(t, 201, "")
	if r.body["case_id"] != caseID || r.body["added"] != true || r.body["froze_now"] != false || len(asList(r.body["reports"])) != 2 {
		t.Fatalf("second report: %s", r.raw)
	}

	// Staff: alerts:read lists and reads, alerts:write resolves.
	reader := adminKeyWith(t, n.store, "alerts:read")
	none := adminKeyWith(t, n.store, "users:read")
	call := func(key, method, path string, body any) kycResp {
		return n.call(t, method, path, body, "Authorization", "Bearer "+key)
	}
	call(none, "GET", "/admin/v1/cases", nil).expect(t, 403, "insufficient_scope")
	call(reader, "GET", "/admin/v1/cases?status=closed", nil).expect(t, 400, "validation_failed")
	r = call(reader, "GET", "/admin/v1/cases?status=open", nil).expect(t, 200, "")
	list := asList(r.body["cases"])
	if len(list) != 1 {
		t.Fatalf("open cases: %s", r.raw)
	}
	if c := list[0].(map[string]any); c["id"] != caseID || c["user_id"] != userID || c["report_count"] != float64(2) || c["froze"] != true ||
		c["reports"] != nil {
		t.Fatalf("listed case: %v", c)
	}
	if r := call(reader, "GET", "/admin/v1/cases?status=resolved", nil).expect(t, 200, ""); len(asList(r.body["cases"])) != 0 {
		t.Fatalf("resolved cases: %s", r.raw)
	}
	r = call(reader, "GET", "/admin/v1/cases/"+caseID, nil).expect(t, 200, "")
	reports := asList(r.body["reports"])
	if len(reports) != 2 {
		t.Fatalf("case: %s", r.raw)
	}
	first := reports[0].(map[string]any)
	snap, _ := first["snapshot"].(map[string]any)
	logins, sessions := asList(snap["logins"]), asList(snap["sessions"])
	if first["statement"] != "Someone logged in from abroad and added an address." || first["via"] != "session" || first["froze"] != true ||
		len(logins) == 0 || logins[0].(map[string]any)["outcome"] != "succeeded" || len(sessions) != 1 || snap["was_frozen"] != false {
		t.Fatalf("first report: %v", first)
	}
	if second := reports[1].(map[string]any); second["via"] != "case_link" || second["froze"] != false {
		t.Fatalf("second report: %v", second)
	}
	call(reader, "GET", "/admin/v1/cases/cas_nope", nil).expect(t, 404, "not_found")
	resolution := map[string]string{"resolution": "compromised", "note": "We removed the intruder's address. Call support to unfreeze.", "internal_note": "ticket 9"}
	call(reader, "POST", "/admin/v1/cases/"+caseID+"/resolve", resolution).expect(t, 403, "insufficient_scope")
	n.admin(t, "POST", "/admin/v1/cases/"+caseID+"/resolve", map[string]string{"resolution": "maybe", "note": "x"}).
		expect(t, 400, "validation_failed").field(t, "resolution")
	n.admin(t, "POST", "/admin/v1/cases/"+caseID+"/resolve", map[string]string{"resolution": "compromised"}).
		expect(t, 400, "validation_failed").field(t, "note")
	r = n.admin(t, "POST", "/admin/v1/cases/"+caseID+"/resolve", resolution).expect(t, 200, "")
	if r.body["status"] != "resolved" || r.body["resolution"] != "compromised" || r.body["internal_note"] != "ticket 9" ||
		!strings.HasPrefix(r.body["resolved_by"].(string), "admin_key:") {
		t.Fatalf("resolved: %s", r.raw)
	}
	n.admin(t, "POST", "/admin/v1/cases/"+caseID+"/resolve", resolution).expect(t, 409, "case_resolved")
	n.admin(t, "POST", "/admin/v1/cases/cas_nope/resolve", resolution).expect(t, 404, "not_found")
	n.Email(t, email, "Your report was reviewed")

	// The user reads the resolution and staff's note to them, never the internal one.
	r = n.call(t, "GET", "/v1/account/report", nil, "X-Warden-Case-Token", access).expect(t, 200, "")
	if r.body["status"] != "resolved" || r.body["resolution"] != "compromised" || r.body["note"] != resolution["note"] ||
		strings.Contains(string(r.raw), "ticket 9") || strings.Contains(string(r.raw), "snapshot") {
		t.Fatalf("user's view: %s", r.raw)
	}
	r = n.admin(t, "GET", "/admin/v1/audit?user_id="+userID+"&type=case.opened", nil).expect(t, 200, "")
	if len(asList(r.body["records"])) != 1 {
		t.Fatalf("audit: %s", r.raw)
	}

	// Another user, without a session, reports with the freeze link of a security email.
	const other = "other@example.com"
	s2 := n.signUp(t, other)
	n.call(t, "PUT", "/v1/anti-phishing-code", map[string]string{"code": "OWL 42"}, bearer(s2)...).expect(t, 204, "")
	freeze := n.EmailLinkToken(t, other, "anti-phishing", "/freeze")
	r = n.call(t, "POST", "/v1/account/report", map[string]string{"note": "Not me!", "token": freeze}).expect(t, 201, "")
	if r.body["froze_now"] != true || r.body["case_id"] == caseID {
		t.Fatalf("report by freeze token: %s", r.raw)
	}
	n.call(t, "GET", "/v1/session", nil, bearer(s2)...).expect(t, 401, "unauthenticated")
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": "again", "token": freeze}).expect(t, 400, "invalid_token")
	if r := n.admin(t, "GET", "/admin/v1/cases?status=open", nil).expect(t, 200, ""); len(asList(r.body["cases"])) != 1 {
		t.Fatalf("open cases at the end: %s", r.raw)
	}
}

// depositRules watch deposits: a big one raises an alert at medium
// severity, which joins the user's open alerts case but opens none; a huge
// one fires at high severity, which opens a case.
const depositRules = `rules:
  - id: big_deposit
    description: A deposit above 5,000.
    event_types: [deposit]
    condition: event.value > 5000.0
    action: alert
    severity: medium
  - id: huge_deposit
    description: A deposit above 50,000.
    event_types: [deposit]
    condition: event.value > 50000.0
    action: alert
    severity: high
`

// TestAlertsCases: alerts grouped for investigation through the admin
// API. Staff put an alert into its user's case (idempotently), monitoring
// opens one by itself for a high-severity hit, the queue filters by kind,
// a case shows its alerts, and resolving it resolves them.
func TestAlertsCases(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, alertsCases)
}

func alertsCases(t *testing.T, n *kycNode) {
	n.putRules(t, depositRules).expect(t, 200, "")
	ann := n.userID(t, n.signUp(t, "ann@example.com"))
	ben := n.userID(t, n.signUp(t, "ben@example.com"))
	cat := n.userID(t, n.signUp(t, "cat@example.com"))
	at := time.Now().Add(-time.Minute)
	// waitAlerts waits for the user's alerts of a rule to number want.
	waitAlerts := func(userID, rule string, want int) []map[string]any {
		t.Helper()
		var got []map[string]any
		eventually(t, fmt.Sprintf("%d alerts of %s for %s", want, rule, userID), func() bool {
			got = n.alerts(t, "rule_id="+rule+"&user_id="+userID)
			return len(got) == want
		})
		return got
	}
	reader := adminKeyWith(t, n.store, "alerts:read")

	// A medium alert opens no case: staff open one from it, and asking
	// again answers the same case.
	n.ingested(t, 1, 0, platformEvent("ann-1", ann, "deposit", at, "6000.00"))
	first := waitAlerts(ann, "big_deposit", 1)[0]
	firstID := first["id"].(string)
	if _, in := first["case_id"]; in {
		t.Fatalf("a medium alert joined a case: %v", first)
	}
	if l := asList(n.admin(t, "GET", "/admin/v1/cases?kind=alerts", nil).expect(t, 200, "").body["cases"]); len(l) != 0 {
		t.Fatalf("alerts cases before any: %v", l)
	}
	n.call(t, "POST", "/admin/v1/alerts/"+firstID+"/case", nil, bearer(reader)...).expect(t, 403, "insufficient_scope")
	opened := n.admin(t, "POST", "/admin/v1/alerts/"+firstID+"/case", nil).expect(t, 200, "")
	annCase, _ := opened.body["case_id"].(string)
	if !strings.HasPrefix(annCase, "cas_") || len(opened.body) != 1 {
		t.Fatalf("case opened: %s", opened.raw)
	}
	for i := range 2 {
		if again := n.admin(t, "POST", "/admin/v1/alerts/"+firstID+"/case", nil).expect(t, 200, ""); again.body["case_id"] != annCase {
			t.Fatalf("asking again (%d): %s, want %s", i, again.raw, annCase)
		}
	}
	if got := n.alerts(t, "user_id="+ann); len(got) != 1 || got[0]["case_id"] != annCase {
		t.Fatalf("the alert after: %v", got)
	}
	if records := asList(n.admin(t, "GET", "/admin/v1/audit?type=case.opened&user_id="+ann, nil).expect(t, 200, "").body["records"]); len(records) != 1 ||
		records[0].(map[string]any)["actor"] != "admin_key:key_bootstrap" {
		t.Fatalf("case.opened records: %v", records)
	}

	// Unknown alerts, and an alert resolved outside any case.
	n.admin(t, "POST", "/admin/v1/alerts/alr_nothing/case", nil).expect(t, 404, "not_found")
	n.ingested(t, 1, 0, platformEvent("ben-1", ben, "deposit", at, "7000.00"))
	benAlert := waitAlerts(ben, "big_deposit", 1)[0]["id"].(string)
	n.admin(t, "POST", "/admin/v1/alerts/"+benAlert+"/resolve", map[string]string{"resolution": "false_positive", "note": "payroll"}).expect(t, 200, "")
	n.admin(t, "POST", "/admin/v1/alerts/"+benAlert+"/case", nil).expect(t, 409, "alert_resolved")

	// While Ann's case is open, her new alerts join it.
	n.ingested(t, 1, 0, platformEvent("ann-2", ann, "deposit", at, "60000.00"))
	waitAlerts(ann, "huge_deposit", 1)
	if got := n.alerts(t, "case_id="+annCase); len(got) != 3 {
		t.Fatalf("alerts of Ann's case: %v", got)
	}
	// A high-severity hit opens Cat's case by itself.
	n.ingested(t, 1, 0, platformEvent("cat-1", cat, "deposit", at, "90000.00"))
	catAlerts := waitAlerts(cat, "huge_deposit", 1)
	catCase, _ := catAlerts[0]["case_id"].(string)
	if catCase == "" || catCase == annCase {
		t.Fatalf("Cat's alert: %v", catAlerts[0])
	}
	// And a user's report is the other kind.
	n.call(t, "POST", "/v1/account/report", map[string]string{"note": "Not me."}, bearer(n.signUp(t, "dan@example.com"))...).expect(t, 201, "")

	// The queue by kind.
	for _, tc := range []struct {
		query string
		want  map[string]float64 // case kind → alert count, by user
	}{
		{"kind=alerts", map[string]float64{ann: 3, cat: 2}},
		{"kind=alerts&user_id=" + cat, map[string]float64{cat: 2}},
		{"kind=alerts&status=resolved", map[string]float64{}},
		{"kind=user_report", map[string]float64{"dan": 0}},
		{"", map[string]float64{ann: 3, cat: 2, "dan": 0}},
	} {
		list := asList(n.call(t, "GET", "/admin/v1/cases?"+tc.query, nil, bearer(reader)...).expect(t, 200, "").body["cases"])
		got := map[string]float64{}
		for _, x := range list {
			c := x.(map[string]any)
			user := c["user_id"].(string)
			if c["kind"] == "user_report" {
				user = "dan"
			} else if c["kind"] != "alerts" || c["report_count"] != 0.0 || c["alerts"] != nil || c["status"] != "open" {
				t.Errorf("%s: listed %v", tc.query, c)
			}
			got[user] = c["alert_count"].(float64)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("cases?%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	bad := n.admin(t, "GET", "/admin/v1/cases?kind=report", nil).expect(t, 400, "validation_failed")
	if e := bad.field(t, "kind"); !strings.Contains(fmtString(e["detail"]), "user_report, alerts") {
		t.Fatalf("bad kind: %s", bad.raw)
	}

	// One case shows its alerts, oldest first.
	c := n.call(t, "GET", "/admin/v1/cases/"+annCase, nil, bearer(reader)...).expect(t, 200, "").body
	alerts := asList(c["alerts"])
	if c["kind"] != "alerts" || c["user_id"] != ann || c["alert_count"] != 3.0 || len(alerts) != 3 || c["reports"] != nil {
		t.Fatalf("Ann's case: %v", c)
	}
	a0 := alerts[0].(map[string]any)
	if a0["id"] != firstID || a0["rule_id"] != "big_deposit" || a0["event_id"] != "ann-1" || a0["event_type"] != "deposit" ||
		a0["action"] != "alert" || a0["severity"] != "medium" || a0["description"] != "A deposit above 5,000." || a0["status"] != "open" ||
		a0["created_at"] == nil || a0["resolution"] != nil {
		t.Fatalf("the first alert of the case: %v", a0)
	}
	var rules []string
	for _, a := range alerts {
		rules = append(rules, a.(map[string]any)["rule_id"].(string))
	}
	if slices.Sort(rules); !slices.Equal(rules, []string{"big_deposit", "big_deposit", "huge_deposit"}) {
		t.Fatalf("rules of the case's alerts: %v", rules)
	}

	// Resolved with an alerts case's resolution and a note; its alerts
	// take both. A report's resolutions are refused, and the other way round.
	path := "/admin/v1/cases/" + annCase + "/resolve"
	n.admin(t, "POST", path, map[string]string{"resolution": "compromised", "note": "x"}).expect(t, 400, "validation_failed").field(t, "resolution")
	n.admin(t, "POST", path, map[string]string{"resolution": "true_positive"}).expect(t, 400, "validation_failed").field(t, "note")
	dan := asList(n.admin(t, "GET", "/admin/v1/cases?kind=user_report", nil).expect(t, 200, "").body["cases"])[0].(map[string]any)["id"].(string)
	n.admin(t, "POST", "/admin/v1/cases/"+dan+"/resolve", map[string]string{"resolution": "true_positive", "note": "x"}).
		expect(t, 400, "validation_failed").field(t, "resolution")
	n.call(t, "POST", path, map[string]string{"resolution": "true_positive", "note": "x"}, bearer(reader)...).expect(t, 403, "insufficient_scope")
	const note = "Structuring: deposits split to stay under the limits; account restricted."
	done := n.admin(t, "POST", path, map[string]string{"resolution": "true_positive", "note": note, "internal_note": "ticket 12"}).expect(t, 200, "").body
	if done["status"] != "resolved" || done["resolution"] != "true_positive" || done["note"] != note || done["internal_note"] != "ticket 12" {
		t.Fatalf("resolved case: %v", done)
	}
	for _, a := range asList(done["alerts"]) {
		if m := a.(map[string]any); m["status"] != "resolved" || m["resolution"] != "true_positive" {
			t.Fatalf("an alert of the resolved case: %v", m)
		}
	}
	got := n.alerts(t, "case_id="+annCase)
	if len(got) != 3 {
		t.Fatalf("alerts of the resolved case: %v", got)
	}
	for _, a := range got {
		if a["status"] != "resolved" || a["resolution"] != "true_positive" || a["note"] != note ||
			a["resolved_by"] != "admin_key:key_bootstrap" || a["resolved_at"] == nil {
			t.Fatalf("an alert of the resolved case: %v", a)
		}
	}
	n.admin(t, "POST", path, map[string]string{"resolution": "false_positive", "note": "again"}).expect(t, 409, "case_resolved")
	// Its alerts still name it; Cat's case is untouched.
	if again := n.admin(t, "POST", "/admin/v1/alerts/"+firstID+"/case", nil).expect(t, 200, ""); again.body["case_id"] != annCase {
		t.Fatalf("a resolved case's alert: %s", again.raw)
	}
	if open := n.alerts(t, "status=open&case_id="+catCase); len(open) != 2 {
		t.Fatalf("open alerts of Cat's case: %v", open)
	}
	if l := n.alerts(t, "case_id=cas_nope"); len(l) != 0 {
		t.Fatalf("alerts of no case: %v", l)
	}
}
