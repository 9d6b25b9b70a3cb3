package ratelimit

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

func TestTake(t *testing.T) {
	t.Parallel()
	perMinute := Limit{Burst: 10, Per: time.Minute} // a token per 6 s, a thousandth per 6 ms
	perHour := Limit{Burst: 1, Per: time.Hour}      // a thousandth per 3.6 s
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	for _, tc := range []struct {
		name      string
		b         Bucket
		l         Limit
		now       time.Time
		cost      int
		want      Bucket
		allowed   bool
		retry     time.Duration
		remaining int
	}{
		// A bucket never used is full.
		{"fresh, cost 1", Bucket{}, perMinute, t0, 1, Bucket{9000, t0}, true, 0, 9},
		{"fresh, whole burst", Bucket{}, perMinute, t0, 10, Bucket{0, t0}, true, 0, 0},
		{"fresh, cost 0", Bucket{}, perMinute, t0, 0, Bucket{10000, t0}, true, 0, 10},
		{"fresh, negative cost counts as 0", Bucket{}, perMinute, t0, -3, Bucket{10000, t0}, true, 0, 10},

		// Refill.
		{"empty, no time passed", Bucket{0, t0}, perMinute, t0, 1, Bucket{0, t0}, false, 6 * time.Second, 0},
		{"empty, half a token back", Bucket{0, t0}, perMinute, at(3 * time.Second), 1, Bucket{500, at(3 * time.Second)}, false, 3 * time.Second, 0},
		{"empty, a token back", Bucket{0, t0}, perMinute, at(6 * time.Second), 1, Bucket{0, at(6 * time.Second)}, true, 0, 0},
		{"partial, two tokens back", Bucket{1500, t0}, perMinute, at(12 * time.Second), 3, Bucket{500, at(12 * time.Second)}, true, 0, 0},
		{"refill capped at burst", Bucket{5000, t0}, perMinute, at(time.Hour), 1, Bucket{9000, at(time.Hour)}, true, 0, 9},
		{"refill reaching burst early is capped, time not kept", Bucket{9000, t0}, perMinute, at(12*time.Second + time.Millisecond), 0, Bucket{10000, at(12*time.Second + time.Millisecond)}, true, 0, 10},
		{"exactly one period refills all", Bucket{0, t0}, perMinute, at(time.Minute), 10, Bucket{0, at(time.Minute)}, true, 0, 0},
		{"more than burst stored (limit lowered)", Bucket{50000, t0}, perMinute, t0, 1, Bucket{9000, t0}, true, 0, 9},
		{"negative stored tokens count as 0", Bucket{-4000, t0}, perMinute, t0, 1, Bucket{0, t0}, false, 6 * time.Second, 0},

		// Fractional refill: time that has not made a thousandth is kept.
		{"less than a thousandth", Bucket{0, t0}, perMinute, at(time.Millisecond), 1, Bucket{0, t0}, false, 6 * time.Second, 0},
		{"1.67 thousandths", Bucket{0, t0}, perMinute, at(10 * time.Millisecond), 1, Bucket{1, at(6 * time.Millisecond)}, false, 6 * time.Second, 0},
		{"kept time shortens the wait", Bucket{0, t0}, perHour, at(3 * time.Second), 1, Bucket{0, t0}, false, 3597 * time.Second, 0},
		{"thousandths of a slow limit", Bucket{0, t0}, perHour, at(30 * time.Minute), 1, Bucket{500, at(30 * time.Minute)}, false, 30 * time.Minute, 0},
		// 1.0015 ms make 3 thousandths of 3 per second (1 ms) and leave 1.5 µs, kept as 1 µs.
		{"kept time is rounded down to the microsecond", Bucket{0, t0}, Limit{Burst: 3, Per: time.Second}, at(time.Millisecond + 1500), 0,
			Bucket{3, at(time.Millisecond + 500)}, true, 0, 0},

		// A clock that went backwards: no time passed, UpdatedAt kept.
		{"clock back, empty", Bucket{0, t0}, perMinute, at(-30 * time.Second), 1, Bucket{0, t0}, false, 36 * time.Second, 0},
		{"clock back, tokens left", Bucket{3000, t0}, perMinute, at(-5 * time.Second), 1, Bucket{2000, t0}, true, 0, 2},
		{"clock back more than a period: restart from now", Bucket{0, t0}, perMinute, at(-2 * time.Minute), 1, Bucket{0, at(-2 * time.Minute)}, false, 6 * time.Second, 0},

		// A cost above the burst is never allowed; the wait is the refill rate's.
		{"cost above burst, fresh", Bucket{}, perMinute, t0, 11, Bucket{10000, t0}, false, 6 * time.Second, 10},
		{"cost above burst, partial", Bucket{2000, t0}, perMinute, t0, 12, Bucket{2000, t0}, false, time.Minute, 2},
		{"cost above burst, full for long", Bucket{10000, t0}, perMinute, at(24 * time.Hour), 20, Bucket{10000, at(24 * time.Hour)}, false, time.Minute, 10},
		{"absurd cost", Bucket{}, perMinute, t0, math.MaxInt, Bucket{10000, t0}, false, maxRetry, 10},

		// RetryAfter is rounded up to whole seconds, at least 1.
		{"wait rounded up", Bucket{0, t0}, Limit{Burst: 3, Per: 10 * time.Second}, t0, 1, Bucket{0, t0}, false, 4 * time.Second, 0},
		{"wait at least a second", Bucket{0, t0}, Limit{Burst: 100, Per: time.Second}, t0, 1, Bucket{0, t0}, false, time.Second, 0},
		{"wait for several tokens", Bucket{1000, t0}, perMinute, t0, 4, Bucket{1000, t0}, false, 18 * time.Second, 1},

		// An invalid limit refuses everything and leaves the bucket alone.
		{"zero burst", Bucket{5, t0}, Limit{Burst: 0, Per: time.Minute}, t0, 1, Bucket{5, t0}, false, time.Second, 0},
		{"zero period", Bucket{}, Limit{Burst: 10}, t0, 1, Bucket{}, false, time.Second, 0},
		{"negative period", Bucket{}, Limit{Burst: 10, Per: -time.Second}, t0, 1, Bucket{}, false, time.Second, 0},
		{"burst above MaxBurst", Bucket{}, Limit{Burst: MaxBurst + 1, Per: time.Second}, t0, 1, Bucket{}, false, time.Second, 0},
	} {
		got, d := Take(tc.b, tc.l, tc.now, tc.cost)
		if got.Tokens != tc.want.Tokens || !got.UpdatedAt.Equal(tc.want.UpdatedAt) {
			t.Errorf("%s: bucket {%d %v}, want {%d %v}", tc.name,
				got.Tokens, got.UpdatedAt.Sub(t0), tc.want.Tokens, tc.want.UpdatedAt.Sub(t0))
		}
		want := Decision{Allowed: tc.allowed, RetryAfter: tc.retry, Remaining: tc.remaining}
		if d != want {
			t.Errorf("%s: decision %+v, want %+v", tc.name, d, want)
		}
	}
}

