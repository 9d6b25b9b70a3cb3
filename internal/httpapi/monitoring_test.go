package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store"
)

// Transaction monitoring through the admin API, on the whole server
// (server.New, as `warden serve` runs it): events fed in batches, rules
// replaced and replayed, and the rules acting on real withdrawals and
// logins, with alerts, webhooks and their resolution.

// startMonitoringNode starts a server as startWithdrawalNode does, with
// withdrawals confirmed by the email link alone (no authenticator app to
// wait for) and room for the failed logins a rule counts; extra overrides.
func startMonitoringNode(t *testing.T, dbURL string, extra map[string]string) *kycNode {
	t.Helper()
	env := map[string]string{
		"WARDEN_COOLDOWN_NEW_DEVICE":    "0s",
		"WARDEN_RATE_LOGIN_PER_IP":      "10000/1m",
		"WARDEN_LOCKOUT_MAX_FAILURES":   "10",
		"WARDEN_WITHDRAWAL_REQUIRE_2FA": "false",
	}
	for k, v := range extra {
		env[k] = v
	}
	n := servertest.Start(t, dbURL, kycAdminKey, nil, env)
	return newKYCNode(n)
}

// forEachDatabase runs fn on a fresh node on SQLite and on PostgreSQL.
func forEachDatabase(t *testing.T, fn func(t *testing.T, n *kycNode)) {
	t.Helper()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { fn(t, startMonitoringNode(t, dbURL, nil)) })
}

// platformEvent is one event as the platform posts it.
func platformEvent(id, userID, typ string, at time.Time, value string) map[string]any {
	e := map[string]any{"id": id, "user_id": userID, "type": typ, "occurred_at": at.UTC().Format(time.RFC3339)}
	if value != "" {
		e["reference_value"] = value
	}
	return e
}

func (n *kycNode) ingest(t *testing.T, events ...map[string]any) kycResp {
	t.Helper()
	if events == nil {
		events = []map[string]any{}
	}
	return n.admin(t, "POST", "/admin/v1/events", map[string]any{"events": events})
}

// ingested expects a batch to be taken with these counts.
func (n *kycNode) ingested(t *testing.T, accepted, duplicates int, events ...map[string]any) {
	t.Helper()
	r := n.ingest(t, events...).expect(t, 200, "")
	if r.body["accepted"] != float64(accepted) || r.body["duplicates"] != float64(duplicates) {
		t.Fatalf("ingest: %s, want accepted %d, duplicates %d", r.raw, accepted, duplicates)
	}
}

// storedEvents counts the events stored as occurring in [from, to).
func (n *kycNode) storedEvents(t *testing.T, from, to time.Time) int {
	t.Helper()
	var count int
	if err := n.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		count, err = tx.CountEvents(context.Background(), from, to)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return count
}

