package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/wardenhq/warden/internal/mfa"
	"github.com/wardenhq/warden/internal/securitycenter"
)

// The security center (/account/security-center) is the user's home after
// login: package securitycenter's checklist of what protects the account,
// each item with its live state and a one-click way to fix it, and the
// level it adds up to, with a meter. securitycenter.Gather reads the state
// from the same services for GET /v1/security, so the page and the API
// agree. It works without JavaScript: fixes are links to the page that
// makes them, or (the allow-list) a form that makes it at once.

const securityCenterPath = "/account/security-center"

func (p *Pages) registerSecurityPages(mux *http.ServeMux) {
	mux.HandleFunc("GET "+securityCenterPath, p.signedIn(userSignIn, p.securityCenterPage))
	mux.Handle("POST "+driftPath, p.post(p.signedIn(userSignIn, p.checkDrift)))
}

// securitySources are the services the checklist reads, as configured.
func (p *Pages) securitySources() securitycenter.Sources {
	src := securitycenter.Sources{Factors: p.mfa, Devices: p.sessions}
	if p.withdrawals != nil {
		src.Withdrawals, src.Tiers = p.withdrawals, p.withdrawals.Tiers
	}
	if p.verification != nil {
		src.Tiers = p.verification.Policy.Tiers
	}
	return src
}

// checkItem is an item of the checklist as the page shows it.
type checkItem struct {
	securitycenter.Item
	// State says the item's live state in a few words: "7 of 10 left".
	State string
	// FixLabel names the fix; FixPost makes it a button posting to FixURL
	// (the change is made at once) rather than a link to the page that
	// makes it.
	FixLabel string
	FixPost  bool
}

// levelStep is one of the levels, in order, for the level's steps.
type levelStep struct {
	Name    string
	Current bool
	Reached bool
}

type securityCenterData struct {
	Level      string // basic, good or strong
	LevelName  string // Basic, Good, Strong
	LevelBadge string
	Score      int
	Steps      []levelStep
	// Next says what the next level needs, "" at the top.
	Next   string
	Items  []checkItem
	Frozen bool
}

var levelNames = map[string]string{
	securitycenter.LevelBasic: "Basic", securitycenter.LevelGood: "Good", securitycenter.LevelStrong: "Strong",
}

var levelBadges = map[string]string{
	securitycenter.LevelBasic: "warning", securitycenter.LevelGood: "info", securitycenter.LevelStrong: "success",
}

var fixLabels = map[string]string{
	"email_verified":     "Confirm your email",
	"two_factor":         "Turn on two-factor",
	"passkey":            "Add a passkey",
	"recovery_codes":     "Make new codes",
	"anti_phishing_code": "Set a code",
	"allow_list":         "Turn on the allow-list",
	"verification":       "Verify your identity",
	"devices_reviewed":   "Review devices",
}

func (p *Pages) securityCenterPage(w http.ResponseWriter, r *http.Request, u *member) {
	a, err := p.freshAccount(r, u)
	if err != nil {
		p.internalError(w, r, "read account", err)
		return
	}
	st, err := securitycenter.Gather(r.Context(), p.securitySources(), a, u.Session.DeviceID, p.now())
	if err != nil {
		p.internalError(w, r, "read the security state", err)
		return
	}
	p.Render(w, r, http.StatusOK, "security-center", p.securityCenterDataOf(st))
}

