package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/monitor"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// Transaction monitoring on the pages (package monitor decides; these pages
// only show and ask):
//
//   - /console/alerts is the staff console's alert queue: the alerts the
//     rules raised, open ones newest first, filtered by status and rule.
//     /console/alerts/{id} shows one with the event that fired it, the
//     aggregate values that made it fire and the user as the rules saw them,
//     and a form to resolve it as a true or false positive with a note.
//     Roles with alerts:read see them, alerts:write resolve them. An alert
//     in a case links to it; an open one in none has a button that puts it
//     into its user's alerts case (opening one if none is open) and leads
//     there (POST /console/alerts/{id}/case, alerts:write).
//   - /console/rules shows the rules in force (their version, who made it
//     and when) and their YAML in a textarea. Roles with rules:write save a
//     changed text as the next version (a text that does not check is
//     refused with each problem's rule and line:column, and the running
//     version stays), or backtest it: the stored events of the last 7, 30 or
//     90 days are replayed through it, and the hits per rule are shown with
//     a few of the users hit. Both are plain form posts: the backtest
//     button posts the same form to /console/rules/backtest.
//   - The console's home page counts the open alerts; a user's console page
//     lists their latest alerts.
//   - The account and withdraw pages tell a user whose withdrawals are
//     restricted that they are paused, and what lifts the pause — never the
//     reason staff or a rule gave, which is for staff.

// Paths of the monitoring pages.
const (
	consoleAlertsPath = "/console/alerts"
	consoleRulesPath  = "/console/rules"
)

// Scopes of the monitoring pages; the admin API's names.
const (
	scopeAlertsRead  = "alerts:read"
	scopeAlertsWrite = "alerts:write"
	scopeRulesWrite  = "rules:write"
)

const (
	// alertQueueLimit is how many alerts the queue lists.
	alertQueueLimit = 200
	// userAlertLimit is how many of a user's alerts their console page lists.
	userAlertLimit = 20
	// openAlertCountLimit bounds the count on the console's home page.
	openAlertCountLimit = 1000
	// maxNote is the longest note a resolution takes (monitor.ResolveAlert).
	maxNote = 2000
	// maxRulesBytes bounds a rules file posted from the rules page.
	maxRulesBytes = 256 << 10
	// backtestTimeout bounds a backtest run from the page; longer ones
	// belong to `warden rules backtest`.
	backtestTimeout = 20 * time.Second
)

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func (p *Pages) registerMonitoringPages(mux *http.ServeMux) {
	staffWith := func(scope string, h memberHandler) http.HandlerFunc {
		return p.signedIn(staffSignIn, p.scoped(scope, h))
	}
	mux.HandleFunc("GET /console/alerts", staffWith(scopeAlertsRead, p.consoleAlerts))
	mux.HandleFunc("GET /console/alerts/{id}", staffWith(scopeAlertsRead, p.consoleAlert))
	mux.Handle("POST /console/alerts/{id}/resolve", p.post(staffWith(scopeAlertsWrite, p.consoleResolveAlert)))
	mux.Handle("POST /console/alerts/{id}/case", p.post(staffWith(scopeAlertsWrite, p.consoleInvestigateAlert)))
	mux.HandleFunc("GET /console/rules", staffWith(scopeAlertsRead, p.consoleRules))
	mux.Handle("POST /console/rules", p.postRules(staffWith(scopeRulesWrite, p.consoleSaveRules)))
	mux.Handle("POST /console/rules/backtest", p.postRules(staffWith(scopeRulesWrite, p.consoleBacktest)))
}

// postRules is p.post for the rules form, whose text may be far larger
// than any other form's.
func (p *Pages) postRules(h http.HandlerFunc) http.Handler {
	// URL encoding may triple the text; the text itself is checked after.
	return p.postUpTo(3*maxRulesBytes+maxFormBytes, "The rules were too large to be accepted: at most 256 KiB of text.", h)
}

// canSeeAlerts tells whether a staff member may open the alert queue and
// the rules (and they are served at all).
func (p *Pages) canSeeAlerts(s *member) bool {
	return p.monitoring != nil && s != nil && p.allows(s.Account.StaffRole, scopeAlertsRead)
}

// ---- Notices --------------------------------------------------------------------------

const (
	flashAlertTrue      = "alert_true_positive"
	flashAlertFalse     = "alert_false_positive"
	flashAlertStale     = "alert_stale"
	flashAlertInCase    = "alert_in_case"
	flashAlertNoCase    = "alert_no_case"
	flashRulesSaved     = "rules_saved"
	flashRulesUnchanged = "rules_unchanged"
)

func init() {
	maps.Copy(notices, map[string]notice{
		flashAlertTrue:      {"success", "The alert was resolved as a true positive. Your note is kept with it and in the audit log."},
		flashAlertFalse:     {"success", "The alert was resolved as a false positive. Your note is kept with it and in the audit log."},
		flashAlertStale:     {"info", "This alert had already been resolved, so nothing was done. Its resolution is below."},
		flashAlertInCase:    {"success", "The alert is in this case now. Resolving the case resolves each of its open alerts with it."},
		flashAlertNoCase:    {"info", "This alert was resolved before it joined a case, so there is nothing left to investigate in it."},
		flashRulesSaved:     {"success", "The rules were saved as a new version. Every node uses them within a second."},
		flashRulesUnchanged: {"info", "The text was the same as the rules in force, so no new version was made."},
	})
}

