// Package notify turns Warden's messages into deliveries: emails over SMTP
// (or into the dev mailbox) and webhooks signed by the Standard Webhooks
// scheme. Messages reach it through the outbox (package outbox): an action
// enqueues them in its own transaction, and the outbox worker hands each to
// the Deliverer for its kind.
package notify

import (
	"context"
	"time"

	"github.com/wardenhq/warden/internal/outbox"
)

// Email is the payload of an outbox message of kind "email": fully rendered
// when enqueued, so every retry sends exactly the same message.
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// DevMail is an email kept by `serve --dev` instead of being sent.
type DevMail struct {
	ID         string    `json:"id"`
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	HTML       string    `json:"html"`
}

// DevMailStore keeps dev mail; the store implements it.
type DevMailStore interface {
	// SaveDevMail stores m unless a mail with the same MessageID is already
	// kept (a retried delivery), so the mailbox never shows duplicates.
	SaveDevMail(ctx context.Context, m DevMail) error
}

// WebhookEndpoint is a receiver of webhook events. Its signing secret is
// stored encrypted and never part of this struct.
type WebhookEndpoint struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Description string    `json:"description,omitempty"`
	EventTypes  []string  `json:"event_types"`
	CreatedAt   time.Time `json:"created_at"`
}

// WebhookDelivery is the payload of an outbox message of kind "webhook": one
// event for one endpoint. Body is the exact JSON that is signed and sent.
type WebhookDelivery struct {
	EndpointID string `json:"endpoint_id"`
	Body       []byte `json:"body"`
}

// WebhookTx is what EnqueueWebhookEvent needs from the action's transaction.
type WebhookTx interface {
	outbox.EnqueueTx
	// WebhookEndpointsFor lists the live endpoints subscribed to eventType.
	WebhookEndpointsFor(ctx context.Context, eventType string) ([]WebhookEndpoint, error)
}

// WebhookSecrets gives an endpoint's address and signing secret at delivery time.
type WebhookSecrets interface {
	// WebhookTarget returns the endpoint's URL and decrypted secret; found is
	// false when the endpoint was deleted after the event was enqueued.
	WebhookTarget(ctx context.Context, endpointID string) (url string, secret []byte, found bool, err error)
}
