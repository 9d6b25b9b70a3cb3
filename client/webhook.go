package client

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhooks are signed by the Standard Webhooks scheme
// (https://www.standardwebhooks.com): each delivery carries
//
//	webhook-id:        the message id, the same on every retry of it
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)),
//	                   possibly several, separated by spaces
//
// where key is the base64-decoded part of the endpoint's secret after
// "whsec_". VerifyWebhook checks all of it.

// DefaultWebhookTolerance is how far a webhook-timestamp may be from now,
// either way, when VerifyWebhook is given no tolerance.
const DefaultWebhookTolerance = 5 * time.Minute

// Errors of VerifyWebhook; match them with errors.Is.
var (
	// ErrWebhookSecret: the secret is not whsec_ followed by standard base64.
	ErrWebhookSecret = errors.New("warden webhook: secret is not whsec_ followed by base64")
	// ErrWebhookHeaders: webhook-id, webhook-timestamp or webhook-signature is missing or malformed.
	ErrWebhookHeaders = errors.New("warden webhook: missing or malformed webhook-id, webhook-timestamp or webhook-signature")
	// ErrWebhookTimestamp: the timestamp is further from now than the tolerance (a replay, or a wrong clock).
	ErrWebhookTimestamp = errors.New("warden webhook: timestamp outside the tolerance")
	// ErrWebhookSignature: no v1 signature matches (a wrong secret, or a changed body or header).
	ErrWebhookSignature = errors.New("warden webhook: no valid signature")
	// ErrWebhookPayload: the signed body is not a Warden event.
	ErrWebhookPayload = errors.New("warden webhook: body is not a webhook event")
)

// Webhook is a verified webhook delivery.
type Webhook struct {
	// ID is the webhook-id: the same on every retry of one message, so a
	// receiver acts on each ID once.
	ID string
	// Type is the event type (one of the Event… constants).
	Type string
	// Timestamp is when the event happened (the body's timestamp).
	Timestamp time.Time
	// SentAt is this attempt's webhook-timestamp.
	SentAt time.Time
	// Data is the event's data, decoded by the typed methods
	// (WithdrawalApproved, WithdrawalRejected) or by the caller.
	Data json.RawMessage
}

// VerifyWebhook checks a delivery's Standard Webhooks signature with the
// endpoint's secret (whsec_…, as CreateWebhook answered it) and returns its
// event. now is the time to check the timestamp against (zero: time.Now());
// tolerance is how far from now it may be (0: DefaultWebhookTolerance).
// body must be the exact bytes received. Signatures are compared in
// constant time.
//
// A receiver answers 2xx only for a delivery it verified and handled;
// Warden retries other answers (and gives up on 410 Gone).
func VerifyWebhook(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) (Webhook, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(secret), "whsec_"))
	if err != nil || len(key) == 0 {
		return Webhook{}, ErrWebhookSecret
	}
	if now.IsZero() {
		now = time.Now()
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return Webhook{}, ErrWebhookHeaders
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Webhook{}, fmt.Errorf("%w: webhook-timestamp %q is not Unix seconds", ErrWebhookHeaders, ts)
	}
	sentAt := time.Unix(secs, 0)
	if d := now.Sub(sentAt); d > tolerance || d < -tolerance {
		return Webhook{}, fmt.Errorf("%w: sent at %s, %s from now (tolerance %s)", ErrWebhookTimestamp,
			sentAt.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, s := range strings.Fields(sigs) {
		version, sig, found := strings.Cut(s, ",")
		if !found || version != "v1" {
			continue // another scheme (v1a, …) or a malformed entry
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			ok = true // keep going: the time taken does not depend on which entry matched
		}
	}
	if !ok {
		return Webhook{}, ErrWebhookSignature
	}
	var ev struct {
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
		return Webhook{}, ErrWebhookPayload
	}
	return Webhook{ID: id, Type: ev.Type, Timestamp: ev.Timestamp, SentAt: sentAt, Data: ev.Data}, nil
}

// WithdrawalApproved is the data of withdrawal.approved: the payout system
// sends Amount of Asset on Network to Address (and Memo), then reports the
// transaction id with CompleteWithdrawal.
type WithdrawalApproved struct {
	WithdrawalID string `json:"withdrawal_id"`
	UserID       string `json:"user_id"`
	Asset        string `json:"asset"`
	Network      string `json:"network"`
	// Amount is a decimal string with all the asset's decimals ("0.01000000").
	Amount  string `json:"amount"`
	Address string `json:"address"`
	Memo    string `json:"memo"`
	// ReferenceValue is what Warden valued it at, in Currency.
	ReferenceValue string    `json:"reference_value"`
	Currency       string    `json:"currency"`
	ApprovedAt     time.Time `json:"approved_at"`
}

// WithdrawalRejected is the data of withdrawal.rejected.
type WithdrawalRejected struct {
	WithdrawalID string    `json:"withdrawal_id"`
	UserID       string    `json:"user_id"`
	Reason       string    `json:"reason"`
	RejectedAt   time.Time `json:"rejected_at"`
}

// WithdrawalApproved decodes the data of a withdrawal.approved event.
func (w Webhook) WithdrawalApproved() (WithdrawalApproved, error) {
	var d WithdrawalApproved
	err := w.decode(EventWithdrawalApproved, &d)
	if err == nil && (d.WithdrawalID == "" || d.Amount == "" || d.Address == "") {
		err = fmt.Errorf("%w: withdrawal.approved without withdrawal_id, amount or address", ErrWebhookPayload)
	}
	return d, err
}

// WithdrawalRejected decodes the data of a withdrawal.rejected event.
func (w Webhook) WithdrawalRejected() (WithdrawalRejected, error) {
	var d WithdrawalRejected
	return d, w.decode(EventWithdrawalRejected, &d)
}

// Decode decodes the event's data into v, for the types without a typed method.
func (w Webhook) Decode(v any) error {
	if err := json.Unmarshal(w.Data, v); err != nil {
		return fmt.Errorf("%w: data of %s: %v", ErrWebhookPayload, w.Type, err)
	}
	return nil
}

func (w Webhook) decode(eventType string, v any) error {
	if w.Type != eventType {
		return fmt.Errorf("warden webhook: event %s is not %s", w.Type, eventType)
	}
	return w.Decode(v)
}
