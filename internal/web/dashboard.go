package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/withdrawal"
)

// The staff dashboard, /console/dashboard: how many items wait in each
// queue the staff member's role may open (withdrawals to review,
// verifications, open alerts, open cases), each linking to its queue, and
// charts of the last 24 hours (by hour), 7 or 30 days (by day): logins by
// the risk decision, lockouts, withdrawals by status, alerts per rule. The
// charts are SVG drawn on the server (charts.go); each series links to the
// list behind it: /console/logins (below) for logins and lockouts, the
// withdrawal and alert queues filtered for the others. Times are UTC.
//
// /console/logins lists every account's login attempts of one outcome in
// the period, or its lockouts (audit records login.locked), newest first.

const (
	consoleDashboardPath = "/console/dashboard"
	consoleLoginsPath    = "/console/logins"
	// loginListLimit is how many attempts /console/logins lists.
	loginListLimit = 200
	// outcomeLockout is /console/logins' name for lockouts, which are audit
	// records rather than login attempts.
	outcomeLockout = "lockout"
	// maxRuleSeries bounds the rules the alert chart shows apart; the
	// others are summed as one.
	maxRuleSeries = 7
)

func (p *Pages) registerDashboardPages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+consoleDashboardPath, p.signedIn(staffSignIn, p.consoleDashboard))
	mux.HandleFunc("GET "+consoleLoginsPath, p.signedIn(staffSignIn, p.scoped(scopeUsersRead, p.consoleLogins)))
}

// period is a span the dashboard shows.
type period struct {
	Key, Label string
	width      time.Duration
	buckets    int
}

// phrase is the label within a sentence: "last 24 hours".
func (pd period) phrase() string { return strings.ToLower(pd.Label[:1]) + pd.Label[1:] }

var periods = []period{
	{"24h", "Last 24 hours", time.Hour, 24},
	{"7d", "Last 7 days", 24 * time.Hour, 7},
	{"30d", "Last 30 days", 24 * time.Hour, 30},
}

func periodOf(key string) period {
	for _, p := range periods {
		if p.Key == key {
			return p
		}
	}
	return periods[0]
}

// span is the period ending with the bucket that holds now, on whole hours
// or days (UTC).
func (pd period) span(now time.Time) store.Span {
	end := now.UTC().Truncate(pd.width).Add(pd.width)
	return store.Span{From: end.Add(-time.Duration(pd.buckets) * pd.width), To: end, Width: pd.width}
}

func (pd period) chartBuckets(sp store.Span) []chartBucket {
	out := make([]chartBucket, 0, pd.buckets)
	for i := range pd.buckets {
		start := sp.From.Add(time.Duration(i) * pd.width)
		if pd.width < 24*time.Hour {
			out = append(out, chartBucket{Label: start.Format("15:04"),
				Title: start.Format("2 Jan 15:04") + " to " + start.Add(pd.width).Format("15:04") + " UTC"})
		} else {
			out = append(out, chartBucket{Label: start.Format("2 Jan"), Title: start.Format("Mon 2 Jan 2006") + " (UTC)"})
		}
	}
	return out
}

// periodLink is an entry of the period switch.
type periodLink struct {
	Key, Label, Href string
	Current          bool
}

// queueCard is a queue's count on the dashboard.
type queueCard struct {
	ID, Label, Href, Text string
	Count                 int
}

// dashChart is a chart with its legend.
type dashChart struct {
	Chart barChart
	// Empty: nothing happened in the period.
	Empty bool
}

type dashboardData struct {
	Period  period
	Periods []periodLink
	From    time.Time
	To      time.Time
	Queues  []queueCard
	Charts  []dashChart
	// Nothing: the role may see no queue and no chart.
	Nothing bool
}

// Series colours: one per known key, then a palette for rules.
var (
	outcomeColors = map[string]string{
		login.OutcomeSucceeded:  "#2da44e",
		login.OutcomeChallenged: "#d4a72c",
		login.OutcomeDenied:     "#cf222e",
	}
	statusColors = map[string]string{
		withdrawal.StatusAwaitingConfirmation: "#8250df",
		withdrawal.StatusPendingReview:        "#d4a72c",
		withdrawal.StatusApproved:             "#0969da",
		withdrawal.StatusCompleted:            "#2da44e",
		withdrawal.StatusRejected:             "#cf222e",
		withdrawal.StatusCancelled:            "#8c959f",
		withdrawal.StatusExpired:              "#bf8700",
	}
	rulePalette = []string{"#0969da", "#cf222e", "#2da44e", "#8250df", "#bf3989", "#d4a72c", "#1b7c83", "#8c959f"}
)

