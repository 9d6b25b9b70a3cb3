// Package httpapi is Warden's JSON API: the user API (/v1), the admin API
// (/admin/v1) and the operational endpoints, with the conventions every
// handler shares — problem+json errors, strict JSON bodies, request ids,
// access logs, metrics and panic recovery.
//
// Handlers decode and check the request, call a capability package that
// decides, and let the store persist; they hold no domain rules themselves.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/keyring"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/money"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/notify"
	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/verification"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Deps are what the API works with.
type Deps struct {
	Store  *store.Store
	Keys   *keyring.Keyring
	Mailer *notify.Mailer
	// Outbox is woken after an action commits messages, so they leave at once.
	Outbox interface{ Wake() }
	// BootstrapAdminKey is WARDEN_ADMIN_KEY: a key with every scope, not stored.
	BootstrapAdminKey string
	TrustedProxies    []netip.Prefix
	Log               *slog.Logger
	Metrics           *Metrics
	Now               func() time.Time
	// Pages registers the server-rendered pages on the same mux (optional).
	Pages interface{ Register(mux *http.ServeMux) }

	Accounts *account.Service
	Sessions *session.Service
	MFA      *mfa.Service
	Login    *login.Service
	// BaseURL is WARDEN_BASE_URL: cookies are Secure when it is https.
	BaseURL string
	Limiter *ratelimit.Limiter
	Limits  RateLimits
	// Verification is identity verification (KYC) and the 2FA reset.
	Verification *verification.Service
	// Providers are the external KYC services allowed to post results, by name.
	Providers map[string]verification.Provider
	// Currency is the reference currency limits are in.
	Currency money.Currency
	// Withdrawals guards withdrawals: address book, requests, review, payout.
	Withdrawals *withdrawal.Service
	// Monitoring is transaction monitoring: events, rules, alerts, backtests.
	Monitoring *monitor.Service
	// Cases are users' reports of compromised accounts, for staff.
	Cases *cases.Service
}

// API serves every HTTP route of Warden.
type API struct {
	Deps
	routes []Route
	mux    *http.ServeMux
	// crossOrigin refuses cookie-authenticated writes sent from another site.
	// Browsers attach cookies on their own, which is what CSRF abuses; they
	// never attach a Bearer token, so those requests need no such check.
	crossOrigin *http.CrossOriginProtection
	// adminKeys remembers admin keys found in the database (admin_auth.go).
	adminKeys adminKeyCache
}

// Route is one API operation. The route table is the source the OpenAPI test
// checks the document against.
type Route struct {
	Method string
	Path   string // ServeMux path pattern, e.g. /admin/v1/webhooks/{id}
	// Scope, when set, is the admin scope the caller's key must hold.
	Scope string
	// OrProviderSigned, with Scope, also lets in a request that carries no
	// Authorization header: the handler then checks an external KYC
	// provider's signature instead (verification.go).
	OrProviderSigned bool
	// User, when set, requires a signed-in user of the platform.
	User bool
	// MaxBody bounds the request body; 0 means MaxBodyBytes (uploads are larger).
	MaxBody int64
	handle  func(w http.ResponseWriter, r *http.Request) error
}

// New builds the API and its routing.
func New(d Deps) *API {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	a := &API{Deps: d, mux: http.NewServeMux(), crossOrigin: http.NewCrossOriginProtection()}
	a.routes = a.routeTable()
	paths := map[string][]string{}
	for _, rt := range a.routes {
		a.mux.Handle(rt.Method+" "+rt.Path, a.wrap(rt))
		paths[rt.Path] = append(paths[rt.Path], rt.Method)
	}
	// A known path with another method answers 405 with the methods it has.
	for path, methods := range paths {
		allow := strings.Join(slices.Sorted(slices.Values(methods)), ", ")
		a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeProblem(w, NewProblem(http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed here; allowed: "+allow))
		})
	}
	for _, prefix := range []string{"/v1/", "/admin/"} {
		a.mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, NewProblem(http.StatusNotFound, "not_found", "no such API path: "+r.URL.Path))
		})
	}
	if d.Pages != nil {
		d.Pages.Register(a.mux)
	}
	return a
}

// Routes lists the API operations.
func (a *API) Routes() []Route { return slices.Clone(a.routes) }

