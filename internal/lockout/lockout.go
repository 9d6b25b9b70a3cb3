// Package lockout slows password guessing without letting an attacker lock
// the owner out, after OWASP's device-cookie scheme: failures are counted
// per account and per device. Each trusted device has its own lane; every
// unknown or untrusted device shares one. A lane that reaches the limit is
// locked for a while, doubling with each lock, and a locked lane answers
// before any password is checked. A lock on the shared lane never touches a
// trusted device's lane, so the owner on their own phone still gets in.
package lockout

import (
	"time"
)

// UntrustedLane is the lane every unknown or untrusted device shares.
const UntrustedLane = "untrusted"

// LaneFor names the lane of a login: its trusted device's own, or the shared one.
func LaneFor(trustedDeviceID string) string {
	if trustedDeviceID == "" {
		return UntrustedLane
	}
	return "device:" + trustedDeviceID
}

// Policy is the lockout schedule.
type Policy struct {
	// MaxFailures wrong answers in a row lock the lane (5).
	MaxFailures int
	// BaseDelay is the first lock's length (1 min); each further lock doubles it.
	BaseDelay time.Duration
	// MaxDelay caps a lock's length (1 h).
	MaxDelay time.Duration
	// ForgetAfter: a lane untouched this long starts afresh (24 h), so a
	// few typos a week never add up to a lock.
	ForgetAfter time.Duration
}

// DefaultPolicy is 5 failures, then 1, 2, 4 … minutes, at most an hour.
func DefaultPolicy() Policy {
	return Policy{MaxFailures: 5, BaseDelay: time.Minute, MaxDelay: time.Hour, ForgetAfter: 24 * time.Hour}
}

// Lane is one account's failure count for one lane.
type Lane struct {
	AccountID   string
	Key         string
	Failures    int // since the last lock or success
	Locks       int // locks in a row, for the doubling
	LockedUntil time.Time
	UpdatedAt   time.Time
	// Pending counts the checks running now that reserved one of the tries
	// left (Reserve): guesses sent at once cannot outrun the count.
	// PendingUntil forgets them, should a node die mid-check.
	Pending      int
	PendingUntil time.Time
}

// pendingTTL is how long a reservation lasts at most: far longer than a
// password check, which gives up waiting for a core after seconds.
const pendingTTL = time.Minute

// RetryAfter is how long the lane stays locked at now; zero when open.
func (l Lane) RetryAfter(now time.Time) time.Duration {
	if now.Before(l.LockedUntil) {
		return l.LockedUntil.Sub(now)
	}
	return 0
}

// fresh forgets a lane left alone for ForgetAfter.
func (p Policy) fresh(l Lane, now time.Time) Lane {
	if !l.UpdatedAt.IsZero() && now.Sub(l.UpdatedAt) >= p.ForgetAfter && !now.Before(l.LockedUntil) {
		l.Failures, l.Locks = 0, 0
	}
	return l
}

// Reserve takes one of the lane's tries left for a check about to run. ok
// is false when the lane is locked (see RetryAfter) or every try left is
// taken by checks running now; the caller must not check then. A check
// that ran gives its try back with Release (and Fail counts it if wrong).
func (p Policy) Reserve(l Lane, now time.Time) (next Lane, ok bool) {
	l = p.fresh(l, now)
	if !now.Before(l.PendingUntil) {
		l.Pending = 0
	}
	if l.RetryAfter(now) > 0 || l.Failures+l.Pending >= p.MaxFailures {
		return l, false
	}
	l.Pending++
	l.PendingUntil = now.Add(pendingTTL)
	return l, true
}

// Release gives back a try that Reserve took.
func (p Policy) Release(l Lane) Lane {
	if l.Pending > 0 {
		l.Pending--
	}
	return l
}

// Fail counts a wrong password or code. locked is set when this failure
// locked the lane (the owner is told once per lock).
func (p Policy) Fail(l Lane, now time.Time) (next Lane, locked bool) {
	l = p.fresh(l, now)
	l.Failures++
	l.UpdatedAt = now
	if l.Failures < p.MaxFailures {
		return l, false
	}
	delay := p.BaseDelay
	for i := 0; i < l.Locks && delay < p.MaxDelay; i++ {
		delay *= 2
	}
	l.LockedUntil = now.Add(min(delay, p.MaxDelay))
	l.Locks++
	l.Failures = 0
	return l, true
}

// Succeed clears the lane after a login that passed every check.
func (p Policy) Succeed(l Lane, now time.Time) Lane {
	l.Failures, l.Locks, l.LockedUntil, l.UpdatedAt = 0, 0, time.Time{}, now
	return l
}
