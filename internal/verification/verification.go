// Package verification holds the rules of identity verification (KYC): the
// tiers and what each requires, the states a verification moves through,
// and the checks on the personal information a user gives. It is free of
// HTTP, SQL and files: documents are checked by package document.
package verification

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardenhq/warden/internal/geoip"
)

// Requirements a tier may ask for.
const (
	RequireEmailVerified = "email_verified"
	RequirePersonalInfo  = "personal_info"
	RequireIDDocument    = "id_document"
	RequireSelfie        = "selfie"
)

// Tier is a level of verification and the withdrawal limits it allows, in
// the platform's reference currency's smallest unit (cents, say).
type Tier struct {
	Level    int
	Name     string
	Requires []string
	// PerTransaction and Rolling24h are the limits; 0 means no withdrawals.
	PerTransaction int64
	Rolling24h     int64
}

// DefaultTiers: 0 = email verified (no withdrawals), 1 = personal info,
// 2 = government ID and selfie reviewed.
func DefaultTiers() []Tier {
	return []Tier{
		{Level: 0, Name: "Email verified", Requires: []string{RequireEmailVerified}},
		{Level: 1, Name: "Personal information", Requires: []string{RequireEmailVerified, RequirePersonalInfo},
			PerTransaction: 1_000_00, Rolling24h: 2_000_00},
		{Level: 2, Name: "Identity verified", Requires: []string{RequireEmailVerified, RequirePersonalInfo, RequireIDDocument, RequireSelfie},
			PerTransaction: 50_000_00, Rolling24h: 100_000_00},
	}
}

// Statuses of a verification.
const (
	StatusNotStarted            = "not_started"
	StatusInProgress            = "in_progress"
	StatusPendingReview         = "pending_review"
	StatusApproved              = "approved"
	StatusRejected              = "rejected"
	StatusResubmissionRequested = "resubmission_requested"
)

// Events that move a verification.
const (
	EventEdit                = "edit"   // personal info saved, a document or selfie uploaded
	EventSubmit              = "submit" // the user asks for review
	EventApprove             = "approve"
	EventReject              = "reject"
	EventRequestResubmission = "request_resubmission"
)

// ErrTransition is a move the state machine does not allow.
var ErrTransition = errors.New("verification: not allowed in this state")

// transitions lists, for each status, where each event leads. A final
// decision (approved, rejected) is changed only by a new verification.
var transitions = map[string]map[string]string{
	StatusNotStarted:            {EventEdit: StatusInProgress},
	StatusInProgress:            {EventEdit: StatusInProgress, EventSubmit: StatusPendingReview},
	StatusPendingReview:         {EventApprove: StatusApproved, EventReject: StatusRejected, EventRequestResubmission: StatusResubmissionRequested},
	StatusResubmissionRequested: {EventEdit: StatusInProgress},
}

// Next is where event leads from status, or ErrTransition.
func Next(status, event string) (string, error) {
	if to, ok := transitions[status][event]; ok {
		return to, nil
	}
	return status, fmt.Errorf("%w: %s from %s", ErrTransition, event, status)
}

// Missing lists what tier still needs that have does not.
func Missing(tier Tier, have []string) []string {
	var out []string
	for _, r := range tier.Requires {
		if !slices.Contains(have, r) {
			out = append(out, r)
		}
	}
	return out
}

// Address is where the person lives.
type Address struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code,omitempty"`
	Region     string `json:"region,omitempty"`
}

// PersonalInfo is what tier 1 asks for.
type PersonalInfo struct {
	LegalName   string  `json:"legal_name"`
	DateOfBirth string  `json:"date_of_birth"` // YYYY-MM-DD
	Country     string  `json:"country"`       // ISO 3166-1 alpha-2
	Address     Address `json:"address"`
}

// FieldError is one invalid field, named as in the JSON.
type FieldError struct {
	Field, Code, Detail string
}

// Normalize trims spaces and upper-cases the country code.
func (p PersonalInfo) Normalize() PersonalInfo {
	trim := strings.TrimSpace
	p.LegalName, p.DateOfBirth, p.Country = strings.Join(strings.Fields(p.LegalName), " "), trim(p.DateOfBirth), strings.ToUpper(trim(p.Country))
	p.Address = Address{Line1: trim(p.Address.Line1), Line2: trim(p.Address.Line2), City: trim(p.Address.City),
		PostalCode: trim(p.Address.PostalCode), Region: trim(p.Address.Region)}
	return p
}

// Validate checks normalized information: a name of letters (any script)
// with spaces, hyphens, apostrophes and dots; a real date of birth making the
// person at least adultAge years old at now (and not over 130); a known
// country; an address with a first line and a city. Text fields must be
// printable and of sane length.
func (p PersonalInfo) Validate(now time.Time, adultAge int) []FieldError {
	var errs []FieldError
	bad := func(field, code, detail string) { errs = append(errs, FieldError{field, code, detail}) }
	switch n := utf8.RuneCountInString(p.LegalName); {
	case n == 0:
		bad("legal_name", "required", "enter your full legal name as on your ID")
	case n < 2 || n > 200:
		bad("legal_name", "length", "2 to 200 characters")
	case !nameRunes(p.LegalName):
		bad("legal_name", "invalid", "use letters, spaces, hyphens, apostrophes and dots only")
	}
	if p.DateOfBirth == "" {
		bad("date_of_birth", "required", "enter your date of birth as YYYY-MM-DD")
	} else if dob, err := time.Parse(time.DateOnly, p.DateOfBirth); err != nil {
		bad("date_of_birth", "invalid", "use the form YYYY-MM-DD, e.g. 1990-04-23")
	} else {
		switch age := Age(dob, now); {
		case dob.After(now):
			bad("date_of_birth", "in_future", "a date of birth cannot be in the future")
		case age < adultAge:
			bad("date_of_birth", "too_young", fmt.Sprintf("you must be at least %d years old", adultAge))
		case age > 130:
			bad("date_of_birth", "invalid", "check the year")
		}
	}
	if p.Country == "" {
		bad("country", "required", "choose your country of residence")
	} else if !geoip.IsCountry(p.Country) {
		bad("country", "unknown_country", "use an ISO 3166-1 two-letter country code, e.g. DE")
	}
	text := func(field, value string, required bool, max int) {
		switch {
		case value == "" && required:
			bad(field, "required", "this is required")
		case utf8.RuneCountInString(value) > max:
			bad(field, "too_long", fmt.Sprintf("at most %d characters", max))
		case strings.ContainsFunc(value, func(r rune) bool { return !unicode.IsPrint(r) }):
			bad(field, "invalid", "use ordinary text")
		}
	}
	text("address.line1", p.Address.Line1, true, 200)
	text("address.line2", p.Address.Line2, false, 200)
	text("address.city", p.Address.City, true, 100)
	text("address.postal_code", p.Address.PostalCode, false, 20)
	text("address.region", p.Address.Region, false, 100)
	return errs
}

func nameRunes(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) && r != ' ' && r != '-' && r != '\'' && r != '’' && r != '.'
	})
}

// Age is the whole years from dob to now, by calendar dates (a birthday on
// 29 February counts on 1 March in other years).
func Age(dob, now time.Time) int {
	y1, m1, d1 := dob.Date()
	y2, m2, d2 := now.UTC().Date()
	age := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		age--
	}
	return age
}
