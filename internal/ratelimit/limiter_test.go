package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct{ at atomic.Int64 }

func newClock(t time.Time) *clock        { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)         { c.at.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration) { c.at.Add(int64(d)) }
func (c *clock) now() time.Time          { return time.Unix(0, c.at.Load()).UTC() }

func TestLimiterChargesAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock(t0)
	lim := &Limiter{Store: NewMemoryStore(100), Now: c.now}
	ip := Key{"login:ip:192.0.2.1", Limit{Burst: 5, Per: time.Minute}}
	acct := Key{"login:account:acc_x", Limit{Burst: 2, Per: time.Hour}}

	for i, want := range []Decision{
		{Allowed: true, Remaining: 1}, // min(4, 1)
		{Allowed: true, Remaining: 0},
		// The account is spent: refused, and the IP, which had 3 left, is not charged.
		{Allowed: false, RetryAfter: 30 * time.Minute, Remaining: 0, Bucket: acct.Bucket},
		{Allowed: false, RetryAfter: 30 * time.Minute, Remaining: 0, Bucket: acct.Bucket},
	} {
		d, err := lim.Check(ctx, ip, acct)
		if err != nil {
			t.Fatal(err)
		}
		if d != want {
			t.Fatalf("check %d: %+v, want %+v", i+1, d, want)
		}
	}
	d, err := lim.CheckCost(ctx, 0, ip)
	if err != nil || d != (Decision{Allowed: true, Remaining: 3}) {
		t.Fatalf("IP bucket after refusals: %+v, %v; want 3 tokens left", d, err)
	}
	// Other accounts from the same IP still get through, until the IP is spent.
	for _, id := range []string{"acc_y", "acc_y", "acc_w"} {
		if d, err := lim.Check(ctx, ip, Key{"login:account:" + id, acct.Limit}); err != nil || !d.Allowed {
			t.Fatalf("account %s: %+v, %v", id, d, err)
		}
	}
	d, err = lim.Check(ctx, ip, Key{"login:account:acc_z", acct.Limit})
	if err != nil || d.Allowed || d.Bucket != ip.Bucket || d.RetryAfter != 12*time.Second {
		t.Fatalf("IP spent: %+v, %v", d, err)
	}
	// The clock moves on: both refill.
	c.advance(30 * time.Minute)
	if d, err := lim.Check(ctx, ip, acct); err != nil || d != (Decision{Allowed: true, Remaining: 0}) {
		t.Fatalf("after 30 minutes: %+v, %v", d, err)
	}
}

func TestLimiterReportsTheLongestWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lim := &Limiter{Store: NewMemoryStore(100), Now: newClock(t0).now}
	fast := Key{"fast", Limit{Burst: 1, Per: 10 * time.Second}}
	slow := Key{"slow", Limit{Burst: 1, Per: time.Hour}}
	spare := Key{"spare", Limit{Burst: 100, Per: time.Second}}
	if d, err := lim.Check(ctx, fast, slow); err != nil || !d.Allowed {
		t.Fatalf("first: %+v, %v", d, err)
	}
	for _, keys := range [][]Key{{fast, slow, spare}, {spare, slow, fast}} {
		d, err := lim.Check(ctx, keys...)
		want := Decision{RetryAfter: time.Hour, Remaining: 0, Bucket: "slow"}
		if err != nil || d != want {
			t.Fatalf("%+v, %v; want %+v", d, err, want)
		}
	}
	if d, _ := lim.CheckCost(ctx, 0, spare); d.Remaining != 100 {
		t.Fatalf("spare bucket charged by refusals: %+v", d)
	}
}

func TestLimiterRejectsInvalidKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lim := &Limiter{Store: NewMemoryStore(100)}
	ok := Limit{Burst: 1, Per: time.Second}
	for name, tc := range map[string]struct {
		cost int
		keys []Key
	}{
		"no keys":         {1, nil},
		"empty bucket":    {1, []Key{{"", ok}}},
		"long bucket":     {1, []Key{{strings.Repeat("x", MaxBucketLen+1), ok}}},
		"invalid limit":   {1, []Key{{"a", Limit{Burst: 0, Per: time.Second}}}},
		"duplicate":       {1, []Key{{"a", ok}, {"b", ok}, {"a", ok}}},
		"negative cost":   {-1, []Key{{"a", ok}}},
		"cost > MaxBurst": {MaxBurst + 1, []Key{{"a", ok}}},
	} {
		if _, err := lim.CheckCost(ctx, tc.cost, tc.keys...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := lim.Check(ctx); !errors.Is(err, ErrNoKeys) {
		t.Errorf("no keys: %v, want ErrNoKeys", err)
	}
	if m := lim.Store.(*MemoryStore); m.Len() != 0 {
		t.Errorf("%d buckets stored by invalid checks", m.Len())
	}
}

type failingStore struct{}

func (failingStore) UpdateBuckets(context.Context, time.Time, []Key, func([]Bucket) ([]Bucket, bool)) error {
	return errors.New("database down")
}

func TestLimiterReportsStoreErrors(t *testing.T) {
	t.Parallel()
	lim := &Limiter{Store: failingStore{}}
	d, err := lim.Check(context.Background(), Key{"a", Limit{Burst: 1, Per: time.Second}})
	if err == nil || d.Allowed {
		t.Fatalf("%+v, %v; want an error and no permission", d, err)
	}
}

func TestLimiterUsesTheRealClockByDefault(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore(10)
	lim := &Limiter{Store: m}
	before := time.Now()
	if _, err := lim.Check(context.Background(), Key{"a", Limit{Burst: 2, Per: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	got := m.entries["a"].bucket.UpdatedAt
	if got.Before(before.Truncate(time.Microsecond)) || got.After(time.Now()) || got.Nanosecond()%1000 != 0 {
		t.Fatalf("UpdatedAt %v: not now to the microsecond", got)
	}
}

// Concurrent checks on one bucket allow exactly the burst.
func TestMemoryStoreConcurrentChecks(t *testing.T) {
	t.Parallel()
	lim := &Limiter{Store: NewMemoryStore(100), Now: newClock(t0).now}
	key := Key{"hot", Limit{Burst: 10, Per: time.Hour}}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			d, err := lim.Check(context.Background(), key)
			if err != nil {
				t.Error(err)
			}
			if d.Allowed {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Fatalf("%d allowed, want 10", n)
	}
}

func TestMemoryStoreIsBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMemoryStore(50)
	lim := &Limiter{Store: m, Now: newClock(t0).now}
	for i := range 1000 {
		if _, err := lim.Check(ctx, Key{fmt.Sprintf("ip:%d", i), Limit{Burst: 5, Per: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		if m.Len() > 50 {
			t.Fatalf("%d buckets held, bound 50", m.Len())
		}
	}
	// Both keys of the check are kept, even when they alone exceed the bound.
	tiny := NewMemoryStore(1)
	lim = &Limiter{Store: tiny, Now: newClock(t0).now}
	l := Limit{Burst: 1, Per: time.Hour}
	if _, err := lim.Check(ctx, Key{"a", l}, Key{"b", l}); err != nil {
		t.Fatal(err)
	}
	if d, _ := lim.Check(ctx, Key{"a", l}, Key{"b", l}); d.Allowed {
		t.Fatal("a check of two buckets forgot its own charge")
	}
}

func TestMemoryStoreEvictsFullBucketsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock(t0)
	lim := &Limiter{Store: NewMemoryStore(3), Now: c.now}
	slow := Key{"slow", Limit{Burst: 1, Per: time.Hour}}       // full again at t0+1h
	medium := Key{"medium", Limit{Burst: 1, Per: time.Minute}} // full again at t0+1m
	quick := Key{"quick", Limit{Burst: 1, Per: time.Second}}   // full again at t0+1s
	for _, k := range []Key{slow, medium, quick} {
		if d, err := lim.Check(ctx, k); err != nil || !d.Allowed {
			t.Fatalf("%s: %+v, %v", k.Bucket, d, err)
		}
	}
	spent := func(k Key) bool {
		d, err := lim.CheckCost(ctx, 0, k)
		if err != nil {
			t.Fatal(err)
		}
		return d.Remaining == 0
	}
	// At t0+2s quick is full: a new bucket replaces it, the others stay.
	c.advance(2 * time.Second)
	if _, err := lim.Check(ctx, Key{"new1", Limit{Burst: 1, Per: 24 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if !spent(slow) || !spent(medium) {
		t.Fatal("a bucket still counting was dropped while a full one could go")
	}
	// Nothing full now: the one nearest to full (medium) goes.
	if _, err := lim.Check(ctx, Key{"new2", Limit{Burst: 1, Per: 24 * time.Hour}}); err != nil {
		t.Fatal(err)
	}
	if !spent(slow) {
		t.Fatal("slow dropped before medium, which is nearer to full")
	}
	if spent(medium) {
		t.Fatal("medium not dropped")
	}
}

func TestMemoryStorePrune(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock(t0)
	m := NewMemoryStore(100)
	lim := &Limiter{Store: m, Now: c.now}
	for i, per := range []time.Duration{time.Second, time.Minute, time.Hour} {
		if _, err := lim.Check(ctx, Key{fmt.Sprint(i), Limit{Burst: 2, Per: per}}); err != nil {
			t.Fatal(err)
		}
	}
	// Each bucket lost one of two tokens at t0: it is full again after half its period.
	for _, step := range []struct {
		at          time.Duration
		pruned, len int
	}{
		{100 * time.Millisecond, 0, 3},
		{29 * time.Second, 1, 2},
		{30 * time.Second, 1, 1},
		{29 * time.Minute, 0, 1},
		{30 * time.Minute, 1, 0},
	} {
		if n := m.Prune(t0.Add(step.at)); n != step.pruned || m.Len() != step.len {
			t.Fatalf("at t0+%v: pruned %d, %d left; want %d, %d left", step.at, n, m.Len(), step.pruned, step.len)
		}
	}
}

// BenchmarkMemoryStore is BenchmarkLimiter of package store on a MemoryStore.
func BenchmarkMemoryStore(b *testing.B) {
	ctx := context.Background()
	const n = 1000
	l := Limit{Burst: MaxBurst, Per: time.Second}
	keys := make([][]Key, n)
	for i := range n {
		keys[i] = []Key{{fmt.Sprintf("login:ip:198.51.100.%d", i), l}, {fmt.Sprintf("login:account:acc_%06d", i), l}}
	}
	b.Run("allowed-2keys", func(b *testing.B) {
		lim := &Limiter{Store: NewMemoryStore(10 * n)}
		i := 0
		for b.Loop() {
			if _, err := lim.Check(ctx, keys[i%n]...); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("allowed-2keys-parallel", func(b *testing.B) {
		lim := &Limiter{Store: NewMemoryStore(10 * n)}
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := lim.Check(ctx, keys[int(next.Add(1))%n]...); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("new-keys-at-bound", func(b *testing.B) {
		m := NewMemoryStore(n)
		lim := &Limiter{Store: m, Now: newClock(t0).now}
		i := 0
		for b.Loop() {
			if _, err := lim.Check(ctx, Key{"ip:" + strconv.Itoa(i), Limit{Burst: 5, Per: time.Hour}}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		if m.Len() > n {
			b.Fatalf("%d buckets held", m.Len())
		}
	})
}

// countingStore counts the trips to the store.
type countingStore struct {
	BucketStore
	trips atomic.Int64
}

func (c *countingStore) UpdateBuckets(ctx context.Context, now time.Time, keys []Key, update func([]Bucket) ([]Bucket, bool)) error {
	c.trips.Add(1)
	return c.BucketStore.UpdateBuckets(ctx, now, keys, update)
}

// An empty bucket is refused on this node without a trip to the store until
// it surely has a token again, and never past that moment.
func TestLimiterRemembersEmptyBuckets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClock(t0)
	store := &countingStore{BucketStore: NewMemoryStore(100)}
	lim := &Limiter{Store: store, Now: c.now}
	flood := Key{"login:ip:192.0.2.9", Limit{Burst: 2, Per: 10 * time.Second}} // a token every 5 s
	other := Key{"login:ip:192.0.2.10", Limit{Burst: 2, Per: 10 * time.Second}}
	for range 2 {
		if d, _ := lim.Check(ctx, flood); !d.Allowed {
			t.Fatal("the burst was refused")
		}
	}
	d, _ := lim.Check(ctx, flood)
	if d.Allowed || d.RetryAfter != 5*time.Second {
		t.Fatalf("third try: %+v", d)
	}
	before := store.trips.Load()
	for range 100 {
		if d, _ := lim.Check(ctx, flood); d.Allowed || d.RetryAfter < time.Second || d.RetryAfter > 5*time.Second {
			t.Fatalf("refusal from memory: %+v", d)
		}
	}
	if trips := store.trips.Load() - before; trips != 0 {
		t.Errorf("100 refusals of a known-empty bucket took %d trips to the store", trips)
	}
	if d, _ := lim.Check(ctx, other, flood); d.Allowed || d.Bucket != flood.Bucket {
		t.Errorf("a request that also needs the empty bucket: %+v", d)
	}
	if d, _ := lim.Check(ctx, other); !d.Allowed {
		t.Errorf("another address was refused: %+v", d)
	}
	c.advance(5 * time.Second) // the token is there: memory must not refuse it
	if d, _ := lim.Check(ctx, flood); !d.Allowed {
		t.Errorf("after the wait: %+v", d)
	}
}
