package withdrawal_test

import (
	"context"
	"errors"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/address"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/servicetest"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/totp/rfc6238"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

var t0 = time.Date(2031, time.March, 4, 5, 6, 10, 0, time.UTC)

const (
	btcAddr = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
	ethAddr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
)

var meta = account.Meta{IP: "203.0.113.7", UserAgent: "withdrawal-test"}

// env is the withdrawal service assembled as internal/server does, on a
// real store, with an injected clock.
type env struct {
	*servicetest.Services
	t   *testing.T
	ctx context.Context
	svc *withdrawal.Service
}

func catalog() withdrawal.Catalog {
	return withdrawal.Catalog{
		{Code: "BTC", Decimals: 8, Networks: []address.Network{{Name: "bitcoin", Kind: address.KindBitcoin}}},
		{Code: "ETH", Decimals: 18, Networks: []address.Network{{Name: "ethereum", Kind: address.KindEVM}}},
		{Code: "XRP", Decimals: 6, Networks: []address.Network{{Name: "xrp", Kind: address.KindPattern,
			Pattern: regexp.MustCompile(`r[1-9A-HJ-NP-Za-km-z]{24,34}`), MemoRequired: true, MemoPattern: regexp.MustCompile(`[0-9]{1,10}`)}}},
	}
}

func tiers() []verification.Tier {
	return []verification.Tier{
		{Level: 0},
		{Level: 1, PerTransaction: 1000_00, Rolling24h: 2000_00},
		{Level: 2, PerTransaction: 50000_00, Rolling24h: 100000_00},
	}
}

func policy() withdrawal.Policy {
	return withdrawal.Policy{AddressHold: 24 * time.Hour, ConfirmationTTL: 30 * time.Minute,
		CooldownPassword: 24 * time.Hour, CooldownMFA: 24 * time.Hour, CooldownNewDevice: 24 * time.Hour, CooldownUnfreeze: 24 * time.Hour,
		RequireSecondFactor: true, RequireEmail: true, PriceMaxAge: 10 * time.Minute, MaxMFAFailures: 5}
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	servicetest.Each(t, func(t *testing.T, st *store.Store, keys *keyring.Keyring) { fn(t, newEnv(t, st, keys)) })
}

func newEnv(t *testing.T, st *store.Store, keys *keyring.Keyring) *env {
	base := servicetest.New(t, st, keys, servicetest.NewClock(t0))
	svc := &withdrawal.Service{
		Transact: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Write(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		View: func(ctx context.Context, fn func(withdrawal.Tx) error) error {
			return st.Read(ctx, func(tx *store.Tx) error { return fn(tx) })
		},
		Accounts: base.Accounts, MFA: base.MFA, Assets: catalog(), Tiers: tiers(),
		Currency: money.Currency{Code: "USD", Decimals: 2}, Policy: policy(), Now: base.Clock.Now,
	}
	base.SubscribeWebhooks(t)
	e := &env{Services: base, t: t, ctx: context.Background(), svc: svc}
	e.prices()
	return e
}

// prices feeds fresh prices: 1 BTC = 60,000.00, 1 ETH = 3,000.00, 1 XRP = 0.50.
func (e *env) prices() {
	e.t.Helper()
	now := e.Clock.Now()
	if err := e.svc.SetPrices(e.ctx, []withdrawal.PriceInput{
		{Asset: "BTC", Price: "60000", AsOf: now}, {Asset: "ETH", Price: "3000.00", AsOf: now}, {Asset: "XRP", Price: "0.5", AsOf: now},
	}, account.Meta{Actor: "admin_key:test"}); err != nil {
		e.t.Fatal(err)
	}
}

// user makes a verified account at tier, with its first device seen long
// ago. It is marked as having a second factor (withdrawals need one); tests
// that confirm with codes enrol a real one with enableMFA.
func (e *env) user(email string, tier int) (account.Account, session.Session) {
	e.t.Helper()
	addr, key, _ := account.NormalizeEmail(email)
	long := e.Clock.Now().Add(-30 * 24 * time.Hour)
	a := account.Account{ID: id.New("usr"), Realm: account.RealmUser, Email: addr, EmailKey: key, EmailVerifiedAt: long,
		CreatedAt: long, VerificationTier: tier, MFAEnabled: true}
	if err := e.Store.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertAccount(e.ctx, a) }); err != nil {
		e.t.Fatal(err)
	}
	// The session's device was first seen a month ago: no new-device cooldown.
	e.Clock.Add(-30 * 24 * time.Hour)
	started, err := e.Sessions.Start(e.ctx, a, session.AAL1, session.Meta{IP: meta.IP, UserAgent: meta.UserAgent, TrustDevice: true})
	e.Clock.Add(30 * 24 * time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, started.Session
}

// enableMFA turns the authenticator app on in sess and returns its secret.
func (e *env) enableMFA(a account.Account, sess session.Session) (account.Account, string) {
	e.t.Helper()
	en, err := e.MFA.BeginTOTP(e.ctx, a)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.MFA.ConfirmTOTP(e.ctx, a, sess.ID, e.code(en.Secret), meta); err != nil {
		e.t.Fatal(err)
	}
	// Turning 2FA on is not a cooldown change (only removing it is).
	return e.Reload(e.t, a), en.Secret
}

func (e *env) code(secret string) string {
	e.t.Helper()
	c, err := rfc6238.Code(secret, e.Clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// lastLink is the action link of the newest email to `to`.
func (e *env) lastLink(to string) url.Values {
	e.t.Helper()
	for _, mail := range slices.Backward(e.Emails(e.t, to)) {
		if i := strings.Index(mail.Text, servicetest.BaseURL+"/"); i >= 0 {
			link := strings.Fields(mail.Text[i:])[0]
			if strings.Contains(link, "token=") && !strings.Contains(link, "/freeze") {
				u, err := url.Parse(link)
				if err != nil {
					e.t.Fatal(err)
				}
				return u.Query()
			}
		}
	}
	e.t.Fatalf("no email with a link to %s", to)
	return nil
}

func refusal(t *testing.T, err error, code string) *withdrawal.Refusal {
	t.Helper()
	var r *withdrawal.Refusal
	if !errors.As(err, &r) || r.Code != code {
		t.Fatalf("got %v, want refusal %s", err, code)
	}
	return r
}

// addActive puts an address in the book and lets its hold pass.
func (e *env) addActive(a account.Account, sess session.Session, secret string, n withdrawal.NewAddress) withdrawal.Address {
	e.t.Helper()
	e.Clock.Add(30 * time.Second) // each code below is of a new time step
	if err := e.MFA.StepUp(e.ctx, a, sess.ID, mfa.Proof{Method: mfa.MethodTOTP, Code: e.code(secret)}, meta); err != nil {
		e.t.Fatal(err)
	}
	e.Clock.Add(30 * time.Second)
	added, err := e.svc.AddAddress(e.ctx, a, e.Session(e.t, sess), n, meta)
	if err != nil {
		e.t.Fatal(err)
	}
	link := e.lastLink(a.Email)
	if link.Get("id") != added.ID {
		e.t.Fatalf("confirmation link for %s, want %s", link.Get("id"), added.ID)
	}
	if _, err := e.svc.ConfirmAddress(e.ctx, a, sess, added.ID, link.Get("token"), e.code(secret), meta); err != nil {
		e.t.Fatal(err)
	}
	e.Clock.Add(24 * time.Hour)
	e.prices()
	return added
}

func TestValue(t *testing.T) {
	price := func(s string) *big.Rat {
		r, err := withdrawal.ParsePrice(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct {
		amount   int64
		decimals int
		price    string
		want     int64
	}{
		{100_000_000, 8, "60000", 60000_00},
		{1, 8, "60000", 1},        // 0.0006 cents rounds up to a cent
		{1_500_000, 6, "0.5", 75}, // 1.5 XRP at 0.50
		{1_000_000_000_000_000_000, 18, "3000.00", 3000_00},
		{333, 2, "0.000001", 1},
	} {
		got, err := withdrawal.Value(big.NewInt(tt.amount), tt.decimals, price(tt.price), 2)
		if err != nil || got != tt.want {
			t.Errorf("Value(%d, %d, %s) = %d, %v; want %d", tt.amount, tt.decimals, tt.price, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "1e3", "NaN", "01", "1.", ".5", "1,000", "1.0000000000000000001"} {
		if _, err := withdrawal.ParsePrice(bad); !errors.Is(err, withdrawal.ErrPrice) {
			t.Errorf("ParsePrice(%q) = %v, want ErrPrice", bad, err)
		}
	}
}

func TestWithdrawalHappyPath(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, sess := e.user("ada@example.com", 2)
		if _, err := e.svc.AddAddress(e.ctx, a, sess, withdrawal.NewAddress{Asset: "BTC", Network: "bitcoin", Address: btcAddr}, meta); err == nil {
			t.Fatal("address added without 2FA")
		}
		a, secret := e.enableMFA(a, sess)
		if _, err := e.svc.AddAddress(e.ctx, a, e.Session(t, sess), withdrawal.NewAddress{Asset: "BTC", Network: "bitcoin", Address: btcAddr}, meta); err != nil {
			// ConfirmTOTP proved a factor in this session just now: no step-up needed.
			t.Fatalf("add right after enrolment: %v", err)
		}
		e.Clock.Add(10 * time.Minute)
		refusal(t, func() error {
			_, err := e.svc.AddAddress(e.ctx, a, e.Session(t, sess), withdrawal.NewAddress{Asset: "BTC", Network: "bitcoin", Address: btcAddr}, meta)
			return err
		}(), withdrawal.CodeMFARequired)
		addr := e.addActive(a, sess, secret, withdrawal.NewAddress{Asset: "BTC", Network: "bitcoin", Address: strings.ToUpper(btcAddr), Label: "cold wallet"})
		if addr.Address != btcAddr {
			t.Fatalf("address stored as %q, want the normalized %q", addr.Address, btcAddr)
		}

		d, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "BTC", Network: "bitcoin", Amount: "0.5", AddressID: addr.ID,
			IdempotencyKey: "k1", Session: sess, Meta: meta})
		if err != nil {
			t.Fatal(err)
		}
		w := d.Withdrawal
		if w.Status != withdrawal.StatusAwaitingConfirmation || w.Amount.Int64() != 50_000_000 || w.ReferenceValue != 30000_00 ||
			!slices.Equal(w.Pending(), []string{withdrawal.RequireSecondFactor, withdrawal.RequireEmail}) {
			t.Fatalf("request %+v", w)
		}
		again, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "BTC", Network: "bitcoin", Amount: "0.5", AddressID: addr.ID,
			IdempotencyKey: "k1", Session: sess, Meta: meta})
		if err != nil || !again.Repeat || again.Withdrawal.ID != w.ID {
			t.Fatalf("repeat: %+v %v", again, err)
		}
		if _, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "BTC", Network: "bitcoin", Amount: "0.6", AddressID: addr.ID,
			IdempotencyKey: "k1", Session: sess, Meta: meta}); !errors.Is(err, withdrawal.ErrIdempotencyKey) {
			t.Fatalf("key reused with another body: %v", err)
		}
		token := e.lastLink(a.Email).Get("token")
		if _, err := e.svc.ConfirmCode(e.ctx, a, sess, w.ID, "000000", meta); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("wrong code: %v", err)
		}
		e.Clock.Add(30 * time.Second)
		if w, err = e.svc.ConfirmCode(e.ctx, a, sess, w.ID, e.code(secret), meta); err != nil || w.Status != withdrawal.StatusAwaitingConfirmation {
			t.Fatalf("code: %+v %v", w, err)
		}
		if e.Webhooks(t, "withdrawal.approved") != 0 {
			t.Fatal("approved before the email confirmation")
		}
		if w, err = e.svc.ConfirmEmail(e.ctx, token, meta); err != nil || w.Status != withdrawal.StatusApproved {
			t.Fatalf("email: %+v %v", w, err)
		}
		if _, err := e.svc.ConfirmEmail(e.ctx, token, meta); !errors.Is(err, withdrawal.ErrInvalidToken) {
			t.Fatalf("token used twice: %v", err)
		}
		if e.Webhooks(t, "withdrawal.approved") != 1 {
			t.Fatal("no withdrawal.approved webhook")
		}
		l, err := e.svc.LimitsOf(e.ctx, a)
		if err != nil || l.Used24h != 30000_00 || l.Available() != 70000_00 {
			t.Fatalf("limits %+v %v", l, err)
		}
		if w, err = e.svc.Complete(e.ctx, w.ID, "txid-1", account.Meta{Actor: "admin_key:k"}); err != nil || w.Status != withdrawal.StatusCompleted {
			t.Fatalf("complete %+v %v", w, err)
		}
		if _, err := e.svc.Complete(e.ctx, w.ID, "txid-1", account.Meta{Actor: "admin_key:k"}); err != nil {
			t.Fatalf("a retried completion: %v", err)
		}
	})
}

