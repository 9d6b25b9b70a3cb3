package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/password"
	"github.com/wardenhq/warden/internal/session"
)

// registerAccountPages adds the account pages. Every GET only shows; every
// change is a POST to the page's own path, refused when cross-origin.
func (p *Pages) registerAccountPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /signup", p.signupPage)
	mux.Handle("POST /signup", p.post(p.signup))
	mux.HandleFunc("GET /signup/sent", p.signupSent)
	mux.HandleFunc("GET /verify-email", p.linkButtonPage("verify-email"))
	mux.Handle("POST /verify-email", p.post(p.verifyEmail))
	mux.HandleFunc("GET /verify-email/done", p.verifyEmailDone)
	mux.HandleFunc("GET /login", p.showLogin(userSignIn))
	mux.Handle("POST /login", p.post(p.logIn(userSignIn)))
	mux.Handle("POST /logout", p.post(p.logOut(userSignIn)))
	mux.HandleFunc("GET /forgot-password", p.forgotPasswordPage)
	mux.Handle("POST /forgot-password", p.post(p.forgotPassword))
	mux.HandleFunc("GET /forgot-password/sent", p.forgotPasswordSent)
	mux.HandleFunc("GET /reset-password", p.resetPasswordPage)
	mux.Handle("POST /reset-password", p.post(p.resetPassword))
	mux.HandleFunc("GET /freeze", p.linkButtonPage("freeze"))
	mux.Handle("POST /freeze", p.post(p.freezeByLink))
	mux.HandleFunc("GET /frozen", p.frozenPage)
	mux.HandleFunc("GET /confirm-device", p.confirmDevicePage)
	mux.Handle("POST /confirm-device", p.post(p.confirmDevice))

	mux.HandleFunc("GET /account", p.signedIn(userSignIn, p.accountHome))
	mux.HandleFunc("GET /account/password", p.signedIn(userSignIn, p.changePasswordPage))
	mux.Handle("POST /account/password", p.post(p.signedIn(userSignIn, p.changePassword)))
	mux.HandleFunc("GET /account/sessions", p.signedIn(userSignIn, p.sessionsPage))
	mux.Handle("POST /account/sessions", p.post(p.signedIn(userSignIn, p.revokeSessions)))
	mux.HandleFunc("GET /account/anti-phishing", p.signedIn(userSignIn, p.antiPhishingPage))
	mux.Handle("POST /account/anti-phishing", p.post(p.signedIn(userSignIn, p.setAntiPhishing)))
	mux.HandleFunc("GET /account/activity", p.signedIn(userSignIn, p.activityPage))
	mux.HandleFunc("GET /account/devices", p.signedIn(userSignIn, p.devicesPage))
	mux.Handle("POST /account/devices", p.post(p.signedIn(userSignIn, p.forgetDevice)))
	mux.HandleFunc("GET /account/freeze", p.signedIn(userSignIn, p.freezeAccountPage))
	mux.Handle("POST /account/freeze", p.post(p.signedIn(userSignIn, p.freezeAccount)))
}

// maxTokenLen bounds the tokens of email links before any lookup.
const maxTokenLen = 200

// renderForm draws a page whose form has errors (or none yet), focusing the
// first one.
func (p *Pages) renderForm(w http.ResponseWriter, r *http.Request, status int, page string, f *form, data any) {
	f.finish()
	p.Render(w, r, status, page, data)
}

// overloaded is the problem shown when the password hashing pool is full.
func overloaded(w http.ResponseWriter) *problem {
	w.Header().Set("Retry-After", "1")
	return &problem{Message: "Too many people are logging in right now. Wait a few seconds and try again."}
}

// internalError logs err and shows the generic error page.
func (p *Pages) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	p.log.ErrorContext(r.Context(), "web: "+what, "path", r.URL.Path, "err", err)
	p.renderError(w, r, http.StatusInternalServerError, "")
}

// ---- Sign up and email confirmation ------------------------------------------

type signupData struct{ Form *form }

func signupForm() *form {
	return newForm(emailField("signup-email"), newPasswordField("signup-password", "password", "Password"))
}

