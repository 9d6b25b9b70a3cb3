package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/session"
)

// Signing in works the same way on the account pages and in the staff
// console: a cookie holds the session, a guard lets only the signed-in
// through, a login form checks the password and a logout ends the session.
// What sets the two sides apart (which accounts, which cookie, which pages)
// is a signIn value, userSignIn or staffSignIn, and the code below is
// written once against it.

// member is someone signed in to one side's pages, with their account and
// session: a user on the account pages, a staff member in the console.
type member struct {
	Session session.Session
	Account account.Account
}

// signIn is what one side's pages know about signing in.
type signIn struct {
	// realm is the accounts that may sign in here: account.RealmUser or
	// account.RealmStaff. A session of the other realm counts as none.
	realm string
	// cookie holds the session; it is sent to cookiePath and below only.
	cookie     string
	cookiePath string
	sameSite   http.SameSite
	// dropsOtherRealms clears the cookie when it holds the other realm's
	// session. Only a forged console cookie can hold a user's session; the
	// user cookie is the JSON API's too, and is left as it is.
	dropsOtherRealms bool
	// deviceCookie holds the device token the login sends along and keeps
	// when it gets a new one, so that a device that passed the checks once
	// is recognised: a trusted device needs no email confirmation and has a
	// lockout lane of its own. It is sent to deviceCookiePath and below.
	deviceCookie     string
	deviceCookiePath string
	// oneTimePasswordPath is where an account that still has a one-time
	// password must go before any other page; "" where there are none.
	oneTimePasswordPath string
	// mfaSetupPath is where an account without a second factor must set one
	// up before any other page (after its one-time password); "" where a
	// second factor is the account's choice.
	mfaSetupPath string
	// challengePath is the second step of a login that must prove more than
	// the password (the new-device email's link, a second factor);
	// challengeCookie holds the challenge there.
	challengePath   string
	challengeCookie string
	// frozenPath is where a login goes when the account was frozen between
	// its password and its last step.
	frozenPath string
	// what names the session in log lines.
	what string

	// loginPath is the login page: the guard sends signed-out visitors
	// there, and the logout too.
	loginPath string
	// home is where a login goes when no page asked for another.
	home           string
	signedOutFlash string
	loginTemplate  string
	loginForm      func() *form
	// next cleans the page to go to after the login: "" when it is not one
	// of this side's pages.
	next func(string) string
	// forgotPasswordPath offers a reset by email on the login form; "" where
	// only an administrator can give a new password.
	forgotPasswordPath string
	// wrongCredentials is the same for an unknown email and a wrong password.
	wrongCredentials func() *problem
	// refused explains, to someone who knows the password, why the account
	// may not log in (frozen, or its email address not confirmed).
	refused func(err error, email, supportURL string) *problem
}

var userSignIn = signIn{
	realm:            account.RealmUser,
	cookie:           sessionCookie,
	cookiePath:       "/",
	sameSite:         http.SameSiteLaxMode,
	deviceCookie:     deviceCookie,
	deviceCookiePath: "/",
	what:             "session",

	challengePath:   "/login/challenge",
	challengeCookie: "warden_challenge",
	frozenPath:      "/frozen",

	loginPath:          "/login",
	home:               securityCenterPath, // what protects the account, and what to turn on next
	signedOutFlash:     flashSignedOut,
	loginTemplate:      "login",
	loginForm:          loginForm,
	next:               safeNext,
	forgotPasswordPath: "/forgot-password",
	wrongCredentials:   wrongCredentials,
	refused:            userLoginRefused,
}