func TestWithdrawalRefusalsInOrder(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, sess := e.user("bob@example.com", 2)
		a, secret := e.enableMFA(a, sess)
		addr := e.addActive(a, sess, secret, withdrawal.NewAddress{Asset: "ETH", Network: "ethereum", Address: ethAddr})
		req := func(amount string) error {
			_, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: amount, AddressID: addr.ID, Session: sess, Meta: meta})
			return err
		}
		for _, bad := range []string{"1e3", "-1", "0", "NaN", "0.1234567891234567891", "99999999999999999999999", ""} {
			var verr *withdrawal.ValidationError
			if err := req(bad); !errors.As(err, &verr) || verr.Code != withdrawal.CodeInvalidAmount {
				t.Errorf("amount %q: %v", bad, err)
			}
		}
		refusal(t, req("17"), withdrawal.CodeLimitExceeded) // 51,000 > 50,000 a transaction; 17e18 wei passes 64 bits
		e.Clock.Add(11 * time.Minute)
		refusal(t, req("1"), withdrawal.CodePriceUnavailable)
		e.prices()

		// Tier 1 allows 1,000 a withdrawal; tier 0 nothing.
		poor, psess := e.user("poor@example.com", 0)
		_, err := e.svc.Request(e.ctx, poor, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: "0.1", Address: ethAddr, Session: psess, Meta: meta})
		refusal(t, err, withdrawal.CodeVerificationRequired)

		// Without a second factor a request could never be confirmed.
		bare, bsess := e.user("bare@example.com", 2)
		if err := e.Store.Write(e.ctx, func(tx *store.Tx) error {
			_, err := tx.UpdateAccount(e.ctx, bare.ID, func(old account.Account) (account.Account, error) {
				old.MFAEnabled = false
				return old, nil
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Request(e.ctx, e.Reload(t, bare), withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: "0.1", Address: ethAddr, Session: bsess, Meta: meta})
		refusal(t, err, withdrawal.CodeMFARequired)

		// A password change starts the cooldown; it is checked before the tier.
		if err := e.Store.Write(e.ctx, func(tx *store.Tx) error {
			_, err := tx.UpdateAccount(e.ctx, a.ID, func(old account.Account) (account.Account, error) {
				old.PasswordChangedAt = e.Clock.Now()
				return old, nil
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		r := refusal(t, req("1"), withdrawal.CodeLocked)
		if r.Reason != "cooldown" || !r.Until.Equal(e.Clock.Now().Add(24*time.Hour)) {
			t.Fatalf("cooldown %+v", r)
		}
		e.Clock.Add(24 * time.Hour)
		e.prices()
		if err := req("1"); err != nil {
			t.Fatalf("after the cooldown: %v", err)
		}
		// A restriction locks; lifting it unlocks.
		rs, err := e.svc.Restrict(e.ctx, a.ID, withdrawal.NewRestriction{Kind: "withdrawals", Reason: "unusual activity", LiftOn: "verification"}, account.Meta{Actor: "staff:s1"})
		if err != nil {
			t.Fatal(err)
		}
		if r := refusal(t, req("1"), withdrawal.CodeLocked); r.Reason != "restricted" {
			t.Fatalf("restricted: %+v", r)
		}
		if got := e.Reload(t, a).Restrictions; !slices.Equal(got, []string{"withdrawals"}) {
			t.Fatalf("account row carries %v", got)
		}
		if _, err := e.svc.Lift(e.ctx, a.ID, rs.ID, account.Meta{Actor: "staff:s1"}); err != nil {
			t.Fatal(err)
		}
		if got := e.Reload(t, a).Restrictions; len(got) != 0 {
			t.Fatalf("lifted, the account row still carries %v", got)
		}
		// A restriction with an expiry ends by itself.
		if _, err := e.svc.Restrict(e.ctx, a.ID, withdrawal.NewRestriction{Kind: "login", Reason: "check", ExpiresAt: e.Clock.Now().Add(time.Hour)}, account.Meta{Actor: "staff:s1"}); err != nil {
			t.Fatal(err)
		}
		if n, err := e.svc.ExpireRestrictions(e.ctx); err != nil || n != 0 {
			t.Fatalf("expired early: %d %v", n, err)
		}
		e.Clock.Add(time.Hour)
		if n, err := e.svc.ExpireRestrictions(e.ctx); err != nil || n != 1 || len(e.Reload(t, a).Restrictions) != 0 {
			t.Fatalf("expiry: %d %v %v", n, err, e.Reload(t, a).Restrictions)
		}
		e.prices()
		if _, err := e.Accounts.Freeze(e.ctx, a.ID, "not me", meta); err != nil {
			t.Fatal(err)
		}
		if r := refusal(t, req("1"), withdrawal.CodeLocked); r.Reason != "frozen" {
			t.Fatalf("frozen: %+v", r)
		}
	})
}

// Each security change starts its cooldown through the real action that
// makes it: 2FA removed (the 2FA reset's RemoveAllFactors), a new device's
// first login, an unfreeze. Each refuses with withdrawals_locked, reason
// cooldown, until the configured time has passed.
func TestSecurityChangesStartTheirCooldowns(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		e.svc.Policy.CooldownMFA, e.svc.Policy.CooldownNewDevice, e.svc.Policy.CooldownUnfreeze = 24*time.Hour, 6*time.Hour, 12*time.Hour
		for _, tc := range []struct {
			name   string
			change func(a account.Account, sess session.Session) (account.Account, session.Session)
			wait   time.Duration
		}{
			{"2FA removed", func(a account.Account, sess session.Session) (account.Account, session.Session) {
				if err := e.Store.Write(e.ctx, func(tx *store.Tx) error {
					_, err := e.MFA.RemoveAllFactors(e.ctx, tx, a.ID, e.Clock.Now())
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return e.Reload(t, a), sess
			}, 24 * time.Hour},
			{"first login from a new device", func(a account.Account, _ session.Session) (account.Account, session.Session) {
				started, err := e.Sessions.Start(e.ctx, a, session.AAL1, session.Meta{IP: "198.51.100.7", UserAgent: "Other browser", TrustDevice: true})
				if err != nil {
					t.Fatal(err)
				}
				return a, started.Session
			}, 6 * time.Hour},
			{"unfrozen", func(a account.Account, _ session.Session) (account.Account, session.Session) {
				if _, err := e.Accounts.Freeze(e.ctx, a.ID, "test", account.Meta{Actor: "staff:s"}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.Accounts.Unfreeze(e.ctx, a.ID, "identity checked", account.Meta{Actor: "staff:s"}); err != nil {
					t.Fatal(err)
				}
				// The freeze ended the session; the new one's device is new
				// too, but its cooldown (6 h) ends before the unfreeze's.
				started, err := e.Sessions.Start(e.ctx, e.Reload(t, a), session.AAL1, session.Meta{IP: meta.IP, UserAgent: meta.UserAgent})
				if err != nil {
					t.Fatal(err)
				}
				return e.Reload(t, a), started.Session
			}, 12 * time.Hour},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a, sess := e.user(strings.ReplaceAll(tc.name, " ", "-")+"@example.com", 2)
				a, sess = tc.change(a, sess)
				at := e.Clock.Now()
				_, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: "0.1", Address: ethAddr, Session: sess, Meta: meta})
				if r := refusal(t, err, withdrawal.CodeLocked); r.Reason != "cooldown" || !r.Until.Equal(at.Add(tc.wait)) {
					t.Fatalf("refusal %+v, want cooldown until %v", r, at.Add(tc.wait))
				}
			})
		}
	})
}

func TestAddressHoldAndAllowList(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, sess := e.user("carol@example.com", 2)
		a, secret := e.enableMFA(a, sess)
		for _, bad := range []withdrawal.NewAddress{
			{Asset: "BTC", Network: "bitcoin", Address: "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"},  // checksum
			{Asset: "BTC", Network: "bitcoin", Address: ethAddr},                                       // another network's
			{Asset: "ETH", Network: "ethereum", Address: "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}, // EIP-55
			{Asset: "XRP", Network: "xrp", Address: "rN7n7otQDd6FczFgLdSqtcsAUxDkw6fzRH"},              // memo missing
			{Asset: "BTC", Network: "ethereum", Address: ethAddr},                                      // wrong pair
		} {
			if _, err := e.svc.AddAddress(e.ctx, a, e.Session(t, sess), bad, meta); err == nil {
				t.Errorf("%+v accepted", bad)
			}
		}
		added, err := e.svc.AddAddress(e.ctx, a, e.Session(t, sess), withdrawal.NewAddress{Asset: "BTC", Network: "bitcoin", Address: btcAddr}, meta)
		if err != nil {
			t.Fatal(err)
		}
		token := e.lastLink(a.Email).Get("token")
		if _, err := e.svc.ConfirmAddress(e.ctx, a, sess, added.ID, "forged", e.code(secret), meta); !errors.Is(err, withdrawal.ErrInvalidToken) {
			t.Fatalf("forged token: %v", err)
		}
		e.Clock.Add(30 * time.Second)
		confirmed, err := e.svc.ConfirmAddress(e.ctx, a, sess, added.ID, token, e.code(secret), meta)
		if err != nil || confirmed.StatusAt(e.Clock.Now()) != withdrawal.AddressOnHold {
			t.Fatalf("confirm: %+v %v", confirmed, err)
		}
		req := withdrawal.Request{Asset: "BTC", Network: "bitcoin", Amount: "0.01", AddressID: added.ID, Session: sess, Meta: meta}
		_, err = e.svc.Request(e.ctx, a, req)
		if r := refusal(t, err, withdrawal.CodeAddressOnHold); !r.Until.Equal(confirmed.AvailableAt) {
			t.Fatalf("hold until %v, want %v", r.Until, confirmed.AvailableAt)
		}
		// With the allow-list off (the default) an address typed in works;
		// with it on, only book addresses that are active.
		typed := withdrawal.Request{Asset: "BTC", Network: "bitcoin", Amount: "0.01", Address: btcAddr, Session: sess, Meta: meta}
		if _, err := e.svc.Request(e.ctx, a, typed); err != nil {
			t.Fatalf("typed address, allow-list off: %v", err)
		}
		if _, err := e.svc.EnableAllowList(e.ctx, a, meta); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Request(e.ctx, a, typed)
		refusal(t, err, withdrawal.CodeAddressNotAllowed)
		e.Clock.Add(24 * time.Hour)
		e.prices()
		if _, err := e.svc.Request(e.ctx, a, req); err != nil {
			t.Fatalf("active address: %v", err)
		}
		// Turning it off: a second factor, the email link, then the hold.
		e.Clock.Add(time.Second) // after the withdrawal's email
		if err := e.MFA.StepUp(e.ctx, a, sess.ID, mfa.Proof{Method: mfa.MethodTOTP, Code: e.code(secret)}, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DisableAllowList(e.ctx, a, e.Session(t, sess), meta); err != nil {
			t.Fatal(err)
		}
		st, err := e.svc.ConfirmAllowListOff(e.ctx, e.lastLink(a.Email).Get("token"), meta)
		if err != nil || !st.AllowListAt(e.Clock.Now()) {
			t.Fatalf("allow-list off at once: %+v %v", st, err)
		}
		e.Clock.Add(24 * time.Hour)
		e.prices()
		if _, err := e.svc.Request(e.ctx, a, typed); err != nil {
			t.Fatalf("typed address after the switch-off's hold: %v", err)
		}
		if err := e.svc.DeleteAddress(e.ctx, a, added.ID, meta); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Request(e.ctx, a, req)
		refusal(t, err, withdrawal.CodeAddressNotAllowed)
	})
}

func TestExpiryAndCancelGiveTheLimitBack(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, sess := e.user("dan@example.com", 1)                                                                                  // 1,000 a withdrawal, 2,000 a day
		req := withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: "0.3", Address: ethAddr, Session: sess, Meta: meta} // 900
		first, err := e.svc.Request(e.ctx, a, req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Request(e.ctx, a, req); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Request(e.ctx, a, req)
		refusal(t, err, withdrawal.CodeLimitExceeded)
		if _, err := e.svc.Cancel(e.ctx, a, first.Withdrawal.ID, meta); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmCode(e.ctx, a, sess, first.Withdrawal.ID, "123456", meta); !errors.Is(err, withdrawal.ErrNotPending) {
			t.Fatalf("confirming a cancelled request: %v", err)
		}
		if _, err := e.svc.Request(e.ctx, a, req); err != nil {
			t.Fatalf("after a cancel: %v", err)
		}
		e.Clock.Add(31 * time.Minute)
		e.prices()
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n != 2 {
			t.Fatalf("expired %d %v, want 2", n, err)
		}
		l, _ := e.svc.LimitsOf(e.ctx, a)
		if l.Used24h != 0 {
			t.Fatalf("expired requests still hold %d", l.Used24h)
		}
	})
}

