package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
)

// Transaction monitoring, the platform's side: its events fed in batches,
// the rules (CEL, versioned, every change audited) read, replaced and
// replayed over stored events, and the alerts the rules raised, listed,
// resolved, and put into their user's alerts case by staff.

// maxEventsBody bounds POST /admin/v1/events: a full batch of 1,000 events
// with attributes of up to 4 KiB each can exceed the usual 1 MiB.
const maxEventsBody = 4 << 20

// decodeJSONUpTo is decodeJSON with another size limit (the route's
// MaxBody, which must be at least limit).
func decodeJSONUpTo(r *http.Request, dst any, limit int64) *Problem {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err := mime.ParseMediaType(ct)
		if err != nil || (mediaType != "application/json" && !strings.HasSuffix(mediaType, "+json")) {
			return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type",
				fmt.Sprintf("send the body as application/json, not %q", ct))
		}
	} else if r.ContentLength != 0 {
		return NewProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	}
	tooLarge := func() *Problem {
		return NewProblem(http.StatusRequestEntityTooLarge, "payload_too_large",
			fmt.Sprintf("the request body is larger than %d bytes", limit))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge()
		}
		return NewProblem(http.StatusBadRequest, "invalid_json", "the request body could not be read")
	}
	if int64(len(body)) > limit {
		return tooLarge()
	}
	return decodeJSONBytes(body, dst)
}

// monitoring is the monitoring service, or a problem when this server was
// built without it.
func (a *API) monitoring() (*monitor.Service, *Problem) {
	if a.Monitoring == nil {
		return nil, NewProblem(http.StatusServiceUnavailable, "unavailable", "transaction monitoring is not running on this server")
	}
	return a.Monitoring, nil
}

// monitorProblem maps the monitor package's errors to their problems.
func monitorProblem(err error) error {
	var batch *monitor.BatchError
	var rules monitor.RuleErrors
	switch {
	case errors.As(err, &batch):
		fields := make([]FieldError, 0, len(batch.Fields))
		for _, f := range batch.Fields {
			fields = append(fields, FieldError{Field: f.Field, Code: f.Code, Detail: f.Detail})
		}
		p := NewProblem(http.StatusBadRequest, "validation_failed", "one or more events are invalid; see errors. Nothing of the batch was stored")
		p.Errors = fields
		return p
	case errors.Is(err, monitor.ErrBatchTooLarge):
		return errBatchTooLarge()
	case errors.As(err, &rules):
		return invalidRules(rules)
	case errors.Is(err, monitor.ErrNoAlert):
		return errNotFound("alert")
	case errors.Is(err, monitor.ErrAlertResolved):
		return NewProblem(http.StatusConflict, "alert_resolved", "this alert was resolved already; its resolution stays as it was")
	case errors.Is(err, monitor.ErrBadResolution):
		return errValidation(FieldError{Field: "resolution", Code: "invalid", Detail: "true_positive or false_positive"})
	case errors.Is(err, monitor.ErrResolutionNoted):
		return errValidation(FieldError{Field: "note", Code: "required", Detail: "say what was found, in at most 2000 characters"})
	case errors.Is(err, store.ErrConflict):
		return NewProblem(http.StatusConflict, "rules_changed",
			"another change of the rules was saved at the same moment; read them again and retry")
	}
	return err
}

func errBatchTooLarge() *Problem {
	return NewProblem(http.StatusRequestEntityTooLarge, "batch_too_large",
		fmt.Sprintf("at most %d events a batch; split it and send the parts one after the other", monitor.MaxBatch)).
		With("max_events", monitor.MaxBatch)
}

