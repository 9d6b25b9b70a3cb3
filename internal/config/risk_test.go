package config

import (
	"testing"

	"github.com/wardenhq/warden/internal/risk"
)

// The schema's defaults are the risk engine's: a login is judged the same
// with no configuration as by risk.DefaultConfig.
func TestRiskDefaults(t *testing.T) {
	t.Parallel()
	for _, dev := range []bool{false, true} {
		c, err := Load(Source{LookupEnv: env()}, dev)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.Risk(), risk.DefaultConfig(); got != want {
			t.Errorf("dev %v: Risk() = %+v, want risk.DefaultConfig() %+v", dev, got, want)
		}
	}
}

// Every risk key, from the environment or the file, reaches its field of
// risk.Config; the others keep their defaults.
func TestRiskKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key, value string
		want       func(*risk.Config)
	}{
		{"WARDEN_RISK_CHALLENGE_AT", "45", func(r *risk.Config) { r.ChallengeAt = 45 }},
		{"WARDEN_RISK_DENY_AT", "150", func(r *risk.Config) { r.DenyAt = 150 }},
		{"WARDEN_RISK_WEIGHTS", "new_ip=0, many_ips=99", func(r *risk.Config) { r.NewIP, r.ManyIPs = 0, 99 }},
		{"WARDEN_RISK_MAX_TRAVEL_KMH", "900", func(r *risk.Config) { r.MaxTravelKmh = 900 }},
		{"WARDEN_RISK_MIN_TRAVEL_KM", "150", func(r *risk.Config) { r.MinTravelKm = 150 }},
		{"WARDEN_RISK_MIN_TRAVEL_KM", "0", func(r *risk.Config) { r.MinTravelKm = 0 }},
		{"WARDEN_RISK_RECENT_FAILURES_MIN", "7", func(r *risk.Config) { r.RecentFailuresMin = 7 }},
		{"WARDEN_RISK_RECENT_FAILURES_MIN", "1", func(r *risk.Config) { r.RecentFailuresMin = 1 }},
		{"WARDEN_RISK_STUFFING_MIN_ACCOUNTS", "12", func(r *risk.Config) { r.StuffingMinAccounts = 12 }},
		{"WARDEN_RISK_STUFFING_MIN_ACCOUNTS", "2", func(r *risk.Config) { r.StuffingMinAccounts = 2 }},
		{"WARDEN_RISK_MANY_IPS_MIN", "9", func(r *risk.Config) { r.ManyIPsMin = 9 }},
		{"WARDEN_RISK_MANY_IPS_MIN", "100000", func(r *risk.Config) { r.ManyIPsMin = 100000 }},
		{"WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", "4", func(r *risk.Config) { r.UsualHourMinLogins = 4 }},
		{"WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", "50", func(r *risk.Config) { r.UsualHourMinLogins = 50 }},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "5", func(r *risk.Config) { r.UnusualHourSpan = 5 }},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "0", func(r *risk.Config) { r.UnusualHourSpan = 0 }},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "11", func(r *risk.Config) { r.UnusualHourSpan = 11 }},
	} {
		want := risk.DefaultConfig()
		tc.want(&want)
		k, _ := byEnv(tc.key)
		for _, src := range []Source{
			{LookupEnv: env(tc.key, " "+tc.value+" ")},
			{LookupEnv: env(), YAML: []byte(k.YAMLName() + ": \"" + tc.value + "\"\n")},
		} {
			c, err := Load(src, false)
			if err != nil {
				t.Errorf("%s=%q: %v", tc.key, tc.value, err)
				continue
			}
			if got := c.Risk(); got != want {
				t.Errorf("%s=%q (file %q): Risk() = %+v, want %+v", tc.key, tc.value, src.YAML, got, want)
			}
		}
	}
	// A YAML number works as well as a string.
	c, err := Load(Source{LookupEnv: env(), YAML: []byte("risk_unusual_hour_span: 4\nrisk_min_travel_km: 120\n")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Risk(); r.UnusualHourSpan != 4 || r.MinTravelKm != 120 {
		t.Errorf("from YAML numbers: %+v", r)
	}
}

// A value out of bounds or not a whole number stops loading with one line
// that names the key and says what is allowed.
func TestRiskKeysRefuseBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, value, want string }{
		{"WARDEN_RISK_MIN_TRAVEL_KM", "-1", "must be between 0 and 20000, got -1"},
		{"WARDEN_RISK_MIN_TRAVEL_KM", "20001", "must be between 0 and 20000, got 20001"},
		{"WARDEN_RISK_MIN_TRAVEL_KM", "300km", `not a whole number: "300km"`},
		{"WARDEN_RISK_RECENT_FAILURES_MIN", "0", "must be between 1 and 100000, got 0"},
		{"WARDEN_RISK_RECENT_FAILURES_MIN", "100001", "must be between 1 and 100000, got 100001"},
		{"WARDEN_RISK_RECENT_FAILURES_MIN", "2.5", `not a whole number: "2.5"`},
		{"WARDEN_RISK_STUFFING_MIN_ACCOUNTS", "1", "must be between 2 and 100000, got 1"},
		{"WARDEN_RISK_STUFFING_MIN_ACCOUNTS", "100001", "must be between 2 and 100000, got 100001"},
		{"WARDEN_RISK_STUFFING_MIN_ACCOUNTS", "", `not a whole number: ""`},
		{"WARDEN_RISK_MANY_IPS_MIN", "1", "must be between 2 and 100000, got 1"},
		{"WARDEN_RISK_MANY_IPS_MIN", "100001", "must be between 2 and 100000, got 100001"},
		{"WARDEN_RISK_MANY_IPS_MIN", "many", `not a whole number: "many"`},
		{"WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", "0", "must be between 1 and 50, got 0"},
		{"WARDEN_RISK_USUAL_HOUR_MIN_LOGINS", "51", "must be between 1 and 50, got 51"},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "-1", "must be between 0 and 11, got -1"},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "12", "must be between 0 and 11, got 12"},
		{"WARDEN_RISK_UNUSUAL_HOUR_SPAN", "3h", `not a whole number: "3h"`},
	} {
		_, err := Load(Source{LookupEnv: env(tc.key, tc.value)}, false)
		key, ok := ErrorKey(err)
		if !ok || key != tc.key {
			t.Errorf("%s=%q: err = %v, want an error naming %s", tc.key, tc.value, err, tc.key)
			continue
		}
		if got, want := err.Error(), tc.key+": "+tc.want; got != want {
			t.Errorf("%s=%q: error %q, want %q", tc.key, tc.value, got, want)
		}
	}
}

func byEnv(name string) (Key, bool) {
	for _, k := range Keys() {
		if k.Env == name {
			return k, true
		}
	}
	return Key{}, false
}
