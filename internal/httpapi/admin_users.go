package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

type introspectRequest struct {
	Token string `json:"token"`
}

type introspection struct {
	Active       bool     `json:"active"`
	UserID       string   `json:"user_id,omitempty"`
	SessionID    string   `json:"session_id,omitempty"`
	AAL          string   `json:"aal,omitempty"`
	DeviceID     string   `json:"device_id,omitempty"`
	Frozen       bool     `json:"frozen"`
	Restrictions []string `json:"restrictions"`
	ExpiresAt    string   `json:"expires_at,omitempty"`
}

// introspect tells the platform whether a session token is live and whose it
// is. It is the hot path: it answers from the session cache when it can.
func (a *API) introspect(w http.ResponseWriter, r *http.Request) error {
	var req introspectRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if req.Token == "" || len(req.Token) > 200 {
		return errValidation(FieldError{Field: "token", Code: "required", Detail: "the session token to check"})
	}
	sess, acct, err := a.Sessions.Resolve(r.Context(), req.Token)
	if errors.Is(err, session.ErrNoSession) || (err == nil && sess.Realm != account.RealmUser) {
		writeJSON(w, http.StatusOK, introspection{Active: false, Restrictions: []string{}})
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, introspection{
		Active: true, UserID: acct.ID, SessionID: sess.ID, AAL: sess.AAL, DeviceID: sess.DeviceID,
		Frozen: acct.Frozen(), Restrictions: []string{},
		ExpiresAt: sess.IdleExpiry(a.Sessions.Policy).Format(time.RFC3339),
	})
	return nil
}

type userState struct {
	ID               string          `json:"id"`
	Email            string          `json:"email"`
	EmailVerified    bool            `json:"email_verified"`
	CreatedAt        time.Time       `json:"created_at"`
	MFAEnabled       bool            `json:"mfa_enabled"`
	VerificationTier int             `json:"verification_tier"`
	Frozen           bool            `json:"frozen"`
	FrozenAt         *time.Time      `json:"frozen_at,omitempty"`
	FrozenReason     string          `json:"frozen_reason,omitempty"`
	SecurityChanged  *time.Time      `json:"security_changed_at,omitempty"`
	AntiPhishingSet  bool            `json:"anti_phishing_code_set"`
	Restrictions     []string        `json:"restrictions"`
	Sessions         []listedSession `json:"sessions"`
	RecentEvents     []activityItem  `json:"recent_events"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *API) userStateOf(r *http.Request, tx *store.Tx, acct account.Account) (userState, error) {
	st := userState{
		ID: acct.ID, Email: acct.Email, EmailVerified: acct.Verified(), CreatedAt: acct.CreatedAt,
		Frozen: acct.Frozen(), FrozenAt: timePtr(acct.FrozenAt), FrozenReason: acct.FrozenReason,
		SecurityChanged: timePtr(acct.SecurityChangedAt), AntiPhishingSet: acct.AntiPhishingCode != "",
		Restrictions: []string{}, Sessions: []listedSession{}, RecentEvents: []activityItem{},
	}
	sessions, err := tx.SessionsOf(r.Context(), acct.ID, a.Now())
	if err != nil {
		return st, err
	}
	for _, s := range sessions {
		if s.Active(a.Now(), a.Sessions.Policy) {
			st.Sessions = append(st.Sessions, listedSession{ID: s.ID, AAL: s.AAL, IP: s.IP, UserAgent: s.UserAgent,
				CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.IdleExpiry(a.Sessions.Policy)})
		}
	}
	records, err := tx.ListAuditRecords(r.Context(), store.AuditFilter{UserID: acct.ID, Limit: 20})
	if err != nil {
		return st, err
	}
	for _, rec := range records {
		st.RecentEvents = append(st.RecentEvents, activityOf(rec))
	}
	return st, nil
}

// findUsers looks a user up by email (exact, case-insensitive).
func (a *API) findUsers(w http.ResponseWriter, r *http.Request) error {
	raw := strings.TrimSpace(r.URL.Query().Get("email"))
	if raw == "" {
		return errValidation(FieldError{Field: "email", Code: "required", Detail: "give ?email= to look a user up"})
	}
	_, key, err := account.NormalizeEmail(raw)
	if err != nil {
		return errValidation(FieldError{Field: "email", Code: "invalid_email", Detail: "not a valid email address"})
	}
	users := []userState{}
	err = a.Store.Read(r.Context(), func(tx *store.Tx) error {
		acct, err := tx.AccountByEmail(r.Context(), account.RealmUser, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := a.userStateOf(r, tx, acct)
		users = append(users, st)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
	return nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) error {
	var st userState
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		acct, err := tx.AccountByID(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && acct.Realm != account.RealmUser) {
			return errNotFound("user")
		}
		if err != nil {
			return err
		}
		st, err = a.userStateOf(r, tx, acct)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

type unfreezeRequest struct {
	Reason string `json:"reason"`
}

// unfreezeUser lifts a freeze after staff re-verified the owner; a reason is required.
func (a *API) unfreezeUser(w http.ResponseWriter, r *http.Request) error {
	var req unfreezeRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if len(req.Reason) < 5 || len(req.Reason) > 500 {
		return errValidation(FieldError{Field: "reason", Code: "required", Detail: "say how the owner's identity was checked (5 to 500 characters)"})
	}
	meta := a.accountMeta(r)
	meta.Actor = adminActor(r)
	acct, err := a.Accounts.Unfreeze(r.Context(), r.PathValue("id"), req.Reason, meta)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound("user")
	case errors.Is(err, account.ErrNotFrozen):
		return NewProblem(http.StatusConflict, "not_frozen", "this account is not frozen")
	case err != nil:
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusOK, map[string]any{"id": acct.ID, "frozen": false})
	return nil
}
