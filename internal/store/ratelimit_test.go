package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/ratelimit"
	"github.com/wardenhq/warden/internal/store"
	"github.com/wardenhq/warden/internal/store/storetest"
)

var rateT0 = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// testClock is a clock the test moves by hand, safe for concurrent use.
type testClock struct{ at atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.at.Store(t.UnixNano())
	return c
}

func (c *testClock) now() time.Time          { return time.Unix(0, c.at.Load()).UTC() }
func (c *testClock) advance(d time.Duration) { c.at.Add(int64(d)) }
func (c *testClock) limiter(s ratelimit.BucketStore) *ratelimit.Limiter {
	return &ratelimit.Limiter{Store: s, Now: c.now}
}

// chargeConcurrently runs goroutines that each make rounds checks at once,
// each check on a random set of one to most of keys, and returns what it
// charged each key. The random sets are seeded by seed and the goroutine's
// number, so a failure repeats. Every check must pass: the bursts are meant
// to hold every charge.
func chargeConcurrently(t *testing.T, lim *ratelimit.Limiter, keys []ratelimit.Key, most, goroutines, rounds int, seed uint64) []int64 {
	t.Helper()
	ctx := context.Background()
	charged := make([]atomic.Int64, len(keys))
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), seed))
			for range rounds {
				picked := rng.Perm(len(keys))[:1+rng.IntN(most)]
				set := make([]ratelimit.Key, len(picked))
				for i, p := range picked {
					set[i] = keys[p]
				}
				d, err := lim.Check(ctx, set...)
				if err != nil {
					t.Error(err)
					return
				}
				if !d.Allowed {
					t.Errorf("refused: %+v", d)
					return
				}
				for _, p := range picked {
					charged[p].Add(1)
				}
			}
		})
	}
	wg.Wait()
	out := make([]int64, len(keys))
	for i := range charged {
		out[i] = charged[i].Load()
	}
	return out
}

// checkCharges checks that each key's bucket holds its burst less what was
// charged to it: no charge was lost or counted twice.
func checkCharges(t *testing.T, lim *ratelimit.Limiter, keys []ratelimit.Key, charged []int64) {
	t.Helper()
	for i, key := range keys {
		d, err := lim.CheckCost(context.Background(), 0, key) // a look that charges nothing
		if err != nil {
			t.Fatal(err)
		}
		if want := key.Limit.Burst - int(charged[i]); d.Remaining != want {
			t.Errorf("bucket %s holds %d, want %d", key.Bucket, d.Remaining, want)
		}
	}
}

// countBuckets counts the rows of rate_buckets (by pruning them all).
func countBuckets(t *testing.T, s *store.Store) int64 {
	t.Helper()
	n, err := s.PruneRateBuckets(context.Background(), time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRateLimitChargesAllOrNothing(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		c := newTestClock(rateT0)
		lim := c.limiter(s)
		ip := ratelimit.Key{Bucket: "login:ip:192.0.2.1", Limit: ratelimit.Limit{Burst: 5, Per: time.Minute}}
		acct := ratelimit.Key{Bucket: "login:account:acc_x", Limit: ratelimit.Limit{Burst: 2, Per: time.Hour}}
		check := func(cost int, keys ...ratelimit.Key) ratelimit.Decision {
			t.Helper()
			d, err := lim.CheckCost(ctx, cost, keys...)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		for i, want := range []ratelimit.Decision{
			{Allowed: true, Remaining: 1},
			{Allowed: true, Remaining: 0},
			{Allowed: false, RetryAfter: 30 * time.Minute, Remaining: 0, Bucket: acct.Bucket},
		} {
			if d := check(1, acct, ip); d != want { // not in name order: the store sorts
				t.Fatalf("check %d: %+v, want %+v", i+1, d, want)
			}
		}
		if d := check(0, ip); d.Remaining != 3 {
			t.Fatalf("IP bucket holds %d after a refusal, want 3: the refusal charged it", d.Remaining)
		}
		// A refusal involving a bucket never used before leaves no row behind.
		fresh := ratelimit.Key{Bucket: "login:account:acc_new", Limit: acct.Limit}
		if d := check(3, fresh, ip); d.Allowed || d.Bucket != fresh.Bucket && d.Bucket != ip.Bucket {
			t.Fatalf("cost 3 of a burst of 2: %+v", d)
		}
		// Buckets are read back as stored, to the microsecond.
		c.advance(3*time.Second + 1500*time.Nanosecond)
		if d := check(1, ip); d != (ratelimit.Decision{Allowed: true, Remaining: 2}) {
			t.Fatalf("after 3 s: %+v", d)
		}
		c.advance(30 * time.Minute)
		if d := check(1, acct, ip); d != (ratelimit.Decision{Allowed: true, Remaining: 0}) {
			t.Fatalf("after 30 minutes: %+v", d)
		}
		if n := countBuckets(t, s); n != 2 {
			t.Fatalf("%d rows in rate_buckets, want 2", n)
		}
	})
}

// Many requests at once on one bucket: exactly the burst gets through, and
// checks of overlapping sets of buckets, named in any order, neither
// deadlock nor lose a charge.
func TestRateLimitConcurrentChecks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		lim := newTestClock(rateT0).limiter(s)
		hot := ratelimit.Key{Bucket: "hot", Limit: ratelimit.Limit{Burst: 10, Per: time.Hour}}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				d, err := lim.Check(ctx, hot)
				if err != nil {
					t.Error(err)
				} else if d.Allowed {
					allowed.Add(1)
				}
			})
		}
		wg.Wait()
		if n := allowed.Load(); n != 10 {
			t.Fatalf("%d of 50 allowed on a burst of 10", n)
		}

		wide := ratelimit.Limit{Burst: 1000, Per: time.Hour}
		var keys []ratelimit.Key
		for _, name := range []string{"a", "b", "c", "d"} {
			keys = append(keys, ratelimit.Key{Bucket: name, Limit: wide})
		}
		checkCharges(t, lim, keys, chargeConcurrently(t, lim, keys, len(keys), 16, 10, 7))
	})
}

