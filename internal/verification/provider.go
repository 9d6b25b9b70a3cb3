package verification

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

// An external KYC provider reviews documents itself and posts its verdict
// to POST /admin/v1/verifications/{id}/provider-result. The request is
// signed the way Stripe and most providers sign webhooks:
//
//	X-Warden-Provider:  the provider's configured name
//	X-Warden-Timestamp: Unix seconds when it was sent
//	X-Warden-Signature: v1=hex(HMAC-SHA-256(secret, timestamp + "." + body))
//
// A timestamp outside the tolerance is refused (an old capture), each
// message id is taken once (a capture replayed within the tolerance), and
// the body names the verification it is for (a capture posted to another
// verification's path).
//
// A platform that talks to the provider itself may relay the same message
// with an admin key instead of a signature (ApplyProviderResultAs): the
// message is read the same way and the decision is the key's.

// Provider is an external verification service: it authenticates its
// messages and says what its statuses mean.
type Provider interface {
	Name() string
	// Authenticate checks a message's signature and freshness.
	Authenticate(body []byte, timestamp, signature string, now time.Time) error
	// Decode reads an authenticated message into a result.
	Decode(body []byte) (ProviderResult, error)
}

// ProviderResult is a provider's verdict on one verification.
type ProviderResult struct {
	// MessageID identifies the message, for replay protection.
	MessageID string
	// VerificationID is Warden's id of the verification the result is for.
	VerificationID string
	// Reference is the provider's own id for the check, kept for support.
	Reference string
	Decision  Decision
}

// Errors of provider results.
var (
	ErrSignature     = errors.New("provider signature invalid")
	ErrStale         = errors.New("provider message outside the time tolerance")
	ErrReplay        = errors.New("provider message already taken")
	ErrUnknownStatus = errors.New("provider status not understood")
	ErrNoProvider    = errors.New("unknown provider")
)

// HMACProvider is a provider that signs with a shared secret and reports
// one of a few statuses. The default mapping understands the words the
// common providers use; Statuses may add or override.
type HMACProvider struct {
	ID        string
	Secret    []byte
	Tolerance time.Duration
	// Statuses maps a provider status (lower case) to one of our events.
	Statuses map[string]string
}

// DefaultProviderStatuses maps the usual provider words onto our decisions.
var DefaultProviderStatuses = map[string]string{
	"approved": EventApprove, "verified": EventApprove, "green": EventApprove, "accepted": EventApprove, "clear": EventApprove,
	"rejected": EventReject, "declined": EventReject, "red": EventReject, "denied": EventReject, "fraud": EventReject,
	"resubmission_requested": EventRequestResubmission, "resubmit": EventRequestResubmission, "retry": EventRequestResubmission,
	"yellow": EventRequestResubmission,
}

// Name is the provider's configured name.
func (p HMACProvider) Name() string { return p.ID }

// Sign makes the signature header for body at timestamp; providers (and
// tests) use it to send.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Authenticate checks the signature in constant time, then the timestamp.
// Several space-separated signatures are allowed (during a secret rotation).
func (p HMACProvider) Authenticate(body []byte, timestamp, signature string, now time.Time) error {
	want := Sign(p.Secret, timestamp, body)
	ok := false
	for _, sig := range strings.Fields(signature) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			ok = true
		}
	}
	if !ok {
		return ErrSignature
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrSignature
	}
	tol := p.Tolerance
	if tol <= 0 {
		tol = 5 * time.Minute
	}
	if d := now.Sub(time.Unix(secs, 0)); d > tol || d < -tol {
		return ErrStale
	}
	return nil
}

// providerMessage is the body a provider posts.
type providerMessage struct {
	ID             string   `json:"id"`
	VerificationID string   `json:"verification_id"`
	Reference      string   `json:"reference"`
	Status         string   `json:"status"`
	Reason         string   `json:"reason"`
	Resubmit       []string `json:"resubmit"`
}

