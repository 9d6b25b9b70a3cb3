package session

import (
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

func TestActiveHonoursIdleAndAbsoluteTimeouts(t *testing.T) {
	t.Parallel()
	p := Policy{IdleTimeout: 30 * time.Minute, Lifetime: 12 * time.Hour}
	t0 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	token, s := New(account.Account{ID: "acc_1", Realm: account.RealmUser}, AAL1, "", "192.0.2.1", "curl", t0, p)
	if !LooksLikeToken(token) || s.TokenHash != account.HashToken(token) || s.TokenHash == token {
		t.Fatalf("token %q / hash %q", token, s.TokenHash)
	}
	for _, tc := range []struct {
		name     string
		lastSeen time.Duration // after t0
		at       time.Duration // after t0
		revoked  bool
		want     bool
	}{
		{"fresh", 0, time.Minute, false, true},
		{"just under idle", 0, 30*time.Minute - time.Second, false, true},
		{"idle", 0, 30 * time.Minute, false, false},
		{"kept alive", 11*time.Hour + 50*time.Minute, 11*time.Hour + 55*time.Minute, false, true},
		{"past lifetime though active", 11*time.Hour + 59*time.Minute, 12 * time.Hour, false, false},
		{"revoked", 0, time.Minute, true, false},
	} {
		s := s
		s.LastSeenAt = t0.Add(tc.lastSeen)
		if tc.revoked {
			s.RevokedAt = t0
		}
		if got := s.Active(t0.Add(tc.at), p); got != tc.want {
			t.Errorf("%s: Active = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := s.IdleExpiry(p); !got.Equal(t0.Add(30 * time.Minute)) {
		t.Errorf("IdleExpiry = %v", got)
	}
}
