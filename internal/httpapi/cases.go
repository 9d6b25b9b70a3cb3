package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/cases"
)

// Reports of a compromised account, and the cases they open for staff
// (package cases decides). A user reports with a session; the owner of a
// frozen account has none, so a report is also taken with a "this wasn't
// me" freeze token from a security email, or with the access token an
// earlier report returned (which also reads the case: GET with the
// X-Warden-Case-Token header). Staff list, read and resolve cases with the
// alerts scopes: a user's report, or a user's monitoring alerts grouped for
// investigation (kind alerts), which the user never sees.

// CaseTokenHeader carries a report's access token on GET /v1/account/report.
const CaseTokenHeader = "X-Warden-Case-Token"

// casesService is the case service, or a problem when this server was
// built without it.
func (a *API) casesService() (*cases.Service, *Problem) {
	if a.Cases == nil {
		return nil, NewProblem(http.StatusServiceUnavailable, "unavailable", "cases are not handled on this server")
	}
	return a.Cases, nil
}

// casesProblem maps the case package's errors to their problems.
func casesProblem(err error) error {
	switch {
	case errors.Is(err, cases.ErrStatementMissing):
		return errValidation(FieldError{Field: "note", Code: "required", Detail: "say in your own words what happened: what you noticed, and what was not you"})
	case errors.Is(err, cases.ErrStatementTooLong):
		return errValidation(FieldError{Field: "note", Code: "too_long", Detail: "at most 4000 characters"})
	case errors.Is(err, cases.ErrStatementNotText):
		return errValidation(FieldError{Field: "note", Code: "invalid", Detail: "text only"})
	case errors.Is(err, cases.ErrInvalidToken):
		return NewProblem(http.StatusBadRequest, "invalid_token", "this link or token is invalid, was already used, or has expired")
	case errors.Is(err, cases.ErrNotUser):
		return errNotFound("user")
	case errors.Is(err, cases.ErrNoCase):
		return errNotFound("case")
	case errors.Is(err, cases.ErrResolved):
		return NewProblem(http.StatusConflict, "case_resolved", "this case was resolved already; its resolution stays as it was")
	case errors.Is(err, cases.ErrBadResolution):
		return errValidation(FieldError{Field: "resolution", Code: "invalid", Detail: "a report takes one of " + strings.Join(cases.Resolutions, ", ") +
			"; an alerts case one of " + strings.Join(cases.AlertResolutions, ", ")})
	case errors.Is(err, cases.ErrNoteMissing):
		return errValidation(FieldError{Field: "note", Code: "required", Detail: "a report's note is for the user: it is emailed to them and shown on their report; " +
			"an alerts case's note is recorded on each of its open alerts"})
	case errors.Is(err, cases.ErrNoteTooLong):
		return errValidation(FieldError{Field: "note", Code: "too_long", Detail: "at most 2000 characters each, note and internal_note"})
	}
	return err
}

// --- the user's side ---

type reportRequest struct {
	// Note is the user's words (API.md); Statement is accepted for it too.
	Note      string `json:"note"`
	Statement string `json:"statement"`
	// Token is a "this wasn't me" freeze token, for a user without a session.
	Token string `json:"token"`
	// AccessToken is the access token of an earlier report.
	AccessToken string `json:"access_token"`
}

