package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

// rawLogin is a login as a client without the test's device jar sends it:
// deviceToken and forwardedFor are sent as they are ("" leaves them out).
// It is safe to call from goroutines: it returns errors instead of failing.
func (n *node) rawLogin(email, pw, deviceToken, forwardedFor string) (int, map[string]any, error) {
	b, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	req, _ := http.NewRequest("POST", n.base+"/v1/sessions", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	if deviceToken != "" {
		req.Header.Set("X-Warden-Device", deviceToken)
	}
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	if body == nil {
		body = map[string]any{"raw": string(raw)}
	}
	return resp.StatusCode, body, nil
}

// forgedToken looks like a device token but names no device.
func forgedToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "wdv_" + base64.RawURLEncoding.EncodeToString(b)
}

// strs turns a JSON array into strings.
func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// The attack: 500 wrong passwords from 50 addresses and devices the
// account never trusted. Only the lockout schedule's number of password
// checks runs (the shared untrusted lane locks after 5, for an hour), the
// owner is told with a freeze link, and the owner on their trusted device
// logs in at once during and after the attack.
func TestLoginAttackFromManyIPsCannotLockOutTheOwner(t *testing.T) {
	t.Parallel()
	n := devNode(t,
		"WARDEN_TRUSTED_PROXIES", "127.0.0.1/32",
		"WARDEN_RATE_LOGIN_PER_IP", "1000/1m", // the per-IP limit is not what stops this attack
		"WARDEN_LOCKOUT_MAX_FAILURES", "5",
		"WARDEN_LOCKOUT_BASE_DELAY", "1h",
	)
	const email = "owner@example.com"
	n.signUp(t, email) // first login: this device becomes trusted
	owner := n.devices.token(email)
	if owner == "" {
		t.Fatal("the first login gave no device token")
	}
	ownerLogin := func() (int, map[string]any, error) {
		return n.rawLogin(email, strongPassword, owner, "")
	}
	if status, body, err := ownerLogin(); err != nil || status != 201 {
		t.Fatalf("owner before the attack: %d %v %v", status, body, err)
	}

	before := n.srv.PasswordStats().Completed
	var ownerLogins atomic.Int64
	var statuses sync.Map // status → count
	var wg sync.WaitGroup
	errs := make(chan error, 600)
	attackDone := make(chan struct{})
	for ipIdx := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ip := fmt.Sprintf("203.0.113.%d", ipIdx+1)
			for try := range 10 {
				token := ""
				if try%2 == 1 {
					token = forgedToken() // a made-up device token is an unknown device
				}
				status, body, err := n.rawLogin(email, fmt.Sprintf("guess %d from %s", try, ip), token, ip)
				if err != nil {
					errs <- err
					return
				}
				if status != 401 && status != 423 {
					errs <- fmt.Errorf("attack try from %s: %d %v", ip, status, body)
				}
				c, _ := statuses.LoadOrStore(status, new(atomic.Int64))
				c.(*atomic.Int64).Add(1)
			}
		}()
	}
	// The owner logs in while the attack runs.
	ownerDone := make(chan struct{})
	go func() {
		defer close(ownerDone)
		for i := 0; i < 3; i++ {
			status, body, err := ownerLogin()
			ownerLogins.Add(1)
			if err != nil || status != 201 {
				errs <- fmt.Errorf("owner during the attack: %d %v %v", status, body, err)
			}
			select {
			case <-attackDone:
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(attackDone)
	<-ownerDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	checks := n.srv.PasswordStats().Completed - before - uint64(ownerLogins.Load())
	count := func(status int) int64 {
		if c, ok := statuses.Load(status); ok {
			return c.(*atomic.Int64).Load()
		}
		return 0
	}
	t.Logf("attack: %d wrong-password answers, %d locked answers, %d password checks ran", count(401), count(423), checks)
	if checks != 5 {
		t.Errorf("%d password checks ran during the attack, want 5 (the lockout schedule)", checks)
	}
	if count(401) != 5 || count(423) != 495 {
		t.Errorf("answers: %d × 401, %d × 423; want 5 and 495", count(401), count(423))
	}

	// After the attack: the untrusted lane is locked, the owner's device is not.
	status, body, err := n.rawLogin(email, strongPassword, "", "198.51.100.7")
	if err != nil || status != 423 || body["retry_after"] == nil {
		t.Fatalf("the right password on an unknown device during the lock: %d %v %v", status, body, err)
	}
	if ra, _ := body["retry_after"].(float64); ra < 3000 || ra > 3600 {
		t.Errorf("retry_after = %v, want about an hour", body["retry_after"])
	}
	if status, body, err := ownerLogin(); err != nil || status != 201 {
		t.Fatalf("owner after the attack: %d %v %v", status, body, err)
	}

	// The owner was told once, with a freeze link.
	paused := n.mailWithSubject(t, email, "Logins to your account are paused")
	linkToken(t, paused, "/freeze")
	if !strings.Contains(paused.Text, "unrecognised devices") {
		t.Errorf("the lock email does not say which logins are paused:\n%s", paused.Text)
	}
	time.Sleep(100 * time.Millisecond)
	var locks int
	for _, m := range n.mailbox(t, email, 0) {
		if m.Subject == "Logins to your account are paused" {
			locks++
		}
	}
	if locks != 1 {
		t.Errorf("%d lock emails, want 1", locks)
	}
}

// Two `warden serve` nodes on one PostgreSQL database share the lanes:
// failures on node A and node B add up, and the lock holds on both.
func TestLockoutIsSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.PostgresURL(t)
	env := settings(dbURL, "WARDEN_RATE_LOGIN_PER_IP", "1000/1m", "WARDEN_LOCKOUT_MAX_FAILURES", "4", "WARDEN_LOCKOUT_BASE_DELAY", "10m")
	a, b := start(t, env, true), start(t, env, true)
	const email = "nia@example.com"
	a.signUp(t, email)
	trusted := a.devices.token(email)
	for i, n := range []*node{a, b, a} {
		if status, body, err := n.rawLogin(email, "wrong password number "+itoa(i), "", ""); err != nil || status != 401 {
			t.Fatalf("failure %d: %d %v %v", i, status, body, err)
		}
	}
	// The fourth failure, on node B, locks the lane the three before counted on.
	if status, body, err := b.rawLogin(email, "wrong password number 4", "", ""); err != nil || status != 401 {
		t.Fatalf("failure 4: %d %v %v", status, body, err)
	}
	before := a.srv.PasswordStats().Completed + b.srv.PasswordStats().Completed
	for _, n := range []*node{a, b} {
		status, body, err := n.rawLogin(email, strongPassword, "", "")
		if err != nil || status != 423 {
			t.Fatalf("right password on an unknown device after the shared lock: %d %v %v", status, body, err)
		}
		if ra, _ := body["retry_after"].(float64); ra < 500 || ra > 600 {
			t.Errorf("retry_after = %v, want about 10 minutes", body["retry_after"])
		}
	}
	if after := a.srv.PasswordStats().Completed + b.srv.PasswordStats().Completed; after != before {
		t.Errorf("a locked lane checked %d passwords", after-before)
	}
	// The trusted device has its own lane, on either node.
	for _, n := range []*node{a, b} {
		if status, body, err := n.rawLogin(email, strongPassword, trusted, ""); err != nil || status != 201 {
			t.Fatalf("trusted device during the lock: %d %v %v", status, body, err)
		}
	}
}

// noDevice makes a request of the jar's account come from a browser
// without a device token.
var noDevice = []string{"X-Warden-Device", ""}

// newDeviceLogin logs in with the password from a device the jar does not
// know (a new browser) and returns the 202 answer.
func (n *node) newDeviceLogin(t *testing.T, email, deviceToken string) apiResponse {
	t.Helper()
	headers := []string{"X-Warden-Device", deviceToken, "User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"}
	return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": strongPassword}, headers...)
}

// A correct password from a new device waits for the owner's confirmation
// from the email; once confirmed the device is trusted.
func TestNewDeviceNeedsEmailConfirmation(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	const email = "pia@example.com"
	n.signUp(t, email)
	known := n.devices.token(email)

	ch := n.newDeviceLogin(t, email, "").expect(t, 202, "")
	if got := strs(ch.body["requires"]); !slices.Equal(got, []string{"email"}) {
		t.Fatalf("requires = %v, want [email]: %s", got, ch.raw)
	}
	if got := strs(ch.body["pending"]); !slices.Equal(got, []string{"email"}) {
		t.Fatalf("pending = %v: %s", got, ch.raw)
	}
	if !slices.Contains(strs(ch.body["reasons"]), "new_device") || !slices.Contains(strs(ch.body["methods"]), "email") {
		t.Fatalf("reasons/methods: %s", ch.raw)
	}
	id := ch.body["challenge_id"].(string)

	m := n.mailWithSubject(t, email, "Confirm a login to Warden from a new device")
	for _, want := range []string{"Safari on macOS", "IP address: 127.0.0.1", "Approximate place:", "Time: " + time.Now().UTC().Format("2006-01-02")} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the new-device email lacks %q:\n%s", want, m.Text)
		}
	}
	confirm := linkToken(t, m, "/confirm-device")
	linkToken(t, m, "/freeze")

	// Not yet confirmed.
	n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "email"}, noDevice...).expect(t, 409, "confirmation_pending")
	n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": confirm + "x"}).expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": confirm}).expect(t, 200, "")
	n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": confirm}).expect(t, 400, "invalid_token")
	done := n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "email"}, noDevice...).expect(t, 201, "")
	newToken, _ := done.body["device_token"].(string)
	if newToken == "" || newToken == known {
		t.Fatalf("the confirmed login gave device token %q (the first device's: %q)", newToken, known)
	}
	// The challenge is spent.
	n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "email"}, noDevice...).expect(t, 410, "challenge_expired")

	// That device is trusted now: its next login is a session at once.
	n.newDeviceLogin(t, email, newToken).expect(t, 201, "")
	// And so is the first one still.
	n.newDeviceLogin(t, email, known).expect(t, 201, "")
}

