package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/notify/smtptest"
	"github.com/wardenhq/warden/internal/server/servertest"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
	"github.com/wardenhq/warden/internal/totp/rfc6238"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Withdrawal protection through the API, on the whole server (server.New,
// as `warden serve` runs it) with real SMTP and a real webhook receiver.

const (
	wdBTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
	wdETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	wdXRP = "rN7n7otQDd6FczFgLdSqtcsAUxDkw6fzRH"
)

// addressLink is the link of a new withdrawal address's email, which
// carries the address's id besides the token.
var addressLink = regexp.MustCompile(`/addresses/confirm\?id=([a-z0-9_]+)&(?:amp;)?token=([A-Za-z0-9_-]+)`)

// startWithdrawalNode starts a server on dbURL with withdrawal policies in
// seconds: addresses are held 2 s, a device's first login starts no
// cooldown (each test's user logs in for the first time), and the login
// rate per IP is high enough for every test's codes. Nodes on one database
// share its outbox, so they must share their mail server too (shared).
func startWithdrawalNode(t *testing.T, dbURL string, shared ...*smtptest.Server) *kycNode {
	t.Helper()
	var mail *smtptest.Server
	if len(shared) > 0 {
		mail = shared[0]
	}
	return newKYCNode(servertest.Start(t, dbURL, kycAdminKey, mail, withdrawalNodeSettings))
}

// withdrawalNodeSettings are startWithdrawalNode's overrides of servertest.Env.
var withdrawalNodeSettings = map[string]string{
	"WARDEN_ADDRESS_HOLD":        "2s",
	"WARDEN_COOLDOWN_NEW_DEVICE": "0s",
	"WARDEN_RATE_LOGIN_PER_IP":   "10000/1m",
}

// authenticator is the user's authenticator app, with the recovery codes
// saved when it was turned on.
type authenticator struct {
	rfc6238.Authenticator
	recovery []string
}

// enrol turns an authenticator app on; the session is stepped up by it.
func (n *kycNode) enrol(t *testing.T, session string) *authenticator {
	t.Helper()
	begin := n.call(t, "POST", "/v1/mfa/totp", nil, bearer(session)...).expect(t, 200, "")
	au := &authenticator{Authenticator: rfc6238.Authenticator{Secret: begin.body["secret"].(string)}}
	r := n.call(t, "POST", "/v1/mfa/totp/confirm", map[string]string{"code": au.Take(t)}, bearer(session)...).expect(t, 200, "")
	au.recovery = asStrings(r.body["recovery_codes"])
	return au
}

func (n *kycNode) userID(t *testing.T, session string) string {
	t.Helper()
	who := n.call(t, "GET", "/v1/session", nil, bearer(session)...).expect(t, 200, "").body
	return who["user"].(map[string]any)["id"].(string)
}

// setTier puts the account at a verification tier directly in the database,
// as an approved verification would.
func (n *kycNode) setTier(t *testing.T, userID string, tier int) {
	t.Helper()
	ctx := context.Background()
	if err := n.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateAccount(ctx, userID, func(old account.Account) (account.Account, error) {
			old.VerificationTier = tier
			return old, nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// changeWithdrawal edits a withdrawal's course in the database, as
// monitoring would (a hold for review).
func (n *kycNode) changeWithdrawal(t *testing.T, id string, fn func(w *withdrawal.Withdrawal)) {
	t.Helper()
	ctx := context.Background()
	if err := n.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.UpdateWithdrawal(ctx, id, func(old withdrawal.Withdrawal) (withdrawal.Withdrawal, error) {
			fn(&old)
			return old, nil
		})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// withdrawer signs up a user with an authenticator app, at tier 2
// (50,000.00 a withdrawal, 100,000.00 a day).
func (n *kycNode) withdrawer(t *testing.T, email string) (session, userID string, au *authenticator) {
	t.Helper()
	session = n.signUp(t, email)
	au = n.enrol(t, session)
	userID = n.userID(t, session)
	n.setTier(t, userID, 2)
	return session, userID, au
}

// prices feeds reference prices taken now (asset, price, asset, price…).
func (n *kycNode) prices(t *testing.T, pairs ...string) {
	t.Helper()
	var list []map[string]string
	for i := 0; i+1 < len(pairs); i += 2 {
		list = append(list, map[string]string{"asset": pairs[i], "reference_price": pairs[i+1], "as_of": time.Now().UTC().Format(time.RFC3339)})
	}
	n.admin(t, "PUT", "/admin/v1/prices", map[string]any{"prices": list}).expect(t, 204, "")
}

// withdrawalToken is the email link's token of the withdrawal of amount.
func (n *kycNode) withdrawalToken(t *testing.T, addr, amount, asset string) string {
	t.Helper()
	token := servertest.LinkToken(n.EmailWith(t, addr, "Confirm your withdrawal", "Withdrawal of "+money.Plain(amount)+" "+asset+" "), "/withdrawals/confirm")
	if token == "" {
		t.Fatalf("no confirmation link in the email of %s %s", amount, asset)
	}
	return token
}

func (n *kycNode) used24h(t *testing.T, session string) string {
	t.Helper()
	return n.call(t, "GET", "/v1/limits", nil, bearer(session)...).expect(t, 200, "").body["used_24h"].(string)
}

func idem(key string) []string { return []string{"Idempotency-Key", key} }

func withKey(session, key string) []string { return append(bearer(session), idem(key)...) }

// webhookReceiver is the platform's payout system: it verifies each
// delivery's Standard Webhooks signature itself and passes on the valid ones.
type webhookReceiver struct {
	srv    *httptest.Server
	secret []byte
	mu     sync.Mutex
	events chan map[string]any
	bad    []string
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	t.Helper()
	wr := &webhookReceiver{events: make(chan map[string]any, 64)}
	wr.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wr.mu.Lock()
		secret := wr.secret
		wr.mu.Unlock()
		if err := verifyStandardWebhook(secret, r.Header, body, time.Now()); err != "" {
			wr.mu.Lock()
			wr.bad = append(wr.bad, err)
			wr.mu.Unlock()
			http.Error(w, err, http.StatusUnauthorized)
			return
		}
		var event map[string]any
		if json.Unmarshal(body, &event) != nil {
			http.Error(w, "not JSON", http.StatusBadRequest)
			return
		}
		wr.events <- event
	}))
	t.Cleanup(wr.srv.Close)
	return wr
}

// register subscribes the receiver to types and keeps the signing secret.
func (wr *webhookReceiver) register(t *testing.T, n *kycNode, types ...string) {
	t.Helper()
	r := n.admin(t, "POST", "/admin/v1/webhooks", map[string]any{"url": wr.srv.URL, "event_types": types}).expect(t, 201, "")
	secret, ok := strings.CutPrefix(r.body["secret"].(string), "whsec_")
	key, err := base64.StdEncoding.DecodeString(secret)
	if !ok || err != nil {
		t.Fatalf("webhook secret %v", r.body["secret"])
	}
	wr.mu.Lock()
	wr.secret = key
	wr.mu.Unlock()
}

// next waits for the next validly signed event of type typ.
func (wr *webhookReceiver) next(t *testing.T, typ string) map[string]any {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case e := <-wr.events:
			if e["type"] == typ {
				return e
			}
		case <-deadline:
			wr.mu.Lock()
			defer wr.mu.Unlock()
			t.Fatalf("no validly signed %s webhook (refused deliveries: %v)", typ, wr.bad)
		}
	}
}

