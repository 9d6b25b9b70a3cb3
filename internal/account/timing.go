package account

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// evenTiming makes an answer that must not tell whether an email has an
// account take as long either way. A request for a known email does real
// work (a token, an audit record, an email queued); one for an unknown
// email does none and would answer sooner. So every answer lasts at least
// the recent average of the real work plus a random jitter: the short path
// is padded to the long one's, and the jitter blurs what is left, as
// Authelia does for its logins. The zero value is ready: until real work
// has been timed, it assumes initialWork.
type evenTiming struct {
	mu      sync.Mutex
	average time.Duration // moving average of the real work
}

const (
	// initialWork is the assumed real work before any was timed: about a
	// write transaction with an email queued, on PostgreSQL.
	initialWork = 10 * time.Millisecond
	// averageWeight is the weight of each new sample in the moving average.
	averageWeight = 8
)

// delay is how much longer an answer that took elapsed must wait; real
// says it did the real work, whose time then joins the average.
func (e *evenTiming) delay(elapsed time.Duration, real bool) time.Duration {
	e.mu.Lock()
	if e.average == 0 {
		e.average = initialWork
	}
	if real {
		e.average += (elapsed - e.average) / averageWeight
	}
	target := e.average + rand.N(e.average/2+1)
	e.mu.Unlock()
	return max(target-elapsed, 0)
}

// pad waits out delay, or until ctx ends (the client left: nobody is
// timing the answer any more).
func (e *evenTiming) pad(ctx context.Context, started time.Time, real bool) {
	d := e.delay(time.Since(started), real)
	if d == 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