// Forged, malformed and another account's device tokens are unknown devices.
func TestForeignAndForgedDeviceTokensAreUnknownDevices(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	n.signUp(t, "quin@example.com")
	n.signUp(t, "rae@example.com")
	others := n.devices.token("rae@example.com")
	for name, token := range map[string]string{
		"another account's": others,
		"forged":            forgedToken(),
		"malformed":         "not a token at all; ' OR 1=1 --",
		"overlong":          strings.Repeat("A", 5000),
	} {
		ch := n.newDeviceLogin(t, "quin@example.com", token)
		if ch.status != 202 || !slices.Equal(strs(ch.body["requires"]), []string{"email"}) || !slices.Contains(strs(ch.body["reasons"]), "new_device") {
			t.Errorf("%s device token: %d %s, want 202 requires [email]", name, ch.status, ch.raw)
		}
	}
	// rae's own token still works for rae.
	n.newDeviceLogin(t, "rae@example.com", others).expect(t, 201, "")
}

// With 2FA on, a new device needs the email and the second factor; with
// WARDEN_NEW_DEVICE_EMAIL_WITH_MFA=false the second factor alone.
func TestNewDeviceWithSecondFactor(t *testing.T) {
	t.Parallel()
	for _, withEmail := range []bool{true, false} {
		t.Run(fmt.Sprintf("email_with_mfa=%v", withEmail), func(t *testing.T) {
			t.Parallel()
			n := devNode(t, "WARDEN_NEW_DEVICE_EMAIL_WITH_MFA", fmt.Sprint(withEmail))
			const email = "sam@example.com"
			token := n.signUp(t, email)
			_, codes := n.enrolTOTP(t, token)
			// The known device needs the second factor only.
			known := n.challenge(t, email)
			if got := strs(known.body["requires"]); !slices.Equal(got, []string{"second_factor"}) {
				t.Fatalf("known device requires %v: %s", got, known.raw)
			}

			ch := n.newDeviceLogin(t, email, "").expect(t, 202, "")
			id := ch.body["challenge_id"].(string)
			want := []string{"second_factor"}
			if withEmail {
				want = []string{"email", "second_factor"}
			}
			if got := strs(ch.body["requires"]); !slices.Equal(got, want) {
				t.Fatalf("new device requires %v, want %v: %s", got, want, ch.raw)
			}
			// A recovery code: the app's current code was spent by the enrolment.
			code := codes[0]
			if !withEmail {
				done := n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "recovery_code", "code": code}, noDevice...).expect(t, 201, "")
				n.newDeviceLogin(t, email, done.body["device_token"].(string)).expect(t, 202, "") // trusted, and still 2FA
				return
			}
			// The code first: still waiting for the email.
			half := n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "recovery_code", "code": code}, noDevice...).expect(t, 202, "")
			if got := strs(half.body["pending"]); !slices.Equal(got, []string{"email"}) {
				t.Fatalf("after the code, pending = %v: %s", got, half.raw)
			}
			n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "email"}, noDevice...).expect(t, 409, "confirmation_pending")
			n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": n.newDeviceToken(t, email)}).expect(t, 200, "")
			// The code was proven ten minutes before the email came: the
			// step-up window runs from the code, so it is already over.
			if err := n.srv.Store().ExecRaw(context.Background(), `UPDATE mfa_challenges SET factor_at = factor_at - 600000000 WHERE factor_at > 0`); err != nil {
				t.Fatal(err)
			}
			done := n.call(t, "POST", "/v1/sessions/challenges/"+id, map[string]string{"method": "email"}, noDevice...).expect(t, 201, "")
			n.call(t, "PUT", "/v1/password", map[string]string{"current_password": strongPassword, "new_password": "quartz meadow under copper skies"},
				"Authorization", "Bearer "+done.body["session_token"].(string)).expect(t, 403, "mfa_required")
			sess := n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+done.body["session_token"].(string)).expect(t, 200, "")
			if sess.body["session"].(map[string]any)["aal"] != "aal2" {
				t.Errorf("a login that passed the code and the email is %v", sess.body["session"])
			}
			// Now trusted: only the second factor.
			again := n.newDeviceLogin(t, email, done.body["device_token"].(string)).expect(t, 202, "")
			if got := strs(again.body["requires"]); !slices.Equal(got, []string{"second_factor"}) {
				t.Fatalf("the confirmed device requires %v: %s", got, again.raw)
			}
		})
	}
}

