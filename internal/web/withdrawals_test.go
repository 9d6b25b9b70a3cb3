package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/staff"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/web"
	"github.com/wardenhq/warden/internal/withdrawal"
)

const (
	btcAddr = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
	ethAddr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
	xrpAddr = "rN7n7otQDd6FczFgLdSqtcsAUxDkw6fzRH"
)

// wdSite is a site with the withdrawal pages on.
type wdSite struct {
	*site
	wd *withdrawal.Service
}

func testCatalog() withdrawal.Catalog {
	return withdrawal.Catalog{
		{Code: "BTC", Decimals: 8, Networks: []address.Network{{Name: "bitcoin", Kind: address.KindBitcoin}}},
		{Code: "ETH", Decimals: 18, Networks: []address.Network{{Name: "ethereum", Kind: address.KindEVM}}},
		{Code: "XRP", Decimals: 6, Networks: []address.Network{{Name: "xrp", Kind: address.KindPattern,
			Pattern: regexp.MustCompile(`r[1-9A-HJ-NP-Za-km-z]{24,34}`), MemoRequired: true, MemoPattern: regexp.MustCompile(`[0-9]{1,10}`)}}},
	}
}

// testPolicy is the defaults of the configuration, except that a new
// device may withdraw at once: every test logs in from a new device.
func testPolicy() withdrawal.Policy {
	return withdrawal.Policy{AddressHold: 24 * time.Hour, ConfirmationTTL: 30 * time.Minute,
		CooldownPassword: 24 * time.Hour, CooldownMFA: 24 * time.Hour, CooldownUnfreeze: 24 * time.Hour,
		RequireSecondFactor: true, RequireEmail: true, PriceMaxAge: 10 * time.Minute, MaxMFAFailures: 5}
}

// testWithdrawals is the withdrawal service of the test sites on the site's
// store st: testCatalog, the default tiers, testPolicy, values in USD.
func testWithdrawals(c *web.Config, st *store.Store) *withdrawal.Service {
	return &withdrawal.Service{
		Transact: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: c.Accounts, MFA: c.MFA, Assets: testCatalog(), Tiers: verification.DefaultTiers(),
		Currency: money.Currency{Code: "USD", Decimals: 2}, Policy: testPolicy(), Now: time.Now,
	}
}

// newWithdrawalSite serves the pages with a withdrawal service on the
// site's store, the default tiers, testCatalog and the policy as configure
// leaves it; prices are fed: 1 BTC = 60,000.00 USD, 1 ETH = 3,000.00, 1 XRP = 0.50.
func newWithdrawalSite(t *testing.T, configure func(*withdrawal.Service)) *wdSite {
	t.Helper()
	var svc *withdrawal.Service
	s := newSiteConfig(t, "http://warden.test", nil, func(c *web.Config) {
		svc = testWithdrawals(c, c.Audit.(*store.Store))
		if configure != nil {
			configure(svc)
		}
		c.Withdrawals = svc
		c.Currency = svc.Currency
	})
	w := &wdSite{site: s, wd: svc}
	w.prices()
	return w
}

func (s *wdSite) prices() {
	s.t.Helper()
	now := time.Now()
	if err := s.wd.SetPrices(context.Background(), []withdrawal.PriceInput{
		{Asset: "BTC", Price: "60000", AsOf: now}, {Asset: "ETH", Price: "3000.00", AsOf: now}, {Asset: "XRP", Price: "0.5", AsOf: now},
	}, account.Meta{Actor: "admin_key:test"}); err != nil {
		s.t.Fatal(err)
	}
}

// setTier puts the user at a verification tier.
func (s *wdSite) setTier(email string, tier int) {
	s.t.Helper()
	s.updateAccount(email, func(a *account.Account) { a.VerificationTier = tier })
}

func (s *wdSite) updateAccount(email string, fn func(*account.Account)) {
	s.t.Helper()
	a := s.accountOf(email)
	if err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.UpdateAccount(context.Background(), a.ID, func(old account.Account) (account.Account, error) {
			fn(&old)
			return old, nil
		})
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
}

// withdrawer is a user with an authenticator app (its key returned) at tier.
func (s *wdSite) withdrawer(email string, tier int) (*client, string) {
	s.t.Helper()
	c, secret, _ := s.mfaUser(email)
	s.setTier(email, tier)
	return c, secret
}

// emailLink finds the newest email to "to" with a link matching pattern
// (a regexp of the path and query) and returns the link's path and query.
func (s *site) emailLink(to, pattern string) string {
	s.t.Helper()
	re := regexp.MustCompile(pattern)
	for _, e := range s.emails(to) {
		if l := re.FindString(e.Text); l != "" {
			return l
		}
	}
	s.t.Fatalf("no email to %s with a link like %s", to, pattern)
	return ""
}

const (
	addressLinkPattern    = `/addresses/confirm\?id=[A-Za-z0-9_]+&token=[A-Za-z0-9_-]+`
	withdrawalLinkPattern = `/withdrawals/confirm\?token=[A-Za-z0-9_-]+`
	allowListLinkPattern  = `/allow-list/confirm\?token=[A-Za-z0-9_-]+`
)

