package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/notify"
)

var errNoKeyring = errors.New("store opened without a keyring: secret columns are unavailable")

func webhookSecretBinding(endpointID string) []byte {
	return keyring.Binding("webhook_endpoints", "secret", endpointID)
}

// CreateWebhookEndpoint stores an endpoint with its signing secret sealed.
func (tx *Tx) CreateWebhookEndpoint(ctx context.Context, ep notify.WebhookEndpoint, secret []byte) error {
	if tx.keys == nil {
		return errNoKeyring
	}
	sealed, err := tx.keys.Seal(secret, webhookSecretBinding(ep.ID))
	if err != nil {
		return fmt.Errorf("seal webhook secret: %w", err)
	}
	types, err := json.Marshal(ep.EventTypes)
	if err != nil {
		return fmt.Errorf("encode webhook event types: %w", err)
	}
	if _, err := tx.q.ExecContext(ctx, `
		INSERT INTO webhook_endpoints (id, url, description, event_types, secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		ep.ID, ep.URL, ep.Description, string(types), sealed, micros(ep.CreatedAt)); err != nil {
		return fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return nil
}

// DeleteWebhookEndpoint retires an endpoint: no new events are sent to it, and
// deliveries already queued for it are given up.
func (tx *Tx) DeleteWebhookEndpoint(ctx context.Context, id string, now time.Time) error {
	res, err := tx.q.ExecContext(ctx,
		`UPDATE webhook_endpoints SET deleted_at = $2 WHERE id = $1 AND deleted_at = 0`, id, micros(now))
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ListWebhookEndpoints lists the live endpoints, oldest first.
func (tx *Tx) ListWebhookEndpoints(ctx context.Context) ([]notify.WebhookEndpoint, error) {
	return queryAll(ctx, tx.q, "list webhook endpoints", scanWebhookEndpoint, `
		SELECT id, url, description, event_types, created_at FROM webhook_endpoints
		WHERE deleted_at = 0 ORDER BY created_at, id`)
}

func scanWebhookEndpoint(row rowScanner) (notify.WebhookEndpoint, error) {
	var ep notify.WebhookEndpoint
	var types string
	var created int64
	if err := row.Scan(&ep.ID, &ep.URL, &ep.Description, &types, &created); err != nil {
		return ep, err
	}
	if err := json.Unmarshal([]byte(types), &ep.EventTypes); err != nil {
		return ep, fmt.Errorf("decode event types of webhook endpoint %s: %w", ep.ID, err)
	}
	ep.CreatedAt = fromMicros(created)
	return ep, nil
}

// WebhookEndpointsFor implements notify.WebhookTx. Endpoints are few, so they
// are filtered here rather than by a per-dialect JSON query.
func (tx *Tx) WebhookEndpointsFor(ctx context.Context, eventType string) ([]notify.WebhookEndpoint, error) {
	all, err := tx.ListWebhookEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	var out []notify.WebhookEndpoint
	for _, ep := range all {
		if slices.Contains(ep.EventTypes, eventType) || slices.Contains(ep.EventTypes, "*") {
			out = append(out, ep)
		}
	}
	return out, nil
}

// WebhookTarget implements notify.WebhookSecrets.
func (s *Store) WebhookTarget(ctx context.Context, endpointID string) (string, []byte, bool, error) {
	if s.keys == nil {
		return "", nil, false, errNoKeyring
	}
	var url string
	var sealed []byte
	err := s.reader.QueryRowContext(ctx,
		`SELECT url, secret FROM webhook_endpoints WHERE id = $1 AND deleted_at = 0`, endpointID).Scan(&url, &sealed)
	if isNoRows(err) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, fmt.Errorf("read webhook endpoint %s: %w", endpointID, err)
	}
	secret, err := s.keys.Open(sealed, webhookSecretBinding(endpointID))
	if err != nil {
		return "", nil, false, fmt.Errorf("open secret of webhook endpoint %s: %w", endpointID, err)
	}
	return url, secret, true, nil
}