// verifyStandardWebhook checks a delivery as the Standard Webhooks
// specification says, independently of Warden's code: the signature is
// v1,base64(HMAC-SHA256(secret, id.timestamp.body)), one of a
// space-separated list, and the timestamp within 5 minutes.
func verifyStandardWebhook(secret []byte, h http.Header, body []byte, now time.Time) string {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return "missing webhook-id, webhook-timestamp or webhook-signature"
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return "timestamp missing or too far from now"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, ok := strings.CutPrefix(s, "v1,")
		got, err := base64.StdEncoding.DecodeString(v)
		if ok && err == nil && hmac.Equal(got, want) {
			return ""
		}
	}
	return "no valid v1 signature"
}

// --- the whole flow ---

func TestWithdrawalFlow(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { withdrawalFlow(t, startWithdrawalNode(t, dbURL)) })
}

func withdrawalFlow(t *testing.T, n *kycNode) {
	const email = "ada@example.com"
	payouts := newWebhookReceiver(t)
	payouts.register(t, n, "withdrawal.approved")

	session, userID, au := n.withdrawer(t, email)
	auth := bearer(session)
	n.prices(t, "BTC", "60000", "ETH", "3000.00")

	// Nothing in the book yet.
	if l := asList(n.call(t, "GET", "/v1/addresses", nil, auth...).expect(t, 200, "").body["addresses"]); len(l) != 0 {
		t.Fatalf("a new account's book: %v", l)
	}
	n.call(t, "POST", "/v1/withdrawals", map[string]string{"asset": "BTC", "network": "bitcoin", "amount": "0.01", "address_id": "adr_nothing"},
		withKey(session, "first")...).expect(t, 403, "address_not_allowed")

	// An address: added (the enrolment just now counts as the step-up),
	// confirmed by the email's link and a code, held, then active.
	added := n.call(t, "POST", "/v1/addresses", map[string]string{"asset": "BTC", "network": "bitcoin", "address": strings.ToUpper(wdBTC), "label": "cold wallet"},
		auth...).expect(t, 201, "").body
	addrID, _ := added["id"].(string)
	if added["status"] != "pending_confirmation" || added["address"] != wdBTC || added["label"] != "cold wallet" || added["available_at"] != nil || addrID == "" {
		t.Fatalf("address added: %v", added)
	}
	text := n.EmailWith(t, email, "Confirm the new withdrawal address", addrID)
	link := addressLink.FindStringSubmatch(text)
	if link == nil || link[1] != addrID || !strings.Contains(text, wdBTC) {
		t.Fatalf("address email: %s", text)
	}
	token := link[2]
	n.call(t, "POST", "/v1/addresses/"+addrID+"/confirm", map[string]string{"token": "forged", "code": "123456"}, auth...).expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/addresses/"+addrID+"/confirm", map[string]string{"token": token, "code": "000000"}, auth...).expect(t, 400, "invalid_code")
	n.call(t, "POST", "/v1/addresses/adr_nothing/confirm", map[string]string{"token": token, "code": "123456"}, auth...).expect(t, 404, "not_found")
	n.call(t, "POST", "/v1/addresses/"+addrID+"/confirm", map[string]string{"token": token}, auth...).expect(t, 400, "validation_failed")
	confirmed := n.call(t, "POST", "/v1/addresses/"+addrID+"/confirm", map[string]string{"token": token, "code": au.Take(t)}, auth...).expect(t, 200, "").body
	if confirmed["status"] != "on_hold" || confirmed["available_at"] == nil {
		t.Fatalf("address confirmed: %v", confirmed)
	}
	availableAt, _ := time.Parse(time.RFC3339Nano, confirmed["available_at"].(string))
	if d := time.Until(availableAt); d <= 0 || d > 3*time.Second {
		t.Fatalf("held until %v, want WARDEN_ADDRESS_HOLD (2s) from now", availableAt)
	}
	n.call(t, "POST", "/v1/addresses/"+addrID+"/confirm", map[string]string{"token": token, "code": "123456"}, auth...).expect(t, 400, "invalid_token")
	want := map[string]string{"asset": "BTC", "network": "bitcoin", "amount": "0.01", "address_id": addrID}
	held := n.call(t, "POST", "/v1/withdrawals", want, withKey(session, "held")...).expect(t, 409, "address_on_hold")
	if until, _ := time.Parse(time.RFC3339Nano, held.body["until"].(string)); !until.Equal(availableAt) {
		t.Fatalf("on hold until %v, want %v", held.body["until"], availableAt)
	}
	time.Sleep(time.Until(availableAt) + 100*time.Millisecond)
	book := asList(n.call(t, "GET", "/v1/addresses", nil, auth...).expect(t, 200, "").body["addresses"])
	if len(book) != 1 || book[0].(map[string]any)["status"] != "active" {
		t.Fatalf("book after the hold: %v", book)
	}
	if n.used24h(t, session) != "0.00" {
		t.Fatal("refused requests hold part of the limit")
	}

	// The request, valued by Warden: 0.01 BTC at 60,000.00.
	r := n.call(t, "POST", "/v1/withdrawals", want, withKey(session, "payout-1")...).expect(t, 201, "")
	wd := r.body
	wid, _ := wd["id"].(string)
	if wd["status"] != "awaiting_confirmation" || wd["amount"] != "0.01000000" || wd["asset"] != "BTC" || wd["network"] != "bitcoin" ||
		wd["address"] != wdBTC || wd["address_id"] != addrID || wd["reference_value"] != "600.00" || wd["currency"] != "USD" ||
		!slices.Equal(asStrings(wd["required"]), []string{"second_factor", "email"}) ||
		!slices.Equal(asStrings(wd["pending"]), []string{"second_factor", "email"}) || wd["expires_at"] == nil || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("withdrawal requested: %s", r.raw)
	}
	again := n.call(t, "POST", "/v1/withdrawals", want, withKey(session, "payout-1")...).expect(t, 201, "")
	if again.body["id"] != wid || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("repeat with the same key: %s %v", again.raw, again.header)
	}
	other := map[string]string{"asset": "BTC", "network": "bitcoin", "amount": "0.02", "address_id": addrID}
	n.call(t, "POST", "/v1/withdrawals", other, withKey(session, "payout-1")...).expect(t, 422, "idempotency_key_reused")
	if used := n.used24h(t, session); used != "600.00" {
		t.Fatalf("used %s after one request and its repeat, want 600.00", used)
	}

	// Confirmed with a code, then the email's link: approved.
	n.call(t, "POST", "/v1/withdrawals/"+wid+"/confirm", map[string]string{"code": "000000"}, auth...).expect(t, 400, "invalid_code")
	c := n.call(t, "POST", "/v1/withdrawals/"+wid+"/confirm", map[string]string{"code": au.Take(t)}, auth...).expect(t, 200, "").body
	if c["status"] != "awaiting_confirmation" || !slices.Equal(asStrings(c["pending"]), []string{"email"}) {
		t.Fatalf("after the code: %v", c)
	}
	n.call(t, "POST", "/v1/withdrawals/"+wid+"/confirm", map[string]string{"code": "123456"}, auth...).expect(t, 409, "withdrawal_not_pending")
	mailText := n.EmailWith(t, email, "Confirm your withdrawal", "Withdrawal of 0.01 BTC ")
	if !strings.Contains(mailText, wdBTC) || !strings.Contains(mailText, "600.00 USD") {
		t.Fatalf("confirmation email: %s", mailText)
	}
	wtoken := n.withdrawalToken(t, email, "0.01000000", "BTC")
	ok := n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": wtoken, "withdrawal_id": wid}).expect(t, 200, "").body
	if ok["status"] != "approved" || len(asList(ok["pending"])) != 0 || ok["approved_at"] == nil {
		t.Fatalf("after the email link: %v", ok)
	}
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": wtoken}).expect(t, 400, "invalid_token")

	// The payout system gets a validly signed withdrawal.approved.
	event := payouts.next(t, "withdrawal.approved")
	data, _ := event["data"].(map[string]any)
	if data["withdrawal_id"] != wid || data["user_id"] != userID || data["amount"] != "0.01000000" || data["asset"] != "BTC" ||
		data["network"] != "bitcoin" || data["address"] != wdBTC || data["reference_value"] != "600.00" || data["currency"] != "USD" {
		t.Fatalf("withdrawal.approved: %v", event)
	}
	n.EmailWith(t, email, "Your withdrawal was approved", wdBTC)

	// Its queue, then its completion with the transaction id.
	queue := asList(n.admin(t, "GET", "/admin/v1/withdrawals?status=approved", nil).expect(t, 200, "").body["withdrawals"])
	if len(queue) != 1 || queue[0].(map[string]any)["id"] != wid || queue[0].(map[string]any)["user_id"] != userID {
		t.Fatalf("approved queue: %v", queue)
	}
	n.admin(t, "POST", "/admin/v1/withdrawals/"+wid+"/complete", map[string]string{}).expect(t, 400, "validation_failed")
	done := n.admin(t, "POST", "/admin/v1/withdrawals/"+wid+"/complete", map[string]string{"txid": "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"}).expect(t, 200, "").body
	if done["status"] != "completed" || done["txid"] == nil || done["completed_at"] == nil {
		t.Fatalf("completed: %v", done)
	}
	n.admin(t, "POST", "/admin/v1/withdrawals/"+wid+"/complete", map[string]string{"txid": "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"}).expect(t, 200, "")
	n.admin(t, "POST", "/admin/v1/withdrawals/"+wid+"/complete", map[string]string{"txid": "another"}).expect(t, 409, "withdrawal_not_pending")
	n.admin(t, "POST", "/admin/v1/withdrawals/wdr_nothing/complete", map[string]string{"txid": "x"}).expect(t, 404, "not_found")
	if sent := n.EmailWith(t, email, "Your withdrawal was sent", "f4184fc596403b9d"); !strings.Contains(sent, "0.01 BTC") {
		t.Fatalf("sent email: %s", sent)
	}
	mine := n.call(t, "GET", "/v1/withdrawals/"+wid, nil, auth...).expect(t, 200, "").body
	if mine["status"] != "completed" || mine["txid"] != "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16" {
		t.Fatalf("the user's view: %v", mine)
	}
	if l := asList(n.call(t, "GET", "/v1/withdrawals", nil, auth...).expect(t, 200, "").body["withdrawals"]); len(l) != 1 {
		t.Fatalf("the user's list: %v", l)
	}
	if used := n.used24h(t, session); used != "600.00" {
		t.Fatalf("used %s after a completed withdrawal, want 600.00", used)
	}

	// Each step is audited, and shown in the user's activity.
	audit := asList(n.admin(t, "GET", "/admin/v1/audit?type=withdrawal.completed", nil).expect(t, 200, "").body["records"])
	if len(audit) != 1 || audit[0].(map[string]any)["actor"] != "admin_key:key_bootstrap" {
		t.Fatalf("audit of the completion: %v", audit)
	}
	var actions []string
	for _, e := range asList(n.call(t, "GET", "/v1/activity?limit=100", nil, auth...).expect(t, 200, "").body["events"]) {
		actions = append(actions, e.(map[string]any)["action"].(string))
	}
	for _, a := range []string{"address.added", "address.confirmed", "withdrawal.requested", "withdrawal.confirmed", "withdrawal.approved", "withdrawal.completed"} {
		if !slices.Contains(actions, a) {
			t.Errorf("activity lacks %s: %v", a, actions)
		}
	}

	// Deleting an address is immediate; it cannot be used after.
	n.call(t, "DELETE", "/v1/addresses/"+addrID, nil, auth...).expect(t, 204, "")
	n.call(t, "DELETE", "/v1/addresses/"+addrID, nil, auth...).expect(t, 404, "not_found")
	n.call(t, "POST", "/v1/withdrawals", want, withKey(session, "after-delete")...).expect(t, 403, "address_not_allowed")
	if audit := n.admin(t, "GET", "/admin/v1/audit/verify", nil).body; audit["ok"] != true {
		t.Fatalf("audit log: %v", audit)
	}
}

