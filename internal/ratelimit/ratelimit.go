// Package ratelimit decides whether a request may go ahead under rate limits:
// token buckets, each holding at most Burst tokens and refilled at Burst per
// Per, from which every request takes its cost.
//
// The rule itself (Take) is a pure function of a bucket, a limit and the time.
// A Limiter applies several limits to one request at once — per IP and per
// account, say — charging all of them or none, and keeps the buckets in a
// BucketStore: the database (package store), so that every Warden node sees
// the same count, or a MemoryStore for limits one node may keep to itself.
//
// # Which store
//
// Use the database for every limit that guards an account or a secret:
// logins per account and per IP, password resets, registrations, 2FA and
// recovery-code attempts, email sends. An attacker spreading requests over
// the nodes of a cluster, or restarting one, must not multiply the allowance.
// A check costs one short write transaction (see BenchmarkLimiter in package
// store); on SQLite it queues behind the other writes.
//
// Use a MemoryStore for per-IP limits on cheap endpoints that only protect this
// node's own resources, where a database round trip per request would cost
// more than the work it protects. Its allowance multiplies by the number of
// nodes and resets on restart, and when it is full it forgets the buckets
// nearest to full first, so an attacker with very many addresses can make it
// forget some. Key IPv6 clients by their /64, not by the whole address.
package ratelimit

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Unit is the number of stored units per token: buckets hold thousandths of
// a token, so that slow refills (one token per hour) still advance in small steps.
const Unit = 1000

// MaxBurst is the largest Burst a Limit may have.
const MaxBurst = 1 << 30

// Limit is a token bucket that holds at most Burst tokens and refills at
// Burst tokens per Per: Limit{Burst: 10, Per: time.Minute} lets 10 requests
// through at once, then one every 6 seconds.
type Limit struct {
	Burst int
	Per   time.Duration
}

// Validate reports a limit that cannot work: Burst below 1 or above MaxBurst, or Per not positive.
func (l Limit) Validate() error {
	if l.Burst < 1 || l.Burst > MaxBurst {
		return fmt.Errorf("rate limit: burst %d out of range 1…%d", l.Burst, MaxBurst)
	}
	if l.Per <= 0 {
		return fmt.Errorf("rate limit: refill period %v is not positive", l.Per)
	}
	return nil
}

func (l Limit) String() string { return fmt.Sprintf("%d per %v", l.Burst, l.Per) }

// capacity is what a full bucket holds, in thousandths.
func (l Limit) capacity() int64 { return int64(l.Burst) * Unit }

// Bucket is the stored state of one token bucket. The zero Bucket is one never
// used: it counts as full.
type Bucket struct {
	Tokens    int64     // thousandths of a token
	UpdatedAt time.Time // the instant Tokens was true of
}

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// RetryAfter, when refused, is how long until the request's cost is
	// available, rounded up to whole seconds and at least one second: what
	// a Retry-After header says.
	RetryAfter time.Duration
	// Remaining is the number of whole tokens left: after the request when
	// allowed, before it (nothing was charged) when refused. For several
	// limits, the smallest.
	Remaining int
	// Bucket names the limit that refused, when Limiter.Check refused: the one
	// with the longest wait. Take leaves it empty.
	Bucket string
}

// maxRetry is the longest RetryAfter reported, a whole number of seconds.
const maxRetry = time.Duration(math.MaxInt64 / int64(time.Second) * int64(time.Second))

