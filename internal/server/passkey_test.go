package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/passkey/passkeytest"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// rawJSON re-encodes a decoded member of a response, such as options.
func rawJSON(t *testing.T, v any) []byte {
	t.Helper()
	if v == nil {
		t.Fatal("missing JSON member")
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addPasskey registers key for the session's account under name and returns
// the 201 answer.
func (n *node) addPasskey(t *testing.T, token string, key *passkeytest.Authenticator, name string) apiResponse {
	t.Helper()
	auth := []string{"Authorization", "Bearer " + token}
	begin := n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 200, "")
	return n.call(t, "POST", "/v1/mfa/webauthn/registrations/finish", map[string]any{
		"registration_id": begin.body["registration_id"], "name": name,
		"credential": json.RawMessage(key.Create(rawJSON(t, begin.body["options"]))),
	}, auth...).expect(t, 201, "")
}

// answerWithPasskey answers a login challenge with a passkey's assertion.
func (n *node) answerWithPasskey(t *testing.T, challengeID string, credential []byte) apiResponse {
	t.Helper()
	return n.call(t, "POST", "/v1/sessions/challenges/"+url.PathEscape(challengeID),
		map[string]any{"method": "webauthn", "credential": json.RawMessage(credential)})
}

// stepUpWithPasskey proves the passkey for the session: options first, then
// the assertion.
func (n *node) stepUpWithPasskey(t *testing.T, token string, key *passkeytest.Authenticator) {
	t.Helper()
	auth := []string{"Authorization", "Bearer " + token}
	opts := n.call(t, "POST", "/v1/step-up", map[string]string{"method": "webauthn"}, auth...).expect(t, 200, "")
	n.call(t, "POST", "/v1/step-up", map[string]any{
		"method": "webauthn", "challenge_id": opts.body["challenge_id"],
		"credential": json.RawMessage(key.Get(rawJSON(t, opts.body["webauthn_options"]))),
	}, auth...).expect(t, 200, "")
}

// mailsWith waits until count emails to addr have subject, and returns
// them, newest first. Other emails (new sign-ins and the like) are ignored.
func (n *node) mailsWith(t *testing.T, addr, subject string, count int) []mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []mail
		for _, m := range n.mailbox(t, addr, 0) {
			if m.Subject == subject {
				found = append(found, m)
			}
		}
		if len(found) >= count {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails %q to %s, want %d", len(found), subject, addr, count)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A passkey as the only second factor: registered, listed, asked for at
// login, and refused when the answer is not its own, fresh, at this origin.
func TestPasskeyAsFirstFactorAndLogin(t *testing.T) {
	t.Parallel()
	n, origin := localhostNode(t)
	token := n.signUp(t, "pia@example.com")
	auth := []string{"Authorization", "Bearer " + token}
	key := passkeytest.New(t, origin)

	begin := n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 200, "")
	regID, _ := begin.body["registration_id"].(string)
	var options struct {
		PublicKey struct {
			RP   struct{ ID string }
			User struct{ Name string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(rawJSON(t, begin.body["options"]), &options); err != nil || !strings.HasPrefix(regID, "wch_") ||
		options.PublicKey.RP.ID != "localhost" || options.PublicKey.User.Name != "pia@example.com" {
		t.Fatalf("registration options (%v): %s", err, begin.raw)
	}
	credential := json.RawMessage(key.Create(rawJSON(t, begin.body["options"])))
	finish := func(body map[string]any) apiResponse {
		return n.call(t, "POST", "/v1/mfa/webauthn/registrations/finish", body, auth...)
	}
	finish(map[string]any{"registration_id": regID, "credential": credential}).expect(t, 400, "validation_failed")
	finish(map[string]any{"registration_id": regID, "name": "Laptop"}).expect(t, 400, "validation_failed")
	finish(map[string]any{"name": "Laptop", "credential": credential}).expect(t, 400, "validation_failed")
	finish(map[string]any{"registration_id": "wch_nonsense", "name": "Laptop", "credential": credential}).expect(t, 410, "challenge_expired")
	done := finish(map[string]any{"registration_id": regID, "name": "Laptop", "credential": credential}).expect(t, 201, "")
	codes, _ := done.body["recovery_codes"].([]any)
	pk, _ := done.body["passkey"].(map[string]any)
	if len(codes) != 10 || pk["name"] != "Laptop" || !strings.HasPrefix(pk["id"].(string), "pky_") || pk["last_used_at"] != nil {
		t.Fatalf("first passkey: %s", done.raw)
	}
	passkeyID := pk["id"].(string)
	finish(map[string]any{"registration_id": regID, "name": "Laptop", "credential": credential}).expect(t, 410, "challenge_expired")

	me := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	if me.body["user"].(map[string]any)["mfa_enabled"] != true || me.body["session"].(map[string]any)["aal"] != "aal2" {
		t.Fatalf("after the first passkey: %s", me.raw)
	}
	state := n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "")
	listed, _ := state.body["passkeys"].([]any)
	if len(listed) != 1 || listed[0].(map[string]any)["id"] != passkeyID || listed[0].(map[string]any)["name"] != "Laptop" ||
		listed[0].(map[string]any)["last_used_at"] != nil || state.body["recovery_codes_left"] != 10.0 ||
		state.body["totp"].(map[string]any)["enabled"] != false {
		t.Fatalf("GET /v1/mfa: %s", state.raw)
	}
	if m := n.mailWithSubject(t, "pia@example.com", "A passkey was added"); !strings.Contains(m.Text, `"Laptop"`) || !strings.Contains(m.Text, "/freeze?token=") {
		t.Fatalf("email %q:\n%s", m.Subject, m.Text)
	}

	// Logging in asks for the passkey, with the options to ask it.
	ch := n.challenge(t, "pia@example.com")
	if fmt.Sprint(ch.body["methods"]) != "[webauthn recovery_code]" || ch.body["webauthn_options"] == nil {
		t.Fatalf("challenge: %s", ch.raw)
	}
	var login struct {
		PublicKey struct {
			RPID             string `json:"rpId"`
			AllowCredentials []struct{ ID string }
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(rawJSON(t, ch.body["webauthn_options"]), &login); err != nil || login.PublicKey.RPID != "localhost" ||
		len(login.PublicKey.AllowCredentials) != 1 || login.PublicKey.AllowCredentials[0].ID != passkeytest.B64.EncodeToString(key.CredentialID()) {
		t.Fatalf("webauthn_options (%v): %s", err, ch.raw)
	}
	id := ch.body["challenge_id"].(string)
	n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "webauthn"}).expect(t, 400, "validation_failed")
	assertion := key.Get(rawJSON(t, ch.body["webauthn_options"]))
	answered := n.answerWithPasskey(t, id, assertion).expect(t, 201, "")
	second := answered.body["session_token"].(string)
	me = n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+second).expect(t, 200, "")
	if me.body["session"].(map[string]any)["aal"] != "aal2" {
		t.Fatalf("session after the passkey: %s", me.raw)
	}
	state = n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "")
	usedAt, _ := state.body["passkeys"].([]any)[0].(map[string]any)["last_used_at"].(string)
	if at, err := time.Parse(time.RFC3339Nano, usedAt); err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
		t.Fatalf("last_used_at after the login %q (%v): %s", usedAt, err, state.raw)
	}

	// The same assertion, replayed: on its spent challenge, and on a new one.
	n.answerWithPasskey(t, id, assertion).expect(t, 410, "challenge_expired")
	ch = n.challenge(t, "pia@example.com")
	id = ch.body["challenge_id"].(string)
	options2 := rawJSON(t, ch.body["webauthn_options"])
	n.answerWithPasskey(t, id, assertion).expect(t, 400, "invalid_passkey")

	// Signed for another origin: refused.
	key.Origin = "http://localhost:1"
	n.answerWithPasskey(t, id, key.Get(options2)).expect(t, 400, "invalid_passkey")
	key.Origin = "https://evil.example"
	n.answerWithPasskey(t, id, key.Get(options2)).expect(t, 400, "invalid_passkey")
	key.Origin = origin
	// Three wrong answers: the challenge is still open to the right one.
	n.answerWithPasskey(t, id, key.Get(options2)).expect(t, 201, "")

	// Another user's passkey, even claiming this user's handle: refused.
	other := n.signUp(t, "quin@example.com")
	theirs := passkeytest.New(t, origin)
	n.addPasskey(t, other, theirs, "Quin's key")
	ch = n.challenge(t, "pia@example.com")
	id, options3 := ch.body["challenge_id"].(string), rawJSON(t, ch.body["webauthn_options"])
	n.answerWithPasskey(t, id, theirs.Get(options3)).expect(t, 400, "invalid_passkey")
	theirs.UserHandle = []byte(me.body["user"].(map[string]any)["id"].(string))
	n.answerWithPasskey(t, id, theirs.Get(options3)).expect(t, 400, "invalid_passkey")
	// Nor does this user's passkey open the other account.
	theirCh := n.challenge(t, "quin@example.com")
	n.answerWithPasskey(t, theirCh.body["challenge_id"].(string), key.Get(rawJSON(t, theirCh.body["webauthn_options"]))).expect(t, 400, "invalid_passkey")
	n.answerWithPasskey(t, id, key.Get(options3)).expect(t, 201, "")
}

