package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

func (a *API) accountMeta(r *http.Request) account.Meta {
	return account.Meta{IP: clientIP(r.Context()), UserAgent: r.UserAgent(), RequestID: requestID(r.Context())}
}

// accountProblem maps the account and password errors to their problems;
// anything else is returned as is (a 500 unless it is a problem already).
func accountProblem(err error) error {
	var weak *password.Weakness
	switch {
	case errors.As(err, &weak):
		p := NewProblem(http.StatusBadRequest, "weak_password", weak.Error())
		p.Errors = []FieldError{{Field: "password", Code: weak.Code, Detail: weak.Error()}}
		return p.With("feedback", map[string]any{"warning": weak.Warning, "suggestions": weak.Suggestions, "score": weak.Score})
	case errors.Is(err, password.ErrOverloaded):
		return NewProblem(http.StatusServiceUnavailable, "overloaded", "too many logins at once; try again in a moment").With("retry_after", 1)
	case errors.Is(err, account.ErrInvalidEmail):
		return errValidation(FieldError{Field: "email", Code: "invalid_email", Detail: "not a valid email address"})
	case errors.Is(err, account.ErrInvalidToken):
		return NewProblem(http.StatusBadRequest, "invalid_token", "this link or token is invalid, was already used, or has expired")
	case errors.Is(err, account.ErrInvalidCredentials):
		return NewProblem(http.StatusUnauthorized, "invalid_credentials", "the email or password is wrong")
	case errors.Is(err, account.ErrEmailNotVerified):
		return NewProblem(http.StatusForbidden, "email_not_verified", "confirm your email address first: open the link we sent you")
	case errors.Is(err, account.ErrFrozen):
		return NewProblem(http.StatusForbidden, "account_frozen", "this account is frozen; contact support to unfreeze it after checking your identity")
	}
	return err
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (c credentials) validate() *Problem {
	var fe fieldErrors
	if c.Email == "" {
		fe.add("email", "required", "enter your email address")
	} else if len(c.Email) > 254 {
		fe.add("email", "too_long", "at most 254 characters")
	}
	if c.Password == "" {
		fe.add("password", "required", "enter a password")
	} else if len(c.Password) > 1024 {
		fe.add("password", "too_long", "at most 128 characters")
	}
	return fe.problem()
}

func (a *API) register(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	if err := a.rateLimit(w, r, ratelimit.Key{Bucket: ipBucket("register:ip:", r), Limit: a.Limits.RegisterPerIP}); err != nil {
		return err
	}
	if err := a.Accounts.Register(r.Context(), req.Email, req.Password, a.accountMeta(r)); err != nil {
		return accountProblem(err)
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusAccepted, map[string]string{
		"status": "pending_verification",
		"detail": "If this address can be used, an email is on its way with what to do next.",
	})
	return nil
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (t tokenRequest) validate() *Problem {
	if t.Token == "" || len(t.Token) > 200 {
		return errValidation(FieldError{Field: "token", Code: "required", Detail: "the token from the email link"})
	}
	return nil
}

func (a *API) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	if _, err := a.Accounts.VerifyEmail(r.Context(), req.Token, a.accountMeta(r)); err != nil {
		return accountProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]any{"verified": true})
	return nil
}

