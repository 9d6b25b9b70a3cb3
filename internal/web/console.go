package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/geoip"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// The staff console lives under /console. Staff log in with their own
// accounts (realm account.RealmStaff) and their own cookie, scoped to
// /console and SameSite=Strict, so a staff session and a user session in one
// browser never mix: the console accepts only staff sessions, the account
// pages (and the JSON API) only user sessions. Every staff action is checked
// against the staff member's role (package staff) on the server, whatever
// the page showed, and is recorded in the audit log as "staff:<id>".

// consoleCookie holds a staff session; it is sent to /console only.
const (
	consoleCookie = "warden_console"
	consolePath   = "/console"
)

// Scopes the console checks; the same names as the admin API's.
const (
	scopeUsersRead  = "users:read"
	scopeUsersWrite = "users:write"
	scopeAuditRead  = "audit:read"
)

// Bounds of the reason staff give for freezing or unfreezing an account, in characters.
const (
	minReason = 5
	maxReason = 500
)

// consoleEventLimit is how many of a user's latest events the console shows.
const consoleEventLimit = 20

// listFilter is a filter of a console list, chosen in a GET form and drawn
// as its select field ("select-field"): Value is the option chosen, Chosen
// its label, which the list's caption and empty state repeat.
type listFilter struct {
	selectField
	Value  string
	Chosen string
}

// listFilterOf reads the filter f names from the query: one of options,
// or fallback when the query names none of them (an old or edited link).
func listFilterOf(q url.Values, f *field, options []selectOption, fallback string) listFilter {
	v := q.Get(f.Name)
	if !slices.ContainsFunc(options, func(o selectOption) bool { return o.Value == v }) {
		v = fallback
	}
	lf := listFilter{selectField: selectField{field: f}, Value: v}
	for _, o := range options {
		o.Selected = o.Value == v
		if o.Selected {
			lf.Chosen = o.Label
		}
		lf.Options = append(lf.Options, o)
	}
	return lf
}

// registerConsolePages adds the staff console. As on the account pages,
// every GET only shows and every change is a POST refused when cross-origin.
func (p *Pages) registerConsolePages(mux *http.ServeMux) {
	mux.HandleFunc("GET /console/login", p.showLogin(staffSignIn))
	mux.Handle("POST /console/login", p.post(p.logIn(staffSignIn)))
	mux.Handle("POST /console/logout", p.post(p.logOut(staffSignIn)))
	mux.HandleFunc("GET /console/password", p.signedIn(staffSignIn, p.consolePasswordPage))
	mux.Handle("POST /console/password", p.post(p.signedIn(staffSignIn, p.consolePassword)))

	mux.HandleFunc("GET /console", p.signedIn(staffSignIn, p.consoleHome))
	mux.HandleFunc("GET /console/users/{id}", p.signedIn(staffSignIn, p.scoped(scopeUsersRead, p.consoleUser)))
	mux.Handle("POST /console/users/{id}/unfreeze", p.post(p.signedIn(staffSignIn, p.scoped(scopeUsersWrite, p.consoleUnfreeze))))
	mux.Handle("POST /console/users/{id}/freeze", p.post(p.signedIn(staffSignIn, p.scoped(scopeUsersWrite, p.consoleFreeze))))
	// Queues register their own, each behind p.scoped with its admin scope,
	// and go into consoleNav: withdrawals, verifications, alerts, cases and
	// the dashboard (withdrawals.go, verification.go, monitoring.go,
	// cases.go, dashboard.go).

	// Anything else under /console is the console's own 404, not the site's.
	mux.HandleFunc("GET /console/", p.signedIn(staffSignIn, func(w http.ResponseWriter, r *http.Request, _ *member) {
		p.NotFound(w, r)
	}))
}

func isConsolePath(path string) bool {
	return path == consolePath || strings.HasPrefix(path, consolePath+"/")
}

