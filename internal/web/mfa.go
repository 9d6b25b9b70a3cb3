package web

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/totp"
)

// The security settings of users (/account/security: authenticator app,
// recovery codes, passkeys), the step-up page that sensitive actions send to,
// the login challenge pages of both sides (challenge.go) and the enrolment
// every staff member makes before using the console (/console/mfa).
//
// Everything works without JavaScript except passkeys, which need the
// browser's WebAuthn API: static/passkey.js asks the JSON API for options
// (same-origin, with the session cookie) and posts the browser's answer back
// through an ordinary form.

func (p *Pages) registerMFAPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /login/challenge", p.showChallenge(userSignIn))
	mux.Handle("POST /login/challenge", p.post(p.answerChallenge(userSignIn)))
	mux.Handle("POST /login/challenge/email", p.post(p.checkEmailNow(userSignIn)))
	mux.HandleFunc("GET /console/login/challenge", p.showChallenge(staffSignIn))
	mux.Handle("POST /console/login/challenge", p.post(p.answerChallenge(staffSignIn)))
	mux.Handle("POST /console/login/challenge/email", p.post(p.checkEmailNow(staffSignIn)))

	mux.HandleFunc("GET /account/security", p.signedIn(userSignIn, p.securityPage))
	mux.Handle("POST /account/security/totp", p.post(p.signedIn(userSignIn, p.beginTOTP(userSetup))))
	mux.Handle("POST /account/security/totp/confirm", p.post(p.signedIn(userSignIn, p.confirmTOTP(userSetup))))
	mux.HandleFunc("GET /account/security/totp/disable", p.signedIn(userSignIn, p.disableTOTPPage))
	mux.Handle("POST /account/security/totp/disable", p.post(p.signedIn(userSignIn, p.disableTOTP)))
	mux.HandleFunc("GET /account/security/recovery-codes", p.signedIn(userSignIn, p.recoveryCodesPage))
	mux.Handle("POST /account/security/recovery-codes", p.post(p.signedIn(userSignIn, p.regenerateRecoveryCodes)))
	mux.Handle("POST /account/security/passkeys", p.post(p.signedIn(userSignIn, p.addPasskey)))
	mux.HandleFunc("GET /account/security/passkeys/{id}", p.signedIn(userSignIn, p.passkeyPage))
	mux.Handle("POST /account/security/passkeys/{id}", p.post(p.signedIn(userSignIn, p.renamePasskey)))
	mux.Handle("POST /account/security/passkeys/{id}/remove", p.post(p.signedIn(userSignIn, p.removePasskey)))
	mux.HandleFunc("GET /account/step-up", p.signedIn(userSignIn, p.stepUpPage))
	mux.Handle("POST /account/step-up", p.post(p.signedIn(userSignIn, p.stepUp)))

	mux.HandleFunc("GET /console/mfa", p.signedIn(staffSignIn, p.consoleMFAPage))
	mux.Handle("POST /console/mfa", p.post(p.signedIn(staffSignIn, p.beginTOTP(staffSetup))))
	mux.Handle("POST /console/mfa/confirm", p.post(p.signedIn(staffSignIn, p.confirmTOTP(staffSetup))))
}

const securityPath = "/account/security"

// ---- Step-up ----------------------------------------------------------------------

// needsStepUp tells whether a sensitive action of u must first prove a
// second factor again. The session is read from the database, not the
// cache, so a step-up just made (on any node) counts at once.
func (p *Pages) needsStepUp(r *http.Request, u *member) (bool, error) {
	if !u.Account.MFAEnabled {
		return false, nil
	}
	var sess session.Session
	found := false
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		all, err := tx.SessionsOf(r.Context(), u.Account.ID, p.now())
		for _, s := range all {
			if s.ID == u.Session.ID {
				sess, found = s, true
			}
		}
		return err
	})
	if err != nil {
		return false, err
	}
	return !found || p.mfa.NeedsStepUp(u.Account, sess), nil
}

// stepUpFirst sends u to the step-up page, to come back to next, when the
// action needs a fresh second factor. It answers true when it answered the
// request (the redirect, or an error page).
func (p *Pages) stepUpFirst(w http.ResponseWriter, r *http.Request, u *member, next string) bool {
	need, err := p.needsStepUp(r, u)
	if err != nil {
		p.internalError(w, r, "read the session for a step-up", err)
		return true
	}
	if need {
		http.Redirect(w, r, "/account/step-up?"+url.Values{"next": {next}}.Encode(), http.StatusSeeOther)
		return true
	}
	return false
}

