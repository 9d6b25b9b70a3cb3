package risk

import (
	"slices"
	"testing"
	"time"
)

var (
	now     = time.Date(2026, 11, 24, 14, 0, 0, 0, time.UTC)
	london  = Place{Country: "GB", Latitude: 51.5142, Longitude: -0.0931, HasCoordinates: true, ASN: 2856}
	paris   = Place{Country: "FR", Latitude: 48.8566, Longitude: 2.3522, HasCoordinates: true, ASN: 3215}
	sydney  = Place{Country: "AU", Latitude: -33.8688, Longitude: 151.2093, HasCoordinates: true, ASN: 1221}
	reading = Place{Country: "GB", Latitude: 51.4543, Longitude: -0.9781, HasCoordinates: true, ASN: 2856}
)

// usual is ten logins from London, one a day at 13:00–15:00 UTC, from one IP.
func usual() []PastLogin {
	var h []PastLogin
	for i := range 10 {
		h = append(h, PastLogin{At: now.Add(-time.Duration(i+1) * 24 * time.Hour).Add(time.Duration(i%3-1) * time.Hour), IP: "81.2.69.10", Place: london})
	}
	return h
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	base := func(edit func(*Signals)) Signals {
		s := Signals{Now: now, IP: "81.2.69.10", Place: london, PlaceKnown: true, TrustedDevice: true, History: usual()}
		if edit != nil {
			edit(&s)
		}
		return s
	}
	cases := []struct {
		name    string
		signals Signals
		outcome string
		reasons []string
	}{
		{"the usual login", base(nil), Allow, []string{}},
		{"first login ever: nothing to compare the device with", Signals{Now: now, IP: "81.2.69.10", FirstLogin: true}, Allow, []string{ReasonNewDevice}},
		{"no history kept yet, but devices known: confirm", Signals{Now: now, IP: "81.2.69.10"}, Challenge, []string{ReasonNewDevice}},
		{"new device, usual place", base(func(s *Signals) { s.TrustedDevice = false }), Challenge, []string{ReasonNewDevice}},
		{"new IP in the same city", base(func(s *Signals) { s.IP = "81.2.69.11" }), Allow, []string{ReasonNewIP}},
		{"nearby town, same network", base(func(s *Signals) { s.IP = "81.2.70.1"; s.Place = reading }), Allow, []string{ReasonNewIP}},
		{"new country, after a day: plausible travel", base(func(s *Signals) { s.IP = "2.2.2.2"; s.Place = paris }),
			Challenge, []string{ReasonNewIP, ReasonNewCountry, ReasonNewNetwork}},
		{"Sydney an hour after London", base(func(s *Signals) {
			s.IP = "1.1.1.1"
			s.Place = sydney
			s.History = append([]PastLogin{{At: now.Add(-time.Hour), IP: "81.2.69.10", Place: london}}, s.History...)
		}), Deny, []string{ReasonNewIP, ReasonNewCountry, ReasonNewNetwork, ReasonImpossibleTravel}},
		{"Sydney two days after London: a flight", base(func(s *Signals) {
			s.IP = "1.1.1.1"
			s.Place = sydney
			s.History = []PastLogin{{At: now.Add(-48 * time.Hour), IP: "81.2.69.10", Place: london}}
		}), Challenge, []string{ReasonNewIP, ReasonNewCountry, ReasonNewNetwork}},
		{"no GeoIP database: place signals off, not failed", base(func(s *Signals) { s.PlaceKnown = false; s.Place = Place{} }), Allow, []string{}},
		{"GeoIP lookup failed: fail safe", base(func(s *Signals) { s.Unavailable = []string{"geoip"} }), Challenge, []string{ReasonSignalUnavailable}},
		{"3 in the morning for a 2-pm user", base(func(s *Signals) { s.Now = now.Add(-11 * time.Hour) }), Allow, []string{ReasonUnusualHour}},
		{"unusual hour needs history", base(func(s *Signals) { s.Now = now.Add(-11 * time.Hour); s.History = s.History[:3] }), Allow, []string{}},
		{"after failures", base(func(s *Signals) { s.RecentFailures = 3 }), Allow, []string{ReasonRecentFailures}},
		// Failures and addresses on the account are an attacker's to raise:
		// on a trusted device they are told, never held against the owner.
		{"after failures, from a new IP", base(func(s *Signals) { s.RecentFailures = 4; s.IP = "9.9.9.9" }), Allow, []string{ReasonNewIP, ReasonRecentFailures}},
		{"after failures, from a new device", base(func(s *Signals) { s.RecentFailures = 4; s.IP = "9.9.9.9"; s.TrustedDevice = false }),
			Challenge, []string{ReasonNewDevice, ReasonNewIP, ReasonRecentFailures}},
		{"the owner on a trusted device during a 500-guess attack from 50 IPs", base(func(s *Signals) { s.RecentFailures, s.IPsOnAccount = 500, 50 }),
			Allow, []string{ReasonRecentFailures, ReasonManyIPs}},
		// On a trusted device what others do from the same address (an
		// office or carrier NAT) is told, but does not lock the owner out.
		{"credential stuffing IP, trusted device", base(func(s *Signals) { s.AccountsFromIP = 5; s.IP = "9.9.9.9" }), Allow, []string{ReasonNewIP, ReasonCredentialStuffing}},
		{"credential stuffing IP, new device", base(func(s *Signals) { s.AccountsFromIP = 5; s.IP = "9.9.9.9"; s.TrustedDevice = false }),
			Challenge, []string{ReasonNewDevice, ReasonNewIP, ReasonCredentialStuffing}},
		{"stuffing IP with failures on the account, many IPs", base(func(s *Signals) {
			s.AccountsFromIP, s.RecentFailures, s.IPsOnAccount, s.IP, s.TrustedDevice = 40, 10, 8, "9.9.9.9", false
		}), Deny, []string{ReasonNewDevice, ReasonNewIP, ReasonRecentFailures, ReasonCredentialStuffing, ReasonManyIPs}},
		{"stuffing IP on a trusted device, with failures and many IPs", base(func(s *Signals) {
			s.AccountsFromIP, s.RecentFailures, s.IPsOnAccount, s.IP = 40, 10, 8, "9.9.9.9"
		}), Allow, []string{ReasonNewIP, ReasonRecentFailures, ReasonCredentialStuffing, ReasonManyIPs}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			d := Evaluate(DefaultConfig(), c.signals)
			if d.Outcome != c.outcome || !slices.Equal(d.Reasons, c.reasons) {
				t.Errorf("got %s %v (score %d), want %s %v", d.Outcome, d.Reasons, d.Score, c.outcome, c.reasons)
			}
			if d.NeedsDeviceConfirmation != (!c.signals.TrustedDevice && !c.signals.FirstLogin) {
				t.Errorf("NeedsDeviceConfirmation = %v with TrustedDevice %v", d.NeedsDeviceConfirmation, c.signals.TrustedDevice)
			}
		})
	}
}

