package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/audit"
	"github.com/wardenhq/warden/internal/lockout"
	"github.com/wardenhq/warden/internal/login"
	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/session"
	"github.com/wardenhq/warden/internal/store"
)

// activityPageSize is how many events the activity page shows at once.
const activityPageSize = 50

// activityRow is one security event as its user sees it.
type activityRow struct {
	At        time.Time
	What      string // in plain words
	Detail    string // more about it, possibly empty
	Alert     bool   // worth a second look: a failed login, a freeze
	IP        string
	Device    string // the user agent in a few words
	UserAgent string
}

type activityData struct {
	Events []activityRow
	// Older continues the list (a cursor), "" on the last page.
	Older string
	// Paged is set when this is not the first page.
	Paged bool
}

// activityPage lists the user's own security events, newest first, from the
// audit log — what the JSON API's GET /v1/activity answers.
func (p *Pages) activityPage(w http.ResponseWriter, r *http.Request, u *member) {
	var before *store.Cursor
	if v := r.URL.Query().Get("before"); v != "" {
		c, err := store.ParseCursor(v)
		if err != nil {
			p.renderError(w, r, http.StatusBadRequest, "This page of the activity list does not exist. Start again from the newest events.")
			return
		}
		before = &c
	}
	var records []audit.Record
	err := p.audit.Read(r.Context(), func(tx *store.Tx) error {
		var err error
		records, err = tx.ListAuditRecords(r.Context(), store.AuditFilter{UserID: u.Account.ID, Before: before, Limit: activityPageSize + 1})
		return err
	})
	if err != nil {
		p.internalError(w, r, "list activity", err)
		return
	}
	data := activityData{Paged: before != nil}
	if len(records) > activityPageSize {
		records = records[:activityPageSize]
		last := records[len(records)-1]
		data.Older = store.Cursor{At: last.OccurredAt, ID: last.ID}.String()
	}
	for _, rec := range records {
		data.Events = append(data.Events, activityOf(rec))
	}
	p.Render(w, r, http.StatusOK, "account-activity", data)
}

// dataString returns a string member of an audit record's data, "" when missing.
func dataString(rec audit.Record, key string) string {
	var data map[string]any
	_ = json.Unmarshal(rec.Data, &data)
	s, _ := data[key].(string)
	return s
}