// userReportView is a user's case as they see it: its state and staff's
// note to them, never the snapshot or staff's internal note.
type userReportView struct {
	CaseID     string           `json:"case_id"`
	Status     string           `json:"status"`
	Resolution string           `json:"resolution,omitempty"`
	Note       string           `json:"note,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	ResolvedAt *time.Time       `json:"resolved_at,omitempty"`
	Reports    []userReportItem `json:"reports"`
}

type userReportItem struct {
	ID        string    `json:"id"`
	Statement string    `json:"statement"`
	CreatedAt time.Time `json:"created_at"`
}

func viewUserReport(c cases.Case) userReportView {
	v := userReportView{CaseID: c.ID, Status: c.Status, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, ResolvedAt: timePtr(c.ResolvedAt),
		Reports: []userReportItem{}}
	if !c.Open() {
		v.Resolution, v.Note = c.Resolution, c.UserNote
	}
	for _, r := range c.Reports {
		v.Reports = append(v.Reports, userReportItem{ID: r.ID, Statement: r.Statement, CreatedAt: r.CreatedAt})
	}
	return v
}

type reportReceiptView struct {
	userReportView
	// Added: the report joined the user's case already open.
	Added bool `json:"added"`
	// Frozen is always true: the account is frozen now (FrozeNow: by this report).
	Frozen   bool `json:"frozen"`
	FrozeNow bool `json:"froze_now"`
	// AccessToken reads the case without a session (GET with the
	// X-Warden-Case-Token header) until AccessExpiresAt; given once.
	AccessToken     string    `json:"access_token"`
	AccessExpiresAt time.Time `json:"access_expires_at"`
}

// reportAccount takes a report of a compromised account: the account is
// frozen (if it was not) and a case opened for staff, or the report added
// to the user's case still open. 201 with the case either way.
func (a *API) reportAccount(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.casesService()
	if p != nil {
		return p
	}
	var req reportRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	statement := req.Note
	if statement == "" {
		statement = req.Statement
	}
	meta := a.accountMeta(r)
	var rc cases.Receipt
	var err error
	viaCookie := false
	switch {
	case req.Token != "":
		rc, err = svc.ReportByFreezeToken(r.Context(), req.Token, statement, meta)
	case req.AccessToken != "":
		rc, err = svc.ReportByAccess(r.Context(), req.AccessToken, statement, meta)
	default:
		c, p := a.authenticateUser(r, account.RealmUser)
		if p != nil {
			return p
		}
		if c.viaCookie && a.crossOrigin.Check(r) != nil {
			return errCrossOrigin()
		}
		viaCookie = c.viaCookie
		rc, err = svc.Report(r.Context(), c.account.ID, statement, meta)
	}
	if err != nil {
		return casesProblem(err)
	}
	if viaCookie {
		a.clearSessionCookie(w) // the freeze ended the session
	}
	writeJSON(w, http.StatusCreated, reportReceiptView{userReportView: viewUserReport(rc.Case), Added: rc.Added, Frozen: true,
		FrozeNow: rc.Froze, AccessToken: rc.Access, AccessExpiresAt: rc.Report.AccessExpiresAt})
	return nil
}

// getAccountReport shows the user's latest case: with a session, or with a
// report's access token in the X-Warden-Case-Token header.
func (a *API) getAccountReport(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.casesService()
	if p != nil {
		return p
	}
	var c cases.Case
	var err error
	if access := r.Header.Get(CaseTokenHeader); access != "" {
		c, err = svc.ByAccess(r.Context(), access)
	} else {
		who, p := a.authenticateUser(r, account.RealmUser)
		if p != nil {
			return p
		}
		c, err = svc.Latest(r.Context(), who.account.ID)
	}
	if errors.Is(err, cases.ErrNoCase) {
		return NewProblem(http.StatusNotFound, "not_found", "you have not reported your account")
	}
	if err != nil {
		return casesProblem(err)
	}
	writeJSON(w, http.StatusOK, viewUserReport(c))
	return nil
}

// --- staff's side ---

type caseReportView struct {
	ID              string         `json:"id"`
	Statement       string         `json:"statement"`
	Via             string         `json:"via"`
	IP              string         `json:"ip,omitempty"`
	UserAgent       string         `json:"user_agent,omitempty"`
	Froze           bool           `json:"froze"`
	CreatedAt       time.Time      `json:"created_at"`
	Snapshot        cases.Snapshot `json:"snapshot"`
	AccessExpiresAt time.Time      `json:"access_expires_at"`
}

// caseAlertView is an alert of an alerts case.
type caseAlertView struct {
	ID          string    `json:"id"`
	RuleID      string    `json:"rule_id"`
	EventID     string    `json:"event_id"`
	EventType   string    `json:"event_type"`
	Action      string    `json:"action"`
	Severity    string    `json:"severity"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
	Resolution  string    `json:"resolution,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

type caseView struct {
	ID     string `json:"id"`
	UserID string `json:"user_id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	Froze  bool   `json:"froze"`
	// Resolution is one of the kind's (cases.ResolutionsOf). Note is a
	// report's note to the user, or the note an alerts case's alerts were
	// resolved with.
	Resolution   string     `json:"resolution,omitempty"`
	Note         string     `json:"note,omitempty"`
	InternalNote string     `json:"internal_note,omitempty"`
	ResolvedBy   string     `json:"resolved_by,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	ReportCount  int        `json:"report_count"`
	AlertCount   int        `json:"alert_count"`
	// Reports and Alerts are filled when one case is read (Alerts, for
	// an alerts case, even when empty).
	Reports []caseReportView `json:"reports,omitempty"`
	Alerts  *[]caseAlertView `json:"alerts,omitempty"`
}

// viewCase shows a case; one (not a listing's) shows its reports or alerts.
func viewCase(c cases.Case, one bool) caseView {
	v := caseView{ID: c.ID, UserID: c.AccountID, Kind: c.Kind, Status: c.Status, Froze: c.Froze, Resolution: c.Resolution,
		Note: c.UserNote, InternalNote: c.InternalNote, ResolvedBy: c.ResolvedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		ResolvedAt: timePtr(c.ResolvedAt), ReportCount: c.ReportCount, AlertCount: c.AlertCount}
	for _, r := range c.Reports {
		v.Reports = append(v.Reports, caseReportView{ID: r.ID, Statement: r.Statement, Via: r.Via, IP: r.IP, UserAgent: r.UserAgent,
			Froze: r.Froze, CreatedAt: r.CreatedAt, Snapshot: r.Snapshot, AccessExpiresAt: r.AccessExpiresAt})
	}
	if one && (c.Kind == cases.KindAlerts || len(c.Alerts) > 0) {
		alerts := make([]caseAlertView, 0, len(c.Alerts))
		for _, a := range c.Alerts {
			alerts = append(alerts, caseAlertView{ID: a.ID, RuleID: a.RuleID, EventID: a.EventID, EventType: a.EventType, Action: a.Action,
				Severity: a.Severity, Description: a.Description, Status: a.Status, Resolution: a.Resolution, CreatedAt: a.CreatedAt})
		}
		v.Alerts = &alerts
	}
	return v
}

var (
	caseStatuses = []string{cases.StatusOpen, cases.StatusResolved}
	caseKinds    = []string{cases.KindUserReport, cases.KindAlerts}
)

// listCases lists cases, newest first, by status, kind and user, without
// their reports or alerts (report_count and alert_count say how many).
func (a *API) listCases(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.casesService()
	if p != nil {
		return p
	}
	q := r.URL.Query()
	var fe fieldErrors
	f := cases.Filter{Status: q.Get("status"), AccountID: q.Get("user_id"), Kind: q.Get("kind")}
	if f.Status != "" && !slices.Contains(caseStatuses, f.Status) {
		fe.add("status", "invalid", "one of "+strings.Join(caseStatuses, ", "))
	}
	if f.Kind != "" && !slices.Contains(caseKinds, f.Kind) {
		fe.add("kind", "invalid", "one of "+strings.Join(caseKinds, ", "))
	}
	if len(f.AccountID) > 100 {
		fe.add("user_id", "too_long", "a user id")
	}
	f.Limit = listLimit(r, &fe)
	if p := fe.problem(); p != nil {
		return p
	}
	list, err := svc.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]caseView, 0, len(list))
	for _, c := range list {
		out = append(out, viewCase(c, false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": out})
	return nil
}

// getCase shows a case with its reports and their snapshots, or its alerts.
func (a *API) getCase(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.casesService()
	if p != nil {
		return p
	}
	id := r.PathValue("id")
	if len(id) > 100 {
		return errNotFound("case")
	}
	c, err := svc.Get(r.Context(), id)
	if err != nil {
		return casesProblem(err)
	}
	writeJSON(w, http.StatusOK, viewCase(c, true))
	return nil
}

type resolveCaseRequest struct {
	Resolution string `json:"resolution"`
	// Note is, for a report, for the user: emailed to them and shown on
	// their report. For an alerts case, each of its open alerts takes it.
	Note string `json:"note"`
	// InternalNote is for staff only.
	InternalNote string `json:"internal_note"`
}

// resolveCase closes a case with a resolution of its kind and a note;
// audited under the admin key. A report's note goes to the user; an alerts
// case resolves its open alerts with its resolution and note, and the user
// is not told. It lifts no freeze or restriction: unfreezing is
// POST /admin/v1/users/{id}/unfreeze, once the owner is identified.
func (a *API) resolveCase(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.casesService()
	if p != nil {
		return p
	}
	var req resolveCaseRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	c, err := svc.Resolve(r.Context(), r.PathValue("id"), req.Resolution, req.Note, req.InternalNote, a.adminMeta(r))
	if err != nil {
		return casesProblem(err)
	}
	writeJSON(w, http.StatusOK, viewCase(c, true))
	return nil
}