func queryOf(t *testing.T, link string) url.Values {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

func (s *wdSite) addresses(email string) []withdrawal.Address {
	s.t.Helper()
	list, err := s.wd.Addresses(context.Background(), s.accountOf(email).ID)
	if err != nil {
		s.t.Fatal(err)
	}
	return list
}

func (s *wdSite) withdrawalsOf(email string) []withdrawal.Withdrawal {
	s.t.Helper()
	list, err := s.wd.List(context.Background(), s.accountOf(email).ID, "", 100)
	if err != nil {
		s.t.Fatal(err)
	}
	return list
}

// bookAddress adds an address through the pages and confirms it from the
// email with the code of now+offset; it returns the address's id.
func (s *wdSite) bookAddress(c *client, email, secret string, offset time.Duration, kv ...string) string {
	s.t.Helper()
	expect(s.t, "add address", c.post("/addresses/new", kv...), 303, "/addresses")
	q := queryOf(s.t, s.emailLink(email, addressLinkPattern))
	expect(s.t, "confirm address", c.post("/addresses/confirm", "id", q.Get("id"), "token", q.Get("token"),
		"code", code(s.t, secret, offset)), 303, "/addresses")
	return q.Get("id")
}

var keyOnPage = regexp.MustCompile(`name="idempotency_key" value="([A-Za-z0-9_-]+)"`)

func idempotencyKeyOf(t *testing.T, res response) string {
	t.Helper()
	m := keyOnPage.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no idempotency key on the withdraw form:\n%s", res.body)
	}
	return m[1]
}

// webhooks lists the queued webhook bodies of type topic.
func (s *site) webhooks(topic string) []string {
	s.t.Helper()
	msgs, err := s.store.ListOutbox(context.Background(), store.OutboxFilter{Limit: 1000})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if m.Kind != outbox.KindWebhook || m.Topic != topic {
			continue
		}
		var d notify.WebhookDelivery
		if err := json.Unmarshal(m.Payload, &d); err != nil {
			s.t.Fatal(err)
		}
		out = append(out, string(d.Body))
	}
	return out
}

// webhookEndpoint registers a receiver of every event with a 32-byte secret.
func (s *site) webhookEndpoint(target string) []byte {
	s.t.Helper()
	secret := bytes.Repeat([]byte{5}, 32)
	if err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.CreateWebhookEndpoint(context.Background(), notify.WebhookEndpoint{ID: id.New("whe"), URL: target,
			EventTypes: []string{"*"}, CreatedAt: time.Now()}, secret)
	}); err != nil {
		s.t.Fatal(err)
	}
	return secret
}

func TestWithdrawalPagesAreOffWithoutTheService(t *testing.T) {
	t.Parallel()
	s := newSite(t, "http://warden.test")
	s.signedUp("off@example.com")
	c := s.loggedIn("off@example.com", goodPassword)
	absent(t, "account", c.get("/account"), `href="/withdraw"`, `href="/addresses"`)
	for _, path := range []string{"/addresses", "/withdraw", "/withdrawals"} {
		expect(t, path, c.get(path), 404)
	}
}

