package web

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// Reports of a compromised account on the pages (package cases decides):
//
//   - /account/report is the user's short form: their words, and a button
//     that freezes the account (if it is not frozen yet) and opens a case
//     for staff. The same page then shows the case's state: open, or
//     resolved with staff's note to the user.
//   - Whoever reports has no session afterwards (the freeze ended them all),
//     and the owner of a frozen account had none to begin with. So the page
//     also takes a report from:
//       - the "this wasn't me" landing page (/freeze?token=…), whose second
//         form sends the freeze token along with the words: the report
//         spends it and freezes, as the plain button would;
//       - the frozen page right after a freeze (by link or from the account
//         page): the freeze hands out a report grant, a single-use token
//         stored hashed and valid for an hour, kept in a cookie sent to
//         /account/report only (reportGrantCookie);
//       - a browser that reported before: each report returns an access token
//         (stored hashed on the report, 30 days) kept in a cookie sent to
//         /account/report only (caseCookie), which reads the case and adds
//         to it.
//   - /console/cases is the staff console's case queue (alerts:read), of
//     both kinds: users' reports, and users' monitoring alerts grouped for
//     investigation (opened by monitoring, or from an alert's page).
//     /console/cases/{id} is one case. A report shows the user's words and
//     the snapshot of the account taken at each report: logins with their
//     risk decisions, devices, sessions, withdrawals; roles with
//     alerts:write resolve it with a note for the user and one for staff.
//     An alerts case lists its alerts; it is resolved as a true or false
//     positive with a note that each of its open alerts takes, and the user
//     is not told.

// Paths and cookies of the case pages.
const (
	reportPath       = "/account/report"
	consoleCasesPath = "/console/cases"

	// caseCookie holds the access token of the browser's latest report.
	caseCookie = "warden_case"
	// reportGrantCookie holds the grant handed out right after a freeze.
	reportGrantCookie = "warden_report"
)

const (
	// caseQueueLimit is how many cases the queue lists.
	caseQueueLimit = 200
	// maxStatementBytes bounds the statement field before it is checked in characters.
	maxStatementBytes = 4 * cases.MaxStatement
)

func (p *Pages) registerCasePages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+reportPath, p.reportPage)
	mux.Handle("POST "+reportPath, p.post(http.HandlerFunc(p.report)))
	staffWith := func(scope string, h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scope, h))
	}
	mux.HandleFunc("GET "+consoleCasesPath, staffWith(scopeAlertsRead, p.consoleCases))
	mux.HandleFunc("GET "+consoleCasesPath+"/{id}", staffWith(scopeAlertsRead, p.consoleCase))
	mux.Handle("POST "+consoleCasesPath+"/{id}/resolve", p.post(staffWith(scopeAlertsWrite, p.consoleResolveCase)))
}

// canSeeCases tells whether a staff member may open the case queue (and it
// is served at all).
func (p *Pages) canSeeCases(s *member) bool {
	return p.cases != nil && s != nil && p.allows(s.Account.StaffRole, scopeAlertsRead)
}

// ---- Notices --------------------------------------------------------------------------

const (
	flashReportReceived = "report_received"
	flashReportAdded    = "report_added"
	flashCaseResolved   = "case_resolved"
	flashCaseStale      = "case_stale"
	// flashAlertsCaseResolved: an alerts case, whose user is not told.
	flashAlertsCaseResolved = "alerts_case_resolved"
)

func init() {
	maps.Copy(notices, map[string]notice{
		flashReportReceived: {"success", "We received your report. Your account is frozen, every session was logged out, and we emailed you a confirmation."},
		flashReportAdded:    {"success", "Your words were added to your report. Our security team sees them with the rest."},
		flashCaseResolved:   {"success", "The case was resolved. The user was emailed your note, and sees it on their report page."},
		flashCaseStale:      {"info", "This case had already been resolved, so nothing was done. Its resolution is below."},
		flashAlertsCaseResolved: {"success", "The case was resolved, and each of its open alerts with it, with your note. " +
			"The user is not told."},
	})
}

