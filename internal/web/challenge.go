package web

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
)

// The second step of a login on the pages (both sides, written once against
// signIn like the rest of the login): what login.Service's challenge waits
// for — the new-device email's link, a second factor, or both, in either
// order — the messages for refused codes, and the forms that answer a
// challenge or a step-up.
//
// A login challenge's id is kept in a cookie rather than in the page:
// HttpOnly, SameSite=Strict, sent only to the challenge page (and its email
// check below it) and no longer than the challenge lives. The id proves that
// the password was right, so it stays out of the HTML (and of whatever reads,
// caches or saves pages) and binds the second step to the browser that took
// the first. What the challenge still waits for, the passkey options (which
// the password step returns once) and the risk reasons travel with it, so
// the page can be drawn again after a refresh or a wrong code without
// starting a new challenge.
//
// While the email's link waits to be followed, the page asks every few
// seconds (static/login-wait.js) whether it was, and goes on by itself;
// without JavaScript it refreshes itself, and a button asks at once.

// maxChallengeCookie bounds the challenge cookie. Passkey options longer
// than fits (an account with very many passkeys) are left out: the page
// then offers the codes only.
const maxChallengeCookie = 3800

// maxCredentialBytes bounds a posted passkey answer (PublicKeyCredential JSON).
const maxCredentialBytes = 32 << 10

// challengeState is what the challenge cookie holds.
type challengeState struct {
	id string
	// methods are what the page offers: mfa.MethodEmail while the email's
	// link is awaited, the second factors while one is.
	methods []string
	options string // JSON for navigator.credentials.get, "" for none
	// reasons are the risk decision's, shown on the page.
	reasons []string
	// confirmed: the email's link was followed while a second factor
	// remains (the page says so).
	confirmed bool
}

func (c challengeState) allows(method string) bool { return slices.Contains(c.methods, method) }

// awaitsEmail: the new-device email's link was not followed yet.
func (c challengeState) awaitsEmail() bool { return c.allows(mfa.MethodEmail) }

// awaitsFactor: a second factor is still to be given.
func (c challengeState) awaitsFactor() bool {
	return slices.ContainsFunc(c.methods, func(m string) bool { return m != mfa.MethodEmail })
}

// The cookie spells methods with one letter each.
var methodLetters = map[string]string{mfa.MethodTOTP: "t", mfa.MethodRecoveryCode: "r", mfa.MethodWebAuthn: "w", mfa.MethodEmail: "e"}

// maxReasons bounds the reasons a cookie carries.
const maxReasons = 12

// confirmedLetter marks a challenge whose email's link was followed.
const confirmedLetter = "c"

func (c challengeState) encode() string {
	var letters strings.Builder
	for _, m := range c.methods {
		letters.WriteString(methodLetters[m])
	}
	if c.confirmed {
		letters.WriteString(confirmedLetter)
	}
	reasons := "." + strings.Join(c.reasons, ",")
	v := c.id + "." + letters.String() + "."
	if c.options != "" {
		if withOptions := v + base64.RawURLEncoding.EncodeToString([]byte(c.options)) + reasons; len(withOptions) <= maxChallengeCookie {
			return withOptions
		}
		// Too long for a cookie: no passkey on this page.
		v = c.id + "." + strings.ReplaceAll(letters.String(), "w", "") + "."
	}
	return v + reasons
}

// challengeOf reads si's challenge cookie; false when there is none usable.
func challengeOf(r *http.Request, si signIn) (challengeState, bool) {
	ck, err := r.Cookie(si.challengeCookie)
	if err != nil {
		return challengeState{}, false
	}
	parts := strings.SplitN(ck.Value, ".", 4)
	if len(parts) != 4 || !strings.HasPrefix(parts[0], mfa.ChallengeIDPrefix) || len(parts[0]) > maxTokenLen {
		return challengeState{}, false
	}
	c := challengeState{id: parts[0], confirmed: strings.Contains(parts[1], confirmedLetter)}
	for _, m := range []string{mfa.MethodEmail, mfa.MethodTOTP, mfa.MethodWebAuthn, mfa.MethodRecoveryCode} {
		if strings.Contains(parts[1], methodLetters[m]) {
			c.methods = append(c.methods, m)
		}
	}
	if parts[2] != "" {
		opts, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			return challengeState{}, false
		}
		c.options = string(opts)
	}
	if c.options == "" {
		c.methods = without(c.methods, mfa.MethodWebAuthn)
	}
	if len(c.methods) == 0 {
		return challengeState{}, false
	}
	if parts[3] != "" {
		c.reasons = strings.Split(parts[3], ",")
		if len(c.reasons) > maxReasons || slices.ContainsFunc(c.reasons, func(r string) bool { return !isReasonCode(r) }) {
			c.reasons = nil
		}
	}
	return c, true
}