// Two Warden nodes on one PostgreSQL share every count.
func TestRateLimitSharedByNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	node1, url := storetest.PostgresURL(t)
	node2, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node2.Close() })
	c := newTestClock(rateT0)
	limiters := []*ratelimit.Limiter{c.limiter(node1), c.limiter(node2)}
	key := ratelimit.Key{Bucket: "login:account:acc_x", Limit: ratelimit.Limit{Burst: 10, Per: time.Hour}}
	var allowed [2]atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			d, err := limiters[i%2].Check(ctx, key)
			if err != nil {
				t.Error(err)
			} else if d.Allowed {
				allowed[i%2].Add(1)
			}
		})
	}
	wg.Wait()
	if n := allowed[0].Load() + allowed[1].Load(); n != 10 {
		t.Fatalf("%d allowed across two nodes (%d + %d), want 10", n, allowed[0].Load(), allowed[1].Load())
	}
	// What one node charged, the other sees.
	c.advance(6 * time.Minute) // one token back
	if d, err := limiters[0].Check(ctx, key); err != nil || !d.Allowed {
		t.Fatalf("node 1 after 6 minutes: %+v, %v", d, err)
	}
	if d, err := limiters[1].Check(ctx, key); err != nil || d.Allowed || d.RetryAfter != 6*time.Minute {
		t.Fatalf("node 2 right after: %+v, %v; want a refusal for 6 minutes", d, err)
	}
}

func TestRateLimitPrune(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		c := newTestClock(rateT0)
		lim := c.limiter(s)
		l := ratelimit.Limit{Burst: 1, Per: time.Hour}
		for i := range 2500 {
			if i == 2000 {
				c.advance(2 * time.Hour)
			}
			if _, err := lim.Check(ctx, ratelimit.Key{Bucket: fmt.Sprint("ip:", i), Limit: l}); err != nil {
				t.Fatal(err)
			}
		}
		// The 2000 buckets untouched for an hour or more go (in batches); the newer stay.
		n, err := s.PruneRateBuckets(ctx, c.now().Add(-l.Per))
		if err != nil || n != 2000 {
			t.Fatalf("pruned %d, %v; want 2000", n, err)
		}
		if d, _ := lim.Check(ctx, ratelimit.Key{Bucket: "ip:2100", Limit: l}); d.Allowed {
			t.Fatal("a bucket still counting was pruned")
		}
		if d, _ := lim.Check(ctx, ratelimit.Key{Bucket: "ip:100", Limit: l}); !d.Allowed {
			t.Fatal("a pruned bucket does not count as full")
		}
		if n := countBuckets(t, s); n != 501 {
			t.Fatalf("%d buckets left, want 501", n)
		}
	})
}

// Pruning while checks run on the buckets it prunes: checks never fail (on
// PostgreSQL a bucket pruned between its creation and its lock makes the
// check start over) and every charge lands.
func TestRateLimitPruneDuringChecks(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Parallel()
		ctx := context.Background()
		c := newTestClock(rateT0)
		lim := c.limiter(s)
		l := ratelimit.Limit{Burst: 100, Per: time.Hour}
		const buckets = 100
		keys := make([]ratelimit.Key, buckets)
		for i := range keys {
			keys[i] = ratelimit.Key{Bucket: fmt.Sprint("ip:", i), Limit: l}
			if _, err := lim.Check(ctx, keys[i]); err != nil {
				t.Fatal(err)
			}
		}
		c.advance(2 * time.Hour) // every bucket is full and may be pruned
		done := make(chan struct{})
		var pruned atomic.Int64
		var pruneErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				n, err := s.PruneRateBuckets(ctx, c.now().Add(-l.Per))
				if err != nil {
					pruneErr = err
					return
				}
				pruned.Add(n)
			}
		})
		charged := chargeConcurrently(t, lim, keys, 2, 8, 40, 11)
		close(done)
		wg.Wait()
		if pruneErr != nil {
			t.Fatal(pruneErr)
		}
		t.Logf("%d buckets pruned during the checks", pruned.Load())
		checkCharges(t, lim, keys, charged)
	})
}

