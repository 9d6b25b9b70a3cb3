package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/document"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/web"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// newHelpSite serves the pages with the withdrawal and the verification
// services on (testWithdrawals, testVerification), so that every answer of
// the help can speak of the account.
func newHelpSite(t *testing.T) *wdSite {
	t.Helper()
	var svc *withdrawal.Service
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		st := c.Audit.(*store.Store)
		svc = testWithdrawals(c, st)
		c.Withdrawals, c.Currency = svc, svc.Currency
		c.Verification = testVerification(t, c, st, document.Limits{})
	})
	w := &wdSite{site: s, wd: svc}
	w.prices()
	return w
}

// helpSection is the help page's <section> whose id is id, from its tag to
// its end; the test fails when the page has none.
func helpSection(t *testing.T, body, id string) string {
	t.Helper()
	start := strings.Index(body, `<section class="section`)
	for start >= 0 {
		tagEnd := strings.Index(body[start:], ">")
		end := strings.Index(body[start:], "</section>")
		if tagEnd < 0 || end < 0 {
			break
		}
		if strings.Contains(body[start:start+tagEnd], ` id="`+id+`"`) {
			return body[start : start+end]
		}
		next := strings.Index(body[start+end:], `<section class="section`)
		if next < 0 {
			break
		}
		start += end + next
	}
	t.Fatalf("the help has no section %q:\n%s", id, body)
	return ""
}

