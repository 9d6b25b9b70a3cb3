// Package risk judges a login whose password was right: allow it, challenge
// it (and with what), or deny it, with the reasons. It is a pure function of
// the signals gathered about the login and the account's history, so every
// rule is table-tested and every decision can be explained to the user and
// to staff.
//
// It fails safe: a signal that could not be computed (a GeoIP lookup error,
// a timeout reading history) challenges the login; it never lets it through
// on the benefit of the doubt.
package risk

import (
	"slices"
	"time"

	"github.com/wardenhq/warden/internal/geoip"
)

// Outcomes of a decision.
const (
	Allow     = "allow"
	Challenge = "challenge"
	Deny      = "deny"
)

// Reason codes, as they appear in the API's reasons and in the activity.
const (
	ReasonNewDevice          = "new_device"
	ReasonNewIP              = "new_ip"
	ReasonNewCountry         = "new_country"
	ReasonNewNetwork         = "new_network"
	ReasonImpossibleTravel   = "impossible_travel"
	ReasonUnusualHour        = "unusual_hour"
	ReasonRecentFailures     = "recent_failures"
	ReasonCredentialStuffing = "credential_stuffing"
	ReasonManyIPs            = "many_ips"
	ReasonSignalUnavailable  = "signal_unavailable"
)

// Place is where a login came from, as far as GeoIP can tell.
type Place struct {
	Country        string // ISO 3166-1 alpha-2; "" when unknown
	Latitude       float64
	Longitude      float64
	HasCoordinates bool
	ASN            uint // the network's autonomous system; 0 when unknown
}

// PastLogin is an earlier successful login of the account.
type PastLogin struct {
	At    time.Time
	IP    string
	Place Place
}

// Signals is everything known about a login and its account when the
// password has just proven right.
type Signals struct {
	Now time.Time
	IP  string
	// Place is this login's place; PlaceKnown is false when GeoIP is off or
	// found nothing (those signals are then skipped, not failed).
	Place      Place
	PlaceKnown bool
	// TrustedDevice: the device token names a device of this account that
	// completed every check of an earlier login.
	TrustedDevice bool
	// History holds the account's recent successful logins, newest first.
	History []PastLogin
	// RecentFailures counts wrong passwords or codes on the account in the
	// failure window, from any device.
	RecentFailures int
	// AccountsFromIP counts distinct accounts this IP failed to log in to
	// in the failure window (credential stuffing).
	AccountsFromIP int
	// IPsOnAccount counts distinct IPs that tried this account in the window.
	IPsOnAccount int
	// FirstLogin: the account has never logged in (no device at all), so a
	// new device is no news. Accounts that logged in before login history
	// was kept still have devices: this is not "no history".
	FirstLogin bool
	// Unavailable names signals that could not be computed (lookup error,
	// timeout): the login is challenged whatever else they say.
	Unavailable []string
}

// Config holds the weights and thresholds; the zero value is not useful,
// use DefaultConfig and override from configuration.
type Config struct {
	// Weights add up to the score.
	NewIP, NewCountry, NewNetwork, ImpossibleTravel, UnusualHour, RecentFailures, CredentialStuffing, ManyIPs int
	// ChallengeAt and DenyAt are the score thresholds.
	ChallengeAt, DenyAt int
	// MaxTravelKmh above which the move from the last login is impossible.
	MaxTravelKmh float64
	// MinTravelKm: moves shorter than this never count as impossible travel,
	// whatever the speed (GeoIP places are approximate, a city or more off).
	MinTravelKm float64
	// RecentFailuresMin, StuffingMinAccounts and ManyIPsMin start those
	// signals: each fires when its count is at least the threshold.
	RecentFailuresMin, StuffingMinAccounts, ManyIPsMin int
	// UsualHourMinLogins is how many past logins it takes to know an
	// account's usual hours; UnusualHourSpan is how far (in hours, circular)
	// from every past login an hour must be to count as unusual: more than
	// UnusualHourSpan hours from each.
	UsualHourMinLogins int
	UnusualHourSpan    int
}

// DefaultConfig is a sensible start: a new device alone asks for the email
// confirmation; a new country or network adds to it; impossible travel or
// credential stuffing on top of failures denies.
func DefaultConfig() Config {
	return Config{
		NewIP: 10, NewCountry: 30, NewNetwork: 15, ImpossibleTravel: 60, UnusualHour: 10,
		RecentFailures: 20, CredentialStuffing: 50, ManyIPs: 25,
		ChallengeAt: 30, DenyAt: 100,
		MaxTravelKmh: 1000, MinTravelKm: 300,
		RecentFailuresMin: 3, StuffingMinAccounts: 5, ManyIPsMin: 5,
		UsualHourMinLogins: 10, UnusualHourSpan: 3,
	}
}

// SetWeight sets the weight of a reason by its code; unknown codes are
// ignored (configuration refuses them before this).
func (c *Config) SetWeight(reason string, w int) {
	switch reason {
	case ReasonNewIP:
		c.NewIP = w
	case ReasonNewCountry:
		c.NewCountry = w
	case ReasonNewNetwork:
		c.NewNetwork = w
	case ReasonImpossibleTravel:
		c.ImpossibleTravel = w
	case ReasonUnusualHour:
		c.UnusualHour = w
	case ReasonRecentFailures:
		c.RecentFailures = w
	case ReasonCredentialStuffing:
		c.CredentialStuffing = w
	case ReasonManyIPs:
		c.ManyIPs = w
	}
}