// Many small refills add up to what one large one gives: the time that has
// not yet made a thousandth is carried over, less at most a microsecond per
// update (times are kept to the microsecond, rounding against the client).
func TestTakeLosesNothingInSmallSteps(t *testing.T) {
	t.Parallel()
	for _, l := range []Limit{
		{Burst: 10, Per: time.Minute},
		{Burst: 1, Per: time.Hour},
		{Burst: 7, Per: 13 * time.Second},
		{Burst: 1000, Per: time.Second},
	} {
		const steps = 500
		b := Bucket{0, t0}
		now := t0
		step := (l.Per / 997).Truncate(time.Microsecond) // not a multiple of a thousandth's time
		for range steps {
			now = now.Add(step)
			b, _ = Take(b, l, now, 0)
		}
		once, _ := Take(Bucket{0, t0}, l, now, 0)
		lost := once.Tokens - b.Tokens
		// What steps microseconds refill, rounded up.
		allowance := (int64(steps)*int64(time.Microsecond)*l.capacity() + int64(l.Per) - 1) / int64(l.Per)
		if lost < 0 || lost > allowance {
			t.Errorf("%v: %d thousandths after %d steps, %d after one", l, b.Tokens, steps, once.Tokens)
		}
	}
}

// Over any run of requests, no more are allowed than the burst plus the
// refill over the time that passed; with requests arriving much faster than
// the refill, no fewer either.
func TestTakeHoldsTheRate(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []Limit{{Burst: 10, Per: time.Minute}, {Burst: 3, Per: time.Second}, {Burst: 100, Per: time.Hour}} {
		b, now, allowed := Bucket{}, t0, 0
		for range 20000 {
			now = now.Add(time.Duration(rng.Int64N(int64(l.Per / time.Duration(l.Burst) / 50))))
			var d Decision
			if b, d = Take(b, l, now, 1); d.Allowed {
				allowed++
			} else if d.RetryAfter < time.Second {
				t.Fatalf("%v: RetryAfter %v", l, d.RetryAfter)
			}
		}
		elapsed := now.Sub(t0)
		most := l.Burst + int(elapsed*time.Duration(l.Burst)/l.Per)
		if allowed > most || allowed < most-1 {
			t.Errorf("%v: %d allowed over %v, want %d (or one fewer)", l, allowed, elapsed, most)
		}
	}
}