// --- bad input ---

func TestWithdrawalBadInput(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { withdrawalBadInput(t, startWithdrawalNode(t, dbURL)) })
}

func withdrawalBadInput(t *testing.T, n *kycNode) {
	const email = "mallory@example.com"
	session, _, au := n.withdrawer(t, email)
	auth := bearer(session)
	n.prices(t, "BTC", "60000", "XRP", "0.50")

	// Addresses: each refused with its code, nothing added.
	for _, tc := range []struct {
		name  string
		body  map[string]string
		code  string
		field string
	}{
		{"bech32 checksum", map[string]string{"asset": "BTC", "network": "bitcoin", "address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"}, "invalid_address", "address"},
		{"base58 checksum", map[string]string{"asset": "BTC", "network": "bitcoin", "address": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"}, "invalid_address", "address"},
		{"eip-55 checksum", map[string]string{"asset": "ETH", "network": "ethereum", "address": "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, "invalid_address", "address"},
		{"another network's address", map[string]string{"asset": "BTC", "network": "bitcoin", "address": wdETH}, "invalid_address", "address"},
		{"memo missing", map[string]string{"asset": "XRP", "network": "xrp", "address": wdXRP}, "invalid_address", "memo"},
		{"asset not on the network", map[string]string{"asset": "BTC", "network": "ethereum", "address": wdETH}, "validation_failed", "network"},
		{"no address", map[string]string{"asset": "BTC", "network": "bitcoin"}, "validation_failed", "address"},
		{"label too long", map[string]string{"asset": "BTC", "network": "bitcoin", "address": wdBTC, "label": strings.Repeat("x", 61)}, "validation_failed", "label"},
		{"unknown field", map[string]string{"asset": "BTC", "network": "bitcoin", "address": wdBTC, "owner": "someone"}, "validation_failed", "owner"},
	} {
		r := n.call(t, "POST", "/v1/addresses", tc.body, auth...)
		if r.status != 400 || r.body["code"] != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.raw, tc.code)
			continue
		}
		r.field(t, tc.field)
	}
	if l := asList(n.call(t, "GET", "/v1/addresses", nil, auth...).body["addresses"]); len(l) != 0 {
		t.Fatalf("refused addresses were added: %v", l)
	}
	// A token for another address confirms nothing.
	a1 := n.call(t, "POST", "/v1/addresses", map[string]string{"asset": "BTC", "network": "bitcoin", "address": wdBTC}, auth...).expect(t, 201, "").body["id"].(string)
	a2 := n.call(t, "POST", "/v1/addresses", map[string]string{"asset": "ETH", "network": "ethereum", "address": wdETH}, auth...).expect(t, 201, "").body["id"].(string)
	tok2 := addressLink.FindStringSubmatch(n.EmailWith(t, email, "Confirm the new withdrawal address", a2))[2]
	n.call(t, "POST", "/v1/addresses/"+a1+"/confirm", map[string]string{"token": tok2, "code": "123456"}, auth...).expect(t, 400, "invalid_token")
	for _, a := range asList(n.call(t, "GET", "/v1/addresses", nil, auth...).body["addresses"]) {
		if a.(map[string]any)["status"] != "pending_confirmation" {
			t.Fatalf("a token of another address confirmed %v", a)
		}
	}

	// Amounts and typed addresses (the allow-list is off): refused, and no
	// limit taken.
	typed := func(amount any, address string) map[string]any {
		return map[string]any{"asset": "BTC", "network": "bitcoin", "amount": amount, "address": address}
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		code  string
		field string
	}{
		{"exponent", typed("1e3", wdBTC), "invalid_amount", "amount"},
		{"negative", typed("-1", wdBTC), "invalid_amount", "amount"},
		{"zero", typed("0", wdBTC), "invalid_amount", "amount"},
		{"zero with decimals", typed("0.00000000", wdBTC), "invalid_amount", "amount"},
		{"nine decimals on an 8-decimal asset", typed("0.1234567891", wdBTC), "invalid_amount", "amount"},
		{"NaN", typed("NaN", wdBTC), "invalid_amount", "amount"},
		{"Infinity", typed("Infinity", wdBTC), "invalid_amount", "amount"},
		{"huge", typed("999999999999999999999999999999999999999999", wdBTC), "invalid_amount", "amount"},
		{"separators", typed("1,000", wdBTC), "invalid_amount", "amount"},
		{"empty", typed("", wdBTC), "invalid_amount", "amount"},
		{"a JSON number", typed(0.01, wdBTC), "validation_failed", "amount"},
		{"bad checksum", typed("0.01", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"), "invalid_address", "address"},
		{"another network's address", typed("0.01", wdETH), "invalid_address", "address"},
		{"unknown asset", map[string]any{"asset": "DOGE", "network": "bitcoin", "amount": "1", "address": wdBTC}, "validation_failed", "network"},
		{"no destination", map[string]any{"asset": "BTC", "network": "bitcoin", "amount": "0.01"}, "validation_failed", "address_id"},
		{"two destinations", map[string]any{"asset": "BTC", "network": "bitcoin", "amount": "0.01", "address": wdBTC, "address_id": a1}, "validation_failed", "address"},
	} {
		r := n.call(t, "POST", "/v1/withdrawals", tc.body, withKey(session, "bad-"+tc.name)...)
		if r.status != 400 || r.body["code"] != tc.code {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.raw, tc.code)
			continue
		}
		r.field(t, tc.field)
	}
	n.call(t, "POST", "/v1/withdrawals", typed("0.01", wdBTC), withKey(session, strings.Repeat("k", 201))...).expect(t, 400, "validation_failed")
	// Worth more than a withdrawal may be (50,000.00): the limits come along.
	over := n.call(t, "POST", "/v1/withdrawals", typed("1", wdBTC), withKey(session, "too-much")...).expect(t, 422, "limit_exceeded")
	if l, _ := over.body["limits"].(map[string]any); l["per_transaction"] != "50000.00" || l["available_24h"] != "100000.00" || !strings.Contains(over.body["detail"].(string), "60000.00") {
		t.Fatalf("limit refusal: %s", over.raw)
	}
	// No price for ETH was fed.
	np := n.call(t, "POST", "/v1/withdrawals", map[string]string{"asset": "ETH", "network": "ethereum", "amount": "1", "address": wdETH}, auth...).expect(t, 503, "price_unavailable")
	if np.header.Get("Retry-After") == "" || np.body["retry_after"] == nil {
		t.Fatalf("price_unavailable without Retry-After: %s %v", np.raw, np.header)
	}
	if used := n.used24h(t, session); used != "0.00" {
		t.Fatalf("refused requests hold %s of the limit", used)
	}
	if l := asList(n.call(t, "GET", "/v1/withdrawals", nil, auth...).body["withdrawals"]); len(l) != 0 {
		t.Fatalf("refused requests were stored: %v", l)
	}

	// A replayed Idempotency-Key with a different body.
	w1 := n.call(t, "POST", "/v1/withdrawals", typed("0.001", wdBTC), withKey(session, "k-1")...).expect(t, 201, "").body["id"].(string)
	n.call(t, "POST", "/v1/withdrawals", typed("0.002", wdBTC), withKey(session, "k-1")...).expect(t, 422, "idempotency_key_reused")
	n.call(t, "POST", "/v1/withdrawals", typed("0.001", wdETH), withKey(session, "k-1")...).expect(t, 422, "idempotency_key_reused")
	if used := n.used24h(t, session); used != "60.00" {
		t.Fatalf("used %s, want 60.00 (the first request only)", used)
	}
	w2 := n.call(t, "POST", "/v1/withdrawals", typed("0.002", wdBTC), withKey(session, "k-2")...).expect(t, 201, "").body["id"].(string)
	tok1, tok2w := n.withdrawalToken(t, email, "0.00100000", "BTC"), n.withdrawalToken(t, email, "0.00200000", "BTC")

	// A confirmation token for another withdrawal, or of another account's.
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": tok2w, "withdrawal_id": w1}).expect(t, 400, "invalid_token")
	intruder := n.signUp(t, "intruder@example.com")
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": tok1}, bearer(intruder)...).expect(t, 400, "invalid_token")
	n.call(t, "GET", "/v1/withdrawals/"+w1, nil, bearer(intruder)...).expect(t, 404, "not_found")
	n.call(t, "DELETE", "/v1/withdrawals/"+w1, nil, bearer(intruder)...).expect(t, 404, "not_found")
	n.call(t, "POST", "/v1/withdrawals/"+w1+"/confirm", map[string]string{"code": "123456"}, bearer(intruder)...).expect(t, 404, "not_found")
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": "forged"}).expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{}).expect(t, 400, "validation_failed")
	for _, id := range []string{w1, w2} {
		w := n.call(t, "GET", "/v1/withdrawals/"+id, nil, auth...).expect(t, 200, "").body
		if w["status"] != "awaiting_confirmation" || !slices.Contains(asStrings(w["pending"]), "email") {
			t.Fatalf("a refused token confirmed %v", w)
		}
	}
	if used := n.used24h(t, session); used != "180.00" {
		t.Fatalf("used %s, want 180.00", used)
	}

	// A cancelled request: its limit is free, nothing confirms it.
	cancelled := n.call(t, "DELETE", "/v1/withdrawals/"+w1, nil, auth...).expect(t, 200, "").body
	if cancelled["status"] != "cancelled" || len(asList(cancelled["pending"])) != 0 {
		t.Fatalf("cancelled: %v", cancelled)
	}
	n.call(t, "DELETE", "/v1/withdrawals/"+w1, nil, auth...).expect(t, 409, "withdrawal_not_pending")
	n.call(t, "POST", "/v1/withdrawals/"+w1+"/confirm", map[string]string{"code": au.Take(t)}, auth...).expect(t, 409, "withdrawal_not_pending")
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": tok1}).expect(t, 400, "invalid_token")
	if used := n.used24h(t, session); used != "120.00" {
		t.Fatalf("used %s after the cancel, want 120.00", used)
	}

	// An expired request: the same.
	// (As the clock would: its confirmation time ran out a second ago.)
	if err := n.store.ExecRaw(context.Background(), `UPDATE withdrawals SET expires_at = $1 WHERE id = $2`, time.Now().Add(-time.Second).UnixMicro(), w2); err != nil {
		t.Fatal(err)
	}
	if w := n.call(t, "GET", "/v1/withdrawals/"+w2, nil, auth...).expect(t, 200, "").body; w["status"] != "expired" {
		t.Fatalf("past its time: %v", w)
	}
	// (A wrong code: were the status not checked first, it would answer invalid_code.)
	n.call(t, "POST", "/v1/withdrawals/"+w2+"/confirm", map[string]string{"code": "123456"}, auth...).expect(t, 409, "withdrawal_not_pending")
	n.call(t, "POST", "/v1/withdrawal-confirmations", map[string]string{"token": tok2w}).expect(t, 400, "invalid_token")
	n.call(t, "DELETE", "/v1/withdrawals/"+w2, nil, auth...).expect(t, 409, "withdrawal_not_pending")
	if used := n.used24h(t, session); used != "0.00" {
		t.Fatalf("used %s after the cancel and the expiry, want 0.00", used)
	}
	if l := asList(n.call(t, "GET", "/v1/withdrawals?status=awaiting_confirmation", nil, auth...).expect(t, 200, "").body["withdrawals"]); len(l) != 0 {
		t.Fatalf("awaiting confirmation: %v", l)
	}
	n.call(t, "GET", "/v1/withdrawals?status=lost", nil, auth...).expect(t, 400, "validation_failed")
	n.call(t, "GET", "/v1/withdrawals/wdr_nothing", nil, auth...).expect(t, 404, "not_found")

	// Prices: each bad entry is named, and none of the feed is stored.
	for _, tc := range []struct {
		name  string
		price map[string]string
		field string
	}{
		{"negative", map[string]string{"asset": "ETH", "reference_price": "-1", "as_of": time.Now().UTC().Format(time.RFC3339)}, "prices[1].reference_price"},
		{"exponent", map[string]string{"asset": "ETH", "reference_price": "3e3", "as_of": time.Now().UTC().Format(time.RFC3339)}, "prices[1].reference_price"},
		{"future", map[string]string{"asset": "ETH", "reference_price": "3000", "as_of": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "prices[1].as_of"},
		{"not a time", map[string]string{"asset": "ETH", "reference_price": "3000", "as_of": "yesterday"}, "prices[1].as_of"},
		{"unknown asset", map[string]string{"asset": "DOGE", "reference_price": "0.1", "as_of": time.Now().UTC().Format(time.RFC3339)}, "prices[1].asset"},
	} {
		good := map[string]string{"asset": "ETH", "reference_price": "3000", "as_of": time.Now().UTC().Format(time.RFC3339)}
		n.admin(t, "PUT", "/admin/v1/prices", map[string]any{"prices": []map[string]string{good, tc.price}}).expect(t, 400, "validation_failed").field(t, tc.field)
	}
	n.admin(t, "PUT", "/admin/v1/prices", map[string]any{"prices": []any{}}).expect(t, 400, "validation_failed")
	n.call(t, "POST", "/v1/withdrawals", map[string]string{"asset": "ETH", "network": "ethereum", "amount": "1", "address": wdETH}, auth...).expect(t, 503, "price_unavailable")
	// A key without prices:write cannot feed them.
	plain := adminKeyWith(t, n.store, "withdrawals:read")
	n.call(t, "PUT", "/admin/v1/prices", map[string]any{"prices": []map[string]string{{"asset": "BTC", "reference_price": "1", "as_of": time.Now().UTC().Format(time.RFC3339)}}},
		bearer(plain)...).expect(t, 403, "insufficient_scope")
	n.call(t, "POST", "/admin/v1/withdrawals/"+w1+"/approve", nil, bearer(plain)...).expect(t, 403, "insufficient_scope")
	n.call(t, "GET", "/admin/v1/withdrawals", nil, bearer(plain)...).expect(t, 200, "")
}

// --- who may withdraw ---

func TestWithdrawalLocks(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { withdrawalLocks(t, startWithdrawalNode(t, dbURL)) })
}

func withdrawalLocks(t *testing.T, n *kycNode) {
	n.prices(t, "ETH", "3000")
	typed := map[string]string{"asset": "ETH", "network": "ethereum", "amount": "0.1", "address": wdETH}

	// Without a second factor there is nothing to confirm a withdrawal with.
	plain := n.signUp(t, "plain@example.com")
	n.setTier(t, n.userID(t, plain), 2)
	n.call(t, "POST", "/v1/withdrawals", typed, bearer(plain)...).expect(t, 403, "mfa_required")
	n.call(t, "POST", "/v1/addresses", map[string]string{"asset": "ETH", "network": "ethereum", "address": wdETH}, bearer(plain)...).expect(t, 403, "mfa_required")

	// Tier 0 allows no withdrawals.
	unverified := n.signUp(t, "unverified@example.com")
	n.enrol(t, unverified)
	n.call(t, "POST", "/v1/withdrawals", typed, bearer(unverified)...).expect(t, 403, "verification_required")

	// A password change starts the cooldown.
	const email = "changed@example.com"
	session, _, _ := n.withdrawer(t, email)
	n.call(t, "POST", "/v1/withdrawals", typed, bearer(session)...).expect(t, 201, "")
	before := time.Now()
	n.call(t, "PUT", "/v1/password", map[string]string{"current_password": kycPassword, "new_password": "another horse battery staple"}, bearer(session)...).expect(t, 204, "")
	locked := n.call(t, "POST", "/v1/withdrawals", typed, bearer(session)...).expect(t, 403, "withdrawals_locked")
	until, err := time.Parse(time.RFC3339Nano, fmtString(locked.body["until"]))
	if err != nil || locked.body["reason"] != "cooldown" || until.Before(before.Add(24*time.Hour-time.Second)) || until.After(time.Now().Add(24*time.Hour+time.Second)) ||
		!strings.Contains(locked.body["detail"].(string), "password") {
		t.Fatalf("after a password change: %s", locked.raw)
	}
	if used := n.used24h(t, session); used != "300.00" {
		t.Fatalf("used %s, want the first request's 300.00 only", used)
	}

	// A restriction through the admin API: locked with its reason, in the
	// introspection, lifted again.
	const rname = "restricted@example.com"
	rsession, ruser, _ := n.withdrawer(t, rname)
	n.admin(t, "POST", "/admin/v1/users/"+ruser+"/restrictions", map[string]string{"kind": "everything", "reason": "x"}).expect(t, 400, "validation_failed").field(t, "kind")
	n.admin(t, "POST", "/admin/v1/users/"+ruser+"/restrictions", map[string]string{"kind": "withdrawals"}).expect(t, 400, "validation_failed").field(t, "reason")
	n.admin(t, "POST", "/admin/v1/users/"+ruser+"/restrictions", map[string]string{"kind": "withdrawals", "reason": "x", "expires_at": "tomorrow"}).expect(t, 400, "validation_failed").field(t, "expires_at")
	n.admin(t, "POST", "/admin/v1/users/usr_nothing/restrictions", map[string]string{"kind": "withdrawals", "reason": "x"}).expect(t, 404, "not_found")
	rs := n.admin(t, "POST", "/admin/v1/users/"+ruser+"/restrictions", map[string]string{"kind": "withdrawals", "reason": "unusual activity"}).expect(t, 201, "").body
	rid, _ := rs["id"].(string)
	if rs["kind"] != "withdrawals" || rs["user_id"] != ruser || rs["source"] != "admin_key:key_bootstrap" || rid == "" {
		t.Fatalf("restriction: %v", rs)
	}
	r := n.call(t, "POST", "/v1/withdrawals", typed, bearer(rsession)...).expect(t, 403, "withdrawals_locked")
	if r.body["reason"] != "restricted" || r.body["until"] != nil {
		t.Fatalf("restricted: %s", r.raw)
	}
	intro := n.admin(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": rsession}).expect(t, 200, "").body
	if !slices.Equal(asStrings(intro["restrictions"]), []string{"withdrawals"}) {
		t.Fatalf("introspection of a restricted user: %v", intro)
	}
	if l := asList(n.admin(t, "GET", "/admin/v1/users/"+ruser+"/restrictions", nil).expect(t, 200, "").body["restrictions"]); len(l) != 1 {
		t.Fatalf("restrictions: %v", l)
	}
	n.Email(t, rname, "Some actions on your account are paused")
	n.admin(t, "DELETE", "/admin/v1/users/"+ruser+"/restrictions/"+rid, nil).expect(t, 204, "")
	n.admin(t, "DELETE", "/admin/v1/users/"+ruser+"/restrictions/"+rid, nil).expect(t, 404, "not_found")
	intro = n.admin(t, "POST", "/admin/v1/sessions/introspect", map[string]string{"token": rsession}).expect(t, 200, "").body
	if len(asList(intro["restrictions"])) != 0 {
		t.Fatalf("introspection after the lift: %v", intro)
	}
	n.call(t, "POST", "/v1/withdrawals", typed, bearer(rsession)...).expect(t, 201, "")
	// With an expiry, the refusal says until when.
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	n.admin(t, "POST", "/admin/v1/users/"+ruser+"/restrictions", map[string]string{"kind": "withdrawals", "reason": "check", "expires_at": expires.Format(time.RFC3339)}).expect(t, 201, "")
	r = n.call(t, "POST", "/v1/withdrawals", typed, bearer(rsession)...).expect(t, 403, "withdrawals_locked")
	if until, _ := time.Parse(time.RFC3339Nano, fmtString(r.body["until"])); !until.Equal(expires) {
		t.Fatalf("restricted until %v, want %v", r.body["until"], expires)
	}
	audit := asList(n.admin(t, "GET", "/admin/v1/audit?type=account.restriction_lifted", nil).expect(t, 200, "").body["records"])
	if len(audit) != 1 || audit[0].(map[string]any)["actor"] != "admin_key:key_bootstrap" {
		t.Fatalf("audit of the lift: %v", audit)
	}
}

func fmtString(v any) string {
	s, _ := v.(string)
	return s
}

// --- the allow-list ---

func TestWithdrawalAllowList(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { allowListFlow(t, startWithdrawalNode(t, dbURL)) })
}

func allowListFlow(t *testing.T, n *kycNode) {
	n.prices(t, "ETH", "3000")
	const email = "allow@example.com"
	session, _, au := n.withdrawer(t, email)
	auth := bearer(session)
	typed := map[string]string{"asset": "ETH", "network": "ethereum", "amount": "0.1", "address": wdETH}

	if st := n.call(t, "GET", "/v1/allow-list", nil, auth...).expect(t, 200, "").body; st["enabled"] != false || st["pending_off"] != false {
		t.Fatalf("allow-list of a new account: %v", st)
	}
	n.call(t, "PUT", "/v1/allow-list", map[string]any{}, auth...).expect(t, 400, "validation_failed")
	if st := n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": true}, auth...).expect(t, 200, "").body; st["enabled"] != true {
		t.Fatalf("turned on: %v", st)
	}
	n.call(t, "POST", "/v1/withdrawals", typed, auth...).expect(t, 403, "address_not_allowed")

	// Turning it off: a recent second factor, the email link, then the hold.
	off := n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": false}, auth...).expect(t, 202, "").body
	if off["enabled"] != true || off["pending_off"] != true || off["off_link_expires_at"] == nil {
		t.Fatalf("switch-off asked: %v", off)
	}
	offToken := n.EmailLinkToken(t, email, "Confirm turning off the withdrawal allow-list", "/allow-list/confirm")
	n.call(t, "POST", "/v1/allow-list/confirm", map[string]string{"token": "forged"}).expect(t, 400, "invalid_token")
	conf := n.call(t, "POST", "/v1/allow-list/confirm", map[string]string{"token": offToken}).expect(t, 200, "").body
	effective, _ := time.Parse(time.RFC3339Nano, fmtString(conf["effective_off_at"]))
	if conf["enabled"] != true || conf["pending_off"] != true || time.Until(effective) <= 0 {
		t.Fatalf("switch-off confirmed: %v", conf)
	}
	n.call(t, "POST", "/v1/allow-list/confirm", map[string]string{"token": offToken}).expect(t, 400, "invalid_token")
	n.call(t, "POST", "/v1/withdrawals", typed, auth...).expect(t, 403, "address_not_allowed")
	time.Sleep(time.Until(effective) + 100*time.Millisecond)
	if st := n.call(t, "GET", "/v1/allow-list", nil, auth...).expect(t, 200, "").body; st["enabled"] != false || st["pending_off"] != false {
		t.Fatalf("after the hold: %v", st)
	}
	n.call(t, "POST", "/v1/withdrawals", typed, auth...).expect(t, 201, "")
	// Already off: nothing to confirm.
	if st := n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": false}, auth...).expect(t, 200, "").body; st["enabled"] != false {
		t.Fatalf("off again: %v", st)
	}

	// Without a second factor the switch-off is refused; a recovery code
	// steps a session up as well as the app's code.
	n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": true}, auth...).expect(t, 200, "")
	plain := n.signUp(t, "nofactor@example.com")
	n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": true}, bearer(plain)...).expect(t, 200, "")
	n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": false}, bearer(plain)...).expect(t, 403, "mfa_required")
	n.call(t, "POST", "/v1/step-up", map[string]string{"method": "recovery_code", "code": au.recovery[0]}, auth...).expect(t, 200, "")
	n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": false}, auth...).expect(t, 202, "")
	// Turning it on again drops the pending switch-off.
	if st := n.call(t, "PUT", "/v1/allow-list", map[string]bool{"enabled": true}, auth...).expect(t, 200, "").body; st["pending_off"] != false {
		t.Fatalf("on again: %v", st)
	}
}

// --- staff review ---

func TestWithdrawalReview(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { withdrawalReview(t, startWithdrawalNode(t, dbURL)) })
}

