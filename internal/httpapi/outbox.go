package httpapi

import (
	"net/http"
	"net/mail"
	"slices"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/outbox"
	"github.com/wardenhq/warden/internal/store"
)

type outboxPage struct {
	Messages   []outbox.Message `json:"messages"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// listOutbox shows queued, delivered and dead messages; ?status=dead is the
// dead-letter list staff watch.
func (a *API) listOutbox(w http.ResponseWriter, r *http.Request) error {
	limit, before, p := pageParams(r)
	if p != nil {
		return p
	}
	status := r.URL.Query().Get("status")
	if status != "" && !slices.Contains([]string{outbox.StatusPending, outbox.StatusDelivered, outbox.StatusDead}, status) {
		return errValidation(FieldError{Field: "status", Code: "invalid", Detail: "one of pending, delivered, dead"})
	}
	msgs, err := a.Store.ListOutbox(r.Context(), store.OutboxFilter{Status: status, Before: before, Limit: limit + 1})
	if err != nil {
		return err
	}
	var page outboxPage
	page.Messages, page.NextCursor = cutPage(msgs, limit, func(m outbox.Message) store.Cursor {
		return store.Cursor{At: m.CreatedAt, ID: m.ID}
	})
	writeJSON(w, http.StatusOK, page)
	return nil
}

// retryOutbox puts a dead message back in the queue, once its cause is fixed.
func (a *API) retryOutbox(w http.ResponseWriter, r *http.Request) error {
	m, err := a.Store.RetryOutbox(r.Context(), r.PathValue("id"), a.Now())
	if err == store.ErrNotFound {
		return errNotFound("dead outbox message")
	}
	if err != nil {
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusOK, m)
	return nil
}

type testEmailRequest struct {
	To string `json:"to"`
}

// sendTestEmail queues the "test" email, so operators can check their SMTP set-up.
func (a *API) sendTestEmail(w http.ResponseWriter, r *http.Request) error {
	var req testEmailRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	addr, err := mail.ParseAddress(req.To)
	if err != nil || addr.Name != "" || len(req.To) > 254 {
		return errValidation(FieldError{Field: "to", Code: "invalid_email", Detail: "must be a plain email address"})
	}
	email, err := a.Mailer.Render("test", addr.Address, nil, "")
	if err != nil {
		return err
	}
	now := a.Now()
	var msg outbox.Message
	err = a.Store.Write(r.Context(), func(tx *store.Tx) error {
		var err error
		if msg, err = notify.EnqueueEmail(r.Context(), tx, now, "test", email); err != nil {
			return err
		}
		_, err = audit.Append(r.Context(), tx, now, audit.Entry{
			Actor: adminActor(r), Action: "email.test_sent", IP: clientIP(r.Context()), RequestID: requestID(r.Context()),
			Data: map[string]any{"message_id": msg.ID},
		})
		return err
	})
	if err != nil {
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusAccepted, map[string]string{"message_id": msg.ID, "status": msg.Status})
	return nil
}
