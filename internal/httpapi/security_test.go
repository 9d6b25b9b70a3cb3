package httpapi_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"

	"github.com/wardenhq/warden/internal/server/servertest"
)

// GET /v1/security is the security center's checklist: it follows each
// change made through the API, and matches the page the same session sees.
func TestSecurityCenterAPI(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { securityCenterAPI(t, startWithdrawalNode(t, dbURL)) })
}

type securityReport struct {
	level string
	score int
	done  map[string]bool
	fix   map[string]string
}

func (n *kycNode) security(t *testing.T, session string) securityReport {
	t.Helper()
	r := n.call(t, "GET", "/v1/security", nil, bearer(session)...).expect(t, 200, "")
	rep := securityReport{level: r.body["level"].(string), done: map[string]bool{}, fix: map[string]string{}}
	rep.score = int(r.body["score"].(float64))
	for _, raw := range asList(r.body["items"]) {
		it := raw.(map[string]any)
		id := it["id"].(string)
		if it["title"].(string) == "" || it["detail"].(string) == "" {
			t.Errorf("item %s has no title or detail: %v", id, it)
		}
		rep.done[id] = it["ok"].(bool)
		fix, hasFix := it["action_url"].(string)
		if rep.done[id] == hasFix {
			t.Errorf("item %s: ok=%v, action_url %q", id, rep.done[id], fix)
		}
		rep.fix[id] = fix
	}
	if len(rep.done) != 8 {
		t.Fatalf("%d items, want 8: %s", len(rep.done), r.raw)
	}
	return rep
}

var (
	pageLevel = regexp.MustCompile(`data-level="([a-z]+)"`)
	pageScore = regexp.MustCompile(`<meter id="security-score"[^>]* value="(\d+)">`)
	pageItem  = regexp.MustCompile(`<tr id="check-([a-z_]+)" data-done="(true|false)">`)
)

// page reads the security center page the session's cookie opens.
func (n *kycNode) securityPage(t *testing.T, session string) securityReport {
	t.Helper()
	req, _ := http.NewRequest("GET", n.Base+"/account/security-center", nil)
	req.AddCookie(&http.Cookie{Name: "warden_session", Value: session})
	r := n.send(t, req)
	if r.status != 200 {
		t.Fatalf("security center page: %d", r.status)
	}
	body := string(r.raw)
	rep := securityReport{done: map[string]bool{}}
	if m := pageLevel.FindStringSubmatch(body); m != nil {
		rep.level = m[1]
	}
	if m := pageScore.FindStringSubmatch(body); m != nil {
		rep.score, _ = strconv.Atoi(m[1])
	}
	for _, m := range pageItem.FindAllStringSubmatch(body, -1) {
		rep.done[m[1]] = m[2] == "true"
	}
	return rep
}

func sameChecklist(t *testing.T, step string, api, page securityReport) {
	t.Helper()
	if api.level != page.level || api.score != page.score || len(page.done) != len(api.done) {
		t.Fatalf("%s: API %s %d %v, page %s %d %v", step, api.level, api.score, api.done, page.level, page.score, page.done)
	}
	for id, done := range api.done {
		if page.done[id] != done {
			t.Errorf("%s: %s done=%v in the API, %v on the page", step, id, done, page.done[id])
		}
	}
}

func securityCenterAPI(t *testing.T, n *kycNode) {
	const email = "sol@example.com"
	n.call(t, "GET", "/v1/security", nil).expect(t, 401, "")
	session := n.signUp(t, email)

	rep := n.security(t, session)
	if rep.level != "basic" || rep.score != 15 || !rep.done["email_verified"] || !rep.done["devices_reviewed"] || rep.done["two_factor"] {
		t.Fatalf("new account: %+v", rep)
	}
	if rep.fix["two_factor"] != "/account/security" || rep.fix["anti_phishing_code"] != "/account/anti-phishing" || rep.fix["allow_list"] != "/addresses" {
		t.Errorf("fixes: %v", rep.fix)
	}
	sameChecklist(t, "new account", rep, n.securityPage(t, session))

	n.enrolTOTP(t, session)
	rep = n.security(t, session)
	if rep.level != "good" || rep.score != 55 || !rep.done["two_factor"] || !rep.done["recovery_codes"] {
		t.Fatalf("after 2FA: %+v", rep)
	}
	sameChecklist(t, "after 2FA", rep, n.securityPage(t, session))

	n.call(t, "PUT", "/v1/anti-phishing-code", map[string]string{"code": "blue heron"}, bearer(session)...).expect(t, 204, "")
	rep = n.security(t, session)
	if !rep.done["anti_phishing_code"] || rep.score != 65 {
		t.Fatalf("after the anti-phishing code: %+v", rep)
	}

	n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": true}, bearer(session)...).expect(t, 200, "")
	rep = n.security(t, session)
	if !rep.done["allow_list"] || rep.score != 75 || rep.level != "good" {
		t.Fatalf("after the allow-list: %+v", rep)
	}
	sameChecklist(t, "after the allow-list", rep, n.securityPage(t, session))
}