// isReasonCode accepts a risk reason's code: a few lower-case letters and
// underscores.
func isReasonCode(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

// stateOf is what the page of a login challenge offers: the methods of what
// it still waits for.
func stateOf(ch login.Challenge) challengeState {
	c := challengeState{id: ch.ID, options: string(ch.WebAuthnOptions)}
	for _, m := range ch.Methods {
		if m == mfa.MethodEmail && slices.Contains(ch.Pending, mfa.RequireEmail) ||
			m != mfa.MethodEmail && slices.Contains(ch.Pending, mfa.RequireSecondFactor) {
			c.methods = append(c.methods, m)
		}
	}
	for _, r := range ch.Reasons {
		// The second factor an account has set up is no risk.
		if r != "mfa_required" && isReasonCode(r) && len(c.reasons) < maxReasons {
			c.reasons = append(c.reasons, r)
		}
	}
	return c
}

func (p *Pages) setChallengeCookie(w http.ResponseWriter, si signIn, c challengeState, expiresAt time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: si.challengeCookie, Value: c.encode(), Path: si.challengePath,
		MaxAge:   max(int(expiresAt.Sub(p.now())/time.Second), 1),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (p *Pages) clearChallengeCookie(w http.ResponseWriter, si signIn) {
	http.SetCookie(w, &http.Cookie{
		Name: si.challengeCookie, Value: "", Path: si.challengePath, MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
}

// withNext adds the page to go to after the login to path.
func withNext(path, next string) string {
	if next == "" {
		return path
	}
	return path + "?" + url.Values{"next": {next}}.Encode()
}

// startChallenge answers a right password that is not enough on its own:
// it keeps the challenge in its cookie and sends the browser to answer it.
func (p *Pages) startChallenge(w http.ResponseWriter, r *http.Request, si signIn, ch login.Challenge, next string) {
	p.setChallengeCookie(w, si, stateOf(ch), ch.ExpiresAt)
	p.redirect(w, r, withNext(si.challengePath, next), "")
}

// secondFactorData is what the "second-factor" forms (forms.html) are drawn
// from: a login challenge or a step-up.
type secondFactorData struct {
	Form   *form
	Action string
	Next   string
	// Methods offered.
	TOTP, Recovery, Passkey bool
	// PasskeyOptions are the options for navigator.credentials.get (a
	// login); PasskeyOptionsURL is where the script asks for them (a
	// step-up, through the JSON API).
	PasskeyOptions    string
	PasskeyOptionsURL string
	// Drift is set when the code was refused for the phone's clock: the help
	// on time sync opens.
	Drift bool
	// Cancel leaves the page.
	Cancel     string
	CancelText string
}

func secondFactorForm(prefix string) *form {
	return newForm(codeField(prefix+"-code"), recoveryCodeField(prefix+"-recovery-code"))
}

func (si signIn) challengeData(f *form, c challengeState, next string) secondFactorData {
	return secondFactorData{
		Form: f, Action: si.challengePath, Next: next,
		TOTP: c.allows(mfa.MethodTOTP), Recovery: c.allows(mfa.MethodRecoveryCode), Passkey: c.allows(mfa.MethodWebAuthn),
		PasskeyOptions: c.options,
		Cancel:         si.loginPath, CancelText: "Log in as someone else",
	}
}

// challengeData is the page of a login challenge: the wait for the email's
// link, the second-factor forms, or both.
type challengeData struct {
	// Factors are the second-factor forms, shown when Factor.
	Factors secondFactorData
	Factor  bool
	// Email: the page waits for the new-device email's link; Check is
	// where it asks whether the link was followed.
	Email bool
	Check string
	Next  string
	// Confirmed: the email's link was followed, the second factor remains.
	Confirmed bool
	// Reasons say why the login is checked, in words ("" for none).
	Reasons string
	Cancel  string
}

func (si signIn) pageData(f *form, c challengeState, next string) challengeData {
	d := challengeData{Factors: si.challengeData(f, c, next), Factor: c.awaitsFactor(), Email: c.awaitsEmail(),
		Check: si.challengePath + "/email", Next: next, Cancel: si.loginPath, Confirmed: c.confirmed}
	if len(c.reasons) > 0 {
		d.Reasons = login.ReasonText(c.reasons)
	}
	return d
}

// challengeGone sends back to the login page, which says why.
func (p *Pages) challengeGone(w http.ResponseWriter, r *http.Request, si signIn, next string) {
	p.clearChallengeCookie(w, si)
	p.redirect(w, r, withNext(si.loginPath, next), flashChallengeExpired)
}

// showChallenge draws the second step of si's login. While the email's link
// is awaited it asks first whether it was followed meanwhile, and goes on
// when nothing else is missing: the page's refresh is the check without
// JavaScript.
func (p *Pages) showChallenge(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.URL.Query().Get("next"))
		if p.viewer(si, r) != nil {
			http.Redirect(w, r, cmpOr(next, si.home), http.StatusSeeOther)
			return
		}
		c, ok := challengeOf(r, si)
		if !ok {
			p.challengeGone(w, r, si, next)
			return
		}
		if c.awaitsEmail() {
			switch step := p.checkEmail(w, r, si, &c, next); step.state {
			case stepWaiting, stepConfirmed:
			case stepFailed:
				return
			default:
				p.redirect(w, r, step.location, "")
				return
			}
		}
		f := secondFactorForm("challenge")
		data := si.pageData(f, c, next)
		p.renderForm(w, r, http.StatusOK, "login-challenge", f, data)
	}
}

// A login step's outcome, for the page, the form and the script.
const (
	stepWaiting   = "waiting"   // the email's link was not followed yet
	stepConfirmed = "confirmed" // it was; a second factor remains
	stepDone      = "done"      // logged in, or sent elsewhere: go to location
	stepFailed    = "failed"    // an error page was shown
)

type loginStep struct {
	state    string
	location string
}

// checkEmail asks login.Service whether the new-device email's link was
// followed, and does what follows: the cookie forgets the email once it
// was, and a login that waits for nothing else starts its session. c is
// updated. On stepFailed the error page was written.
func (p *Pages) checkEmail(w http.ResponseWriter, r *http.Request, si signIn, c *challengeState, next string) loginStep {
	res, err := p.login.Answer(r.Context(), c.id, mfa.Proof{Method: mfa.MethodEmail}, p.loginMeta(r, si))
	switch {
	case errors.Is(err, mfa.ErrConfirmationPending):
		return loginStep{state: stepWaiting}
	case errors.Is(err, mfa.ErrChallengeExpired):
		p.clearChallengeCookie(w, si)
		p.setFlash(w, flashChallengeExpired)
		return loginStep{state: stepDone, location: withNext(si.loginPath, next)}
	case errors.Is(err, account.ErrFrozen):
		p.clearChallengeCookie(w, si)
		return loginStep{state: stepDone, location: si.frozenPath}
	case errors.Is(err, login.ErrDenied):
		// Restricted since the password step: the login page says so.
		p.clearChallengeCookie(w, si)
		return loginStep{state: stepDone, location: si.loginPath}
	case err != nil:
		p.internalError(w, r, "check the email confirmation of a "+si.what, err)
		return loginStep{state: stepFailed}
	case res.Challenge != nil:
		c.methods, c.confirmed = without(c.methods, mfa.MethodEmail), true
		p.setChallengeCookie(w, si, *c, res.Challenge.ExpiresAt)
		return loginStep{state: stepConfirmed}
	}
	p.clearChallengeCookie(w, si)
	location, ok := p.startLoginSession(w, r, si, res, next)
	if !ok {
		return loginStep{state: stepFailed}
	}
	return loginStep{state: stepDone, location: location}
}

// checkEmailNow is the page's question whether the email's link was
// followed: from static/login-wait.js (Accept: application/json), which
// gets {"state", "location"} and goes to location unless still waiting, or
// from the page's button without JavaScript, which is sent on.
func (p *Pages) checkEmailNow(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.PostFormValue("next"))
		script := strings.Contains(r.Header.Get("Accept"), "application/json")
		step := loginStep{state: stepDone, location: withNext(si.challengePath, next)}
		if c, ok := challengeOf(r, si); !ok {
			p.clearChallengeCookie(w, si)
			p.setFlash(w, flashChallengeExpired)
			step.location = withNext(si.loginPath, next)
		} else if c.awaitsEmail() {
			if step = p.checkEmail(w, r, si, &c, next); step.state == stepFailed {
				return
			}
		}
		if !script {
			if step.state == stepWaiting {
				p.setFlash(w, flashStillWaiting)
			}
			p.redirect(w, r, cmpOr(step.location, withNext(si.challengePath, next)), "")
			return
		}
		setSecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"state": step.state, "location": step.location})
	}
}