func (p *Pages) stepUpData(r *http.Request, u *member, f *form, next string) (secondFactorData, error) {
	factors, err := p.mfa.FactorsOf(r.Context(), u.Account.ID)
	if err != nil {
		return secondFactorData{}, err
	}
	return secondFactorData{
		Form: f, Action: "/account/step-up", Next: next,
		TOTP: factors.TOTP, Recovery: factors.RecoveryCodesLeft > 0,
		Passkey: len(factors.Passkeys) > 0 && p.mfa.Passkeys != nil, PasskeyOptionsURL: "/v1/step-up",
		Cancel: cmpOr(next, securityPath), CancelText: "Cancel",
	}, nil
}

// stepUpNext is where a step-up returns to: a page of this site, the
// security settings when none is named.
func stepUpNext(next string) string {
	next = safeNext(next)
	if next == "" || strings.HasPrefix(next, "/account/step-up") || isConsolePath(strings.SplitN(next, "?", 2)[0]) {
		return securityPath
	}
	return next
}

func (p *Pages) stepUpPage(w http.ResponseWriter, r *http.Request, u *member) {
	next := stepUpNext(r.URL.Query().Get("next"))
	need, err := p.needsStepUp(r, u)
	if err != nil {
		p.internalError(w, r, "read the session for a step-up", err)
		return
	}
	if !need {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	f := secondFactorForm("step-up")
	data, err := p.stepUpData(r, u, f, next)
	if err != nil {
		p.internalError(w, r, "read second factors", err)
		return
	}
	p.renderForm(w, r, http.StatusOK, "account-step-up", f, data)
}

func (p *Pages) stepUp(w http.ResponseWriter, r *http.Request, u *member) {
	next := stepUpNext(r.PostFormValue("next"))
	f := secondFactorForm("step-up")
	data, err := p.stepUpData(r, u, f, next)
	if err != nil {
		p.internalError(w, r, "read second factors", err)
		return
	}
	proof := proofOf(r, f)
	challengeID, _ := readField(r, "challenge_id", true)
	if proof.Method == mfa.MethodWebAuthn && challengeID == "" && !f.HasErrors() {
		f.Problem = &problem{Message: "The passkey's answer was refused. Try again, or use a code instead."}
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "account-step-up", f, data)
		return
	}
	if !p.codeAttempt(w, r, u.Account, f, "account-step-up", data) {
		return
	}
	err = p.guard(r, u.Account, func() error {
		if proof.Method == mfa.MethodWebAuthn {
			_, err := p.mfa.CompleteChallenge(r.Context(), challengeID, mfa.PurposeStepUp, u.Session.ID, proof, p.accountMeta(r))
			return err
		}
		return p.mfa.StepUp(r.Context(), u.Account, u.Session.ID, proof, p.accountMeta(r))
	})
	switch {
	case err == nil:
		p.sessions.Forget([]string{u.Session.TokenHash})
		p.redirect(w, r, next, "")
		return
	case errors.Is(err, mfa.ErrChallengeExpired):
		f.Problem = &problem{Message: "The passkey took too long to answer. Try again."}
	default:
		drift, refused := refusedAnswer(f, proof.Method, err)
		if !refused {
			p.internalError(w, r, "step up", err)
			return
		}
		data.Drift = drift
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "account-step-up", f, data)
}

// guard runs a check of a code or password under the lockout of this
// browser's lane (login.Service.Guard): wrong answers count like wrong
// passwords, and a locked lane refuses before the check.
func (p *Pages) guard(r *http.Request, a account.Account, check func() error) error {
	si := userSignIn
	if a.Realm == account.RealmStaff {
		si = staffSignIn
	}
	return p.login.Guard(r.Context(), a, p.loginMeta(r, si), check)
}

// codeAttempt takes a token from the client's address budget before a code
// is checked, as the JSON API does; the account is guarded by guard. It
// answers false when it already answered the request: the form again with
// the limit, or an error page.
func (p *Pages) codeAttempt(w http.ResponseWriter, r *http.Request, a account.Account, f *form, page string, data any) bool {
	return !p.limitedForm(w, r, "attempts", f, page, data)
}

// ---- Security settings ----------------------------------------------------------

type passkeyRow struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