// ruleErrorView is one problem of a refused rules file, in the rules' own
// terms: the rule's id, the field, and for a CEL error its line and column
// within the condition (1-based; 0 when the problem is not in a condition).
type ruleErrorView struct {
	RuleID  string `json:"rule_id"`
	Field   string `json:"field"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// invalidRules refuses a rules file, naming every problem twice: in errors
// as every problem of the API is named ({field, code, detail}, the field a
// path into the file such as rules[2].condition), and in rule_errors in the
// rules' own terms ({rule_id, field, line, column, message}).
func invalidRules(errs monitor.RuleErrors) *Problem {
	placed := make([]ruleErrorView, 0, len(errs))
	fields := make([]FieldError, 0, len(errs))
	for _, e := range errs {
		placed = append(placed, ruleErrorView{RuleID: e.RuleID, Field: e.Field, Line: e.Line, Column: e.Column, Message: e.Message})
		fields = append(fields, FieldError{Field: ruleErrorField(e), Code: "invalid", Detail: ruleErrorDetail(e)})
	}
	p := NewProblem(http.StatusBadRequest, "invalid_rules",
		"the rules were refused and the rules in force are unchanged; see errors, and rule_errors for each rule's id and position")
	p.Errors = fields
	return p.With("rule_errors", placed)
}

// ruleErrorField names where a problem is: rules[i].<field> for a rule's
// (i counting from 0, in file order), source for a file that is not YAML,
// rules for the list as a whole.
func ruleErrorField(e *monitor.RuleError) string {
	switch {
	case e.Position > 0:
		return fmt.Sprintf("rules[%d].%s", e.Position-1, e.Field)
	case e.Field == "yaml":
		return "source"
	}
	return e.Field
}

// ruleErrorDetail is the problem's message with its place: the rule, and
// for a CEL error the line and column within its condition.
func ruleErrorDetail(e *monitor.RuleError) string {
	var where []string
	switch {
	case e.Position > 0 && e.RuleID != "":
		where = append(where, fmt.Sprintf("rule %q", e.RuleID))
	case e.Position > 0:
		where = append(where, fmt.Sprintf("rule %d", e.Position))
	}
	if e.Line > 0 {
		where = append(where, fmt.Sprintf("condition line %d, column %d", e.Line, e.Column))
	}
	if len(where) == 0 {
		return e.Message
	}
	return strings.Join(where, ", ") + ": " + e.Message
}

// --- events ---

type eventInput struct {
	ID             string         `json:"id"`
	UserID         string         `json:"user_id"`
	Type           string         `json:"type"`
	Asset          string         `json:"asset"`
	Amount         string         `json:"amount"`
	ReferenceValue string         `json:"reference_value"`
	OccurredAt     string         `json:"occurred_at"`
	Attributes     map[string]any `json:"attributes"`
}

type eventsRequest struct {
	Events []eventInput `json:"events"`
}

type ingestView struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

// ingestEvents stores a batch of the platform's events for monitoring, all
// or nothing; ids already stored are counted as duplicates and skipped, so
// a retried batch is harmless. The rules look at them within a second.
func (a *API) ingestEvents(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	var req eventsRequest
	if p := decodeJSONUpTo(r, &req, maxEventsBody); p != nil {
		return p
	}
	if len(req.Events) > monitor.MaxBatch {
		return errBatchTooLarge()
	}
	var fe fieldErrors
	if len(req.Events) == 0 {
		fe.add("events", "required", "send at least one event: {id, user_id, type, asset, amount, reference_value, occurred_at, attributes}")
	}
	in := make([]monitor.EventInput, 0, len(req.Events))
	for i, e := range req.Events {
		var at time.Time
		if e.OccurredAt != "" {
			var err error
			if at, err = time.Parse(time.RFC3339, e.OccurredAt); err != nil {
				fe.add(fmt.Sprintf("events[%d].occurred_at", i), "invalid", "an RFC 3339 time, like 2031-03-04T05:06:07Z")
			}
		}
		if len(e.Amount) > 100 || len(e.ReferenceValue) > 100 {
			fe.add(fmt.Sprintf("events[%d]", i), "too_long", "amount and reference_value are decimal strings such as 0.015")
		}
		in = append(in, monitor.EventInput{ID: e.ID, UserID: e.UserID, Type: e.Type, Asset: e.Asset, Amount: e.Amount,
			ReferenceValue: e.ReferenceValue, OccurredAt: at, Attributes: e.Attributes})
	}
	if p := fe.problem(); p != nil {
		return p
	}
	res, err := svc.Ingest(r.Context(), in)
	if err != nil {
		return monitorProblem(err)
	}
	writeJSON(w, http.StatusOK, ingestView{Accepted: res.Accepted, Duplicates: res.Duplicates})
	return nil
}

// --- rules ---

type ruleSetView struct {
	Version int `json:"version"`
	// CreatedAt is null for version 0, the rules Warden ships with.
	CreatedAt *time.Time     `json:"created_at"`
	CreatedBy string         `json:"created_by"`
	Source    string         `json:"source"`
	Rules     []monitor.Rule `json:"rules"`
}

// viewRuleSet shows a version with its rules parsed, their defaults
// (mode active, severity medium) filled in.
func viewRuleSet(v monitor.RuleSetVersion) ruleSetView {
	out := ruleSetView{Version: v.Version, CreatedAt: timePtr(v.CreatedAt), CreatedBy: v.CreatedBy, Source: v.Source, Rules: []monitor.Rule{}}
	rs, err := monitor.ParseRules([]byte(v.Source))
	if err != nil {
		return out
	}
	if compiled, err := monitor.Compile(rs); err == nil {
		for _, c := range compiled {
			out.Rules = append(out.Rules, c.Rule)
		}
		return out
	}
	if rs.Rules != nil {
		out.Rules = rs.Rules
	}
	return out
}

func (a *API) getRules(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	v, err := svc.RuleSet(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewRuleSet(v))
	return nil
}

type rulesRequest struct {
	Source string `json:"source"`
}

// maxRulesSource bounds a rules file.
const maxRulesSource = 256 << 10

// putRules makes a rules file the next version, once every rule checks; a
// refused file leaves the rules in force as they were.
func (a *API) putRules(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	var req rulesRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	switch {
	case strings.TrimSpace(req.Source) == "":
		fe.add("source", "required", "the rules file, YAML as a string: {\"source\": \"rules:\\n  - id: …\"}")
	case len(req.Source) > maxRulesSource:
		fe.add("source", "too_long", fmt.Sprintf("at most %d bytes", maxRulesSource))
	}
	if p := fe.problem(); p != nil {
		return p
	}
	v, err := svc.PutRules(r.Context(), []byte(req.Source), a.adminMeta(r))
	if err != nil {
		return monitorProblem(err)
	}
	writeJSON(w, http.StatusOK, viewRuleSet(v))
	return nil
}

type backtestRequest struct {
	// Source is a rules file to try; absent, the rules in force.
	Source *string `json:"source"`
	Since  string  `json:"since"`
}

type ruleReportView struct {
	RuleID  string   `json:"rule_id"`
	Mode    string   `json:"mode"`
	Action  string   `json:"action"`
	Hits    int      `json:"hits"`
	Users   int      `json:"users"`
	Samples []string `json:"samples"`
	Errors  int      `json:"errors"`
}

type backtestView struct {
	From            time.Time        `json:"from"`
	To              time.Time        `json:"to"`
	Events          int              `json:"events"`
	Evaluated       int              `json:"evaluated"`
	ElapsedMS       int64            `json:"elapsed_ms"`
	EventsPerSecond float64          `json:"events_per_second"`
	Rules           []ruleReportView `json:"rules"`
}

// parseSince reads a backtest's period: a number of days (30d) or a Go
// duration (12h), as `warden rules backtest --since` does.
func parseSince(s string) (time.Duration, bool) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 || n > 3650 {
			return 0, false
		}
		return time.Duration(n) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 3650*24*time.Hour {
		return 0, false
	}
	return d, true
}

// backtestRules replays the stored events of the period through a rules
// file (or the rules in force) and reports what each rule would have hit.
// Nothing is recorded and no action taken.
func (a *API) backtestRules(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	var req backtestRequest
	if r.ContentLength != 0 {
		if p := decodeJSON(r, &req); p != nil {
			return p
		}
	}
	var fe fieldErrors
	if req.Since == "" {
		req.Since = "30d"
	}
	period, ok := parseSince(req.Since)
	if !ok {
		fe.add("since", "invalid", "how far back to replay: a number of days from 1 to 3650 (30d) or a duration such as 12h")
	}
	var source []byte
	if req.Source != nil {
		switch {
		case strings.TrimSpace(*req.Source) == "":
			fe.add("source", "required", "a rules file (YAML as a string), or leave source out for the rules in force")
		case len(*req.Source) > maxRulesSource:
			fe.add("source", "too_long", fmt.Sprintf("at most %d bytes", maxRulesSource))
		}
		source = []byte(*req.Source)
	}
	if p := fe.problem(); p != nil {
		return p
	}
	rep, err := svc.Backtest(r.Context(), source, a.Now().Add(-period), nil)
	if err != nil {
		return monitorProblem(err)
	}
	out := backtestView{From: rep.From.UTC(), To: rep.To.UTC(), Events: rep.Events, Evaluated: rep.Evaluated,
		ElapsedMS: rep.Elapsed.Milliseconds(), EventsPerSecond: float64(int64(rep.EventsPerSecond())), Rules: []ruleReportView{}}
	for _, rr := range rep.Rules {
		out.Rules = append(out.Rules, ruleReportView{RuleID: rr.RuleID, Mode: rr.Mode, Action: rr.Action, Hits: rr.Hits,
			Users: rr.Users, Samples: nonNil(rr.Samples), Errors: rr.Errors})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- alerts ---

type alertView struct {
	ID          string         `json:"id"`
	RuleID      string         `json:"rule_id"`
	RuleVersion int            `json:"rule_version"`
	EventID     string         `json:"event_id"`
	EventType   string         `json:"event_type"`
	UserID      string         `json:"user_id"`
	Action      string         `json:"action"`
	Severity    string         `json:"severity"`
	Mode        string         `json:"mode"`
	Description string         `json:"description"`
	Aggregates  map[string]any `json:"aggregates"`
	Context     map[string]any `json:"context"`
	Status      string         `json:"status"`
	Resolution  string         `json:"resolution,omitempty"`
	Note        string         `json:"note,omitempty"`
	ResolvedBy  string         `json:"resolved_by,omitempty"`
	CreatedAt   time.Time      `json:"created_at"`
	ResolvedAt  *time.Time     `json:"resolved_at,omitempty"`
	// CaseID is the alerts case it is in, absent while in none.
	CaseID string `json:"case_id,omitempty"`
}

func viewAlert(al monitor.Alert) alertView {
	v := alertView{ID: al.ID, RuleID: al.RuleID, RuleVersion: al.RuleVersion, EventID: al.EventID, EventType: al.EventType,
		UserID: al.UserID, Action: al.Action, Severity: al.Severity, Mode: al.Mode, Description: al.Description,
		Aggregates: al.Aggregates, Context: al.Context, Status: al.Status, Resolution: al.Resolution, Note: al.Note,
		ResolvedBy: al.ResolvedBy, CreatedAt: al.CreatedAt, ResolvedAt: timePtr(al.ResolvedAt), CaseID: al.CaseID}
	if v.Aggregates == nil {
		v.Aggregates = map[string]any{}
	}
	if v.Context == nil {
		v.Context = map[string]any{}
	}
	return v
}

var alertStatuses = []string{monitor.AlertOpen, monitor.AlertResolved}

// listAlerts lists alerts, newest first, by status, user, rule and case.
func (a *API) listAlerts(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	q := r.URL.Query()
	var fe fieldErrors
	f := monitor.AlertFilter{Status: q.Get("status"), UserID: q.Get("user_id"), RuleID: q.Get("rule_id"), CaseID: q.Get("case_id")}
	if f.Status != "" && !slices.Contains(alertStatuses, f.Status) {
		fe.add("status", "invalid", "one of "+strings.Join(alertStatuses, ", "))
	}
	if len(f.UserID) > 100 {
		fe.add("user_id", "too_long", "a user id")
	}
	if len(f.RuleID) > 64 {
		fe.add("rule_id", "too_long", "a rule id")
	}
	if len(f.CaseID) > 100 {
		fe.add("case_id", "too_long", "a case id")
	}
	f.Limit = listLimit(r, &fe)
	if p := fe.problem(); p != nil {
		return p
	}
	list, err := svc.ListAlerts(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]alertView, 0, len(list))
	for _, al := range list {
		out = append(out, viewAlert(al))
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": out})
	return nil
}

type resolveRequest struct {
	Resolution string `json:"resolution"`
	Note       string `json:"note"`
}

// resolveAlert closes an alert as a true or false positive, with a note;
// audited under the admin key.
func (a *API) resolveAlert(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	var req resolveRequest
	if p := decodeJSON(r, &req); p != nil {
		return p
	}
	var fe fieldErrors
	if req.Resolution != monitor.TruePositive && req.Resolution != monitor.FalsePositive {
		fe.add("resolution", "invalid", "true_positive or false_positive")
	}
	switch n := utf8.RuneCountInString(strings.TrimSpace(req.Note)); {
	case n == 0:
		fe.add("note", "required", "say what was found: it stays with the alert and in the audit log")
	case n > 2000:
		fe.add("note", "too_long", "at most 2000 characters")
	}
	if p := fe.problem(); p != nil {
		return p
	}
	al, err := svc.ResolveAlert(r.Context(), r.PathValue("id"), req.Resolution, req.Note, a.adminMeta(r))
	if err != nil {
		return monitorProblem(err)
	}
	writeJSON(w, http.StatusOK, viewAlert(al))
	return nil
}

// investigateAlert puts an alert into its user's alerts case, opening one
// (with the user's other open alerts of active rules that are in no case)
// when none is open, and answers the case's id. An alert already in a case
// answers that case, so a retry is harmless. The case's opening is audited
// as case.opened under the admin key.
func (a *API) investigateAlert(w http.ResponseWriter, r *http.Request) error {
	svc, p := a.monitoring()
	if p != nil {
		return p
	}
	id := r.PathValue("id")
	if len(id) > 100 {
		return errNotFound("alert")
	}
	caseID, err := svc.Investigate(r.Context(), id, a.adminMeta(r))
	switch {
	case errors.Is(err, monitor.ErrAlertResolved):
		return NewProblem(http.StatusConflict, "alert_resolved",
			"this alert was resolved outside any case: there is nothing left to investigate in it")
	case err != nil:
		return monitorProblem(err)
	}
	writeJSON(w, http.StatusOK, map[string]string{"case_id": caseID})
	return nil
}