// The logins chart shows the risk decisions, in this order.
var loginOutcomes = []string{login.OutcomeSucceeded, login.OutcomeChallenged, login.OutcomeDenied}

var withdrawalStatusOrder = []string{withdrawal.StatusAwaitingConfirmation, withdrawal.StatusPendingReview, withdrawal.StatusApproved,
	withdrawal.StatusCompleted, withdrawal.StatusRejected, withdrawal.StatusCancelled, withdrawal.StatusExpired}

var staffStatusWords = map[string]string{
	withdrawal.StatusAwaitingConfirmation: "Awaiting confirmation",
	withdrawal.StatusPendingReview:        "Waiting for review",
	withdrawal.StatusApproved:             "Approved",
	withdrawal.StatusCompleted:            "Sent",
	withdrawal.StatusRejected:             "Rejected",
	withdrawal.StatusCancelled:            "Cancelled",
	withdrawal.StatusExpired:              "Expired",
}

// seriesOf turns counts into series, keys in order first (each kept even
// when it counted nothing), then any other key met, in key order unless
// keep is given.
func seriesOf(counts []store.BucketCount, n int, order []string, keep bool) map[string][]int {
	out := map[string][]int{}
	if keep {
		for _, k := range order {
			out[k] = make([]int, n)
		}
	}
	for _, c := range counts {
		if c.Bucket < 0 || c.Bucket >= n {
			continue
		}
		if out[c.Key] == nil {
			out[c.Key] = make([]int, n)
		}
		out[c.Key][c.Bucket] += c.N
	}
	return out
}

func sum(values []int) int {
	n := 0
	for _, v := range values {
		n += v
	}
	return n
}

// dashboardCounts are what the dashboard reads, in one read transaction.
type dashboardCounts struct {
	queues                                store.QueueCounts
	logins, lockouts, withdrawals, alerts []store.BucketCount
}