// The one window a prune can hit on PostgreSQL: the bucket exists when the
// check makes sure of it, and is gone when the check locks it.
func TestRateLimitBucketPrunedBeforeLock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, url := storetest.PostgresURL(t)
	c := newTestClock(rateT0)
	lim := c.limiter(s)
	key := ratelimit.Key{Bucket: "login:ip:192.0.2.9", Limit: ratelimit.Limit{Burst: 3, Per: time.Hour}}
	if _, err := lim.Check(ctx, key); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pruner, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pruner.Rollback()
	if _, err := pruner.ExecContext(ctx, `SELECT 1 FROM rate_buckets WHERE bucket = $1 FOR UPDATE`, key.Bucket); err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	var d ratelimit.Decision
	go func() {
		var err error
		d, err = lim.Check(ctx, key)
		result <- err
	}()
	// Wait until the check waits for the row lock.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var waiting int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE wait_event_type = 'Lock' AND query LIKE '%FROM rate_buckets WHERE bucket IN%FOR UPDATE'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check never waited for the row lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := pruner.ExecContext(ctx, `DELETE FROM rate_buckets WHERE bucket = $1`, key.Bucket); err != nil {
		t.Fatal(err)
	}
	if err := pruner.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; err != nil {
		t.Fatalf("check after its bucket was pruned: %v", err)
	}
	if d != (ratelimit.Decision{Allowed: true, Remaining: 2}) {
		t.Fatalf("%+v, want the check on a fresh bucket", d)
	}
}

func TestUpdateBucketsRejectsDuplicates(t *testing.T) {
	t.Parallel()
	s := storetest.SQLite(t)
	l := ratelimit.Limit{Burst: 1, Per: time.Second}
	err := s.UpdateBuckets(context.Background(), rateT0, []ratelimit.Key{{Bucket: "a", Limit: l}, {Bucket: "a", Limit: l}},
		func(b []ratelimit.Bucket) ([]ratelimit.Bucket, bool) { return b, true })
	if err == nil {
		t.Fatal("no error for a bucket given twice")
	}
}

// BenchmarkLimiter measures one Check: allowed (a write) on one and two
// buckets, refused (a read and a rollback), and allowed from many goroutines.
func BenchmarkLimiter(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB, ...store.Option) *store.Store
	}{{"sqlite", storetest.SQLite}, {"postgres", storetest.Postgres}} {
		b.Run(db.name, func(b *testing.B) {
			s := db.open(b)
			ctx := context.Background()
			lim := &ratelimit.Limiter{Store: s}
			open := ratelimit.Limit{Burst: ratelimit.MaxBurst, Per: time.Second}
			shut := ratelimit.Limit{Burst: 1, Per: 24 * time.Hour}
			const n = 1000
			ips, accounts := make([]string, n), make([]string, n)
			for i := range n {
				ips[i], accounts[i] = fmt.Sprintf("login:ip:198.51.100.%d", i), fmt.Sprintf("login:account:acc_%06d", i)
			}
			for _, bc := range []struct {
				name string
				keys func(i int) []ratelimit.Key
			}{
				{"allowed-1key", func(i int) []ratelimit.Key {
					return []ratelimit.Key{{Bucket: ips[i%n], Limit: open}}
				}},
				{"allowed-2keys", func(i int) []ratelimit.Key {
					return []ratelimit.Key{{Bucket: ips[i%n], Limit: open}, {Bucket: accounts[i%n], Limit: open}}
				}},
				{"refused-2keys", func(i int) []ratelimit.Key {
					return []ratelimit.Key{{Bucket: "shut:" + ips[i%n], Limit: shut}, {Bucket: "shut:" + accounts[i%n], Limit: shut}}
				}},
			} {
				for i := range n { // create the buckets (and spend the shut ones)
					if _, err := lim.Check(ctx, bc.keys(i)...); err != nil {
						b.Fatal(err)
					}
				}
				b.Run(bc.name, func(b *testing.B) {
					i := 0
					for b.Loop() {
						if _, err := lim.Check(ctx, bc.keys(i)...); err != nil {
							b.Fatal(err)
						}
						i++
					}
				})
			}
			b.Run("allowed-2keys-parallel", func(b *testing.B) {
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := int(next.Add(1))
						keys := []ratelimit.Key{{Bucket: ips[i%n], Limit: open}, {Bucket: accounts[(i*7)%n], Limit: open}}
						if _, err := lim.Check(ctx, keys...); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		})
	}
}
