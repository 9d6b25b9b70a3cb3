package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/wardenhq/warden/client"
)

func Example() {
	ctx := context.Background()
	wc, err := client.New("https://security.example.com", client.WithAdminKey(os.Getenv("WARDEN_ADMIN_KEY")))
	if err != nil {
		log.Fatal(err)
	}
	// The platform's hot path: whose is this session token?
	in, err := wc.Introspect(ctx, "wss_…")
	if err != nil {
		log.Fatal(err)
	}
	if !in.Active || in.Frozen {
		fmt.Println("not signed in")
	}
}

func ExampleUser_RequestWithdrawal() {
	ctx := context.Background()
	wc, _ := client.New("https://security.example.com")
	u := wc.User("wss_…session token…", "wdv_…device token…")

	w, err := u.RequestWithdrawal(ctx, client.WithdrawalRequest{
		Asset: "BTC", Network: "bitcoin", Amount: "0.015", AddressID: "adr_…",
		// Stored with the platform's own record before the call, the key
		// also makes a retry after a crash of this process safe.
		IdempotencyKey: "wd-2031-000123",
	})
	var e *client.Error
	switch {
	case errors.Is(err, client.ErrLimitExceeded) && errors.As(err, &e):
		fmt.Printf("over the limit: %s %s left today\n", e.Limits.Available24h, e.Limits.Currency)
	case errors.Is(err, client.ErrWithdrawalsLocked) && errors.As(err, &e):
		fmt.Println("locked:", e.Reason, "until", e.Until)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println(w.ID, w.Status, "needs", w.Required)
	}
}

func ExampleVerifyWebhook() {
	wc, _ := client.New("https://security.example.com", client.WithAdminKey(os.Getenv("WARDEN_ADMIN_KEY")))
	secret := os.Getenv("WARDEN_WEBHOOK_SECRET") // whsec_…, from CreateWebhook

	http.HandleFunc("POST /webhooks/warden", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		hook, err := client.VerifyWebhook(secret, r.Header, body, time.Now(), 0)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// Act on each hook.ID once: Warden retries until it gets a 2xx.
		if hook.Type == client.EventWithdrawalApproved {
			a, err := hook.WithdrawalApproved()
			if err != nil {
				http.Error(w, "bad event", http.StatusBadRequest)
				return
			}
			txid := "…" // send a.Amount of a.Asset on a.Network to a.Address
			if _, err := wc.CompleteWithdrawal(r.Context(), a.WithdrawalID, txid); err != nil {
				http.Error(w, "retry later", http.StatusServiceUnavailable)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
