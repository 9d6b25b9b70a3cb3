package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/httpapi"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/verification"
)

// Tests of points where the API must match API.md, the binding contract.

// API.md lists GET/POST/DELETE /admin/v1/webhooks: DELETE with ?id= removes
// the endpoint and answers as DELETE /admin/v1/webhooks/{id} does.
func TestWebhookDeleteByQueryAnswersAsByPath(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	create := func() string {
		t.Helper()
		r := f.do(t, "POST", "/admin/v1/webhooks", bootstrapKey, "application/json",
			[]byte(`{"url": "https://payouts.example/hooks", "event_types": ["*"]}`))
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	listed := func() int {
		t.Helper()
		return len(f.do(t, "GET", "/admin/v1/webhooks", bootstrapKey, "", nil).json(t)["endpoints"].([]any))
	}
	byQuery, byPath := create(), create()

	// Who may: the scope of the {id} form, webhooks:write.
	reader := adminKeyWith(t, f.store, "audit:read")
	for _, path := range []string{"/admin/v1/webhooks?id=" + byQuery, "/admin/v1/webhooks/" + byQuery} {
		expectProblem(t, f.do(t, "DELETE", path, "", "", nil), 401, "unauthenticated")
		if p := expectProblem(t, f.do(t, "DELETE", path, reader, "", nil), 403, "insufficient_scope"); p["required_scope"] != "webhooks:write" {
			t.Fatalf("DELETE %s: %v", path, p)
		}
	}
	if n := listed(); n != 2 {
		t.Fatalf("refused deletes removed endpoints: %d left", n)
	}

	// Without an id: validation_failed on field id.
	for _, path := range []string{"/admin/v1/webhooks", "/admin/v1/webhooks?id=", "/admin/v1/webhooks?other=" + byQuery} {
		p := expectProblem(t, f.do(t, "DELETE", path, bootstrapKey, "", nil), 400, "validation_failed")
		errs, _ := p["errors"].([]any)
		if len(errs) != 1 || errs[0].(map[string]any)["field"] != "id" || errs[0].(map[string]any)["code"] != "required" {
			t.Fatalf("DELETE %s: errors %v, want one for field id", path, p["errors"])
		}
	}

	// Both forms: 204, then 404 for the same id, and an unknown id is 404.
	for _, path := range []string{"/admin/v1/webhooks?id=" + byQuery, "/admin/v1/webhooks/" + byPath} {
		if r := f.do(t, "DELETE", path, bootstrapKey, "", nil); r.status != 204 || len(r.body) != 0 {
			t.Fatalf("DELETE %s: %d %s", path, r.status, r.body)
		}
		expectProblem(t, f.do(t, "DELETE", path, bootstrapKey, "", nil), 404, "not_found")
	}
	expectProblem(t, f.do(t, "DELETE", "/admin/v1/webhooks?id=whe_nothing", bootstrapKey, "", nil), 404, "not_found")
	if n := listed(); n != 0 {
		t.Fatalf("%d endpoints left after deleting both", n)
	}

	// Each removal is audited alike, by the key that made it.
	records := f.do(t, "GET", "/admin/v1/audit?type=webhook.endpoint_deleted", bootstrapKey, "", nil).json(t)["records"].([]any)
	seen := map[string]bool{}
	for _, rec := range records {
		m := rec.(map[string]any)
		data, _ := m["data"].(map[string]any)
		if m["actor"] != "admin_key:key_bootstrap" {
			t.Errorf("audit record by %v", m["actor"])
		}
		if data != nil {
			id, _ := data["endpoint_id"].(string)
			seen[id] = true
		}
	}
	if len(records) != 2 || !seen[byQuery] || !seen[byPath] {
		t.Fatalf("audit records of the deletions: %v", records)
	}

	// The path now answers DELETE; other methods still learn what it has.
	r := f.do(t, "PUT", "/admin/v1/webhooks", bootstrapKey, "application/json", []byte(`{}`))
	expectProblem(t, r, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "DELETE") {
		t.Fatalf("Allow = %q, want DELETE among the methods", allow)
	}
}

// storedAdminKey stores an admin key holding scopes and returns its secret
// and its id (which audit records name as admin_key:<id>).
func storedAdminKey(t *testing.T, s *store.Store, scopes ...string) (plain, keyID string) {
	t.Helper()
	plain, key, err := adminkey.New("contract", scopes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), func(tx *store.Tx) error {
		return tx.InsertAdminKey(context.Background(), key, adminkey.Hash(plain))
	}); err != nil {
		t.Fatal(err)
	}
	return plain, key.ID
}