var staffSignIn = signIn{
	realm:            account.RealmStaff,
	cookie:           consoleCookie,
	cookiePath:       consolePath,
	sameSite:         http.SameSiteStrictMode,
	dropsOtherRealms: true,
	// The console's own: a user's device token names no staff device, and
	// the user's cookie is the JSON API's.
	deviceCookie:        consoleDeviceCookie,
	deviceCookiePath:    consolePath,
	oneTimePasswordPath: "/console/password",
	mfaSetupPath:        "/console/mfa",
	what:                "staff session",

	challengePath:   "/console/login/challenge",
	challengeCookie: "warden_console_challenge",
	frozenPath:      "/console/login",

	loginPath:        "/console/login",
	home:             consolePath,
	signedOutFlash:   flashConsoleSignedOut,
	loginTemplate:    "console-login",
	loginForm:        consoleLoginForm,
	next:             consoleNext,
	wrongCredentials: wrongStaffCredentials,
	refused:          staffLoginRefused,
}

// ---- Sessions ----------------------------------------------------------------------

type memberKey struct{ realm string }

// resolve finds who is signed in to si's pages from its cookie. stale is set
// when the cookie should go: its session has ended (or, where si drops them,
// it is the other realm's).
func (p *Pages) resolve(si signIn, r *http.Request) (m *member, stale bool, err error) {
	c, err := r.Cookie(si.cookie)
	if err != nil || c.Value == "" {
		return nil, false, nil
	}
	sess, acct, err := p.sessions.Resolve(r.Context(), c.Value)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return nil, true, nil
	case err != nil:
		return nil, false, err
	case sess.Realm != si.realm || acct.Realm != si.realm:
		// A staff session never opens the account pages, a user's never the console.
		return nil, si.dropsOtherRealms, nil
	}
	return &member{Session: sess, Account: acct}, false, nil
}

// viewer is who is signed in to si's pages, for the layout's navigation:
// the one a handler resolved already, or the cookie's.
func (p *Pages) viewer(si signIn, r *http.Request) *member {
	if m, ok := r.Context().Value(memberKey{si.realm}).(*member); ok {
		return m
	}
	if p.sessions == nil {
		return nil
	}
	m, _, err := p.resolve(si, r)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: resolve "+si.what, "err", err)
	}
	return m
}

// memberHandler serves a page to someone signed in.
type memberHandler func(w http.ResponseWriter, r *http.Request, m *member)

// signedIn lets only those signed in to si's pages through; others go to its
// login page, which brings them back here afterwards. Someone who still has
// a one-time password is sent to choose their own from every page.
func (p *Pages) signedIn(si signIn, h memberHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, stale, err := p.resolve(si, r)
		if err != nil {
			p.internalError(w, r, "resolve "+si.what, err)
			return
		}
		if m == nil {
			if stale {
				p.clearSessionCookie(w, si)
			}
			next := r.URL.Path
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				next = r.URL.RequestURI()
			}
			http.Redirect(w, r, si.loginPath+"?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
			return
		}
		if si.oneTimePasswordPath != "" && m.Account.MustChangePassword {
			// The account may come from the session cache, from before the
			// password was changed: only the database can clear the flag.
			fresh, err := p.freshAccount(r, m)
			if err != nil {
				p.internalError(w, r, "read the account of a "+si.what, err)
				return
			}
			m.Account = fresh
			if m.Account.MustChangePassword && r.URL.Path != si.oneTimePasswordPath {
				http.Redirect(w, r, si.oneTimePasswordPath, http.StatusSeeOther)
				return
			}
		}
		if si.mfaSetupPath != "" && !m.Account.MustChangePassword && !m.Account.MFAEnabled {
			// As above: the cache may not know yet that a factor was set up.
			fresh, err := p.freshAccount(r, m)
			if err != nil {
				p.internalError(w, r, "read the account of a "+si.what, err)
				return
			}
			m.Account = fresh
			if !m.Account.MFAEnabled && r.URL.Path != si.mfaSetupPath && !strings.HasPrefix(r.URL.Path, si.mfaSetupPath+"/") {
				http.Redirect(w, r, si.mfaSetupPath, http.StatusSeeOther)
				return
			}
		}
		// Render draws the navigation for m, without resolving the cookie again.
		h(w, r.WithContext(context.WithValue(r.Context(), memberKey{si.realm}, m)), m)
	}
}