// ---- Roles and navigation ------------------------------------------------------
//
// Staff sign in as users do (signin.go, staffSignIn); what is the console's
// own follows: roles, its navigation and the audit log's name for staff.

// scoped refuses, with a 403 page, a staff member whose role lacks scope.
// Pages hide what a role may not do; this is what actually forbids it.
func (p *Pages) scoped(scope string, h memberHandler) memberHandler {
	return func(w http.ResponseWriter, r *http.Request, s *member) {
		if !p.allows(s.Account.StaffRole, scope) {
			p.forbidden(w, r, s, scope)
			return
		}
		h(w, r, s)
	}
}

// forbidden answers a staff member whose role lacks scope.
func (p *Pages) forbidden(w http.ResponseWriter, r *http.Request, s *member, scope string) {
	p.log.WarnContext(r.Context(), "web: console action refused by role",
		"staff_id", s.Account.ID, "role", s.Account.StaffRole, "scope", scope, "path", r.URL.Path)
	p.renderError(w, r, http.StatusForbidden,
		"Your role ("+roleName(s.Account.StaffRole)+") does not allow this. Ask an administrator if you need it.")
}

func roleName(role string) string {
	if role == "" {
		return "none"
	}
	return role
}

// consoleNav is the console's navigation, distinct from the user pages'.
func (p *Pages) consoleNav(r *http.Request, s *member) []navLink {
	var links []navLink
	switch {
	case s == nil:
		links = append(links, navLink{Label: "Log in", Href: "/console/login"})
	case s.Account.MustChangePassword || !s.Account.MFAEnabled:
		// Nothing else until the password and the second factor are set.
		links = append(links, navLink{Label: "Log out", Href: "/console/logout", Post: true})
	default:
		links = append(links, navLink{Label: "Dashboard", Href: consoleDashboardPath})
		if p.allows(s.Account.StaffRole, scopeUsersRead) {
			links = append(links, navLink{Label: "Users", Href: consolePath})
		}
		// Queues (withdrawals, verifications, alerts, cases) come here, each
		// shown when p.allows the role its scope.
		if p.canReview(s) {
			links = append(links, navLink{Label: "Verifications", Href: consoleVerificationsPath})
		}
		if p.canSeeWithdrawals(s) {
			links = append(links, navLink{Label: "Withdrawals", Href: consoleWithdrawalsPath})
		}
		if p.canSeeAlerts(s) {
			links = append(links, navLink{Label: "Alerts", Href: consoleAlertsPath}, navLink{Label: "Rules", Href: consoleRulesPath})
		}
		if p.canSeeCases(s) {
			links = append(links, navLink{Label: "Cases", Href: consoleCasesPath})
		}
		links = append(links, navLink{Label: "Log out", Href: "/console/logout", Post: true})
	}
	for i := range links {
		l := &links[i]
		switch l.Href {
		case consolePath:
			l.Current = r.URL.Path == consolePath || strings.HasPrefix(r.URL.Path, "/console/users/")
		case consoleVerificationsPath, consoleWithdrawalsPath, consoleAlertsPath, consoleRulesPath, consoleCasesPath:
			l.Current = r.URL.Path == l.Href || strings.HasPrefix(r.URL.Path, l.Href+"/")
		case consoleDashboardPath:
			l.Current = r.URL.Path == l.Href || r.URL.Path == consoleLoginsPath
		default:
			l.Current = r.URL.Path == l.Href
		}
	}
	return links
}

func (p *Pages) staffMeta(r *http.Request, s *member) account.Meta {
	m := p.accountMeta(r)
	m.Actor = "staff:" + s.Account.ID // how the audit log names the staff member
	return m
}

// consoleNext returns next when it is a console page to go to after
// logging in, "" otherwise.
func consoleNext(next string) string {
	next = safeNext(next)
	if !isConsolePath(strings.SplitN(next, "?", 2)[0]) || strings.HasPrefix(next, "/console/login") {
		return ""
	}
	return next
}