// GET /v1/devices lists the account's devices; DELETE forgets one and ends
// its sessions; another user's device is not found.
func TestDevicesListAndForget(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	const email = "tao@example.com"
	first := n.signUp(t, email)
	firstDevice := n.devices.token(email)
	// A second device, confirmed from the email.
	ch := n.newDeviceLogin(t, email, "").expect(t, 202, "")
	n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": n.newDeviceToken(t, email)}).expect(t, 200, "")
	second := n.call(t, "POST", "/v1/sessions/challenges/"+ch.body["challenge_id"].(string), map[string]string{"method": "email"},
		"X-Warden-Device", "", "User-Agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15").expect(t, 201, "")
	secondSession := second.body["session_token"].(string)
	secondDevice := second.body["device_token"].(string)

	list := n.call(t, "GET", "/v1/devices", nil, "Authorization", "Bearer "+first).expect(t, 200, "")
	devices := asSlice(list.body["devices"])
	if len(devices) != 2 {
		t.Fatalf("devices: %s", list.raw)
	}
	var currentID, otherID string
	for _, d := range devices {
		d := d.(map[string]any)
		if d["trusted"] != true || d["last_ip"] != "127.0.0.1" || d["summary"] == "" || d["first_seen_at"] == nil {
			t.Errorf("device %v", d)
		}
		if d["current"] == true {
			currentID = d["id"].(string)
		} else {
			otherID = d["id"].(string)
			if d["summary"] != "Safari on macOS" {
				t.Errorf("the second device is %v", d["summary"])
			}
		}
	}
	if currentID == "" || otherID == "" {
		t.Fatalf("current and other device not told apart: %s", list.raw)
	}

	// Another user cannot forget (or learn about) this account's devices.
	stranger := n.signUp(t, "uli@example.com")
	n.call(t, "DELETE", "/v1/devices/"+otherID, nil, "Authorization", "Bearer "+stranger).expect(t, 404, "")
	n.call(t, "DELETE", "/v1/devices/dev_doesnotexist", nil, "Authorization", "Bearer "+first).expect(t, 404, "")
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+secondSession).expect(t, 200, "")

	// Forgetting the second device ends its session; its token is unknown now.
	n.call(t, "DELETE", "/v1/devices/"+otherID, nil, "Authorization", "Bearer "+first).expect(t, 204, "")
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+secondSession).expect(t, 401, "")
	n.call(t, "GET", "/v1/session", nil, "Authorization", "Bearer "+first).expect(t, 200, "")
	n.call(t, "DELETE", "/v1/devices/"+otherID, nil, "Authorization", "Bearer "+first).expect(t, 404, "")
	list = n.call(t, "GET", "/v1/devices", nil, "Authorization", "Bearer "+first).expect(t, 200, "")
	if len(asSlice(list.body["devices"])) != 1 {
		t.Fatalf("after forgetting: %s", list.raw)
	}
	ch = n.newDeviceLogin(t, email, secondDevice).expect(t, 202, "")
	if !slices.Equal(strs(ch.body["requires"]), []string{"email"}) {
		t.Fatalf("a forgotten device's token: %s", ch.raw)
	}
	n.newDeviceLogin(t, email, firstDevice).expect(t, 201, "")
	// Unauthenticated: 401.
	n.call(t, "GET", "/v1/devices", nil).expect(t, 401, "")
}