// startLoginSession signs in to si's pages with the session login.Service
// started, and says where to go next: first to the password page while the
// account has a one-time password. ok is false when it showed an error page.
func (p *Pages) startLoginSession(w http.ResponseWriter, r *http.Request, si signIn, res login.Result, next string) (location string, ok bool) {
	started := *res.Started
	// A session this browser still holds ends: one browser, one session, and
	// none left behind to be picked up later.
	if !p.endSession(w, r, si) {
		return "", false
	}
	p.setSessionCookies(w, si, started)
	if res.RecoveryCodesLeft != nil {
		p.setFlash(w, flashRecoveryCodeUsed)
	}
	if si.oneTimePasswordPath != "" {
		a, err := p.accountByID(r, started.Session.AccountID)
		if err != nil {
			p.internalError(w, r, "read the account of a new "+si.what, err)
			return "", false
		}
		if a.MustChangePassword {
			return si.oneTimePasswordPath, true
		}
	}
	return cmpOr(next, si.home), true
}

// proofOf reads the answer to a challenge or a step-up from a form, and
// sets the field errors of what is missing.
func proofOf(r *http.Request, f *form) mfa.Proof {
	pr := mfa.Proof{Method: r.PostFormValue("method")}
	switch pr.Method {
	case mfa.MethodTOTP:
		pr.Code = readCode(r, f)
	case mfa.MethodRecoveryCode:
		pr.Code = readCodeField(r, f, "recovery_code", "Enter one of your recovery codes.",
			"A recovery code is 10 letters and digits, like abcde-fghij.")
	case mfa.MethodWebAuthn:
		cred := r.PostFormValue("credential")
		switch {
		case cred == "":
			f.Problem = &problem{Message: "Using a passkey needs JavaScript. Use a code instead, or turn JavaScript on and try again."}
		case len(cred) > maxCredentialBytes:
			f.Problem = &problem{Message: "The passkey's answer was refused. Try again, or use a code instead."}
		}
		pr.Response = []byte(cred)
	default:
		f.Problem = &problem{Message: "Choose how to confirm: a code from your app, a recovery code or a passkey."}
	}
	return pr
}