// ---- Log in (signin.go) ------------------------------------------------------------

func consoleLoginForm() *form {
	email := emailField("console-login-email")
	email.Autocomplete = "username"
	return newForm(email, currentPasswordField("console-login-password", "password", "Password"))
}

func wrongStaffCredentials() *problem {
	return &problem{Message: "The email address or password is wrong. Forgotten your password? An administrator can give you a new one-time password."}
}

// staffLoginRefused says only that the account is disabled, whatever the
// reason: staff learn more from an administrator.
func staffLoginRefused(error, string, string) *problem {
	return &problem{Message: "This staff account is disabled. Ask an administrator."}
}

// ---- Password ---------------------------------------------------------------------

type consolePasswordData struct {
	Form    *form
	Email   string
	OneTime bool // the staff member still has the one-time password
}

func consolePasswordForm(oneTime bool) *form {
	label := "Current password"
	if oneTime {
		label = "One-time password"
	}
	return newForm(
		currentPasswordField("console-current", "current_password", label),
		newPasswordField("console-new", "new_password", "New password"),
	)
}

func (p *Pages) consolePasswordPage(w http.ResponseWriter, r *http.Request, s *member) {
	oneTime := s.Account.MustChangePassword
	f := consolePasswordForm(oneTime)
	p.renderForm(w, r, http.StatusOK, "console-password", f, consolePasswordData{Form: f, Email: s.Account.Email, OneTime: oneTime})
}

func (p *Pages) consolePassword(w http.ResponseWriter, r *http.Request, s *member) {
	oneTime := s.Account.MustChangePassword
	f := consolePasswordForm(oneTime)
	c := passwordChange{
		page: "console-password", data: consolePasswordData{Form: f, Email: s.Account.Email, OneTime: oneTime},
		wrongCurrent: "Your current password is wrong.", newDiffers: true, meta: p.staffMeta(r, s),
		done: consolePath, flash: flashConsolePasswordSet, what: "change staff password",
	}
	if oneTime {
		c.wrongCurrent = "The one-time password is wrong."
	}
	p.changeOwnPassword(w, r, s, f, c)
}

// ---- Users ----------------------------------------------------------------------

type consoleHomeData struct {
	Email     string
	Role      string
	CanSearch bool
	// CanReview: the role may review verifications (a link to the queue).
	CanReview bool
	// CanWithdrawals: the role may see the withdrawal queue.
	CanWithdrawals bool
	// Alerts is the alert queue's card with the open alerts counted, nil
	// when the role may not see it (monitoring.go).
	Alerts *alertsCard
	// Cases is the case queue's card with the open cases counted, nil when
	// the role may not see it (cases.go).
	Cases *casesCard
	Form  *form
	// NoMatch is the address searched for when no user has it.
	NoMatch string
}

func consoleSearchForm() *form {
	f := emailField("console-search-email")
	f.Label = "User's email address"
	f.Hint = "The whole address; capitals do not matter."
	f.Autocomplete = "off"
	return newForm(f)
}

