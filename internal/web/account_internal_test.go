package web

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/audit"
)

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/account":                    "/account",
		"/account/sessions?x=1&y=%2F": "/account/sessions?x=1&y=%2F",
		"":                            "",
		"account":                     "",
		"//evil.example":              "",
		"/\\evil.example":             "",
		"https://evil.example/":       "",
		"/\t/evil.example":            "",
		"/\n/evil.example":            "",
		"/ok\u2028":                   "",
		"/%2F%2Fevil.example":         "/%2F%2Fevil.example", // a path on this site
		"/\xff":                       "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestMaskCode(t *testing.T) {
	for code, want := range map[string]string{
		"":            "",
		"ABCD":        "A•••",
		"ABCDE":       "A••••",
		"BLUE-FALCON": "BL••••••••N",
		"Ärger über":  "Är•••••••r",
	} {
		if got := maskCode(code); got != want {
			t.Errorf("maskCode(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestActivityOf(t *testing.T) {
	rec := func(action string, data map[string]any) audit.Record {
		b, _ := json.Marshal(data)
		return audit.Record{Action: action, Actor: "user:usr_1", OccurredAt: time.Now(), IP: "192.0.2.1", Data: b}
	}
	byStaff := func(r audit.Record) audit.Record { r.Actor = "staff:stf_1"; return r }
	for _, tc := range []struct {
		rec          audit.Record
		what, detail string
		alert        bool
	}{
		{rec("account.registered", nil), "Account created", "", false},
		{rec("session.created", map[string]any{"aal": "aal2"}), "Logged in", "With a second factor.", false},
		{rec("session.revoked", map[string]any{"reason": "logout", "session_id": "ses_1", "count": 1}), "Logged out", "", false},
		{rec("session.revoked", map[string]any{"reason": "revoked_by_user", "session_id": "", "count": 3}), "Logged out 3 other sessions", "", false},
		{rec("session.revoked", map[string]any{"reason": "revoked_by_user", "session_id": "ses_2", "count": 1}), "Logged out a session", "", false},
		{rec("login.failed", map[string]any{"reason": "invalid_credentials"}), "Failed login", "Wrong password.", true},
		{rec("password.changed", map[string]any{"sessions_revoked": 2}), "Password changed", "2 sessions were logged out.", false},
		{rec("account.frozen", map[string]any{"reason": "frozen by the owner"}), "Account frozen", "Reason: frozen by the owner.", true},
		{byStaff(rec("account.frozen", map[string]any{"reason": "fraud ring 42 per case notes"})), "Account frozen", "By our security team.", true},
		{rec("mfa.totp_enabled", nil), "Authenticator app turned on", "", false},
		{rec("mfa.recovery_code_used", map[string]any{"left": 7}), "Recovery code used", "7 left.", false},
		{rec("mfa.passkey_removed", map[string]any{"name": "Phone"}), "Passkey removed", "Phone", true},
		{rec("device.trusted_now", nil), "Device trusted now", "", false},
		{rec("login.failed", map[string]any{"reason": "invalid_totp"}), "Failed login", "Wrong code from the authenticator app.", true},
		{rec("session.created", map[string]any{"aal": "aal1", "new_device": true, "reasons": []string{"new_device"}, "place": "Berlin, Germany"}),
			"Logged in", "From a new device. From Berlin, Germany.", false},
		{rec("session.created", map[string]any{"aal": "aal2", "new_device": false, "reasons": nil, "place": ""}), "Logged in", "With a second factor.", false},
		{rec("login.challenged", map[string]any{"reasons": []string{"new_device", "new_country"}, "requires": []string{"email", "second_factor"}, "place": "Lille, France"}),
			"Login asked for confirmation", "Needed the link in our email and a second factor. Why: a new device, a new country. From Lille, France.", false},
		{rec("login.challenged", map[string]any{"reasons": []string{"new_device"}, "requires": []string{"email"}, "place": "unknown place"}),
			"Login asked for confirmation", "Needed the link in our email. Why: a new device.", false},
		{rec("login.denied", map[string]any{"reasons": []string{"impossible_travel"}, "score": 60}),
			"Login refused as too risky", "Why: too far from your last login for the time since. The password was right.", true},
		{rec("login.locked", map[string]any{"lane": "untrusted", "until": "2026-05-01T10:04:05.123Z"}),
			"Logins paused after wrong attempts", "From new devices, until 10:04 UTC.", true},
		{rec("login.locked", map[string]any{"lane": "device:dev_1", "until": "2026-05-01T10:04:05Z"}),
			"Logins paused after wrong attempts", "From one of your devices, until 10:04 UTC.", true},
		{rec("login.device_confirmed", map[string]any{"device_id": "dev_1"}), "New device confirmed from the email link", "", false},
		{rec("device.forgotten", map[string]any{"device": "Chrome on Linux", "sessions_revoked": 1}), "Device removed", "Chrome on Linux. 1 session was logged out.", false},
		{rec("device.forgotten", map[string]any{"device": "Firefox on Windows", "sessions_revoked": 0}), "Device removed", "Firefox on Windows", false},
	} {
		got := activityOf(tc.rec)
		if got.What != tc.what || got.Detail != tc.detail || got.Alert != tc.alert || got.IP != "192.0.2.1" {
			t.Errorf("%s: got %+v", tc.rec.Action, got)
		}
	}
}
