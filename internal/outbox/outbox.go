// Package outbox delivers the messages (emails, webhooks) that actions cause.
//
// A message is written in the same transaction as the action that causes it,
// so it exists exactly when the action committed. Workers then deliver it at
// least once: a failed attempt is retried with exponential backoff and jitter,
// and a message that keeps failing is parked as dead for staff to see and
// retry — never dropped. Every message keeps one id across attempts, which
// receivers use to discard duplicates (the email's Message-ID, the webhook-id).
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardenhq/warden/internal/id"
)

// Kinds of message.
const (
	KindEmail   = "email"
	KindWebhook = "webhook"
)

// Statuses of a message.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusDead      = "dead"
)

// Message is one email or webhook delivery.
type Message struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Topic says what the message is about: the email template or the webhook event type.
	Topic   string          `json:"topic"`
	Payload json.RawMessage `json:"payload"`
	Status  string          `json:"status"`
	// Attempts counts deliveries started, including the one in progress.
	Attempts      int       `json:"attempts"`
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	DeliveredAt   time.Time `json:"delivered_at,omitzero"`
}

// EnqueueTx is the transaction of the action that causes a message.
type EnqueueTx interface {
	InsertOutboxMessage(ctx context.Context, m Message) error
}

// Enqueue adds a message inside the caller's transaction; it becomes
// deliverable when that transaction commits.
func Enqueue(ctx context.Context, tx EnqueueTx, now time.Time, kind, topic string, payload any) (Message, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return Message{}, fmt.Errorf("enqueue %s %s: encode payload: %w", kind, topic, err)
	}
	m := Message{
		ID:            id.New("msg"),
		Kind:          kind,
		Topic:         topic,
		Payload:       body,
		Status:        StatusPending,
		NextAttemptAt: now,
		CreatedAt:     now,
	}
	if err := tx.InsertOutboxMessage(ctx, m); err != nil {
		return Message{}, fmt.Errorf("enqueue %s %s: %w", kind, topic, err)
	}
	return m, nil
}

// permanentError marks a failure that no retry can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps a delivery error that retrying cannot fix (a mailbox that
// does not exist, an endpoint that was deleted), so the message is parked
// dead at once instead of after every attempt.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent tells whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Backoff is the wait before attempt number attempt+1, given that attempt
// attempts have failed: base doubled for each failure, capped at maxDelay,
// then "equal jitter" — a random point in its upper half — so that messages
// that failed together do not all retry together, yet none retries at once.
// random returns a number in [0, 1).
func Backoff(attempt int, base, maxDelay time.Duration, random func() float64) time.Duration {
	delay := base
	for i := 1; i < attempt && delay < maxDelay; i++ {
		delay *= 2
	}
	delay = min(delay, maxDelay)
	half := delay / 2
	return half + time.Duration(random()*float64(delay-half))
}