// plainEvents are the events told in fixed words, which activityOf looks
// up before it words the others one by one: what happened, whether it is
// worth a second look, and the member of the record's data shown as the
// detail ("" for none).
var plainEvents = map[string]struct {
	what   string
	alert  bool
	detail string
}{
	"account.registered":                  {what: "Account created"},
	"account.email_verified":              {what: "Email address confirmed"},
	"login.device_confirmed":              {what: "New device confirmed from the email link"},
	"password.reset_requested":            {what: "Password reset link requested"},
	"anti_phishing_code.set":              {what: "Anti-phishing code changed"},
	"mfa.totp_enabled":                    {what: "Authenticator app turned on"},
	"mfa.totp_disabled":                   {what: "Authenticator app turned off", alert: true},
	"mfa.recovery_codes_regenerated":      {what: "New recovery codes made"},
	"mfa.passkey_added":                   {what: "Passkey added", detail: "name"},
	"mfa.passkey_removed":                 {what: "Passkey removed", alert: true, detail: "name"},
	"mfa.step_up":                         {what: "Identity confirmed with a second factor"},
	"account.unfrozen":                    {what: "Account unfrozen by support"},
	"verification.personal_info_saved":    {what: "Personal information saved for identity verification"},
	"verification.document_viewed":        {what: "A reviewer looked at one of your identity documents"},
	"verification.submitted":              {what: "Identity verification sent for review"},
	"verification.approved":               {what: "Identity verified"},
	"verification.rejected":               {what: "Identity verification not approved", alert: true, detail: "reason"},
	"verification.resubmission_requested": {what: "Identity verification needs more from you", detail: "reason"},
	"verification.documents_purged":       {what: "Identity documents deleted after the retention period"},
	"mfa_reset.requested":                 {what: "Removal of two-factor authentication requested", alert: true},
	"mfa_reset.submitted":                 {what: "Two-factor reset sent for review"},
	"mfa_reset.approved":                  {what: "Two-factor reset approved: waiting period started", alert: true},
	"mfa_reset.rejected":                  {what: "Two-factor reset not approved"},
	"mfa_reset.cancelled":                 {what: "Two-factor reset cancelled", detail: "why"},
	"mfa_reset.completed":                 {what: "Two-factor authentication removed after the reset", alert: true},
	"address.confirmed":                   {what: "Withdrawal address confirmed"},
	"address.deleted":                     {what: "Withdrawal address deleted", detail: "address"},
	"allow_list.enabled":                  {what: "Withdrawal allow-list turned on"},
	"allow_list.disable_requested":        {what: "Turning off the withdrawal allow-list was requested", alert: true},
	"allow_list.disable_confirmed":        {what: "Turning off the withdrawal allow-list was confirmed", alert: true},
	"withdrawal.held":                     {what: "Withdrawal held for a review by our team"},
	"withdrawal.approved":                 {what: "Withdrawal approved"},
	"withdrawal.rejected":                 {what: "Withdrawal not approved", alert: true, detail: "reason"},
	"withdrawal.cancelled":                {what: "Withdrawal cancelled", detail: "why"},
	"withdrawal.expired":                  {what: "Withdrawal expired before it was confirmed"},
	"account.restriction_lifted":          {what: "A pause on your account was lifted"},
}

