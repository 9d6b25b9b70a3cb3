// Command payout-receiver is an example of a platform's payout system
// receiving Warden's webhooks: it verifies each delivery's signature,
// "sends" the payout of every withdrawal.approved, and reports the
// transaction id back to Warden, which marks the withdrawal completed and
// emails the user.
//
// It is an example: the payout is a log line and a made-up transaction id.
// A real payout system calls its wallet or payment provider where
// sendPayout is, and keeps what it did in its own database (see README.md).
//
//	payout-receiver -listen 127.0.0.1:9090 -warden http://localhost:8080 \
//	    -admin-key "$(cat warden-data/admin.key)" -webhook-secret whsec_…
//
// Every flag can be given by its environment variable instead: PAYOUT_LISTEN,
// WARDEN_URL, WARDEN_ADMIN_KEY, WARDEN_WEBHOOK_SECRET.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/wardenhq/warden/client"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "payout-receiver:", err)
		os.Exit(2)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("payout-receiver", flag.ContinueOnError)
	listen := fs.String("listen", env("PAYOUT_LISTEN", "127.0.0.1:9090"), "address to receive webhooks on (POST /webhook)")
	wardenURL := fs.String("warden", env("WARDEN_URL", "http://localhost:8080"), "Warden's base URL")
	adminKey := fs.String("admin-key", os.Getenv("WARDEN_ADMIN_KEY"), "admin key with the withdrawals:write scope (env WARDEN_ADMIN_KEY)")
	secret := fs.String("webhook-secret", os.Getenv("WARDEN_WEBHOOK_SECRET"), "the endpoint's signing secret, whsec_… (env WARDEN_WEBHOOK_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *adminKey == "" || *secret == "" {
		return errors.New("an admin key (-admin-key or WARDEN_ADMIN_KEY) and the webhook secret (-webhook-secret or WARDEN_WEBHOOK_SECRET) are required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	wc, err := client.New(*wardenURL, client.WithAdminKey(*adminKey), client.WithUserAgent("payout-receiver-example/1"))
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhook", newReceiver(wc, *secret, log))
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("receiving Warden webhooks", "url", "http://"+*listen+"/webhook", "warden", *wardenURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func env(key, fallback string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}

// maxBody bounds a webhook's body; Warden's events are a few hundred bytes.
const maxBody = 1 << 20

// receiver handles Warden's webhook deliveries.
type receiver struct {
	warden *client.Client
	secret string
	log    *slog.Logger
	// sendPayout moves the funds; the example's logs and makes up a txid.
	sendPayout func(ctx context.Context, w client.WithdrawalApproved) (txid string, err error)

	mu sync.Mutex
	// seen holds the webhook-ids handled, so a delivery Warden repeats (it
	// retries until it gets a 2xx, and a 2xx can be lost on the way back)
	// is acknowledged without acting twice. It is in memory because this is
	// an example: a real receiver keeps it in its database, in the same
	// transaction as the payout it records, or a restart forgets it and a
	// repeated delivery pays twice.
	seen map[string]bool
	// inFlight holds the ids being handled now, so that two concurrent
	// deliveries of one message do not both pay.
	inFlight map[string]bool
}

func newReceiver(wc *client.Client, secret string, log *slog.Logger) *receiver {
	r := &receiver{warden: wc, secret: secret, log: log, seen: map[string]bool{}, inFlight: map[string]bool{}}
	r.sendPayout = r.fakePayout
	return r
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	// The exact bytes received are verified: never re-encoded JSON.
	hook, err := client.VerifyWebhook(rc.secret, r.Header, body, time.Now(), client.DefaultWebhookTolerance)
	if err != nil {
		rc.log.Warn("refused a webhook", "error", err, "remote", r.RemoteAddr)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	log := rc.log.With("webhook_id", hook.ID, "type", hook.Type)

	switch rc.claim(hook.ID) {
	case claimSeen:
		log.Info("duplicate delivery, already handled")
		w.WriteHeader(http.StatusNoContent)
		return
	case claimBusy:
		// Warden retries non-2xx answers later, by when the first is done.
		http.Error(w, "being handled", http.StatusConflict)
		return
	}
	if err := rc.handle(r.Context(), log, hook); err != nil {
		rc.release(hook.ID, false)
		log.Error("webhook not handled; Warden will deliver it again", "error", err)
		http.Error(w, "not handled, retry later", http.StatusServiceUnavailable)
		return
	}
	rc.release(hook.ID, true)
	w.WriteHeader(http.StatusNoContent)
}

type claimResult int

const (
	claimNew claimResult = iota
	claimSeen
	claimBusy
)

func (rc *receiver) claim(id string) claimResult {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	switch {
	case rc.seen[id]:
		return claimSeen
	case rc.inFlight[id]:
		return claimBusy
	}
	rc.inFlight[id] = true
	return claimNew
}

func (rc *receiver) release(id string, done bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	delete(rc.inFlight, id)
	if done {
		rc.seen[id] = true
	}
}

// handle acts on one verified event. An error makes Warden deliver it again.
func (rc *receiver) handle(ctx context.Context, log *slog.Logger, hook client.Webhook) error {
	switch hook.Type {
	case client.EventWithdrawalApproved:
		return rc.payout(ctx, log, hook)
	case client.EventWebhookTest:
		log.Info("test event received: the endpoint and its secret work")
	default:
		log.Info("event not handled by this example")
	}
	return nil
}

// payout sends an approved withdrawal and reports its transaction id.
func (rc *receiver) payout(ctx context.Context, log *slog.Logger, hook client.Webhook) error {
	w, err := hook.WithdrawalApproved()
	if err != nil {
		return err
	}
	log = log.With("withdrawal_id", w.WithdrawalID)
	txid, err := rc.sendPayout(ctx, w)
	if err != nil {
		return fmt.Errorf("send payout: %w", err)
	}
	// Completing again with the same txid is harmless, so the client
	// retries it on network errors and 5xx answers.
	done, err := rc.warden.CompleteWithdrawal(ctx, w.WithdrawalID, txid)
	switch {
	case errors.Is(err, client.ErrWithdrawalNotPending), errors.Is(err, client.ErrNotFound):
		// Not approved any more, or completed with another txid: retrying
		// will not change that. Acknowledge, and have someone look.
		log.Error("Warden refused the completion: check this withdrawal by hand", "txid", txid, "error", err)
		return nil
	case err != nil:
		return fmt.Errorf("report completion: %w", err)
	}
	log.Info("payout completed", "status", done.Status, "txid", done.TxID)
	return nil
}

// fakePayout stands in for the wallet: it logs the payout and makes its
// "transaction id" from the withdrawal id, so that the same withdrawal
// always gets the same txid (and Warden accepts a repeated completion).
// A real payout system calls its wallet here, with the withdrawal id as the
// wallet's idempotency key, so that a payout retried after a crash between
// sending and recording is not sent twice.
func (rc *receiver) fakePayout(_ context.Context, w client.WithdrawalApproved) (string, error) {
	txid := fakeTxID(w.WithdrawalID)
	rc.log.Info("sending payout (example: nothing is sent)", "withdrawal_id", w.WithdrawalID, "amount", w.Amount,
		"asset", w.Asset, "network", w.Network, "address", w.Address, "memo", w.Memo,
		"reference_value", w.ReferenceValue+" "+w.Currency, "txid", txid)
	return txid, nil
}

// fakeTxID is the made-up transaction id of a withdrawal's payout: the
// hex SHA-256 of the withdrawal id, deterministic so that a repeated
// webhook reports the same txid.
func fakeTxID(withdrawalID string) string {
	sum := sha256.Sum256([]byte("payout-receiver example:" + withdrawalID))
	return hex.EncodeToString(sum[:])
}