func TestReviewHoldAndStaffDecision(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		e.svc.Policy.RequireSecondFactor, e.svc.Policy.RequireEmail = false, true
		e.svc.Review = func(ctx context.Context, tx withdrawal.Tx, w withdrawal.Withdrawal) (bool, []string, error) {
			if w.ReferenceValue > 1000_00 {
				return true, []string{"large_transfer"}, nil
			}
			if w.ReferenceValue > 500_00 {
				return false, nil, errors.New("rules timed out")
			}
			return false, nil, nil
		}
		a, sess := e.user("eve@example.com", 2)
		request := func(amount string) withdrawal.Withdrawal {
			t.Helper()
			e.Clock.Add(time.Second) // emails are told apart by time
			_, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: amount, Address: ethAddr, Session: sess, Meta: meta})
			if err != nil {
				t.Fatal(err)
			}
			w, err := e.svc.ConfirmEmail(e.ctx, e.lastLink(a.Email).Get("token"), meta)
			if err != nil {
				t.Fatal(err)
			}
			return w
		}
		if w := request("0.1"); w.Status != withdrawal.StatusApproved {
			t.Fatalf("small: %s", w.Status)
		}
		held := request("1")
		if held.Status != withdrawal.StatusPendingReview || !slices.Equal(held.Reasons, []string{"large_transfer"}) {
			t.Fatalf("large: %+v", held)
		}
		if w := request("0.2"); w.Status != withdrawal.StatusPendingReview || !slices.Equal(w.Reasons, []string{"monitoring_unavailable"}) {
			t.Fatalf("monitoring failed: %+v", w)
		}
		if _, err := e.svc.Decide(e.ctx, held.ID, withdrawal.DecisionReject, "", account.Meta{Actor: "staff:s"}); err == nil {
			t.Fatal("rejected without a reason")
		}
		w, err := e.svc.Decide(e.ctx, held.ID, withdrawal.DecisionApprove, "checked with the customer", account.Meta{Actor: "staff:s"})
		if err != nil || w.Status != withdrawal.StatusApproved || w.Reviewer != "staff:s" {
			t.Fatalf("approve %+v %v", w, err)
		}
		if e.Webhooks(t, "withdrawal.approved") != 2 {
			t.Fatalf("%d approved webhooks, want 2", e.Webhooks(t, "withdrawal.approved"))
		}
	})
}