func TestAddressBookAndConfirmation(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "ada@example.com"
	c, secret := s.withdrawer(email, 2)

	res := c.get("/account")
	expect(t, "account", res, 200, `<a href="/withdraw">Withdraw</a>`, `<a href="/withdrawals">Withdrawals</a>`,
		`<a href="/addresses">Addresses</a>`, `<h3><a href="/addresses">Address book</a></h3>`)
	expect(t, "empty book", c.get("/addresses"), 200, `id="no-addresses"`, `<span class="badge warning" id="allow-list-state">Off</span>`,
		`<a href="/addresses" aria-current="page">Addresses</a>`)

	// Adding an address needs a recent second factor: the page and the
	// form send to the step-up page, and nothing is stored.
	s.ageStepUp()
	expect(t, "add page, stale factor", c.get("/addresses/new"), 303, "/account/step-up?next=%2Faddresses%2Fnew")
	expect(t, "add, stale factor", c.post("/addresses/new", "asset", "BTC:bitcoin", "address", btcAddr), 303, "/account/step-up?next=%2Faddresses%2Fnew")
	if n := len(s.addresses(email)); n != 0 {
		t.Fatalf("%d addresses stored without a step-up", n)
	}
	expect(t, "step up", c.post("/account/step-up", "method", "totp", "code", code(t, secret, 0), "next", "/addresses/new"), 303, "/addresses/new")
	res = c.get("/addresses/new")
	expect(t, "add form", res, 200, `<select id="address-asset" name="asset" required`, `<option value="BTC:bitcoin">BTC on bitcoin</option>`,
		`<option value="XRP:xrp">XRP on xrp</option>`, `id="address-memo"`, "Needed on xrp", `id="address-label"`)

	// Bad input: each refusal on its field, what was typed kept, nothing stored.
	res = c.post("/addresses/new", "asset", "BTC:bitcoin", "address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "label", "cold")
	expect(t, "bad checksum", res, 422, `<a href="#address-address">This is not a valid bitcoin address: checksum does not match.</a>`,
		`value="bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"`, `value="cold"`, `<option value="BTC:bitcoin" selected>`)
	expect(t, "another network's", c.post("/addresses/new", "asset", "BTC:bitcoin", "address", ethAddr), 422, "This is not a valid bitcoin address")
	expect(t, "memo missing", c.post("/addresses/new", "asset", "XRP:xrp", "address", xrpAddr), 422,
		`<a href="#address-memo">Memo required: xrp needs a memo or tag to credit the right account.</a>`)
	expect(t, "no asset", c.post("/addresses/new", "address", btcAddr), 422, `<a href="#address-asset">Choose the asset and network.</a>`)
	expect(t, "unknown asset", c.post("/addresses/new", "asset", "DOGE:doge", "address", btcAddr), 422, "Choose an asset and network from the list.")
	if n := len(s.addresses(email)); n != 0 {
		t.Fatalf("%d addresses stored from bad input", n)
	}

	expect(t, "add", c.post("/addresses/new", "asset", "BTC:bitcoin", "address", strings.ToUpper(btcAddr), "label", "Cold wallet"), 303, "/addresses")
	res = c.get("/addresses")
	expect(t, "pending", res, 200, "The address was added. We emailed you a link", "Cold wallet", btcAddr,
		`<span class="badge warning">Waiting for your email confirmation</span>`)
	link := s.emailLink(email, addressLinkPattern)
	q := queryOf(t, link)
	added := s.addresses(email)
	if len(added) != 1 || added[0].ID != q.Get("id") || added[0].Status != withdrawal.AddressPendingConfirmation {
		t.Fatalf("book %+v, link %s", added, link)
	}

	// The link's page asks for a code; a forged token is refused without
	// spending the code, and the address stays unconfirmed.
	res = c.get(link)
	expect(t, "confirm page", res, 200, "Confirm the withdrawal address", btcAddr, `name="token" value="`+q.Get("token")+`"`, `id="address-code"`)
	expect(t, "forged token", c.post("/addresses/confirm", "id", q.Get("id"), "token", "forged", "code", code(t, secret, 30*time.Second)), 400,
		"This link does not work")
	expect(t, "no token", c.get("/addresses/confirm?id="+q.Get("id")), 400, "This link does not work")
	expect(t, "wrong code", c.post("/addresses/confirm", "id", q.Get("id"), "token", q.Get("token"), "code", "000000"), 422,
		"This code is wrong.")
	if got := s.addresses(email)[0].Status; got != withdrawal.AddressPendingConfirmation {
		t.Fatalf("after refused confirmations the address is %s", got)
	}
	// Another user's session cannot confirm it, even with the link.
	other, _ := s.withdrawer("eve@example.com", 2)
	expect(t, "someone else", other.get(link), 400, "This link does not work")

	expect(t, "confirm", c.post("/addresses/confirm", "id", q.Get("id"), "token", q.Get("token"), "code", code(t, secret, 30*time.Second)), 303, "/addresses")
	res = c.get("/addresses")
	expect(t, "on hold", res, 200, "The address was confirmed.", `<span class="badge info">On hold: usable in 24 h</span>`)
	expect(t, "link used", c.get(link), 400, "This link does not work")

	// The hold, as the page tells it, ends at the time stored.
	a := s.addresses(email)[0]
	if a.Status != withdrawal.AddressOnHold || time.Until(a.AvailableAt) < 23*time.Hour+59*time.Minute {
		t.Fatalf("confirmed address %+v", a)
	}
	if !strings.Contains(res.body, a.AvailableAt.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the page does not say when the hold ends (%s)", a.AvailableAt)
	}

	// Deleting works at once, and only on one's own addresses.
	expect(t, "someone else deletes", other.post("/addresses/"+a.ID+"/delete"), 303, "/addresses")
	if len(s.addresses(email)) != 1 {
		t.Fatal("another user deleted the address")
	}
	expect(t, "delete", c.post("/addresses/"+a.ID+"/delete"), 303, "/addresses")
	expect(t, "deleted", c.get("/addresses"), 200, "The address was deleted.", `id="no-addresses"`)
	c.site = "cross-site"
	expect(t, "cross-site add", c.post("/addresses/new", "asset", "BTC:bitcoin", "address", btcAddr), 403)
}

func TestAllowListSwitch(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "bob@example.com"
	c, secret := s.withdrawer(email, 2)
	ctx := context.Background()
	userID := s.accountOf(email).ID

	expect(t, "turn on", c.post("/allow-list/on"), 303, "/addresses")
	expect(t, "on", c.get("/addresses"), 200, "The allow-list is on", `<span class="badge success" id="allow-list-state">On</span>`,
		`href="/allow-list/off" id="allow-list-off"`)
	if st, _ := s.wd.Settings(ctx, userID); !st.AllowListAt(time.Now()) {
		t.Fatal("the allow-list is not on")
	}

	// Turning it off wants a recent second factor first.
	s.ageStepUp()
	expect(t, "off page, stale factor", c.get("/allow-list/off"), 303, "/account/step-up?next=%2Fallow-list%2Foff")
	expect(t, "off, stale factor", c.post("/allow-list/off"), 303, "/account/step-up?next=%2Fallow-list%2Foff")
	if len(s.emails(email)) != 0 && strings.Contains(s.emails(email)[0].Text, "/allow-list/confirm") {
		t.Fatal("a switch-off link was sent without a step-up")
	}
	expect(t, "step up", c.post("/account/step-up", "method", "totp", "code", code(t, secret, 0), "next", "/allow-list/off"), 303, "/allow-list/off")
	expect(t, "off page", c.get("/allow-list/off"), 200, "Turn the allow-list off?", "The list stays on for 1 day after you open the link")
	expect(t, "off", c.post("/allow-list/off"), 303, "/addresses")
	res := c.get("/addresses")
	expect(t, "pending", res, 200, "We emailed you a link to confirm turning the allow-list off", `id="allow-list-pending"`,
		"Turning it off waits for your email confirmation", `<span class="badge success" id="allow-list-state">On</span>`)

	link := s.emailLink(email, allowListLinkPattern)
	expect(t, "link page", c.get(link), 200, `id="confirm-allow-list"`)
	expect(t, "forged", c.post("/allow-list/confirm", "token", "forged"), 400, "This link does not work")
	// The link works in any browser: it proves the mailbox.
	res = s.client().post("/allow-list/confirm", "token", tokenOf(link))
	expect(t, "confirmed", res, 200, "Your allow-list turns off at", "that is in 24 h")
	expect(t, "used", s.client().post("/allow-list/confirm", "token", tokenOf(link)), 400, "This link does not work")
	res = c.get("/addresses")
	expect(t, "scheduled", res, 200, "You confirmed turning it off. It stays on until", "that is in 24 h",
		`<span class="badge success" id="allow-list-state">On</span>`, `id="keep-allow-list"`)
	st, _ := s.wd.Settings(ctx, userID)
	if !st.AllowListAt(time.Now()) || time.Until(st.OffEffectiveAt) < 23*time.Hour {
		t.Fatalf("settings after the confirmation: %+v", st)
	}
	if !strings.Contains(res.body, st.OffEffectiveAt.UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Errorf("the page does not say when it takes effect (%s)", st.OffEffectiveAt)
	}
	// Keeping it on drops the switch-off.
	expect(t, "keep", c.post("/allow-list/on"), 303, "/addresses")
	absent(t, "kept", c.get("/addresses"), `id="allow-list-pending"`)
	if st, _ := s.wd.Settings(ctx, userID); !st.AllowListAt(time.Now().Add(48 * time.Hour)) {
		t.Fatalf("the switch-off still stands: %+v", st)
	}
}

func TestWithdrawRefusalsAreExplained(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "carol@example.com"
	c, secret := s.withdrawer(email, 2)
	onHold := s.bookAddress(c, email, secret, 0, "asset", "BTC:bitcoin", "address", btcAddr, "label", "Hold me")

	res := c.get("/withdraw")
	expect(t, "choose", res, 200, `<form method="get" action="/withdraw" id="choose-asset">`, `<option value="ETH:ethereum">ETH on ethereum</option>`,
		`<dd id="limit-per-transaction">50000.00 USD</dd>`, `<dd id="limit-24h">100000.00 USD</dd>`, `<dd id="limit-used">0.00 USD</dd>`,
		`<a href="/withdraw" aria-current="page">Withdraw</a>`)
	absent(t, "choose", res, `id="withdraw-form"`)
	res = c.get("/withdraw?asset=BTC:bitcoin")
	expect(t, "BTC form", res, 200, `id="withdraw-form"`, `<input type="hidden" name="asset" value="BTC:bitcoin">`,
		`>Hold me: `+btcAddr+` (on hold: usable in 24 h)</option>`, `<option value="other">Another address (type it below)</option>`,
		"up to 8 decimals", `id="withdraw-amount" name="amount" type="text" autocomplete="off" inputmode="decimal"`)
	key := idempotencyKeyOf(t, res)

	withdraw := func(kv ...string) response {
		t.Helper()
		return c.post("/withdraw", append([]string{"asset", "BTC:bitcoin", "idempotency_key", key}, kv...)...)
	}
	// The address's hold, the limit, bad amounts and addresses: each shown
	// with its reason, what was typed kept, nothing requested.
	res = withdraw("address_id", onHold, "amount", "0.01")
	a := s.addresses(email)[0]
	expect(t, "on hold", res, 422, `<a href="#withdraw-destination">The address can be used from `+a.AvailableAt.UTC().Format("2006-01-02 15:04")+` UTC. That is in 24 h.</a>`,
		`<option value="`+onHold+`" selected>`, `value="0.01"`, `name="idempotency_key" value="`+key+`"`)
	res = withdraw("address_id", "other", "address", btcAddr, "amount", "1")
	expect(t, "limit", res, 422, `<a href="#withdraw-amount">This withdrawal is worth 60000.00 USD, above your limit of 50000.00 USD a withdrawal.</a>`)
	expect(t, "exponent", withdraw("address_id", "other", "address", btcAddr, "amount", "1e3"), 422, `<a href="#withdraw-amount">Want digits like 12.50, got &#34;1e3&#34;.</a>`)
	expect(t, "decimals", withdraw("address_id", "other", "address", btcAddr, "amount", "0.123456789"), 422, "At most 8 decimals")
	expect(t, "zero", withdraw("address_id", "other", "address", btcAddr, "amount", "0"), 422, "Must be more than 0.")
	expect(t, "bad address", withdraw("address_id", "other", "address", ethAddr, "amount", "0.01"), 422,
		`<a href="#withdraw-address">This is not a valid bitcoin address`)
	expect(t, "no destination", withdraw("amount", "0.01"), 422, "Choose where to send it.")
	expect(t, "no amount", withdraw("address_id", "other", "address", btcAddr), 422, `<a href="#withdraw-amount">Enter the amount.</a>`)
	expect(t, "another's address", withdraw("address_id", "adr_nope", "amount", "0.01"), 422, "No such address in your address book.")

	// With the allow-list on, no address may be typed in.
	expect(t, "allow-list on", c.post("/allow-list/on"), 303, "/addresses")
	res = c.get("/withdraw?asset=BTC:bitcoin")
	expect(t, "allow-list form", res, 200, `id="allow-list-note"`)
	absent(t, "allow-list form", res, `value="other"`, `id="withdraw-address"`)
	expect(t, "typed anyway", withdraw("address_id", "other", "address", btcAddr, "amount", "0.01"), 422,
		"Your allow-list is on: choose a confirmed address from your address book.")
	expect(t, "no ETH address", c.get("/withdraw?asset=ETH:ethereum"), 200, `id="no-book-address"`, `href="/addresses/new?asset=ETH%3aethereum"`)
	// Off again, as the default is (the switch-off's own test is TestAllowListSwitch).
	if err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.PutSettings(context.Background(), withdrawal.Settings{AccountID: s.accountOf(email).ID, UpdatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}

	// A password change starts the cooldown: the refusal says until when, and why.
	changed := time.Now().UTC()
	s.updateAccount(email, func(a *account.Account) { a.PasswordChangedAt = changed })
	res = withdraw("address_id", "other", "address", btcAddr, "amount", "0.01")
	expect(t, "cooldown", res, 422, "There is a problem", "Withdrawals are paused until "+changed.Add(24*time.Hour).Format("2006-01-02 15:04")+
		" UTC because your password was changed. That is in 24 h.")
	s.updateAccount(email, func(a *account.Account) { a.PasswordChangedAt = time.Time{} })

	// A tier without withdrawals says so, on the page and in the refusal.
	s.setTier(email, 0)
	expect(t, "tier 0 page", c.get("/withdraw"), 200, `id="withdraw-needs-tier"`, `<dd id="limit-none">None at this tier</dd>`)
	expect(t, "tier 0", withdraw("address_id", "other", "address", btcAddr, "amount", "0.01"), 422, "Verify your identity to withdraw.")
	s.setTier(email, 2)

	if len(s.withdrawalsOf(email)) != 0 {
		t.Fatalf("refused requests were stored: %+v", s.withdrawalsOf(email))
	}
	if l, _ := s.wd.LimitsOf(context.Background(), s.accountOf(email)); l.Used24h != 0 {
		t.Fatalf("refusals consumed %d of the limit", l.Used24h)
	}

	// A user without a second factor is told to set one up first.
	s.signedUp("nomfa@example.com")
	s.setTier("nomfa@example.com", 2)
	plain := s.loggedIn("nomfa@example.com", goodPassword)
	expect(t, "no 2FA page", plain.get("/withdraw"), 200, `id="withdraw-needs-mfa"`)
	expect(t, "no 2FA address page", plain.get("/addresses/new"), 200, `id="address-needs-mfa"`)
	expect(t, "no 2FA address", plain.post("/addresses/new", "asset", "ETH:ethereum", "address", ethAddr), 422,
		"Turn on two-factor authentication first")
	expect(t, "no 2FA", plain.post("/withdraw", "asset", "ETH:ethereum", "address_id", "other", "address", ethAddr, "amount", "0.01"), 422,
		"Turn on two-factor authentication first")
}

func TestWithdrawIdempotencyAndConfirmations(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	s.webhookEndpoint("http://127.0.0.1:9/hook")
	const email = "dan@example.com"
	c, secret := s.withdrawer(email, 1) // 1,000.00 a withdrawal, 2,000.00 a day

	key := idempotencyKeyOf(t, c.get("/withdraw?asset=ETH:ethereum"))
	form := []string{"asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", "0.25"}
	res := c.post("/withdraw", form...)
	if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/withdrawals/wdr") {
		t.Fatalf("withdraw: %d %q", res.status, res.header.Get("Location"))
	}
	detail := res.header.Get("Location")
	// The same form sent again (a double click, a reload) finds the same withdrawal.
	expect(t, "again", c.post("/withdraw", form...), 303, detail)
	if n := len(s.withdrawalsOf(email)); n != 1 {
		t.Fatalf("%d withdrawals after a double submit, want 1", n)
	}
	expect(t, "repeat notice", c.get(detail), 200, "This form was sent already")
	res = c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", "0.3")
	expect(t, "key reused", res, 422, "This form was sent before with other details")
	if idempotencyKeyOf(t, res) == key {
		t.Error("the form sent again carries the spent key")
	}
	if n := len(s.withdrawalsOf(email)); n != 1 {
		t.Fatalf("%d withdrawals after reusing the key, want 1", n)
	}

	w := s.withdrawalsOf(email)[0]
	res = c.get(detail)
	expect(t, "detail", res, 200, `<h1 id="withdrawal-amount">0.25 ETH</h1>`, `<span class="badge warning">Waiting for your confirmation</span>`,
		"About 750.00 USD", ethAddr, `action="/withdrawals/`+w.ID+`/confirm"`, "We emailed you a link at <strong>"+email+"</strong>", `id="cancel-withdrawal"`)
	expect(t, "limits used", c.get("/withdraw?asset=ETH:ethereum"), 200, `<dd id="limit-used">750.00 USD</dd>`, `<strong>1250.00 USD</strong>`)
	expect(t, "history", c.get("/withdrawals"), 200, `<a href="`+detail+`" class="withdrawal-link">0.25 ETH</a>`)

	// The code: a wrong one is refused on its field; the right one is the first step.
	expect(t, "wrong code", c.post(detail+"/confirm", "code", "000000"), 422, `<a href="#withdrawal-code">This code is wrong.`)
	expect(t, "code", c.post(detail+"/confirm", "code", code(t, secret, 0)), 303, detail)
	res = c.get(detail)
	expect(t, "code done", res, 200, "Code accepted.", `Code from your authenticator app <span class="badge success">Done</span>`)
	absent(t, "code done", res, `id="code-form"`)
	expect(t, "code twice", c.post(detail+"/confirm", "code", code(t, secret, 30*time.Second)), 303, detail)
	if len(s.webhooks("withdrawal.approved")) != 0 {
		t.Fatal("approved before the email's link")
	}

	// The email's link: a button first, then the outcome, in any browser.
	link := s.emailLink(email, withdrawalLinkPattern)
	expect(t, "link page", c.get(link), 200, `id="confirm-withdrawal"`, `name="token" value="`+tokenOf(link)+`"`, "0.25 ETH on ethereum", ethAddr)
	// Another account's browser may not confirm it.
	eve, _ := s.withdrawer("eve@example.com", 2)
	expect(t, "another account's page", eve.get(link), 403, "This link is for another account")
	expect(t, "another account", eve.post("/withdrawals/confirm", "token", tokenOf(link)), 403, "This link is for another account")
	if got := s.withdrawalsOf(email)[0].Status; got != withdrawal.StatusAwaitingConfirmation {
		t.Fatalf("opening the link changed the state to %s", got)
	}
	expect(t, "forged link", s.client().post("/withdrawals/confirm", "token", "forged"), 400, "This link does not work")
	expect(t, "link", s.client().post("/withdrawals/confirm", "token", tokenOf(link)), 200, "Withdrawal confirmed",
		"it is approved and being sent", "0.25 ETH on ethereum")
	expect(t, "link twice", s.client().post("/withdrawals/confirm", "token", tokenOf(link)), 400, "This link does not work")
	expect(t, "approved", c.get(detail), 200, `<span class="badge success">Approved</span>`, "It is being sent.")
	absent(t, "approved", c.get(detail), `id="cancel-withdrawal"`)
	hooks := s.webhooks("withdrawal.approved")
	if len(hooks) != 1 || !strings.Contains(hooks[0], `"withdrawal_id":"`+w.ID+`"`) || !strings.Contains(hooks[0], `"amount":"0.250000000000000000"`) {
		t.Fatalf("approved webhooks %v", hooks)
	}

	// A second one is cancelled: its limit is free again.
	key = idempotencyKeyOf(t, c.get("/withdraw?asset=ETH:ethereum"))
	res = c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", "0.3")
	second := res.header.Get("Location")
	if res.status != 303 || second == detail {
		t.Fatalf("second withdrawal: %d %q", res.status, second)
	}
	expect(t, "cancel", c.post(second+"/cancel"), 303, second)
	expect(t, "cancelled", c.get(second), 200, "The withdrawal was cancelled.", `<span class="badge">Cancelled</span>`)
	expect(t, "cancel twice", c.post(second+"/cancel"), 303, second)
	expect(t, "limits", c.get("/withdraw?asset=ETH:ethereum"), 200, `<dd id="limit-used">750.00 USD</dd>`)
	res = c.get("/withdrawals")
	expect(t, "history", res, 200, "0.3 ETH", "0.25 ETH")
	if strings.Index(res.body, "0.3 ETH") > strings.Index(res.body, "0.25 ETH") {
		t.Error("the history is not newest first")
	}
	// Someone else's withdrawal is not found.
	expect(t, "someone else's", eve.get(detail), 404)
	expect(t, "someone else cancels", eve.post(second+"/cancel"), 404)
}

// heldSite holds every confirmed withdrawal for review, and asks only the
// email's confirmation.
func heldSite(t *testing.T) *wdSite {
	return newWithdrawalSite(t, func(svc *withdrawal.Service) {
		svc.Policy.RequireSecondFactor = false
		svc.Review = func(context.Context, withdrawal.Tx, withdrawal.Withdrawal) (bool, []string, error) {
			return true, []string{"large_transfer"}, nil
		}
	})
}

// confirmedWithdrawal requests amount of ETH through the pages and follows
// the email's link; it returns the withdrawal's page.
func (s *wdSite) confirmedWithdrawal(c *client, email, amount string) string {
	s.t.Helper()
	key := idempotencyKeyOf(s.t, c.get("/withdraw?asset=ETH:ethereum"))
	res := c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", amount)
	if res.status != 303 {
		s.t.Fatalf("withdraw: %d\n%s", res.status, res.body)
	}
	expect(s.t, "email link", s.client().post("/withdrawals/confirm", "token", tokenOf(s.emailLink(email, withdrawalLinkPattern))), 200, "Withdrawal confirmed")
	return res.header.Get("Location")
}

func TestConsoleWithdrawalReview(t *testing.T) {
	t.Parallel()
	s := heldSite(t)
	s.webhookEndpoint("http://127.0.0.1:9/hook")
	const email = "erin@example.com"
	s.signedUp(email)
	s.setTier(email, 2)
	c := s.loggedIn(email, goodPassword)
	first := s.confirmedWithdrawal(c, email, "0.5")
	expect(t, "held", c.get(first), 200, `<span class="badge info">Being reviewed</span>`, "Larger than usual")
	time.Sleep(2 * time.Millisecond) // emails are told apart by time
	second := s.confirmedWithdrawal(c, email, "0.75")
	id1, id2 := strings.TrimPrefix(first, "/withdrawals/"), strings.TrimPrefix(second, "/withdrawals/")

	// Support may not see withdrawals at all.
	support, _ := s.staffLoggedIn("sue@ops.example", staff.RoleSupport)
	absent(t, "support console", support.get("/console"), "/console/withdrawals")
	expect(t, "support queue", support.get("/console/withdrawals"), 403, "does not allow this")
	expect(t, "support detail", support.get("/console/withdrawals/"+id1), 403)
	expect(t, "support approves", support.post("/console/withdrawals/"+id1+"/approve"), 403)
	if w, _ := s.wd.Get(context.Background(), s.accountOf(email).ID, id1); w.Status != withdrawal.StatusPendingReview {
		t.Fatalf("after support's attempt: %s", w.Status)
	}

	reviewer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "console", reviewer.get("/console"), 200, `<a href="/console/withdrawals">Withdrawals</a>`, `id="withdrawals-queue"`)
	res := reviewer.get("/console/withdrawals")
	expect(t, "queue", res, 200, `<option value="pending_review" selected>`, `<a href="/console/withdrawals/`+id1+`" class="queue-item">`+email+`</a>`,
		"0.5 ETH", "1500.00 USD", "Larger than usual", `<a href="/console/withdrawals" aria-current="page">Withdrawals</a>`)
	if strings.Index(res.body, id1) > strings.Index(res.body, id2) {
		t.Error("the review queue is not oldest first")
	}
	res = reviewer.get("/console/withdrawals/" + id1)
	expect(t, "detail", res, 200, `<a href="/console/users/`+s.accountOf(email).ID+`" id="withdrawal-user">`+email+`</a>`,
		`<h1 id="withdrawal-amount">0.5 ETH`, "1500.00 USD", "at 3000.00 a unit", ethAddr, `<li>Larger than usual</li>`,
		`<dd id="withdrawal-ip">`+testIP+`</dd>`, "Chrome on Linux", `action="/console/withdrawals/`+id1+`/approve"`, `id="reject-reason"`)

	// Rejecting needs a reason; with one, the user is told.
	expect(t, "reject without reason", reviewer.post("/console/withdrawals/"+id1+"/reject", "reason", ""), 422,
		`<a href="#reject-reason">Give a reason: it is kept in the audit log.</a>`)
	expect(t, "reject", reviewer.post("/console/withdrawals/"+id1+"/reject", "reason", "The address belongs to a sanctioned service."), 303, "/console/withdrawals")
	expect(t, "rejected", reviewer.get("/console/withdrawals/"+id1), 200, "Rejected. The user was emailed", `<span class="badge danger">Not approved</span>`,
		"The address belongs to a sanctioned service.")
	absent(t, "rejected", reviewer.get("/console/withdrawals/"+id1), `id="approve"`)
	expect(t, "decided twice", reviewer.post("/console/withdrawals/"+id1+"/approve"), 303, "/console/withdrawals/"+id1)
	expect(t, "user sees", c.get(first), 200, `<span class="badge danger">Not approved</span>`, "The address belongs to a sanctioned service.")

	expect(t, "approve", reviewer.post("/console/withdrawals/"+id2+"/approve", "reason", "Called the customer."), 303, "/console/withdrawals")
	expect(t, "empty queue", reviewer.get("/console/withdrawals"), 200, "Approved. The payout system was told", `id="queue-empty"`)
	expect(t, "approved list", reviewer.get("/console/withdrawals?status=approved"), 200, id2, `<option value="approved" selected>`)
	absent(t, "approved list", reviewer.get("/console/withdrawals?status=approved"), id1)
	expect(t, "all", reviewer.get("/console/withdrawals?status=all"), 200, id1, id2)
	expect(t, "none expired", reviewer.get("/console/withdrawals?status=expired"), 200, `id="queue-empty"`)
	expect(t, "user sees approval", c.get(second), 200, `<span class="badge success">Approved</span>`)
	if hooks := s.webhooks("withdrawal.approved"); len(hooks) != 1 || !strings.Contains(hooks[0], id2) {
		t.Fatalf("approved webhooks %v", hooks)
	}
	if hooks := s.webhooks("withdrawal.rejected"); len(hooks) != 1 || !strings.Contains(hooks[0], id1) {
		t.Fatalf("rejected webhooks %v", hooks)
	}
	var reviewers []string
	for _, r := range s.audit(s.accountOf(email).ID) {
		if r.Action == "withdrawal.rejected" || r.Action == "withdrawal.approved" && strings.HasPrefix(r.Actor, "staff:") {
			reviewers = append(reviewers, r.Action)
		}
	}
	if !slices.Contains(reviewers, "withdrawal.rejected") || !slices.Contains(reviewers, "withdrawal.approved") {
		t.Errorf("staff decisions recorded: %v", reviewers)
	}
	reviewer.site = "cross-site"
	expect(t, "cross-site decision", reviewer.post("/console/withdrawals/"+id2+"/reject", "reason", "forged decision"), 403)
}