// lane reads one of the account's lockout lanes.
func (s *site) lane(email, key string) lockout.Lane {
	s.t.Helper()
	var l lockout.Lane
	err := s.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		l, err = tx.LockoutLane(context.Background(), s.accountOf(email).ID, key)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

// at is the "at" template's markup of a time: when a lock or a hold ends.
func at(t time.Time) string {
	return `<time datetime="` + t.UTC().Format(time.RFC3339) + `" data-local>` + t.UTC().Format("2006-01-02 15:04:05 UTC") + `</time>`
}

// helpUser is the user each case of TestHelpAnswersWithTheUsersState puts
// in a state: logged in (c) at tier 2 with an authenticator app (secret).
type helpUser struct {
	s      *wdSite
	c      *client
	email  string
	secret string
	codes  []string // its recovery codes
}

// wrongPasswords sends n wrong passwords for the user from browser (a new
// one each time when nil).
func (u helpUser) wrongPasswords(n int, browser func() *client) {
	u.s.t.Helper()
	for range n {
		c := u.s.client()
		if browser != nil {
			c = browser()
		}
		expect(u.s.t, "wrong password", c.post("/login", "email", u.email, "password", "not the password at all"), 401)
	}
}

// secondLogin logs the user in from a new browser with the app's code
// (offset from now), and returns it.
func (u helpUser) secondLogin(offset time.Duration) *client {
	u.s.t.Helper()
	other := u.s.challenged(u.email, "")
	expect(u.s.t, "second factor", other.post("/login/challenge", "method", "totp", "code", code(u.s.t, u.secret, offset)), 303, "/account/security-center")
	return other
}

// The help answers each question with the viewer's real state: a case
// puts the user in a state and says what given sections of /help must and
// must not contain, each read from what the store holds (when a lock or a
// hold ends, which device, which withdrawal). The signed-out help's general
// words are among what must not be there.
func TestHelpAnswersWithTheUsersState(t *testing.T) {
	t.Parallel()
	type texts = map[string][]string // section id → substrings
	for _, tc := range []struct {
		name string
		// arrange puts u in the state and returns what the sections say.
		arrange func(t *testing.T, u helpUser) (want, notWant texts)
		// then, if set, follows an answer's action after the page is checked.
		then func(t *testing.T, u helpUser)
	}{
		{
			name: "nothing wrong",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				return texts{
						"locked":           {`id="lock-none"`},
						"suspicious-login": {`id="help-no-new-devices"`},
						"cant-withdraw":    {`id="withdraw-clear"`},
					}, texts{
						"locked":           {`id="lock-shared"`, `id="lock-device"`},
						"suspicious-login": {`id="help-new-devices"`},
						"cant-withdraw":    {`id="withdraw-holds"`},
					}
			},
		},
		{
			name: "locked: wrong passwords from devices not confirmed",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				u.wrongPasswords(5, nil)
				l := u.s.lane(u.email, lockout.UntrustedLane)
				if l.RetryAfter(time.Now()) <= 0 {
					t.Fatalf("the shared lane is not locked: %+v", l)
				}
				return texts{"locked": {`id="lock-shared"`, "Logins from devices you have not confirmed are locked</strong> until " + at(l.LockedUntil) + " (in ",
						`<a href="/account/password">change it</a>`}},
					texts{"locked": {`id="lock-none"`, `id="lock-device"`, "Nothing is locked"}}
			},
		},
		{
			name: "locked: wrong passwords on this device",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				// The user's own browser, logged out: its device cookie only.
				u.wrongPasswords(5, u.c.sameDevice)
				l := u.s.lane(u.email, lockout.LaneFor(u.s.accountDevice(t, u.c)))
				if l.RetryAfter(time.Now()) <= 0 {
					t.Fatalf("the device's lane is not locked: %+v", l)
				}
				return texts{"locked": {`id="lock-device"`, "This device is locked</strong> for codes and passwords until " + at(l.LockedUntil) + " (in "}},
					texts{"locked": {`id="lock-none"`, `id="lock-shared"`}}
			},
		},
		{
			name: "locked: a few wrong passwords, no lock yet",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				u.wrongPasswords(2, nil)
				return texts{"locked": {`id="lock-shared"`, "There were 2 wrong attempts from devices you have not confirmed"}},
					texts{"locked": {`id="lock-none"`, "are locked</strong>"}}
			},
		},
		{
			name: "suspicious login: a new device",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				other := u.secondLogin(30 * time.Second)
				id := u.s.accountDevice(t, other)
				return texts{"suspicious-login": {`id="help-new-devices"`, `<tr id="help-device-` + id + `">`,
						`<input type="hidden" name="device" value="` + id + `">`, "Chrome on Linux", testIP,
						`<a class="button danger" href="/account/freeze" id="help-freeze-device">Freeze my account</a>`}},
					texts{"suspicious-login": {`id="help-no-new-devices"`, `help-device-` + u.s.accountDevice(t, u.c)}}
			},
			then: func(t *testing.T, u helpUser) {
				// The row's button removes that device: its session ends.
				devices, err := u.s.sessions.Devices(context.Background(), u.s.accountOf(u.email).ID)
				if err != nil || len(devices) != 2 {
					t.Fatalf("devices %+v %v", devices, err)
				}
				other := devices[0].ID
				if other == u.s.accountDevice(t, u.c) {
					other = devices[1].ID
				}
				expect(t, "remove the new device", u.c.post("/account/devices", "device", other), 303, "/account/devices")
				expect(t, "after", u.c.get("/help"), 200, `id="help-no-new-devices"`)
			},
		},
		{
			name: "can't withdraw: an address on hold",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				id := u.s.bookAddress(u.c, u.email, u.secret, 30*time.Second, "asset", "BTC:bitcoin", "address", btcAddr, "label", "Cold wallet")
				a := u.s.addresses(u.email)[0]
				if a.ID != id || a.Status != withdrawal.AddressOnHold {
					t.Fatalf("address %+v", a)
				}
				return texts{"cant-withdraw": {`<li id="hold-address-` + id + `">The BTC address “Cold wallet” is on hold`,
						"It ends on " + at(a.AvailableAt) + " (in 24 h)."}},
					texts{"cant-withdraw": {`id="withdraw-clear"`}}
			},
		},
		{
			name: "can't withdraw: a withdrawal waiting for its confirmations",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				key := idempotencyKeyOf(t, u.c.get("/withdraw?asset=ETH:ethereum"))
				expect(t, "withdraw", u.c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other",
					"address", ethAddr, "amount", "0.1"), 303)
				w := u.s.withdrawalsOf(u.email)[0]
				return texts{"cant-withdraw": {`<li id="hold-withdrawal-` + w.ID + `">Your withdrawal of 0.1 ETH waits for a code from your authenticator app and the link in the email we send you`,
						"It ends on " + at(w.ExpiresAt) + " (in 30 min).", `<a href="/withdrawals/` + w.ID + `">Confirm it</a>`}},
					texts{"cant-withdraw": {`id="withdraw-clear"`}}
			},
		},
		{
			name: "lost my phone: a recovery code used",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				other := u.s.challenged(u.email, "")
				expect(t, "recovery code", other.post("/login/challenge", "method", "recovery_code", "recovery_code", u.codes[0]), 303, "/account/security-center")
				return texts{"lost-phone": {`<strong id="help-recovery-left">9 of 10</strong> recovery codes left`,
						`<p id="help-mfa-reset">`, "by sending a photo of your government ID and a selfie", "after a waiting period of 2 days"}},
					texts{"lost-phone": {"10 of 10", "Running low", "<strong>You have your recovery codes:</strong>", `id="mfa-reset-banner"`}}
			},
		},
		{
			name: "lost my phone: a 2FA reset asked for",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				other := u.s.challenged(u.email, "")
				expect(t, "start the reset", other.post("/login/challenge/reset"), 303, "/mfa-reset")
				return texts{"lost-phone": {`id="mfa-reset-banner"`, "Someone asked to remove two-factor authentication",
						`<form method="post" action="/account/security/mfa-reset/cancel">`, `id="help-recovery-left">10 of 10<`}},
					texts{"lost-phone": {"<strong>You have your recovery codes:</strong>"}}
			},
		},
		{
			name: "someone is in my account",
			arrange: func(t *testing.T, u helpUser) (texts, texts) {
				return texts{"someone-in-my-account": {`<form method="post" action="/account/freeze">`,
						`<button type="submit" class="danger" id="help-freeze">Freeze my account now</button>`}},
					texts{"someone-in-my-account": {"log in</a> and freeze it"}}
			},
			then: func(t *testing.T, u helpUser) {
				other := u.secondLogin(30 * time.Second)
				expect(t, "freeze now", u.c.post("/account/freeze"), 303, "/frozen")
				if !u.s.accountOf(u.email).Frozen() {
					t.Fatal("the help's button did not freeze the account")
				}
				expect(t, "the other session ended", other.get("/account"), 303, "/login?next=%2Faccount")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newHelpSite(t)
			const email = "hana@example.com"
			c, secret, codes := s.mfaUser(email)
			s.setTier(email, 2)
			u := helpUser{s: s, c: c, email: email, secret: secret, codes: codes}
			want, notWant := tc.arrange(t, u)
			res := c.get("/help")
			expect(t, "help", res, 200, `id="help-email">`+email+`<`)
			for id, subs := range want {
				sec := helpSection(t, res.body, id)
				for _, sub := range subs {
					if !strings.Contains(sec, sub) {
						t.Errorf("section %s lacks %q:\n%s", id, sub, sec)
					}
				}
			}
			for id, subs := range notWant {
				sec := helpSection(t, res.body, id)
				for _, sub := range subs {
					if strings.Contains(sec, sub) {
						t.Errorf("section %s contains %q:\n%s", id, sub, sec)
					}
				}
			}
			if tc.then != nil {
				tc.then(t, u)
			}
		})
	}
}
