package web_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/securitycenter"
	"github.com/wardenhq/warden/internal/store"
)

// checklist is the security center as a page shows it.
type checklist struct {
	level string
	score int
	done  map[string]bool
	fix   map[string]string // item id → the fix's address, for items not done
}

var (
	levelOnPage = regexp.MustCompile(`id="security-level-name" data-level="([a-z]+)"`)
	meterOnPage = regexp.MustCompile(`<meter id="security-score" min="0" max="100" low="50" high="80" optimum="100" value="(\d+)">`)
	itemOnPage  = regexp.MustCompile(`<tr id="check-([a-z_]+)" data-done="(true|false)">`)
)

// securityCenter opens the security center and reads it.
func securityCenter(t *testing.T, c *client) checklist {
	t.Helper()
	res := c.get("/account/security-center")
	expect(t, "security center", res, 200, `<h1>Security center</h1>`, `id="security-checklist"`)
	var cl checklist
	if m := levelOnPage.FindStringSubmatch(res.body); m != nil {
		cl.level = m[1]
	}
	m := meterOnPage.FindStringSubmatch(res.body)
	if m == nil || cl.level == "" {
		t.Fatalf("no level or meter on the security center:\n%s", res.body)
	}
	cl.score, _ = strconv.Atoi(m[1])
	if !strings.Contains(res.body, `<span id="security-score-text">`+m[1]+` of 100</span>`) {
		t.Errorf("the score %s is not written out beside the meter", m[1])
	}
	cl.done, cl.fix = map[string]bool{}, map[string]string{}
	rows := itemOnPage.FindAllStringSubmatchIndex(res.body, -1)
	for i, r := range rows {
		id, done := res.body[r[2]:r[3]], res.body[r[4]:r[5]] == "true"
		cl.done[id] = done
		end := len(res.body)
		if i+1 < len(rows) {
			end = rows[i+1][0]
		}
		row := res.body[r[0]:end]
		if fm := regexp.MustCompile(`(?:action|href)="([^"]+)"(?:>\s*<button type="submit" class="small")? id="fix-` + id + `"`).FindStringSubmatch(row); fm != nil {
			cl.fix[id] = fm[1]
		}
		if done && strings.Contains(row, `id="fix-`+id+`"`) {
			t.Errorf("item %s is done, but a fix is offered", id)
		}
	}
	if len(cl.done) != 8 {
		t.Fatalf("%d checklist items, want 8:\n%s", len(cl.done), res.body)
	}
	return cl
}