// Large limits and long periods compute exactly, without overflow.
func TestTakeLargeNumbers(t *testing.T) {
	t.Parallel()
	l := Limit{Burst: MaxBurst, Per: 365 * 24 * time.Hour}
	elapsed := 100*24*time.Hour + 12345*time.Nanosecond
	got, d := Take(Bucket{0, t0}, l, t0.Add(elapsed), MaxBurst)
	want := new(big.Int).Mul(big.NewInt(int64(elapsed)), big.NewInt(int64(MaxBurst)*Unit))
	want.Quo(want, big.NewInt(int64(l.Per)))
	if got.Tokens != want.Int64() {
		t.Fatalf("tokens %d, want %s", got.Tokens, want)
	}
	// Empty at t0, the bucket is full again at t0+Per exactly: 265 days
	// less 12345 ns from now, rounded up.
	if d.Allowed || d.RetryAfter != 265*24*time.Hour {
		t.Fatalf("decision %+v, want a refusal for 265 days", d)
	}
}

func TestRoundRetry(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]time.Duration{
		-time.Hour:                            time.Second,
		0:                                     time.Second,
		time.Nanosecond:                       time.Second,
		time.Second:                           time.Second,
		time.Second + time.Nanosecond:         2 * time.Second,
		59*time.Second + 999*time.Millisecond: time.Minute,
		math.MaxInt64:                         maxRetry,
	} {
		if got := roundRetry(in); got != want {
			t.Errorf("roundRetry(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestLimitValidate(t *testing.T) {
	t.Parallel()
	for l, ok := range map[Limit]bool{
		{Burst: 10, Per: time.Minute}:         true,
		{Burst: 1, Per: time.Nanosecond}:      true,
		{Burst: MaxBurst, Per: time.Hour}:     true,
		{Burst: 0, Per: time.Minute}:          false,
		{Burst: -1, Per: time.Minute}:         false,
		{Burst: MaxBurst + 1, Per: time.Hour}: false,
		{Burst: 10}:                           false,
		{Burst: 10, Per: -time.Minute}:        false,
	} {
		if err := l.Validate(); (err == nil) != ok {
			t.Errorf("%v: Validate() = %v", l, err)
		}
	}
}