// Handler is the whole HTTP surface, with the outer middleware applied.
func (a *API) Handler() http.Handler {
	return a.withRequestContext(a.recoverPanics(a.mux))
}

func (a *API) routeTable() []Route {
	return []Route{
		{Method: "GET", Path: "/healthz", handle: a.healthz},
		{Method: "GET", Path: "/readyz", handle: a.readyz},
		{Method: "GET", Path: "/metrics", handle: a.metrics},
		{Method: "GET", Path: "/openapi.json", handle: a.openapi},

		{Method: "POST", Path: "/v1/registrations", handle: a.register},
		{Method: "POST", Path: "/v1/email-verifications", handle: a.verifyEmail},
		{Method: "POST", Path: "/v1/sessions", handle: a.createSession},
		{Method: "POST", Path: "/v1/sessions/challenges/{id}", handle: a.completeChallenge},
		{Method: "POST", Path: "/v1/device-confirmations", handle: a.confirmDevice},
		{Method: "GET", Path: "/v1/devices", User: true, handle: a.listDevices},
		{Method: "DELETE", Path: "/v1/devices/{id}", User: true, handle: a.forgetDevice},
		{Method: "GET", Path: "/v1/session", User: true, handle: a.getSession},
		{Method: "DELETE", Path: "/v1/session", User: true, handle: a.deleteSession},
		{Method: "GET", Path: "/v1/sessions", User: true, handle: a.listSessions},
		{Method: "DELETE", Path: "/v1/sessions/{id}", User: true, handle: a.revokeSession},
		{Method: "POST", Path: "/v1/password-resets", handle: a.requestPasswordReset},
		{Method: "POST", Path: "/v1/password-resets/confirm", handle: a.confirmPasswordReset},
		{Method: "PUT", Path: "/v1/password", User: true, handle: a.changePassword},
		{Method: "PUT", Path: "/v1/anti-phishing-code", User: true, handle: a.setAntiPhishingCode},
		{Method: "GET", Path: "/v1/mfa", User: true, handle: a.getMFA},
		{Method: "POST", Path: "/v1/mfa/totp", User: true, handle: a.beginTOTP},
		{Method: "POST", Path: "/v1/mfa/totp/confirm", User: true, handle: a.confirmTOTP},
		{Method: "DELETE", Path: "/v1/mfa/totp", User: true, handle: a.disableTOTP},
		{Method: "POST", Path: "/v1/mfa/recovery-codes", User: true, handle: a.regenerateRecoveryCodes},
		{Method: "POST", Path: "/v1/mfa/webauthn/registrations", User: true, handle: a.beginPasskeyRegistration},
		{Method: "POST", Path: "/v1/mfa/webauthn/registrations/finish", User: true, handle: a.finishPasskeyRegistration},
		{Method: "PATCH", Path: "/v1/mfa/webauthn/credentials/{id}", User: true, handle: a.renamePasskey},
		{Method: "DELETE", Path: "/v1/mfa/webauthn/credentials/{id}", User: true, handle: a.removePasskey},
		{Method: "POST", Path: "/v1/step-up", User: true, handle: a.stepUp},
		{Method: "POST", Path: "/v1/account/freeze", handle: a.freezeAccount},
		{Method: "GET", Path: "/v1/activity", User: true, handle: a.activity},
		{Method: "GET", Path: "/v1/security", User: true, handle: a.getSecurity},
		// With a session, or (the owner of a frozen account has none) a
		// freeze token or the access token of an earlier report (cases.go).
		{Method: "POST", Path: "/v1/account/report", handle: a.reportAccount},
		{Method: "GET", Path: "/v1/account/report", handle: a.getAccountReport},

		{Method: "GET", Path: "/v1/verification", User: true, handle: a.getVerification},
		{Method: "PUT", Path: "/v1/verification/personal-info", User: true, handle: a.savePersonalInfo},
		{Method: "POST", Path: "/v1/verification/documents", User: true, MaxBody: maxUploadBody, handle: a.addDocument},
		{Method: "POST", Path: "/v1/verification/selfie", User: true, MaxBody: maxUploadBody, handle: a.addSelfie},
		{Method: "POST", Path: "/v1/verification/submit", User: true, handle: a.submitVerification},
		{Method: "GET", Path: "/v1/limits", User: true, handle: a.getLimits},
		{Method: "POST", Path: "/v1/mfa-resets", handle: a.requestMFAReset},
		{Method: "GET", Path: "/v1/mfa-resets/current", handle: a.currentMFAReset},
		{Method: "POST", Path: "/v1/mfa-resets/documents", MaxBody: maxUploadBody, handle: a.addResetDocument},
		{Method: "POST", Path: "/v1/mfa-resets/selfie", MaxBody: maxUploadBody, handle: a.addResetSelfie},
		{Method: "POST", Path: "/v1/mfa-resets/submit", handle: a.submitMFAReset},
		{Method: "DELETE", Path: "/v1/mfa-reset", User: true, handle: a.cancelMFAReset},

		{Method: "GET", Path: "/v1/addresses", User: true, handle: a.listAddresses},
		{Method: "POST", Path: "/v1/addresses", User: true, handle: a.addAddress},
		{Method: "POST", Path: "/v1/addresses/{id}/confirm", User: true, handle: a.confirmAddress},
		{Method: "DELETE", Path: "/v1/addresses/{id}", User: true, handle: a.deleteAddress},
		{Method: "GET", Path: "/v1/allow-list", User: true, handle: a.getAllowList},
		{Method: "PUT", Path: "/v1/allow-list", User: true, handle: a.putAllowList},
		{Method: "POST", Path: "/v1/allow-list/confirm", handle: a.confirmAllowListOff},
		{Method: "GET", Path: "/v1/withdrawals", User: true, handle: a.listWithdrawals},
		{Method: "POST", Path: "/v1/withdrawals", User: true, handle: a.requestWithdrawal},
		{Method: "GET", Path: "/v1/withdrawals/{id}", User: true, handle: a.getWithdrawal},
		{Method: "DELETE", Path: "/v1/withdrawals/{id}", User: true, handle: a.cancelWithdrawal},
		{Method: "POST", Path: "/v1/withdrawals/{id}/confirm", User: true, handle: a.confirmWithdrawalCode},
		{Method: "POST", Path: "/v1/withdrawal-confirmations", handle: a.confirmWithdrawalEmail},

		{Method: "POST", Path: "/admin/v1/sessions/introspect", Scope: "sessions:introspect", handle: a.introspect},
		{Method: "GET", Path: "/admin/v1/users", Scope: "users:read", handle: a.findUsers},
		{Method: "GET", Path: "/admin/v1/users/{id}", Scope: "users:read", handle: a.getUser},
		{Method: "POST", Path: "/admin/v1/users/{id}/unfreeze", Scope: "users:write", handle: a.unfreezeUser},
		{Method: "GET", Path: "/admin/v1/users/{id}/restrictions", Scope: "users:read", handle: a.listRestrictions},
		{Method: "POST", Path: "/admin/v1/users/{id}/restrictions", Scope: "users:write", handle: a.restrictUser},
		{Method: "DELETE", Path: "/admin/v1/users/{id}/restrictions/{rid}", Scope: "users:write", handle: a.liftRestriction},

		{Method: "PUT", Path: "/admin/v1/prices", Scope: "prices:write", handle: a.putPrices},
		{Method: "GET", Path: "/admin/v1/withdrawals", Scope: "withdrawals:read", handle: a.listWithdrawalsForStaff},
		{Method: "GET", Path: "/admin/v1/withdrawals/{id}", Scope: "withdrawals:read", handle: a.getWithdrawalForStaff},
		{Method: "POST", Path: "/admin/v1/withdrawals/{id}/approve", Scope: "withdrawals:write", handle: a.approveWithdrawal},
		{Method: "POST", Path: "/admin/v1/withdrawals/{id}/reject", Scope: "withdrawals:write", handle: a.rejectWithdrawal},
		{Method: "POST", Path: "/admin/v1/withdrawals/{id}/complete", Scope: "withdrawals:write", handle: a.completeWithdrawal},

		{Method: "GET", Path: "/admin/v1/verifications", Scope: "verifications:review", handle: a.listVerifications},
		{Method: "GET", Path: "/admin/v1/verifications/{id}", Scope: "verifications:review", handle: a.getVerificationReview},
		{Method: "GET", Path: "/admin/v1/verifications/{id}/documents/{doc}", Scope: "verifications:review", handle: a.verificationDocument},
		{Method: "POST", Path: "/admin/v1/verifications/{id}/approve", Scope: "verifications:review", handle: a.approveVerification},
		{Method: "POST", Path: "/admin/v1/verifications/{id}/reject", Scope: "verifications:review", handle: a.rejectVerification},
		// Signed by the provider (HMAC of the body), or relayed with an admin key.
		{Method: "POST", Path: "/admin/v1/verifications/{id}/provider-result", Scope: "verifications:review", OrProviderSigned: true, handle: a.providerResult},

		{Method: "POST", Path: "/admin/v1/events", Scope: "events:write", MaxBody: maxEventsBody, handle: a.ingestEvents},
		{Method: "GET", Path: "/admin/v1/rules", Scope: "rules:write", handle: a.getRules},
		{Method: "PUT", Path: "/admin/v1/rules", Scope: "rules:write", handle: a.putRules},
		{Method: "POST", Path: "/admin/v1/rules/backtest", Scope: "rules:write", handle: a.backtestRules},
		{Method: "GET", Path: "/admin/v1/alerts", Scope: "alerts:read", handle: a.listAlerts},
		{Method: "POST", Path: "/admin/v1/alerts/{id}/resolve", Scope: "alerts:write", handle: a.resolveAlert},
		{Method: "POST", Path: "/admin/v1/alerts/{id}/case", Scope: "alerts:write", handle: a.investigateAlert},
		{Method: "GET", Path: "/admin/v1/cases", Scope: "alerts:read", handle: a.listCases},
		{Method: "GET", Path: "/admin/v1/cases/{id}", Scope: "alerts:read", handle: a.getCase},
		{Method: "POST", Path: "/admin/v1/cases/{id}/resolve", Scope: "alerts:write", handle: a.resolveCase},

		{Method: "GET", Path: "/admin/v1/audit", Scope: "audit:read", handle: a.listAudit},
		{Method: "GET", Path: "/admin/v1/audit/verify", Scope: "audit:read", handle: a.verifyAudit},

		{Method: "GET", Path: "/admin/v1/webhooks", Scope: "webhooks:write", handle: a.listWebhooks},
		{Method: "POST", Path: "/admin/v1/webhooks", Scope: "webhooks:write", handle: a.createWebhook},
		{Method: "DELETE", Path: "/admin/v1/webhooks", Scope: "webhooks:write", handle: a.deleteWebhookByQuery},
		{Method: "DELETE", Path: "/admin/v1/webhooks/{id}", Scope: "webhooks:write", handle: a.deleteWebhook},
		{Method: "POST", Path: "/admin/v1/webhooks/{id}/test", Scope: "webhooks:write", handle: a.testWebhook},

		{Method: "GET", Path: "/admin/v1/outbox", Scope: "outbox:read", handle: a.listOutbox},
		{Method: "POST", Path: "/admin/v1/outbox/{id}/retry", Scope: "outbox:write", handle: a.retryOutbox},
		{Method: "POST", Path: "/admin/v1/outbox/test-email", Scope: "outbox:write", handle: a.sendTestEmail},
	}
}

// wrap applies a route's own middleware: body limit, admin authentication,
// and the translation of returned errors into problems.
func (a *API) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(MaxBodyBytes)
		if rt.MaxBody > 0 {
			limit = rt.MaxBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if rt.Scope != "" && !(rt.OrProviderSigned && r.Header.Get("Authorization") == "") {
			key, p := a.authenticateAdmin(r, rt.Scope)
			if p != nil {
				writeProblem(w, p)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), adminKeyCtx{}, key))
		}
		if rt.User {
			c, p := a.authenticateUser(r, account.RealmUser)
			if p != nil {
				writeProblem(w, p)
				return
			}
			if c.viaCookie && a.crossOrigin.Check(r) != nil {
				writeProblem(w, errCrossOrigin())
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), userCtx{}, c))
		}
		if err := rt.handle(w, r); err != nil {
			a.fail(w, r, err)
		}
	})
}

// fail answers a handler's error: a *Problem as itself, anything else as a
// 500 that says nothing of its cause (which goes to the log).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	if errors.As(err, &p) {
		writeProblem(w, p)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, errNotFound("resource"))
		return
	}
	a.Log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "error", err)
	writeProblem(w, errInternal())
}
