package web

import (
	"testing"
	"time"
)

// The drift is told in whole minutes past one: a code typed as the step
// turns is matched one step late, and that must not read as "2 minutes and
// 30 seconds" for a phone 2 minutes behind.
func TestDriftResultInWholeMinutes(t *testing.T) {
	for _, tt := range []struct {
		off  time.Duration
		want string
		way  string
	}{
		{-120 * time.Second, howLong(120), "behind"},
		{-150 * time.Second, howLong(120), "behind"},
		{180 * time.Second, howLong(180), "ahead"},
		{-45 * time.Second, howLong(45), "behind"},
	} {
		r := driftResultOf(tt.off)
		if r.OnTime || r.Off != tt.want || r.Way != tt.way {
			t.Errorf("driftResultOf(%v) = %+v, want %q %s", tt.off, r, tt.want, tt.way)
		}
	}
	if !driftResultOf(-20 * time.Second).OnTime {
		t.Error("20 seconds off is on time")
	}
}