type sessionCreated struct {
	Status       string    `json:"status"`
	SessionToken string    `json:"session_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	DeviceToken  string    `json:"device_token,omitempty"`
	// RecoveryCodesLeft is told after a recovery code was used.
	RecoveryCodesLeft *int `json:"recovery_codes_left,omitempty"`
}

// createSession is the password step of a login.
func (a *API) createSession(w http.ResponseWriter, r *http.Request) error {
	var req credentials
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if p := req.validate(); p != nil {
		return p
	}
	return a.login(w, r, account.RealmUser, req)
}

func (a *API) login(w http.ResponseWriter, r *http.Request, realm string, req credentials) error {
	// Only the address is rate limited here: the account is guarded by its
	// lockout lanes, which an attacker cannot use against the owner's
	// trusted devices (a per-account bucket would let them).
	if err := a.rateLimit(w, r, ratelimit.Key{Bucket: ipBucket("login:ip:", r), Limit: a.Limits.LoginPerIP}); err != nil {
		return err
	}
	res, err := a.Login.Password(r.Context(), login.Attempt{Realm: realm, Email: req.Email, Password: req.Password, Meta: a.sessionMeta(r)})
	var stuffing *login.TooManyFailuresError
	if errors.As(err, &stuffing) {
		secs := int((stuffing.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return NewProblem(http.StatusTooManyRequests, "rate_limited", "too many failed logins from this address; try again later").With("retry_after", secs)
	}
	if err != nil {
		return loginProblem(err)
	}
	return a.loginResult(w, res)
}

// loginResult answers a login step: 201 with the session, or 202 with what
// the challenge still waits for.
func (a *API) loginResult(w http.ResponseWriter, res login.Result) error {
	if ch := res.Challenge; ch != nil {
		out := challengeStarted{
			Status: "challenge", ChallengeID: ch.ID, Methods: ch.Methods, Reasons: ch.Reasons, Requires: ch.Requires, Pending: ch.Pending,
			ExpiresAt: ch.ExpiresAt, WebAuthnOptions: ch.WebAuthnOptions,
		}
		if out.Reasons == nil {
			out.Reasons = []string{}
		}
		writeJSON(w, http.StatusAccepted, out)
		return nil
	}
	started := res.Started
	a.setSessionCookies(w, started.Token, started.Session.ExpiresAt, started.DeviceToken)
	writeJSON(w, http.StatusCreated, sessionCreated{
		// expires_at means what GET /v1/session and introspection say: when
		// the session ends unless used again (the cookie lasts its lifetime).
		Status: "active", SessionToken: started.Token, ExpiresAt: started.Session.IdleExpiry(a.Sessions.Policy), DeviceToken: started.DeviceToken,
		RecoveryCodesLeft: res.RecoveryCodesLeft,
	})
	return nil
}

// loginProblem maps the login flow's refusals to their problems.
func loginProblem(err error) error {
	var locked *login.LockedError
	var denied *login.DeniedError
	switch {
	case errors.As(err, &locked):
		secs := int(locked.RetryAfter.Seconds() + 0.999)
		return NewProblem(http.StatusLocked, "account_locked",
			"too many wrong passwords or codes from this device; try again later, or log in from a device you used before").
			With("retry_after", secs)
	case errors.As(err, &denied):
		return NewProblem(http.StatusForbidden, "login_denied",
			"this login looked too risky and was refused; we emailed the account's owner").With("reasons", denied.Reasons)
	}
	return mfaProblem(err)
}

type sessionView struct {
	ID        string    `json:"id"`
	AAL       string    `json:"aal"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type whoami struct {
	User struct {
		ID               string `json:"id"`
		Email            string `json:"email"`
		MFAEnabled       bool   `json:"mfa_enabled"`
		VerificationTier int    `json:"verification_tier"`
		Frozen           bool   `json:"frozen"`
	} `json:"user"`
	Session sessionView `json:"session"`
	Device  struct {
		ID      string `json:"id"`
		Trusted bool   `json:"trusted"`
	} `json:"device"`
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	var out whoami
	out.User.ID, out.User.Email, out.User.Frozen, out.User.MFAEnabled = c.account.ID, c.account.Email, c.account.Frozen(), c.account.MFAEnabled
	out.User.VerificationTier = c.account.VerificationTier
	out.Session = sessionView{ID: c.session.ID, AAL: c.session.AAL, CreatedAt: c.session.CreatedAt, ExpiresAt: c.session.IdleExpiry(a.Sessions.Policy)}
	out.Device.ID = c.session.DeviceID
	if out.Device.ID != "" {
		err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
			d, err := tx.DeviceByID(r.Context(), c.account.ID, out.Device.ID)
			out.Device.Trusted = err == nil && d.Trusted()
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteSession(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	if _, err := a.Sessions.Revoke(r.Context(), c.account, c.session.ID, "", "logout", a.sessionMeta(r)); err != nil {
		return err
	}
	a.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) sessionMeta(r *http.Request) session.Meta {
	return session.Meta{IP: clientIP(r.Context()), UserAgent: r.UserAgent(), RequestID: requestID(r.Context()), DeviceToken: deviceToken(r)}
}

type listedSession struct {
	ID         string    `json:"id"`
	Current    bool      `json:"current"`
	AAL        string    `json:"aal"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	all, err := a.Sessions.List(r.Context(), c.account.ID)
	if err != nil {
		return err
	}
	out := make([]listedSession, 0, len(all))
	for _, s := range all {
		out = append(out, listedSession{ID: s.ID, Current: s.ID == c.session.ID, AAL: s.AAL, IP: s.IP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.IdleExpiry(a.Sessions.Policy)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
	return nil
}

func (a *API) revokeSession(w http.ResponseWriter, r *http.Request) error {
	c := currentCaller(r.Context())
	n, err := a.Sessions.Revoke(r.Context(), c.account, r.PathValue("id"), "", "revoked_by_user", a.sessionMeta(r))
	if err != nil {
		return err
	}
	if n == 0 {
		return errNotFound("session")
	}
	if r.PathValue("id") == c.session.ID {
		a.clearSessionCookie(w)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type emailRequest struct {
	Email string `json:"email"`
}

func (a *API) requestPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var req emailRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if req.Email == "" || len(req.Email) > 254 {
		return errValidation(FieldError{Field: "email", Code: "required", Detail: "enter your email address"})
	}
	if err := a.rateLimit(w, r,
		ratelimit.Key{Bucket: ipBucket("reset:ip:", r), Limit: a.Limits.ResetPerIP},
		ratelimit.Key{Bucket: emailBucket("reset:", req.Email), Limit: a.Limits.ResetPerAccount},
	); err != nil {
		return err
	}
	if err := a.Accounts.RequestPasswordReset(r.Context(), req.Email, a.accountMeta(r)); err != nil {
		return err
	}
	a.Outbox.Wake()
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "sent_if_registered",
		"detail": "If an account uses this address, an email with a reset link is on its way."})
	return nil
}

type resetConfirm struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (a *API) confirmPasswordReset(w http.ResponseWriter, r *http.Request) error {
	var req resetConfirm
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	fe.token(req.Token, "the token from the reset link")
	fe.password("new_password", req.NewPassword, "choose a new password of 10 to 128 characters")
	if p := fe.problem(); p != nil {
		return p
	}
	if err := a.Accounts.ResetPassword(r.Context(), req.Token, req.NewPassword, a.accountMeta(r)); err != nil {
		return renameField(accountProblem(err), "password", "new_password")
	}
	a.Outbox.Wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (a *API) changePassword(w http.ResponseWriter, r *http.Request) error {
	var req passwordChange
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	fe.password("current_password", req.CurrentPassword, "enter your current password")
	fe.password("new_password", req.NewPassword, "choose a new password of 10 to 128 characters")
	if p := fe.problem(); p != nil {
		return p
	}
	c := currentCaller(r.Context())
	if err := a.requireStepUp(r, c); err != nil {
		return err
	}
	err := a.Accounts.ChangePassword(r.Context(), c.account.ID, req.CurrentPassword, req.NewPassword, c.session.ID, a.accountMeta(r))
	if err != nil {
		return renameField(accountProblem(err), "password", "new_password")
	}
	a.Outbox.Wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// renameField makes a password problem name the request's own field.
func renameField(err error, from, to string) error {
	var p *Problem
	if errors.As(err, &p) {
		for i := range p.Errors {
			if p.Errors[i].Field == from {
				p.Errors[i].Field = to
			}
		}
	}
	return err
}

type antiPhishingRequest struct {
	Code string `json:"code"`
}

func (a *API) setAntiPhishingCode(w http.ResponseWriter, r *http.Request) error {
	var req antiPhishingRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	if err := account.ValidateAntiPhishingCode(req.Code); err != nil {
		return errValidation(FieldError{Field: "code", Code: "invalid", Detail: err.Error()})
	}
	c := currentCaller(r.Context())
	if err := a.Accounts.SetAntiPhishingCode(r.Context(), c.account.ID, req.Code, a.accountMeta(r)); err != nil {
		return accountProblem(err)
	}
	a.Outbox.Wake()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// freezeAccount is the "this wasn't me" action: with a token from any
// security email (no login needed — the owner may be locked out), or from a
// signed-in session.
func (a *API) freezeAccount(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return p
		}
	}
	meta := a.accountMeta(r)
	var acct account.Account
	var err error
	if req.Token != "" {
		if len(req.Token) > 200 {
			return accountProblem(account.ErrInvalidToken)
		}
		acct, err = a.Accounts.FreezeByToken(r.Context(), req.Token, meta)
	} else {
		c, p := a.authenticateUser(r, account.RealmUser)
		if p != nil {
			return p
		}
		if c.viaCookie {
			if a.crossOrigin.Check(r) != nil {
				return errCrossOrigin()
			}
		}
		acct, err = a.Accounts.Freeze(r.Context(), c.account.ID, "frozen by the owner", meta)
	}
	if err != nil {
		return accountProblem(err)
	}
	a.Outbox.Wake()
	a.clearSessionCookie(w)
	writeJSON(w, http.StatusOK, map[string]any{"frozen": true, "frozen_at": acct.FrozenAt})
	return nil
}

type activityItem struct {
	At        time.Time      `json:"at"`
	Action    string         `json:"action"`
	IP        string         `json:"ip,omitempty"`
	UserAgent string         `json:"user_agent,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// activity is the user's own security events, newest first, from the audit log.
func (a *API) activity(w http.ResponseWriter, r *http.Request) error {
	limit, before, p := pageParams(r)
	if p != nil {
		return p
	}
	c := currentCaller(r.Context())
	var records []audit.Record
	err := a.Store.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		records, err = tx.ListAuditRecords(r.Context(), store.AuditFilter{UserID: c.account.ID, Before: before, Limit: limit + 1})
		return err
	})
	if err != nil {
		return err
	}
	page, next := cutPage(records, limit, func(rec audit.Record) store.Cursor { return store.Cursor{At: rec.OccurredAt, ID: rec.ID} })
	items := make([]activityItem, 0, len(page))
	for _, rec := range page {
		items = append(items, activityOf(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": items, "next_cursor": next})
	return nil
}

// activityOf shows an audit record to its user: what happened, when, from
// where — and only the details that are safe and meaningful to them.
func activityOf(rec audit.Record) activityItem { return activityFor(rec, false) }

// activityFor describes an audit record; forStaff keeps the reasons staff
// wrote, which users never see.
func activityFor(rec audit.Record, forStaff bool) activityItem {
	item := activityItem{At: rec.OccurredAt, Action: rec.Action, IP: rec.IP}
	var data map[string]any
	_ = jsonUnmarshal(rec.Data, &data)
	if ua, ok := data["user_agent"].(string); ok {
		item.UserAgent = ua
	}
	// A reason written by staff or an admin key is an internal note.
	if !forStaff && (strings.HasPrefix(rec.Actor, "staff:") || strings.HasPrefix(rec.Actor, "admin_key:")) {
		delete(data, "reason")
	}
	for _, k := range []string{"reason", "reasons", "requires", "place", "new_device", "aal", "sessions_revoked", "count", "left", "name", "method"} {
		if v, ok := data[k]; ok {
			if item.Details == nil {
				item.Details = map[string]any{}
			}
			item.Details[k] = v
		}
	}
	return item
}