// consoleHome is the console's start page: the user search, when the role
// may read users. The search is a GET form: /console?email=…
func (p *Pages) consoleHome(w http.ResponseWriter, r *http.Request, s *member) {
	data := consoleHomeData{Email: s.Account.Email, Role: roleName(s.Account.StaffRole), CanSearch: p.allows(s.Account.StaffRole, scopeUsersRead),
		CanReview: p.canReview(s), CanWithdrawals: p.canSeeWithdrawals(s), Alerts: p.alertsCardOf(r, s), Cases: p.casesCardOf(r, s)}
	raw, searched := r.URL.Query()["email"]
	if !data.CanSearch {
		if searched {
			p.forbidden(w, r, s, scopeUsersRead)
			return
		}
		p.Render(w, r, http.StatusOK, "console", data)
		return
	}
	f := consoleSearchForm()
	data.Form = f
	if !searched {
		p.renderForm(w, r, http.StatusOK, "console", f, data)
		return
	}
	email := strings.TrimSpace(raw[0])
	if len(email) <= 254 {
		f.F("email").Value = email
	}
	if email == "" {
		f.fail("email", "Enter the user's email address.")
		p.renderForm(w, r, http.StatusUnprocessableEntity, "console", f, data)
		return
	}
	_, key, err := account.NormalizeEmail(email)
	if err != nil {
		f.fail("email", "Enter an email address like name@example.com.")
		p.renderForm(w, r, http.StatusUnprocessableEntity, "console", f, data)
		return
	}
	var found account.Account
	err = p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		found, err = tx.AccountByEmail(r.Context(), account.RealmUser, key)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		data.NoMatch = email
		p.renderForm(w, r, http.StatusOK, "console", f, data)
	case err != nil:
		p.internalError(w, r, "find user", err)
	default:
		http.Redirect(w, r, "/console/users/"+url.PathEscape(found.ID), http.StatusSeeOther)
	}
}

// consoleEvent is an audit record of a user as staff see it: the user's own
// wording, plus who acted.
type consoleEvent struct {
	activityRow
	Actor string
}

type consoleUserView struct {
	ID                string
	Email             string
	Verified          bool
	CreatedAt         time.Time
	Frozen            bool
	FrozenAt          time.Time
	FrozenReason      string
	HasAntiPhishing   bool
	SecurityChangedAt time.Time
}

type consoleUserData struct {
	User         consoleUserView
	Sessions     []sessionRow
	Devices      []deviceRow
	CanReadAudit bool
	Events       []consoleEvent
	// Logins are the latest login attempts with their risk decisions.
	Logins   []loginDecision
	CanWrite bool
	// Form is the freeze or unfreeze form, whichever applies, when CanWrite.
	Form *form
	// Restrictions are the restrictions in force, with the forms that set
	// and lift them (withdrawals.go); nil without the withdrawal pages.
	Restrictions *restrictionsBlock
	// Alerts are the user's latest alerts (monitoring.go); nil when the
	// role may not see alerts.
	Alerts *userAlerts
}

func reasonForm(frozen bool) *form {
	f := &field{Name: "reason", Type: "textarea", Required: true, MinLength: minReason, MaxLength: maxReason}
	if frozen {
		f.ID, f.Label = "unfreeze-reason", "How was the owner's identity checked?"
		f.Hint = "5 to 500 characters, kept in the audit log: for example \"passport and selfie checked on a video call, ticket 4711\"."
	} else {
		f.ID, f.Label = "freeze-reason", "Why freeze this account?"
		f.Hint = "5 to 500 characters. The user reads it in the email that tells them about the freeze, and in their activity."
	}
	return newForm(f)
}

