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

	"github.com/chromedp/cdproto/emulation"
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

// TestBrowserWithdrawLimitsLive types amounts into the withdraw form in
// Chromium and sees the live limit display follow: the value in USD, what
// is left of the limits per withdrawal and in 24 hours, and a warning when
// the amount is above them, which does not stop the form: the server
// refuses it with the same numbers. Without JavaScript the display stays
// hidden and the server's limits are what is shown.
func TestBrowserWithdrawLimitsLive(t *testing.T) {
	t.Parallel()
	b := browsertest.New(t)
	s := newWithdrawalSite(t, func(svc *withdrawal.Service) { svc.Policy.RequireSecondFactor = false })
	base := browsertest.LocalURL(s.url)
	const email = "ines@example.com"
	s.signedUp(email)
	s.setTier(email, 1) // 1,000.00 a withdrawal, 2,000.00 a day
	// 0.3 and 0.2 ETH waiting for their confirmations hold 1,500.00 of the day's 2,000.00.
	for _, amount := range []string{"0.3", "0.2"} {
		if _, err := s.wd.Request(context.Background(), s.accountOf(email), withdrawal.Request{Asset: "ETH", Network: "ethereum",
			Amount: amount, Address: ethAddr, IdempotencyKey: "earlier-" + amount}); err != nil {
			t.Fatal(err)
		}
	}
	wantPath := pathChecker(t, b, base)
	b.Navigate(base + "/login")
	b.SendKeys("#login-email", email)
	b.SendKeys("#login-password", goodPassword)
	b.ClickNavigate(`form[action="/login"] button[type="submit"]`)
	wantPath("logged in", "/account/security-center")

	b.Navigate(base + "/withdraw")
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b.Context(), browsertest.StepTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	do("choose ETH", chromedp.SetValue(chromedp.CSS("#withdraw-asset"), "ETH:ethereum"))
	b.ClickNavigate("#choose-asset-submit")
	b.WaitVisible("#withdraw-estimate")

	type display struct{ state, value, perTx, rolling string }
	read := func() display {
		t.Helper()
		return display{
			state:   browsertest.Eval[string](b, `document.querySelector("#withdraw-estimate").dataset.state`),
			value:   browsertest.Eval[string](b, `document.querySelector("#estimate-value").textContent`),
			perTx:   b.Text("#estimate-per-transaction"),
			rolling: b.Text("#estimate-24h"),
		}
	}
	typeAmount := func(amount string) display {
		t.Helper()
		browsertest.Eval[string](b, `document.querySelector("#withdraw-amount").value = ""`)
		b.SendKeys("#withdraw-amount", amount)
		return read()
	}
	check := func(what string, got, want display) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
		}
	}
	check("before typing", read(), display{"empty", "Type an amount to see what it is worth and what it leaves of your limits.",
		"Up to 1000.00 USD a withdrawal.", "500.00 USD left of your 24-hour limit of 2000.00 USD."})
	check("0.1 ETH", typeAmount("0.1"), display{"ok", "0.1 ETH is worth 300.00 USD.",
		"Within your limit of 1000.00 USD a withdrawal: 700.00 USD to spare.", "Leaves 200.00 USD of your 24-hour limit (500.00 USD left now)."})
	over := "0.2 ETH is worth 600.00 USD. That is more than your limits allow, so it would be refused: lower the amount."
	check("0.2 ETH", typeAmount("0.2"), display{"over", over,
		"Within your limit of 1000.00 USD a withdrawal: 400.00 USD to spare.", "Above what is left of your 24-hour limit, 500.00 USD, by 100.00 USD."})
	if !browsertest.Eval[bool](b, `document.querySelector("#withdraw-estimate").classList.contains("warning")`) {
		t.Error("the display above the limit is not a warning")
	}
	b.Screenshot("withdraw-limits-over")
	check("0.4 ETH", typeAmount("0.4"), display{"over", "0.4 ETH is worth 1200.00 USD. That is more than your limits allow, so it would be refused: lower the amount.",
		"Above your limit of 1000.00 USD a withdrawal, by 200.00 USD.", "Above what is left of your 24-hour limit, 500.00 USD, by 700.00 USD."})
	// Exact, and rounded up as the server values it: 1 wei is worth 0.000000000000003 USD.
	check("1 wei", typeAmount("0.000000000000000001"), display{"ok", "0.000000000000000001 ETH is worth 0.01 USD.",
		"Within your limit of 1000.00 USD a withdrawal: 999.99 USD to spare.", "Leaves 499.99 USD of your 24-hour limit (500.00 USD left now)."})
	for _, bad := range []string{"1e3", "0.1234567890123456789", "-1"} {
		if got := typeAmount(bad); got.state != "invalid" || got.value != "Type the amount as digits with a point, up to 18 decimals, such as 0.015." {
			t.Errorf("%q: %+v", bad, got)
		}
	}
	if got := typeAmount("0"); got.state != "invalid" || got.value != "The amount must be more than 0." {
		t.Errorf("0: %+v", got)
	}

	// The warning does not stop the form: the server decides, with the same numbers.
	typeAmount("0.2")
	b.SendKeys("#withdraw-address", ethAddr)
	if status := b.ClickNavigate("#withdraw-submit"); status != http.StatusUnprocessableEntity {
		t.Fatalf("submit above the limit: status %d", status)
	}
	if got := b.Text("#error-summary"); !strings.Contains(got, "worth 600.00 USD; 500.00 USD of your 24-hour limit of 2000.00 USD is left") {
		t.Errorf("server's refusal: %q", got)
	}
	// The refused form keeps the amount, and the display shows it at once.
	check("after the refusal", read(), display{"over", over,
		"Within your limit of 1000.00 USD a withdrawal: 400.00 USD to spare.", "Above what is left of your 24-hour limit, 500.00 USD, by 100.00 USD."})

	// Another asset, its own price: 0.005 BTC at 60,000.00.
	b.Navigate(base + "/withdraw")
	do("choose BTC", chromedp.SetValue(chromedp.CSS("#withdraw-asset"), "BTC:bitcoin"))
	b.ClickNavigate("#choose-asset-submit")
	check("0.005 BTC", typeAmount("0.005"), display{"ok", "0.005 BTC is worth 300.00 USD.",
		"Within your limit of 1000.00 USD a withdrawal: 700.00 USD to spare.", "Leaves 200.00 USD of your 24-hour limit (500.00 USD left now)."})
	if n := len(s.withdrawalsOf(email)); n != 2 {
		t.Fatalf("%d withdrawals, want the earlier two only", n)
	}
	b.SetViewport(360, 780)
	checkFitsScreen(t, b, base, "/withdraw?asset=BTC:bitcoin")
	checkConsoleErrors(t, b, "status of 422")

	// Without JavaScript: no display, the server's limits.
	ctx, cancel := context.WithTimeout(b.Context(), browsertest.StepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	b.Navigate(base + "/withdraw?asset=BTC:bitcoin")
	if display := browsertest.Eval[string](b, `getComputedStyle(document.querySelector("#withdraw-estimate")).display`); display != "none" {
		t.Errorf("the display shows without JavaScript (display: %s)", display)
	}
	if n := browsertest.Eval[int](b, `document.querySelector("#estimate-value").textContent.length`); n != 0 {
		t.Errorf("the script ran: the display says %d characters", n)
	}
	if got := b.Text("#limit-available"); got != "500.00 USD" {
		t.Errorf("server's limit without JavaScript: %q", got)
	}
}