func (p *Pages) signupPage(w http.ResponseWriter, r *http.Request) {
	f := signupForm()
	if email := strings.TrimSpace(r.URL.Query().Get("email")); len(email) <= 254 {
		f.F("email").Value = email
	}
	p.renderForm(w, r, http.StatusOK, "signup", f, signupData{Form: f})
}

func (p *Pages) signup(w http.ResponseWriter, r *http.Request) {
	f := signupForm()
	email, emailOK := readField(r, "email", true)
	plain, passwordOK := readField(r, "password", false)
	if emailOK {
		f.F("email").Value = email
	}
	switch {
	case email == "":
		f.fail("email", "Enter your email address.")
	case !emailOK || len(email) > 254:
		f.fail("email", "Enter an email address of at most 254 characters.")
	}
	switch {
	case plain == "":
		f.fail("password", "Choose a password.")
	case !passwordOK:
		f.fail("password", "Use at most 128 characters.")
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "signup", f, signupData{Form: f})
		return
	}
	err := p.accounts.Register(r.Context(), email, plain, p.accountMeta(r))
	var weak *password.Weakness
	switch {
	case err == nil:
		p.redirect(w, r, "/signup/sent", "")
		return
	case errors.As(err, &weak):
		weakPassword(f.F("password"), weak)
	case errors.Is(err, account.ErrInvalidEmail):
		f.fail("email", "Enter an email address like name@example.com.")
	case errors.Is(err, password.ErrOverloaded):
		f.Problem = overloaded(w)
		p.renderForm(w, r, http.StatusServiceUnavailable, "signup", f, signupData{Form: f})
		return
	default:
		p.internalError(w, r, "register", err)
		return
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, "signup", f, signupData{Form: f})
}

func (p *Pages) signupSent(w http.ResponseWriter, r *http.Request) {
	p.Render(w, r, http.StatusOK, "signup-sent", nil)
}

// tokenData is the data of the pages opened from an email link.
type tokenData struct {
	Token   string
	Invalid bool // the link is incomplete, used or expired
	Form    *form
}

// linkToken reads the token of an email link from the query (GET) or the
// form (POST), "" when missing or implausible.
func linkToken(r *http.Request) string {
	t := r.URL.Query().Get("token")
	if r.Method == http.MethodPost {
		t = r.PostFormValue("token")
	}
	t = strings.TrimSpace(t)
	if len(t) > maxTokenLen {
		return ""
	}
	return t
}

// linkButtonPage answers the opening of an emailed link (the email
// confirmation, the freeze link of a security email) with page, which only
// holds a button that posts the token back: mail scanners open links to
// check them, so opening one must not spend its token.
func (p *Pages) linkButtonPage(page string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := linkToken(r)
		if token == "" {
			p.Render(w, r, http.StatusBadRequest, page, tokenData{Invalid: true})
			return
		}
		p.Render(w, r, http.StatusOK, page, tokenData{Token: token})
	}
}

func (p *Pages) verifyEmail(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "verify-email", tokenData{Invalid: true})
		return
	}
	_, err := p.accounts.VerifyEmail(r.Context(), token, p.accountMeta(r))
	switch {
	case errors.Is(err, account.ErrInvalidToken):
		p.Render(w, r, http.StatusBadRequest, "verify-email", tokenData{Invalid: true})
	case err != nil:
		p.internalError(w, r, "verify email", err)
	default:
		p.redirect(w, r, "/verify-email/done", flashEmailVerified)
	}
}

