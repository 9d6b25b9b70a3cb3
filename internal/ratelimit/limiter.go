package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// MaxBucketLen is the longest bucket name a Limiter accepts: room for a
// prefix and an email address (at most 254 bytes). Names are built from what
// clients send: bound or hash anything that may be longer.
const MaxBucketLen = 320

// ErrNoKeys is returned by Check when it is given no key.
var ErrNoKeys = errors.New("rate limit: no bucket to check")

// Key is one limit applied to a request: the bucket it draws from, named by
// what it counts ("login:ip:192.0.2.1", "login:account:acc_x"), and the limit.
// A bucket name must always be used with the same Limit.
type Key struct {
	Bucket string
	Limit  Limit
}

// BucketStore keeps buckets for a Limiter. The database (package store)
// implements it for limits that all nodes share; MemoryStore for one node.
type BucketStore interface {
	// UpdateBuckets reads the buckets of keys — the zero Bucket for one it
	// does not hold — and passes them to update in the order of keys. When
	// update returns save true, it stores the buckets update returned (same
	// order) in their place; when false, it changes nothing. Between the read
	// and the store no other UpdateBuckets on any of these buckets runs, on
	// any node sharing the store. Bucket names are distinct.
	//
	// update must do nothing but compute its result: a store may call it
	// again when it has to retry. now is the caller's clock; a store may use
	// it to expire what it keeps.
	UpdateBuckets(ctx context.Context, now time.Time, keys []Key, update func(current []Bucket) (next []Bucket, save bool)) error
}

// Limiter applies rate limits, keeping the buckets in Store.
type Limiter struct {
	Store BucketStore
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// empty remembers, on this node, buckets found empty and until when they
	// stay so. A bucket only refills with time (other nodes can only drain
	// it), so until then a refusal is certain and costs no database write:
	// under a flood from one address most answers are refusals.
	empty emptyBuckets
}

// Check takes one token from the bucket of every key, or from none: it is
// allowed only when every bucket holds a token, and a refusal charges
// nothing. A refusal reports the longest RetryAfter of the buckets that
// refused, and which bucket that was.
//
// An error means the buckets could not be read or written (or a key is
// invalid); the request was neither allowed nor charged.
func (lim *Limiter) Check(ctx context.Context, keys ...Key) (Decision, error) {
	return lim.CheckCost(ctx, 1, keys...)
}

// CheckCost is Check taking cost tokens from every bucket. A cost of 0
// charges nothing and tells how many tokens remain.
func (lim *Limiter) CheckCost(ctx context.Context, cost int, keys ...Key) (Decision, error) {
	if err := validate(cost, keys); err != nil {
		return Decision{}, err
	}
	clock := lim.Now
	if clock == nil {
		clock = time.Now
	}
	now := clock().UTC().Truncate(time.Microsecond)
	if cost > 0 {
		if d, refused := lim.empty.refuses(keys, now); refused {
			return d, nil
		}
	}
	var d Decision
	err := lim.Store.UpdateBuckets(ctx, now, keys, func(current []Bucket) ([]Bucket, bool) {
		next := make([]Bucket, len(keys))
		d = decide(current, keys, now, cost, next)
		return next, d.Allowed
	})
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit: %w", err)
	}
	if !d.Allowed && cost == 1 {
		// RetryAfter is rounded up to a whole second: a second less is a
		// moment the bucket is surely still empty.
		lim.empty.remember(d.Bucket, now.Add(d.RetryAfter-time.Second))
	}
	return d, nil
}

// emptyBuckets is a bounded map of bucket name to the time it stays empty
// until; the zero value is ready.
type emptyBuckets struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// maxEmptyBuckets bounds the memory a flood of distinct addresses can take;
// past it the oldest knowledge is simply dropped (the database still decides).
const maxEmptyBuckets = 10_000

func (e *emptyBuckets) remember(bucket string, until time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.until == nil || len(e.until) >= maxEmptyBuckets {
		e.until = map[string]time.Time{}
	}
	e.until[bucket] = until
}

// refuses answers for the database when a bucket of keys is known empty.
func (e *emptyBuckets) refuses(keys []Key, now time.Time) (Decision, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range keys {
		until, ok := e.until[k.Bucket]
		if !ok {
			continue
		}
		if !now.Before(until) {
			delete(e.until, k.Bucket)
			continue
		}
		wait := until.Sub(now).Truncate(time.Second) + time.Second
		return Decision{Allowed: false, RetryAfter: wait, Bucket: k.Bucket}, true
	}
	return Decision{}, false
}

// decide applies Take to every bucket, writing the buckets to store into
// next, and combines the decisions.
func decide(current []Bucket, keys []Key, now time.Time, cost int, next []Bucket) Decision {
	d := Decision{Allowed: true, Remaining: math.MaxInt}
	uncharged := math.MaxInt // the fewest tokens any bucket holds before the charge
	for i, k := range keys {
		b, kd := Take(current[i], k.Limit, now, cost)
		next[i] = b
		d.Remaining = min(d.Remaining, kd.Remaining)
		if kd.Allowed {
			uncharged = min(uncharged, kd.Remaining+cost)
			continue
		}
		uncharged = min(uncharged, kd.Remaining)
		d.Allowed = false
		if kd.RetryAfter > d.RetryAfter {
			d.RetryAfter, d.Bucket = kd.RetryAfter, k.Bucket
		}
	}
	if !d.Allowed {
		d.Remaining = uncharged
	}
	return d
}

func validate(cost int, keys []Key) error {
	if len(keys) == 0 {
		return ErrNoKeys
	}
	if cost < 0 || cost > MaxBurst {
		return fmt.Errorf("rate limit: cost %d out of range 0…%d", cost, MaxBurst)
	}
	for i, k := range keys {
		if k.Bucket == "" || len(k.Bucket) > MaxBucketLen {
			return fmt.Errorf("rate limit: bucket name of %d bytes (want 1…%d)", len(k.Bucket), MaxBucketLen)
		}
		if err := k.Limit.Validate(); err != nil {
			return fmt.Errorf("%w (bucket %s)", err, k.Bucket)
		}
		for _, o := range keys[:i] {
			if o.Bucket == k.Bucket {
				return fmt.Errorf("rate limit: bucket %s given twice", k.Bucket)
			}
		}
	}
	return nil
}