type securityData struct {
	MFA          bool
	TOTP         bool
	RecoveryLeft int
	RecoveryMax  int
	Passkeys     []passkeyRow
	// PasskeysOn: the server can register passkeys (WARDEN_BASE_URL has a host name).
	PasskeysOn bool
	// AddForm names a new passkey.
	AddForm *form
}

func passkeyNameField() *field {
	return &field{ID: "passkey-name", Name: "name", Label: "Name of the passkey", Type: "text", Autocomplete: "off",
		Hint: "So you can tell your passkeys apart, such as the device it lives on: “Work laptop”.", Required: true, MaxLength: 60}
}

func (p *Pages) securityData(r *http.Request, u *member, add *form) (securityData, error) {
	f, err := p.mfa.FactorsOf(r.Context(), u.Account.ID)
	if err != nil {
		return securityData{}, err
	}
	d := securityData{
		MFA: f.TOTP || len(f.Passkeys) > 0, TOTP: f.TOTP, RecoveryLeft: f.RecoveryCodesLeft, RecoveryMax: mfa.RecoveryCodeCount,
		PasskeysOn: p.mfa.Passkeys != nil, AddForm: add,
	}
	for _, k := range f.Passkeys {
		d.Passkeys = append(d.Passkeys, passkeyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt})
	}
	return d, nil
}

func (p *Pages) securityPage(w http.ResponseWriter, r *http.Request, u *member) {
	add := newForm(passkeyNameField())
	data, err := p.securityData(r, u, add)
	if err != nil {
		p.internalError(w, r, "read second factors", err)
		return
	}
	p.renderForm(w, r, http.StatusOK, "account-security", add, data)
}

// totpSetup is one side's authenticator-app set-up: users in their security
// settings, staff on the page every one of them passes once.
type totpSetup struct {
	si signIn
	// begin is the page that starts it, where it returns when it must start again.
	begin   string
	confirm string
	// done is where the recovery codes page continues to.
	done string
	// stepUp: adding a factor next to another is sensitive (users only).
	stepUp bool
}

var (
	userSetup  = totpSetup{si: userSignIn, begin: securityPath, confirm: securityPath + "/totp/confirm", done: securityPath, stepUp: true}
	staffSetup = totpSetup{si: staffSignIn, begin: "/console/mfa", confirm: "/console/mfa/confirm", done: consolePath}
)

func (s totpSetup) meta(p *Pages, r *http.Request, m *member) account.Meta {
	if s.si.realm == account.RealmStaff {
		return p.staffMeta(r, m)
	}
	return p.accountMeta(r)
}

type totpSetupData struct {
	Form   *form
	Action string
	Cancel string
	// QR is the otpauth URI as a PNG data: URL; URI opens the app on a phone.
	QR  template.URL
	URI template.URL
	// Secret is the key as typed into an app, in groups of four.
	Secret string
	// RawSecret and RawURI come back with the code, to draw the page again
	// after a wrong one; the key checked is the one stored, never these.
	RawSecret string
	RawURI    string
	Drift     bool
}

func (s totpSetup) data(f *form, secret, uri string, png []byte) totpSetupData {
	return totpSetupData{
		Form: f, Action: s.confirm, Cancel: s.begin,
		QR:  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		URI: template.URL(uri), Secret: groupsOfFour(secret), RawSecret: secret, RawURI: uri,
	}
}

func groupsOfFour(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func totpCodeForm() *form { return newForm(codeField("totp-code")) }

// beginTOTP makes a new secret and shows it, to be confirmed with a code.
func (p *Pages) beginTOTP(s totpSetup) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *member) {
		if s.stepUp && p.stepUpFirst(w, r, m, s.begin) {
			return
		}
		e, err := p.mfa.BeginTOTP(r.Context(), m.Account)
		switch {
		case errors.Is(err, mfa.ErrAlreadyEnabled):
			p.redirect(w, r, s.begin, flashSetupStale)
			return
		case err != nil:
			p.internalError(w, r, "begin authenticator app set-up", err)
			return
		}
		f := totpCodeForm()
		p.renderForm(w, r, http.StatusOK, "totp-setup", f, s.data(f, e.Secret, e.URI, e.QRPNG))
	}
}

var secretPattern = regexp.MustCompile(`^[A-Z2-7]{16,128}$`)