func TestConsoleRestrictions(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, func(svc *withdrawal.Service) { svc.Policy.RequireSecondFactor = false })
	const email = "fay@example.com"
	s.signedUp(email)
	s.setTier(email, 2)
	c := s.loggedIn(email, goodPassword)
	userID := s.accountOf(email).ID
	page := "/console/users/" + userID

	officer, _ := s.staffLoggedIn("cora@ops.example", staff.RoleCompliance)
	expect(t, "none", officer.get(page), 200, `id="no-restrictions"`, `action="/console/users/`+userID+`/restrictions"`,
		`<select id="restrict-expires" name="expires_in">`)
	expect(t, "no reason", officer.post(page+"/restrictions", "reason", "", "expires_in", "24h"), 422,
		`<a href="#restrict-reason">Give a reason: it is kept in the audit log.</a>`, `<option value="24h" selected>`)
	expect(t, "bad expiry", officer.post(page+"/restrictions", "reason", "Chargeback under review", "expires_in", "5y"), 422,
		"Choose how long from the list.")
	expect(t, "restrict", officer.post(page+"/restrictions", "reason", "Chargeback under review", "expires_in", "24h"), 303, page)
	res := officer.get(page)
	expect(t, "restricted", res, 200, "Withdrawals are restricted.", `<span class="badge warning">withdrawals</span>`, "Chargeback under review")
	rs, err := s.wd.Restrictions(context.Background(), userID)
	if err != nil || len(rs) != 1 || time.Until(rs[0].ExpiresAt) < 23*time.Hour {
		t.Fatalf("restrictions %+v %v", rs, err)
	}
	if !strings.Contains(res.body, `action="/console/users/`+userID+`/restrictions/`+rs[0].ID+`/lift"`) {
		t.Errorf("no lift button")
	}

	// The user's withdrawal is refused: the pause and its end are
	// explained, never the reason staff gave (monitoring.go's notice).
	withdraw := func() response {
		return c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", "k-restricted", "address_id", "other", "address", ethAddr, "amount", "0.1")
	}
	res = withdraw()
	expect(t, "refused", res, 422, `id="withdrawals-paused"`, `It ends on <time datetime="`+rs[0].ExpiresAt.UTC().Format(time.RFC3339)+`"`)
	absent(t, "refused", res, "Chargeback under review")

	// A role without users:write sees them but cannot change them.
	support, _ := s.staffLoggedIn("sue@ops.example", staff.RoleSupport)
	web.SetStaffAllows(s.pages, func(role, scope string) bool {
		return (role != staff.RoleSupport || scope != "users:write") && staff.Allows(role, scope)
	})
	res = support.get(page)
	expect(t, "support sees", res, 200, "Chargeback under review")
	absent(t, "support sees", res, `/lift"`, `id="restrict-form"`)
	expect(t, "support lifts", support.post(page+"/restrictions/"+rs[0].ID+"/lift"), 403)
	expect(t, "support restricts", support.post(page+"/restrictions", "reason", "Something else", "expires_in", ""), 403)

	expect(t, "lift", officer.post(page+"/restrictions/"+rs[0].ID+"/lift"), 303, page)
	expect(t, "lifted", officer.get(page), 200, "The restriction was lifted.", `id="no-restrictions"`)
	expect(t, "lift twice", officer.post(page+"/restrictions/"+rs[0].ID+"/lift"), 303, page)
	expect(t, "stale", officer.get(page), 200, "That restriction had already ended.")
	res = withdraw()
	if res.status != 303 {
		t.Fatalf("withdraw after the lift: %d\n%s", res.status, res.body)
	}
	var actions []string
	for _, r := range s.audit(userID) {
		actions = append(actions, r.Action)
	}
	if !slices.Contains(actions, "account.restricted") || !slices.Contains(actions, "account.restriction_lifted") {
		t.Errorf("audit: %v", actions)
	}
}