// readCode reads the authenticator app's code from the field "code".
func readCode(r *http.Request, f *form) string {
	return readCodeField(r, f, "code", "Enter the 6-digit code your app shows.", "A code is 6 digits.")
}

// readCodeField reads a code from the field name, and fails the field with
// empty or tooLong when it is missing or longer than any code.
func readCodeField(r *http.Request, f *form, name, empty, tooLong string) string {
	code, ok := readField(r, name, true)
	switch {
	case code == "":
		f.fail(name, empty)
	case !ok:
		f.fail(name, tooLong)
	}
	return code
}

// refusedAnswer explains a refused answer on the form; false when err is
// not a refusal (then it is the server's problem).
func refusedAnswer(f *form, method string, err error) (drift bool, ok bool) {
	var d *mfa.DriftError
	var locked *login.LockedError
	switch {
	case errors.As(err, &locked):
		f.Problem = &problem{Message: "Too many wrong answers from this device. Try again in " + howLong(int64((locked.RetryAfter+time.Second-1)/time.Second)) + "."}
	case errors.As(err, &d):
		fl := f.F("code")
		fl.Error, fl.Suggestions = driftMessage(d.Seconds), clockFixes
		return true, true
	case errors.Is(err, mfa.ErrInvalidCode) && method == mfa.MethodRecoveryCode:
		f.fail("recovery_code", "This recovery code is wrong, or was used already. Each code works once.")
	case errors.Is(err, mfa.ErrInvalidCode):
		f.fail("code", "This code is wrong. Enter the code your app shows now for this account.")
	case errors.Is(err, mfa.ErrCodeReused):
		f.fail("code", "This code was used already. Wait for your app to show the next one (at most 30 seconds) and enter that.")
	case errors.Is(err, mfa.ErrInvalidPasskey):
		f.Problem = &problem{Message: "The passkey was not accepted. Try again, or use a code instead."}
	case errors.Is(err, mfa.ErrMethodNotAllowed):
		f.Problem = &problem{Message: "This way of confirming is not set up for your account. Use another one."}
	default:
		return false, false
	}
	return false, true
}