// confirmTOTP switches the app on with its first code and shows the
// recovery codes, once.
func (p *Pages) confirmTOTP(s totpSetup) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, m *member) {
		secret, uri := r.PostFormValue("secret"), r.PostFormValue("uri")
		if !secretPattern.MatchString(secret) || len(uri) > 2048 || !strings.HasPrefix(uri, "otpauth://totp/") ||
			!strings.Contains(uri, "?secret="+secret+"&") {
			p.redirect(w, r, s.begin, flashSetupStale)
			return
		}
		png, err := totp.QRCode(uri)
		if err != nil {
			p.internalError(w, r, "draw a QR code", err)
			return
		}
		f := totpCodeForm()
		data := s.data(f, secret, uri, png)
		code := readCode(r, f)
		if f.HasErrors() {
			p.renderForm(w, r, http.StatusUnprocessableEntity, "totp-setup", f, data)
			return
		}
		if !p.codeAttempt(w, r, m.Account, f, "totp-setup", data) {
			return
		}
		var codes []string
		err = p.guard(r, m.Account, func() error {
			var err error
			codes, err = p.mfa.ConfirmTOTP(r.Context(), m.Account, m.Session.ID, code, s.meta(p, r, m))
			return err
		})
		switch {
		case err == nil:
			p.sessions.Forget([]string{m.Session.TokenHash})
			p.showRecoveryCodes(w, r, codes, s.done, false)
			return
		case errors.Is(err, mfa.ErrNoEnrolment), errors.Is(err, mfa.ErrAlreadyEnabled):
			p.redirect(w, r, s.begin, flashSetupStale)
			return
		}
		drift, refused := refusedAnswer(f, mfa.MethodTOTP, err)
		if !refused {
			p.internalError(w, r, "confirm authenticator app", err)
			return
		}
		data.Drift = drift
		p.renderForm(w, r, http.StatusUnprocessableEntity, "totp-setup", f, data)
	}
}

type recoveryCodesData struct {
	Codes    []string
	Text     string
	Download template.URL
	Filename string
	Continue string
	// Replaced: these codes replace a set that stopped working.
	Replaced bool
}

// showRecoveryCodes draws the recovery codes: the only time they are shown,
// in the answer to the post that made them, never at an address of its own.
func (p *Pages) showRecoveryCodes(w http.ResponseWriter, r *http.Request, codes []string, next string, replaced bool) {
	text := p.platform + " recovery codes\n\nEach code works once, in place of your second factor.\n\n" + strings.Join(codes, "\n") + "\n"
	name := strings.Trim(strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, strings.ToLower(p.platform)), "-")
	p.Render(w, r, http.StatusOK, "recovery-codes", recoveryCodesData{
		Codes: codes, Text: strings.Join(codes, "\n"),
		Download: template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text)),
		Filename: cmpOr(name, "warden") + "-recovery-codes.txt", Continue: next, Replaced: replaced,
	})
}

// ---- Recovery codes and turning the app off ---------------------------------------

type codeFormData struct {
	Form  *form
	Email string
	Drift bool
}

func (p *Pages) recoveryCodesPage(w http.ResponseWriter, r *http.Request, u *member) {
	if !u.Account.MFAEnabled {
		http.Redirect(w, r, securityPath, http.StatusSeeOther)
		return
	}
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := totpCodeForm()
	p.renderForm(w, r, http.StatusOK, "account-recovery-codes", f, codeFormData{Form: f})
}

func (p *Pages) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := totpCodeForm()
	data := codeFormData{Form: f}
	code := readCode(r, f)
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "account-recovery-codes", f, data)
		return
	}
	if !p.codeAttempt(w, r, u.Account, f, "account-recovery-codes", data) {
		return
	}
	var codes []string
	err := p.guard(r, u.Account, func() error {
		var err error
		codes, err = p.mfa.RegenerateRecoveryCodes(r.Context(), u.Account, code, p.accountMeta(r))
		return err
	})
	switch {
	case err == nil:
		p.showRecoveryCodes(w, r, codes, securityPath, true)
		return
	case errors.Is(err, mfa.ErrNotEnabled):
		f.Problem = &problem{Message: "New recovery codes need a code from your authenticator app, and none is set up.",
			Links: []link{{Href: securityPath, Text: "Security settings"}}}
	default:
		drift, refused := refusedAnswer(f, mfa.MethodTOTP, err)
		if !refused {
			p.internalError(w, r, "regenerate recovery codes", err)
			return
		}
		data.Drift = drift
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "account-recovery-codes", f, data)
}