func (p *Pages) verifyEmailDone(w http.ResponseWriter, r *http.Request) {
	if flashOf(r) != flashEmailVerified {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	p.Render(w, r, http.StatusOK, "verify-email-done", nil)
}

// ---- Log in and out ---------------------------------------------------------------

func loginForm() *form {
	return newForm(emailField("login-email"), currentPasswordField("login-password", "password", "Password"))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// userLoginRefused tells someone who knows the password of a frozen
// account, or of one whose email address is not confirmed, what to do.
func userLoginRefused(err error, email, supportURL string) *problem {
	if errors.Is(err, account.ErrEmailNotVerified) {
		return &problem{
			Message: "Confirm your email address first: open the link in the email we sent you when you signed up. " +
				"No email, or the link expired? Sign up again with the same address and we send a new link.",
			Links: []link{{Href: "/signup?" + url.Values{"email": {email}}.Encode(), Text: "Get a new confirmation link"}},
		}
	}
	frozen := &problem{
		Message: "This account is frozen: nobody can log in or withdraw until support has checked your identity and unfrozen it.",
		Links:   []link{{Href: "/frozen", Text: "What to do now"}},
	}
	if supportURL != "" {
		frozen.Links = append(frozen.Links, link{Href: supportURL, Text: "Contact support"})
	}
	return frozen
}

// wrongCredentials is the same for an unknown email and a wrong password.
func wrongCredentials() *problem {
	return &problem{
		Message: "The email address or password is wrong.",
		Links:   []link{{Href: "/forgot-password", Text: "Forgot your password?"}},
	}
}

// limitedForm asks the configured login limit about an attempt posted
// with f, the form of page, drawn with data; what names the attempts to the
// user ("login attempts"). It answers true when the attempt may not go on,
// having answered the request: the form again with the limit, or an error
// page.
func (p *Pages) limitedForm(w http.ResponseWriter, r *http.Request, what string, f *form, page string, data any) bool {
	if p.loginLimit == nil {
		return false
	}
	wait, err := p.loginLimit(r)
	if err != nil {
		p.internalError(w, r, "login rate limit", err)
		return true
	}
	if wait <= 0 {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	when := "a minute"
	switch {
	case secs == 1:
		when = "a second"
	case secs < 60:
		when = strconv.Itoa(secs) + " seconds"
	case secs > 90:
		when = strconv.Itoa((secs+59)/60) + " minutes"
	}
	f.Problem = &problem{Message: "Too many " + what + ". Wait " + when + " and try again."}
	p.renderForm(w, r, http.StatusTooManyRequests, page, f, data)
	return true
}

// ---- Forgotten password ---------------------------------------------------------

type emailFormData struct{ Form *form }

func forgotForm() *form { return newForm(emailField("forgot-email")) }

func (p *Pages) forgotPasswordPage(w http.ResponseWriter, r *http.Request) {
	f := forgotForm()
	p.renderForm(w, r, http.StatusOK, "forgot-password", f, emailFormData{Form: f})
}

func (p *Pages) forgotPassword(w http.ResponseWriter, r *http.Request) {
	f := forgotForm()
	email, ok := readField(r, "email", true)
	if ok {
		f.F("email").Value = email
	}
	switch {
	case email == "":
		f.fail("email", "Enter your email address.")
	case !ok || len(email) > 254:
		f.fail("email", "Enter an email address of at most 254 characters.")
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "forgot-password", f, emailFormData{Form: f})
		return
	}
	if err := p.accounts.RequestPasswordReset(r.Context(), email, p.accountMeta(r)); err != nil {
		p.internalError(w, r, "request password reset", err)
		return
	}
	p.redirect(w, r, "/forgot-password/sent", "")
}

func (p *Pages) forgotPasswordSent(w http.ResponseWriter, r *http.Request) {
	p.Render(w, r, http.StatusOK, "forgot-password-sent", nil)
}

func resetForm() *form {
	return newForm(newPasswordField("reset-password", "password", "New password"))
}

func (p *Pages) resetPasswordPage(w http.ResponseWriter, r *http.Request) {
	f := resetForm()
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "reset-password", tokenData{Invalid: true, Form: f})
		return
	}
	p.renderForm(w, r, http.StatusOK, "reset-password", f, tokenData{Token: token, Form: f})
}