// With OneInReview, a withdrawal held for staff holds the account's next
// requests (withdrawals_locked, reason review) until staff decide it; other
// accounts are not held.
func TestOneWithdrawalInReviewHoldsTheNext(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		e.svc.Policy.RequireSecondFactor, e.svc.Policy.RequireEmail, e.svc.Policy.OneInReview = false, false, true
		e.svc.Review = func(ctx context.Context, tx withdrawal.Tx, w withdrawal.Withdrawal) (bool, []string, error) {
			return w.ReferenceValue > 1000_00, []string{"large_transfer"}, nil
		}
		a, sess := e.user("hal@example.com", 2)
		b, other := e.user("ivy@example.com", 2)
		request := func(who account.Account, sess session.Session, amount string) (withdrawal.Decided, error) {
			return e.svc.Request(e.ctx, who, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: amount, Address: ethAddr,
				Session: sess, Meta: meta})
		}
		held, err := request(a, sess, "1")
		if err != nil || held.Withdrawal.Status != withdrawal.StatusPendingReview {
			t.Fatalf("large: %+v, %v", held, err)
		}
		var r *withdrawal.Refusal
		if _, err := request(a, sess, "0.01"); !errors.As(err, &r) || r.Code != withdrawal.CodeLocked || r.Reason != "review" {
			t.Fatalf("while one is in review: %v, want withdrawals_locked (review)", err)
		}
		if w, err := request(b, other, "0.01"); err != nil || w.Withdrawal.Status != withdrawal.StatusApproved {
			t.Fatalf("another account: %+v, %v", w, err)
		}
		if _, err := e.svc.Decide(e.ctx, held.Withdrawal.ID, withdrawal.DecisionReject, "not the owner's usual", account.Meta{Actor: "staff:s"}); err != nil {
			t.Fatal(err)
		}
		if w, err := request(a, sess, "0.01"); err != nil || w.Withdrawal.Status != withdrawal.StatusApproved {
			t.Fatalf("once decided: %+v, %v", w, err)
		}
	})
}