func (p *Pages) consoleDashboard(w http.ResponseWriter, r *http.Request, s *member) {
	pd := periodOf(r.URL.Query().Get("period"))
	now := p.now()
	sp := pd.span(now)
	d := dashboardData{Period: pd, From: sp.From, To: sp.To}
	for _, o := range periods {
		d.Periods = append(d.Periods, periodLink{Key: o.Key, Label: o.Label, Href: consoleDashboardPath + "?period=" + o.Key, Current: o.Key == pd.Key})
	}
	role := s.Account.StaffRole
	seeLogins := p.allows(role, scopeUsersRead)
	seeWithdrawals := p.canSeeWithdrawals(s)
	seeAlerts := p.canSeeAlerts(s)
	var c dashboardCounts
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		if c.queues, err = tx.QueueCounts(r.Context()); err != nil {
			return err
		}
		if seeLogins {
			if c.logins, err = tx.LoginsByBucket(r.Context(), sp); err != nil {
				return err
			}
			if c.lockouts, err = tx.LockoutsByBucket(r.Context(), sp); err != nil {
				return err
			}
		}
		if seeWithdrawals {
			if c.withdrawals, err = tx.WithdrawalsByBucket(r.Context(), sp, now); err != nil {
				return err
			}
		}
		if seeAlerts {
			c.alerts, err = tx.AlertsByBucket(r.Context(), sp)
		}
		return err
	})
	if err != nil {
		p.internalError(w, r, "read the dashboard", err)
		return
	}

	if seeWithdrawals {
		d.Queues = append(d.Queues, queueCard{ID: "queue-withdrawals", Label: "Withdrawals to review", Count: c.queues.Withdrawals,
			Href: consoleWithdrawalsPath + "?status=" + withdrawal.StatusPendingReview, Text: "Held by monitoring, waiting for a decision."})
	}
	if p.canReview(s) {
		d.Queues = append(d.Queues, queueCard{ID: "queue-verifications", Label: "Verifications", Count: c.queues.Verifications,
			Href: consoleVerificationsPath + "?status=pending_review", Text: "Identity verifications and two-factor resets to review."})
	}
	if seeAlerts {
		d.Queues = append(d.Queues, queueCard{ID: "queue-alerts", Label: "Open alerts", Count: c.queues.Alerts,
			Href: consoleAlertsPath + "?status=open", Text: "Raised by the monitoring rules, not yet resolved."})
	}
	if p.canSeeCases(s) {
		d.Queues = append(d.Queues, queueCard{ID: "queue-cases", Label: "Open cases", Count: c.queues.Cases,
			Href: consoleCasesPath + "?status=open", Text: "Users' reports of a compromised account."})
	}

	buckets := pd.chartBuckets(sp)
	n := len(buckets)
	q := "&period=" + pd.Key
	if seeLogins {
		values := seriesOf(c.logins, n, loginOutcomes, true)
		ch := barChart{ID: "chart-logins", Title: "Logins by decision, " + pd.phrase(), Unit: "logins", Buckets: buckets,
			Href: consoleLoginsPath + "?period=" + pd.Key}
		for _, o := range loginOutcomes {
			ch.Series = append(ch.Series, chartSeries{Key: o, Label: decisionWords[o], Color: outcomeColors[o], Values: values[o],
				Href: consoleLoginsPath + "?outcome=" + o + q})
		}
		d.Charts = append(d.Charts, dashChart{Chart: ch, Empty: ch.Total() == 0})
		locks := seriesOf(c.lockouts, n, []string{"locked"}, true)
		ch = barChart{ID: "chart-lockouts", Title: "Lockouts, " + pd.phrase(), Unit: "lockouts", Buckets: buckets,
			Href:   consoleLoginsPath + "?outcome=" + outcomeLockout + q,
			Series: []chartSeries{{Key: "locked", Label: "Lockouts", Color: "#8250df", Values: locks["locked"], Href: consoleLoginsPath + "?outcome=" + outcomeLockout + q}}}
		d.Charts = append(d.Charts, dashChart{Chart: ch, Empty: ch.Total() == 0})
	}
	if seeWithdrawals {
		values := seriesOf(c.withdrawals, n, withdrawalStatusOrder, false)
		ch := barChart{ID: "chart-withdrawals", Title: "Withdrawals by status, " + pd.phrase(), Unit: "withdrawals", Buckets: buckets,
			Href: consoleWithdrawalsPath + "?status=all"}
		keys := slices.Clone(withdrawalStatusOrder)
		for k := range values {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			if values[k] == nil {
				continue
			}
			ch.Series = append(ch.Series, chartSeries{Key: k, Label: cmpOr(staffStatusWords[k], k), Color: cmpOr(statusColors[k], "#8c959f"),
				Values: values[k], Href: consoleWithdrawalsPath + "?status=" + url.QueryEscape(k)})
		}
		d.Charts = append(d.Charts, dashChart{Chart: ch, Empty: ch.Total() == 0})
	}
	if seeAlerts {
		values := seriesOf(c.alerts, n, nil, false)
		rules := make([]string, 0, len(values))
		for k := range values {
			rules = append(rules, k)
		}
		// The rules that fired most first; the rest are summed.
		sort.Slice(rules, func(i, j int) bool {
			if a, b := sum(values[rules[i]]), sum(values[rules[j]]); a != b {
				return a > b
			}
			return rules[i] < rules[j]
		})
		ch := barChart{ID: "chart-alerts", Title: "Alerts per rule, " + pd.phrase(), Unit: "alerts", Buckets: buckets,
			Href: consoleAlertsPath + "?status=all"}
		var other []int
		for i, rule := range rules {
			if i >= maxRuleSeries {
				if other == nil {
					other = make([]int, n)
				}
				for b, v := range values[rule] {
					other[b] += v
				}
				continue
			}
			href := consoleAlertsPath + "?status=all"
			if ruleIDPattern.MatchString(rule) {
				href += "&rule=" + url.QueryEscape(rule)
			}
			ch.Series = append(ch.Series, chartSeries{Key: rule, Label: rule, Color: rulePalette[i%len(rulePalette)], Values: values[rule], Href: href})
		}
		if other != nil {
			ch.Series = append(ch.Series, chartSeries{Key: "other", Label: "Other rules", Color: rulePalette[len(rulePalette)-1], Values: other,
				Href: consoleAlertsPath + "?status=all"})
		}
		d.Charts = append(d.Charts, dashChart{Chart: ch, Empty: ch.Total() == 0})
	}
	d.Nothing = len(d.Queues) == 0 && len(d.Charts) == 0
	p.Render(w, r, http.StatusOK, "console-dashboard", d)
}

// ---- /console/logins -------------------------------------------------------------------------