// Take refills bucket b for the time passed since it was last updated, then
// takes cost tokens from it if it holds that many. It returns the bucket to
// store and the decision. A refused request takes nothing; the bucket returned
// is then only refilled, and need not be stored.
//
// The rules:
//   - a zero Bucket (never used) is full;
//   - the refill is exact: the time that has not yet made a whole thousandth
//     of a token is kept (UpdatedAt moves forward by less than the time passed);
//   - the refill stops at Burst, and a bucket holding more than Burst (the
//     limit was lowered) holds Burst;
//   - a clock that went backwards counts as no time passed, and UpdatedAt is
//     kept rather than moved back, so nodes whose clocks disagree cannot
//     refill a bucket twice for the same time — unless UpdatedAt is more than
//     Per ahead, which only a wrong clock can cause: the bucket then restarts
//     from now rather than stop refilling until that clock is caught up;
//   - a cost above Burst is never allowed; its RetryAfter is what the refill
//     rate alone would need, as if the bucket had no cap. A cost below 0 counts as 0;
//   - an invalid Limit (see Validate) refuses everything, with a RetryAfter of 1 s.
//
// Times are kept to the microsecond, the precision the database keeps.
func Take(b Bucket, l Limit, now time.Time, cost int) (Bucket, Decision) {
	if l.Validate() != nil {
		return b, Decision{RetryAfter: time.Second}
	}
	b = refill(b, l, now)
	remaining := int(b.Tokens / Unit)
	cost = max(cost, 0)
	if cost <= l.Burst {
		if need := int64(cost) * Unit; need <= b.Tokens {
			b.Tokens -= need
			return b, Decision{Allowed: true, Remaining: int(b.Tokens / Unit)}
		}
	}
	// The deficit in thousandths, saturating: cost may be anything.
	hi, need := bits.Mul64(uint64(cost), Unit)
	var wait time.Duration
	if hi != 0 {
		wait = maxRetry
	} else {
		// Tokens accrue from UpdatedAt, which may lie before now (time kept
		// from the refill) or after it (a clock that went back).
		wait = l.refillTime(need - uint64(b.Tokens)) // b.Tokens < need here
		if ahead := b.UpdatedAt.Sub(now); ahead > 0 && wait > maxRetry-ahead {
			wait = maxRetry
		} else {
			wait += ahead
		}
	}
	return b, Decision{RetryAfter: roundRetry(wait), Remaining: remaining}
}

// refill brings b up to now under l (which must be valid).
func refill(b Bucket, l Limit, now time.Time) Bucket {
	capacity := l.capacity()
	if b.UpdatedAt.IsZero() {
		return Bucket{Tokens: capacity, UpdatedAt: now}
	}
	tokens := min(max(b.Tokens, 0), capacity)
	elapsed := now.Sub(b.UpdatedAt)
	switch {
	case elapsed < -l.Per:
		return Bucket{Tokens: tokens, UpdatedAt: now}
	case elapsed <= 0:
		return Bucket{Tokens: tokens, UpdatedAt: b.UpdatedAt}
	case elapsed >= l.Per:
		return Bucket{Tokens: capacity, UpdatedAt: now}
	}
	// elapsed·capacity/Per in 128 bits; elapsed < Per, so the quotient fits.
	hi, lo := bits.Mul64(uint64(elapsed), uint64(capacity))
	added, rest := bits.Div64(hi, lo, uint64(l.Per))
	if added >= uint64(capacity-tokens) {
		return Bucket{Tokens: capacity, UpdatedAt: now}
	}
	// rest/capacity nanoseconds have not yet made a whole thousandth: keep
	// them (to the microsecond, rounding down, so stored and in-memory
	// buckets agree and nothing is ever refilled twice).
	kept := (time.Duration(rest / uint64(capacity))).Truncate(time.Microsecond)
	return Bucket{Tokens: tokens + int64(added), UpdatedAt: now.Add(-kept)}
}

// refillTime is how long l takes to refill n thousandths, rounded up, or
// maxRetry when that does not fit in a Duration.
func (l Limit) refillTime(n uint64) time.Duration {
	capacity := uint64(l.capacity())
	hi, lo := bits.Mul64(n, uint64(l.Per))
	if hi >= capacity {
		return maxRetry
	}
	q, r := bits.Div64(hi, lo, capacity)
	if r != 0 {
		q++ // cannot wrap: q < 2⁶⁴/capacity
	}
	if q >= uint64(maxRetry) {
		return maxRetry
	}
	return time.Duration(q)
}

// fullAt is the instant bucket b, already refilled, will be full under l.
func (l Limit) fullAt(b Bucket) time.Time {
	if b.Tokens >= l.capacity() {
		return b.UpdatedAt
	}
	return b.UpdatedAt.Add(l.refillTime(uint64(l.capacity() - max(b.Tokens, 0))))
}

// roundRetry rounds a wait up to whole seconds, at least one.
func roundRetry(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	if d > maxRetry-time.Second {
		return maxRetry
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