// Decision is the verdict on a login.
type Decision struct {
	Outcome string
	// Reasons lists every signal that fired, in a fixed order.
	Reasons []string
	Score   int
	// NeedsDeviceConfirmation: the device is not trusted, so the owner must
	// confirm the login from their email (a challenge with method "email").
	NeedsDeviceConfirmation bool
}

// Evaluate decides. An untrusted device always needs the email
// confirmation; a score at ChallengeAt challenges even a trusted device; at
// DenyAt the login is refused.
func Evaluate(cfg Config, s Signals) Decision {
	var d Decision
	add := func(reason string, weight int) {
		d.Reasons = append(d.Reasons, reason)
		d.Score += weight
	}
	if !s.TrustedDevice {
		d.Reasons = append(d.Reasons, ReasonNewDevice)
		// An account's very first login has no device to compare with:
		// the email address was just proven by its verification link.
		d.NeedsDeviceConfirmation = !s.FirstLogin
	}
	if len(s.History) > 0 && !slices.ContainsFunc(s.History, func(p PastLogin) bool { return p.IP == s.IP }) {
		add(ReasonNewIP, cfg.NewIP)
	}
	if s.PlaceKnown && len(s.History) > 0 {
		if s.Place.Country != "" && !seen(s.History, func(p Place) bool { return p.Country == s.Place.Country }) {
			add(ReasonNewCountry, cfg.NewCountry)
		}
		if s.Place.ASN != 0 && !seen(s.History, func(p Place) bool { return p.ASN == s.Place.ASN }) {
			add(ReasonNewNetwork, cfg.NewNetwork)
		}
		if impossibleTravel(cfg, s) {
			add(ReasonImpossibleTravel, cfg.ImpossibleTravel)
		}
	}
	if unusualHour(cfg, s) {
		add(ReasonUnusualHour, cfg.UnusualHour)
	}
	// Failures and addresses on the account are what anyone guessing from
	// elsewhere produces at will: on a device that passed every check before
	// they are reasons (the owner is told) but weigh nothing, or an attack
	// would lock the owner out through the risk score instead of the lanes.
	pressure := func(reason string, weight int) {
		if s.TrustedDevice {
			weight = 0
		}
		add(reason, weight)
	}
	if s.RecentFailures >= cfg.RecentFailuresMin {
		pressure(ReasonRecentFailures, cfg.RecentFailures)
	}
	if s.AccountsFromIP >= cfg.StuffingMinAccounts {
		// Someone stuffing credentials behind the owner's office or carrier
		// NAT must not lock the owner's trusted device out either.
		pressure(ReasonCredentialStuffing, cfg.CredentialStuffing)
	}
	if s.IPsOnAccount >= cfg.ManyIPsMin {
		pressure(ReasonManyIPs, cfg.ManyIPs)
	}
	if len(s.Unavailable) > 0 {
		d.Reasons = append(d.Reasons, ReasonSignalUnavailable)
	}
	switch {
	case d.Score >= cfg.DenyAt:
		d.Outcome = Deny
	case d.Score >= cfg.ChallengeAt || d.NeedsDeviceConfirmation || len(s.Unavailable) > 0:
		d.Outcome = Challenge
	default:
		d.Outcome = Allow
	}
	if d.Reasons == nil {
		d.Reasons = []string{}
	}
	return d
}

// seen tells whether any past login with a known place matches.
func seen(history []PastLogin, match func(Place) bool) bool {
	for _, p := range history {
		if match(p.Place) {
			return true
		}
	}
	return false
}

// impossibleTravel compares with the newest past login that has
// coordinates: covering the distance since then would take a speed above
// MaxTravelKmh. GeoIP places are approximate, so distances under
// MinTravelKm (300 km by default, a typical city-level error) never count.
func impossibleTravel(cfg Config, s Signals) bool {
	if !s.Place.HasCoordinates {
		return false
	}
	for _, p := range s.History {
		if !p.Place.HasCoordinates {
			continue
		}
		km := geoip.DistanceKm(p.Place.Latitude, p.Place.Longitude, s.Place.Latitude, s.Place.Longitude)
		if km < cfg.MinTravelKm {
			return false
		}
		hours := s.Now.Sub(p.At).Hours()
		if hours <= 0 {
			return true
		}
		return km/hours > cfg.MaxTravelKmh
	}
	return false
}

// unusualHour: with enough history, a login hour (UTC) more than
// UnusualHourSpan hours from every past login's hour.
func unusualHour(cfg Config, s Signals) bool {
	if len(s.History) < cfg.UsualHourMinLogins {
		return false
	}
	h := s.Now.UTC().Hour()
	for _, p := range s.History {
		diff := h - p.At.UTC().Hour()
		if diff < 0 {
			diff = -diff
		}
		if diff > 12 {
			diff = 24 - diff
		}
		if diff <= cfg.UnusualHourSpan {
			return false
		}
	}
	return true
}