// loadUser reads a user (never a staff account) with their live sessions and,
// when the role may read the audit log, their latest events. ok is false
// when it already answered the request (404 or 500).
func (p *Pages) loadUser(w http.ResponseWriter, r *http.Request, s *member) (data consoleUserData, ok bool) {
	userID := r.PathValue("id")
	data.CanReadAudit = p.allows(s.Account.StaffRole, scopeAuditRead)
	data.CanWrite = p.allows(s.Account.StaffRole, scopeUsersWrite)
	if userID == "" || len(userID) > maxTokenLen {
		p.NotFound(w, r)
		return data, false
	}
	now := p.now()
	var a account.Account
	var records []audit.Record
	var sessions []session.Session
	var devices []session.Device
	var logins []login.Event
	staffEmails := map[string]string{}
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		if a, err = tx.AccountByID(r.Context(), userID); err != nil {
			return err
		}
		if a.Realm != account.RealmUser {
			return store.ErrNotFound
		}
		if sessions, err = tx.SessionsOf(r.Context(), a.ID, now); err != nil {
			return err
		}
		if devices, err = tx.DevicesOf(r.Context(), a.ID); err != nil {
			return err
		}
		if !data.CanReadAudit {
			return nil
		}
		if logins, err = tx.LoginEvents(r.Context(), a.ID, consoleEventLimit); err != nil {
			return err
		}
		if records, err = tx.ListAuditRecords(r.Context(), store.AuditFilter{UserID: a.ID, Limit: consoleEventLimit}); err != nil {
			return err
		}
		// Name the staff members who acted by their email.
		for _, rec := range records {
			id, isStaff := strings.CutPrefix(rec.Actor, "staff:")
			if _, seen := staffEmails[id]; !isStaff || seen {
				continue
			}
			staffEmails[id] = ""
			if sa, err := tx.AccountByID(r.Context(), id); err == nil && sa.Realm == account.RealmStaff {
				staffEmails[id] = sa.Email
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "There is no user with this id. Search for the user by their email address.")
		return data, false
	case err != nil:
		p.internalError(w, r, "read user", err)
		return data, false
	}
	data.User = consoleUserView{
		ID: a.ID, Email: a.Email, Verified: a.Verified(), CreatedAt: a.CreatedAt,
		Frozen: a.Frozen(), FrozenAt: a.FrozenAt, FrozenReason: a.FrozenReason,
		HasAntiPhishing: a.AntiPhishingCode != "", SecurityChangedAt: a.SecurityChangedAt,
	}
	for _, sess := range sessions {
		if !sess.Active(now, p.sessions.Policy) {
			continue
		}
		data.Sessions = append(data.Sessions, sessionRow{
			ID: sess.ID, Device: session.DescribeAgent(sess.UserAgent), UserAgent: sess.UserAgent, IP: sess.IP,
			SecondStep: sess.AAL == session.AAL2, CreatedAt: sess.CreatedAt, LastSeenAt: sess.LastSeenAt,
		})
	}
	data.Devices = deviceRows(devices, "")
	for _, rec := range records {
		data.Events = append(data.Events, consoleEventOf(rec, a.ID, staffEmails))
	}
	for _, e := range logins {
		data.Logins = append(data.Logins, loginDecisionOf(e))
	}
	if data.CanWrite {
		data.Form = reasonForm(data.User.Frozen)
	}
	if p.withdrawals != nil {
		if data.Restrictions, err = p.restrictionsOf(r, a.ID, data.CanWrite); err != nil {
			p.internalError(w, r, "read restrictions", err)
			return data, false
		}
	}
	if p.canSeeAlerts(s) {
		if data.Alerts, err = p.userAlertsOf(r, a.ID, a.Email); err != nil {
			p.internalError(w, r, "read the user's alerts", err)
			return data, false
		}
	}
	return data, true
}

// loginDecision is a login attempt as staff see it.
type loginDecision struct {
	At      time.Time
	Outcome string // in words
	Alert   bool
	Reasons string // in words, "" for none
	Score   int
	IP      string
	Place   string
}

var outcomeWords = map[string]string{
	login.OutcomeSucceeded:  "Logged in",
	login.OutcomeFailed:     "Failed",
	login.OutcomeChallenged: "Challenged",
	login.OutcomeDenied:     "Denied",
	login.OutcomeLocked:     "Refused: locked",
}

func loginDecisionOf(e login.Event) loginDecision {
	d := loginDecision{At: e.At, Outcome: cmpOr(outcomeWords[e.Outcome], e.Outcome), Score: e.Score, IP: e.IP,
		Alert: e.Outcome == login.OutcomeDenied || e.Outcome == login.OutcomeLocked || e.Outcome == login.OutcomeFailed}
	if len(e.Reasons) > 0 {
		d.Reasons = login.ReasonText(e.Reasons)
	}
	if e.Country != "" || e.City != "" {
		d.Place = geoip.Place{Country: e.Country, City: e.City}.Describe()
	}
	return d
}

