package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wardenhq/warden/internal/outbox"
)

// Webhooks follow the Standard Webhooks scheme (https://www.standardwebhooks.com),
// so a platform can verify them with any of its libraries.
const (
	// WebhookSecretPrefix starts a secret as shown to the platform.
	WebhookSecretPrefix = "whsec_"
	// webhookSecretBytes is the size of new secrets (the scheme asks for
	// 24 to 64 bytes).
	webhookSecretBytes = 32
	minWebhookSecret   = 24
	maxWebhookSecret   = 64

	// DefaultWebhookTimeout bounds one delivery when the deliverer's client
	// sets no timeout of its own.
	DefaultWebhookTimeout = 10 * time.Second
	// maxWebhookResponse is how much of an endpoint's answer is read: enough
	// to show staff why it failed, bounded so an endpoint cannot make the
	// worker read without end.
	maxWebhookResponse = 4 << 10
	// maxErrorSnippet is how much of that answer goes into the error.
	maxErrorSnippet = 200
)

// NewWebhookSecret returns a new signing secret as shown to the platform:
// "whsec_" and the base64 of 32 random bytes.
func NewWebhookSecret() string {
	b := make([]byte, webhookSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// DecodeWebhookSecret returns the HMAC key of a secret: the base64-decoded
// bytes after "whsec_". The prefix may be left out, as Standard Webhooks
// libraries allow.
func DecodeWebhookSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, WebhookSecretPrefix))
	if err != nil {
		return nil, errors.New("decode webhook secret: not whsec_ followed by standard base64")
	}
	if len(key) < minWebhookSecret || len(key) > maxWebhookSecret {
		return nil, fmt.Errorf("decode webhook secret: %d bytes, want %d to %d", len(key), minWebhookSecret, maxWebhookSecret)
	}
	return key, nil
}

// SignWebhook returns the webhook-signature header value for one attempt:
// "v1," and the base64 HMAC-SHA256, keyed with secret, of
// msgID + "." + unix seconds of ts + "." + body.
func SignWebhook(secret []byte, msgID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// webhookBody is the JSON sent to endpoints.
type webhookBody struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"`
	Data      any    `json:"data"`
}

// EnqueueWebhookEvent enqueues event eventType, with data as its "data", to
// every endpoint subscribed to it (or to "*"), inside the action's
// transaction. The body is built once, so every endpoint and every retry
// gets the same bytes; each endpoint gets its own message, whose id becomes
// the webhook-id. It returns the messages enqueued, none when no endpoint
// is subscribed.
func EnqueueWebhookEvent(ctx context.Context, tx WebhookTx, now time.Time, eventType string, data any) ([]outbox.Message, error) {
	if eventType == "" || eventType == "*" {
		return nil, fmt.Errorf("enqueue webhook event %q: want an event type", eventType)
	}
	body, err := json.Marshal(webhookBody{Type: eventType, Timestamp: now.UTC().Format(time.RFC3339), Data: data})
	if err != nil {
		return nil, fmt.Errorf("enqueue webhook event %s: encode body: %w", eventType, err)
	}
	endpoints, err := tx.WebhookEndpointsFor(ctx, eventType)
	if err != nil {
		return nil, fmt.Errorf("enqueue webhook event %s: list endpoints: %w", eventType, err)
	}
	var msgs []outbox.Message
	for _, ep := range endpoints {
		// The store already filters; checking again keeps a wrong
		// WebhookTx from sending an event to an endpoint that did not ask.
		if !slices.Contains(ep.EventTypes, eventType) && !slices.Contains(ep.EventTypes, "*") {
			continue
		}
		m, err := outbox.Enqueue(ctx, tx, now, outbox.KindWebhook, eventType, WebhookDelivery{EndpointID: ep.ID, Body: body})
		if err != nil {
			return nil, fmt.Errorf("enqueue webhook event %s for endpoint %s: %w", eventType, ep.ID, err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// WebhookDeliverer posts outbox webhooks to their endpoints.
type WebhookDeliverer struct {
	Secrets WebhookSecrets
	// Client sends the requests; nil means one with DefaultWebhookTimeout.
	// Its redirect policy is replaced: redirects are never followed, so a
	// signed event cannot be bounced to another host.
	Client *http.Client
	// Now gives the webhook-timestamp of each attempt; nil means time.Now.
	Now func() time.Time
}

// Deliver posts the event in m, signed for this attempt. webhook-id is the
// outbox message id, the same on every retry, so the endpoint can discard
// duplicates; webhook-timestamp is the time of this attempt, so an endpoint
// that rejects old timestamps accepts a late retry. A 2xx answer is
// delivered; an endpoint that was deleted or answers 410 Gone is given up
// (permanent); anything else is retried.
func (d WebhookDeliverer) Deliver(ctx context.Context, m outbox.Message) error {
	if m.Kind != outbox.KindWebhook {
		return outbox.Permanent(fmt.Errorf("deliver %s: kind %q is not %q", m.ID, m.Kind, outbox.KindWebhook))
	}
	var wd WebhookDelivery
	if err := json.Unmarshal(m.Payload, &wd); err != nil {
		return outbox.Permanent(fmt.Errorf("deliver webhook %s: decode payload: %w", m.ID, err))
	}
	target, secret, found, err := d.Secrets.WebhookTarget(ctx, wd.EndpointID)
	if err != nil {
		return fmt.Errorf("deliver webhook %s: endpoint %s: %w", m.ID, wd.EndpointID, err)
	}
	if !found {
		return outbox.Permanent(fmt.Errorf("deliver webhook %s: endpoint %s was deleted", m.ID, wd.EndpointID))
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return outbox.Permanent(fmt.Errorf("deliver webhook %s: endpoint %s: URL is not an absolute http(s) URL", m.ID, wd.EndpointID))
	}

	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	ts := now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(wd.Body))
	if err != nil {
		return outbox.Permanent(fmt.Errorf("deliver webhook %s: build request: %w", m.ID, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Warden-Webhooks/1")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", SignWebhook(secret, m.ID, ts, wd.Body))

	resp, err := d.client().Do(req)
	if err != nil {
		// The error names the URL, which may carry a token in its query:
		// name the endpoint instead.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("deliver webhook %s to endpoint %s: %w", m.ID, wd.EndpointID, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookResponse))

	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
		return nil
	case resp.StatusCode == http.StatusGone:
		return outbox.Permanent(fmt.Errorf("deliver webhook %s: endpoint %s answered 410 Gone", m.ID, wd.EndpointID))
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		return fmt.Errorf("deliver webhook %s: endpoint %s answered %d (redirects are not followed; fix the endpoint URL)", m.ID, wd.EndpointID, resp.StatusCode)
	default:
		return fmt.Errorf("deliver webhook %s: endpoint %s answered %d: %q", m.ID, wd.EndpointID, resp.StatusCode, errorSnippet(snippet))
	}
}

// client is d.Client (or a default one) with redirects turned off; the copy
// shares the caller's transport and its connection pool.
func (d WebhookDeliverer) client() *http.Client {
	c := http.Client{Timeout: DefaultWebhookTimeout}
	if d.Client != nil {
		c = *d.Client
		if c.Timeout == 0 {
			c.Timeout = DefaultWebhookTimeout
		}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// errorSnippet is the start of a response body made safe to keep in an
// error shown to staff: printable, one line, short.
func errorSnippet(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorSnippet {
		s = strings.ToValidUTF8(s[:maxErrorSnippet], "") + "…"
	}
	return s
}