// activityOf describes an audit record to its user, with only the details
// that are safe and meaningful to them.
func activityOf(rec audit.Record) activityRow {
	var data map[string]any
	_ = json.Unmarshal(rec.Data, &data)
	str := func(k string) string { s, _ := data[k].(string); return s }
	num := func(k string) int { f, _ := data[k].(float64); return int(f) }
	list := func(k string) []string {
		var out []string
		items, _ := data[k].([]any)
		for _, it := range items {
			if s, ok := it.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	// why says a risk decision's reasons, and where the login came from.
	why := func() string {
		var parts []string
		if reasons := list("reasons"); len(reasons) > 0 {
			parts = append(parts, "Why: "+login.ReasonText(reasons)+".")
		}
		if place := str("place"); place != "" && place != "unknown place" {
			parts = append(parts, "From "+place+".")
		}
		return strings.Join(parts, " ")
	}
	row := activityRow{At: rec.OccurredAt, IP: rec.IP, UserAgent: str("user_agent")}
	row.Device = session.DescribeAgent(row.UserAgent)

	if e, ok := plainEvents[rec.Action]; ok {
		row.What, row.Alert = e.what, e.alert
		if e.detail != "" {
			row.Detail = str(e.detail)
		}
		return row
	}
	switch rec.Action {
	case "account.signup_attempted":
		row.What = "Someone tried to sign up again with your email address"
		row.Detail = "We emailed you about it. If it was not you, nothing changed."
	case "session.created":
		row.What = "Logged in"
		var parts []string
		if str("aal") == "aal2" {
			parts = append(parts, "With a second factor.")
		}
		if b, _ := data["new_device"].(bool); b {
			parts = append(parts, "From a new device.")
		}
		if place := str("place"); place != "" {
			parts = append(parts, "From "+place+".")
		}
		row.Detail = strings.Join(parts, " ")
	case "login.challenged":
		row.What = "Login asked for confirmation"
		row.Detail = strings.TrimSpace(askedFor(list("requires")) + " " + why())
	case "login.denied":
		row.What, row.Alert = "Login refused as too risky", true
		row.Detail = strings.TrimSpace(why() + " The password was right.")
	case "login.locked":
		row.What, row.Alert = "Logins paused after wrong attempts", true
		where := "From new devices"
		if lane := str("lane"); lane != "" && lane != lockout.UntrustedLane {
			where = "From one of your devices"
		}
		if until, err := time.Parse(time.RFC3339Nano, str("until")); err == nil {
			row.Detail = where + ", until " + until.UTC().Format("15:04 UTC") + "."
		} else {
			row.Detail = where + "."
		}
	case "device.forgotten":
		row.What = "Device removed"
		row.Detail = str("device")
		if n := otherSessions(num("sessions_revoked")); n != "" {
			row.Detail += ". " + n
		}
	case "session.revoked":
		switch n := num("count"); {
		case str("reason") == "logout":
			row.What = "Logged out"
		case str("session_id") == "" && n == 1:
			row.What = "Logged out 1 other session"
		case str("session_id") == "":
			row.What = fmt.Sprintf("Logged out %d other sessions", n)
		default:
			row.What = "Logged out a session"
		}
	case "login.failed":
		row.What, row.Alert = "Failed login", true
		switch str("reason") {
		case "invalid_credentials":
			row.Detail = "Wrong password."
		case "invalid_totp":
			row.Detail = "Wrong code from the authenticator app."
		case "invalid_recovery_code":
			row.Detail = "Wrong recovery code."
		case "invalid_webauthn":
			row.Detail = "Passkey not accepted."
		}
	case "password.changed":
		row.What = "Password changed"
		row.Detail = otherSessions(num("sessions_revoked"))
	case "password.reset":
		row.What = "Password reset with an email link"
		row.Detail = otherSessions(num("sessions_revoked"))
	case "account.frozen":
		row.What, row.Alert = "Account frozen", true
		// Staff write their reason as an internal note: the user sees only
		// their own words.
		if reason := str("reason"); reason != "" && !strings.HasPrefix(rec.Actor, "staff:") && !strings.HasPrefix(rec.Actor, "admin_key:") {
			row.Detail = "Reason: " + reason + "."
		} else if reason != "" {
			row.Detail = "By our security team."
		}
	case "mfa.recovery_code_used":
		row.What = "Recovery code used"
		row.Detail = fmt.Sprintf("%d left.", num("left"))
	case "verification.document_added":
		row.What = "Document uploaded for identity verification"
		row.Detail = strings.ReplaceAll(str("kind"), "_", " ")
	case "address.added":
		row.What, row.Alert = "Withdrawal address added", true
		row.Detail = str("asset") + " on " + str("network") + ": " + str("address")
	case "withdrawal.requested":
		row.What = "Withdrawal requested"
		row.Detail = str("amount") + " " + str("asset") + " to " + str("address")
	case "withdrawal.confirmed":
		row.What = "Withdrawal confirmed"
		if str("by") == "email" {
			row.Detail = "With the link in our email."
		} else {
			row.Detail = "With a second factor."
		}
	case "withdrawal.completed":
		row.What = "Withdrawal sent"
		row.Detail = "Transaction " + str("txid")
	case "account.restricted":
		row.What, row.Alert = "Some actions on your account were paused", true
		row.Detail = "Paused: " + str("kind") + "."
	default:
		row.What = humanize(rec.Action)
	}
	return row
}

// askedFor says what a challenged login had to prove.
func askedFor(requires []string) string {
	var what []string
	for _, r := range requires {
		switch r {
		case mfa.RequireEmail:
			what = append(what, "the link in our email")
		case mfa.RequireSecondFactor:
			what = append(what, "a second factor")
		}
	}
	if len(what) == 0 {
		return ""
	}
	return "Needed " + strings.Join(what, " and ") + "."
}

func otherSessions(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 session was logged out."
	}
	return fmt.Sprintf("%d sessions were logged out.", n)
}

// humanize turns an action such as "device.trusted" into "Device trusted".
func humanize(action string) string {
	s := strings.NewReplacer(".", " ", "_", " ").Replace(action)
	if s == "" {
		return "Security event"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
