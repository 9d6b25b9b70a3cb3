// Package login runs a login from the password to the session: lockout
// before the password is checked, the risk decision after it, the
// challenges that decision asks for (the new-device email, a second factor),
// and the record of every attempt that the risk signals read back.
package login

import (
	"strings"
	"time"
)

// Outcomes of a login attempt, as stored and shown.
const (
	OutcomeSucceeded  = "succeeded"
	OutcomeFailed     = "failed"
	OutcomeChallenged = "challenged"
	OutcomeDenied     = "denied"
	OutcomeLocked     = "locked"
)

// Event is one login attempt.
type Event struct {
	ID             string
	AccountID      string // "" for an email without an account
	At             time.Time
	IP             string
	DeviceID       string
	Outcome        string
	Reasons        []string
	Score          int
	Country        string
	City           string
	Latitude       float64
	Longitude      float64
	HasCoordinates bool
	ASN            uint
}

// reasonWords says what each risk reason means, for emails and pages.
var reasonWords = map[string]string{
	"new_device":          "a new device",
	"new_ip":              "a new IP address",
	"new_country":         "a new country",
	"new_network":         "a new network",
	"impossible_travel":   "too far from your last login for the time since",
	"unusual_hour":        "an unusual hour for you",
	"recent_failures":     "after several wrong passwords",
	"credential_stuffing": "from an address trying many accounts",
	"many_ips":            "tried from many addresses",
	"signal_unavailable":  "we could not check where it came from",
	"restricted":          "logins to this account are paused by our security team",
}

// ReasonText joins reasons in words: "a new device, a new country".
func ReasonText(reasons []string) string {
	var words []string
	for _, r := range reasons {
		if w, ok := reasonWords[r]; ok {
			words = append(words, w)
		} else {
			words = append(words, strings.ReplaceAll(r, "_", " "))
		}
	}
	if len(words) == 0 {
		return "no particular reason"
	}
	return strings.Join(words, ", ")
}