func disableForm() *form {
	return newForm(currentPasswordField("disable-password", "password", "Your password"), codeField("disable-code"))
}

func (p *Pages) disableTOTPPage(w http.ResponseWriter, r *http.Request, u *member) {
	if !u.Account.MFAEnabled {
		http.Redirect(w, r, securityPath, http.StatusSeeOther)
		return
	}
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := disableForm()
	p.renderForm(w, r, http.StatusOK, "account-totp-disable", f, codeFormData{Form: f, Email: u.Account.Email})
}

func (p *Pages) disableTOTP(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := disableForm()
	data := codeFormData{Form: f, Email: u.Account.Email}
	plain, passwordOK := readField(r, "password", false)
	switch {
	case plain == "":
		f.fail("password", "Enter your password.")
	case !passwordOK:
		f.fail("password", "Your password is wrong.")
	}
	code := readCode(r, f)
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "account-totp-disable", f, data)
		return
	}
	if !p.codeAttempt(w, r, u.Account, f, "account-totp-disable", data) {
		return
	}
	err := p.guard(r, u.Account, func() error {
		return p.mfa.DisableTOTP(r.Context(), u.Account, plain, code, p.accountMeta(r))
	})
	switch {
	case err == nil:
		p.redirect(w, r, securityPath, flashTOTPOff)
		return
	case errors.Is(err, account.ErrInvalidCredentials):
		f.fail("password", "Your password is wrong.")
	case errors.Is(err, mfa.ErrNotEnabled):
		p.redirect(w, r, securityPath, flashSetupStale)
		return
	case errors.Is(err, password.ErrOverloaded):
		f.Problem = overloaded(w)
		p.renderForm(w, r, http.StatusServiceUnavailable, "account-totp-disable", f, data)
		return
	default:
		drift, refused := refusedAnswer(f, mfa.MethodTOTP, err)
		if !refused {
			p.internalError(w, r, "turn off the authenticator app", err)
			return
		}
		data.Drift = drift
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "account-totp-disable", f, data)
}

// ---- Passkeys ----------------------------------------------------------------------

// passkeyName checks a passkey's name as the JSON API does: 1 to 60
// characters of ordinary text.
func passkeyName(f *field, raw string) string {
	name := strings.TrimSpace(raw)
	switch {
	case name == "":
		f.Error = "Name the passkey, such as the device it lives on."
	case !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		f.Error = "Use ordinary text."
	case utf8.RuneCountInString(name) > 60:
		f.Error = "Use at most 60 characters."
	}
	if utf8.ValidString(name) && len(name) <= maxFieldBytes {
		f.Value = name
	}
	return name
}

// addPasskey stores the passkey the script registered: it posts the name,
// the registration id from the JSON API and the browser's answer.
func (p *Pages) addPasskey(w http.ResponseWriter, r *http.Request, u *member) {
	add := newForm(passkeyNameField())
	render := func(status int) {
		data, err := p.securityData(r, u, add)
		if err != nil {
			p.internalError(w, r, "read second factors", err)
			return
		}
		p.renderForm(w, r, status, "account-security", add, data)
	}
	name := passkeyName(add.F("name"), r.PostFormValue("name"))
	regID, _ := readField(r, "registration_id", true)
	cred := r.PostFormValue("credential")
	switch {
	case add.HasErrors():
	case regID == "" || cred == "":
		add.Problem = &problem{Message: "Adding a passkey needs JavaScript, which is off or failed here. Turn it on and try again."}
	case len(cred) > maxCredentialBytes || len(regID) > maxTokenLen:
		add.Problem = &problem{Message: "The passkey was not accepted. Try again."}
	}
	if add.HasErrors() {
		render(http.StatusUnprocessableEntity)
		return
	}
	reg, err := p.mfa.FinishPasskeyRegistration(r.Context(), u.Account, u.Session.ID, regID, name, []byte(cred), p.accountMeta(r))
	switch {
	case err == nil:
		p.sessions.Forget([]string{u.Session.TokenHash})
		if reg.RecoveryCodes != nil {
			p.showRecoveryCodes(w, r, reg.RecoveryCodes, securityPath, false)
			return
		}
		p.redirect(w, r, securityPath, flashPasskeyAdded)
		return
	case errors.Is(err, mfa.ErrChallengeExpired):
		add.Problem = &problem{Message: "Adding the passkey took too long. Try again."}
	case errors.Is(err, mfa.ErrInvalidPasskey):
		add.Problem = &problem{Message: "The passkey was not accepted. Try again, or with another device."}
	case errors.Is(err, store.ErrConflict):
		add.Problem = &problem{Message: "This passkey is registered already."}
	case errors.Is(err, mfa.ErrPasskeysOff):
		add.Problem = &problem{Message: "Passkeys are not available on this server."}
	default:
		p.internalError(w, r, "add a passkey", err)
		return
	}
	render(http.StatusUnprocessableEntity)
}

