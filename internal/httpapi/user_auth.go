package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/session"
)

// Cookie names (API.md).
const (
	SessionCookie = "warden_session"
	DeviceCookie  = "warden_device"
	DeviceHeader  = "X-Warden-Device"
)

type userCtx struct{}

// caller is the signed-in account of a user-API request.
type caller struct {
	session   session.Session
	account   account.Account
	viaCookie bool
}

func currentCaller(ctx context.Context) caller {
	c, _ := ctx.Value(userCtx{}).(caller)
	return c
}

// sessionToken reads the session token: Bearer header first, then the cookie.
func sessionToken(r *http.Request) (token string, viaCookie bool) {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t), false
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

// deviceToken reads the client's device token: header first, then cookie.
func deviceToken(r *http.Request) string {
	if t := r.Header.Get(DeviceHeader); t != "" {
		return t
	}
	if c, err := r.Cookie(DeviceCookie); err == nil {
		return c.Value
	}
	return ""
}

// authenticateUser resolves the session of a user-API request; realm keeps
// staff sessions out of the user API and user sessions out of the console.
func (a *API) authenticateUser(r *http.Request, realm string) (caller, *Problem) {
	token, viaCookie := sessionToken(r)
	if token == "" {
		return caller{}, NewProblem(http.StatusUnauthorized, "unauthenticated", "log in first: send the session token as Authorization: Bearer … or the warden_session cookie")
	}
	sess, acct, err := a.Sessions.Resolve(r.Context(), token)
	if errors.Is(err, session.ErrNoSession) || (err == nil && sess.Realm != realm) {
		return caller{}, NewProblem(http.StatusUnauthorized, "unauthenticated", "the session has ended or is not valid here; log in again")
	}
	if err != nil {
		a.Log.ErrorContext(r.Context(), "resolve session", "request_id", requestID(r.Context()), "error", err)
		return caller{}, errInternal()
	}
	return caller{session: sess, account: acct, viaCookie: viaCookie}, nil
}

func errCrossOrigin() *Problem {
	return NewProblem(http.StatusForbidden, "csrf_failed",
		"a cookie-authenticated change must come from this site's own pages (or send the session as a Bearer token)")
}

func (a *API) setSessionCookies(w http.ResponseWriter, token string, expires time.Time, device string) {
	secure := strings.HasPrefix(a.BaseURL, "https://")
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
	if device != "" {
		http.SetCookie(w, &http.Cookie{
			Name: DeviceCookie, Value: device, Path: "/", Expires: time.Now().AddDate(2, 0, 0),
			HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
		})
	}
}

func (a *API) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: strings.HasPrefix(a.BaseURL, "https://"), SameSite: http.SameSiteLaxMode,
	})
}