func withdrawalReview(t *testing.T, n *kycNode) {
	payouts := newWebhookReceiver(t)
	payouts.register(t, n, "withdrawal.approved", "withdrawal.rejected")
	n.prices(t, "ETH", "3000")
	const email = "review@example.com"
	session, userID, _ := n.withdrawer(t, email)
	auth := bearer(session)
	body := func(amount string) map[string]string {
		return map[string]string{"asset": "ETH", "network": "ethereum", "amount": amount, "address": wdETH}
	}
	request := func(amount string) string {
		t.Helper()
		return n.call(t, "POST", "/v1/withdrawals", body(amount), auth...).expect(t, 201, "").body["id"].(string)
	}
	w1, w2 := request("1.5"), request("2.5")
	for _, id := range []string{w1, w2} {
		// As monitoring holding them for staff would.
		n.changeWithdrawal(t, id, func(w *withdrawal.Withdrawal) {
			w.Status, w.Reasons = withdrawal.StatusPendingReview, []string{"large_transfer"}
		})
	}
	// While they wait for staff, the account's next requests wait too
	// (WARDEN_WITHDRAWAL_ONE_IN_REVIEW, on by default).
	if held := n.call(t, "POST", "/v1/withdrawals", body("0.1"), auth...).expect(t, 403, "withdrawals_locked").body; held["reason"] != "review" {
		t.Fatalf("a request while two are in review: %v", held)
	}
	queue := asList(n.admin(t, "GET", "/admin/v1/withdrawals?status=pending_review&user_id="+userID, nil).expect(t, 200, "").body["withdrawals"])
	if len(queue) != 2 || queue[0].(map[string]any)["id"] != w2 || !slices.Equal(asStrings(queue[0].(map[string]any)["reasons"]), []string{"large_transfer"}) {
		t.Fatalf("review queue: %v", queue)
	}
	n.admin(t, "GET", "/admin/v1/withdrawals?status=maybe", nil).expect(t, 400, "validation_failed")
	n.admin(t, "GET", "/admin/v1/withdrawals?limit=0", nil).expect(t, 400, "validation_failed")
	n.admin(t, "GET", "/admin/v1/withdrawals/wdr_nothing", nil).expect(t, 404, "not_found")
	if one := n.admin(t, "GET", "/admin/v1/withdrawals/"+w1, nil).expect(t, 200, "").body; one["status"] != "pending_review" || one["user_id"] != userID || one["ip"] == "" {
		t.Fatalf("one withdrawal for staff: %v", one)
	}

	// Approve: the payout system is told.
	appr := n.admin(t, "POST", "/admin/v1/withdrawals/"+w1+"/approve", map[string]string{"reason": "called the customer"}).expect(t, 200, "").body
	if appr["status"] != "approved" || appr["reviewer"] != "admin_key:key_bootstrap" || appr["review_reason"] != "called the customer" {
		t.Fatalf("approved: %v", appr)
	}
	if d := payouts.next(t, "withdrawal.approved")["data"].(map[string]any); d["withdrawal_id"] != w1 || d["amount"] != "1.500000000000000000" {
		t.Fatalf("withdrawal.approved: %v", d)
	}
	n.admin(t, "POST", "/admin/v1/withdrawals/"+w1+"/approve", nil).expect(t, 409, "withdrawal_not_pending")
	n.admin(t, "POST", "/admin/v1/withdrawals/"+w1+"/reject", map[string]string{"reason": "late"}).expect(t, 409, "withdrawal_not_pending")
	if mine := n.call(t, "GET", "/v1/withdrawals/"+w1, nil, auth...).body; mine["review_reason"] != nil {
		t.Fatalf("an approval's note shown to the user: %v", mine)
	}

	// Reject: a reason is needed; the user and the platform are told.
	n.admin(t, "POST", "/admin/v1/withdrawals/"+w2+"/reject", map[string]string{}).expect(t, 400, "validation_failed")
	n.admin(t, "POST", "/admin/v1/withdrawals/"+w2+"/reject", nil).expect(t, 400, "invalid_json")
	rej := n.admin(t, "POST", "/admin/v1/withdrawals/"+w2+"/reject", map[string]string{"reason": "The destination is a sanctioned address."}).expect(t, 200, "").body
	if rej["status"] != "rejected" {
		t.Fatalf("rejected: %v", rej)
	}
	if d := payouts.next(t, "withdrawal.rejected")["data"].(map[string]any); d["withdrawal_id"] != w2 {
		t.Fatalf("withdrawal.rejected: %v", d)
	}
	n.EmailWith(t, email, "Your withdrawal was not approved", "sanctioned address")
	if mine := n.call(t, "GET", "/v1/withdrawals/"+w2, nil, auth...).body; mine["status"] != "rejected" || mine["review_reason"] != "The destination is a sanctioned address." {
		t.Fatalf("the user's rejected withdrawal: %v", mine)
	}
	n.admin(t, "POST", "/admin/v1/withdrawals/"+w2+"/complete", map[string]string{"txid": "x"}).expect(t, 409, "withdrawal_not_pending")
	n.call(t, "DELETE", "/v1/withdrawals/"+w2, nil, auth...).expect(t, 409, "withdrawal_not_pending")
	if used := n.used24h(t, session); used != "4500.00" {
		t.Fatalf("used %s, want the approved 4500.00 only", used)
	}
}

