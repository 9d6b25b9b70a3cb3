package config

import "github.com/wardenhq/warden/internal/risk"

// Risk is the risk engine's configuration: its defaults, with the weights,
// score thresholds and signal thresholds of this configuration over them.
func (c *Config) Risk() risk.Config {
	r := risk.DefaultConfig()
	for name, w := range c.RiskWeights {
		r.SetWeight(name, w)
	}
	r.ChallengeAt, r.DenyAt = c.RiskChallengeAt, c.RiskDenyAt
	r.MaxTravelKmh, r.MinTravelKm = float64(c.RiskMaxTravelKmh), float64(c.RiskMinTravelKm)
	r.RecentFailuresMin, r.StuffingMinAccounts, r.ManyIPsMin = c.RiskRecentFailuresMin, c.RiskStuffingMinAccounts, c.RiskManyIPsMin
	r.UsualHourMinLogins, r.UnusualHourSpan = c.RiskUsualHourMinLogins, c.RiskUnusualHourSpan
	return r
}
