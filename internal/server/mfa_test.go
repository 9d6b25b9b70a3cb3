package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/server/servertest"
	rfc6238pkg "github.com/wardenhq/warden/internal/totp/rfc6238"
)

// rfc6238 is the code of an independent RFC 6238 implementation.
func rfc6238(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := rfc6238pkg.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP switches the authenticator app on for the session's account
// and returns its secret and recovery codes.
func (n *node) enrolTOTP(t *testing.T, token string) (secret string, codes []string) {
	t.Helper()
	auth := []string{"Authorization", "Bearer " + token}
	begin := n.call(t, "POST", "/v1/mfa/totp", nil, auth...).expect(t, 200, "")
	secret = begin.body["secret"].(string)
	conf := n.call(t, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": rfc6238(t, secret, time.Now())}, auth...).expect(t, 200, "")
	for _, c := range conf.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// mailWithSubject waits for an email to addr with this subject, and
// returns the newest: the outbox may deliver emails queued close together
// in either order, so the newest email to addr may be another.
func (n *node) mailWithSubject(t *testing.T, addr, subject string) mail {
	t.Helper()
	return n.mailsWith(t, addr, subject, 1)[0]
}

// challenge logs in with the password and returns the challenge's id.
func (n *node) challenge(t *testing.T, email string) apiResponse {
	t.Helper()
	return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": strongPassword}).expect(t, 202, "")
}

func (n *node) answer(t *testing.T, challengeID, method, code string) apiResponse {
	t.Helper()
	return n.call(t, "POST", "/v1/sessions/challenges/"+url.PathEscape(challengeID), map[string]string{"method": method, "code": code})
}

func TestAuthenticatorAppEnrolmentAndLogin(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "tia@example.com")
	auth := []string{"Authorization", "Bearer " + token}

	state := n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "")
	if state.body["totp"].(map[string]any)["enabled"] != false {
		t.Fatalf("a new account has 2FA: %s", state.raw)
	}
	n.call(t, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": "123456"}, auth...).expect(t, 409, "no_enrolment")
	begin := n.call(t, "POST", "/v1/mfa/totp", nil, auth...).expect(t, 200, "")
	secret := begin.body["secret"].(string)
	uri, err := url.Parse(begin.body["otpauth_uri"].(string))
	if err != nil || uri.Scheme != "otpauth" || uri.Query().Get("secret") != secret || uri.Query().Get("issuer") != "Warden" ||
		!strings.HasSuffix(uri.Path, ":tia@example.com") {
		t.Fatalf("otpauth_uri %s", begin.body["otpauth_uri"])
	}
	if png, err := base64.StdEncoding.DecodeString(begin.body["qr_png"].(string)); err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("qr_png is not a base64 PNG (%v)", err)
	}

	confirm := func(code string) apiResponse {
		return n.call(t, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": code}, auth...)
	}
	confirm("").expect(t, 400, "validation_failed")
	confirm("12345a").expect(t, 400, "invalid_code")
	// A phone five minutes fast: refused, but Warden says by how much.
	drift := confirm(rfc6238(t, secret, time.Now().Add(5*time.Minute))).expect(t, 400, "invalid_code")
	if s, _ := drift.body["clock_drift_seconds"].(float64); s < 270 || s > 330 {
		t.Fatalf("clock_drift_seconds = %v, want about 300: %s", drift.body["clock_drift_seconds"], drift.raw)
	}
	if d := confirm(rfc6238(t, secret, time.Now().Add(-30*time.Minute))).expect(t, 400, "invalid_code"); d.body["clock_drift_seconds"] != nil {
		t.Fatalf("a code 30 minutes off should not claim a drift: %s", d.raw)
	}
	code := rfc6238(t, secret, time.Now())
	spaced := code[:3] + " " + code[3:]
	conf := confirm(spaced).expect(t, 200, "")
	codes := conf.body["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", conf.raw)
	}
	n.call(t, "POST", "/v1/mfa/totp", nil, auth...).expect(t, 409, "mfa_already_enabled")
	me := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	if me.body["user"].(map[string]any)["mfa_enabled"] != true || me.body["session"].(map[string]any)["aal"] != "aal2" {
		t.Fatalf("after enrolment: %s", me.raw)
	}
	on := n.mailWithSubject(t, "tia@example.com", "Two-factor authentication was turned on")
	if !strings.Contains(on.Text, "/freeze?token=") {
		t.Fatalf("enrolment email %q:\n%s", on.Subject, on.Text)
	}

	// Logging in now asks for the second factor.
	ch := n.challenge(t, "tia@example.com")
	if ch.body["status"] != "challenge" || fmt.Sprint(ch.body["methods"]) != "[totp recovery_code]" || !strings.Contains(fmt.Sprint(ch.body["reasons"]), "mfa_required") {
		t.Fatalf("challenge: %s", ch.raw)
	}
	id := ch.body["challenge_id"].(string)
	n.answer(t, id, "totp", code).expect(t, 400, "code_reused")
	n.answer(t, id, "sms", "123456").expect(t, 400, "validation_failed")
	n.answer(t, "wch_nonsense", "totp", rfc6238(t, secret, time.Now().Add(30*time.Second))).expect(t, 410, "challenge_expired")
	done := n.answer(t, id, "totp", rfc6238(t, secret, time.Now().Add(30*time.Second))).expect(t, 201, "")
	second := done.body["session_token"].(string)
	me = n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+second).expect(t, 200, "")
	if me.body["session"].(map[string]any)["aal"] != "aal2" {
		t.Fatalf("session after the challenge: %s", me.raw)
	}
	n.answer(t, id, "recovery_code", codes[0].(string)).expect(t, 410, "challenge_expired")

	// A recovery code, typed loosely, works once and tells the owner.
	ch = n.challenge(t, "tia@example.com")
	loose := strings.ToUpper(strings.ReplaceAll(codes[3].(string), "-", " "))
	used := n.answer(t, ch.body["challenge_id"].(string), "recovery_code", loose).expect(t, 201, "")
	if used.body["recovery_codes_left"] != 9.0 {
		t.Fatalf("recovery_codes_left: %s", used.raw)
	}
	if m := n.mailWithSubject(t, "tia@example.com", "A recovery code was used"); !strings.Contains(m.Text, "9 of 10 codes are left") {
		t.Fatalf("recovery email %q:\n%s", m.Subject, m.Text)
	}
	ch = n.challenge(t, "tia@example.com")
	n.answer(t, ch.body["challenge_id"].(string), "recovery_code", codes[3].(string)).expect(t, 400, "invalid_code")

	// Another user's code does not open this account.
	other := n.signUp(t, "uma@example.com")
	otherSecret, _ := n.enrolTOTP(t, other)
	n.answer(t, ch.body["challenge_id"].(string), "totp", rfc6238(t, otherSecret, time.Now())).expect(t, 400, "invalid_code")

	// Five wrong answers void the challenge, even for a right one after.
	for range 3 {
		n.answer(t, ch.body["challenge_id"].(string), "totp", "000000").expect(t, 400, "invalid_code")
	}
	n.answer(t, ch.body["challenge_id"].(string), "recovery_code", codes[5].(string)).expect(t, 410, "challenge_expired")
	if left := n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "").body["recovery_codes_left"]; left != 9.0 {
		t.Fatalf("a refused challenge spent a recovery code: %v left", left)
	}

	// Wrong codes count towards the lockout like wrong passwords: the five
	// wrong answers (a reused recovery code and four bad codes) locked this
	// device's lane.
	locked := n.call(t, "POST", "/v1/sessions", map[string]string{"email": "tia@example.com", "password": strongPassword}).expect(t, 423, "account_locked")
	if locked.body["retry_after"] == nil {
		t.Fatalf("lock without retry_after: %s", locked.raw)
	}

	// The second factor of a login counts as a fresh step-up.
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": strongPassword, "new_password": "quartz meadow under copper skies"},
		"Authorization", "Bearer "+second).expect(t, 204, "")
}