// The security center is the home after login, and reflects each change:
// the authenticator app turns two_factor (and the recovery codes) done, the
// anti-phishing code and the allow-list theirs, and the level and the score
// rise. Each item's fix leads where it is made.
func TestSecurityCenterReflectsChanges(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "sage@example.com"
	s.signedUp(email)
	c := s.loggedIn(email, goodPassword) // checks the redirect to the security center
	expect(t, "home when signed in", c.get("/login"), 303, "/account/security-center")
	res := c.get("/account/security-center")
	expect(t, "navigation", res, 200, `<a href="/account/security-center" aria-current="page">Security</a>`, `<a href="/account">Account</a>`,
		`<a href="/help">Help</a>`)

	cl := securityCenter(t, c)
	if cl.level != "basic" || cl.score != 15 || !cl.done["email_verified"] || !cl.done["devices_reviewed"] || cl.done["two_factor"] {
		t.Fatalf("new account: %+v", cl)
	}

	// Another device's first login is one to review, until it is removed.
	other := s.loggedIn(email, goodPassword)
	seen := securityCenter(t, c)
	if seen.done["devices_reviewed"] || seen.fix["devices_reviewed"] != "/account/devices" || seen.score != 10 {
		t.Fatalf("with a new device: %+v", seen)
	}
	expect(t, "devices' state", c.get("/account/security-center"), 200, `<span class="small" id="state-devices_reviewed">2 devices in the last 30 days, 1 new</span>`)
	expect(t, "remove it", c.post("/account/devices", "device", s.accountDevice(t, other)), 303, "/account/devices")
	if cl := securityCenter(t, c); !cl.done["devices_reviewed"] || cl.score != 15 {
		t.Fatalf("after removing the new device: %+v", cl)
	}
	for id, want := range map[string]string{
		"two_factor": "/account/security", "passkey": "/account/security", "recovery_codes": "/account/security",
		"anti_phishing_code": "/account/anti-phishing", "allow_list": "/allow-list/on", "devices_reviewed": "",
	} {
		if cl.fix[id] != want {
			t.Errorf("fix of %s: %q, want %q", id, cl.fix[id], want)
		}
	}
	if !strings.Contains(c.get("/account/security-center").body, `<form method="post" action="/allow-list/on">`) {
		t.Error("the allow-list is not turned on with one button")
	}

	c.enrol("/account/security/totp", "/account/security/totp/confirm")
	after2FA := securityCenter(t, c)
	if after2FA.level != "good" || after2FA.score != 55 || !after2FA.done["two_factor"] || !after2FA.done["recovery_codes"] {
		t.Fatalf("after turning on 2FA: %+v", after2FA)
	}
	expect(t, "recovery codes' state", c.get("/account/security-center"), 200, `<span class="small" id="state-recovery_codes">10 of 10 left</span>`,
		"To reach strong, add a passkey, set an anti-phishing code and turn on the withdrawal allow-list.")

	expect(t, "set the anti-phishing code", c.post("/account/anti-phishing", "code", "blue heron"), 303)
	afterCode := securityCenter(t, c)
	if !afterCode.done["anti_phishing_code"] || afterCode.score != 65 || afterCode.level != "good" {
		t.Fatalf("after the anti-phishing code: %+v", afterCode)
	}

	expect(t, "allow-list on from the security center", c.post("/allow-list/on"), 303, "/addresses")
	afterList := securityCenter(t, c)
	if !afterList.done["allow_list"] || afterList.score != 75 {
		t.Fatalf("after the allow-list: %+v", afterList)
	}

	// The page is securitycenter.Check of the same account, as the API's is.
	s.setTier(email, 2)
	a := s.accountOf(email)
	rep, err := securitycenter.Check(context.Background(), securitycenter.Sources{Factors: s.mfa, Devices: s.sessions, Withdrawals: s.wd, Tiers: s.wd.Tiers},
		a, s.accountDevice(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	page := securityCenter(t, c)
	if page.level != rep.Level || page.score != rep.Score || rep.Score != 85 {
		t.Fatalf("page %+v, report %+v", page, rep)
	}
	for _, it := range rep.Items {
		if page.done[it.ID] != it.Done {
			t.Errorf("item %s: page done=%v, report %v", it.ID, page.done[it.ID], it.Done)
		}
	}
	if page.level != "good" {
		t.Fatalf("without a passkey the level is %s, want good", page.level)
	}
}

// The help's withdrawal section says which check holds a withdrawal, with
// the real end of the cooldown a password change started.
func TestHelpShowsTheCooldownAfterAPasswordChange(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "hugo@example.com"
	s.signedUp(email)
	s.setTier(email, 2)
	c := s.loggedIn(email, goodPassword)

	res := c.get("/help")
	expect(t, "help before", res, 200, `id="help-email">hugo@example.com<`, `id="hold-two-factor"`, `href="/account/security">Turn it on</a>`,
		`<form method="post" action="/account/freeze">`, `id="help-freeze"`)
	absent(t, "help before", res, `id="hold-cooldown-password"`, `id="hold-verification"`)

	expect(t, "change the password", c.post("/account/password", "current_password", goodPassword, "new_password", newPassword), 303, "/account")
	changed := s.accountOf(email).PasswordChangedAt
	if changed.IsZero() {
		t.Fatal("no password change recorded")
	}
	end := changed.Add(24 * time.Hour)
	res = c.get("/help")
	expect(t, "help after", res, 200, `id="hold-cooldown-password"`,
		"Your password was changed on "+changed.UTC().Format("2006-01-02 15:04 UTC"),
		`It ends on <time datetime="`+end.UTC().Format(time.RFC3339)+`" data-local>`+end.UTC().Format("2006-01-02 15:04:05 UTC")+`</time> (in 24 h)`)

	// Signed out, the help is general, and links the password reset.
	anon := s.client()
	res = anon.get("/help")
	expect(t, "help signed out", res, 200, `href="/forgot-password" id="help-reset-password"`, "<strong>You have your recovery codes:</strong>")
	absent(t, "help signed out", res, "hugo@example.com", `id="hold-`, `id="drift-form"`)
}

// laneFailures sums the failures on every lockout lane of the account.
func (s *site) laneFailures(email string) int {
	s.t.Helper()
	a := s.accountOf(email)
	n := 0
	err := s.store.Read(context.Background(), func(tx *store.Tx) error {
		devices, err := tx.DevicesOf(context.Background(), a.ID)
		if err != nil {
			return err
		}
		lanes := []string{lockout.UntrustedLane}
		for _, d := range devices {
			lanes = append(lanes, lockout.LaneFor(d.ID))
		}
		for _, l := range lanes {
			lane, err := tx.LockoutLane(context.Background(), a.ID, l)
			if err != nil {
				return err
			}
			n += lane.Failures
		}
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

// The drift checker tells how far the phone's clock is off from a code it
// shows, without spending the code or counting a wrong one, and is rate
// limited per account.
func TestDriftChecker(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	const email = "drew@example.com"
	c, secret, _ := s.mfaUser(email)
	// Codes of a phone whose clock is offset from ours, made by the
	// independent RFC 6238 implementation.
	at := func(offset time.Duration) string { return code(t, secret, offset) }
	expect(t, "help with the checker", c.get("/help"), 200, `<form method="post" action="/help/drift#code-not-working" novalidate id="drift-form">`,
		`id="drift-code"`)

	res := c.post("/help/drift", "code", at(-2*time.Minute))
	expect(t, "2 minutes behind", res, 200, `id="drift-result"`, "Your phone's clock is 2 minutes behind.", "Set Automatically")
	expect(t, "3 minutes ahead", c.post("/help/drift", "code", at(3*time.Minute)), 200, "Your phone's clock is 3 minutes ahead.")
	wrong := "000000"
	if wrong == at(0) {
		wrong = "000001"
	}
	expect(t, "wrong code", c.post("/help/drift", "code", wrong), 422, "This code does not match your authenticator app at any time within 10 minutes of now.")
	if n := s.laneFailures(email); n != 0 {
		t.Fatalf("the drift checker counted %d failures on the lockout lanes", n)
	}
	if n := actions(auditActionsOf(s, email), "login.failed"); n != 0 {
		t.Fatalf("the drift checker recorded %d failed logins", n)
	}

	// A right code is not spent: it then confirms a step-up.
	now := at(0)
	expect(t, "on time", c.post("/help/drift", "code", now), 200, "Your phone's clock is right.")
	s.ageStepUp()
	expect(t, "step-up with the checked code", c.post("/account/step-up", "method", "totp", "code", now, "next", "/account/password"),
		303, "/account/password")

	// Five checks an hour per account.
	res = c.post("/help/drift", "code", at(-2*time.Minute))
	expect(t, "fifth check", res, 200, "2 minutes behind")
	res = c.post("/help/drift", "code", at(-2*time.Minute))
	expect(t, "sixth check", res, 429, "You checked several codes in the last hour.")
	if res.header.Get("Retry-After") == "" {
		t.Error("no Retry-After on the limited check")
	}

	// Without an authenticator app there is nothing to check against.
	s.signedUp("nora@example.com")
	plain := s.loggedIn("nora@example.com", goodPassword)
	res = plain.get("/help")
	expect(t, "help without an app", res, 200, "Your account has no authenticator app.")
	absent(t, "help without an app", res, `id="drift-form"`)
	expect(t, "check without an app", plain.post("/help/drift", "code", "123456"), 422, "no authenticator app to check a code against")
	// Signed out, the checker is not offered and its post leads to the login.
	expect(t, "check signed out", s.client().post("/help/drift", "code", "123456"), 303, "/login?next=%2Fhelp%2Fdrift")
	// Cross-origin posts are refused.
	c.site = "cross-site"
	expect(t, "cross-origin check", c.post("/help/drift", "code", at(0)), 403)
}

func auditActionsOf(s *site, email string) []string {
	var out []string
	for _, r := range s.audit(s.accountOf(email).ID) {
		out = append(out, r.Action)
	}
	return out
}