// ---- Words -----------------------------------------------------------------------------

var actionWords = map[string]string{
	monitor.ActionAlert:    "Alert only",
	monitor.ActionHold:     "Hold the withdrawal for review",
	monitor.ActionRestrict: "Restrict withdrawals",
	monitor.ActionFreeze:   "Freeze the account",
}

var severityBadges = map[string]string{"medium": "info", "high": "warning", "critical": "danger"}

var resolutionWords = map[string]string{
	monitor.TruePositive:  "True positive",
	monitor.FalsePositive: "False positive",
}

// resolutionOptions are the outcomes an alert is resolved with.
var resolutionOptions = []checkOption{
	{Value: monitor.TruePositive, Label: "True positive: the rule caught something that needed attention"},
	{Value: monitor.FalsePositive, Label: "False positive: nothing wrong happened"},
}

// backtestPeriods are the periods a backtest replays.
var backtestPeriods = []selectOption{
	{Value: "7d", Label: "7 days"},
	{Value: "30d", Label: "30 days"},
	{Value: "90d", Label: "90 days"},
}

var backtestDurations = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// aggregateValue is one aggregate a rule read, as `count("login_failed", 1h) = 5`.
type aggregateValue struct{ Name, Value string }

// shortWindow writes the windows of aggregate names as they were written:
// 1h, not 1h0m0s.
func shortWindow(name string) string {
	name = strings.ReplaceAll(name, "m0s)", "m)")
	return strings.ReplaceAll(name, "h0m)", "h)")
}