// Issue 7: the check and the reservation of the limit are one serialised
// step per user. 50 concurrent requests, each worth 10% of the remaining 24 h
// limit: at most 10 are accepted.
func TestConcurrentRequestsCannotBeatTheLimit(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		a, sess := e.user("race@example.com", 1) // 2,000.00 a day
		var wg sync.WaitGroup
		var mu sync.Mutex
		accepted, refused := 0, 0
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// 0.0666… ETH at 3,000 = 200.00 = 10% of the day's limit.
				_, err := e.svc.Request(e.ctx, a, withdrawal.Request{Asset: "ETH", Network: "ethereum", Amount: "0.066666666666666666",
					Address: ethAddr, Session: sess, Meta: meta})
				mu.Lock()
				defer mu.Unlock()
				var r *withdrawal.Refusal
				switch {
				case err == nil:
					accepted++
				case errors.As(err, &r) && r.Code == withdrawal.CodeLimitExceeded:
					refused++
				default:
					t.Errorf("request: %v", err)
				}
			}()
		}
		wg.Wait()
		if accepted != 10 || refused != 40 {
			t.Fatalf("accepted %d, refused %d; want 10 and 40", accepted, refused)
		}
		l, _ := e.svc.LimitsOf(e.ctx, a)
		if l.Used24h != 2000_00 {
			t.Fatalf("used %d, want 200000", l.Used24h)
		}
	})
}