// With OneInReview, a withdrawal held for staff holds the next: the withdraw
// form says so with a link to the withdrawals, and the help page lists it
// among what holds withdrawals.
func TestWithdrawalInReviewHoldsTheNext(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, func(svc *withdrawal.Service) {
		svc.Policy.RequireSecondFactor, svc.Policy.OneInReview = false, true
		svc.Review = func(context.Context, withdrawal.Tx, withdrawal.Withdrawal) (bool, []string, error) {
			return true, []string{"large_transfer"}, nil
		}
	})
	const email = "rex@example.com"
	s.signedUp(email)
	s.setTier(email, 2)
	c := s.loggedIn(email, goodPassword)
	absent(t, "nothing held yet", c.get("/help"), `id="hold-review"`)
	held := s.confirmedWithdrawal(c, email, "0.5")
	key := idempotencyKeyOf(t, c.get("/withdraw?asset=ETH:ethereum"))
	res := c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", "0.1")
	expect(t, "second", res, 422, "One of your withdrawals is being reviewed by our team; new withdrawals wait until it is decided.",
		`<a href="/withdrawals">See your withdrawals</a>`)
	expect(t, "help", c.get("/help"), 200, `id="hold-review"`, `href="`+held+`"`)
	if n := len(s.withdrawalsOf(email)); n != 1 {
		t.Fatalf("%d withdrawals, want the held one only", n)
	}
}