// userEvents lists the types of a user's stored events of types since a
// time, oldest first.
func (n *kycNode) userEvents(t *testing.T, userID string, since time.Time, types ...string) []string {
	t.Helper()
	var out []string
	if err := n.store.Read(context.Background(), func(tx *store.Tx) error {
		from := map[string]time.Time{}
		for _, ty := range types {
			from[ty] = since
		}
		events, err := tx.UserEvents(context.Background(), userID, from, time.Now().Add(time.Minute))
		for _, e := range events {
			out = append(out, e.Type)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func (n *kycNode) putRules(t *testing.T, source string) kycResp {
	t.Helper()
	return n.admin(t, "PUT", "/admin/v1/rules", map[string]string{"source": source})
}

// alerts lists alerts with a query such as "rule_id=x&status=open".
func (n *kycNode) alerts(t *testing.T, query string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, a := range asList(n.admin(t, "GET", "/admin/v1/alerts?"+query, nil).expect(t, 200, "").body["alerts"]) {
		out = append(out, a.(map[string]any))
	}
	return out
}

// eventually polls fn for up to 15 seconds.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if fn() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// ruleError finds the invalid_rules entry of a rule's field in
// rule_errors, the form with the rule's id and the CEL error's position.
func ruleError(t *testing.T, r kycResp, ruleID, field string) map[string]any {
	t.Helper()
	for _, e := range asList(r.body["rule_errors"]) {
		if m := e.(map[string]any); m["rule_id"] == ruleID && m["field"] == field {
			return m
		}
	}
	t.Fatalf("no error for rule %q field %q in %s", ruleID, field, r.raw)
	return nil
}

// --- events ---

func TestMonitoringEvents(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, monitoringEvents)
}

func monitoringEvents(t *testing.T, n *kycNode) {
	session := n.signUp(t, "ingest@example.com")
	uid := n.userID(t, session)
	now := time.Now().UTC().Truncate(time.Second)
	// The platform's events all occurred an hour ago; Warden's own are now.
	at := now.Add(-time.Hour)
	from, to := now.Add(-2*time.Hour), now.Add(-30*time.Minute)
	deposit := func(id, value string) map[string]any {
		e := platformEvent(id, uid, "deposit", at, value)
		e["asset"], e["amount"], e["attributes"] = "BTC", "0.5", map[string]any{"txid": "f4184fc5", "confirmations": 6}
		return e
	}
	batch := []map[string]any{deposit("dep-1", "30000.00"), deposit("dep-2", "120.50"), deposit("dep-3", "0.01")}

	// A batch, then the same batch again: nothing twice.
	n.ingested(t, 3, 0, batch...)
	if c := n.storedEvents(t, from, to); c != 3 {
		t.Fatalf("%d events stored, want 3", c)
	}
	n.ingested(t, 0, 3, batch...)
	n.ingested(t, 1, 1, deposit("dep-3", "0.01"), deposit("dep-4", "7"))
	if c := n.storedEvents(t, from, to); c != 4 {
		t.Fatalf("%d events stored after the repeats, want 4", c)
	}

	// 1,001 events: refused as a whole.
	var big []map[string]any
	for i := range monitor.MaxBatch + 1 {
		big = append(big, deposit(fmt.Sprintf("big-%d", i), "1"))
	}
	tooMany := n.ingest(t, big...).expect(t, 413, "batch_too_large")
	if tooMany.body["max_events"] != 1000.0 {
		t.Fatalf("batch_too_large: %s", tooMany.raw)
	}
	// One bad event of any kind refuses the batch: each is named, and none
	// of the batch is stored, the good events included.
	future := platformEvent("bad-future", uid, "deposit", now.Add(time.Hour), "1")
	badAmount := deposit("bad-amount", "1")
	badAmount["amount"] = "1e3"
	bad := n.ingest(t,
		deposit("good-1", "10"),
		platformEvent("bad-user", "usr_nobody", "deposit", at, "1"),
		deposit("good-2", "10"),
		deposit("good-2", "10"),
		badAmount,
		future,
	).expect(t, 400, "validation_failed")
	for field, code := range map[string]string{
		"events[1].user_id": "unknown_user", "events[3].id": "duplicate", "events[4].amount": "invalid", "events[5].occurred_at": "in_future",
	} {
		if e := bad.field(t, field); e["code"] != code {
			t.Errorf("%s: %v, want code %s", field, e, code)
		}
	}
	if l := asList(bad.body["errors"]); len(l) != 4 {
		t.Errorf("errors %v, want exactly the 4 bad events", l)
	}
	if c := n.storedEvents(t, from, to); c != 4 {
		t.Fatalf("%d events stored after refused batches, want 4", c)
	}
	if c := n.storedEvents(t, now.Add(30*time.Minute), now.Add(2*time.Hour)); c != 0 {
		t.Fatalf("the future event was stored")
	}
	// The good events of the refused batch were not kept: they are new now.
	n.ingested(t, 2, 0, deposit("good-1", "10"), deposit("good-2", "10"))

	// Malformed requests.
	for _, tc := range []struct {
		name  string
		event map[string]any
		field string
	}{
		{"not a time", map[string]any{"id": "m-1", "user_id": uid, "type": "deposit", "occurred_at": "yesterday"}, "events[0].occurred_at"},
		{"no time", map[string]any{"id": "m-2", "user_id": uid, "type": "deposit"}, "events[0].occurred_at"},
		{"a number for an amount", map[string]any{"id": "m-3", "user_id": uid, "type": "deposit", "amount": 1.5, "occurred_at": at.Format(time.RFC3339)}, "events.amount"},
		{"unknown field", map[string]any{"id": "m-4", "user_id": uid, "type": "deposit", "occurred_at": at.Format(time.RFC3339), "value": "1"}, "value"},
		{"type in capitals", platformEvent("m-5", uid, "Deposit", at, ""), "events[0].type"},
		{"negative value", platformEvent("m-6", uid, "deposit", at, "-5"), "events[0].reference_value"},
		{"bad id", platformEvent("m 7", uid, "deposit", at, ""), "events[0].id"},
		{"no user", platformEvent("m-8", "", "deposit", at, ""), "events[0].user_id"},
		{"too old", platformEvent("m-9", uid, "deposit", now.AddDate(-6, 0, 0), ""), "events[0].occurred_at"},
		{"attributes too large", map[string]any{"id": "m-10", "user_id": uid, "type": "deposit", "occurred_at": at.Format(time.RFC3339),
			"attributes": map[string]string{"blob": strings.Repeat("x", 5000)}}, "events[0].attributes"},
		{"attributes not an object", map[string]any{"id": "m-11", "user_id": uid, "type": "deposit", "occurred_at": at.Format(time.RFC3339), "attributes": []int{1}}, "events.attributes"},
	} {
		r := n.ingest(t, tc.event)
		if r.status != 400 || r.body["code"] != "validation_failed" {
			t.Errorf("%s: %d %s, want 400 validation_failed", tc.name, r.status, r.raw)
			continue
		}
		r.field(t, tc.field)
	}
	n.ingest(t).expect(t, 400, "validation_failed").field(t, "events")
	n.admin(t, "POST", "/admin/v1/events", nil).expect(t, 400, "invalid_json")

	// A full batch passes the usual 1 MiB body limit; past 4 MiB the body
	// itself is refused.
	var full, huge []map[string]any
	for i := range monitor.MaxBatch {
		e := deposit(fmt.Sprintf("full-%d", i), "1")
		e["attributes"] = map[string]any{"memo": strings.Repeat("m", 1500)}
		full = append(full, e)
		h := deposit(fmt.Sprintf("huge-%d", i), "1")
		h["attributes"] = map[string]any{"memo": strings.Repeat("h", 4300)}
		huge = append(huge, h)
	}
	n.ingested(t, 1000, 0, full...)
	n.ingest(t, huge...).expect(t, 413, "payload_too_large")
	if c := n.storedEvents(t, from, to); c != 4+2+1000 {
		t.Fatalf("%d events stored, want %d", c, 4+2+1000)
	}

	// A key without events:write may not feed events.
	reader := adminKeyWith(t, n.store, "alerts:read")
	n.call(t, "POST", "/admin/v1/events", map[string]any{"events": batch}, bearer(reader)...).expect(t, 403, "insufficient_scope")
}

// --- rules ---

const holdRules = `rules:
  - id: hold_large
    description: Withdrawals worth 100.00 or more wait for staff.
    event_types: [withdrawal_requested]
    condition: event.value >= 100.0
    action: hold
    severity: high
`

func TestMonitoringRules(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, monitoringRules)
}

func monitoringRules(t *testing.T, n *kycNode) {
	// Version 0: the rules Warden ships with.
	v0 := n.admin(t, "GET", "/admin/v1/rules", nil).expect(t, 200, "").body
	if v0["version"] != 0.0 || v0["created_by"] != "default" || v0["created_at"] != nil || v0["source"] != string(monitor.DefaultRules()) {
		t.Fatalf("the default rules: %v", v0)
	}
	var ids []string
	for _, r := range asList(v0["rules"]) {
		rule := r.(map[string]any)
		ids = append(ids, rule["id"].(string))
		if rule["mode"] != "active" || rule["severity"] == "" || rule["condition"] == "" || len(asList(rule["event_types"])) == 0 {
			t.Errorf("default rule %v", rule)
		}
	}
	for _, want := range []string{"large_transfer", "repeated_withdrawal_attempts", "withdrawal_after_new_device",
		"new_address_after_security_change", "deposit_withdrawn_quickly", "failed_logins_then_success", "withdraw_almost_all_deposited"} {
		if !slices.Contains(ids, want) {
			t.Errorf("the defaults lack %s: %v", want, ids)
		}
	}

	// A good set: version 1, the defaults of each rule filled in.
	v1 := n.putRules(t, holdRules).expect(t, 200, "").body
	rules := asList(v1["rules"])
	if v1["version"] != 1.0 || v1["created_by"] != "admin_key:key_bootstrap" || v1["created_at"] == nil || v1["source"] != holdRules || len(rules) != 1 {
		t.Fatalf("version 1: %v", v1)
	}
	if r := rules[0].(map[string]any); r["id"] != "hold_large" || r["mode"] != "active" || r["severity"] != "high" || r["action"] != "hold" {
		t.Fatalf("the rule as parsed: %v", r)
	}

	// Bad sets: refused with where and why; version 1 stays in force.
	rule := func(id, condition string) string {
		return "rules:\n  - id: " + id + "\n    event_types: [login_succeeded]\n    condition: " + condition + "\n    action: alert\n"
	}
	for _, tc := range []struct {
		name, source, ruleID, field string
		line, column                int
		message                     string
	}{
		{"does not compile", rule("broken", "event.value >"), "broken", "condition", 1, 14, "Syntax error"},
		{"unknown variable", rule("unknown_var", "account.tier > 1"), "unknown_var", "condition", 1, 1, "undeclared reference to 'account'"},
		{"unknown variable on the second line", rule("second_line", "|-\n      event.value > 1.0 &&\n        account.tier > 1"), "second_line", "condition", 2, 3, "undeclared reference to 'account'"},
		{"unbounded window", rule("unbounded", `count("login_failed", duration("87600h")) > 1`), "unbounded", "condition", 1, 31, "window"},
		{"window not a literal", rule("computed_window", `count("login_failed", duration(event.type)) > 1`), "computed_window", "condition", 1, 31, "window"},
		{"not true or false", rule("not_bool", "event.value + 1.0"), "not_bool", "condition", 0, 0, "true or false"},
		{"unknown aggregate field", rule("bad_field", `sum("deposit", "fee", duration("1h")) > 1.0`), "bad_field", "condition", 1, 16, `"value" or "amount"`},
		{"unknown action", strings.Replace(holdRules, "action: hold", "action: block", 1), "hold_large", "action", 0, 0, "alert, hold, restrict or freeze"},
		{"unknown key", strings.Replace(holdRules, "action: hold", "acton: hold", 1), "", "yaml", 0, 0, "acton"},
		{"two rules, one id", holdRules + strings.TrimPrefix(holdRules, "rules:\n"), "hold_large", "id", 0, 0, "used by another rule"},
		{"not YAML", "rules: [", "", "yaml", 0, 0, ""},
	} {
		r := n.putRules(t, tc.source)
		if r.status != 400 || r.body["code"] != "invalid_rules" {
			t.Errorf("%s: %d %s, want 400 invalid_rules", tc.name, r.status, r.raw)
			continue
		}
		e := ruleError(t, r, tc.ruleID, tc.field)
		if e["line"] != float64(tc.line) || e["column"] != float64(tc.column) || !strings.Contains(e["message"].(string), tc.message) {
			t.Errorf("%s: %v, want line %d column %d and %q", tc.name, e, tc.line, tc.column, tc.message)
		}
	}
	n.admin(t, "PUT", "/admin/v1/rules", map[string]string{}).expect(t, 400, "validation_failed").field(t, "source")
	n.admin(t, "PUT", "/admin/v1/rules", map[string]string{"source": holdRules, "version": "2"}).expect(t, 400, "validation_failed").field(t, "version")
	req, _ := http.NewRequest("PUT", n.Base+"/admin/v1/rules", strings.NewReader(holdRules))
	req.Header.Set("Content-Type", "application/yaml")
	n.send(t, req, "Authorization", "Bearer "+kycAdminKey).expect(t, 415, "unsupported_media_type")
	if cur := n.admin(t, "GET", "/admin/v1/rules", nil).expect(t, 200, "").body; cur["version"] != 1.0 || cur["source"] != holdRules {
		t.Fatalf("after refused sets: %v, want version 1 unchanged", cur)
	}

	// Another good set: version 2. Each change is audited.
	v2src := holdRules + "  - id: shadow_logins\n    event_types: [login_succeeded]\n    condition: count(\"login_failed\", duration(\"1h\")) >= 2\n    action: restrict\n    mode: shadow\n"
	if v2 := n.putRules(t, v2src).expect(t, 200, "").body; v2["version"] != 2.0 || len(asList(v2["rules"])) != 2 {
		t.Fatalf("version 2: %v", v2)
	}
	if cur := n.admin(t, "GET", "/admin/v1/rules", nil).expect(t, 200, "").body; cur["version"] != 2.0 || cur["source"] != v2src {
		t.Fatalf("GET after version 2: %v", cur)
	}
	records := asList(n.admin(t, "GET", "/admin/v1/audit?type=rules.updated", nil).expect(t, 200, "").body["records"])
	if len(records) != 2 {
		t.Fatalf("rules.updated records: %v", records)
	}
	for i, rec := range records {
		m := rec.(map[string]any)
		data, _ := m["data"].(map[string]any)
		if m["actor"] != "admin_key:key_bootstrap" || data["version"] != float64(2-i) {
			t.Errorf("audit record %v", m)
		}
	}
	if audit := n.admin(t, "GET", "/admin/v1/audit/verify", nil).body; audit["ok"] != true {
		t.Fatalf("audit log: %v", audit)
	}

	// Scopes: reading and changing the rules, and backtests, need rules:write.
	reader := adminKeyWith(t, n.store, "alerts:read", "alerts:write", "events:write")
	n.call(t, "GET", "/admin/v1/rules", nil, bearer(reader)...).expect(t, 403, "insufficient_scope")
	n.call(t, "PUT", "/admin/v1/rules", map[string]string{"source": holdRules}, bearer(reader)...).expect(t, 403, "insufficient_scope")
	n.call(t, "POST", "/admin/v1/rules/backtest", map[string]string{"since": "1d"}, bearer(reader)...).expect(t, 403, "insufficient_scope")
	writer := adminKeyWith(t, n.store, "rules:write")
	if cur := n.call(t, "GET", "/admin/v1/rules", nil, bearer(writer)...).expect(t, 200, "").body; cur["version"] != 2.0 {
		t.Fatalf("GET with rules:write: %v", cur)
	}
	n.call(t, "GET", "/admin/v1/alerts", nil, bearer(writer)...).expect(t, 403, "insufficient_scope")
}

// --- rules acting on withdrawals: shadow, hold, the webhook, resolution ---

const actingRules = holdRules + `  - id: shadow_hold
    description: A hold being tried out.
    event_types: [withdrawal_requested]
    condition: event.value > 0.0
    action: hold
    mode: shadow
  - id: shadow_restrict
    event_types: [withdrawal_requested]
    condition: event.value > 0.0
    action: restrict
    mode: shadow
  - id: shadow_freeze
    event_types: [withdrawal_requested]
    condition: event.value > 0.0
    action: freeze
    severity: critical
    mode: shadow
`

func TestMonitoringActsOnWithdrawals(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, monitoringActsOnWithdrawals)
}

func monitoringActsOnWithdrawals(t *testing.T, n *kycNode) {
	const email = "watched@example.com"
	platform := newWebhookReceiver(t)
	platform.register(t, n, "alert.created")
	session := n.signUp(t, email)
	uid := n.userID(t, session)
	n.setTier(t, uid, 2)
	n.prices(t, "ETH", "3000")
	version := n.putRules(t, actingRules).expect(t, 200, "").body["version"]
	withdraw := func(amount, key string) map[string]any {
		t.Helper()
		return n.call(t, "POST", "/v1/withdrawals", map[string]string{"asset": "ETH", "network": "ethereum", "amount": amount, "address": wdETH},
			withKey(session, key)...).expect(t, 201, "").body
	}
	confirm := func(amount string) map[string]any {
		t.Helper()
		return n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": n.withdrawalToken(t, email, amount, "ETH")}).expect(t, 200, "").body
	}

	// (a) Shadow rules that would hold, restrict and freeze: recorded, and
	// nothing done. 0.01 ETH is worth 30.00, under hold_large.
	w1 := withdraw("0.01", "w1")
	if w1["status"] != "awaiting_confirmation" || len(asList(w1["reasons"])) != 0 {
		t.Fatalf("a withdrawal only shadow rules hit: %v", w1)
	}
	if c := confirm("0.01"); c["status"] != "approved" {
		t.Fatalf("confirmed: %v, want approved (shadow rules do not hold)", c)
	}
	if l := asList(n.admin(t, "GET", "/admin/v1/users/"+uid+"/restrictions", nil).expect(t, 200, "").body["restrictions"]); len(l) != 0 {
		t.Fatalf("a shadow rule restricted the account: %v", l)
	}
	intro := n.admin(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": session}).expect(t, 200, "").body
	if intro["active"] != true || intro["frozen"] != false || len(asList(intro["restrictions"])) != 0 {
		t.Fatalf("a shadow rule acted on the account: %v", intro)
	}
	for _, rule := range []string{"shadow_hold", "shadow_restrict", "shadow_freeze"} {
		got := n.alerts(t, "rule_id="+rule)
		if len(got) != 1 || got[0]["mode"] != "shadow" || got[0]["event_id"] != w1["id"] || got[0]["user_id"] != uid || got[0]["status"] != "open" {
			t.Fatalf("alerts of %s: %v", rule, got)
		}
	}
	if got := n.alerts(t, "rule_id=hold_large"); len(got) != 0 {
		t.Fatalf("hold_large fired on 30.00: %v", got)
	}

	// (b) A hold rule: the request is answered with the rule as its
	// reason, and once confirmed it waits for staff.
	w2 := withdraw("0.05", "w2")
	wid, _ := w2["id"].(string)
	if w2["status"] != "awaiting_confirmation" || !slices.Equal(asStrings(w2["reasons"]), []string{"hold_large"}) || w2["reference_value"] != "150.00" {
		t.Fatalf("a withdrawal hold_large hits: %v", w2)
	}
	if c := confirm("0.05"); c["status"] != "pending_review" || !slices.Equal(asStrings(c["reasons"]), []string{"hold_large"}) {
		t.Fatalf("confirmed: %v, want pending_review", c)
	}
	queue := asList(n.admin(t, "GET", "/admin/v1/withdrawals?status=pending_review", nil).expect(t, 200, "").body["withdrawals"])
	if len(queue) != 1 || queue[0].(map[string]any)["id"] != wid {
		t.Fatalf("review queue: %v", queue)
	}

	// (d) alert.created reaches the platform, validly signed, for the
	// active rule only (never for shadow ones).
	event := platform.next(t, "alert.created")
	data, _ := event["data"].(map[string]any)
	if data["rule_id"] != "hold_large" || data["user_id"] != uid || data["event_id"] != wid || data["action"] != "hold" ||
		data["severity"] != "high" || data["alert_id"] == nil {
		t.Fatalf("alert.created: %v", event)
	}
	time.Sleep(300 * time.Millisecond)
	select {
	case e := <-platform.events:
		t.Fatalf("another webhook: %v", e)
	default:
	}

	// The alert as staff see it.
	held := n.alerts(t, "rule_id=hold_large")
	if len(held) != 1 {
		t.Fatalf("alerts of hold_large: %v", held)
	}
	al := held[0]
	ctxEvent, _ := al["context"].(map[string]any)["event"].(map[string]any)
	ctxUser, _ := al["context"].(map[string]any)["user"].(map[string]any)
	if al["id"] != data["alert_id"] || al["rule_version"] != version || al["event_type"] != "withdrawal_requested" || al["action"] != "hold" ||
		al["severity"] != "high" || al["mode"] != "active" || al["description"] != "Withdrawals worth 100.00 or more wait for staff." ||
		al["status"] != "open" || al["created_at"] == nil || al["resolved_at"] != nil || al["aggregates"] == nil {
		t.Fatalf("alert: %v", al)
	}
	if ctxEvent["id"] != wid || ctxEvent["value"] != 150.0 || ctxUser["id"] != uid || ctxUser["tier"] != 2.0 {
		t.Fatalf("alert context: %v", al["context"])
	}
	if open := n.alerts(t, "status=open&user_id="+uid); len(open) != 7 {
		t.Fatalf("%d open alerts, want 7 (3 shadow rules on the first withdrawal, all 4 rules on the second)", len(open))
	}
	if l := n.alerts(t, "user_id=usr_nobody"); len(l) != 0 {
		t.Fatalf("alerts of nobody: %v", l)
	}
	if l := n.alerts(t, "rule_id=shadow_hold&limit=1"); len(l) != 1 || l[0]["event_id"] != wid {
		t.Fatalf("newest shadow_hold alert: %v", l)
	}
	n.admin(t, "GET", "/admin/v1/alerts?status=closed", nil).expect(t, 400, "validation_failed").field(t, "status")
	n.admin(t, "GET", "/admin/v1/alerts?limit=0", nil).expect(t, 400, "validation_failed").field(t, "limit")

	// (e) Resolved as a false positive, with a note; once only.
	aid := al["id"].(string)
	path := "/admin/v1/alerts/" + aid + "/resolve"
	n.admin(t, "POST", path, map[string]string{"resolution": "maybe", "note": "x"}).expect(t, 400, "validation_failed").field(t, "resolution")
	n.admin(t, "POST", path, map[string]string{"resolution": "false_positive"}).expect(t, 400, "validation_failed").field(t, "note")
	n.admin(t, "POST", path, map[string]string{"resolution": "false_positive", "note": strings.Repeat("é", 2001)}).expect(t, 400, "validation_failed").field(t, "note")
	n.admin(t, "POST", "/admin/v1/alerts/alr_nothing/resolve", map[string]string{"resolution": "true_positive", "note": "x"}).expect(t, 404, "not_found")
	reader := adminKeyWith(t, n.store, "alerts:read")
	n.call(t, "POST", path, map[string]string{"resolution": "false_positive", "note": "x"}, bearer(reader)...).expect(t, 403, "insufficient_scope")
	if l := asList(n.call(t, "GET", "/admin/v1/alerts?rule_id=hold_large", nil, bearer(reader)...).expect(t, 200, "").body["alerts"]); len(l) != 1 {
		t.Fatalf("alerts with alerts:read: %v", l)
	}
	note := strings.Repeat("é", 1500) + " called the customer: their own withdrawal"
	done := n.admin(t, "POST", path, map[string]string{"resolution": "false_positive", "note": note}).expect(t, 200, "").body
	if done["id"] != aid || done["status"] != "resolved" || done["resolution"] != "false_positive" || done["note"] != note ||
		done["resolved_by"] != "admin_key:key_bootstrap" || done["resolved_at"] == nil || done["rule_id"] != "hold_large" {
		t.Fatalf("resolved: %v", done)
	}
	n.admin(t, "POST", path, map[string]string{"resolution": "true_positive", "note": "changed my mind"}).expect(t, 409, "alert_resolved")
	if l := n.alerts(t, "status=resolved"); len(l) != 1 || l[0]["id"] != aid || l[0]["resolution"] != "false_positive" {
		t.Fatalf("resolved alerts: %v", l)
	}
	if l := n.alerts(t, "status=open&user_id="+uid); len(l) != 6 {
		t.Fatalf("%d open alerts after the resolution, want 6", len(l))
	}
	records := asList(n.admin(t, "GET", "/admin/v1/audit?type=alert.resolved&user_id="+uid, nil).expect(t, 200, "").body["records"])
	if len(records) != 1 || records[0].(map[string]any)["actor"] != "admin_key:key_bootstrap" {
		t.Fatalf("audit of the resolution: %v", records)
	}
	// Resolving the alert decides nothing about the withdrawal: staff do.
	if w := n.admin(t, "GET", "/admin/v1/withdrawals/"+wid, nil).expect(t, 200, "").body; w["status"] != "pending_review" {
		t.Fatalf("the held withdrawal after the resolution: %v", w)
	}
}

// --- a restriction, lifted by verification ---

func TestMonitoringRestrictsUntilVerified(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, monitoringRestriction)
}

func monitoringRestriction(t *testing.T, n *kycNode) {
	const email = "guessed@example.com"
	session := n.signUp(t, email)
	uid := n.userID(t, session)
	n.setTier(t, uid, 1)
	n.prices(t, "ETH", "3000")
	vid := n.readyForReview(t, session)
	typed := map[string]string{"asset": "ETH", "network": "ethereum", "amount": "0.01", "address": wdETH}
	n.call(t, "POST", "/v1/withdrawals", typed, withKey(session, "before")...).expect(t, 201, "")

	// Five wrong passwords, then the right one: the default rule
	// failed_logins_then_success restricts withdrawals (the evaluation loop
	// runs every half second).
	dev := n.device(email)
	since := time.Now()
	for range 5 {
		n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": "not the password at all"},
			"X-Warden-Device", dev).expect(t, 401, "invalid_credentials")
	}
	n.login(t, email).expect(t, 201, "")
	// Warden's own events: the failures and the success, as the rule sees them.
	if got := n.userEvents(t, uid, since, "login_failed", "login_succeeded"); len(got) != 6 || got[5] != "login_succeeded" {
		t.Fatalf("events recorded for 5 failed logins and a success: %v", got)
	}
	var restriction map[string]any
	eventually(t, "the restriction by failed_logins_then_success", func() bool {
		l := asList(n.admin(t, "GET", "/admin/v1/users/"+uid+"/restrictions", nil).expect(t, 200, "").body["restrictions"])
		if len(l) == 1 {
			restriction = l[0].(map[string]any)
		}
		return restriction != nil
	})
	if restriction["kind"] != "withdrawals" || restriction["lift_on"] != "verification" || restriction["source"] != "system:monitor" ||
		!strings.Contains(fmtString(restriction["reason"]), "failed_logins_then_success") {
		t.Fatalf("restriction: %v", restriction)
	}
	locked := n.call(t, "POST", "/v1/withdrawals", typed, withKey(session, "during")...).expect(t, 403, "withdrawals_locked")
	if locked.body["reason"] != "restricted" || !strings.Contains(fmtString(locked.body["detail"]), "verification") {
		t.Fatalf("restricted: %s", locked.raw)
	}
	alerts := n.alerts(t, "rule_id=failed_logins_then_success&user_id="+uid)
	if len(alerts) != 1 || alerts[0]["action"] != "restrict" || alerts[0]["event_type"] != "login_succeeded" || alerts[0]["mode"] != "active" {
		t.Fatalf("alerts: %v", alerts)
	}
	if agg, _ := alerts[0]["aggregates"].(map[string]any); agg[`count("login_failed", 1h0m0s)`] != 5.0 {
		t.Fatalf("the aggregates that fired it: %v", alerts[0]["aggregates"])
	}

	// The user's verification approved by staff lifts it.
	n.admin(t, "POST", "/admin/v1/verifications/"+vid+"/approve", map[string]string{"note": "documents match"}).expect(t, 200, "")
	if l := asList(n.admin(t, "GET", "/admin/v1/users/"+uid+"/restrictions", nil).expect(t, 200, "").body["restrictions"]); len(l) != 0 {
		t.Fatalf("restrictions after the approval: %v", l)
	}
	n.call(t, "POST", "/v1/withdrawals", typed, withKey(session, "after")...).expect(t, 201, "")
}