// clockFixes say how to set a phone's clock right, under a drift error and
// in the help on codes.
var clockFixes = []string{
	"Android: Settings › Date & time: turn on “Set time automatically”.",
	"iPhone: Settings › General › Date & Time: turn on “Set Automatically”.",
	"Google Authenticator on Android: ⋮ › Settings › Time correction for codes › Sync now.",
}

// driftMessage tells the user how far off their phone's clock is: seconds
// is positive when the phone is ahead.
func driftMessage(seconds int64) string {
	way := "fast"
	if seconds < 0 {
		way, seconds = "slow", -seconds
	}
	return fmt.Sprintf("This code is not valid now, but it would be with a clock %s off: your phone's clock is %s %s. "+
		"Set its time to update automatically, then enter the new code it shows.", howLong(seconds), howLong(seconds), way)
}

// howLong says a number of seconds in words: "30 seconds", "2 minutes",
// "1 minute and 30 seconds".
func howLong(seconds int64) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch m, s := seconds/60, seconds%60; {
	case m == 0:
		return plural(s, "second")
	case s == 0:
		return plural(m, "minute")
	default:
		return plural(m, "minute") + " and " + plural(s, "second")
	}
}

// answerChallenge checks a second factor given on si's challenge page, and
// starts the session when the login waits for nothing else. Wrong answers
// count on the device's lockout lane, as wrong passwords do; too many void
// the challenge.
func (p *Pages) answerChallenge(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.PostFormValue("next"))
		c, ok := challengeOf(r, si)
		if !ok || !c.awaitsFactor() {
			p.challengeGone(w, r, si, next)
			return
		}
		f := secondFactorForm("challenge")
		data := si.pageData(f, c, next)
		proof := proofOf(r, f)
		if f.HasErrors() {
			p.renderForm(w, r, http.StatusUnprocessableEntity, "login-challenge", f, data)
			return
		}
		if p.limitedForm(w, r, "login attempts", f, "login-challenge", data) {
			return
		}
		res, err := p.login.Answer(r.Context(), c.id, proof, p.loginMeta(r, si))
		var denied *login.DeniedError
		switch {
		case errors.Is(err, mfa.ErrChallengeExpired):
			p.challengeGone(w, r, si, next)
			return
		case errors.Is(err, account.ErrFrozen):
			// Frozen since the password step: said on the login page, as then.
			p.clearChallengeCookie(w, si)
			lf := si.loginForm()
			lf.Problem = si.refused(account.ErrFrozen, "", p.supportURL)
			p.renderForm(w, r, http.StatusForbidden, si.loginTemplate, lf, si.loginData(lf, next))
			return
		case errors.As(err, &denied):
			// Restricted since the password step.
			p.loginDenied(w, r, si, denied)
			return
		case err != nil:
			drift, refused := refusedAnswer(f, proof.Method, err)
			if !refused {
				p.internalError(w, r, "answer a login challenge of a "+si.what, err)
				return
			}
			data.Factors.Drift = drift
			p.renderForm(w, r, http.StatusUnprocessableEntity, "login-challenge", f, data)
			return
		case res.Challenge != nil:
			// The second factor was right; the email's link is still awaited.
			c.methods = []string{mfa.MethodEmail}
			c.options = ""
			p.setChallengeCookie(w, si, c, res.Challenge.ExpiresAt)
			p.redirect(w, r, withNext(si.challengePath, next), "")
			return
		}
		p.clearChallengeCookie(w, si)
		if location, ok := p.startLoginSession(w, r, si, res, next); ok {
			p.redirect(w, r, location, "")
		}
	}
}
