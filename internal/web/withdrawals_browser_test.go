package web_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardenhq/warden/internal/browsertest"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// receivedHook is one webhook request as the receiver got it.
type receivedHook struct {
	header http.Header
	body   []byte
}

// runOutbox delivers the site's outbox as `warden serve` does, until the
// test ends: emails into the dev mailbox, webhooks to their endpoints.
func (s *site) runOutbox(t *testing.T) {
	t.Helper()
	w := &outbox.Worker{
		Queue: s.store,
		Deliverers: map[string]outbox.Deliverer{
			outbox.KindEmail:   notify.DevMailboxDeliverer{Store: s.store, From: "Acme <no-reply@localhost>", Now: time.Now},
			outbox.KindWebhook: notify.WebhookDeliverer{Secrets: s.store, Client: &http.Client{Timeout: 5 * time.Second}, Now: time.Now},
		},
		Policy: outbox.Policy{PollInterval: 50 * time.Millisecond, BackoffBase: 200 * time.Millisecond, BackoffMax: time.Second, Timeout: 5 * time.Second},
		Log:    quiet,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// devMailID waits for the dev mailbox's newest email to "to" whose subject
// is subject, and returns its id.
func (s *site) devMailID(t *testing.T, to, subject string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mails, err := s.store.ListDevMail(context.Background(), to, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails { // newest first
			if m.Subject == subject {
				return m.ID
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no email %q to %s in the dev mailbox", subject, to)
	return ""
}

// TestBrowserWithdrawal is issue 7's walk through the pages in Chromium: a
// user sets up the authenticator app, adds an address, confirms it from the
// dev mailbox with a code, waits out its hold (2 s here), withdraws to it,
// confirms with a code and the email's link, sees it approved, and a
// webhook receiver gets a validly signed withdrawal.approved.
func TestBrowserWithdrawal(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	start := time.Now()
	s := newWithdrawalSite(t, func(svc *withdrawal.Service) { svc.Policy.AddressHold = 2 * time.Second })
	base := browsertest.LocalURL(s.url)
	const email = "grace@example.com"

	hooks := make(chan receivedHook, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hooks <- receivedHook{header: r.Header.Clone(), body: body}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	secret := s.webhookEndpoint(receiver.URL + "/payouts")
	s.runOutbox(t)

	s.signedUp(email)
	s.setTier(email, 2)

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Context(), browsertest.StepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	wantPath := pathChecker(t, b, base)
	// openMail opens an email in the dev mailbox, as a person would, and
	// follows its link to path. The emails' links name the site's
	// configured base URL; the test's server listens elsewhere.
	openMail := func(subject, path string) {
		t.Helper()
		id := s.devMailID(t, email, subject)
		b.Navigate(base + "/dev/mailbox?to=" + email)
		b.ClickNavigate(`.mail-list a[href="/dev/mailbox/` + id + `"]`)
		if got := b.Text("h1"); got != subject {
			t.Fatalf("mail: %q", got)
		}
		href := browsertest.Eval[string](b, `Array.from(document.querySelectorAll(".mail-text a")).map(a => a.href).find(h => h.includes("`+path+`")) || ""`)
		if href == "" {
			t.Fatalf("the email %q has no %s link", subject, path)
		}
		b.Navigate(base + href[strings.Index(href, path):])
	}

	// Log in and set up the authenticator app (its key read off the page).
	b.Navigate(base + "/login")
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", goodPassword)
	b.ClickNavigate(`form[action="/login"] button[type="submit"]`)
	wantPath("logged in", "/account/security-center")
	b.Navigate(base + "/account/security")
	b.ClickNavigate("#setup-totp")
	totpSecret := strings.ReplaceAll(b.Text("#totp-secret"), " ", "")
	b.SendKeys("#totp-code", code(t, totpSecret, -30*time.Second))
	b.ClickNavigate("#confirm-totp")
	b.ClickNavigate("#codes-saved")

	// Add an address: the second factor was just proven, so no step-up.
	b.ClickNavigate(`.site-nav a[href="/addresses"]`)
	b.ClickNavigate("#add-address")
	wantPath("add form", "/addresses/new")
	do("choose BTC", chromedp.SetValue(chromedp.CSS("#address-asset"), "BTC:bitcoin"))
	b.SendKeys("#address-address", btcAddr)
	b.SendKeys("#address-label", "Cold wallet")
	b.Screenshot("address-new")
	b.ClickNavigate("#save-address")
	wantPath("added", "/addresses")
	if got := b.Text(".address-status"); !strings.Contains(got, "Waiting for your email confirmation") {
		t.Fatalf("new address: %q", got)
	}

	// Confirm it from the mailbox with the app's code; it goes on hold.
	openMail("Confirm the new withdrawal address", "/addresses/confirm")
	if got := b.Text("#confirm-address"); !strings.Contains(got, btcAddr) {
		t.Fatalf("confirm page: %q", got)
	}
	b.SendKeys("#address-code", code(t, totpSecret, 0))
	b.ClickNavigate("#confirm-address-submit")
	wantPath("confirmed", "/addresses")
	if got := b.Text(".address-status"); !strings.Contains(got, "On hold: usable in") {
		t.Fatalf("confirmed address: %q", got)
	}
	b.Screenshot("addresses-on-hold")
	book := s.addresses(email)
	if len(book) != 1 || book[0].Status != withdrawal.AddressOnHold {
		t.Fatalf("book %+v", book)
	}
	time.Sleep(time.Until(book[0].AvailableAt) + 100*time.Millisecond)
	b.Navigate(base + "/addresses")
	if got := b.Text(".address-status"); got != "Usable" {
		t.Fatalf("after the hold: %q", got)
	}

	// Withdraw to it: choose the asset, then the address and the amount.
	b.ClickNavigate(`.site-nav a[href="/withdraw"]`)
	if got := b.Text("#limit-available"); got != "100000.00 USD" {
		t.Errorf("available before: %q", got)
	}
	do("choose BTC", chromedp.SetValue(chromedp.CSS("#withdraw-asset"), "BTC:bitcoin"))
	b.ClickNavigate("#choose-asset-submit")
	do("choose the address", chromedp.SetValue(chromedp.CSS("#withdraw-destination"), book[0].ID))
	b.SendKeys("#withdraw-amount", "0.015")
	b.Screenshot("withdraw")
	b.ClickNavigate("#withdraw-submit")
	ws := s.withdrawalsOf(email)
	if len(ws) != 1 {
		t.Fatalf("%d withdrawals", len(ws))
	}
	wID := ws[0].ID
	wantPath("requested", "/withdrawals/"+wID)
	if got := b.Text("#withdrawal-status"); got != "Waiting for your confirmation" {
		t.Fatalf("status: %q", got)
	}
	if got := b.Text("#withdrawal-amount"); got != "0.015 BTC" {
		t.Errorf("amount: %q", got)
	}

	// The code from the app, then the email's link.
	b.SendKeys("#withdrawal-code", code(t, totpSecret, 30*time.Second))
	b.ClickNavigate("#confirm-code")
	if got := b.Text(".notice"); !strings.Contains(got, "Code accepted") {
		t.Fatalf("after the code: %q", got)
	}
	b.Screenshot("withdrawal-awaiting-email")
	openMail("Confirm your withdrawal", "/withdrawals/confirm")
	b.ClickNavigate("#confirm-withdrawal")
	if got := b.Text("#confirm-outcome"); !strings.Contains(got, "approved and being sent") {
		t.Fatalf("after the link: %q", got)
	}
	b.Navigate(base + "/withdrawals/" + wID)
	if got := b.Text("#withdrawal-status"); got != "Approved" {
		t.Fatalf("status: %q", got)
	}
	b.Screenshot("withdrawal-approved")
	b.ClickNavigate(`.site-nav a[href="/withdrawals"]`)
	if got := b.Text("#withdrawals"); !strings.Contains(got, "0.015 BTC") || !strings.Contains(got, "Approved") {
		t.Errorf("history: %q", got)
	}

	// The payout system's receiver gets withdrawal.approved, signed by the
	// Standard Webhooks scheme: checked here with crypto/hmac, not notify's code.
	var hook receivedHook
	deadline := time.After(10 * time.Second)
	for hook.body == nil {
		select {
		case h := <-hooks:
			var ev struct{ Type string }
			if json.Unmarshal(h.body, &ev) == nil && ev.Type == "withdrawal.approved" {
				hook = h
			}
		case <-deadline:
			t.Fatal("no withdrawal.approved webhook within 10 s")
		}
	}
	msgID, ts, sig := hook.header.Get("webhook-id"), hook.header.Get("webhook-timestamp"), hook.header.Get("webhook-signature")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msgID + "." + ts + "." + string(hook.body)))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if msgID == "" || ts == "" || !hmac.Equal([]byte(sig), []byte(want)) {
		t.Fatalf("webhook signature %q (id %q, timestamp %q), want %q", sig, msgID, ts, want)
	}
	var ev struct {
		Type string
		Data struct {
			WithdrawalID string `json:"withdrawal_id"`
			UserID       string `json:"user_id"`
			Asset        string
			Network      string
			Amount       string
			Address      string
		}
	}
	if err := json.Unmarshal(hook.body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Data.WithdrawalID != wID || ev.Data.UserID != s.accountOf(email).ID || ev.Data.Asset != "BTC" || ev.Data.Network != "bitcoin" ||
		ev.Data.Amount != "0.01500000" || ev.Data.Address != btcAddr {
		t.Errorf("webhook data %+v", ev.Data)
	}

	// On a phone, nothing is wider than the screen.
	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/addresses", "/withdraw?asset=BTC:bitcoin", "/withdrawals/"+wID, "/withdrawals")
	checkConsoleErrors(t, b)
	t.Logf("walked through in %s", time.Since(start).Round(time.Millisecond))
}