var freshForOnPage = regexp.MustCompile(`data-price-fresh-for="(\d+)"`)

// The withdraw form carries the numbers of its live limit display
// (static/withdraw-limits.js) as data- attributes: the asset's price and
// when it was fed, how long it stays usable, and the limits and what is
// left of them. The limits the server writes stay on the page for browsers
// without the script; the display's box is hidden until it runs.
func TestWithdrawFormCarriesTheLiveLimitNumbers(t *testing.T) {
	t.Parallel()
	s := newWithdrawalSite(t, nil)
	const email = "lena@example.com"
	c, _ := s.withdrawer(email, 1) // 1,000.00 a withdrawal, 2,000.00 a day
	key := idempotencyKeyOf(t, c.get("/withdraw?asset=ETH:ethereum"))
	expect(t, "withdraw", c.post("/withdraw", "asset", "ETH:ethereum", "idempotency_key", key, "address_id", "other", "address", ethAddr, "amount", "0.25"), 303)
	var price withdrawal.Price
	if err := s.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		price, err = tx.PriceOf(context.Background(), "ETH")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	res := c.get("/withdraw?asset=ETH:ethereum")
	expect(t, "form", res, 200, `<dd id="limit-available"><strong>1250.00 USD</strong></dd>`,
		`<div class="notice info limit-estimate" id="withdraw-estimate" role="status" hidden`,
		`data-limit-estimate data-asset="ETH" data-asset-decimals="18"`, `data-currency="USD" data-currency-decimals="2"`,
		`data-per-transaction="1000.00" data-rolling-24h="2000.00" data-available="1250.00"`,
		`data-price="3000.00" data-price-as-of="`+price.AsOf.UTC().Format(time.RFC3339)+`"`,
		`At 3000.00 USD for 1 ETH, the price of <time datetime="`+price.AsOf.UTC().Format(time.RFC3339)+`"`)
	script := regexp.MustCompile(`<script src="(/static/withdraw-limits\.js\?v=[0-9a-f]{16})" defer></script>`).FindStringSubmatch(res.body)
	if script == nil {
		t.Fatalf("the form does not load its script:\n%s", res.body)
	}
	if i, j := strings.Index(res.body, `id="withdraw-amount"`), strings.Index(res.body, `id="withdraw-estimate"`); i < 0 || j < i {
		t.Error("the display is not after the amount")
	}
	// The price was fed just now and is used for 10 minutes (PriceMaxAge).
	m := freshForOnPage.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatal("no data-price-fresh-for")
	}
	fresh, _ := strconv.Atoi(m[1])
	if left := time.Until(price.AsOf.Add(10 * time.Minute)); time.Duration(fresh)*time.Second > left || fresh < 590 {
		t.Errorf("data-price-fresh-for=%d, want the seconds left of 10 minutes (%s)", fresh, left)
	}
	js := c.get(script[1])
	if js.status != 200 || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, "data-limit-estimate") {
		t.Fatalf("script: %d %q", js.status, js.header.Get("Content-Type"))
	}

	// A price older than PriceMaxAge is none: the display says so, and has no price to value with.
	if err := s.store.Write(context.Background(), func(tx *store.Tx) error {
		return tx.PutPrice(context.Background(), withdrawal.Price{Asset: "XRP", Price: "0.5", AsOf: time.Now().Add(-11 * time.Minute), UpdatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	res = c.get("/withdraw?asset=XRP:xrp")
	expect(t, "stale price", res, 200, `data-asset="XRP" data-asset-decimals="6"`, `data-available="1250.00">`,
		"We have no recent price for XRP, so its value is not shown")
	absent(t, "stale price", res, "data-price=", "data-price-as-of=")

	// No form, no display: before an asset is chosen, and at a tier without withdrawals.
	absent(t, "no asset chosen", c.get("/withdraw"), "data-limit-estimate", "withdraw-limits.js")
	s.setTier(email, 0)
	absent(t, "tier 0", c.get("/withdraw?asset=ETH:ethereum"), "data-limit-estimate", "withdraw-limits.js")
}