// grantReport hands out a report grant for an account just frozen, in a
// cookie the report page reads. Called by the freezes of the account pages.
func (p *Pages) grantReport(w http.ResponseWriter, r *http.Request, accountID string) {
	if p.cases == nil {
		return
	}
	grant, err := p.cases.Grant(r.Context(), accountID)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: report grant", "err", err)
		return
	}
	if grant == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: reportGrantCookie, Value: grant, Path: reportPath, MaxAge: int(cases.DefaultPolicy().GrantTTL / time.Second),
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Pages) setCaseCookie(w http.ResponseWriter, access string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: caseCookie, Value: access, Path: reportPath, Expires: expires,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (p *Pages) clearReportCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: reportPath, MaxAge: -1,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode,
	})
}

func cookieValue(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxTokenLen {
		return ""
	}
	return c.Value
}

// ---- The user's report page ------------------------------------------------------------

// userCase is a case as its reporter sees it.
type userCase struct {
	ID         string
	Open       bool
	Resolution string // in the user's words, "" while open
	Note       string
	CreatedAt  time.Time
	ResolvedAt time.Time
	Statements []statement
}

type statement struct {
	Text string
	At   time.Time
}

var userResolutionWords = map[string]string{
	cases.ResolutionCompromised:    "Someone else did get into your account.",
	cases.ResolutionNotCompromised: "We found no sign that anyone else got into your account.",
	cases.ResolutionInconclusive:   "We could not tell for certain whether anyone else got into your account.",
}

func userCaseOf(c cases.Case) *userCase {
	u := &userCase{ID: c.ID, Open: c.Open(), CreatedAt: c.CreatedAt, ResolvedAt: c.ResolvedAt}
	if !c.Open() {
		u.Resolution, u.Note = userResolutionWords[c.Resolution], c.UserNote
	}
	for _, r := range c.Reports {
		u.Statements = append(u.Statements, statement{Text: r.Statement, At: r.CreatedAt})
	}
	return u
}

type reportData struct {
	Form *form
	// Case is the reporter's latest case, nil when there is none (or it
	// cannot be read here).
	Case *userCase
	// SignedIn: a signed-in user, whose report freezes the account.
	SignedIn bool
	// CanReport: the page may take a report (a session, a grant, an
	// access token, or the freeze token in Token).
	CanReport bool
	// Token is the freeze token the landing page's form sent, kept when
	// the form comes back with an error.
	Token string
}

func reportForm() *form {
	return newForm(&field{ID: "report-statement", Name: "statement", Label: "What happened?", Type: "textarea", Required: true,
		MaxLength: cases.MaxStatement,
		Hint:      "In your own words: what you noticed, when, and what was not you, such as a login, an email or a withdrawal you did not make. Never write your password or codes."})
}

// reporter is how the request may report: its session, a grant or an access token.
type reporter struct {
	user   *member
	grant  string
	access string
}

func (p *Pages) reporterOf(r *http.Request) reporter {
	rp := reporter{user: p.viewer(userSignIn, r), access: cookieValue(r, caseCookie)}
	if g := cookieValue(r, reportGrantCookie); g != "" && p.cases.GrantValid(r.Context(), g) {
		rp.grant = g
	}
	return rp
}

// reportState fills the page's case: the signed-in user's latest, or the
// one the access cookie follows (a stale cookie is dropped).
func (p *Pages) reportState(w http.ResponseWriter, r *http.Request, rp *reporter, d *reportData) error {
	var c cases.Case
	var err error
	switch {
	case rp.user != nil:
		d.SignedIn = true
		c, err = p.cases.Latest(r.Context(), rp.user.Account.ID)
	case rp.access != "":
		c, err = p.cases.ByAccess(r.Context(), rp.access)
		if errors.Is(err, cases.ErrInvalidToken) {
			p.clearReportCookie(w, caseCookie)
			rp.access = ""
		}
	default:
		err = cases.ErrNoCase
	}
	switch {
	case err == nil:
		d.Case = userCaseOf(c)
	case errors.Is(err, cases.ErrNoCase), errors.Is(err, cases.ErrInvalidToken):
	default:
		return err
	}
	d.CanReport = rp.user != nil || rp.grant != "" || rp.access != "" || d.Token != ""
	return nil
}

func (p *Pages) reportPage(w http.ResponseWriter, r *http.Request) {
	rp := p.reporterOf(r)
	f := reportForm()
	d := reportData{Form: f}
	if err := p.reportState(w, r, &rp, &d); err != nil {
		p.internalError(w, r, "read the report", err)
		return
	}
	p.renderForm(w, r, http.StatusOK, "report", f, d)
}

