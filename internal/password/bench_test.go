package password

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// Benchmarks at DefaultParams, all cores busy (RunParallel). Compare the
// pool with bare argon2.IDKey in one run:
//
//	go test -run '^$' -bench 'Default|Throughput' -benchtime 3s ./internal/password/
//
// The pool's overhead is a channel send and receive and a few atomics per
// hash; at about 10 ms per hash it should not be measurable.

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}

// defaultHasher waits without limit: on a shared, loaded machine the
// default MaxWait would (rightly) shed load and fail the benchmark.
func defaultHasher(b *testing.B) *Hasher {
	h, err := NewHasher(DefaultParams(), Options{MaxWait: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

func BenchmarkHashDefault(b *testing.B) {
	h := defaultHasher(b)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := defaultHasher(b)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(ctx, phc, "correct horse battery staple"); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkThroughput compares logins through the pool with bare
// Argon2id at DefaultParams on the same cores. The machine may be shared,
// so the three are interleaved in rounds (order rotating) rather than run
// one after the other, and each round times a batch of 4 hashes per core:
// bare argon2.IDKey with one caller per core, Verify and VerifyDummy with
// 8 callers per core, so that calls wait in the pool's queue as under
// load. Metrics: hashes/s of each, and pool/bare ratios (1 = no overhead).
//
//	go test -run '^$' -bench Throughput -benchtime 30x ./internal/password/
func BenchmarkThroughput(b *testing.B) {
	p := DefaultParams()
	h := defaultHasher(b)
	ctx := context.Background()
	const pw = "correct horse battery staple"
	phc, err := h.Hash(ctx, pw)
	if err != nil {
		b.Fatal(err)
	}
	salt := make([]byte, p.SaltLen)
	procs := runtime.GOMAXPROCS(0)
	perRound := 4 * procs

	// batch runs n calls of f on g goroutines and returns the wall time.
	batch := func(g int, f func() error) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range g {
			wg.Go(func() {
				for next.Add(1) <= int64(perRound) {
					if err := f(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	sides := []struct {
		callers int
		f       func() error
		total   time.Duration
	}{
		{procs, func() error {
			argon2.IDKey([]byte(pw), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
			return nil
		}, 0},
		{8 * procs, func() error {
			if ok, _, err := h.Verify(ctx, phc, pw); !ok || err != nil {
				return fmt.Errorf("Verify = %v, %v", ok, err)
			}
			return nil
		}, 0},
		{8 * procs, func() error { return h.VerifyDummy(ctx, pw) }, 0},
	}
	round := 0
	for b.Loop() {
		for k := range sides {
			s := &sides[(round+k)%len(sides)]
			s.total += batch(s.callers, s.f)
		}
		round++
	}
	n := float64(round * perRound)
	b.ReportMetric(n/sides[0].total.Seconds(), "bare-hashes/s")
	b.ReportMetric(n/sides[1].total.Seconds(), "verify-hashes/s")
	b.ReportMetric(n/sides[2].total.Seconds(), "dummy-hashes/s")
	b.ReportMetric(sides[0].total.Seconds()/sides[1].total.Seconds(), "verify/bare")
	b.ReportMetric(sides[0].total.Seconds()/sides[2].total.Seconds(), "dummy/bare")
	b.ReportMetric(0, "ns/op") // a round's time is not a useful figure
}

// BenchmarkCheckPolicy on one core: typical inputs, then the slowest known
// for zxcvbn (see the comment on zxcvbnPrefix in CheckPolicy).
func BenchmarkCheckPolicy(b *testing.B) {
	cases := []struct{ name, plain string }{
		{"passphrase", "correct horse battery staple"},
		{"common", "password1234"},
		{"non-ascii", "日本語のパスワードです"},
		{"random-128", strings.Repeat("kq9!zR2#vW", 13)[:MaxLength]},
		{"leet-symbols-128", worstCasePasswords()[0]},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				CheckPolicy(c.plain, "alice@example.com")
			}
		})
	}
}