// A second passkey wants a recent step-up, which a passkey can give; then
// renaming, and removing the last passkey, which turns 2FA off.
func TestPasskeyStepUpRenameAndRemove(t *testing.T) {
	t.Parallel()
	n, origin := localhostNode(t)
	token := n.signUp(t, "rae@example.com")
	auth := []string{"Authorization", "Bearer " + token}
	laptop, phone := passkeytest.New(t, origin), passkeytest.New(t, origin)
	laptopID := n.addPasskey(t, token, laptop, "Laptop").body["passkey"].(map[string]any)["id"].(string)
	ageStepUp := func() {
		t.Helper()
		if err := n.srv.Store().ExecRaw(t.Context(), `UPDATE sessions SET mfa_at = mfa_at - 600000000`); err != nil {
			t.Fatal(err)
		}
	}

	ageStepUp()
	n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 403, "mfa_required")
	opts := n.call(t, "POST", "/v1/step-up", map[string]string{"method": "webauthn"}, auth...).expect(t, 200, "")
	challengeID, _ := opts.body["challenge_id"].(string)
	if !strings.HasPrefix(challengeID, "wch_") || opts.body["expires_at"] == nil || opts.body["webauthn_options"] == nil {
		t.Fatalf("step-up options: %s", opts.raw)
	}
	options := rawJSON(t, opts.body["webauthn_options"])
	stepUp := func(id string, credential []byte) apiResponse {
		return n.call(t, "POST", "/v1/step-up", map[string]any{"method": "webauthn", "challenge_id": id, "credential": json.RawMessage(credential)}, auth...)
	}
	laptop.Origin = "http://localhost:1"
	stepUp(challengeID, laptop.Get(options)).expect(t, 400, "invalid_passkey")
	laptop.Origin = origin
	n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 403, "mfa_required")
	// A step-up challenge is this session's: another session cannot use it.
	ch := n.challenge(t, "rae@example.com")
	otherSession := n.answerWithPasskey(t, ch.body["challenge_id"].(string), laptop.Get(rawJSON(t, ch.body["webauthn_options"]))).expect(t, 201, "")
	n.call(t, "POST", "/v1/step-up", map[string]any{"method": "webauthn", "challenge_id": challengeID, "credential": json.RawMessage(laptop.Get(options))},
		"Authorization", "Bearer "+otherSession.body["session_token"].(string)).expect(t, 410, "challenge_expired")
	up := stepUp(challengeID, laptop.Get(options)).expect(t, 200, "")
	if up.body["aal"] != "aal2" || up.body["valid_until"] == nil {
		t.Fatalf("step-up answer: %s", up.raw)
	}
	stepUp(challengeID, laptop.Get(options)).expect(t, 410, "challenge_expired")

	// Now a second passkey; it comes without new recovery codes.
	added := n.addPasskey(t, token, phone, "Phone")
	if _, ok := added.body["recovery_codes"]; ok {
		t.Fatalf("a second passkey came with recovery codes: %s", added.raw)
	}
	phoneID := added.body["passkey"].(map[string]any)["id"].(string)
	// The same authenticator twice is refused.
	begin := n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, auth...).expect(t, 200, "")
	n.call(t, "POST", "/v1/mfa/webauthn/registrations/finish", map[string]any{
		"registration_id": begin.body["registration_id"], "name": "Phone again",
		"credential": json.RawMessage(phone.Create(rawJSON(t, begin.body["options"]))),
	}, auth...).expect(t, 400, "invalid_passkey")

	// Renaming: validated, trimmed, and only one's own.
	rename := func(id string, name any) apiResponse {
		return n.call(t, "PATCH", "/v1/mfa/webauthn/credentials/"+id, map[string]any{"name": name}, auth...)
	}
	for _, bad := range []any{"", "   ", strings.Repeat("x", 61), "line\nbreak", "tab\there", nil} {
		rename(phoneID, bad).expect(t, 400, "validation_failed")
	}
	rename("pky_nonsense", "Phone").expect(t, 404, "")
	renamed := rename(phoneID, "  Work phone ").expect(t, 200, "")
	if renamed.body["name"] != "Work phone" || renamed.body["id"] != phoneID {
		t.Fatalf("renamed: %s", renamed.raw)
	}
	long := strings.Repeat("é", 60)
	rename(phoneID, long).expect(t, 200, "")
	other := n.signUp(t, "sol@example.com")
	n.call(t, "PATCH", "/v1/mfa/webauthn/credentials/"+phoneID, map[string]any{"name": "Mine now"}, "Authorization", "Bearer "+other).expect(t, 404, "")
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+phoneID, nil, "Authorization", "Bearer "+other).expect(t, 404, "")
	names := map[string]string{}
	for _, p := range n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "").body["passkeys"].([]any) {
		names[p.(map[string]any)["id"].(string)] = p.(map[string]any)["name"].(string)
	}
	if len(names) != 2 || names[laptopID] != "Laptop" || names[phoneID] != long {
		t.Fatalf("passkeys after renaming: %v", names)
	}

	// Removing wants a recent step-up.
	ageStepUp()
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+laptopID, nil, auth...).expect(t, 403, "mfa_required")
	n.stepUpWithPasskey(t, token, phone)
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+laptopID, nil, auth...).expect(t, 204, "")
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+laptopID, nil, auth...).expect(t, 404, "")
	if m := n.mailWithSubject(t, "rae@example.com", "A passkey was removed"); !strings.Contains(m.Text, `"Laptop"`) || strings.Contains(m.Text, "now off") {
		t.Fatalf("email for removing one of two:\n%s", m.Text)
	}
	me := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	if me.body["user"].(map[string]any)["mfa_enabled"] != true {
		t.Fatalf("one passkey left, 2FA went off: %s", me.raw)
	}
	// The removed passkey no longer answers a login.
	ch = n.challenge(t, "rae@example.com")
	n.answerWithPasskey(t, ch.body["challenge_id"].(string), laptop.Get(rawJSON(t, ch.body["webauthn_options"]))).expect(t, 400, "invalid_passkey")

	// The last one turns 2FA off, so (like DELETE /v1/mfa/totp) it needs the
	// password too; then the recovery codes go, and the owner is told.
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+phoneID, nil, auth...).expect(t, 401, "invalid_credentials")
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+phoneID, map[string]string{"password": "not the password"}, auth...).expect(t, 401, "invalid_credentials")
	n.call(t, "DELETE", "/v1/mfa/webauthn/credentials/"+phoneID, map[string]string{"password": strongPassword}, auth...).expect(t, 204, "")
	me = n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	if me.body["user"].(map[string]any)["mfa_enabled"] != false {
		t.Fatalf("after removing the last passkey: %s", me.raw)
	}
	state := n.call(t, "GET", "/v1/mfa", nil, auth...).expect(t, 200, "")
	if len(state.body["passkeys"].([]any)) != 0 || state.body["recovery_codes_left"] != 0.0 {
		t.Fatalf("GET /v1/mfa after removing the last passkey: %s", state.raw)
	}
	// The outbox may deliver the two removal emails in either order.
	var last []mail
	for _, m := range n.mailsWith(t, "rae@example.com", "A passkey was removed", 2) {
		if strings.Contains(m.Text, "two-factor authentication is now off") {
			last = append(last, m)
		}
	}
	if len(last) != 1 || !strings.Contains(last[0].Text, long) || !strings.Contains(last[0].Text, "/freeze?token=") {
		t.Fatalf("want one email saying the last passkey went and 2FA with it, got %d: %+v", len(last), last)
	}
	admin := n.call(t, "GET", "/admin/v1/users?email=rae@example.com", nil, "Authorization", "Bearer "+adminKey).expect(t, 200, "")
	if u := admin.body["users"].([]any)[0].(map[string]any); u["mfa_enabled"] != false || u["security_changed_at"] == nil {
		t.Fatalf("admin view after 2FA went off: %v", u)
	}
	n.call(t, "POST", "/v1/step-up", map[string]string{"method": "webauthn"}, auth...).expect(t, 409, "mfa_not_enabled")
	n.login(t, "rae@example.com", strongPassword)
}

// With an IP address in WARDEN_BASE_URL passkeys are off, and say so.
func TestPasskeysNeedAHostName(t *testing.T) {
	t.Parallel()
	port := strconv.Itoa(freePort(t))
	_, dbURL := storetest.SQLiteURL(t)
	n := start(t, settings(dbURL, "WARDEN_ADDR", "127.0.0.1:"+port, "WARDEN_BASE_URL", "http://127.0.0.1:"+port), true)
	token := n.signUp(t, "tor@example.com")
	n.call(t, "POST", "/v1/mfa/webauthn/registrations", nil, "Authorization", "Bearer "+token).expect(t, 501, "passkeys_unavailable")
	// The authenticator app still works, and a login offers no passkey.
	n.enrolTOTP(t, token)
	ch := n.challenge(t, "tor@example.com")
	if slices.Contains(ch.body["methods"].([]any), any("webauthn")) || ch.body["webauthn_options"] != nil {
		t.Fatalf("challenge without passkeys: %s", ch.raw)
	}
}