// setSessionCookies is, for users, what the JSON API's login sets too.
func (p *Pages) setSessionCookies(w http.ResponseWriter, si signIn, started session.Started) {
	http.SetCookie(w, &http.Cookie{
		Name: si.cookie, Value: started.Token, Path: si.cookiePath, Expires: started.Session.ExpiresAt,
		HttpOnly: true, Secure: p.secure, SameSite: si.sameSite,
	})
	if started.DeviceToken != "" {
		http.SetCookie(w, &http.Cookie{
			Name: si.deviceCookie, Value: started.DeviceToken, Path: si.deviceCookiePath, Expires: p.now().AddDate(2, 0, 0),
			HttpOnly: true, Secure: p.secure, SameSite: si.sameSite,
		})
	}
}

// loginMeta describes a login step for login.Service: the client, and the
// device token its cookie holds.
func (p *Pages) loginMeta(r *http.Request, si signIn) session.Meta {
	m := p.sessionMeta(r)
	if c, err := r.Cookie(si.deviceCookie); err == nil && len(c.Value) <= maxTokenLen {
		m.DeviceToken = c.Value
	}
	return m
}

func (p *Pages) clearSessionCookie(w http.ResponseWriter, si signIn) {
	http.SetCookie(w, &http.Cookie{
		Name: si.cookie, Value: "", Path: si.cookiePath, MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: si.sameSite,
	})
}

// endSession ends the session this browser holds on si's pages, if any. It
// answers false when it failed and already showed the error page.
func (p *Pages) endSession(w http.ResponseWriter, r *http.Request, si signIn) bool {
	m, _, err := p.resolve(si, r)
	if err != nil {
		p.internalError(w, r, "resolve "+si.what, err)
		return false
	}
	if m == nil {
		return true
	}
	if _, err := p.sessions.Revoke(r.Context(), m.Account, m.Session.ID, "", "logout", p.sessionMeta(r)); err != nil {
		p.internalError(w, r, "end the "+si.what, err)
		return false
	}
	return true
}

// logOut ends the session this browser holds on si's pages and goes to the
// login page, which says so.
func (p *Pages) logOut(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.endSession(w, r, si) {
			return
		}
		p.clearSessionCookie(w, si)
		p.redirect(w, r, si.loginPath, si.signedOutFlash)
	}
}

// ---- Log in -------------------------------------------------------------------------

// loginData is what the login pages draw their form from ("login-form" in
// forms.html).
type loginData struct {
	Form *form
	// Action is the login page, where the form posts to.
	Action string
	// Next is the page to go to after the login, "" for the side's home.
	Next string
	// ForgotPassword links the password reset, "" for none.
	ForgotPassword string
}

func (si signIn) loginData(f *form, next string) loginData {
	return loginData{Form: f, Action: si.loginPath, Next: next, ForgotPassword: si.forgotPasswordPath}
}

// showLogin draws si's login page, or sends someone already signed in on to
// where they were going.
func (p *Pages) showLogin(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.URL.Query().Get("next"))
		if p.viewer(si, r) != nil {
			http.Redirect(w, r, cmpOr(next, si.home), http.StatusSeeOther)
			return
		}
		f := si.loginForm()
		p.renderForm(w, r, http.StatusOK, si.loginTemplate, f, si.loginData(f, next))
	}
}

