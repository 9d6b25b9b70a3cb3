package securitycenter

import "testing"

func TestAssess(t *testing.T) {
	strong := State{EmailVerified: true, MFAEnabled: true, Passkeys: 1, RecoveryCodesLeft: 10, AntiPhishingCode: true,
		AllowList: true, VerificationTier: 2, TopTier: 2}
	tests := []struct {
		name  string
		state State
		level string
		score int
	}{
		{"new account", State{EmailVerified: true, TopTier: 2}, LevelBasic, 15},
		{"two factor on", State{EmailVerified: true, MFAEnabled: true, RecoveryCodesLeft: 10, TopTier: 2}, LevelGood, 55},
		{"high score without two factor stays basic", State{EmailVerified: true, Passkeys: 0, AntiPhishingCode: true, AllowList: true,
			VerificationTier: 2, TopTier: 2}, LevelBasic, 45},
		{"everything", strong, LevelStrong, 100},
		{"everything but the allow-list", func() State { s := strong; s.AllowList = false; return s }(), LevelGood, 90},
		{"frozen", func() State { s := strong; s.Frozen = true; return s }(), LevelBasic, 100},
		{"devices to review", func() State { s := strong; s.DevicesToReview = 2; return s }(), LevelStrong, 95},
		{"few recovery codes", func() State { s := strong; s.RecoveryCodesLeft = 2; return s }(), LevelStrong, 90},
	}
	for _, tt := range tests {
		r := Assess(tt.state)
		if r.Level != tt.level || r.Score != tt.score {
			t.Errorf("%s: level %s score %d, want %s %d", tt.name, r.Level, r.Score, tt.level, tt.score)
		}
		for _, it := range r.Items {
			if it.Done == (it.FixURL != "") {
				t.Errorf("%s: item %s done=%v with fix %q", tt.name, it.ID, it.Done, it.FixURL)
			}
		}
	}
}

func TestNext(t *testing.T) {
	for _, tt := range []struct {
		level, next string
		ok          bool
	}{{LevelBasic, LevelGood, true}, {LevelGood, LevelStrong, true}, {LevelStrong, "", false}} {
		got, ok := Next(tt.level)
		if got.Level != tt.next || ok != tt.ok {
			t.Errorf("Next(%s) = %s %v, want %s %v", tt.level, got.Level, ok, tt.next, tt.ok)
		}
	}
}
