package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
)

// Second factors on the pages: the login challenge (both sides, written once
// against signIn like the rest of the login), the messages for refused
// codes, and the forms that answer a challenge or a step-up.
//
// A login challenge's id is kept in a cookie rather than in the page:
// HttpOnly, SameSite=Strict, sent only to the challenge page and no longer
// than the challenge lives. The id proves that the password was right, so it
// stays out of the HTML (and of whatever reads, caches or saves pages) and
// binds the second step to the browser that took the first. The methods the
// challenge accepts and the passkey options, which StartChallenge returns
// once, travel with it, so the page can be drawn again after a refresh or a
// wrong code without starting a new challenge.

// maxChallengeCookie bounds the challenge cookie. Passkey options longer
// than fits (an account with very many passkeys) are left out: the page
// then offers the codes only.
const maxChallengeCookie = 3800

// maxCredentialBytes bounds a posted passkey answer (PublicKeyCredential JSON).
const maxCredentialBytes = 32 << 10

// challengeState is what the challenge cookie holds.
type challengeState struct {
	id      string
	methods []string
	options string // JSON for navigator.credentials.get, "" for none
}

func (c challengeState) allows(method string) bool {
	for _, m := range c.methods {
		if m == method {
			return true
		}
	}
	return false
}

// The cookie spells methods with one letter each.
var methodLetters = map[string]string{mfa.MethodTOTP: "t", mfa.MethodRecoveryCode: "r", mfa.MethodWebAuthn: "w"}

func (c challengeState) encode() string {
	var letters strings.Builder
	for _, m := range c.methods {
		letters.WriteString(methodLetters[m])
	}
	v := c.id + "." + letters.String() + "."
	if c.options != "" {
		if withOptions := v + base64.RawURLEncoding.EncodeToString([]byte(c.options)); len(withOptions) <= maxChallengeCookie {
			return withOptions
		}
		// Too long for a cookie: no passkey on this page.
		v = c.id + "." + strings.ReplaceAll(letters.String(), "w", "") + "."
	}
	return v
}

// challengeOf reads si's challenge cookie; false when there is none usable.
func challengeOf(r *http.Request, si signIn) (challengeState, bool) {
	ck, err := r.Cookie(si.challengeCookie)
	if err != nil {
		return challengeState{}, false
	}
	parts := strings.SplitN(ck.Value, ".", 3)
	if len(parts) != 3 || !strings.HasPrefix(parts[0], mfa.ChallengeIDPrefix) || len(parts[0]) > maxTokenLen {
		return challengeState{}, false
	}
	c := challengeState{id: parts[0]}
	for _, m := range []string{mfa.MethodTOTP, mfa.MethodWebAuthn, mfa.MethodRecoveryCode} {
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
	return c, true
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

func (p *Pages) clearChallengeCookie(w http.ResponseWriter, si signIn) {
	http.SetCookie(w, &http.Cookie{
		Name: si.challengeCookie, Value: "", Path: si.challengePath, MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
}

// startChallenge answers a right password on an account with a second
// factor: it opens a challenge and sends the browser to answer it.
func (p *Pages) startChallenge(w http.ResponseWriter, r *http.Request, si signIn, acct account.Account, next string) {
	st, err := p.mfa.StartChallenge(r.Context(), acct, mfa.PurposeLogin, "")
	if err != nil {
		p.internalError(w, r, "start a login challenge for a "+si.what, err)
		return
	}
	c := challengeState{id: st.ID, methods: st.Methods, options: string(st.WebAuthnOptions)}
	http.SetCookie(w, &http.Cookie{
		Name: si.challengeCookie, Value: c.encode(), Path: si.challengePath,
		MaxAge:   max(int(st.ExpiresAt.Sub(p.now())/time.Second), 1),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteStrictMode,
	})
	target := si.challengePath
	if next != "" {
		target += "?" + url.Values{"next": {next}}.Encode()
	}
	p.redirect(w, r, target, "")
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

// challengeGone sends back to the login page, which says why.
func (p *Pages) challengeGone(w http.ResponseWriter, r *http.Request, si signIn, next string) {
	p.clearChallengeCookie(w, si)
	target := si.loginPath
	if next != "" {
		target += "?" + url.Values{"next": {next}}.Encode()
	}
	p.redirect(w, r, target, flashChallengeExpired)
}

// showChallenge draws the second step of si's login.
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
		f := secondFactorForm("challenge")
		p.renderForm(w, r, http.StatusOK, "login-challenge", f, si.challengeData(f, c, next))
	}
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
	switch {
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

// answerChallenge checks the second step of si's login and starts the
// session (aal2). Wrong answers count in the account's login budget, as
// wrong passwords do; too many void the challenge.
func (p *Pages) answerChallenge(si signIn) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next := si.next(r.PostFormValue("next"))
		c, ok := challengeOf(r, si)
		if !ok {
			p.challengeGone(w, r, si, next)
			return
		}
		f := secondFactorForm("challenge")
		data := si.challengeData(f, c, next)
		proof := proofOf(r, f)
		if f.HasErrors() {
			p.renderForm(w, r, http.StatusUnprocessableEntity, "login-challenge", f, data)
			return
		}
		done, err := p.mfa.CompleteChallenge(r.Context(), c.id, mfa.PurposeLogin, "", proof, p.accountMeta(r))
		if errors.Is(err, mfa.ErrChallengeExpired) {
			p.challengeGone(w, r, si, next)
			return
		}
		if err != nil {
			drift, refused := refusedAnswer(f, proof.Method, err)
			if !refused {
				p.internalError(w, r, "answer a login challenge of a "+si.what, err)
				return
			}
			data.Drift = drift
			status := http.StatusUnprocessableEntity
			if done.Account.ID != "" {
				limited, ok := p.limitLogin(w, r, done.Account.Realm, done.Account.Email)
				if !ok {
					return
				}
				if limited != nil {
					f.Problem, status = limited, http.StatusTooManyRequests
				}
			}
			p.renderForm(w, r, status, "login-challenge", f, data)
			return
		}
		p.clearChallengeCookie(w, si)
		if done.Account.Frozen() {
			// Frozen since the password step: said on the login page, as then.
			lf := si.loginForm()
			lf.Problem = si.refused(account.ErrFrozen, done.Account.Email, p.supportURL)
			p.renderForm(w, r, http.StatusForbidden, si.loginTemplate, lf, si.loginData(lf, next))
			return
		}
		if done.Method == mfa.MethodRecoveryCode {
			p.setFlash(w, flashRecoveryCodeUsed)
		}
		p.startSession(w, r, si, done.Account, session.AAL2, next)
	}
}