// plainNumber writes a number without needless decimals: 5, 1500.5.
func plainNumber(v any) string {
	switch n := v.(type) {
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1e15 {
			return strconv.FormatInt(int64(n), 10)
		}
		return strconv.FormatFloat(n, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(n, 10)
	case int:
		return strconv.Itoa(n)
	case string:
		return n
	case bool:
		if n {
			return "yes"
		}
		return "no"
	case nil:
		return "none"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func aggregateValues(m map[string]any) []aggregateValue {
	out := make([]aggregateValue, 0, len(m))
	for k, v := range m {
		out = append(out, aggregateValue{Name: shortWindow(k), Value: plainNumber(v)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// actorWords names who made a change, staff by their email.
func actorWords(actor string, emails map[string]string) string {
	id, isStaff := strings.CutPrefix(actor, "staff:")
	switch {
	case isStaff && emails[id] != "":
		return emails[id]
	case isStaff:
		return "Staff " + id
	case strings.HasPrefix(actor, "admin_key:"):
		return "Admin API key " + strings.TrimPrefix(actor, "admin_key:")
	case actor == "system:rules_file":
		return "The rules file (WARDEN_RULES_FILE)"
	case actor == "default" || actor == "":
		return "Warden's default rules"
	case strings.HasPrefix(actor, "system"):
		return "Warden"
	}
	return actor
}

// staffEmails names the staff members among actors by their email.
func (p *Pages) staffEmails(r *http.Request, actors ...string) (map[string]string, error) {
	var ids []string
	for _, a := range actors {
		if id, ok := strings.CutPrefix(a, "staff:"); ok && id != "" {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return map[string]string{}, nil
	}
	return p.emailsOf(r, ids)
}

// ---- Alert rows ------------------------------------------------------------------------------

// alertRow is an alert as the queue and the user page list it.
type alertRow struct {
	ID, RuleID, Description string
	Severity, SeverityBadge string
	Action, ActionText      string
	// Shadow: the rule is in shadow mode, so the alert was recorded and
	// nothing done.
	Shadow      bool
	UserID      string
	Email       string
	EventID     string
	EventType   string
	Values      []aggregateValue
	RuleVersion int
	Open        bool
	Resolution  string // in words, "" while open
	CreatedAt   time.Time
	// CaseID is the alerts case it is in, "" for none.
	CaseID string
}

func alertRowOf(a monitor.Alert, emails map[string]string) alertRow {
	return alertRow{ID: a.ID, RuleID: a.RuleID, Description: a.Description, Severity: a.Severity, SeverityBadge: severityBadges[a.Severity],
		Action: a.Action, ActionText: cmpOr(actionWords[a.Action], a.Action), Shadow: a.Mode == monitor.ModeShadow,
		UserID: a.UserID, Email: emails[a.UserID], EventID: a.EventID, EventType: a.EventType, Values: aggregateValues(a.Aggregates),
		RuleVersion: a.RuleVersion, Open: a.Status != monitor.AlertResolved, Resolution: resolutionWords[a.Resolution], CreatedAt: a.CreatedAt,
		CaseID: a.CaseID}
}

// alertTable is a list of alerts ("alert-table" in console-alerts-parts.html).
type alertTable struct {
	ID      string // the table's id
	Caption string
	Rows    []alertRow
	// ShowUser adds the user column; CanReadUser links it to the user's page.
	ShowUser    bool
	CanReadUser bool
}

// alertRows reads the accounts of alerts and makes their rows.
func (p *Pages) alertRows(r *http.Request, list []monitor.Alert) ([]alertRow, error) {
	ids := make([]string, 0, len(list))
	for _, a := range list {
		ids = append(ids, a.UserID)
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		return nil, err
	}
	rows := make([]alertRow, 0, len(list))
	for _, a := range list {
		rows = append(rows, alertRowOf(a, emails))
	}
	return rows, nil
}

// ---- Console: the alert queue --------------------------------------------------------------

var alertQueueStatuses = []selectOption{
	{Value: monitor.AlertOpen, Label: "Open"},
	{Value: monitor.AlertResolved, Label: "Resolved"},
	{Value: "all", Label: "All"},
}

type consoleAlertsData struct {
	Status listFilter
	Rule   listFilter // its value "" lists every rule's alerts
	Table  alertTable
	// Truncated: more alerts match than are listed.
	Truncated bool
	Limit     int
}

// ruleIDsInForce lists the ids of the rules in force, for the filter.
func (p *Pages) ruleIDsInForce(ctx context.Context) []string {
	v, err := p.monitoring.RuleSet(ctx)
	if err != nil {
		return nil
	}
	rs, err := monitor.ParseRules([]byte(v.Source))
	if err != nil {
		return nil
	}
	var ids []string
	for _, r := range rs.Rules {
		if ruleIDPattern.MatchString(r.ID) && !slices.Contains(ids, r.ID) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (p *Pages) consoleAlerts(w http.ResponseWriter, r *http.Request, s *member) {
	q := r.URL.Query()
	rule := q.Get("rule")
	if !ruleIDPattern.MatchString(rule) {
		rule = ""
	}
	ids := p.ruleIDsInForce(r.Context())
	if rule != "" && !slices.Contains(ids, rule) {
		ids = append(ids, rule) // a rule no longer in force still has its alerts
	}
	rules := []selectOption{{Value: "", Label: "Every rule"}}
	for _, id := range ids {
		rules = append(rules, selectOption{Value: id, Label: id})
	}
	d := consoleAlertsData{
		Status: listFilterOf(q, &field{ID: "alerts-status", Name: "status", Label: "Show"}, alertQueueStatuses, monitor.AlertOpen),
		Rule:   listFilterOf(q, &field{ID: "alerts-rule", Name: "rule", Label: "Rule"}, rules, ""),
		Limit:  alertQueueLimit,
	}
	f := monitor.AlertFilter{Status: d.Status.Value, RuleID: d.Rule.Value, Limit: alertQueueLimit + 1}
	if f.Status == "all" {
		f.Status = ""
	}
	list, err := p.monitoring.ListAlerts(r.Context(), f)
	if err != nil {
		p.internalError(w, r, "list alerts", err)
		return
	}
	if len(list) > alertQueueLimit {
		list, d.Truncated = list[:alertQueueLimit], true
	}
	rows, err := p.alertRows(r, list)
	if err != nil {
		p.internalError(w, r, "read the accounts of alerts", err)
		return
	}
	d.Table = alertTable{ID: "alerts", Caption: "Alerts: " + d.Status.Chosen, Rows: rows, ShowUser: true,
		CanReadUser: p.allows(s.Account.StaffRole, scopeUsersRead)}
	p.Render(w, r, http.StatusOK, "console-alerts", d)
}

// ---- Console: one alert ----------------------------------------------------------------------

// contextItem is one fact of an alert's context: what it is and its value.
type contextItem struct{ Label, Value string }

type consoleAlertData struct {
	A           alertRow
	CanReadUser bool
	// Frozen tells whether the account is frozen now.
	Frozen bool
	// Event and User are the event and the user as the rules saw them when
	// the alert was raised; Attributes are the event's.
	Event      []contextItem
	OccurredAt time.Time
	Attributes []contextItem
	User       []contextItem
	// Resolved: by whom, when, with which note.
	ResolvedBy string
	ResolvedAt time.Time
	Note       string
	// Form resolves it, when open and the role may.
	Form     *form
	Outcomes []checkOption
	// CaseLink: the case pages are served, so A.CaseID links to its page.
	// CanOpenCase: the alert is open and in no case, and the role may put
	// it into one.
	CaseLink    bool
	CanOpenCase bool
}

func resolveAlertForm() *form {
	return newForm(
		&field{ID: "resolution-" + monitor.TruePositive, Name: "resolution", Label: "Outcome", Required: true},
		&field{ID: "resolve-note", Name: "note", Label: "Note", Type: "textarea", Required: true, MaxLength: maxNote,
			Hint: "What you checked and what you found, such as \"customer confirmed on a call, ticket 4711\". Kept with the alert and in the audit log."},
	)
}

// normKey makes "HoursSinceNewDevice" and "hours_since_new_device" alike.
func normKey(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "")) }

// lookup finds key in m, whatever its case and underscores.
func lookup(m map[string]any, key string) (any, bool) {
	for k, v := range m {
		if normKey(k) == normKey(key) {
			return v, true
		}
	}
	return nil, false
}

func asFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// hoursWords says a number of hours since a change: "3 hours", "5 days", "never".
func hoursWords(h float64) string {
	switch m := int(h * 60); {
	case h >= monitor.Never/2:
		return "Never"
	case m < 1:
		return "Under a minute"
	case m == 1:
		return "1 minute"
	case h < 1:
		return fmt.Sprintf("%d minutes", m)
	case h < 72:
		return fmt.Sprintf("%.0f hours", h)
	}
	return fmt.Sprintf("%.0f days", h/24)
}

// userContext describes the user as the rules saw them.
func userContext(m map[string]any) []contextItem {
	type fact struct {
		key, label string
		show       func(any) string
	}
	number := func(v any) string { return plainNumber(v) }
	hours := func(v any) string {
		if f, ok := asFloat(v); ok {
			return hoursWords(f)
		}
		return plainNumber(v)
	}
	days := func(v any) string {
		if f, ok := asFloat(v); ok {
			if f < 1 {
				return hoursWords(f * 24)
			}
			return fmt.Sprintf("%.0f days", math.Floor(f))
		}
		return plainNumber(v)
	}
	onOff := func(v any) string {
		if b, ok := v.(bool); ok && b {
			return "On"
		}
		return "Off"
	}
	facts := []fact{
		{"tier", "Verification tier", number},
		{"account_age_days", "Account age", days},
		{"devices", "Devices", number},
		{"mfa_enabled", "Two-factor authentication", onOff},
		{"hours_since_password_change", "Since the last password change", hours},
		{"hours_since_mfa_change", "Since the last two-factor change", hours},
		{"hours_since_new_device", "Since the newest device's first login", hours},
	}
	var out []contextItem
	known := map[string]bool{"id": true}
	for _, f := range facts {
		known[normKey(f.key)] = true
		if v, ok := lookup(m, f.key); ok {
			out = append(out, contextItem{f.label, f.show(v)})
		}
	}
	var rest []string
	for k := range m {
		if !known[normKey(k)] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, contextItem{k, plainNumber(m[k])})
	}
	return out
}

// eventContext describes the event as the rules saw it.
func (p *Pages) eventContext(m map[string]any) (items []contextItem, occurred time.Time, attrs []contextItem) {
	cur := p.currency
	if p.monitoring.Currency.Code != "" {
		cur = p.monitoring.Currency
	}
	if v, ok := lookup(m, "asset"); ok && v != "" {
		items = append(items, contextItem{"Asset", plainNumber(v)})
	}
	if v, ok := lookup(m, "amount"); ok {
		if f, ok := asFloat(v); !ok || f != 0 {
			items = append(items, contextItem{"Amount", plainNumber(v)})
		}
	}
	if v, ok := lookup(m, "value"); ok {
		if f, ok := asFloat(v); ok && f != 0 {
			items = append(items, contextItem{"Reference value", strconv.FormatFloat(f, 'f', cur.Decimals, 64) + " " + cur.Code})
		}
	}
	if v, ok := lookup(m, "occurred_at"); ok {
		if s, ok := v.(string); ok {
			occurred, _ = time.Parse(time.RFC3339Nano, s)
		} else if t, ok := v.(time.Time); ok {
			occurred = t
		}
	}
	if v, ok := lookup(m, "attributes"); ok {
		if am, ok := v.(map[string]any); ok {
			keys := make([]string, 0, len(am))
			for k := range am {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				attrs = append(attrs, contextItem{k, plainNumber(am[k])})
			}
		}
	}
	return items, occurred, attrs
}

// loadAlert reads an alert for its page; ok is false when it already
// answered (404 or 500).
func (p *Pages) loadAlert(w http.ResponseWriter, r *http.Request, s *member) (consoleAlertData, bool) {
	var d consoleAlertData
	alertID := r.PathValue("id")
	if alertID == "" || len(alertID) > maxTokenLen {
		p.NotFound(w, r)
		return d, false
	}
	var a monitor.Alert
	var user account.Account
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		if a, err = tx.AlertByID(r.Context(), alertID); err != nil {
			return err
		}
		user, err = tx.AccountByID(r.Context(), a.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // the alert is shown without the account's email
		}
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.renderError(w, r, http.StatusNotFound, "There is no alert with this id. Open it from the queue.")
		return d, false
	case err != nil:
		p.internalError(w, r, "read alert", err)
		return d, false
	}
	emails, err := p.staffEmails(r, a.ResolvedBy)
	if err != nil {
		p.internalError(w, r, "read the alert's resolver", err)
		return d, false
	}
	d = consoleAlertData{A: alertRowOf(a, map[string]string{a.UserID: user.Email}), CanReadUser: p.allows(s.Account.StaffRole, scopeUsersRead),
		Frozen: user.Frozen(), Note: a.Note, ResolvedAt: a.ResolvedAt}
	if a.ResolvedBy != "" {
		d.ResolvedBy = actorWords(a.ResolvedBy, emails)
	}
	if ev, ok := a.Context["event"].(map[string]any); ok {
		d.Event, d.OccurredAt, d.Attributes = p.eventContext(ev)
	}
	if u, ok := a.Context["user"].(map[string]any); ok {
		d.User = userContext(u)
	}
	if d.A.Open && p.allows(s.Account.StaffRole, scopeAlertsWrite) {
		d.Form = resolveAlertForm()
		d.Outcomes = slices.Clone(resolutionOptions)
	}
	d.CaseLink = p.cases != nil
	d.CanOpenCase = d.CaseLink && d.A.CaseID == "" && d.Form != nil
	return d, true
}

func (p *Pages) consoleAlert(w http.ResponseWriter, r *http.Request, s *member) {
	d, ok := p.loadAlert(w, r, s)
	if !ok {
		return
	}
	p.Render(w, r, http.StatusOK, "console-alerts-detail", d)
}

func (p *Pages) consoleResolveAlert(w http.ResponseWriter, r *http.Request, s *member) {
	d, ok := p.loadAlert(w, r, s)
	if !ok {
		return
	}
	back := consoleAlertsPath + "/" + url.PathEscape(d.A.ID)
	if d.Form == nil {
		p.redirect(w, r, back, flashAlertStale)
		return
	}
	f := d.Form
	resolution := r.PostFormValue("resolution")
	if _, known := resolutionWords[resolution]; known {
		for i := range d.Outcomes {
			d.Outcomes[i].Checked = d.Outcomes[i].Value == resolution
		}
	} else {
		f.fail("resolution", "Choose whether it was a true or a false positive.")
	}
	note, noteOK := readField(r, "note", true)
	if noteOK {
		f.F("note").Value = note
	}
	switch n := utf8.RuneCountInString(note); {
	case note == "":
		f.fail("note", "Write a note: what you checked and what you found.")
	case !noteOK || n > maxNote:
		f.fail("note", "Write at most 2000 characters.")
	case !utf8.ValidString(note):
		f.fail("note", "The note holds characters that are not text.")
	}
	if f.HasErrors() {
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-alerts-detail", d)
		return
	}
	_, err := p.monitoring.ResolveAlert(r.Context(), d.A.ID, resolution, note, p.staffMeta(r, s))
	switch {
	case err == nil && resolution == monitor.TruePositive:
		p.redirect(w, r, consoleAlertsPath, flashAlertTrue)
	case err == nil:
		p.redirect(w, r, consoleAlertsPath, flashAlertFalse)
	case errors.Is(err, monitor.ErrAlertResolved):
		p.redirect(w, r, back, flashAlertStale)
	case errors.Is(err, monitor.ErrNoAlert):
		p.renderError(w, r, http.StatusNotFound, "There is no alert with this id. Open it from the queue.")
	case errors.Is(err, monitor.ErrResolutionNoted):
		f.fail("note", "Write a note of at most 2000 characters: what you checked and what you found.")
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-alerts-detail", d)
	case errors.Is(err, monitor.ErrBadResolution):
		f.fail("resolution", "Choose whether it was a true or a false positive.")
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-alerts-detail", d)
	default:
		p.internalError(w, r, "resolve alert", err)
	}
}

// consoleInvestigateAlert puts the alert into its user's alerts case,
// opening one if none is open, and leads to the case. An alert already in a
// case leads to that case.
func (p *Pages) consoleInvestigateAlert(w http.ResponseWriter, r *http.Request, s *member) {
	alertID := r.PathValue("id")
	if p.cases == nil || alertID == "" || len(alertID) > maxTokenLen {
		p.NotFound(w, r)
		return
	}
	caseID, err := p.monitoring.Investigate(r.Context(), alertID, p.staffMeta(r, s))
	switch {
	case err == nil:
		p.redirect(w, r, consoleCasesPath+"/"+url.PathEscape(caseID), flashAlertInCase)
	case errors.Is(err, monitor.ErrAlertResolved):
		p.redirect(w, r, consoleAlertsPath+"/"+url.PathEscape(alertID), flashAlertNoCase)
	case errors.Is(err, monitor.ErrNoAlert):
		p.renderError(w, r, http.StatusNotFound, "There is no alert with this id. Open it from the queue.")
	default:
		p.internalError(w, r, "open a case for an alert", err)
	}
}

// ---- Console: the home page's card and the user page's list ----------------------------------

// alertsCard is the alert queue's card on the console's home page.
type alertsCard struct {
	// Open counts the open alerts, -1 when they could not be counted.
	Open int
	// More: there are at least Open, and maybe more.
	More bool
}

func (p *Pages) alertsCardOf(r *http.Request, s *member) *alertsCard {
	if !p.canSeeAlerts(s) {
		return nil
	}
	list, err := p.monitoring.ListAlerts(r.Context(), monitor.AlertFilter{Status: monitor.AlertOpen, Limit: openAlertCountLimit})
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: count open alerts", "err", err)
		return &alertsCard{Open: -1}
	}
	return &alertsCard{Open: len(list), More: len(list) >= openAlertCountLimit}
}

// userAlerts is the alerts part of the console's user page.
type userAlerts struct {
	UserID string
	Table  alertTable
	More   bool
}

func (p *Pages) userAlertsOf(r *http.Request, userID string, email string) (*userAlerts, error) {
	list, err := p.monitoring.ListAlerts(r.Context(), monitor.AlertFilter{UserID: userID, Limit: userAlertLimit + 1})
	if err != nil {
		return nil, err
	}
	b := &userAlerts{UserID: userID}
	if len(list) > userAlertLimit {
		list, b.More = list[:userAlertLimit], true
	}
	emails := map[string]string{userID: email}
	for _, a := range list {
		b.Table.Rows = append(b.Table.Rows, alertRowOf(a, emails))
	}
	b.Table.ID, b.Table.Caption = "user-alerts", "The user's latest alerts, newest first"
	return b, nil
}

// ---- Console: the rules ----------------------------------------------------------------------

// ruleRow is a rule in force, as the rules page lists it.
type ruleRow struct {
	ID, Description, Condition string
	EventTypes                 []string
	Action, ActionText         string
	Severity, SeverityBadge    string
	Shadow                     bool
}

// ruleProblem is one problem of a rules text that was refused.
type ruleProblem struct {
	Field string
	// Line and Column locate a problem in the rule's condition (1-based, 0
	// when not there); Excerpt is that line of the condition and Caret
	// points at the column under it.
	Line, Column   int
	Message        string
	Excerpt, Caret string
}

// ruleProblems are the problems of one rule, or of the text as a whole
// (RuleID ""). StartLine is where the rule begins in the text.
type ruleProblems struct {
	RuleID    string
	StartLine int
	Problems  []ruleProblem
}

// backtestRow is one rule's part of a backtest.
type backtestRow struct {
	RuleID, Action, ActionText string
	Shadow                     bool
	Hits, Users, Errors        int
	Samples                    []userLink
}

type userLink struct{ ID, Email string }

type backtestView struct {
	Period            string
	From, To          time.Time
	Events, Evaluated int
	Hits              int
	Elapsed           string
	Rows              []backtestRow
}

type consoleRulesData struct {
	Version int
	By      string
	At      time.Time
	Rules   []ruleRow
	// Broken: the rules in force do not check any more (a newer Warden
	// refusing an older text); Warden keeps running the ones it compiled.
	Broken string
	// CanEdit: the role may save and backtest.
	CanEdit bool
	Form    *form
	// Base is the version the text was drawn from: saving over a newer one
	// is refused.
	Base   int
	Period selectField
	// Problems of a text that was refused, by rule.
	Problems []ruleProblems
	// Backtest is the report of the backtest asked for, nil for none.
	Backtest *backtestView
}

func rulesForm() *form {
	return newForm(
		&field{ID: "rules-source", Name: "source", Label: "Rules (YAML)", Type: "textarea", Required: true,
			Hint: "Each rule: id, description, event_types, condition (CEL), action (alert, hold, restrict or freeze), severity and mode (active or shadow)."},
		&field{ID: "backtest-since", Name: "since", Label: "Backtest over the last", Value: "30d"},
	)
}

func ruleRows(compiled []monitor.Compiled) []ruleRow {
	rows := make([]ruleRow, 0, len(compiled))
	for _, c := range compiled {
		rows = append(rows, ruleRow{ID: c.ID, Description: c.Description, Condition: c.Condition, EventTypes: c.EventTypes,
			Action: c.Action, ActionText: cmpOr(actionWords[c.Action], c.Action), Severity: c.Severity,
			SeverityBadge: severityBadges[c.Severity], Shadow: c.Mode == monitor.ModeShadow})
	}
	return rows
}

// rulesData reads the rules in force and draws the page around f (nil: a
// new form holding the rules in force).
func (p *Pages) rulesData(r *http.Request, s *member, f *form) (consoleRulesData, monitor.RuleSetVersion, error) {
	v, err := p.monitoring.RuleSet(r.Context())
	if err != nil {
		return consoleRulesData{}, v, err
	}
	emails, err := p.staffEmails(r, v.CreatedBy)
	if err != nil {
		return consoleRulesData{}, v, err
	}
	d := consoleRulesData{Version: v.Version, By: actorWords(v.CreatedBy, emails), At: v.CreatedAt, Base: v.Version,
		CanEdit: p.allows(s.Account.StaffRole, scopeRulesWrite)}
	rs, err := monitor.ParseRules([]byte(v.Source))
	var compiled []monitor.Compiled
	if err == nil {
		compiled, err = monitor.Compile(rs)
	}
	if err != nil {
		d.Broken = err.Error()
	}
	d.Rules = ruleRows(compiled)
	if f == nil {
		f = rulesForm()
		f.F("source").Value = v.Source
	}
	d.Form = f
	period := f.F("since")
	d.Period = selectField{field: period}
	for _, o := range backtestPeriods {
		o.Selected = o.Value == period.Value
		d.Period.Options = append(d.Period.Options, o)
	}
	return d, v, nil
}

func (p *Pages) consoleRules(w http.ResponseWriter, r *http.Request, s *member) {
	d, _, err := p.rulesData(r, s, nil)
	if err != nil {
		p.internalError(w, r, "read rules", err)
		return
	}
	p.Render(w, r, http.StatusOK, "console-rules", d)
}

// readRules reads the rules form: the text (with the browser's CRLF line
// ends made LF) and the version it was drawn from.
func readRules(r *http.Request, f *form) (source string, base int, ok bool) {
	source = strings.ReplaceAll(r.PostFormValue("source"), "\r\n", "\n")
	f.F("source").Value = source
	since := r.PostFormValue("since")
	if _, known := backtestDurations[since]; known {
		f.F("since").Value = since
	}
	base, err := strconv.Atoi(r.PostFormValue("base_version"))
	switch {
	case strings.TrimSpace(source) == "":
		f.fail("source", "Write the rules: a YAML file with a list of rules.")
	case len(source) > maxRulesBytes:
		f.fail("source", "The rules are too long: at most 256 KiB.")
	case !utf8.ValidString(source):
		f.fail("source", "The rules hold characters that are not text.")
	}
	return source, base, err == nil && base >= 0
}

// problemsOf sorts the problems of a refused text by rule, with where each
// rule starts in the text and the line of its condition at fault.
func problemsOf(source string, errs monitor.RuleErrors) []ruleProblems {
	starts, conditions := ruleLines(source)
	var out []ruleProblems
	index := map[string]int{}
	for _, e := range errs {
		i, seen := index[e.RuleID]
		if !seen {
			i = len(out)
			index[e.RuleID] = i
			out = append(out, ruleProblems{RuleID: e.RuleID, StartLine: starts[e.RuleID]})
		}
		// cel-go names the (empty) container of names in its messages.
		msg := strings.TrimSuffix(e.Message, " (in container '')")
		pr := ruleProblem{Field: e.Field, Line: e.Line, Column: e.Column, Message: sentence(msg)}
		if lines := strings.Split(conditions[e.RuleID], "\n"); e.Line > 0 && e.Line <= len(lines) {
			pr.Excerpt = lines[e.Line-1]
			if col := e.Column; col > 0 && col <= utf8.RuneCountInString(pr.Excerpt)+1 {
				pr.Caret = strings.Repeat(" ", col-1) + "^"
			}
		}
		out[i].Problems = append(out[i].Problems, pr)
	}
	// The text's own problems first, then the rules in text order.
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].RuleID == "") != (out[j].RuleID == "") {
			return out[i].RuleID == ""
		}
		return out[i].StartLine < out[j].StartLine
	})
	return out
}

// ruleLines finds where each rule begins in a rules text (its first id
// wins) and its condition, as the rules read it.
func ruleLines(source string) (starts map[string]int, conditions map[string]string) {
	starts, conditions = map[string]int{}, map[string]string{}
	var doc yaml.Node
	if yaml.Unmarshal([]byte(source), &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return starts, conditions
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "rules" || top.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, rule := range top.Content[i+1].Content {
			if rule.Kind != yaml.MappingNode {
				continue
			}
			var id, condition string
			for j := 0; j+1 < len(rule.Content); j += 2 {
				switch rule.Content[j].Value {
				case "id":
					id = rule.Content[j+1].Value
				case "condition":
					condition = rule.Content[j+1].Value
				}
			}
			if _, seen := starts[id]; !seen {
				starts[id], conditions[id] = rule.Line, condition
			}
		}
	}
	return starts, conditions
}

// refuseRules draws the page again with the problems of a refused text.
func (p *Pages) refuseRules(w http.ResponseWriter, r *http.Request, d consoleRulesData, source string, errs monitor.RuleErrors) {
	d.Problems = problemsOf(source, errs)
	n := len(errs)
	what := "1 problem"
	if n != 1 {
		what = fmt.Sprintf("%d problems", n)
	}
	d.Form.fail("source", fmt.Sprintf("The rules have %s, listed below. Nothing was changed: version %d stays in force.", what, d.Version))
	d.Form.finish()
	p.Render(w, r, http.StatusUnprocessableEntity, "console-rules", d)
}

func (p *Pages) consoleSaveRules(w http.ResponseWriter, r *http.Request, s *member) {
	f := rulesForm()
	source, base, baseOK := readRules(r, f)
	d, current, err := p.rulesData(r, s, f)
	if err != nil {
		p.internalError(w, r, "read rules", err)
		return
	}
	if f.HasErrors() {
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-rules", d)
		return
	}
	if !baseOK || base != current.Version {
		f.Problem = &problem{Message: fmt.Sprintf("The rules changed while you edited them: version %d, by %s, is in force now. "+
			"Your text is below and was not saved. Compare it with the rules in force, then save it again.", current.Version, d.By)}
		f.finish()
		p.Render(w, r, http.StatusConflict, "console-rules", d)
		return
	}
	if source == current.Source {
		p.redirect(w, r, consoleRulesPath, flashRulesUnchanged)
		return
	}
	_, err = p.monitoring.PutRules(r.Context(), []byte(source), p.staffMeta(r, s))
	var errs monitor.RuleErrors
	switch {
	case err == nil:
		p.redirect(w, r, consoleRulesPath, flashRulesSaved)
	case errors.As(err, &errs):
		p.refuseRules(w, r, d, source, errs)
	case errors.Is(err, store.ErrConflict):
		// Another node saved the same next version first.
		f.Problem = &problem{Message: "Someone saved the rules at the same moment, so yours were not saved. Open the page again to see theirs."}
		f.finish()
		p.Render(w, r, http.StatusConflict, "console-rules", d)
	default:
		p.internalError(w, r, "save rules", err)
	}
}

func (p *Pages) consoleBacktest(w http.ResponseWriter, r *http.Request, s *member) {
	f := rulesForm()
	source, base, baseOK := readRules(r, f)
	d, _, err := p.rulesData(r, s, f)
	if err != nil {
		p.internalError(w, r, "read rules", err)
		return
	}
	if baseOK {
		d.Base = base // the version the text was drawn from, for saving it later
	}
	since := r.PostFormValue("since")
	period, known := backtestDurations[since]
	if !known {
		f.fail("since", "Choose how far back from the list.")
	}
	if f.HasErrors() {
		f.finish()
		p.Render(w, r, http.StatusUnprocessableEntity, "console-rules", d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), backtestTimeout)
	defer cancel()
	rep, err := p.monitoring.Backtest(ctx, []byte(source), p.now().Add(-period), nil)
	var errs monitor.RuleErrors
	switch {
	case errors.As(err, &errs):
		p.refuseRules(w, r, d, source, errs)
		return
	case errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil:
		f.Problem = &problem{Message: fmt.Sprintf("The backtest took longer than %s, so it was stopped. Try a shorter period, "+
			"or run it on the server: warden rules backtest FILE --since %s", durationWords(backtestTimeout), since)}
		f.finish()
		p.Render(w, r, http.StatusServiceUnavailable, "console-rules", d)
		return
	case err != nil:
		p.internalError(w, r, "backtest rules", err)
		return
	}
	bt := &backtestView{Period: strings.TrimSuffix(since, "d") + " days", From: rep.From, To: rep.To, Events: rep.Events,
		Evaluated: rep.Evaluated, Elapsed: rep.Elapsed.Round(time.Millisecond).String()}
	var ids []string
	for _, rr := range rep.Rules {
		ids = append(ids, rr.Samples...)
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		p.internalError(w, r, "read the accounts of a backtest", err)
		return
	}
	for _, rr := range rep.Rules {
		row := backtestRow{RuleID: rr.RuleID, Action: rr.Action, ActionText: cmpOr(actionWords[rr.Action], rr.Action),
			Shadow: rr.Mode == monitor.ModeShadow, Hits: rr.Hits, Users: rr.Users, Errors: rr.Errors}
		for _, id := range rr.Samples {
			row.Samples = append(row.Samples, userLink{ID: id, Email: emails[id]})
		}
		bt.Hits += rr.Hits
		bt.Rows = append(bt.Rows, row)
	}
	d.Backtest = bt
	f.finish()
	p.Render(w, r, http.StatusOK, "console-rules", d)
}

// ---- The user's side: paused withdrawals -----------------------------------------------------

// pausedNotice tells a user that withdrawals are paused and what lifts
// that ("paused-notice" in layout.html). It never carries the reason staff
// or a rule gave: that is for staff.
type pausedNotice struct {
	Lifts []pauseLift
}

// pauseLift is what lifts one restriction.
type pauseLift struct {
	// Verification: completing identity verification lifts it; Link: the
	// verification pages are served here.
	Verification bool
	Link         bool
	// Until is when it ends by itself (zero for never), In how long that is.
	Until time.Time
	In    string
	// Staff: nothing but our team lifts it.
	Staff bool
}

// pausedNoticeOf is nil unless u's withdrawals are restricted now.
func (p *Pages) pausedNoticeOf(r *http.Request, u *member) *pausedNotice {
	if p.withdrawals == nil {
		return nil
	}
	list, err := p.withdrawals.Restrictions(r.Context(), u.Account.ID)
	if err != nil {
		p.log.ErrorContext(r.Context(), "web: read restrictions", "err", err)
		return nil
	}
	now := p.now()
	var n pausedNotice
	// A user at the top tier has no verification left to complete: only
	// our team (or the end) lifts a pause waiting for one.
	canVerify, checked := true, false
	for _, rs := range list {
		if rs.Kind != "withdrawals" || !rs.ActiveAt(now) {
			continue
		}
		l := liftOf(rs, now)
		if l.Verification && p.verification != nil {
			if !checked {
				o, err := p.verification.Overview(r.Context(), u.Account.ID)
				if err != nil {
					p.log.ErrorContext(r.Context(), "web: read verification", "err", err)
				}
				canVerify, checked = err != nil || o.NextTier != nil, true
			}
			l.Verification, l.Link = canVerify, canVerify
			l.Staff = !canVerify && l.Until.IsZero()
		}
		if !slices.Contains(n.Lifts, l) {
			n.Lifts = append(n.Lifts, l)
		}
	}
	if len(n.Lifts) == 0 {
		return nil
	}
	return &n
}

func liftOf(rs withdrawal.Restriction, now time.Time) pauseLift {
	l := pauseLift{Verification: rs.LiftOn == "verification", Until: rs.ExpiresAt}
	if !l.Until.IsZero() {
		l.In = timeLeft(rs.ExpiresAt.Sub(now))
	}
	l.Staff = !l.Verification && l.Until.IsZero()
	return l
}