func (p *Pages) resetPassword(w http.ResponseWriter, r *http.Request) {
	f := resetForm()
	token := linkToken(r)
	data := tokenData{Token: token, Form: f}
	if token == "" {
		data.Invalid = true
		p.Render(w, r, http.StatusBadRequest, "reset-password", data)
		return
	}
	plain, ok := readField(r, "password", false)
	switch {
	case plain == "":
		f.fail("password", "Choose a new password.")
	case !ok:
		f.fail("password", "Use at most 128 characters.")
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "reset-password", f, data)
		return
	}
	err := p.accounts.ResetPassword(r.Context(), token, plain, p.accountMeta(r))
	var weak *password.Weakness
	switch {
	case err == nil:
		// Every session ended, this browser's too.
		p.clearSessionCookie(w, userSignIn)
		p.redirect(w, r, "/login", flashPasswordReset)
		return
	case errors.Is(err, account.ErrInvalidToken):
		data.Invalid = true
		p.Render(w, r, http.StatusBadRequest, "reset-password", data)
		return
	case errors.As(err, &weak):
		weakPassword(f.F("password"), weak)
		p.renderForm(w, r, http.StatusUnprocessableEntity, "reset-password", f, data)
	case errors.Is(err, password.ErrOverloaded):
		f.Problem = overloaded(w)
		p.renderForm(w, r, http.StatusServiceUnavailable, "reset-password", f, data)
	default:
		p.internalError(w, r, "reset password", err)
	}
}

// ---- Freeze ------------------------------------------------------------------------

// freezeByLink is the button of the "this wasn't me" link of a security
// email (the link opens linkButtonPage).
func (p *Pages) freezeByLink(w http.ResponseWriter, r *http.Request) {
	token := linkToken(r)
	if token == "" {
		p.Render(w, r, http.StatusBadRequest, "freeze", tokenData{Invalid: true})
		return
	}
	acct, err := p.accounts.FreezeByToken(r.Context(), token, p.accountMeta(r))
	switch {
	case errors.Is(err, account.ErrInvalidToken):
		p.Render(w, r, http.StatusBadRequest, "freeze", tokenData{Invalid: true})
		return
	case err != nil:
		p.internalError(w, r, "freeze by link", err)
		return
	}
	// The account's sessions ended; if this browser held one, drop its cookie.
	if u, stale, _ := p.resolve(userSignIn, r); stale || (u != nil && u.Account.ID == acct.ID) {
		p.clearSessionCookie(w, userSignIn)
	}
	p.grantReport(w, r, acct.ID) // the frozen page offers to report it (cases.go)
	p.redirect(w, r, "/frozen", flashFrozen)
}

type frozenData struct{ JustFrozen bool }

// frozenPage explains a frozen account: right after freezing it, and for
// anyone sent here by a refused login.
func (p *Pages) frozenPage(w http.ResponseWriter, r *http.Request) {
	p.Render(w, r, http.StatusOK, "frozen", frozenData{JustFrozen: flashOf(r) == flashFrozen})
}

func (p *Pages) freezeAccountPage(w http.ResponseWriter, r *http.Request, u *member) {
	p.Render(w, r, http.StatusOK, "account-freeze", nil)
}

func (p *Pages) freezeAccount(w http.ResponseWriter, r *http.Request, u *member) {
	if _, err := p.accounts.Freeze(r.Context(), u.Account.ID, "frozen by the owner", p.accountMeta(r)); err != nil {
		p.internalError(w, r, "freeze", err)
		return
	}
	p.clearSessionCookie(w, userSignIn)
	p.grantReport(w, r, u.Account.ID) // the frozen page offers to report it (cases.go)
	p.redirect(w, r, "/frozen", flashFrozen)
}

// ---- Signed-in pages ------------------------------------------------------------

type accountData struct {
	Email           string
	Verified        bool
	Since           time.Time
	HasAntiPhishing bool
	MFA             bool
}

// freshAccount reads the account anew: the one resolved with the session
// may come from the session cache, a little behind the latest change.
func (p *Pages) freshAccount(r *http.Request, m *member) (account.Account, error) {
	return p.accountByID(r, m.Account.ID)
}

// accountByID reads an account from the database.
func (p *Pages) accountByID(r *http.Request, id string) (account.Account, error) {
	var a account.Account
	err := p.accounts.View(r.Context(), func(tx account.Tx) error {
		var err error
		a, err = tx.AccountByID(r.Context(), id)
		return err
	})
	return a, err
}