// --- the limit under concurrency (issue 7, point 4) ---

// 50 concurrent requests, each worth 10% of the remaining 24-hour limit:
// exactly 10 are accepted, the rest refused with limit_exceeded. On SQLite
// with one server; on PostgreSQL with two servers (each its own pool and
// listener, as two `warden serve` processes) taking the requests in turn.
func TestWithdrawalLimitHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.SQLiteURL(t)
		limitRace(t, startWithdrawalNode(t, dbURL))
	})
	t.Run("postgres two nodes", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.PostgresURL(t)
		a := startWithdrawalNode(t, dbURL)
		b := startWithdrawalNode(t, dbURL, a.Mail)
		if a.Base == b.Base || a.store == b.store {
			t.Fatal("the two nodes share a listener or a store")
		}
		limitRace(t, a, b)
	})
	// As issue 7 says it: two `warden serve` processes on one PostgreSQL,
	// sharing nothing with each other but the database.
	t.Run("postgres two warden serve processes", func(t *testing.T) {
		t.Parallel()
		_, dbURL := storetest.PostgresURL(t)
		mail := smtptest.Start(t)
		// The test's node sets the user up; the requests go to the processes only.
		setup := startWithdrawalNode(t, dbURL, mail)
		var procs []*kycNode
		for range 2 {
			p := servertest.StartProcess(t, dbURL, kycAdminKey, mail, withdrawalNodeSettings)
			procs = append(procs, &kycNode{Node: &servertest.Node{Base: p.Base, Mail: mail}, devs: map[string]string{}})
		}
		limitRaceOn(t, setup, procs...)
	})
}

