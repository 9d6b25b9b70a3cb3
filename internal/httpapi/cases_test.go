package httpapi_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/store"
)

// Reports of a compromised account through the API, on the whole server
// (server.New, as `warden serve` runs it) with real SMTP: the user's report
// freezes and opens a case, the reporter follows it without a session,
// staff list, read and resolve it with the alerts scopes.

var freezeLink = regexp.MustCompile(`/freeze\?token=([A-Za-z0-9_-]+)`)

// caseKey makes an admin key holding only scopes.
func (n *kycNode) caseKey(t *testing.T, scopes ...string) string {
	t.Helper()
	plain, key, err := adminkey.New("cases", scopes, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.InsertAdminKey(context.Background(), key, adminkey.Hash(plain))
	}); err != nil {
		t.Fatal(err)
	}
	return plain
}

func TestAccountReportAndCases(t *testing.T) {
	t.Parallel()
	for name, open := range kycDatabases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, dbURL := open(t)
			n := startWithdrawalNode(t, dbURL)
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
			n.mailTo(t, email, "We received your report")

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
			reader := n.caseKey(t, "alerts:read")
			none := n.caseKey(t, "users:read")
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
			n.mailTo(t, email, "Your report was reviewed")

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
			m := freezeLink.FindStringSubmatch(n.mailTo(t, other, "anti-phishing"))
			if m == nil {
				t.Fatal("no freeze link in the email")
			}
			r = n.call(t, "POST", "/v1/account/report", map[string]string{"note": "Not me!", "token": m[1]}).expect(t, 201, "")
			if r.body["froze_now"] != true || r.body["case_id"] == caseID {
				t.Fatalf("report by freeze token: %s", r.raw)
			}
			n.call(t, "GET", "/v1/session", nil, bearer(s2)...).expect(t, 401, "unauthenticated")
			n.call(t, "POST", "/v1/account/report", map[string]string{"note": "again", "token": m[1]}).expect(t, 400, "invalid_token")
			if r := n.admin(t, "GET", "/admin/v1/cases?status=open", nil).expect(t, 200, ""); len(asList(r.body["cases"])) != 1 {
				t.Fatalf("open cases at the end: %s", r.raw)
			}
		})
	}
}
