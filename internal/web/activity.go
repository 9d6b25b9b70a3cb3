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

	switch rec.Action {
	case "account.registered":
		row.What = "Account created"
	case "account.email_verified":
		row.What = "Email address confirmed"
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
	case "login.device_confirmed":
		row.What = "New device confirmed from the email link"
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
	case "password.reset_requested":
		row.What = "Password reset link requested"
	case "anti_phishing_code.set":
		row.What = "Anti-phishing code changed"
	case "account.frozen":
		row.What, row.Alert = "Account frozen", true
		// Staff write their reason as an internal note: the user sees only
		// their own words.
		if reason := str("reason"); reason != "" && !strings.HasPrefix(rec.Actor, "staff:") && !strings.HasPrefix(rec.Actor, "admin_key:") {
			row.Detail = "Reason: " + reason + "."
		} else if reason != "" {
			row.Detail = "By our security team."
		}
	case "mfa.totp_enabled":
		row.What = "Authenticator app turned on"
	case "mfa.totp_disabled":
		row.What, row.Alert = "Authenticator app turned off", true
	case "mfa.recovery_codes_regenerated":
		row.What = "New recovery codes made"
	case "mfa.recovery_code_used":
		row.What = "Recovery code used"
		row.Detail = fmt.Sprintf("%d left.", num("left"))
	case "mfa.passkey_added":
		row.What = "Passkey added"
		row.Detail = str("name")
	case "mfa.passkey_removed":
		row.What, row.Alert = "Passkey removed", true
		row.Detail = str("name")
	case "mfa.step_up":
		row.What = "Identity confirmed with a second factor"
	case "account.unfrozen":
		row.What = "Account unfrozen by support"
	case "verification.personal_info_saved":
		row.What = "Personal information saved for identity verification"
	case "verification.document_added":
		row.What = "Document uploaded for identity verification"
		row.Detail = strings.ReplaceAll(str("kind"), "_", " ")
	case "verification.document_viewed":
		row.What = "A reviewer looked at one of your identity documents"
	case "verification.submitted":
		row.What = "Identity verification sent for review"
	case "verification.approved":
		row.What = "Identity verified"
	case "verification.rejected":
		row.What, row.Alert = "Identity verification not approved", true
		row.Detail = str("reason")
	case "verification.resubmission_requested":
		row.What = "Identity verification needs more from you"
		row.Detail = str("reason")
	case "verification.documents_purged":
		row.What = "Identity documents deleted after the retention period"
	case "mfa_reset.requested":
		row.What, row.Alert = "Removal of two-factor authentication requested", true
	case "mfa_reset.submitted":
		row.What = "Two-factor reset sent for review"
	case "mfa_reset.approved":
		row.What, row.Alert = "Two-factor reset approved: waiting period started", true
	case "mfa_reset.rejected":
		row.What = "Two-factor reset not approved"
	case "mfa_reset.cancelled":
		row.What = "Two-factor reset cancelled"
		row.Detail = str("why")
	case "mfa_reset.completed":
		row.What, row.Alert = "Two-factor authentication removed after the reset", true
	case "address.added":
		row.What, row.Alert = "Withdrawal address added", true
		row.Detail = str("asset") + " on " + str("network") + ": " + str("address")
	case "address.confirmed":
		row.What = "Withdrawal address confirmed"
	case "address.deleted":
		row.What = "Withdrawal address deleted"
		row.Detail = str("address")
	case "allow_list.enabled":
		row.What = "Withdrawal allow-list turned on"
	case "allow_list.disable_requested":
		row.What, row.Alert = "Turning off the withdrawal allow-list was requested", true
	case "allow_list.disable_confirmed":
		row.What, row.Alert = "Turning off the withdrawal allow-list was confirmed", true
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
	case "withdrawal.held":
		row.What = "Withdrawal held for a review by our team"
	case "withdrawal.approved":
		row.What = "Withdrawal approved"
	case "withdrawal.rejected":
		row.What, row.Alert = "Withdrawal not approved", true
		row.Detail = str("reason")
	case "withdrawal.completed":
		row.What = "Withdrawal sent"
		row.Detail = "Transaction " + str("txid")
	case "withdrawal.cancelled":
		row.What = "Withdrawal cancelled"
		row.Detail = str("why")
	case "withdrawal.expired":
		row.What = "Withdrawal expired before it was confirmed"
	case "account.restricted":
		row.What, row.Alert = "Some actions on your account were paused", true
		row.Detail = "Paused: " + str("kind") + "."
	case "account.restriction_lifted":
		row.What = "A pause on your account was lifted"
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