// Two logins race with the same code (and then the same recovery code):
// exactly one of each pair wins, on SQLite and on PostgreSQL.
func TestCodesAreSpentOnceUnderRace(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { raceCodes(t, start(t, settings(dbURL), true)) })
}

func raceCodes(t *testing.T, n *node) {
	{
		token := n.signUp(t, "race@example.com")
		secret, codes := n.enrolTOTP(t, token)
		race := func(method, code string) (wins, losses int, statuses []string) {
			a, b := n.challenge(t, "race@example.com"), n.challenge(t, "race@example.com")
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, ch := range []apiResponse{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := n.answer(t, ch.body["challenge_id"].(string), method, code)
					mu.Lock()
					defer mu.Unlock()
					statuses = append(statuses, fmt.Sprint(r.status, " ", r.body["code"]))
					if r.status == 201 {
						wins++
					} else if r.status == 400 {
						losses++
					}
				}()
			}
			wg.Wait()
			return wins, losses, statuses
		}
		if w, l, s := race("totp", rfc6238(t, secret, time.Now().Add(30*time.Second))); w != 1 || l != 1 {
			t.Errorf("same TOTP code twice at once: %v", s)
		}
		if w, l, s := race("recovery_code", codes[0]); w != 1 || l != 1 {
			t.Errorf("same recovery code twice at once: %v", s)
		}
	}
}