// A login begun with the old password cannot be finished after the owner
// changes it: the new-device link stops working.
func TestPasswordChangeVoidsPendingLogins(t *testing.T) {
	t.Parallel()
	n := devNode(t)
	token := n.signUp(t, "vic@example.com")
	// An attacker with the password, from a device the account does not know.
	stranger := n.call(t, "POST", "/v1/sessions", map[string]string{"email": "vic@example.com", "password": strongPassword},
		"X-Warden-Device", "wdv_forged").expect(t, 202, "")
	if fmt.Sprint(stranger.body["requires"]) != "[email]" {
		t.Fatalf("stranger's login: %s", stranger.raw)
	}
	link := n.newDeviceToken(t, "vic@example.com")
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": strongPassword, "new_password": "quartz meadow under copper skies"},
		"Authorization", "Bearer "+token).expect(t, 204, "")
	n.call(t, "POST", "/v1/device-confirmations", map[string]string{"token": link}).expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/sessions/challenges/"+stranger.body["challenge_id"].(string), map[string]string{"method": "email"}).expect(t, 410, "challenge_expired")
}

// An email without an account answers like one with an account: wrong
// passwords lock it after the same number of tries, so a 423 does not tell
// that an address is registered; and its failures count for the
// credential-stuffing signal of the address they came from.
func TestUnknownEmailsLockLikeKnownOnes(t *testing.T) {
	t.Parallel()
	n := devNode(t, "WARDEN_RATE_LOGIN_PER_IP", "1000/1m")
	n.signUp(t, "kai@example.com")
	try := func(email string) apiResponse {
		return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": "not the password at all"})
	}
	for _, email := range []string{"kai@example.com", "nobody-here@example.com"} {
		for range 5 {
			try(email).expect(t, 401, "invalid_credentials")
		}
		if r := try(email).expect(t, 423, "account_locked"); r.body["retry_after"] == nil {
			t.Fatalf("%s: %s", email, r.raw)
		}
	}
	// Failures on many made-up addresses from one IP are seen.
	var failed int
	err := n.srv.Store().Read(context.Background(), func(tx *store.Tx) error {
		var err error
		_, _, failed, err = tx.LoginPressure(context.Background(), "", "127.0.0.1", time.Now().Add(-time.Hour))
		return err
	})
	if err != nil || failed != 2 {
		t.Fatalf("accounts failed from the IP: %d (%v), want 2 (one real, one made up)", failed, err)
	}
}

// Failures from one address across many accounts (credential stuffing)
// stop that address with 429, while another address still logs in.
func TestFailuresFromOneAddressAcrossAccountsAnswer429(t *testing.T) {
	t.Parallel()
	n := devNode(t, "WARDEN_RATE_LOGIN_FAILURES_PER_IP", "6/1h", "WARDEN_RATE_LOGIN_PER_IP", "1000/1m",
		"WARDEN_TRUSTED_PROXIES", "127.0.0.1/32")
	n.signUp(t, "lea@example.com")
	from := func(ip, email, pw string) apiResponse {
		return n.call(t, "POST", "/v1/sessions", map[string]string{"email": email, "password": pw}, "X-Forwarded-For", ip)
	}
	for i := range 6 {
		from("203.0.113.7", fmt.Sprintf("victim%d@example.com", i), "not the password at all").expect(t, 401, "invalid_credentials")
	}
	limited := from("203.0.113.7", "victim9@example.com", "not the password at all").expect(t, 429, "rate_limited")
	if limited.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// Even the right password waits: the address is refused before anything else.
	from("203.0.113.7", "lea@example.com", strongPassword).expect(t, 429, "rate_limited")
	from("198.51.100.20", "lea@example.com", strongPassword).expect(t, 201, "")
}