// consoleEventOf describes an audit record for staff: as its user reads it,
// with who acted and the reasons staff gave.
func consoleEventOf(rec audit.Record, userID string, staffEmails map[string]string) consoleEvent {
	ev := consoleEvent{activityRow: activityOf(rec)}
	switch rec.Action {
	case "account.unfrozen":
		ev.What = "Account unfrozen"
		if reason := dataString(rec, "reason"); reason != "" {
			ev.Detail = "Reason: " + reason
		}
	}
	switch id, isStaff := strings.CutPrefix(rec.Actor, "staff:"); {
	case rec.Actor == "user:"+userID:
		ev.Actor = "The user"
	case isStaff && staffEmails[id] != "":
		ev.Actor = "Staff: " + staffEmails[id]
	case isStaff:
		ev.Actor = "Staff: " + id
	case strings.HasPrefix(rec.Actor, "admin_key:"):
		ev.Actor = "Admin API key " + strings.TrimPrefix(rec.Actor, "admin_key:")
	case rec.Actor == "anonymous":
		ev.Actor = "Someone not logged in"
	case rec.Actor == "system":
		ev.Actor = "Warden"
	default:
		ev.Actor = rec.Actor
	}
	return ev
}

func (p *Pages) consoleUser(w http.ResponseWriter, r *http.Request, s *member) {
	data, ok := p.loadUser(w, r, s)
	if !ok {
		return
	}
	if data.Form != nil {
		data.Form.finish()
	}
	p.Render(w, r, http.StatusOK, "console-user", data)
}

// readReason reads and checks the reason of a freeze or unfreeze.
func readReason(r *http.Request, f *form) string {
	reason, ok := readField(r, "reason", true)
	if ok {
		f.F("reason").Value = reason
	}
	switch n := utf8.RuneCountInString(reason); {
	case reason == "":
		f.fail("reason", "Give a reason: it is kept in the audit log.")
	case !ok || n > maxReason:
		f.fail("reason", "Write at most 500 characters.")
	case n < minReason:
		f.fail("reason", "Write at least 5 characters.")
	case !utf8.ValidString(reason):
		f.fail("reason", "The reason holds characters that are not text.")
	}
	return reason
}

func (p *Pages) consoleUnfreeze(w http.ResponseWriter, r *http.Request, s *member) {
	p.consoleFreezeAction(w, r, s, true)
}

func (p *Pages) consoleFreeze(w http.ResponseWriter, r *http.Request, s *member) {
	p.consoleFreezeAction(w, r, s, false)
}

// consoleFreezeAction freezes or unfreezes the user of the page. The form
// posted must match the account's state: a stale page that offers to freeze
// an account someone else froze meanwhile only shows the new state.
func (p *Pages) consoleFreezeAction(w http.ResponseWriter, r *http.Request, s *member, unfreeze bool) {
	data, ok := p.loadUser(w, r, s)
	if !ok {
		return
	}
	back := "/console/users/" + url.PathEscape(data.User.ID)
	if data.User.Frozen != unfreeze {
		p.redirect(w, r, back, flashConsoleStale)
		return
	}
	f := data.Form
	reason := readReason(r, f)
	if f.HasErrors() {
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-user", data)
		return
	}
	var err error
	flash := flashConsoleUnfrozen
	if unfreeze {
		_, err = p.accounts.Unfreeze(r.Context(), data.User.ID, reason, p.staffMeta(r, s))
	} else {
		flash = flashConsoleFrozen
		_, err = p.accounts.Freeze(r.Context(), data.User.ID, reason, p.staffMeta(r, s))
	}
	switch {
	case errors.Is(err, account.ErrNotFrozen):
		p.redirect(w, r, back, flashConsoleStale)
	case err != nil:
		p.internalError(w, r, "freeze or unfreeze", err)
	default:
		p.redirect(w, r, back, flash)
	}
}