// --- backtest ---

func TestMonitoringBacktest(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, monitoringBacktest)
}

func monitoringBacktest(t *testing.T, n *kycNode) {
	alice := n.userID(t, n.signUp(t, "alice@example.com"))
	bob := n.userID(t, n.signUp(t, "bob@example.com"))
	carol := n.userID(t, n.signUp(t, "carol@example.com"))
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	var history []map[string]any
	add := func(id, user, typ string, at time.Time, value string) {
		history = append(history, platformEvent(id, user, typ, at, value))
	}
	// Alice: a deposit withdrawn again ten minutes later, ten days ago.
	add("a-dep", alice, "deposit", now.Add(-10*day), "1000.00")
	add("a-wd", alice, "withdrawal_requested", now.Add(-10*day+10*time.Minute), "950.00")
	// Bob: a large withdrawal five days ago; four small ones within half
	// an hour three days ago.
	add("b-big", bob, "withdrawal_requested", now.Add(-5*day), "20000.00")
	for i := range 4 {
		add(fmt.Sprintf("b-small-%d", i), bob, "withdrawal_requested", now.Add(-3*day+time.Duration(i)*10*time.Minute), "10.00")
	}
	// Carol: six failed logins then a success two days ago; four then a
	// success a day ago (a near miss); five then a success forty days ago,
	// before the period (they only feed the windows).
	for i := range 6 {
		add(fmt.Sprintf("c-f-%d", i), carol, "login_failed", now.Add(-2*day+time.Duration(i)*time.Minute), "")
	}
	add("c-s", carol, "login_succeeded", now.Add(-2*day+10*time.Minute), "")
	for i := range 4 {
		add(fmt.Sprintf("c-near-%d", i), carol, "login_failed", now.Add(-day+time.Duration(i)*time.Minute), "")
	}
	add("c-near-s", carol, "login_succeeded", now.Add(-day+5*time.Minute), "")
	for i := range 5 {
		add(fmt.Sprintf("c-old-%d", i), carol, "login_failed", now.Add(-40*day+time.Duration(i)*time.Minute), "")
	}
	add("c-old-s", carol, "login_succeeded", now.Add(-40*day+6*time.Minute), "")
	n.ingested(t, len(history), 0, history...)

	backtest := func(body map[string]any) map[string]any {
		t.Helper()
		return n.admin(t, "POST", "/admin/v1/rules/backtest", body).expect(t, 200, "").body
	}
	hits := func(rep map[string]any) map[string]map[string]any {
		t.Helper()
		out := map[string]map[string]any{}
		for _, r := range asList(rep["rules"]) {
			m := r.(map[string]any)
			out[m["rule_id"].(string)] = m
		}
		return out
	}
	check := func(name string, rep map[string]any, want map[string]string) {
		t.Helper()
		got := hits(rep)
		if len(got) != len(want) {
			t.Errorf("%s: rules %v, want %v", name, got, want)
		}
		for rule, user := range want {
			r, ok := got[rule]
			switch {
			case !ok:
				t.Errorf("%s: no report for %s", name, rule)
			case user == "" && (r["hits"] != 0.0 || r["users"] != 0.0 || len(asList(r["samples"])) != 0 || r["errors"] != 0.0):
				t.Errorf("%s: %s hit: %v", name, rule, r)
			case user != "" && (r["hits"] != 1.0 || r["users"] != 1.0 || !slices.Equal(asStrings(r["samples"]), []string{user}) || r["errors"] != 0.0):
				t.Errorf("%s: %s: %v, want one hit on %s", name, rule, r, user)
			}
		}
	}

	// The rules in force (the defaults), over 30 days.
	rep := backtest(map[string]any{"since": "30d"})
	check("defaults over 30d", rep, map[string]string{
		"large_transfer": bob, "repeated_withdrawal_attempts": bob, "withdrawal_after_new_device": "",
		"new_address_after_security_change": "", "deposit_withdrawn_quickly": alice, "failed_logins_then_success": carol,
		"withdraw_almost_all_deposited": alice,
	})
	// 19 of the events are in the period (and Warden's own, of the sign-ups);
	// the 6 of forty days ago were replayed for the windows only.
	if ev, evaluated := rep["events"].(float64), rep["evaluated"].(float64); evaluated < 19 || ev-evaluated != 6 {
		t.Errorf("replayed %v events, %v evaluated; want at least 19 evaluated and 6 more replayed", ev, evaluated)
	}
	from, _ := time.Parse(time.RFC3339Nano, fmtString(rep["from"]))
	if d := now.Add(-30 * day).Sub(from); d < -10*time.Second || d > 10*time.Second || rep["elapsed_ms"] == nil || rep["events_per_second"] == nil {
		t.Errorf("report: %v", rep)
	}
	if first := asList(rep["rules"])[0].(map[string]any); first["hits"] != 1.0 {
		t.Errorf("rules not most hits first: %v", rep["rules"])
	}
	// The same with the default period, and over a week: Alice's ten days
	// ago are outside it.
	check("defaults, default period", backtest(map[string]any{}), map[string]string{
		"large_transfer": bob, "repeated_withdrawal_attempts": bob, "withdrawal_after_new_device": "",
		"new_address_after_security_change": "", "deposit_withdrawn_quickly": alice, "failed_logins_then_success": carol,
		"withdraw_almost_all_deposited": alice,
	})
	check("defaults over 7d", backtest(map[string]any{"since": "7d"}), map[string]string{
		"large_transfer": bob, "repeated_withdrawal_attempts": bob, "withdrawal_after_new_device": "",
		"new_address_after_security_change": "", "deposit_withdrawn_quickly": "", "failed_logins_then_success": carol,
		"withdraw_almost_all_deposited": "",
	})

	// A rules file being tried, not in force.
	trial := `rules:
  - id: big_deposit
    event_types: [deposit]
    condition: event.value >= 500.0
    action: alert
  - id: fifth_withdrawal_in_a_month
    event_types: [withdrawal_requested]
    condition: count("withdrawal_requested", duration("720h")) >= 4
    action: hold
    mode: shadow
  - id: never
    event_types: [trade]
    condition: "false"
    action: freeze
`
	rep = backtest(map[string]any{"source": trial, "since": "30d"})
	check("a trial file", rep, map[string]string{"big_deposit": alice, "fifth_withdrawal_in_a_month": bob, "never": ""})
	if r := hits(rep)["fifth_withdrawal_in_a_month"]; r["mode"] != "shadow" || r["action"] != "hold" {
		t.Errorf("report of a shadow rule: %v", r)
	}
	if cur := n.admin(t, "GET", "/admin/v1/rules", nil).expect(t, 200, "").body; cur["version"] != 0.0 {
		t.Fatalf("a backtest changed the rules in force: %v", cur)
	}

	// Bad requests.
	bad := n.admin(t, "POST", "/admin/v1/rules/backtest", map[string]any{"source": "rules:\n  - id: x\n    event_types: [deposit]\n    condition: nope > 1\n    action: alert\n"}).
		expect(t, 400, "invalid_rules")
	if e := ruleError(t, bad, "x", "condition"); e["line"] != 1.0 || e["column"] != 1.0 {
		t.Fatalf("invalid_rules: %s", bad.raw)
	}
	for _, since := range []string{"forever", "0d", "-3h", "3651d", "1e3h"} {
		n.admin(t, "POST", "/admin/v1/rules/backtest", map[string]any{"since": since}).expect(t, 400, "validation_failed").field(t, "since")
	}
	n.admin(t, "POST", "/admin/v1/rules/backtest", map[string]any{"source": " "}).expect(t, 400, "validation_failed").field(t, "source")
}
