// Package securitycenter judges how well an account is protected: a
// checklist of what the owner can turn on, each item with its live state and
// the page that fixes it, and an overall level. It is a pure function of the
// account's state, so the API, the pages and the tests agree.
package securitycenter

import (
	"slices"
	"time"
)

// State is what the checklist is computed from.
type State struct {
	EmailVerified     bool
	MFAEnabled        bool
	Passkeys          int
	RecoveryCodesLeft int
	AntiPhishingCode  bool
	AllowList         bool
	VerificationTier  int
	TopTier           int
	DevicesToReview   int // seen in the last 30 days and not yet looked at
	DevicesLast30Days int
	Frozen            bool
	Now               time.Time
}

// Item is one line of the checklist.
type Item struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Done   bool   `json:"ok"`
	Detail string `json:"detail"`
	// FixURL is the page that does it (a path), empty when done.
	FixURL string `json:"action_url,omitempty"`
	// Weight is what the item adds to the score when done.
	Weight int `json:"-"`
}

// Levels of protection.
const (
	LevelBasic  = "basic"
	LevelGood   = "good"
	LevelStrong = "strong"
)

// Report is the checklist and what it adds up to.
type Report struct {
	Level string `json:"level"`
	// Score is out of 100.
	Score int    `json:"score"`
	Items []Item `json:"items"`
}

// Assess builds the checklist. Two factors carry most of the weight: a
// second factor (without it a stolen password is enough) and the email (the
// channel every confirmation goes through). A level is reached only with its
// must-haves, whatever the score: "good" needs two-factor authentication,
// "strong" a passkey, the anti-phishing code and the allow-list too.
func Assess(s State) Report {
	plural := func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	}
	items := []Item{
		{ID: "email_verified", Title: "Email address confirmed", Done: s.EmailVerified, Weight: 10, FixURL: "/verify-email",
			Detail: "Every confirmation and security alert is sent there."},
		{ID: "two_factor", Title: "Two-factor authentication", Done: s.MFAEnabled, Weight: 30, FixURL: "/account/security",
			Detail: "A code from an app or a passkey is needed as well as your password."},
		{ID: "passkey", Title: "A passkey", Done: s.Passkeys > 0, Weight: 15, FixURL: "/account/security",
			Detail: "The strongest second factor: it cannot be phished."},
		{ID: "recovery_codes", Title: "Recovery codes left", Done: s.MFAEnabled && s.RecoveryCodesLeft >= 3, Weight: 10, FixURL: "/account/security/recovery-codes",
			Detail: "They let you in if you lose your phone."},
		{ID: "anti_phishing_code", Title: "Anti-phishing code", Done: s.AntiPhishingCode, Weight: 10, FixURL: "/account/anti-phishing",
			Detail: "Shown in every email from us, so a fake one stands out."},
		{ID: "allow_list", Title: "Withdrawal allow-list", Done: s.AllowList, Weight: 10, FixURL: "/addresses",
			Detail: "Withdrawals go only to addresses you confirmed, after a hold."},
		{ID: "verification", Title: "Identity verified", Done: s.TopTier > 0 && s.VerificationTier >= s.TopTier, Weight: 10, FixURL: "/verification",
			Detail: "Needed to withdraw more, and to reset a lost second factor."},
		{ID: "devices_reviewed", Title: "Recent devices reviewed", Done: s.DevicesToReview == 0, Weight: 5, FixURL: "/account/devices",
			Detail: "Remove any device you do not recognise."},
	}
	if s.MFAEnabled && s.RecoveryCodesLeft < 3 {
		items[3].Detail = "Only a few recovery codes are left: make new ones."
	}
	if s.DevicesToReview > 0 {
		items[7].Detail = plural(s.DevicesToReview, "1 device used in the last 30 days is waiting for a look.",
			"Devices used in the last 30 days are waiting for a look.")
	}
	score := 0
	for i := range items {
		if items[i].Done {
			score += items[i].Weight
			items[i].FixURL = ""
		}
	}
	done := map[string]bool{}
	for _, it := range items {
		done[it.ID] = it.Done
	}
	level := LevelBasic
	for _, l := range Levels {
		if !s.Frozen && score >= l.Score && !slices.ContainsFunc(l.MustHave, func(id string) bool { return !done[id] }) {
			level = l.Level
		}
	}
	return Report{Level: level, Score: score, Items: items}
}

// Requirement is what a level above basic needs: a score, and items that
// no score can stand in for.
type Requirement struct {
	Level    string
	Score    int
	MustHave []string // item ids
}

// Levels are the levels above basic, lowest first: the one rule the
// checklist, the pages and the API all follow.
var Levels = []Requirement{
	{Level: LevelGood, Score: 50, MustHave: []string{"email_verified", "two_factor"}},
	{Level: LevelStrong, Score: 80, MustHave: []string{"email_verified", "two_factor", "passkey", "anti_phishing_code", "allow_list"}},
}

// Next is the requirement of the level above level, and false at the top.
func Next(level string) (Requirement, bool) {
	if level == LevelBasic {
		return Levels[0], true
	}
	for i, l := range Levels[:len(Levels)-1] {
		if l.Level == level {
			return Levels[i+1], true
		}
	}
	return Requirement{}, false
}