// Decode reads the body and maps the status.
func (p HMACProvider) Decode(body []byte) (ProviderResult, error) {
	var m providerMessage
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&m); err != nil {
		return ProviderResult{}, fmt.Errorf("%w: body is not the expected JSON: %v", ErrUnknownStatus, err)
	}
	if m.ID == "" || len(m.ID) > 200 {
		return ProviderResult{}, fmt.Errorf("%w: a message id (1 to 200 characters) is required", ErrUnknownStatus)
	}
	status := strings.ToLower(strings.TrimSpace(m.Status))
	event, ok := p.Statuses[status]
	if !ok {
		event, ok = DefaultProviderStatuses[status]
	}
	if !ok {
		return ProviderResult{}, fmt.Errorf("%w: %q", ErrUnknownStatus, m.Status)
	}
	d := Decision{Event: event, Reason: m.Reason, Resubmit: m.Resubmit}
	if d.Reason == "" && event != EventApprove {
		d.Reason = "The verification service could not confirm your identity from what was sent."
	}
	if event == EventRequestResubmission && len(d.Resubmit) == 0 {
		d.Resubmit = []string{RequireIDDocument, RequireSelfie}
	}
	return ProviderResult{MessageID: m.ID, VerificationID: m.VerificationID, Reference: m.Reference, Decision: d}, nil
}

// ApplyProviderResult authenticates a provider's message, takes its id once,
// and records its decision on the verification, as "provider:<name>".
func (s *Service) ApplyProviderResult(ctx context.Context, p Provider, verificationID string, body []byte, timestamp, signature string) (Verification, error) {
	now := s.now()
	if err := p.Authenticate(body, timestamp, signature, now); err != nil {
		return Verification{}, err
	}
	return s.applyProviderResult(ctx, p, verificationID, body, account.Meta{Actor: "provider:" + p.Name()}, now)
}

// ApplyProviderResultAs records a provider's message that the caller has
// authenticated itself — an admin key relaying the provider's verdict — so
// it carries no signature. The message is read as the provider's own would
// be (its id taken once, its status mapped by the provider's words), and the
// decision is recorded with m, whose Actor is who relayed it.
func (s *Service) ApplyProviderResultAs(ctx context.Context, p Provider, verificationID string, body []byte, m account.Meta) (Verification, error) {
	if m.Actor == "" {
		return Verification{}, errors.New("verification: a relayed provider result needs an actor")
	}
	return s.applyProviderResult(ctx, p, verificationID, body, m, s.now())
}

func (s *Service) applyProviderResult(ctx context.Context, p Provider, verificationID string, body []byte, m account.Meta, now time.Time) (Verification, error) {
	res, err := p.Decode(body)
	if err != nil {
		return Verification{}, err
	}
	if err := res.Decision.check(); err != nil {
		return Verification{}, err
	}
	if res.VerificationID != verificationID {
		// The signature covers the body, not the path: a message is for
		// the verification it names, and only that one.
		return Verification{}, fmt.Errorf("%w: the message is for verification %q", ErrUnknownStatus, res.VerificationID)
	}
	var v Verification
	var stale []string
	err = s.Transact(ctx, func(tx Tx) error {
		fresh, err := tx.TakeProviderMessage(ctx, p.Name(), res.MessageID, now)
		if err != nil {
			return err
		}
		if !fresh {
			return ErrReplay
		}
		v, err = tx.VerificationByID(ctx, verificationID)
		if isNotFound(err) {
			return ErrNoVerification
		}
		if err != nil {
			return err
		}
		if v.Status != StatusPendingReview {
			return ErrDecided
		}
		if res.Reference != "" {
			if v, err = tx.UpdateVerification(ctx, v.ID, func(old Verification) (Verification, error) {
				old.ProviderRef = res.Reference
				return old, nil
			}); err != nil {
				return err
			}
		}
		if err := s.decide(ctx, tx, v, res.Decision.Event, res.Decision.Reason, res.Decision.Resubmit,
			m, now, &stale); err != nil {
			return err
		}
		v, err = tx.VerificationByID(ctx, verificationID)
		return err
	})
	if err == nil {
		s.Accounts.AfterCommit(stale)
	}
	return v, err
}
