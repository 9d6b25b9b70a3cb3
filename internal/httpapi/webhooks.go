package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/id"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/store"
)

// WebhookEventTypes are the events an endpoint can subscribe to (API.md), and
// "*" for all of them.
var WebhookEventTypes = []string{
	"withdrawal.approved", "withdrawal.rejected", "account.frozen", "account.restricted",
	"alert.created", "verification.approved", "verification.rejected", "login.suspicious",
	"webhook.test",
}

type webhookRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	EventTypes  []string `json:"event_types"`
}

type webhookCreated struct {
	notify.WebhookEndpoint
	// Secret is shown once, here; receivers verify signatures with it.
	Secret string `json:"secret"`
}

func (req webhookRequest) validate() *Problem {
	var fe fieldErrors
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(req.URL) > 2000 {
		fe.add("url", "invalid", "must be an absolute http(s) URL without credentials, at most 2000 characters")
	}
	if len(req.Description) > 200 {
		fe.add("description", "too_long", "at most 200 characters")
	}
	if len(req.EventTypes) == 0 {
		fe.add("event_types", "required", `list the event types to receive, or ["*"] for all`)
	}
	for _, t := range req.EventTypes {
		if t != "*" && !slices.Contains(WebhookEventTypes, t) {
			fe.add("event_types", "unknown", "unknown event type "+t+"; known: "+strings.Join(WebhookEventTypes, ", "))
		}
	}
	return fe.problem()
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) error {
	var req webhookRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	now := a.Now()
	ep := notify.WebhookEndpoint{
		ID: id.New("whe"), URL: req.URL, Description: req.Description,
		EventTypes: slices.Compact(slices.Sorted(slices.Values(req.EventTypes))), CreatedAt: now.UTC(),
	}
	secret := notify.NewWebhookSecret()
	secretBytes, err := notify.DecodeWebhookSecret(secret)
	if err != nil {
		return err
	}
	err = a.Store.Write(r.Context(), func(tx *store.Tx) error {
		if err := tx.CreateWebhookEndpoint(r.Context(), ep, secretBytes); err != nil {
			return err
		}
		_, err := audit.Append(r.Context(), tx, now, audit.Entry{
			Actor: adminActor(r), Action: "webhook.endpoint_created", IP: clientIP(r.Context()), RequestID: requestID(r.Context()),
			Data: map[string]any{"endpoint_id": ep.ID, "url": ep.URL, "event_types": ep.EventTypes},
		})
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, webhookCreated{WebhookEndpoint: ep, Secret: secret})
	return nil
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) error {
	var eps []notify.WebhookEndpoint
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		eps, err = tx.ListWebhookEndpoints(r.Context())
		return err
	})
	if err != nil {
		return err
	}
	if eps == nil {
		eps = []notify.WebhookEndpoint{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": eps})
	return nil
}

// deleteWebhookByQuery is DELETE /admin/v1/webhooks?id=…, the form API.md
// lists beside GET and POST; it answers as DELETE /admin/v1/webhooks/{id}.
func (a *API) deleteWebhookByQuery(w http.ResponseWriter, r *http.Request) error {
	endpointID := r.URL.Query().Get("id")
	if endpointID == "" {
		return errValidation(FieldError{Field: "id", Code: "required",
			Detail: "name the endpoint to remove: DELETE /admin/v1/webhooks?id=whe_… (or /admin/v1/webhooks/whe_…)"})
	}
	return a.removeWebhook(w, r, endpointID)
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) error {
	return a.removeWebhook(w, r, r.PathValue("id"))
}

func (a *API) removeWebhook(w http.ResponseWriter, r *http.Request, endpointID string) error {
	now := a.Now()
	err := a.Store.Write(r.Context(), func(tx *store.Tx) error {
		if err := tx.DeleteWebhookEndpoint(r.Context(), endpointID, now); err != nil {
			return err
		}
		_, err := audit.Append(r.Context(), tx, now, audit.Entry{
			Actor: adminActor(r), Action: "webhook.endpoint_deleted", IP: clientIP(r.Context()), RequestID: requestID(r.Context()),
			Data: map[string]any{"endpoint_id": endpointID},
		})
		return err
	})
	if err == store.ErrNotFound {
		return errNotFound("webhook endpoint")
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testWebhook sends a signed "webhook.test" event to one endpoint, through
// the outbox like every real event, so a platform can check its receiver.
func (a *API) testWebhook(w http.ResponseWriter, r *http.Request) error {
	endpointID := r.PathValue("id")
	now := a.Now()
	var msg outbox.Message
	err := a.Store.Write(r.Context(), func(tx *store.Tx) error {
		eps, err := tx.ListWebhookEndpoints(r.Context())
		if err != nil {
			return err
		}
		i := slices.IndexFunc(eps, func(ep notify.WebhookEndpoint) bool { return ep.ID == endpointID })
		if i < 0 {
			return errNotFound("webhook endpoint")
		}
		msgs, err := notify.EnqueueWebhookEvent(r.Context(), onlyEndpoint{Tx: tx, ep: eps[i]}, now, "webhook.test",
			map[string]any{"endpoint_id": endpointID, "requested_by": adminActor(r)})
		if err != nil {
			return err
		}
		msg = msgs[0]
		return nil
	})
	if err != nil {
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusAccepted, map[string]string{"message_id": msg.ID, "status": msg.Status})
	return nil
}

// onlyEndpoint directs an event to one endpoint, whatever it subscribed to:
// a test event goes where the operator asked.
type onlyEndpoint struct {
	*store.Tx
	ep notify.WebhookEndpoint
}

func (o onlyEndpoint) WebhookEndpointsFor(context.Context, string) ([]notify.WebhookEndpoint, error) {
	ep := o.ep
	ep.EventTypes = []string{"*"}
	return []notify.WebhookEndpoint{ep}, nil
}