var loginListOutcomes = []selectOption{
	{Value: "", Label: "Every attempt"},
	{Value: login.OutcomeSucceeded, Label: "Allowed"},
	{Value: login.OutcomeChallenged, Label: "Challenged"},
	{Value: login.OutcomeDenied, Label: "Denied"},
	{Value: login.OutcomeFailed, Label: "Wrong password or code"},
	{Value: login.OutcomeLocked, Label: "Refused while locked"},
	{Value: outcomeLockout, Label: "Lockouts"},
}

type loginRow struct {
	At                   time.Time
	UserID, Email        string
	IP, Place            string
	Outcome, Badge       string
	Detail               string
	Score                int
	Lockout, HasUserLink bool
}

type consoleLoginsData struct {
	Outcome   listFilter
	Period    period
	Periods   []periodLink
	From      time.Time
	Rows      []loginRow
	Truncated bool
	Limit     int
}

func (p *Pages) consoleLogins(w http.ResponseWriter, r *http.Request, s *member) {
	q := r.URL.Query()
	pd := periodOf(q.Get("period"))
	sp := pd.span(p.now())
	d := consoleLoginsData{Outcome: listFilterOf(q, &field{ID: "logins-outcome", Name: "outcome", Label: "Show"}, loginListOutcomes, ""),
		Period: pd, From: sp.From, Limit: loginListLimit}
	outcome := d.Outcome.Value
	for _, o := range periods {
		href := consoleLoginsPath + "?period=" + o.Key
		if outcome != "" {
			href += "&outcome=" + outcome
		}
		d.Periods = append(d.Periods, periodLink{Key: o.Key, Label: o.Label, Href: href, Current: o.Key == pd.Key})
	}
	var rows []loginRow
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		if outcome == outcomeLockout {
			recs, err := tx.ListAuditRecords(r.Context(), store.AuditFilter{Action: "login.locked", Limit: loginListLimit + 1})
			if err != nil {
				return err
			}
			for _, rec := range recs {
				if rec.OccurredAt.Before(sp.From) {
					break
				}
				rows = append(rows, lockoutRow(rec))
			}
			return nil
		}
		events, err := tx.LoginEventsSince(r.Context(), outcome, sp.From, loginListLimit+1)
		for _, e := range events {
			row := loginRow{At: e.At, UserID: e.AccountID, IP: e.IP, Outcome: cmpOr(decisionWords[e.Outcome], e.Outcome),
				Badge: outcomeBadges[e.Outcome], Detail: login.ReasonText(e.Reasons), Score: e.Score}
			switch {
			case e.City != "" && e.Country != "":
				row.Place = e.City + ", " + e.Country
			case e.Country != "":
				row.Place = e.Country
			}
			if len(e.Reasons) == 0 {
				row.Detail = ""
			}
			rows = append(rows, row)
		}
		return err
	})
	if err != nil {
		p.internalError(w, r, "list logins", err)
		return
	}
	if len(rows) > loginListLimit {
		rows, d.Truncated = rows[:loginListLimit], true
	}
	var ids []string
	for _, row := range rows {
		if row.UserID != "" {
			ids = append(ids, row.UserID)
		}
	}
	emails, err := p.emailsOf(r, ids)
	if err != nil {
		p.internalError(w, r, "read the accounts of logins", err)
		return
	}
	for i := range rows {
		rows[i].Email = emails[rows[i].UserID]
		rows[i].HasUserLink = rows[i].UserID != "" && rows[i].Email != ""
	}
	d.Rows = rows
	p.Render(w, r, http.StatusOK, "console-dashboard-logins", d)
}

// lockoutRow describes a login.locked audit record: which lane, and until when.
func lockoutRow(rec audit.Record) loginRow {
	row := loginRow{At: rec.OccurredAt, UserID: rec.UserID, IP: rec.IP, Outcome: "Locked", Badge: "danger", Lockout: true}
	var data struct {
		Lane  string    `json:"lane"`
		Until time.Time `json:"until"`
	}
	_ = json.Unmarshal(rec.Data, &data)
	if data.Lane == "" || data.Lane == lockout.UntrustedLane {
		row.Detail = "Logins from unrecognised devices paused"
	} else {
		row.Detail = "Logins from one trusted device paused"
	}
	if !data.Until.IsZero() {
		row.Detail += " until " + data.Until.UTC().Format("2 Jan 15:04 UTC")
	}
	return row
}