func (p *Pages) accountHome(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	p.Render(w, r, http.StatusOK, "account", accountData{
		Email: a.Email, Verified: a.Verified(), Since: a.CreatedAt,
		HasAntiPhishing: a.AntiPhishingCode != "", MFA: a.MFAEnabled,
	})
}

type passwordData struct {
	Form  *form
	Email string // for password managers: the account the new password is for
}

func changePasswordForm() *form {
	return newForm(
		currentPasswordField("change-current", "current_password", "Current password"),
		newPasswordField("change-new", "new_password", "New password"),
	)
}

func (p *Pages) changePasswordPage(w http.ResponseWriter, r *http.Request, u *member) {
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := changePasswordForm()
	p.renderForm(w, r, http.StatusOK, "account-password", f, passwordData{Form: f, Email: u.Account.Email})
}

func (p *Pages) changePassword(w http.ResponseWriter, r *http.Request, u *member) {
	// As the JSON API: with a second factor, a password change wants it fresh.
	if p.stepUpFirst(w, r, u, r.URL.Path) {
		return
	}
	f := changePasswordForm()
	p.changeOwnPassword(w, r, u, f, passwordChange{
		page: "account-password", data: passwordData{Form: f, Email: u.Account.Email},
		wrongCurrent: "Your current password is wrong.", meta: p.accountMeta(r),
		done: "/account", flash: flashPasswordChanged, what: "change password",
	})
}

// passwordChange is what the account pages and the console do their own
// way when a member changes their password (changeOwnPassword).
type passwordChange struct {
	page string // the form's page, drawn with data
	data any
	// wrongCurrent is the error of a wrong current password.
	wrongCurrent string
	// newDiffers refuses a new password equal to the current one.
	newDiffers bool
	meta       account.Meta
	// done is where a changed password goes, with the notice flash.
	done, flash string
	what        string // the change's name in the log
}

// changeOwnPassword changes m's password from the form f: its current
// password and a new one, in the fields current_password and new_password.
func (p *Pages) changeOwnPassword(w http.ResponseWriter, r *http.Request, m *member, f *form, c passwordChange) {
	current, currentOK := readField(r, "current_password", false)
	plain, newOK := readField(r, "new_password", false)
	switch {
	case current == "":
		f.fail("current_password", "Enter your "+strings.ToLower(f.F("current_password").Label)+".")
	case !currentOK:
		f.fail("current_password", c.wrongCurrent)
	}
	switch {
	case plain == "":
		f.fail("new_password", "Choose a new password.")
	case !newOK:
		f.fail("new_password", "Use at most 128 characters.")
	case c.newDiffers && plain == current:
		f.fail("new_password", "Choose a password other than the current one.")
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, c.page, f, c.data)
		return
	}
	err := p.accounts.ChangePassword(r.Context(), m.Account.ID, current, plain, m.Session.ID, c.meta)
	var weak *password.Weakness
	switch {
	case err == nil:
		p.redirect(w, r, c.done, c.flash)
		return
	case errors.Is(err, account.ErrInvalidCredentials):
		f.fail("current_password", c.wrongCurrent)
	case errors.As(err, &weak):
		weakPassword(f.F("new_password"), weak)
	case errors.Is(err, password.ErrOverloaded):
		f.Problem = overloaded(w)
		p.renderForm(w, r, http.StatusServiceUnavailable, c.page, f, c.data)
		return
	default:
		p.internalError(w, r, c.what, err)
		return
	}
	p.renderForm(w, r, http.StatusUnprocessableEntity, c.page, f, c.data)
}

type sessionRow struct {
	ID         string
	Current    bool
	Device     string // the user agent in a few words
	UserAgent  string
	IP         string
	SecondStep bool // logged in with a second factor
	CreatedAt  time.Time
	LastSeenAt time.Time
}

type sessionsData struct {
	Sessions []sessionRow
	Others   int
}