// logIn checks the login form of si's pages: login.Service decides whether
// the password is enough, or what else the login must prove first.
func (p *Pages) logIn(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.PostFormValue("next"))
		f := si.loginForm()
		data := si.loginData(f, next)
		email, emailOK := readField(r, "email", true)
		plain, passwordOK := readField(r, "password", false)
		if emailOK {
			f.F("email").Value = email
		}
		if email == "" {
			f.fail("email", "Enter your email address.")
		}
		if plain == "" {
			f.fail("password", "Enter your password.")
		}
		if f.HasErrors() {
			p.renderForm(w, r, http.StatusUnprocessableEntity, si.loginTemplate, f, data)
			return
		}
		if !emailOK || !passwordOK {
			f.Problem = si.wrongCredentials()
			p.renderForm(w, r, http.StatusUnauthorized, si.loginTemplate, f, data)
			return
		}
		// Only the address is limited here: the account is guarded by its
		// lockout lanes, which an attacker cannot turn against the owner's
		// trusted devices (a per-account bucket would let them).
		if p.limitedForm(w, r, "login attempts", f, si.loginTemplate, data) {
			return
		}
		res, err := p.login.Password(r.Context(), login.Attempt{Realm: si.realm, Email: email, Password: plain, Meta: p.loginMeta(r, si)})
		var locked *login.LockedError
		var denied *login.DeniedError
		var stuffing *login.TooManyFailuresError
		status := http.StatusUnauthorized
		switch {
		case err == nil && res.Challenge != nil:
			p.startChallenge(w, r, si, *res.Challenge, next)
			return
		case err == nil:
			p.finishLogin(w, r, si, res, next)
			return
		case errors.As(err, &locked):
			p.lockedOut(w, r, si, locked.RetryAfter)
			return
		case errors.As(err, &stuffing):
			secs := int((stuffing.RetryAfter + time.Second - 1) / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			f.Problem, status = &problem{Message: "Too many failed logins from your network. Wait " + howLong(int64(secs)) + " and try again."}, http.StatusTooManyRequests
		case errors.As(err, &denied):
			p.loginDenied(w, r, si, denied)
			return
		case errors.Is(err, account.ErrInvalidCredentials):
			// login.Service counted it on the device's lane and in the activity.
			f.Problem = si.wrongCredentials()
		case errors.Is(err, account.ErrFrozen), errors.Is(err, account.ErrEmailNotVerified):
			// Only said to someone who knows the password.
			f.Problem, status = si.refused(err, email, p.supportURL), http.StatusForbidden
		case errors.Is(err, password.ErrOverloaded):
			f.Problem, status = overloaded(w), http.StatusServiceUnavailable
		default:
			p.internalError(w, r, "log in a "+si.what, err)
			return
		}
		p.renderForm(w, r, status, si.loginTemplate, f, data)
	}
}

// stoppedData is the page of a login stopped before its password was
// checked (Locked), or refused by the risk decision despite it.
type stoppedData struct {
	// Action is the login page.
	Action string
	// Locked: too many wrong answers from this device; RetryAt is when the
	// lane opens again, Wait the time until then in words.
	Locked  bool
	RetryAt time.Time
	Wait    string
	// Reasons say why a login was denied, in words.
	Reasons string
	// Restricted: staff restricted the account's logins; the page says to
	// contact support rather than to try again later.
	Restricted bool
	SupportURL string
}

// loginDenied answers a login refused after a right password: by the risk
// decision, or because the account's logins are restricted.
func (p *Pages) loginDenied(w http.ResponseWriter, r *http.Request, si signIn, denied *login.DeniedError) {
	p.clearChallengeCookie(w, si)
	p.Render(w, r, http.StatusForbidden, "login-stopped", stoppedData{Action: si.loginPath, Reasons: login.ReasonText(denied.Reasons),
		Restricted: slices.Contains(denied.Reasons, login.ReasonRestricted), SupportURL: p.supportURL})
}

// lockedOut answers a login on a locked lane: 423 with when to try again.
func (p *Pages) lockedOut(w http.ResponseWriter, r *http.Request, si signIn, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	p.Render(w, r, http.StatusLocked, "login-stopped", stoppedData{
		Action: si.loginPath, Locked: true, RetryAt: p.now().Add(wait), Wait: roughly(secs),
	})
}

// roughly says a wait in words, rounded up to the minute from 90 seconds.
func roughly(secs int64) string {
	if secs > 90 {
		return howLong((secs + 59) / 60 * 60)
	}
	return howLong(max(secs, 1))
}

// finishLogin signs in to si's pages with the session login.Service
// started, and goes on.
func (p *Pages) finishLogin(w http.ResponseWriter, r *http.Request, si signIn, res login.Result, next string) {
	if location, ok := p.startLoginSession(w, r, si, res, next); ok {
		p.redirect(w, r, location, "")
	}
}