func (p *Pages) report(w http.ResponseWriter, r *http.Request) {
	rp := p.reporterOf(r)
	f := reportForm()
	d := reportData{Form: f, Token: linkToken(r)}
	text := r.PostFormValue("statement")
	if len(text) <= maxStatementBytes {
		f.F("statement").Value = text
	}
	meta := p.accountMeta(r)
	var rc cases.Receipt
	var err error
	switch {
	case len(text) > maxStatementBytes:
		err = cases.ErrStatementTooLong
	case d.Token != "":
		rc, err = p.cases.ReportByFreezeToken(r.Context(), d.Token, text, meta)
	case rp.user != nil:
		rc, err = p.cases.Report(r.Context(), rp.user.Account.ID, text, meta)
	case rp.grant != "":
		rc, err = p.cases.ReportByGrant(r.Context(), rp.grant, text, meta)
	case rp.access != "":
		rc, err = p.cases.ReportByAccess(r.Context(), rp.access, text, meta)
	default:
		err = cases.ErrInvalidToken
	}
	switch {
	case err == nil:
	case errors.Is(err, cases.ErrStatementMissing):
		f.fail("statement", "Say in a few words what happened.")
	case errors.Is(err, cases.ErrStatementTooLong):
		f.fail("statement", "Write at most 4000 characters.")
	case errors.Is(err, cases.ErrStatementNotText):
		f.fail("statement", "Write text only.")
	case errors.Is(err, cases.ErrInvalidToken):
		d.Token = ""
		f.Problem = &problem{Message: "We could not tell that this report comes from the account's owner: the link or page it came from has expired or was used already. Open the \"this wasn't me\" link of another of our security emails, or log in, and report from there.",
			Links: []link{{Href: "/login", Text: "Log in"}}}
	default:
		p.internalError(w, r, "report", err)
		return
	}
	if f.HasErrors() {
		if err := p.reportState(w, r, &rp, &d); err != nil {
			p.internalError(w, r, "read the report", err)
			return
		}
		status := http.StatusUnprocessableEntity
		if errors.Is(err, cases.ErrInvalidToken) {
			status = http.StatusBadRequest
		}
		p.renderForm(w, r, status, "report", f, d)
		return
	}
	if rp.user != nil {
		p.clearSessionCookie(w, userSignIn) // the freeze ended it
	}
	if rp.grant != "" {
		p.clearReportCookie(w, reportGrantCookie)
	}
	p.setCaseCookie(w, rc.Access, rc.Report.AccessExpiresAt)
	flash := flashReportReceived
	if rc.Added {
		flash = flashReportAdded
	}
	p.redirect(w, r, reportPath, flash)
}

// ---- Console: the case queue ----------------------------------------------------------------

var caseQueueStatuses = []selectOption{
	{Value: cases.StatusOpen, Label: "Open"},
	{Value: cases.StatusResolved, Label: "Resolved"},
	{Value: "all", Label: "All"},
}

// caseQueueKinds filter the queue by kind ("" for both).
var caseQueueKinds = []selectOption{
	{Value: "", Label: "Every kind"},
	{Value: cases.KindUserReport, Label: "User reports"},
	{Value: cases.KindAlerts, Label: "Alerts"},
}

// caseKindWords names a case's kind in the queue and on its page.
var caseKindWords = map[string]string{
	cases.KindUserReport: "User report",
	cases.KindAlerts:     "Alerts",
}

var caseResolutionWords = map[string]string{
	cases.ResolutionCompromised:    "Compromised",
	cases.ResolutionNotCompromised: "Not compromised",
	cases.ResolutionInconclusive:   "Inconclusive",
	cases.ResolutionTruePositive:   "True positive",
	cases.ResolutionFalsePositive:  "False positive",
}

