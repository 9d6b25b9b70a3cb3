package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// Cookie names. The session and device cookies are the JSON API's too
// (API.md), so a login on these pages is a login for the API and back.
const (
	sessionCookie = "warden_session"
	deviceCookie  = "warden_device"
	// consoleDeviceCookie is the staff console's device cookie, sent to
	// /console only.
	consoleDeviceCookie = "warden_console_device"
	// flashCookie carries a one-time notice across a redirect: only a code
	// from the notices table, never text.
	flashCookie = "warden_flash"
)

// AuditStore is what the pages need of the store: read transactions for a
// user's activity, devices' login decisions and the console's lists, and
// write ones for the few changes made directly. *store.Store implements it.
type AuditStore interface {
	Read(ctx context.Context, fn func(tx *store.Tx) error) error
	Write(ctx context.Context, fn func(tx *store.Tx) error) error
}

// post guards a form handler: it refuses cross-origin posts (CSRF), bounds
// and parses the body.
func (p *Pages) post(h http.HandlerFunc) http.Handler {
	return p.postUpTo(maxFormBytes, "The form was too large to be accepted.", h)
}

// postUpTo is post for a form whose body may be up to limit bytes, and
// says tooLarge of a larger one.
func (p *Pages) postUpTo(limit int64, tooLarge string, h http.HandlerFunc) http.Handler {
	return p.csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				p.renderError(w, r, http.StatusRequestEntityTooLarge, tooLarge)
				return
			}
			p.renderError(w, r, http.StatusBadRequest, "The form could not be read. Go back and try again.")
			return
		}
		h(w, r)
	}))
}

// connectionInfo is RequestInfo when none is configured: the address of
// the connection and no request id.
func connectionInfo(r *http.Request) (string, string) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr, ""
	}
	return host, ""
}

func (p *Pages) accountMeta(r *http.Request) account.Meta {
	ip, rid := p.requestInfo(r)
	return account.Meta{IP: ip, UserAgent: r.UserAgent(), RequestID: rid}
}

func (p *Pages) sessionMeta(r *http.Request) session.Meta {
	ip, rid := p.requestInfo(r)
	return session.Meta{IP: ip, UserAgent: r.UserAgent(), RequestID: rid}
}

// flashLifetime is how long a notice waits for the page after the redirect.
const flashLifetime = time.Minute

// redirect answers a form post with a redirect to target (Post/Redirect/Get),
// leaving the notice code flash for the next page ("" for none).
func (p *Pages) redirect(w http.ResponseWriter, r *http.Request, target, flash string) {
	if flash != "" {
		p.setFlash(w, flash)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// setFlash leaves the notice code flash for the next page.
func (p *Pages) setFlash(w http.ResponseWriter, flash string) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: flash, Path: "/", MaxAge: int(flashLifetime / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Pages) clearFlash(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

// flashOf returns the notice code the request carries, "" for none.
func flashOf(r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// Codes of one-time notices. Some are shown by the layout above any page;
// the others (flashEmailVerified, flashFrozen) select a result page.
const (
	flashSignedOut       = "signed_out"
	flashPasswordChanged = "password_changed"
	flashPasswordReset   = "password_reset"
	flashAntiPhishingSet = "anti_phishing_set"
	flashSessionRevoked  = "session_revoked"
	flashOthersRevoked   = "others_revoked"
	flashSessionGone     = "session_gone"
	flashEmailVerified   = "email_verified"
	flashFrozen          = "frozen"

	flashChallengeExpired = "challenge_expired"
	flashRecoveryCodeUsed = "recovery_code_used"
	flashStillWaiting     = "still_waiting"
	flashDeviceForgotten  = "device_forgotten"
	flashDeviceGone       = "device_gone"
	flashThisDevice       = "this_device_forgotten"
	flashSetupStale       = "mfa_setup_stale"
	flashTOTPOff          = "totp_disabled"
	flashPasskeyAdded     = "passkey_added"
	flashPasskeyRenamed   = "passkey_renamed"
	flashPasskeyRemoved   = "passkey_removed"
	flashPasskeyGone      = "passkey_gone"
	flashPasswordNeeded   = "password_needed"

	flashConsoleSignedOut   = "console_signed_out"
	flashConsolePasswordSet = "console_password_set"
	flashConsoleUnfrozen    = "console_unfrozen"
	flashConsoleFrozen      = "console_frozen"
	flashConsoleStale       = "console_stale"
)

// notice is a message shown once at the top of a page.
type notice struct {
	Kind    string // success or info: the notice's class
	Message string
}

var notices = map[string]notice{
	flashSignedOut:       {"success", "You are logged out."},
	flashPasswordChanged: {"success", "Your password was changed. Your other sessions were logged out, and we emailed you about the change."},
	flashPasswordReset:   {"success", "Your password was reset and every session was logged out. Log in with your new password."},
	flashAntiPhishingSet: {"success", "Your anti-phishing code was saved. Every email we send you from now on shows it."},
	flashSessionRevoked:  {"success", "The session was logged out."},
	flashOthersRevoked:   {"success", "Every other session was logged out. Only this one is still signed in."},
	flashSessionGone:     {"info", "That session had already ended."},

	flashChallengeExpired: {"info", "Your login expired, or had too many wrong codes. Log in again."},
	flashRecoveryCodeUsed: {"info", "You logged in with a recovery code. It cannot be used again: check how many you have left in your security settings."},
	flashStillWaiting:     {"info", "We have not seen your confirmation yet. Open the link in the email, press “Yes, it was me”, then continue here."},
	flashDeviceForgotten:  {"success", "The device was removed and its sessions logged out. Its next login has to be confirmed again."},
	flashDeviceGone:       {"info", "That device had already been removed."},
	flashThisDevice:       {"success", "This device was removed, so you are logged out. Its next login has to be confirmed from your email."},
	flashSetupStale:       {"info", "The set-up had expired or was already finished. Check the state below, and start again if needed."},
	flashTOTPOff:          {"success", "The authenticator app was removed. Withdrawals are paused for a while as a precaution, and we emailed you about the change."},
	flashPasskeyAdded:     {"success", "Your passkey was added. You can use it to confirm logins and sensitive actions."},
	flashPasskeyRenamed:   {"success", "The passkey was renamed."},
	flashPasskeyRemoved:   {"success", "The passkey was removed, and we emailed you about the change."},
	flashPasskeyGone:      {"info", "That passkey had already been removed."},
	flashPasswordNeeded:   {"error", "The passkey was not removed: enter your password (or wait if you tried too often)."},

	flashConsoleSignedOut:   {"success", "You are logged out of the console."},
	flashConsolePasswordSet: {"success", "Your password was changed. Your other console sessions were logged out."},
	flashConsoleUnfrozen:    {"success", "The account was unfrozen. The user can log in again, and we emailed them about it."},
	flashConsoleFrozen:      {"success", "The account was frozen: every session was logged out, and we emailed the user about it."},
	flashConsoleStale:       {"info", "The account had changed since the page was shown, so nothing was done. Check its state below."},
}

func noticeFor(code string) *notice {
	if n, ok := notices[code]; ok {
		return &n
	}
	return nil
}
