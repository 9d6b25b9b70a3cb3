package risk

import (
	"slices"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/geoip"
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

// Each threshold of Config, set away from its default, decides at its edge:
// one below, at and one above it. Pressure signals weigh nothing on a
// trusted device, so they are tried on a new device with DenyAt lowered to
// their weight (challenge below the threshold, deny from it); the others on
// a trusted device with ChallengeAt lowered to theirs (allow, then challenge).
func TestThresholdEdges(t *testing.T) {
	t.Parallel()
	// edinburgh is in London's country and network: moving there adds only
	// impossible_travel, if anything.
	edinburgh := Place{Country: "GB", Latitude: 55.9533, Longitude: -3.1883, HasCoordinates: true, ASN: 2856}
	km := geoip.DistanceKm(london.Latitude, london.Longitude, edinburgh.Latitude, edinburgh.Longitude)
	trusted := func(edit func(*Signals)) Signals {
		s := Signals{Now: now, IP: "81.2.69.10", Place: london, PlaceKnown: true, TrustedDevice: true, History: usual()}
		edit(&s)
		return s
	}
	untrusted := func(edit func(*Signals)) Signals {
		s := trusted(edit)
		s.TrustedDevice = false
		return s
	}
	// at is a login at hour h (UTC) of now's day.
	at := func(h int) time.Time { return time.Date(2026, 11, 24, h, 30, 0, 0, time.UTC) }
	// toEdinburgh moves from London, gap before now, to Edinburgh.
	toEdinburgh := func(gap time.Duration) func(*Signals) {
		return func(s *Signals) {
			s.Place = edinburgh
			s.History = []PastLogin{{At: now.Add(-gap), IP: s.IP, Place: london}}
		}
	}
	none := []string{}
	device := []string{ReasonNewDevice}
	cases := []struct {
		name    string
		cfg     func(*Config)
		signals Signals
		outcome string
		reasons []string
	}{
		{"RecentFailuresMin 7, 6 failures", func(c *Config) { c.RecentFailuresMin, c.DenyAt = 7, c.RecentFailures },
			untrusted(func(s *Signals) { s.RecentFailures = 6 }), Challenge, device},
		{"RecentFailuresMin 7, 7 failures", func(c *Config) { c.RecentFailuresMin, c.DenyAt = 7, c.RecentFailures },
			untrusted(func(s *Signals) { s.RecentFailures = 7 }), Deny, []string{ReasonNewDevice, ReasonRecentFailures}},
		{"RecentFailuresMin 7, 8 failures", func(c *Config) { c.RecentFailuresMin, c.DenyAt = 7, c.RecentFailures },
			untrusted(func(s *Signals) { s.RecentFailures = 8 }), Deny, []string{ReasonNewDevice, ReasonRecentFailures}},
		{"RecentFailuresMin 1, no failure", func(c *Config) { c.RecentFailuresMin, c.DenyAt = 1, c.RecentFailures },
			untrusted(func(s *Signals) {}), Challenge, device},
		{"RecentFailuresMin 1, 1 failure", func(c *Config) { c.RecentFailuresMin, c.DenyAt = 1, c.RecentFailures },
			untrusted(func(s *Signals) { s.RecentFailures = 1 }), Deny, []string{ReasonNewDevice, ReasonRecentFailures}},

		{"StuffingMinAccounts 12, 11 accounts", func(c *Config) { c.StuffingMinAccounts, c.DenyAt = 12, c.CredentialStuffing },
			untrusted(func(s *Signals) { s.AccountsFromIP = 11 }), Challenge, device},
		{"StuffingMinAccounts 12, 12 accounts", func(c *Config) { c.StuffingMinAccounts, c.DenyAt = 12, c.CredentialStuffing },
			untrusted(func(s *Signals) { s.AccountsFromIP = 12 }), Deny, []string{ReasonNewDevice, ReasonCredentialStuffing}},
		{"StuffingMinAccounts 12, 13 accounts", func(c *Config) { c.StuffingMinAccounts, c.DenyAt = 12, c.CredentialStuffing },
			untrusted(func(s *Signals) { s.AccountsFromIP = 13 }), Deny, []string{ReasonNewDevice, ReasonCredentialStuffing}},

		{"ManyIPsMin 9, 8 IPs", func(c *Config) { c.ManyIPsMin, c.DenyAt = 9, c.ManyIPs },
			untrusted(func(s *Signals) { s.IPsOnAccount = 8 }), Challenge, device},
		{"ManyIPsMin 9, 9 IPs", func(c *Config) { c.ManyIPsMin, c.DenyAt = 9, c.ManyIPs },
			untrusted(func(s *Signals) { s.IPsOnAccount = 9 }), Deny, []string{ReasonNewDevice, ReasonManyIPs}},
		{"ManyIPsMin 9, 10 IPs", func(c *Config) { c.ManyIPsMin, c.DenyAt = 9, c.ManyIPs },
			untrusted(func(s *Signals) { s.IPsOnAccount = 10 }), Deny, []string{ReasonNewDevice, ReasonManyIPs}},

		// 03:30 is far from the usual 13:00-15:00 whatever the span.
		{"UsualHourMinLogins 4, 3 past logins", func(c *Config) { c.UsualHourMinLogins, c.ChallengeAt = 4, c.UnusualHour },
			trusted(func(s *Signals) { s.Now, s.History = at(3), s.History[:3] }), Allow, none},
		{"UsualHourMinLogins 4, 4 past logins", func(c *Config) { c.UsualHourMinLogins, c.ChallengeAt = 4, c.UnusualHour },
			trusted(func(s *Signals) { s.Now, s.History = at(3), s.History[:4] }), Challenge, []string{ReasonUnusualHour}},
		{"UsualHourMinLogins 4, 5 past logins", func(c *Config) { c.UsualHourMinLogins, c.ChallengeAt = 4, c.UnusualHour },
			trusted(func(s *Signals) { s.Now, s.History = at(3), s.History[:5] }), Challenge, []string{ReasonUnusualHour}},

		// The usual hours are 13, 14 and 15: 19:30 is 4 hours from the
		// nearest, 20:30 5 and 21:30 6; unusual means more than the span.
		{"UnusualHourSpan 5, 4 hours off", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 5, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(19) }), Allow, none},
		{"UnusualHourSpan 5, 5 hours off", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 5, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(20) }), Allow, none},
		{"UnusualHourSpan 5, 6 hours off", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 5, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(21) }), Challenge, []string{ReasonUnusualHour}},
		{"UnusualHourSpan 5, 6 hours off the other way", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 5, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(7) }), Challenge, []string{ReasonUnusualHour}},
		// Hours are circular: 01:30 is 2 hours from 23:30.
		{"UnusualHourSpan 2, across midnight, 2 hours off", func(c *Config) { c.UnusualHourSpan, c.UsualHourMinLogins, c.ChallengeAt = 2, 1, c.UnusualHour },
			trusted(func(s *Signals) {
				s.Now, s.History = at(1), []PastLogin{{At: at(23).Add(-48 * time.Hour), IP: s.IP, Place: london}}
			}), Allow, none},
		{"UnusualHourSpan 2, across midnight, 3 hours off", func(c *Config) { c.UnusualHourSpan, c.UsualHourMinLogins, c.ChallengeAt = 2, 1, c.UnusualHour },
			trusted(func(s *Signals) {
				s.Now, s.History = at(2), []PastLogin{{At: at(23).Add(-48 * time.Hour), IP: s.IP, Place: london}}
			}), Challenge, []string{ReasonUnusualHour}},
		{"UnusualHourSpan 0, the same hour", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 0, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(14) }), Allow, none},
		{"UnusualHourSpan 0, an hour off", func(c *Config) { c.UnusualHourSpan, c.ChallengeAt = 0, c.UnusualHour },
			trusted(func(s *Signals) { s.Now = at(16) }), Challenge, []string{ReasonUnusualHour}},

		// London to Edinburgh in two hours is km/2 km/h; impossible means
		// faster than MaxTravelKmh.
		{"MaxTravelKmh just under the speed", func(c *Config) { c.MaxTravelKmh = km/2 - 1 },
			trusted(toEdinburgh(2 * time.Hour)), Challenge, []string{ReasonImpossibleTravel}},
		{"MaxTravelKmh at the speed", func(c *Config) { c.MaxTravelKmh = km / 2 },
			trusted(toEdinburgh(2 * time.Hour)), Allow, none},
		{"MaxTravelKmh just over the speed", func(c *Config) { c.MaxTravelKmh = km/2 + 1 },
			trusted(toEdinburgh(2 * time.Hour)), Allow, none},

		// The same move in an hour at 100 km/h is impossible unless it is
		// shorter than MinTravelKm.
		{"MinTravelKm just under the distance", func(c *Config) { c.MaxTravelKmh, c.MinTravelKm = 100, km-1 },
			trusted(toEdinburgh(time.Hour)), Challenge, []string{ReasonImpossibleTravel}},
		{"MinTravelKm at the distance", func(c *Config) { c.MaxTravelKmh, c.MinTravelKm = 100, km },
			trusted(toEdinburgh(time.Hour)), Challenge, []string{ReasonImpossibleTravel}},
		{"MinTravelKm just over the distance", func(c *Config) { c.MaxTravelKmh, c.MinTravelKm = 100, km+1 },
			trusted(toEdinburgh(time.Hour)), Allow, none},
		{"MinTravelKm 0, a move of 60 km in a minute", func(c *Config) { c.MinTravelKm = 0 },
			trusted(func(s *Signals) {
				s.Place = reading
				s.History = []PastLogin{{At: now.Add(-time.Minute), IP: s.IP, Place: london}}
			}), Challenge, []string{ReasonImpossibleTravel}},

		// A new IP alone scores NewIP (10) on a trusted device.
		{"ChallengeAt just over the score", func(c *Config) { c.ChallengeAt = c.NewIP + 1 },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Allow, []string{ReasonNewIP}},
		{"ChallengeAt at the score", func(c *Config) { c.ChallengeAt = c.NewIP },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Challenge, []string{ReasonNewIP}},
		{"ChallengeAt just under the score", func(c *Config) { c.ChallengeAt = c.NewIP - 1 },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Challenge, []string{ReasonNewIP}},
		{"DenyAt just over the score", func(c *Config) { c.DenyAt = c.NewIP + 1 },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Allow, []string{ReasonNewIP}},
		{"DenyAt at the score", func(c *Config) { c.DenyAt = c.NewIP },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Deny, []string{ReasonNewIP}},
		{"DenyAt just under the score", func(c *Config) { c.DenyAt = c.NewIP - 1 },
			trusted(func(s *Signals) { s.IP = "81.2.69.11" }), Deny, []string{ReasonNewIP}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			c.cfg(&cfg)
			d := Evaluate(cfg, c.signals)
			if d.Outcome != c.outcome || !slices.Equal(d.Reasons, c.reasons) {
				t.Errorf("got %s %v (score %d), want %s %v", d.Outcome, d.Reasons, d.Score, c.outcome, c.reasons)
			}
		})
	}
}