type caseRow struct {
	ID, UserID, Email string
	Kind              string
	KindText          string
	// Alerts: an alerts case (whose user is not told of it).
	Alerts     bool
	Open       bool
	Froze      bool
	Resolution string
	Reports    int
	AlertCount int
	// First is the beginning of the first statement, or the first alert's
	// rule and description (in the queue).
	First     string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func caseRowOf(c cases.Case, emails map[string]string) caseRow {
	return caseRow{ID: c.ID, UserID: c.AccountID, Email: emails[c.AccountID], Kind: c.Kind, KindText: cmpOr(caseKindWords[c.Kind], c.Kind),
		Alerts: c.Kind == cases.KindAlerts, Open: c.Open(), Froze: c.Froze, Resolution: caseResolutionWords[c.Resolution],
		Reports: c.ReportCount, AlertCount: c.AlertCount, First: excerpt(c.Summary, 140), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

type consoleCasesData struct {
	Status      listFilter
	Kind        listFilter // its value "" lists both kinds
	Rows        []caseRow
	CanReadUser bool
	Truncated   bool
	Limit       int
}

func (p *Pages) consoleCases(w http.ResponseWriter, r *http.Request, s *member) {
	q := r.URL.Query()
	d := consoleCasesData{
		Status:      listFilterOf(q, &field{ID: "cases-status", Name: "status", Label: "Show"}, caseQueueStatuses, cases.StatusOpen),
		Kind:        listFilterOf(q, &field{ID: "cases-kind", Name: "kind", Label: "Kind"}, caseQueueKinds, ""),
		Limit:       caseQueueLimit,
		CanReadUser: p.allows(s.Account.StaffRole, scopeUsersRead),
	}
	f := cases.Filter{Status: d.Status.Value, Kind: d.Kind.Value, Limit: caseQueueLimit + 1}
	if f.Status == "all" {
		f.Status = ""
	}
	list, err := p.cases.List(r.Context(), f)
	if err != nil {
		p.internalError(w, r, "list cases", err)
		return
	}
	if len(list) > caseQueueLimit {
		list, d.Truncated = list[:caseQueueLimit], true
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.AccountID)
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		p.internalError(w, r, "read the accounts of cases", err)
		return
	}
	for _, c := range list {
		d.Rows = append(d.Rows, caseRowOf(c, emails))
	}
	p.Render(w, r, http.StatusOK, "console-cases", d)
}

// ---- Console: one case --------------------------------------------------------------------------

type caseReportRow struct {
	N         int // 1 for the first report
	ID        string
	Statement string
	Via       string
	IP        string
	Agent     string
	Froze     bool
	At        time.Time
	Snapshot  cases.Snapshot
	Logins    []snapshotLoginRow
}

type snapshotLoginRow struct {
	cases.SnapshotLogin
	Badge   string
	Words   string
	Reasons string
}

var viaWords = map[string]string{
	cases.ViaSession:    "Signed in",
	cases.ViaFreezeLink: "The \"this wasn't me\" link of a security email",
	cases.ViaGrant:      "The frozen page, right after a freeze",
	cases.ViaAccess:     "The report page, after an earlier report",
}

var outcomeBadges = map[string]string{
	login.OutcomeSucceeded:  "success",
	login.OutcomeChallenged: "warning",
	login.OutcomeDenied:     "danger",
	login.OutcomeFailed:     "danger",
	login.OutcomeLocked:     "danger",
}

var decisionWords = map[string]string{
	login.OutcomeSucceeded:  "Allowed",
	login.OutcomeChallenged: "Challenged",
	login.OutcomeDenied:     "Denied",
	login.OutcomeFailed:     "Wrong password or code",
	login.OutcomeLocked:     "Refused: locked",
}

// caseAlertRow is an alert of an alerts case, as its page lists it.
type caseAlertRow struct {
	ID, RuleID, Description string
	Severity, SeverityBadge string
	Action, ActionText      string
	EventID, EventType      string
	Open                    bool
	Resolution              string // in words, "" while open
	CreatedAt               time.Time
}

func caseAlertRowOf(a cases.CaseAlert) caseAlertRow {
	return caseAlertRow{ID: a.ID, RuleID: a.RuleID, Description: a.Description, Severity: a.Severity, SeverityBadge: severityBadges[a.Severity],
		Action: a.Action, ActionText: cmpOr(actionWords[a.Action], a.Action), EventID: a.EventID, EventType: a.EventType,
		Open: a.Status != monitor.AlertResolved, Resolution: caseResolutionWords[a.Resolution], CreatedAt: a.CreatedAt}
}

type consoleCaseData struct {
	C           caseRow
	CanReadUser bool
	// Alerts are an alerts case's alerts, oldest first; CanAlerts links
	// them to their pages.
	Alerts    []caseAlertRow
	CanAlerts bool
	// CanWithdrawals links the snapshot's withdrawals to their pages.
	CanWithdrawals bool
	// Frozen tells whether the account is frozen now.
	Frozen     bool
	Reports    []caseReportRow
	ResolvedBy string
	ResolvedAt time.Time
	Resolution string
	UserNote   string
	Internal   string
	Form       *form
	Outcomes   []checkOption
}

// resolveCaseForm is the resolve form of a case of kind.
func resolveCaseForm(kind string) *form {
	if kind == cases.KindAlerts {
		return newForm(
			&field{ID: "resolution-" + cases.ResolutionTruePositive, Name: "resolution", Label: "Outcome", Required: true},
			&field{ID: "case-note", Name: "note", Label: "Note", Type: "textarea", Required: true, MaxLength: cases.MaxNote,
				Hint: "What you checked and what you found. Recorded on each of its open alerts, which take the same outcome. The user is not told."},
			&field{ID: "case-internal-note", Name: "internal_note", Label: "Note for staff (optional)", Type: "textarea", MaxLength: cases.MaxNote,
				Hint: "Ticket numbers, what to watch next. Kept with the case."},
		)
	}
	return newForm(
		&field{ID: "resolution-" + cases.ResolutionCompromised, Name: "resolution", Label: "Outcome", Required: true},
		&field{ID: "case-note", Name: "note", Label: "Note to the user", Type: "textarea", Required: true, MaxLength: cases.MaxNote,
			Hint: "Emailed to the user and shown on their report page: what you found and what happens next. Write for them."},
		&field{ID: "case-internal-note", Name: "internal_note", Label: "Note for staff (optional)", Type: "textarea", MaxLength: cases.MaxNote,
			Hint: "What you checked, ticket numbers. Kept with the case and never shown to the user."},
	)
}

var caseOutcomes = []checkOption{
	{Value: cases.ResolutionCompromised, Label: "Compromised: someone else got into the account"},
	{Value: cases.ResolutionNotCompromised, Label: "Not compromised: nothing shows anyone else got in"},
	{Value: cases.ResolutionInconclusive, Label: "Inconclusive"},
}

// alertsCaseOutcomes are an alerts case's outcomes, which its open alerts take.
var alertsCaseOutcomes = []checkOption{
	{Value: cases.ResolutionTruePositive, Label: "True positive: the alerts caught real abuse"},
	{Value: cases.ResolutionFalsePositive, Label: "False positive: the activity was legitimate"},
}

// outcomesOf lists the outcomes a case of kind is resolved with.
func outcomesOf(kind string) []checkOption {
	if kind == cases.KindAlerts {
		return slices.Clone(alertsCaseOutcomes)
	}
	return slices.Clone(caseOutcomes)
}

// loadCase reads a case for its page; ok is false when it already answered.
func (p *Pages) loadCase(w http.ResponseWriter, r *http.Request, s *member) (consoleCaseData, bool) {
	var d consoleCaseData
	caseID := r.PathValue("id")
	if caseID == "" || len(caseID) > maxTokenLen {
		p.NotFound(w, r)
		return d, false
	}
	c, err := p.cases.Get(r.Context(), caseID)
	switch {
	case errors.Is(err, cases.ErrNoCase):
		p.renderError(w, r, http.StatusNotFound, "There is no case with this id. Open it from the queue.")
		return d, false
	case err != nil:
		p.internalError(w, r, "read case", err)
		return d, false
	}
	var user account.Account
	err = p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		user, err = tx.AccountByID(r.Context(), c.AccountID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		p.internalError(w, r, "read the case's account", err)
		return d, false
	}
	emails, err := p.staffEmails(r, c.ResolvedBy)
	if err != nil {
		p.internalError(w, r, "read the case's resolver", err)
		return d, false
	}
	d = consoleCaseData{C: caseRowOf(c, map[string]string{c.AccountID: user.Email}), CanReadUser: p.allows(s.Account.StaffRole, scopeUsersRead),
		CanWithdrawals: p.canSeeWithdrawals(s), Frozen: user.Frozen(), ResolvedAt: c.ResolvedAt, Resolution: caseResolutionWords[c.Resolution],
		UserNote: c.UserNote, Internal: c.InternalNote, CanAlerts: p.monitoring != nil}
	d.C.Reports, d.C.AlertCount = len(c.Reports), len(c.Alerts)
	for _, a := range c.Alerts {
		d.Alerts = append(d.Alerts, caseAlertRowOf(a))
	}
	if c.ResolvedBy != "" {
		d.ResolvedBy = actorWords(c.ResolvedBy, emails)
	}
	for i, rep := range c.Reports {
		row := caseReportRow{N: i + 1, ID: rep.ID, Statement: rep.Statement, Via: cmpOr(viaWords[rep.Via], rep.Via), IP: rep.IP,
			Agent: session.DescribeAgent(rep.UserAgent), Froze: rep.Froze, At: rep.CreatedAt, Snapshot: rep.Snapshot}
		for _, l := range rep.Snapshot.Logins {
			row.Logins = append(row.Logins, snapshotLoginRow{SnapshotLogin: l, Badge: outcomeBadges[l.Outcome],
				Words: cmpOr(decisionWords[l.Outcome], l.Outcome), Reasons: login.ReasonText(l.Reasons)})
		}
		d.Reports = append(d.Reports, row)
	}
	if d.C.Open && p.allows(s.Account.StaffRole, scopeAlertsWrite) {
		d.Form = resolveCaseForm(c.Kind)
		d.Outcomes = outcomesOf(c.Kind)
	}
	return d, true
}

func (p *Pages) consoleCase(w http.ResponseWriter, r *http.Request, s *member) {
	d, ok := p.loadCase(w, r, s)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "console-cases-detail", d)
}

func (p *Pages) consoleResolveCase(w http.ResponseWriter, r *http.Request, s *member) {
	d, ok := p.loadCase(w, r, s)
	if !ok {
		return
	}
	back := consoleCasesPath + "/" + url.PathEscape(d.C.ID)
	if d.Form == nil {
		p.redirect(w, r, back, flashCaseStale)
		return
	}
	f := d.Form
	resolution := r.PostFormValue("resolution")
	if cases.ValidResolution(d.C.Kind, resolution) {
		for i := range d.Outcomes {
			d.Outcomes[i].Checked = d.Outcomes[i].Value == resolution
		}
	} else if d.C.Alerts {
		f.fail("resolution", "Choose whether the alerts were a true or a false positive.")
	} else {
		f.fail("resolution", "Choose what you found.")
	}
	note, noteOK := readField(r, "note", true)
	internal, internalOK := readField(r, "internal_note", true)
	if noteOK {
		f.F("note").Value = note
	}
	if internalOK {
		f.F("internal_note").Value = internal
	}
	switch {
	case note == "" && d.C.Alerts:
		f.fail("note", "Write a note: what you checked and what you found.")
	case note == "":
		f.fail("note", "Write a note to the user: what you found and what happens next.")
	case !noteOK || utf8.RuneCountInString(note) > cases.MaxNote || !utf8.ValidString(note):
		f.fail("note", "Write at most 2000 characters of text.")
	}
	if !internalOK || utf8.RuneCountInString(internal) > cases.MaxNote || !utf8.ValidString(internal) {
		f.fail("internal_note", "Write at most 2000 characters of text.")
	}
	if f.HasErrors() {
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-cases-detail", d)
		return
	}
	_, err := p.cases.Resolve(r.Context(), d.C.ID, resolution, note, internal, p.staffMeta(r, s))
	switch {
	case err == nil && d.C.Alerts:
		p.redirect(w, r, consoleCasesPath, flashAlertsCaseResolved)
	case err == nil:
		p.redirect(w, r, consoleCasesPath, flashCaseResolved)
	case errors.Is(err, cases.ErrResolved):
		p.redirect(w, r, back, flashCaseStale)
	case errors.Is(err, cases.ErrNoCase):
		p.renderError(w, r, http.StatusNotFound, "There is no case with this id. Open it from the queue.")
	default:
		p.internalError(w, r, "resolve case", err)
	}
}

// ---- The console's home card ---------------------------------------------------------------------

// casesCard is the case queue's card on the console's home page.
type casesCard struct {
	// Open counts the open cases, -1 when they could not be counted.
	Open int
}

func (p *Pages) casesCardOf(r *http.Request, s *member) *casesCard {
	if !p.canSeeCases(s) {
		return nil
	}
	n, err := p.cases.Count(r.Context(), cases.StatusOpen)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: count open cases", "err", err)
		return &casesCard{Open: -1}
	}
	return &casesCard{Open: n}
}

// excerpt is the beginning of a text, whole words, at most n characters.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)[:n]
	cut := string(runes)
	if i := strings.LastIndex(cut, " "); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}
