package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/store/storetest"
)

const strongPassword = "correct horse battery staple"

// devNode is a dev-mode node for API tests. Password hashing runs at the
// production parameters (about 10 ms a hash here): the floor Warden enforces
// leaves nothing cheaper, and a test suite is no reason to lower it.
func devNode(t *testing.T, extra ...string) *node {
	t.Helper()
	_, dbURL := storetest.SQLiteURL(t)
	return start(t, settings(dbURL, extra...), true)
}

type apiResponse struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends a JSON request; headers are name/value pairs.
func (n *node) call(t *testing.T, method, path string, body any, headers ...string) apiResponse {
	t.Helper()
	var rdr io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rdr = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.base+path, rdr)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	loginEmail := n.devices.loginEmail(path, body)
	if token := n.devices.token(loginEmail); token != "" {
		req.Header.Set("X-Warden-Device", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := apiResponse{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	n.devices.remember(loginEmail, out.body)
	return out
}

// deviceJar keeps the device token each account's logins were given, as a
// real client does, so a test's second login comes from a known device.
type deviceJar struct {
	mu         sync.Mutex
	byEmail    map[string]string
	challenges map[string]string // challenge id → email
}

// loginEmail names the account a login step is for ("" for other requests).
func (j *deviceJar) loginEmail(path string, body any) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if id, ok := strings.CutPrefix(path, "/v1/sessions/challenges/"); ok {
		return j.challenges[id]
	}
	if m, ok := body.(map[string]string); ok && path == "/v1/sessions" {
		return strings.ToLower(m["email"])
	}
	return ""
}

func (j *deviceJar) token(email string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.byEmail[email]
}

func (j *deviceJar) remember(email string, answer map[string]any) {
	if email == "" {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.byEmail == nil {
		j.byEmail, j.challenges = map[string]string{}, map[string]string{}
	}
	if id, ok := answer["challenge_id"].(string); ok {
		j.challenges[id] = email
	}
	if token, ok := answer["device_token"].(string); ok && token != "" {
		j.byEmail[email] = token
	}
}

func (r apiResponse) expect(t *testing.T, status int, code string) apiResponse {
	t.Helper()
	if r.status != status || (code != "" && r.body["code"] != code) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
	return r
}

type mail struct {
	ID      string `json:"id"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// mailbox waits until at least n emails to addr are in the dev mailbox and returns them, newest first.
func (n *node) mailbox(t *testing.T, addr string, want int) []mail {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(n.base + "/dev/mailbox.json?to=" + url.QueryEscape(addr))
		if err != nil {
			t.Fatal(err)
		}
		var mails []mail
		_ = json.NewDecoder(resp.Body).Decode(&mails)
		resp.Body.Close()
		if len(mails) >= want {
			return mails
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d emails to %s, want %d", len(mails), addr, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var tokenInLink = regexp.MustCompile(`(/[a-z-]+)\?token=([A-Za-z0-9_-]+)`)

// linkToken finds the token of the link to path in an email's text.
func linkToken(t *testing.T, m mail, path string) string {
	t.Helper()
	for _, match := range tokenInLink.FindAllStringSubmatch(m.Text, -1) {
		if match[1] == path {
			return match[2]
		}
	}
	t.Fatalf("no %s link in %q:\n%s", path, m.Subject, m.Text)
	return ""
}

// newDeviceToken is the token of the link in the newest new-device email
// to addr, which confirms a login from a device the account does not know.
func (n *node) newDeviceToken(t *testing.T, addr string) string {
	t.Helper()
	return linkToken(t, n.mailWithSubject(t, addr, "Confirm a login to Warden from a new device"), "/confirm-device")
}

// registerVerified registers an account with strongPassword and verifies
// its email, without logging in.
func (n *node) registerVerified(t *testing.T, email string) {
	t.Helper()
	n.call(t, "POST", "/v1/registrations", map[string]string{"email": email, "password": strongPassword}).expect(t, 202, "")
	verify := n.mailbox(t, email, 1)[0]
	n.call(t, "POST", "/v1/email-verifications", map[string]string{"token": linkToken(t, verify, "/verify-email")}).expect(t, 200, "")
}

// signUp registers and verifies an account, and returns a session token.
func (n *node) signUp(t *testing.T, email string) string {
	t.Helper()
	n.registerVerified(t, email)
	return n.login(t, email, strongPassword)
}

func (n *node) login(t *testing.T, email, pw string) string {
	t.Helper()
	r := n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": pw}).expect(t, 201, "")
	return r.body["session_token"].(string)
}

func TestRegistrationAnswersAlikeAndVerifies(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	reg := func(email, pw string) apiResponse {
		return n.call(t, "POST", "/v1/registrations", map[string]string{"email": email, "password": pw})
	}
	first := reg("  Alice@Example.COM ", strongPassword).expect(t, 202, "")
	// Before verification the right password is answered with email_not_verified, the wrong one is not.
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": "alice@example.com", "password": "wrong password here"}).expect(t, 401, "invalid_credentials")
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": "alice@example.com", "password": strongPassword}).expect(t, 403, "email_not_verified")

	verify := n.mailbox(t, "Alice@example.com", 1)[0]
	token := linkToken(t, verify, "/verify-email")
	n.call(t, "POST", "/v1/email-verifications", map[string]string{"token": token}).expect(t, 200, "")
	n.call(t, "POST", "/v1/email-verifications", map[string]string{"token": token}).expect(t, 400, "invalid_token")

	again := reg("alice@example.com", "another strong passphrase here").expect(t, 202, "")
	if !bytes.Equal(first.raw, again.raw) {
		t.Fatalf("answers differ for a new and a taken email:\n%s\n%s", first.raw, again.raw)
	}
	mails := n.mailbox(t, "Alice@example.com", 2)
	if !strings.Contains(mails[0].Subject, "tried to sign up") {
		t.Fatalf("the owner got %q, want the 'someone tried to sign up' email", mails[0].Subject)
	}
	// The taken email's password did not change.
	n.login(t, "alice@example.com", strongPassword)

	p := reg("bob@example.com", "password1234").expect(t, 400, "weak_password")
	if fb, _ := p.body["feedback"].(map[string]any); fb == nil {
		t.Fatalf("weak_password without feedback: %s", p.raw)
	}
	reg("not-an-email", strongPassword).expect(t, 400, "validation_failed")
	reg("carol@example.com", "carol-is-great-2026!").expect(t, 400, "weak_password")
}

func TestSessionsLifecycleAndIntrospection(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "dana@example.com")
	auth := []string{"Authorization", "Bearer " + token}
	me := n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	user := me.body["user"].(map[string]any)
	if user["email"] != "dana@example.com" || me.body["session"].(map[string]any)["aal"] != "aal1" {
		t.Fatalf("GET /v1/session = %s", me.raw)
	}
	other := n.login(t, "dana@example.com", strongPassword)

	intro := func(tok string) map[string]any {
		return n.call(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": tok}, "Authorization", "Bearer "+adminKey).expect(t, 200, "").body
	}
	if got := intro(other); got["active"] != true || got["user_id"] != user["id"] {
		t.Fatalf("introspect = %v", got)
	}
	list := n.call(t, "GET", "/v1/sessions", nil, auth...).expect(t, 200, "")
	sessions := list.body["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions listed, want 2", len(sessions))
	}
	var otherID string
	for _, s := range sessions {
		if m := s.(map[string]any); m["current"] != true {
			otherID = m["id"].(string)
		}
	}
	n.call(t, "DELETE", "/v1/sessions/"+otherID, nil, auth...).expect(t, 204, "")
	if got := intro(other); got["active"] != false {
		t.Fatalf("revoked session still active in introspection: %v", got)
	}
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+other).expect(t, 401, "unauthenticated")
	n.call(t, "DELETE", "/v1/session", nil, auth...).expect(t, 204, "")
	n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 401, "unauthenticated")
	if got := intro("wss_" + strings.Repeat("a", 52)); got["active"] != false {
		t.Fatalf("unknown token active: %v", got)
	}
}

func TestCookieWritesNeedSameOrigin(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "erin@example.com")
	cookie := "warden_session=" + token
	body := map[string]string{"code": "BLUE-FALCON"}
	n.call(t, "PUT", "/v1/anti-phishing-code", body, "Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site").
		expect(t, 403, "csrf_failed")
	n.call(t, "PUT", "/v1/anti-phishing-code", body, "Cookie", cookie, "Sec-Fetch-Site", "same-origin").expect(t, 204, "")
	// Reads with the cookie, and writes with a Bearer token, need no origin check.
	n.call(t, "GET", "/v1/session", nil, "Cookie", cookie, "Sec-Fetch-Site", "cross-site").expect(t, 200, "")
	n.call(t, "PUT", "/v1/anti-phishing-code", map[string]string{"code": "GREEN-OWL"}, "Authorization", "Bearer "+token, "Origin", "https://evil.example").expect(t, 204, "")
}

func TestPasswordResetIsSingleUseUnderRace(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	n.signUp(t, "fay@example.com")
	n.call(t, "POST", "/v1/password-resets", map[string]string{"email": "fay@example.com"}).expect(t, 202, "")
	n.call(t, "POST", "/v1/password-resets", map[string]string{"email": "nobody@example.com"}).expect(t, 202, "")
	reset := n.mailbox(t, "fay@example.com", 2)[0]
	token := linkToken(t, reset, "/reset-password")
	if !strings.Contains(reset.Text, "/freeze?token=") {
		t.Fatal("the reset email has no 'this wasn't me' freeze link")
	}
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = n.call(t, "POST", "/v1/password-resets/confirm", map[string]string{"token": token, "new_password": "a brand new passphrase " + string(rune('a'+i))}).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		if s == 204 {
			ok++
		} else if s != 400 {
			t.Fatalf("racing confirm answered %d", s)
		}
	}
	if ok != 1 {
		t.Fatalf("%d racing resets succeeded with one token, want exactly 1 (%v)", ok, statuses)
	}
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": "fay@example.com", "password": strongPassword}).expect(t, 401, "invalid_credentials")
}

func TestChangePasswordRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "gus@example.com")
	other := n.login(t, "gus@example.com", strongPassword)
	auth := []string{"Authorization", "Bearer " + token}
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": "wrong password here", "new_password": "a whole new passphrase"}, auth...).expect(t, 401, "invalid_credentials")
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": strongPassword, "new_password": "gus@example.com is me"}, auth...).expect(t, 400, "weak_password")
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": strongPassword, "new_password": "a whole new passphrase"}, auth...).expect(t, 204, "")
	n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 200, "")
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+other).expect(t, 401, "unauthenticated")
	mails := n.mailbox(t, "gus@example.com", 2)
	if !strings.Contains(mails[0].Subject, "password was changed") {
		t.Fatalf("newest email %q", mails[0].Subject)
	}
	n.login(t, "gus@example.com", "a whole new passphrase")
	activity := n.call(t, "GET", "/v1/activity", nil, auth...).expect(t, 200, "")
	actions := ""
	for _, e := range activity.body["events"].([]any) {
		actions += e.(map[string]any)["action"].(string) + " "
	}
	for _, want := range []string{"account.registered", "account.email_verified", "session.created", "password.changed"} {
		if !strings.Contains(actions, want) {
			t.Errorf("activity lacks %s: %s", want, actions)
		}
	}
	if strings.Contains(string(activity.raw), "hash") || strings.Contains(string(activity.raw), "token") {
		t.Errorf("activity leaks secrets: %s", activity.raw)
	}
}

func TestAntiPhishingCodeAndFreeze(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "hal@example.com")
	auth := []string{"Authorization", "Bearer " + token}
	n.call(t, "PUT", "/v1/anti-phishing-code", map[string]string{"code": "<b>x</b>"}, auth...).expect(t, 400, "validation_failed")
	n.call(t, "PUT", "/v1/anti-phishing-code", map[string]string{"code": "BLUE-FALCON"}, auth...).expect(t, 204, "")
	set := n.mailbox(t, "hal@example.com", 2)[0]
	if !strings.Contains(set.Text, "Your anti-phishing code: BLUE-FALCON") || !strings.Contains(set.HTML, "BLUE-FALCON") {
		t.Fatalf("anti-phishing code not in the email's fixed place:\n%s", set.Text)
	}
	freezeToken := linkToken(t, set, "/freeze")

	n.call(t, "POST", "/v1/account/freeze", map[string]string{"token": "bogus"}).expect(t, 400, "invalid_token")
	frozen := n.call(t, "POST", "/v1/account/freeze", map[string]string{"token": freezeToken}).expect(t, 200, "")
	if frozen.body["frozen"] != true {
		t.Fatalf("freeze answer %s", frozen.raw)
	}
	n.call(t, "GET", "/v1/session", nil, auth...).expect(t, 401, "unauthenticated")
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": "hal@example.com", "password": strongPassword}).expect(t, 403, "account_frozen")
	n.call(t, "POST", "/v1/sessions", map[string]string{"email": "hal@example.com", "password": "not the password"}).expect(t, 401, "invalid_credentials")
	notice := n.mailbox(t, "hal@example.com", 3)[0]
	if !strings.Contains(notice.Subject, "frozen") || !strings.Contains(notice.Text, "BLUE-FALCON") {
		t.Fatalf("freeze notice %q", notice.Subject)
	}

	admin := []string{"Authorization", "Bearer " + adminKey}
	found := n.call(t, "GET", "/admin/v1/users?email=HAL@example.com", nil, admin...).expect(t, 200, "")
	users := found.body["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["frozen"] != true {
		t.Fatalf("users = %s", found.raw)
	}
	id := users[0].(map[string]any)["id"].(string)
	n.call(t, "POST", "/admin/v1/users/"+id+"/unfreeze", map[string]string{"reason": ""}, admin...).expect(t, 400, "validation_failed")
	n.call(t, "POST", "/admin/v1/users/"+id+"/unfreeze", map[string]string{"reason": "passport checked on a video call"}, admin...).expect(t, 200, "")
	n.call(t, "POST", "/admin/v1/users/"+id+"/unfreeze", map[string]string{"reason": "passport checked on a video call"}, admin...).expect(t, 409, "not_frozen")
	member, _ := createStaff(t, n, "ops@acme.test", "admin")
	n.call(t, "POST", "/admin/v1/users/"+member.ID+"/unfreeze", map[string]string{"reason": "a staff account is not a user"}, admin...).expect(t, 404, "not_found")
	token = n.login(t, "hal@example.com", strongPassword)
	// The unfreeze reason is staff's note: the user's activity does not quote it.
	if act := n.call(t, "GET", "/v1/activity", nil, "Authorization", "Bearer "+token).expect(t, 200, ""); !strings.Contains(string(act.raw), "account.unfrozen") ||
		strings.Contains(string(act.raw), "video call") {
		t.Errorf("activity after unfreeze: %s", act.raw)
	}
	state := n.call(t, "GET", "/admin/v1/users/"+id, nil, admin...).expect(t, 200, "")
	if state.body["frozen"] != false || state.body["security_changed_at"] == nil {
		t.Fatalf("user state after unfreeze = %s", state.raw)
	}
	// Staff see the devices and every login decision, with its reasons.
	devices, _ := state.body["devices"].([]any)
	logins, _ := state.body["recent_logins"].([]any)
	if len(devices) == 0 || len(logins) == 0 || logins[0].(map[string]any)["outcome"] != "succeeded" {
		t.Fatalf("devices and logins in the staff view: %s", state.raw)
	}
	outcomes := map[any]bool{}
	for _, l := range logins {
		outcomes[l.(map[string]any)["outcome"]] = true
	}
	if !outcomes["failed"] {
		t.Errorf("the wrong password is not among the logins: %v", outcomes)
	}
}

// A revocation on one node takes effect on every node sharing the
// PostgreSQL database within a second, even where the session was cached.
func TestRevocationReachesOtherNodesWithinASecond(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.PostgresURL(t)
	env := settings(dbURL, "WARDEN_SESSION_CACHE_TTL", "1h")
	a, b := start(t, env, true), start(t, env, true)
	token := a.signUp(t, "ivy@example.com")
	introspect := func(n *node) bool {
		r := n.call(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": token}, "Authorization", "Bearer "+adminKey).expect(t, 200, "")
		return r.body["active"] == true
	}
	// Wait until node b listens for revocations and trusts its cache, then
	// warm the cache: with a one-hour TTL only an eviction can end the entry.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(b.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(m), "warden_session_cache_enabled 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node b never enabled its session cache")
		}
	}
	for range 3 {
		if !introspect(b) {
			t.Fatal("session not active on node b")
		}
	}
	revokedAt := time.Now()
	a.call(t, "DELETE", "/v1/session", nil, "Authorization", "Bearer "+token).expect(t, 204, "")
	for introspect(b) {
		if time.Since(revokedAt) > time.Second {
			t.Fatal("node b still answers active a second after node a revoked the session")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("revocation reached node b after %v", time.Since(revokedAt))
}

// Rate limits are shared through the database: login attempts from one
// address on two nodes count against one bucket, and the answer past it is
// 429 with Retry-After. (Each account is guarded by its lockout lanes, which
// the login tests check across nodes.)
func TestLoginRateLimitIsSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.PostgresURL(t)
	env := settings(dbURL, "WARDEN_RATE_LOGIN_PER_IP", "4/1h", "WARDEN_RATE_REGISTER_PER_IP", "2/1h")
	a, b := start(t, env, true), start(t, env, true)
	try := func(n *node, email string) apiResponse {
		return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": "not the password at all"})
	}
	for i, n := range []*node{a, b, a, b} {
		try(n, fmt.Sprintf("jo%d@example.com", i)).expect(t, 401, "invalid_credentials")
	}
	limited := try(b, "jo9@example.com").expect(t, 429, "rate_limited")
	if ra := limited.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After = %q", ra)
	}
	try(a, "kim@example.com").expect(t, 429, "rate_limited")

	for range 2 {
		a.call(t, "POST", "/v1/registrations", map[string]string{"email": "new@example.com", "password": strongPassword}).expect(t, 202, "")
	}
	b.call(t, "POST", "/v1/registrations", map[string]string{"email": "new2@example.com", "password": strongPassword}).expect(t, 429, "rate_limited")
}

// Freezing from a session ends every session and tells the platform with an
// account.frozen webhook.
func TestFreezeFromSessionSendsWebhook(t *testing.T) {
	t.Parallel()
	got := make(chan map[string]any, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if r.Header.Get("webhook-id") != "" && r.Header.Get("webhook-signature") != "" {
			got <- body
		}
	}))
	defer receiver.Close()
	n := devNode(t)
	n.call(t, "POST", "/admin/v1/webhooks", map[string]any{"url": receiver.URL, "event_types": []string{"account.frozen"}},
		"Authorization", "Bearer "+adminKey).expect(t, 201, "")
	token := n.signUp(t, "lee@example.com")
	other := n.login(t, "lee@example.com", strongPassword)
	n.call(t, "POST", "/v1/account/freeze", nil, "Authorization", "Bearer "+token).expect(t, 200, "")
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+other).expect(t, 401, "unauthenticated")
	select {
	case body := <-got:
		data, _ := body["data"].(map[string]any)
		if body["type"] != "account.frozen" || data["user_id"] == "" {
			t.Fatalf("webhook body %v", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no account.frozen webhook")
	}
}