func (p *Pages) sessionsPage(w http.ResponseWriter, r *http.Request, u *member) {
	all, err := p.sessions.List(r.Context(), u.Account.ID)
	if err != nil {
		p.internalError(w, r, "list sessions", err)
		return
	}
	var data sessionsData
	for _, s := range all {
		row := sessionRow{
			ID: s.ID, Current: s.ID == u.Session.ID, Device: session.DescribeAgent(s.UserAgent), UserAgent: s.UserAgent,
			IP: s.IP, SecondStep: s.AAL == session.AAL2, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt,
		}
		if row.Current {
			// The current session first.
			data.Sessions = append([]sessionRow{row}, data.Sessions...)
			continue
		}
		data.Sessions = append(data.Sessions, row)
		data.Others++
	}
	p.Render(w, r, http.StatusOK, "account-sessions", data)
}

func (p *Pages) revokeSessions(w http.ResponseWriter, r *http.Request, u *member) {
	meta := p.sessionMeta(r)
	if r.PostFormValue("others") != "" {
		if _, err := p.sessions.Revoke(r.Context(), u.Account, "", u.Session.ID, "revoked_by_user", meta); err != nil {
			p.internalError(w, r, "revoke sessions", err)
			return
		}
		p.redirect(w, r, "/account/sessions", flashOthersRevoked)
		return
	}
	id := r.PostFormValue("session")
	if id == "" || len(id) > maxTokenLen {
		p.redirect(w, r, "/account/sessions", "")
		return
	}
	reason := "revoked_by_user"
	if id == u.Session.ID {
		reason = "logout"
	}
	n, err := p.sessions.Revoke(r.Context(), u.Account, id, "", reason, meta)
	switch {
	case err != nil:
		p.internalError(w, r, "revoke session", err)
	case id == u.Session.ID:
		p.clearSessionCookie(w, userSignIn)
		p.redirect(w, r, "/login", flashSignedOut)
	case n == 0:
		p.redirect(w, r, "/account/sessions", flashSessionGone)
	default:
		p.redirect(w, r, "/account/sessions", flashSessionRevoked)
	}
}

type antiPhishingData struct {
	Form    *form
	Current string // the code, partly masked; "" when none is set
}

func antiPhishingForm() *form {
	return newForm(&field{
		ID: "anti-phishing-code", Name: "code", Label: "Anti-phishing code", Type: "text", Autocomplete: "off",
		Hint:     "4 to 20 characters: letters, digits, spaces and - _ . ! * #. Pick something only you would recognise, and not a password.",
		Required: true, MinLength: 4, MaxLength: 20,
	})
}

func (p *Pages) antiPhishingPage(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	f := antiPhishingForm()
	p.renderForm(w, r, http.StatusOK, "account-anti-phishing", f, antiPhishingData{Form: f, Current: maskCode(a.AntiPhishingCode)})
}

func (p *Pages) setAntiPhishing(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	f := antiPhishingForm()
	data := antiPhishingData{Form: f, Current: maskCode(a.AntiPhishingCode)}
	code, ok := readField(r, "code", true)
	if ok {
		f.F("code").Value = code
	}
	switch {
	case code == "":
		f.fail("code", "Enter a code.")
	case !ok:
		f.fail("code", "The code must be 4 to 20 characters.")
	default:
		if err := account.ValidateAntiPhishingCode(code); err != nil {
			f.fail("code", "The code "+err.Error()+".")
		}
	}
	if f.HasErrors() {
		p.renderForm(w, r, http.StatusUnprocessableEntity, "account-anti-phishing", f, data)
		return
	}
	if err := p.accounts.SetAntiPhishingCode(r.Context(), u.Account.ID, code, p.accountMeta(r)); err != nil {
		p.internalError(w, r, "set anti-phishing code", err)
		return
	}
	p.redirect(w, r, "/account/anti-phishing", flashAntiPhishingSet)
}

// maskCode shows enough of an anti-phishing code to recognise it, not enough
// for someone looking over the shoulder to copy it.
func maskCode(code string) string {
	runes := []rune(code)
	n := len(runes)
	if n == 0 {
		return ""
	}
	head, tail := 1, 0
	if n >= 6 {
		head, tail = 2, 1
	}
	return string(runes[:head]) + strings.Repeat("•", n-head-tail) + string(runes[n-tail:])
}