// API.md puts POST /admin/v1/verifications/{id}/provider-result in the admin
// API: an admin key with verifications:review may post a provider's result
// without the provider's signature; the body names the provider, whose words
// its status is read in, and the decision is the key's.
func TestProviderResultRelayedWithAdminKey(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := startKYCNode(t, dbURL)
	vid := n.readyForReview(t, n.signUp(t, "ada@example.com"))
	path := "/admin/v1/verifications/" + vid + "/provider-result"
	reviewer, reviewerID := storedAdminKey(t, n.store, "verifications:review")
	other, _ := storedAdminKey(t, n.store, "users:read", "withdrawals:write")
	relay := func(key, body string, headers ...string) kycResp {
		t.Helper()
		return n.call(t, "POST", path, json.RawMessage(body), append(bearer(key), headers...)...)
	}
	status := func() string {
		t.Helper()
		return n.admin(t, "GET", "/admin/v1/verifications/"+vid, nil).expect(t, 200, "").body["verification"].(map[string]any)["status"].(string)
	}
	msg := `{"provider":"acme","id":"relay-1","verification_id":"` + vid + `","reference":"acme-77","status":"GREEN"}`

	// Neither a signature nor a key: 401 as before. A key that is not
	// one: 401. A key without the scope: 403, signature headers or not.
	n.call(t, "POST", path, json.RawMessage(msg)).expect(t, 401, "invalid_signature")
	relay("wdn_"+strings.Repeat("a", 52), msg).expect(t, 401, "unauthenticated")
	if p := relay(other, msg).expect(t, 403, "insufficient_scope"); p.body["required_scope"] != "verifications:review" {
		t.Fatalf("insufficient_scope does not name verifications:review: %s", p.raw)
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	relay(other, msg, "X-Warden-Provider", "acme", "X-Warden-Timestamp", stamp,
		"X-Warden-Signature", verification.Sign(providerSecret, stamp, []byte(msg))).expect(t, 403, "insufficient_scope")

	// Bodies the provider's own message would be refused for, and the provider named wrong.
	for _, body := range []string{
		`{"id":"relay-0","verification_id":"` + vid + `","status":"approved"}`,
		`{"provider":"other","id":"relay-0","verification_id":"` + vid + `","status":"approved"}`,
		`{"provider":7,"id":"relay-0","verification_id":"` + vid + `","status":"approved"}`,
	} {
		relay(reviewer, body).expect(t, 400, "validation_failed").field(t, "provider")
	}
	relay(reviewer, `{"provider":"acme","id":"relay-0","verification_id":"`+vid+`","status":"maybe"}`).expect(t, 400, "validation_failed").field(t, "status")
	relay(reviewer, `{"provider":"acme","id":"relay-0","verification_id":"ver_other","status":"approved"}`).expect(t, 400, "validation_failed")
	relay(reviewer, `{"provider":"acme","verification_id":"`+vid+`","status":"approved"}`).expect(t, 400, "validation_failed")
	relay(reviewer, `{"provider":`).expect(t, 400, "invalid_json")
	n.call(t, "POST", "/admin/v1/verifications/ver_nothing/provider-result",
		json.RawMessage(`{"provider":"acme","id":"relay-0","verification_id":"ver_nothing","status":"approved"}`), bearer(reviewer)...).expect(t, 404, "not_found")
	if s := status(); s != "pending_review" {
		t.Fatalf("refused relays changed the verification: %s", s)
	}

	// The relay: no signature, the provider's word GREEN read as acme's.
	ok := relay(reviewer, msg).expect(t, 200, "").body
	if ok["status"] != "approved" || ok["reviewer"] != "admin_key:"+reviewerID || ok["provider_ref"] != "acme-77" {
		t.Fatalf("relayed approval: %v", ok)
	}
	// The message is taken once per provider, relayed or signed.
	relay(reviewer, msg).expect(t, 409, "replayed")
	n.provider(t, vid, []byte(msg), time.Now(), providerSecret, "acme").expect(t, 409, "replayed")

	// The audit record of the decision is the key's.
	var actors []string
	for _, rec := range asList(n.admin(t, "GET", "/admin/v1/audit?type=verification.approved", nil).expect(t, 200, "").body["records"]) {
		actors = append(actors, rec.(map[string]any)["actor"].(string))
	}
	if len(actors) != 1 || actors[0] != "admin_key:"+reviewerID {
		t.Fatalf("audit actors of the approval: %v, want admin_key:%s", actors, reviewerID)
	}
}

// keysOf lists a JSON object's members, sorted.
func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// API.md: a problem's errors are [{field, code, detail}]. A refused rules
// file names its problems so, with fields that are paths into the file, and
// again in rule_errors as [{rule_id, field, line, column, message}].
func TestInvalidRulesFollowTheErrorsConvention(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := startMonitoringNode(t, dbURL, nil)
	const file = `rules:
  - id: fine
    event_types: [deposit]
    condition: event.value > 1.0
    action: alert
  - id: broken
    event_types: [deposit]
    condition: event.value >
    action: alert
  - id: loud
    event_types: [deposit]
    condition: event.value > 2.0
    action: alert
    severity: deafening
  - id: fine
    event_types: [deposit]
    condition: event.value > 3.0
    action: alert
`
	type placed struct {
		field, detail     string // errors
		ruleID, ruleField string // rule_errors
		line, column      int
		message           string
	}
	check := func(what string, r kycResp, want []placed) {
		t.Helper()
		r.expect(t, 400, "invalid_rules")
		errs, ruleErrs := asList(r.body["errors"]), asList(r.body["rule_errors"])
		if len(errs) != len(want) || len(ruleErrs) != len(want) {
			t.Fatalf("%s: %d errors and %d rule_errors, want %d of each: %s", what, len(errs), len(ruleErrs), len(want), r.raw)
		}
		for i, w := range want {
			e, re := errs[i].(map[string]any), ruleErrs[i].(map[string]any)
			if k := keysOf(e); !slices.Equal(k, []string{"code", "detail", "field"}) {
				t.Errorf("%s: errors[%d] has %v, want field, code, detail", what, i, k)
			}
			if e["field"] != w.field || e["code"] != "invalid" || !strings.HasPrefix(e["detail"].(string), w.detail) ||
				!strings.Contains(e["detail"].(string), w.message) {
				t.Errorf("%s: errors[%d] = %v, want field %s, code invalid, detail %q… with %q", what, i, e, w.field, w.detail, w.message)
			}
			if k := keysOf(re); !slices.Equal(k, []string{"column", "field", "line", "message", "rule_id"}) {
				t.Errorf("%s: rule_errors[%d] has %v", what, i, k)
			}
			if re["rule_id"] != w.ruleID || re["field"] != w.ruleField || re["line"] != float64(w.line) ||
				re["column"] != float64(w.column) || !strings.Contains(re["message"].(string), w.message) {
				t.Errorf("%s: rule_errors[%d] = %v, want %+v", what, i, re, w)
			}
		}
	}
	want := []placed{
		{"rules[1].condition", `rule "broken", condition line 1, column 14: `, "broken", "condition", 1, 14, "Syntax error"},
		{"rules[2].severity", `rule "loud": `, "loud", "severity", 0, 0, "low"},
		{"rules[3].id", `rule "fine": `, "fine", "id", 0, 0, "used by another rule"},
	}
	check("PUT", n.putRules(t, file), want)
	check("backtest", n.admin(t, "POST", "/admin/v1/rules/backtest", map[string]string{"source": file}), want)
	check("not YAML", n.putRules(t, "rules: ["), []placed{{"source", "", "", "yaml", 0, 0, ""}})
	check("no rules", n.putRules(t, "rules: []\n"), []placed{{"rules", "at least one rule", "", "rules", 0, 0, "at least one rule"}})
	check("a rule without an id", n.putRules(t, "rules:\n  - event_types: [deposit]\n    condition: event.value > 1.0\n    action: alert\n"),
		[]placed{{"rules[0].id", "rule 1: ", "", "id", 0, 0, "1 to 64"}})
	if v := n.admin(t, "GET", "/admin/v1/rules", nil).expect(t, 200, "").body["version"]; v != 0.0 {
		t.Fatalf("a refused file changed the rules: version %v", v)
	}
}

// The OpenAPI document's info says which listings page with ?cursor= and
// which take limit only, and the listings do as it says: the paged ones
// follow their next_cursor, the others refuse a cursor rather than ignore it.
func TestOpenAPIListingsSayHowTheyPage(t *testing.T) {
	t.Parallel()
	raw, err := httpapi.OpenAPIJSON()
	if err != nil {
		t.Fatal(err)
	}
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var doc struct {
		Info struct {
			Description string `json:"description"`
		} `json:"info"`
		Paths map[string]map[string]struct {
			Parameters []param `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	// The listings by what their operations declare.
	var paged, limitOnly []string
	for path, ops := range doc.Paths {
		get, ok := ops["get"]
		if !ok {
			continue
		}
		query := map[string]bool{}
		for _, p := range get.Parameters {
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				p = doc.Components.Parameters[name]
			}
			if p.In == "query" {
				query[p.Name] = true
			}
		}
		switch {
		case query["cursor"]:
			paged = append(paged, path)
		case query["limit"]:
			limitOnly = append(limitOnly, path)
		}
	}
	slices.Sort(paged)
	slices.Sort(limitOnly)
	if !slices.Equal(paged, []string{"/admin/v1/audit", "/admin/v1/outbox", "/v1/activity"}) ||
		!slices.Equal(limitOnly, []string{"/admin/v1/alerts", "/admin/v1/cases", "/admin/v1/verifications", "/admin/v1/withdrawals", "/v1/withdrawals"}) {
		t.Fatalf("listings declared paged %v and limit-only %v", paged, limitOnly)
	}

	// The info text names each in its kind.
	info := doc.Info.Description
	pagedText, rest, ok := strings.Cut(info, "With `limit` only")
	if !ok {
		t.Fatalf("the info text does not say which listings take limit only:\n%s", info)
	}
	limitText, _, _ := strings.Cut(rest, "The other listings")
	if i := strings.Index(pagedText, "Paged"); i >= 0 {
		pagedText = pagedText[i:]
	} else {
		t.Fatalf("the info text does not say which listings are paged:\n%s", info)
	}
	for _, path := range paged {
		if !strings.Contains(pagedText, "`GET "+path+"`") || strings.Contains(limitText, "`GET "+path+"`") {
			t.Errorf("the info text does not name %s among the paged listings", path)
		}
	}
	for _, path := range limitOnly {
		if !strings.Contains(limitText, "`GET "+path+"`") || strings.Contains(pagedText, "`GET "+path+"`") {
			t.Errorf("the info text does not name %s among the limit-only listings", path)
		}
	}

	// And the listings answer so.
	_, dbURL := storetest.SQLiteURL(t)
	n := startMonitoringNode(t, dbURL, nil)
	session := n.signUp(t, "lin@example.com")
	n.signUp(t, "lin2@example.com")
	var cursor string
	for _, path := range paged {
		headers := bearer(kycAdminKey)
		if strings.HasPrefix(path, "/v1/") {
			headers = bearer(session)
		}
		first := n.call(t, "GET", path+"?limit=1", nil, headers...).expect(t, 200, "")
		next, _ := first.body["next_cursor"].(string)
		if next == "" {
			t.Fatalf("GET %s?limit=1 gave no next_cursor: %s", path, first.raw)
		}
		second := n.call(t, "GET", path+"?limit=1&cursor="+url.QueryEscape(next), nil, headers...).expect(t, 200, "")
		if string(second.raw) == string(first.raw) {
			t.Fatalf("GET %s with next_cursor answered the first page again", path)
		}
		cursor = next
	}
	for _, path := range limitOnly {
		headers := bearer(kycAdminKey)
		if strings.HasPrefix(path, "/v1/") {
			headers = bearer(session)
		}
		n.call(t, "GET", path+"?limit=1", nil, headers...).expect(t, 200, "")
		// A real cursor of another listing: taking it would mean paging.
		if e := n.call(t, "GET", path+"?limit=1&cursor="+url.QueryEscape(cursor), nil, headers...).
			expect(t, 400, "validation_failed").field(t, "cursor"); e["code"] != "unsupported" {
			t.Errorf("GET %s with a cursor: %v, want code unsupported", path, e)
		}
	}
}

// A login's expires_at means what GET /v1/session and the session list say:
// when the session ends unless used again (the idle timeout), not its
// 24-hour lifetime.
func TestLoginExpiresAtIsTheSessionsIdleExpiry(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.SQLiteURL(t)
	n := servertest.Start(t, dbURL, kycAdminKey, nil, map[string]string{"WARDEN_SESSION_IDLE_TIMEOUT": "20m"})
	account := map[string]string{"email": "exp@example.com", "password": "correct horse battery staple"}
	_, device := n.SignUp(t, account["email"], account["password"])
	body, _ := json.Marshal(account)
	req, _ := http.NewRequest("POST", n.Base+"/v1/sessions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpapi.DeviceHeader, device) // the trusted device: no challenge
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		SessionToken string    `json:"session_token"`
		ExpiresAt    time.Time `json:"expires_at"`
	}
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("login: %d, %v", resp.StatusCode, err)
	}
	if left := time.Until(login.ExpiresAt); left < 19*time.Minute || left > 21*time.Minute {
		t.Fatalf("login's expires_at is %v from now, want the 20-minute idle timeout", left)
	}
	req, _ = http.NewRequest("GET", n.Base+"/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+login.SessionToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var who struct {
		Session struct {
			ExpiresAt time.Time `json:"expires_at"`
		} `json:"session"`
	}
	err = json.NewDecoder(resp.Body).Decode(&who)
	resp.Body.Close()
	if err != nil || who.Session.ExpiresAt.Sub(login.ExpiresAt).Abs() > 5*time.Second {
		t.Fatalf("GET /v1/session says %v, the login said %v (%v)", who.Session.ExpiresAt, login.ExpiresAt, err)
	}
}