func (p *Pages) securityCenterDataOf(st securitycenter.State) securityCenterData {
	rep := securitycenter.Assess(st)
	d := securityCenterData{Level: rep.Level, LevelName: levelNames[rep.Level], LevelBadge: levelBadges[rep.Level],
		Score: rep.Score, Frozen: st.Frozen}
	reached := true
	for _, l := range []string{securitycenter.LevelBasic, securitycenter.LevelGood, securitycenter.LevelStrong} {
		d.Steps = append(d.Steps, levelStep{Name: levelNames[l], Current: l == rep.Level, Reached: reached})
		if l == rep.Level {
			reached = false
		}
	}
	done := map[string]bool{}
	for _, it := range rep.Items {
		done[it.ID] = it.Done
		ci := checkItem{Item: it, State: itemState(it.ID, st)}
		if !it.Done {
			ci.FixLabel = fixLabels[it.ID]
			switch it.ID {
			case "recovery_codes":
				if !st.MFAEnabled {
					// Codes come with the second factor.
					ci.FixURL, ci.FixLabel = securityPath, "Turn on two-factor first"
				}
			case "allow_list":
				if p.withdrawals != nil {
					ci.FixURL, ci.FixPost = "/allow-list/on", true
				}
			}
			// A fix whose pages are not served here has no link.
			if (it.ID == "allow_list" && p.withdrawals == nil) || (it.ID == "verification" && p.verification == nil) {
				ci.FixURL, ci.FixLabel = "", ""
			}
		}
		d.Items = append(d.Items, ci)
	}
	d.Next = nextLevelWords(rep, st, done)
	return d
}

// itemState says an item's live state in a few words.
func itemState(id string, st securitycenter.State) string {
	onOff := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	switch id {
	case "email_verified":
		return onOff(st.EmailVerified, "Confirmed", "Not confirmed")
	case "two_factor":
		return onOff(st.MFAEnabled, "On", "Off")
	case "passkey":
		return onOff(st.Passkeys > 0, count(st.Passkeys, "passkey", "passkeys"), "None")
	case "recovery_codes":
		if !st.MFAEnabled {
			return "Two-factor is off"
		}
		return fmt.Sprintf("%d of %d left", st.RecoveryCodesLeft, mfa.RecoveryCodeCount)
	case "anti_phishing_code":
		return onOff(st.AntiPhishingCode, "Set", "Not set")
	case "allow_list":
		return onOff(st.AllowList, "On", "Off")
	case "verification":
		return fmt.Sprintf("Tier %d of %d", st.VerificationTier, st.TopTier)
	case "devices_reviewed":
		s := count(st.DevicesLast30Days, "device", "devices") + " in the last 30 days"
		if st.DevicesToReview > 0 {
			s += ", " + fmt.Sprint(st.DevicesToReview) + " new"
		}
		return s
	}
	return ""
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// nextSteps say what to do for an item that a level needs.
var nextSteps = map[string]string{
	"email_verified":     "confirm your email address",
	"two_factor":         "turn on two-factor authentication",
	"passkey":            "add a passkey",
	"anti_phishing_code": "set an anti-phishing code",
	"allow_list":         "turn on the withdrawal allow-list",
}

// nextLevelWords says what the next level needs (securitycenter.Assess's
// must-haves, and the score), "" at the top.
func nextLevelWords(rep securitycenter.Report, st securitycenter.State, done map[string]bool) string {
	if st.Frozen {
		return "Your account is frozen, so it counts as basic whatever is on: support unfreezes it once they have checked it is you."
	}
	req, ok := securitycenter.Next(rep.Level)
	if !ok {
		return ""
	}
	next, score := req.Level, req.Score
	var missing []string   // the next level's must-haves not done yet
	projected := rep.Score // once the must-haves are done
	for _, id := range req.MustHave {
		if !done[id] {
			missing = append(missing, nextSteps[id])
			projected += weightOf(rep, id)
			if id == "two_factor" && !done["recovery_codes"] {
				projected += weightOf(rep, "recovery_codes") // they come with it
			}
		}
	}
	if len(missing) == 0 {
		return fmt.Sprintf("To reach %s, reach a score of %d with more of the list.", next, score)
	}
	s := "To reach " + next + ", " + joinWords(missing)
	if projected < score {
		s += fmt.Sprintf(", and reach a score of %d with more of the list", score)
	}
	return s + "."
}

func weightOf(rep securitycenter.Report, id string) int {
	for _, it := range rep.Items {
		if it.ID == id {
			return it.Weight
		}
	}
	return 0
}

// joinWords lists words in a sentence: "a", "a and b", "a, b and c".
func joinWords(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