func limitRace(t *testing.T, nodes ...*kycNode) { limitRaceOn(t, nodes[0], nodes...) }

// limitRaceOn sets the user up through first and sends the 50 requests to
// nodes in turn.
func limitRaceOn(t *testing.T, first *kycNode, nodes ...*kycNode) {
	session, _, _ := first.withdrawer(t, "race@example.com")
	// 4 ETH at 2,500.00 = 10,000.00: 10% of tier 2's 100,000.00 a day.
	first.prices(t, "ETH", "2500")
	body, _ := json.Marshal(map[string]string{"asset": "ETH", "network": "ethereum", "amount": "4", "address": wdETH})

	type result struct {
		status int
		code   string
		err    error
	}
	results := make(chan result, 50)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := nodes[i%len(nodes)]
			req, _ := http.NewRequest("POST", n.Base+"/v1/withdrawals", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+session)
			req.Header.Set("Idempotency-Key", "race-"+strconv.Itoa(i))
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			var p struct {
				Code string `json:"code"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&p)
			results <- result{status: resp.StatusCode, code: p.Code}
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	accepted, refused := 0, 0
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request: %v", r.err)
		case r.status == 201:
			accepted++
		case r.status == 422 && r.code == "limit_exceeded":
			refused++
		default:
			t.Errorf("answer %d %s", r.status, r.code)
		}
	}
	if accepted != 10 || refused != 40 {
		t.Fatalf("accepted %d, refused %d; want 10 and 40", accepted, refused)
	}
	for _, n := range nodes {
		if used := n.used24h(t, session); used != "100000.00" {
			t.Fatalf("used %s on %s, want 100000.00", used, n.Base)
		}
		if l := asList(n.call(t, "GET", "/v1/withdrawals", nil, bearer(session)...).expect(t, 200, "").body["withdrawals"]); len(l) != 10 {
			t.Fatalf("%d withdrawals stored, want 10", len(l))
		}
	}
}
