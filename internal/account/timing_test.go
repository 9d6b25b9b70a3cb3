package account

import (
	"context"
	"testing"
	"time"
)

func TestEvenTimingDelay(t *testing.T) {
	t.Parallel()
	var e evenTiming
	// Before any real work was timed, a short answer waits at least the
	// assumed work, and at most half as much again.
	if d := e.delay(0, false); d < initialWork || d > initialWork*3/2 {
		t.Fatalf("first short answer waits %v, want within [%v, %v]", d, initialWork, initialWork*3/2)
	}
	// Real work of 40 ms moves the average towards it; a short answer then
	// waits longer than at first, a long one not at all.
	for range 50 {
		e.delay(40*time.Millisecond, true)
	}
	if e.average < 35*time.Millisecond || e.average > 40*time.Millisecond {
		t.Fatalf("average after 50 samples of 40 ms: %v", e.average)
	}
	for _, tc := range []struct {
		name     string
		elapsed  time.Duration
		min, max time.Duration
	}{
		{"unknown email, instant", 0, e.average, e.average * 3 / 2},
		{"unknown email, 10 ms", 10 * time.Millisecond, e.average - 10*time.Millisecond, e.average*3/2 - 10*time.Millisecond},
		{"slower than the jitter's reach", time.Second, 0, 0},
	} {
		if d := e.delay(tc.elapsed, false); d < tc.min || d > tc.max+time.Millisecond {
			t.Errorf("%s: waits %v, want within [%v, %v]", tc.name, d, tc.min, tc.max)
		}
	}
	// Short answers do not pull the average down.
	before := e.average
	e.delay(0, false)
	if e.average != before {
		t.Errorf("a short answer moved the average from %v to %v", before, e.average)
	}
}

func TestEvenTimingPadStopsWithTheRequest(t *testing.T) {
	t.Parallel()
	var e evenTiming
	e.average = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	started := time.Now()
	e.pad(ctx, started, false)
	if waited := time.Since(started); waited > time.Second {
		t.Fatalf("pad outlived its request: %v", waited)
	}
}