type passkeyData struct {
	Passkey passkeyRow
	Form    *form
	Last    bool // the account's last second factor
}

// passkeyOf finds one of u's passkeys; false (with the answer given) when
// it is not there.
func (p *Pages) passkeyOf(w http.ResponseWriter, r *http.Request, u *member) (passkeyData, bool) {
	f, err := p.mfa.FactorsOf(r.Context(), u.Account.ID)
	if err != nil {
		p.internalError(w, r, "read second factors", err)
		return passkeyData{}, false
	}
	for _, k := range f.Passkeys {
		if k.ID == r.PathValue("id") {
			return passkeyData{
				Passkey: passkeyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt},
				Last:    !f.TOTP && len(f.Passkeys) == 1,
			}, true
		}
	}
	p.redirect(w, r, securityPath, flashPasskeyGone)
	return passkeyData{}, false
}

func (p *Pages) passkeyPage(w http.ResponseWriter, r *http.Request, u *member) {
	data, ok := p.passkeyOf(w, r, u)
	if !ok {
		return
	}
	data.Form = newForm(passkeyNameField())
	data.Form.F("name").Value = data.Passkey.Name
	p.renderForm(w, r, http.StatusOK, "account-passkey", data.Form, data)
}

func (p *Pages) renamePasskey(w http.ResponseWriter, r *http.Request, u *member) {
	data, ok := p.passkeyOf(w, r, u)
	if !ok {
		return
	}
	data.Form = newForm(passkeyNameField())
	name := passkeyName(data.Form.F("name"), r.PostFormValue("name"))
	if data.Form.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "account-passkey", data.Form, data)
		return
	}
	_, err := p.mfa.RenamePasskey(r.Context(), u.Account, data.Passkey.ID, name)
	switch {
	case err == nil:
		p.redirect(w, r, securityPath, flashPasskeyRenamed)
	case errors.Is(err, mfa.ErrPasskeyNotFound):
		p.redirect(w, r, securityPath, flashPasskeyGone)
	default:
		p.internalError(w, r, "rename a passkey", err)
	}
}

func (p *Pages) removePasskey(w http.ResponseWriter, r *http.Request, u *member) {
	data, ok := p.passkeyOf(w, r, u)
	if !ok {
		return
	}
	if p.stepUpFirst(w, r, u, securityPath+"/passkeys/"+url.PathEscape(data.Passkey.ID)) {
		return
	}
	err := p.guard(r, u.Account, func() error {
		return p.mfa.RemovePasskey(r.Context(), u.Account, data.Passkey.ID, r.PostFormValue("password"), p.accountMeta(r))
	})
	var locked *login.LockedError
	switch {
	case err == nil:
		p.redirect(w, r, securityPath, flashPasskeyRemoved)
	case errors.Is(err, account.ErrInvalidCredentials), errors.As(err, &locked):
		p.redirect(w, r, securityPath+"/passkeys/"+url.PathEscape(data.Passkey.ID), flashPasswordNeeded)
	case errors.Is(err, mfa.ErrPasskeyNotFound):
		p.redirect(w, r, securityPath, flashPasskeyGone)
	default:
		p.internalError(w, r, "remove a passkey", err)
	}
}

// ---- Staff enrolment ---------------------------------------------------------------

type consoleMFAData struct{ Email string }

// consoleMFAPage asks a staff member without a second factor to set one up;
// the console's guard sends them here from every other page.
func (p *Pages) consoleMFAPage(w http.ResponseWriter, r *http.Request, s *member) {
	if s.Account.MFAEnabled {
		http.Redirect(w, r, consolePath, http.StatusSeeOther)
		return
	}
	p.Render(w, r, http.StatusOK, "console-mfa", consoleMFAData{Email: s.Account.Email})
}