// Sensitive actions want a second factor proven in the last few minutes.
func TestStepUpGuardsSensitiveActions(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	// ageStepUp makes one account's second factor ten minutes old; only
	// that account's: the parts run in parallel, and one aging the others'
	// sessions made them fail now and then.
	ageStepUp := func(t *testing.T, email string) {
		t.Helper()
		if err := n.srv.Store().ExecRaw(context.Background(), `UPDATE sessions SET mfa_at = mfa_at - 600000000
			WHERE account_id = (SELECT id FROM accounts WHERE realm = 'user' AND email_key = $1)`, email); err != nil {
			t.Fatal(err)
		}
	}
	// Each part has its own account: a TOTP time step is spent once, and a
	// test cannot wait for the next one.
	t.Run("password change", func(t *testing.T) {
		t.Parallel()
		token := n.signUp(t, "sam@example.com")
		secret, _ := n.enrolTOTP(t, token)
		auth := []string{"Authorization", "Bearer " + token}
		ageStepUp(t, "sam@example.com")
		change := map[string]string{"current_password": strongPassword, "new_password": "quartz meadow under copper skies"}
		n.call(t, "PUT", "/v1/password", change, auth...).expect(t, 403, "mfa_required")
		n.call(t, "POST", "/v1/mfa/recovery-codes", map[string]string{"code": "123456"}, auth...).expect(t, 403, "mfa_required")
		n.call(t, "DELETE", "/v1/mfa/totp", map[string]string{"code": "123456", "password": strongPassword}, auth...).expect(t, 403, "mfa_required")
		n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 403, "mfa_required")

		n.call(t, "POST", "/v1/step-up", map[string]string{"method": "totp", "code": "000000"}, auth...).expect(t, 400, "invalid_code")
		n.call(t, "POST", "/v1/step-up", map[string]string{"method": "totp"}, auth...).expect(t, 400, "validation_failed")
		up := n.call(t, "POST", "/v1/step-up", map[string]string{"method": "totp", "code": rfc6238(t, secret, time.Now().Add(30*time.Second))}, auth...).expect(t, 200, "")
		if up.body["aal"] != "aal2" || up.body["valid_until"] == nil {
			t.Fatalf("step-up answer %s", up.raw)
		}
		n.call(t, "PUT", "/v1/password", change, auth...).expect(t, 204, "")
		n.call(t, "POST", "/v1/mfa/recovery-codes", map[string]string{"code": rfc6238(t, secret, time.Now().Add(-30*time.Second))}, auth...).expect(t, 400, "code_reused")
	})
	t.Run("new recovery codes", func(t *testing.T) {
		t.Parallel()
		token := n.signUp(t, "rex@example.com")
		secret, old := n.enrolTOTP(t, token)
		auth := []string{"Authorization", "Bearer " + token}
		fresh := n.call(t, "POST", "/v1/mfa/recovery-codes", map[string]string{"code": rfc6238(t, secret, time.Now().Add(30*time.Second))}, auth...).expect(t, 200, "")
		codes := fresh.body["recovery_codes"].([]any)
		if len(codes) != 10 || codes[0] == old[0] {
			t.Fatalf("new codes: %s", fresh.raw)
		}
		ch := n.challenge(t, "rex@example.com")
		n.answer(t, ch.body["challenge_id"].(string), "recovery_code", old[0]).expect(t, 400, "invalid_code")
		n.answer(t, ch.body["challenge_id"].(string), "recovery_code", codes[0].(string)).expect(t, 201, "")
		// The outbox may deliver the last two in either order.
		var subjects []string
		for _, m := range n.mailbox(t, "rex@example.com", 4) {
			subjects = append(subjects, m.Subject)
		}
		if !slices.Contains(subjects, "New recovery codes were made") || !slices.Contains(subjects, "A recovery code was used") {
			t.Fatalf("emails %q", subjects)
		}
	})
	t.Run("turning 2FA off", func(t *testing.T) {
		t.Parallel()
		token := n.signUp(t, "sue@example.com")
		secret, recovery := n.enrolTOTP(t, token)
		auth := []string{"Authorization", "Bearer " + token}
		ageStepUp(t, "sue@example.com")
		n.call(t, "POST", "/v1/step-up", map[string]string{"method": "recovery_code", "code": "aaaaa-aaaaa"}, auth...).expect(t, 400, "invalid_code")
		n.call(t, "POST", "/v1/step-up", map[string]string{"method": "recovery_code", "code": recovery[0]}, auth...).expect(t, 200, "")
		next := rfc6238(t, secret, time.Now().Add(30*time.Second))
		n.call(t, "DELETE", "/v1/mfa/totp", map[string]string{"code": next}, auth...).expect(t, 400, "validation_failed")
		n.call(t, "DELETE", "/v1/mfa/totp", map[string]string{"code": next, "password": "wrong password here"}, auth...).expect(t, 401, "invalid_credentials")
		n.call(t, "DELETE", "/v1/mfa/totp", map[string]string{"code": next, "password": strongPassword}, auth...).expect(t, 204, "")
		me := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
		if me.body["user"].(map[string]any)["mfa_enabled"] != false {
			t.Fatalf("after turning 2FA off: %s", me.raw)
		}
		if m := n.mailWithSubject(t, "sue@example.com", "Two-factor authentication was turned off"); !strings.Contains(m.Text, "/freeze?token=") {
			t.Fatalf("email %q:\n%s", m.Subject, m.Text)
		}
		admin := n.call(t, "GET", "/admin/v1/users?email=sue@example.com", nil, "Authorization", "Bearer "+adminKey).expect(t, 200, "")
		u := admin.body["users"].([]any)[0].(map[string]any)
		if u["mfa_enabled"] != false || u["security_changed_at"] == nil {
			t.Fatalf("admin view after 2FA off: %v", u)
		}
		if left := n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "").body["recovery_codes_left"]; left != 0.0 {
			t.Fatalf("recovery codes outlive 2FA: %v left", left)
		}
		// Without 2FA a login needs the password only.
		n.login(t, "sue@example.com", strongPassword)
	})
}
