package lockout

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestScheduleDoublesAndCaps(t *testing.T) {
	t.Parallel()
	p := Policy{MaxFailures: 5, BaseDelay: time.Minute, MaxDelay: 10 * time.Minute, ForgetAfter: 24 * time.Hour}
	l := Lane{AccountID: "usr_1", Key: UntrustedLane}
	now := t0
	var locks []time.Duration
	for range 6 { // six rounds of five failures, each right after the lock ends
		for i := range 5 {
			if d := l.RetryAfter(now); d != 0 {
				t.Fatalf("lane locked for %s before failure %d of a round", d, i+1)
			}
			var locked bool
			l, locked = p.Fail(l, now)
			if locked != (i == 4) {
				t.Fatalf("failure %d: locked = %v", i+1, locked)
			}
		}
		d := l.RetryAfter(now)
		locks = append(locks, d)
		now = now.Add(d)
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i := range want {
		if locks[i] != want[i] {
			t.Fatalf("locks = %v, want %v", locks, want)
		}
	}
}

func TestSuccessAndTimeForget(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	l := Lane{}
	for range 4 {
		l, _ = p.Fail(l, t0)
	}
	l = p.Succeed(l, t0)
	if l, locked := p.Fail(l, t0); locked || l.Failures != 1 {
		t.Fatalf("after a success the count starts again: %+v locked=%v", l, locked)
	}
	for range 4 {
		l, _ = p.Fail(l, t0)
	}
	// A day later the four old typos are forgotten.
	if l, locked := p.Fail(l, t0.Add(25*time.Hour)); locked || l.Failures != 1 {
		t.Fatalf("old failures still counted: %+v", l)
	}
	// The doubling is forgotten too once a lock has long ended.
	l = Lane{Locks: 3, LockedUntil: t0.Add(time.Minute), UpdatedAt: t0}
	for range 5 {
		l, _ = p.Fail(l, t0.Add(48*time.Hour))
	}
	if d := l.RetryAfter(t0.Add(48 * time.Hour)); d != time.Minute {
		t.Fatalf("lock after a quiet day = %s, want the base 1m", d)
	}
}

func TestLanes(t *testing.T) {
	t.Parallel()
	if LaneFor("") != UntrustedLane || LaneFor("dev_1") == LaneFor("dev_2") || LaneFor("dev_1") == UntrustedLane {
		t.Fatal("lanes must separate trusted devices from each other and from the shared lane")
	}
}

// Checks running at once each take one of the tries left: the sixth of six
// simultaneous guesses is refused before it runs, a right password gives
// its try back, and a reservation of a node that died is forgotten.
func TestReserveBoundsChecksRunningAtOnce(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	l := Lane{AccountID: "usr_1", Key: UntrustedLane}
	for i := range 5 {
		var ok bool
		if l, ok = p.Reserve(l, t0); !ok {
			t.Fatalf("reservation %d refused", i+1)
		}
	}
	if _, ok := p.Reserve(l, t0); ok {
		t.Fatal("a sixth check may run while five are running")
	}
	// One was the right password: its try comes back.
	l = p.Release(l)
	if _, ok := p.Reserve(l, t0); !ok {
		t.Fatal("a released try is not available again")
	}
	// The four others were wrong: the lane locks at the fifth failure only
	// after a fifth check ran.
	for i := range 4 {
		var locked bool
		if l, locked = p.Fail(p.Release(l), t0); locked {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if l.Pending != 0 || l.Failures != 4 {
		t.Fatalf("lane %+v", l)
	}
	var ok bool
	if l, ok = p.Reserve(l, t0); !ok {
		t.Fatal("the fifth try is taken")
	}
	if _, ok := p.Reserve(l, t0); ok {
		t.Fatal("two checks running with one try left")
	}
	// The node running the fifth check died: after a minute the try is free.
	if _, ok := p.Reserve(l, t0.Add(pendingTTL)); !ok {
		t.Fatal("a dead node's reservation is never forgotten")
	}
	// A locked lane reserves nothing.
	l, _ = p.Fail(p.Release(l), t0)
	if _, ok := p.Reserve(l, t0.Add(time.Second)); ok || l.RetryAfter(t0.Add(time.Second)) == 0 {
		t.Fatal("a locked lane reserved a try")
	}
}
