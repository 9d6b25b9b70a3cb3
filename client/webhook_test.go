package client_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wardenhq/warden/client"
	"github.com/wardenhq/warden/internal/notify"
)

// signed makes a delivery as Warden's deliverer does: the headers of
// notify.WebhookDeliverer with notify.SignWebhook's signature.
func signed(t *testing.T, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	key, err := notify.DecodeWebhookSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", notify.SignWebhook(key, id, at, body))
	return h
}

const approvedBody = `{"type":"withdrawal.approved","timestamp":"2031-03-04T05:06:07Z","data":{"withdrawal_id":"wdr_1","user_id":"usr_1",` +
	`"asset":"BTC","network":"bitcoin","amount":"0.01000000","address":"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4","memo":"",` +
	`"reference_value":"600.00","currency":"USD","approved_at":"2031-03-04T05:06:07.123Z"}}`

func TestVerifyWebhook(t *testing.T) {
	secret := notify.NewWebhookSecret()
	now := time.Date(2031, 3, 4, 5, 6, 10, 0, time.UTC)
	body := []byte(approvedBody)
	h := signed(t, secret, "msg_1", now.Add(-3*time.Second), body)

	hook, err := client.VerifyWebhook(secret, h, body, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if hook.ID != "msg_1" || hook.Type != client.EventWithdrawalApproved || !hook.Timestamp.Equal(time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)) ||
		!hook.SentAt.Equal(now.Add(-3*time.Second)) {
		t.Fatalf("webhook: %+v", hook)
	}
	d, err := hook.WithdrawalApproved()
	if err != nil || d.WithdrawalID != "wdr_1" || d.UserID != "usr_1" || d.Amount != "0.01000000" || d.Asset != "BTC" || d.Network != "bitcoin" ||
		d.Address != "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4" || d.ReferenceValue != "600.00" || d.Currency != "USD" ||
		!d.ApprovedAt.Equal(time.Date(2031, 3, 4, 5, 6, 7, 123e6, time.UTC)) {
		t.Fatalf("withdrawal.approved: %+v %v", d, err)
	}
	// The secret without its prefix works too (as Standard Webhooks libraries allow).
	if _, err := client.VerifyWebhook(secret[len("whsec_"):], h, body, now, 0); err != nil {
		t.Fatalf("secret without whsec_: %v", err)
	}
	// During a rotation the header lists several signatures; one valid is enough.
	other := notify.NewWebhookSecret()
	rotated := h.Clone()
	rotated.Set("webhook-signature", "v1a,bm90IGEgc2lnbmF0dXJl "+signed(t, other, "msg_1", now.Add(-3*time.Second), body).Get("webhook-signature")+" "+h.Get("webhook-signature"))
	if _, err := client.VerifyWebhook(secret, rotated, body, now, 0); err != nil {
		t.Fatalf("several signatures: %v", err)
	}

	tampered := []byte(approvedBody[:len(approvedBody)-3] + `Z"}}`)
	for _, tc := range []struct {
		name      string
		secret    string
		header    http.Header
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"tampered body", secret, h, tampered, now, 0, client.ErrWebhookSignature},
		{"wrong secret", other, h, body, now, 0, client.ErrWebhookSignature},
		{"another id", secret, with(h, "webhook-id", "msg_2"), body, now, 0, client.ErrWebhookSignature},
		{"timestamp moved", secret, with(h, "webhook-timestamp", strconv.FormatInt(now.Unix(), 10)), body, now, 0, client.ErrWebhookSignature},
		{"old timestamp", secret, signed(t, secret, "msg_1", now.Add(-6*time.Minute), body), body, now, 0, client.ErrWebhookTimestamp},
		{"future timestamp", secret, signed(t, secret, "msg_1", now.Add(6*time.Minute), body), body, now, 0, client.ErrWebhookTimestamp},
		{"older than a tighter tolerance", secret, h, body, now, time.Second, client.ErrWebhookTimestamp},
		{"no signature", secret, with(h, "webhook-signature", ""), body, now, 0, client.ErrWebhookHeaders},
		{"no id", secret, with(h, "webhook-id", ""), body, now, 0, client.ErrWebhookHeaders},
		{"timestamp not a number", secret, with(h, "webhook-timestamp", "yesterday"), body, now, 0, client.ErrWebhookHeaders},
		{"other scheme only", secret, with(h, "webhook-signature", "v1a,"+h.Get("webhook-signature")[3:]), body, now, 0, client.ErrWebhookSignature},
		{"signature not base64", secret, with(h, "webhook-signature", "v1,***"), body, now, 0, client.ErrWebhookSignature},
		{"secret not base64", "whsec_***", h, body, now, 0, client.ErrWebhookSecret},
		{"empty secret", "", h, body, now, 0, client.ErrWebhookSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := client.VerifyWebhook(tc.secret, tc.header, tc.body, tc.now, tc.tolerance); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}

	// A validly signed body that is not an event.
	junk := []byte(`[1,2,3]`)
	if _, err := client.VerifyWebhook(secret, signed(t, secret, "msg_3", now, junk), junk, now, 0); !errors.Is(err, client.ErrWebhookPayload) {
		t.Fatalf("signed junk: %v", err)
	}
	// Another event type is not decoded as withdrawal.approved.
	frozen := []byte(`{"type":"account.frozen","timestamp":"2031-03-04T05:06:07Z","data":{"user_id":"usr_1"}}`)
	hook, err = client.VerifyWebhook(secret, signed(t, secret, "msg_4", now, frozen), frozen, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hook.WithdrawalApproved(); err == nil {
		t.Fatal("account.frozen decoded as withdrawal.approved")
	}
	var data struct {
		UserID string `json:"user_id"`
	}
	if err := hook.Decode(&data); err != nil || data.UserID != "usr_1" {
		t.Fatalf("decode: %+v %v", data, err)
	}
	// A zero now is the current time.
	fresh := signed(t, secret, "msg_5", time.Now(), frozen)
	if _, err := client.VerifyWebhook(secret, fresh, frozen, time.Time{}, 0); err != nil {
		t.Fatalf("zero now: %v", err)
	}
}

func with(h http.Header, key, value string) http.Header {
	c := h.Clone()
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	return c
}