// The thresholds come from configuration: raising ChallengeAt lets a new
// country through on a trusted device, lowering DenyAt denies it.
func TestThresholdsAreConfigurable(t *testing.T) {
	t.Parallel()
	s := Signals{Now: now, IP: "2.2.2.2", Place: paris, PlaceKnown: true, TrustedDevice: true, History: usual()}
	cfg := DefaultConfig()
	if d := Evaluate(cfg, s); d.Outcome != Challenge {
		t.Fatalf("default: %s", d.Outcome)
	}
	cfg.ChallengeAt = 1000
	if d := Evaluate(cfg, s); d.Outcome != Allow {
		t.Errorf("ChallengeAt 1000: %s", d.Outcome)
	}
	cfg.DenyAt = 40
	if d := Evaluate(cfg, s); d.Outcome != Deny {
		t.Errorf("DenyAt 40 with score %d: %s", d.Score, d.Outcome)
	}
	cfg = DefaultConfig()
	cfg.MaxTravelKmh = 100 // London to Paris in a day is 14 km/h: still possible
	if d := Evaluate(cfg, s); slices.Contains(d.Reasons, ReasonImpossibleTravel) {
		t.Errorf("344 km in a day flagged at 100 km/h: %v", d.Reasons)
	}
	s.History = []PastLogin{{At: now.Add(-time.Hour), IP: "81.2.69.10", Place: london}}
	if d := Evaluate(cfg, s); !slices.Contains(d.Reasons, ReasonImpossibleTravel) {
		t.Errorf("344 km in an hour not flagged at 100 km/h: %v", d.Reasons)
	}
}
