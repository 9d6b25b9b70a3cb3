package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardenhq/warden/client"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/server/servertest"
)

// The receiver is tested against a real Warden (server.New, as `warden
// serve` runs it): Warden approves a withdrawal, delivers the signed
// withdrawal.approved to the receiver, and the receiver's completion shows
// in Warden.

const (
	adminKey   = "payout-example-admin-key-0123456789-abcdefghijkl"
	password   = "correct horse battery staple"
	btcAddress = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
)

// warden is the running Warden the receiver works for.
type warden struct{ *servertest.Node }

// startWarden runs Warden until the test ends. Withdrawals are confirmed by
// the email link alone (no authenticator app to drive) and a device's first
// login starts no cooldown.
func startWarden(t *testing.T, dbURL string) *warden {
	t.Helper()
	n := servertest.Start(t, dbURL, adminKey, nil, map[string]string{
		"WARDEN_COOLDOWN_NEW_DEVICE":    "0s",
		"WARDEN_WITHDRAWAL_REQUIRE_2FA": "false",
	})
	return &warden{n}
}

// approvedWithdrawal makes a user who withdraws 0.01 BTC and confirms it
// from the email: Warden approves it and sends withdrawal.approved.
func (w *warden) approvedWithdrawal(t *testing.T, wc *client.Client, email string) *client.Withdrawal {
	t.Helper()
	ctx := context.Background()
	u := wc.User(w.SignUp(t, email, password))
	// Personal information alone grants tier 1 (1,000.00 a withdrawal).
	if _, err := u.SavePersonalInfo(ctx, client.PersonalInfo{LegalName: "Ada Lovelace", DateOfBirth: "1990-12-10", Country: "GB",
		Address: client.PostalAddress{Line1: "12 St James's Square", City: "London"}}); err != nil {
		t.Fatal(err)
	}
	if v, err := u.SubmitVerification(ctx); err != nil || v.Tier != 1 {
		t.Fatalf("verification: %+v %v", v, err)
	}
	if err := wc.PutPrices(ctx, []client.Price{{Asset: "BTC", ReferencePrice: "60000", AsOf: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if _, err := u.RequestWithdrawal(ctx, client.WithdrawalRequest{Asset: "BTC", Network: "bitcoin", Amount: "0.01", Address: btcAddress}); err != nil {
		t.Fatal(err)
	}
	wd, err := u.ConfirmWithdrawalEmail(ctx, w.EmailLinkToken(t, email, "Confirm your withdrawal", "/withdrawals/confirm"))
	if err != nil || wd.Status != client.StatusApproved {
		t.Fatalf("confirmed: %+v %v", wd, err)
	}
	return wd
}

// delivery is one request the receiver got.
type delivery struct {
	header http.Header
	body   []byte
	status int
}

// startReceiver registers a webhook endpoint for withdrawal.approved and
// serves the receiver on it; it returns the receiver, the endpoint's
// secret and the deliveries seen so far.
func startReceiver(t *testing.T, wc *client.Client) (rc *receiver, secret string, deliveries func() []delivery, payouts func() int) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep, err := wc.CreateWebhook(context.Background(), "http://"+l.Addr().String()+"/webhook", "payout-receiver test", client.EventWithdrawalApproved)
	if err != nil {
		t.Fatal(err)
	}
	rc = newReceiver(wc, ep.Secret, slog.New(slog.NewTextHandler(t.Output(), nil)))
	var mu sync.Mutex
	var seen []delivery
	paid := 0
	send := rc.sendPayout
	rc.sendPayout = func(ctx context.Context, w client.WithdrawalApproved) (string, error) {
		mu.Lock()
		paid++
		mu.Unlock()
		return send(ctx, w)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhook", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		rc.ServeHTTP(rec, r)
		mu.Lock()
		seen = append(seen, delivery{header: r.Header.Clone(), body: body, status: rec.Code})
		mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return rc, ep.Secret, func() []delivery {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(seen)
		}, func() int {
			mu.Lock()
			defer mu.Unlock()
			return paid
		}
}

// post sends a delivery to the receiver's handler and answers the status.
func post(rc http.Handler, header http.Header, body []byte) int {
	r := httptest.NewRequest("POST", "/webhook", bytes.NewReader(body))
	r.Header = header.Clone()
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, r)
	return w.Code
}

// sign makes a delivery as Warden does (notify.SignWebhook).
func sign(t *testing.T, secret, id string, body []byte) http.Header {
	t.Helper()
	key, err := notify.DecodeWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", notify.SignWebhook(key, id, now, body))
	return h
}

func TestPayoutReceiver(t *testing.T) {
	t.Parallel()
	servertest.EachDatabase(t, func(t *testing.T, dbURL string) { payoutReceiver(t, startWarden(t, dbURL)) })
}

func payoutReceiver(t *testing.T, w *warden) {
	ctx := context.Background()
	wc, err := client.New(w.Base, client.WithAdminKey(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	rc, secret, deliveries, payouts := startReceiver(t, wc)

	// Warden approves a withdrawal, delivers withdrawal.approved to the
	// receiver, which pays and reports the txid: Warden shows it completed.
	wd := w.approvedWithdrawal(t, wc, "ada@example.com")
	var got *client.Withdrawal
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = wc.GetWithdrawal(ctx, wd.ID); err != nil {
			t.Fatal(err)
		}
		// The receiver reports completion before its answer to the
		// delivery is recorded: wait for both.
		if got.Status == client.StatusCompleted && len(deliveries()) > 0 {
			break
		}
	}
	if got.Status != client.StatusCompleted || got.TxID != fakeTxID(wd.ID) || got.CompletedAt == nil {
		t.Fatalf("after the webhook: %+v (deliveries %d)", got, len(deliveries()))
	}
	first := deliveries()
	if len(first) != 1 || first[0].status != http.StatusNoContent || payouts() != 1 {
		t.Fatalf("deliveries: %+v, payouts %d", first, payouts())
	}
	id := first[0].header.Get("webhook-id")

	// Warden delivers a message again (a lost 2xx): acknowledged, not paid twice.
	if code := post(rc, sign(t, secret, id, first[0].body), first[0].body); code != http.StatusNoContent || payouts() != 1 {
		t.Fatalf("repeated delivery: %d, payouts %d", code, payouts())
	}
	// A tampered body, an old signature, a wrong secret: refused, nothing paid.
	tampered := bytes.Replace(first[0].body, []byte(`"0.01000000"`), []byte(`"9.01000000"`), 1)
	if code := post(rc, sign(t, secret, "msg_tampered", first[0].body), tampered); code != http.StatusUnauthorized {
		t.Fatalf("tampered body: %d", code)
	}
	old := first[0].header.Clone()
	old.Set("webhook-id", "msg_old")
	key, _ := notify.DecodeWebhookSecret(secret)
	stale := time.Now().Add(-10 * time.Minute)
	old.Set("webhook-timestamp", strconv.FormatInt(stale.Unix(), 10))
	old.Set("webhook-signature", notify.SignWebhook(key, "msg_old", stale, first[0].body))
	if code := post(rc, old, first[0].body); code != http.StatusUnauthorized {
		t.Fatalf("old timestamp: %d", code)
	}
	if code := post(rc, sign(t, notify.NewWebhookSecret(), "msg_forged", first[0].body), first[0].body); code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", code)
	}
	if payouts() != 1 {
		t.Fatalf("refused deliveries paid: %d", payouts())
	}

	// Another message for the same withdrawal (made here, signed as Warden
	// signs): paid again by the fake wallet with the same txid, which
	// Warden accepts as a repeat — the withdrawal stays completed once.
	if code := post(rc, sign(t, secret, "msg_again", first[0].body), first[0].body); code != http.StatusNoContent || payouts() != 2 {
		t.Fatalf("second message for the withdrawal: %d, payouts %d", code, payouts())
	}
	if again, err := wc.GetWithdrawal(ctx, wd.ID); err != nil || again.Status != client.StatusCompleted || again.TxID != got.TxID ||
		!again.CompletedAt.Equal(*got.CompletedAt) {
		t.Fatalf("after the second message: %+v %v", again, err)
	}

	// An approval for a withdrawal Warden does not know: Warden refuses the
	// completion (404); retrying cannot help, so it is acknowledged.
	unknown := bytes.Replace(first[0].body, []byte(wd.ID), []byte("wdr_unknown"), 1)
	if code := post(rc, sign(t, secret, "msg_unknown", unknown), unknown); code != http.StatusNoContent {
		t.Fatalf("unknown withdrawal: %d", code)
	}

	// Warden unreachable: 503, not marked handled, so the redelivery is handled.
	down, _ := client.New("http://127.0.0.1:1", client.WithAdminKey(adminKey), client.WithoutRetries())
	offline := newReceiver(down, secret, slog.New(slog.NewTextHandler(t.Output(), nil)))
	h := sign(t, secret, "msg_offline", first[0].body)
	if code := post(offline, h, first[0].body); code != http.StatusServiceUnavailable {
		t.Fatalf("Warden unreachable: %d", code)
	}
	offline.warden = wc
	if code := post(offline, h, first[0].body); code != http.StatusNoContent {
		t.Fatalf("redelivery once Warden is back: %d", code)
	}
	if code := post(offline, h, first[0].body); code != http.StatusNoContent {
		t.Fatalf("third delivery: %d", code)
	}

	// Other event types are acknowledged.
	test := []byte(`{"type":"webhook.test","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","data":{}}`)
	if code := post(rc, sign(t, secret, "msg_test", test), test); code != http.StatusNoContent {
		t.Fatalf("webhook.test: %d", code)
	}
}

func TestRunNeedsKeyAndSecret(t *testing.T) {
	t.Setenv("WARDEN_ADMIN_KEY", "")
	t.Setenv("WARDEN_WEBHOOK_SECRET", "")
	if err := run([]string{"-warden", "http://localhost:8080"}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("run without a key: %v", err)
	}
	if err := run([]string{"-admin-key", "k", "-webhook-secret", "s", "-warden", "not a url"}); err == nil {
		t.Fatal("run with a bad Warden URL")
	}
}
