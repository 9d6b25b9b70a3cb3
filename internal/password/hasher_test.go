package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func cheapHasher(t testing.TB, opts Options) *Hasher {
	t.Helper()
	h, err := NewHasher(CheapParamsForTests(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// probe wraps a kdf and records how many run at once and with what
// parameters; gate, when set, holds every call until it is closed.
type probe struct {
	kdf     kdf
	gate    chan struct{}
	running atomic.Int64
	peak    atomic.Int64
	calls   atomic.Int64
	started chan struct{} // receives one value per call, when set

	mu   sync.Mutex
	seen []Params
}

func (p *probe) run(pw, salt []byte, t, m uint32, threads uint8, keyLen uint32) []byte {
	n := p.running.Add(1)
	defer p.running.Add(-1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	p.calls.Add(1)
	p.mu.Lock()
	p.seen = append(p.seen, Params{MemoryKiB: m, Iterations: t, Parallelism: threads, SaltLen: uint32(len(salt)), KeyLen: keyLen})
	p.mu.Unlock()
	if p.started != nil {
		p.started <- struct{}{}
	}
	if p.gate != nil {
		<-p.gate
	}
	f := p.kdf
	if f == nil {
		f = argon2.IDKey
	}
	return f(pw, salt, t, m, threads, keyLen)
}

func probedHasher(t *testing.T, params Params, opts Options, p *probe) *Hasher {
	t.Helper()
	h, err := newHasher(params, opts, argon2.IDKey) // the dummy is made unobserved
	if err != nil {
		t.Fatal(err)
	}
	h.kdf = p.run
	return h
}

func TestHashVerify(t *testing.T) {
	h := cheapHasher(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name      string
		stored    string // the password hashed
		typed     string // the password given to Verify
		wantMatch bool
	}{
		{"same ascii", "correct horse battery staple", "correct horse battery staple", true},
		{"other password", "correct horse battery staple", "correct horse battery stapl", false},
		{"case matters", "Password", "password", false},
		{"empty", "", "", true},
		{"composed vs decomposed é (NFKC)", "caf\u00e9 au lait", "cafe\u0301 au lait", true},
		{"full-width vs ascii (NFKC)", "ｐａｓｓｗｏｒｄ", "password", true},
		{"ligature vs letters (NFKC)", "\ufb01nance", "finance", true},
		{"non-ascii", "日本語のパスワードです", "日本語のパスワードです", true},
		{"non-ascii other", "日本語のパスワードです", "日本語のパスワードで", false},
		{"emoji", "🔐 vault 🔑", "🔐 vault 🔑", true},
		{"invalid utf-8 kept as bytes", "pass\xffword", "pass\xffword", true},
		{"NUL byte is part of it", "pass\x00word", "pass", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phc, err := h.Hash(ctx, tt.stored)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(phc, "$argon2id$v=19$m=64,t=1,p=1$") {
				t.Fatalf("Hash = %s", phc)
			}
			ok, rehash, err := h.Verify(ctx, phc, tt.typed)
			if err != nil || ok != tt.wantMatch || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tt.wantMatch)
			}
		})
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	h := cheapHasher(t, Options{})
	a, _ := h.Hash(context.Background(), "same password")
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyRehash(t *testing.T) {
	ctx := context.Background()
	low := CheapParamsForTests()
	high := low
	high.MemoryKiB, high.Iterations = 128, 2
	hLow, err := NewHasher(low, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hHigh, err := NewHasher(high, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lowHash, _ := hLow.Hash(ctx, "a password")
	highHash, _ := hHigh.Hash(ctx, "a password")
	tests := []struct {
		name       string
		h          *Hasher
		phc, plain string
		ok, rehash bool
	}{
		{"old weak hash after raising params", hHigh, lowHash, "a password", true, true},
		{"wrong password never asks rehash", hHigh, lowHash, "another", false, false},
		{"current params", hHigh, highHash, "a password", true, false},
		{"stronger stored params are kept", hLow, highHash, "a password", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := tt.h.Verify(ctx, tt.phc, tt.plain)
			if err != nil || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v", ok, rehash, err, tt.ok, tt.rehash)
			}
		})
	}
}

func TestVerifyInvalidHashDoesNoWork(t *testing.T) {
	p := &probe{}
	h := probedHasher(t, CheapParamsForTests(), Options{}, p)
	for _, phc := range []string{"", "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"} {
		ok, rehash, err := h.Verify(context.Background(), phc, "pw")
		if ok || rehash || !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Verify(%q) = %v, %v, %v; want ErrInvalidHash", phc, ok, rehash, err)
		}
	}
	if p.calls.Load() != 0 {
		t.Fatalf("%d hashes computed for malformed stored hashes", p.calls.Load())
	}
}

func TestOversizedInput(t *testing.T) {
	p := &probe{}
	h := probedHasher(t, CheapParamsForTests(), Options{}, p)
	ctx := context.Background()
	huge := strings.Repeat("x", MaxInputBytes+1)
	if _, err := h.Hash(ctx, huge); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(huge) err = %v, want ErrTooLong", err)
	}
	phc, _ := h.Hash(ctx, "fits")
	calls := p.calls.Load()
	// Verify and VerifyDummy both answer "wrong" for free, so a huge input
	// takes the same (short) time for known and unknown accounts.
	if ok, rehash, err := h.Verify(ctx, phc, huge); ok || rehash || err != nil {
		t.Errorf("Verify(huge) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	if err := h.VerifyDummy(ctx, huge); err != nil {
		t.Errorf("VerifyDummy(huge) = %v", err)
	}
	if p.calls.Load() != calls {
		t.Error("oversized input was hashed")
	}
	if _, err := h.Hash(ctx, strings.Repeat("x", MaxInputBytes)); err != nil {
		t.Errorf("Hash(MaxInputBytes) = %v", err)
	}
}

// VerifyDummy must cost exactly what a failed Verify costs: one hash at
// the current parameters, whatever the password.
func TestVerifyDummyCostsOneCurrentHash(t *testing.T) {
	params := CheapParamsForTests()
	params.MemoryKiB, params.Iterations, params.KeyLen = 96, 2, 24
	p := &probe{}
	h := probedHasher(t, params, Options{}, p)
	for _, plain := range []string{"", "password", "日本語のパスワードです"} {
		if err := h.VerifyDummy(context.Background(), plain); err != nil {
			t.Fatal(err)
		}
	}
	want := Params{MemoryKiB: 96, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 24}
	if len(p.seen) != 3 {
		t.Fatalf("%d hashes for 3 VerifyDummy calls", len(p.seen))
	}
	for _, got := range p.seen {
		if got != want {
			t.Fatalf("dummy hashed with %+v, want %+v", got, want)
		}
	}
	// The dummy never matches, not even the empty password.
	if ok, _, _ := h.Verify(context.Background(), h.dummy, ""); ok {
		t.Fatal("dummy hash matched")
	}
	if got := h.Stats().Completed; got != 4 {
		t.Fatalf("Completed = %d, want 4", got)
	}
}

func TestNewHasher(t *testing.T) {
	tests := []struct {
		name    string
		params  Params
		opts    Options
		wantErr bool
		workers int
		queue   int64
		maxWait time.Duration
	}{
		{"defaults", CheapParamsForTests(), Options{}, false, runtime.GOMAXPROCS(0), 64, 2 * time.Second},
		{"explicit", CheapParamsForTests(), Options{Workers: 3, Queue: 5, MaxWait: time.Second}, false, 3, 5, time.Second},
		{"no queue", CheapParamsForTests(), Options{Queue: -1}, false, runtime.GOMAXPROCS(0), 0, 2 * time.Second},
		{"params below the floor", Params{MemoryKiB: 4096, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, Options{}, true, 0, 0, 0},
		{"zero params", Params{}, Options{}, true, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHasher(tt.params, tt.opts)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidParams) || h != nil {
					t.Fatalf("NewHasher = %v, %v; want ErrInvalidParams", h, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cap(h.slots) != tt.workers || h.queue != tt.queue || h.maxWait != tt.maxWait {
				t.Fatalf("workers %d queue %d maxWait %v", cap(h.slots), h.queue, h.maxWait)
			}
			if h.Params() != tt.params {
				t.Fatalf("Params() = %+v", h.Params())
			}
			if _, err := ParsePHC(h.dummy); err != nil {
				t.Fatalf("dummy: %v", err)
			}
		})
	}
}

// waitFor polls cond; the pool's state changes on other goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

type result struct {
	err error
	d   time.Duration
}

func hashAsync(ctx context.Context, h *Hasher, plain string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		start := time.Now()
		_, err := h.Hash(ctx, plain)
		ch <- result{err, time.Since(start)}
	}()
	return ch
}

// With one worker busy and the one queue place taken, a further call is
// refused at once and costs nothing; the two admitted calls complete.
func TestPoolRefusesBeyondCapacity(t *testing.T) {
	p := &probe{gate: make(chan struct{})}
	h := probedHasher(t, CheapParamsForTests(), Options{Workers: 1, Queue: 1}, p)
	ctx := context.Background()
	running := hashAsync(ctx, h, "first")
	waitFor(t, "first hash to run", func() bool { return h.Stats().InFlight == 1 })
	queued := hashAsync(ctx, h, "second")
	waitFor(t, "second call to queue", func() bool { return h.Stats().Queued == 1 })

	for _, call := range []func() error{
		func() error { _, err := h.Hash(ctx, "third"); return err },
		func() error { _, _, err := h.Verify(ctx, h.dummy, "third"); return err },
		func() error { return h.VerifyDummy(ctx, "third") },
	} {
		start := time.Now()
		err := call()
		if !errors.Is(err, ErrOverloaded) {
			t.Fatalf("call beyond capacity: err = %v, want ErrOverloaded", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("refusal took %v", d)
		}
	}
	gated := h.Stats()
	if got := counters(gated); got != (Stats{InFlight: 1, Queued: 1, Rejected: 3}) {
		t.Fatalf("Stats = %+v", got)
	}
	time.Sleep(5 * time.Millisecond) // the running hash takes at least this long
	close(p.gate)
	for _, ch := range []<-chan result{running, queued} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	if p.calls.Load() != 2 || p.peak.Load() != 1 {
		t.Fatalf("calls %d peak %d; want 2 and 1", p.calls.Load(), p.peak.Load())
	}
	done := h.Stats()
	if got := counters(done); got != (Stats{Rejected: 3, Completed: 2}) {
		t.Fatalf("Stats = %+v", got)
	}
	// Only finished hashes count their time, waiting for a worker none.
	if d := done.Hashing - gated.Hashing; d < 5*time.Millisecond {
		t.Fatalf("Hashing grew by %v over a hash gated for 5ms", d)
	}
}

// counters is a snapshot without its time, which no test can predict.
func counters(s Stats) Stats {
	s.Hashing = 0
	return s
}

// A caller whose context ends while queued leaves at once, with no work
// done, and its place is free for the next caller.
func TestPoolCancelWhileQueuedFreesSlot(t *testing.T) {
	p := &probe{gate: make(chan struct{})}
	h := probedHasher(t, CheapParamsForTests(), Options{Workers: 1, Queue: 1}, p)
	running := hashAsync(context.Background(), h, "first")
	waitFor(t, "first hash to run", func() bool { return h.Stats().InFlight == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	queued := hashAsync(ctx, h, "second")
	waitFor(t, "second call to queue", func() bool { return h.Stats().Queued == 1 })
	cancel()
	r := <-queued
	if !errors.Is(r.err, ErrOverloaded) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled while queued: err = %v, want ErrOverloaded wrapping context.Canceled", r.err)
	}
	if got := h.Stats().Queued; got != 0 {
		t.Fatalf("Queued = %d after cancel", got)
	}
	// The freed place admits the next caller, who is served when the
	// worker frees up.
	next := hashAsync(context.Background(), h, "third")
	waitFor(t, "third call to queue", func() bool { return h.Stats().Queued == 1 })
	close(p.gate)
	for _, ch := range []<-chan result{running, next} {
		if r := <-ch; r.err != nil {
			t.Fatal(r.err)
		}
	}
	if p.calls.Load() != 2 {
		t.Fatalf("%d hashes computed, want 2 (the cancelled call did none)", p.calls.Load())
	}
}

func TestPoolMaxWait(t *testing.T) {
	p := &probe{gate: make(chan struct{})}
	h := probedHasher(t, CheapParamsForTests(), Options{Workers: 1, Queue: 4, MaxWait: 30 * time.Millisecond}, p)
	running := hashAsync(context.Background(), h, "first")
	waitFor(t, "first hash to run", func() bool { return h.Stats().InFlight == 1 })
	r := <-hashAsync(context.Background(), h, "second")
	if !errors.Is(r.err, ErrOverloaded) || r.d < 30*time.Millisecond || r.d > time.Second {
		t.Fatalf("err = %v after %v; want ErrOverloaded after about 30ms", r.err, r.d)
	}
	close(p.gate)
	<-running
}

func TestPoolNoQueue(t *testing.T) {
	p := &probe{gate: make(chan struct{})}
	h := probedHasher(t, CheapParamsForTests(), Options{Workers: 1, Queue: -1}, p)
	running := hashAsync(context.Background(), h, "first")
	waitFor(t, "first hash to run", func() bool { return h.Stats().InFlight == 1 })
	if _, err := h.Hash(context.Background(), "second"); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("err = %v, want ErrOverloaded", err)
	}
	close(p.gate)
	<-running
}

func TestPoolContextAlreadyDone(t *testing.T) {
	p := &probe{}
	h := probedHasher(t, CheapParamsForTests(), Options{}, p)
	ctx, cancel := context.WithTimeout(context.Background(), -time.Second)
	defer cancel()
	_, err := h.Hash(ctx, "pw")
	if !errors.Is(err, ErrOverloaded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if p.calls.Load() != 0 || h.Stats().Rejected != 1 {
		t.Fatalf("calls %d stats %+v", p.calls.Load(), h.Stats())
	}
}

// With real, slow hashes (about 10 ms each here), a burst beyond Workers +
// Queue is refused quickly, and never more than Workers hashes run at once.
func TestPoolBoundsRealHashing(t *testing.T) {
	params := CheapParamsForTests()
	params.MemoryKiB, params.Iterations = 8*1024, 2
	for _, workers := range []int{1, 2} {
		p := &probe{}
		h := probedHasher(t, params, Options{Workers: workers, Queue: 1}, p)
		const callers = 12
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make([]result, callers)
		for i := range callers {
			wg.Go(func() {
				<-start
				t0 := time.Now()
				_, err := h.Hash(context.Background(), "burst")
				results[i] = result{err, time.Since(t0)}
			})
		}
		close(start)
		wg.Wait()
		var ok, refused int
		var slowestRefusal, fastestSuccess time.Duration = 0, time.Hour
		for _, r := range results {
			switch {
			case r.err == nil:
				ok++
				fastestSuccess = min(fastestSuccess, r.d)
			case errors.Is(r.err, ErrOverloaded):
				refused++
				slowestRefusal = max(slowestRefusal, r.d)
			default:
				t.Fatal(r.err)
			}
		}
		t.Logf("workers=%d: %d hashed, %d refused; slowest refusal %v, fastest hash %v, peak concurrency %d",
			workers, ok, refused, slowestRefusal, fastestSuccess, p.peak.Load())
		if p.peak.Load() > int64(workers) {
			t.Errorf("workers=%d: %d hashes ran at once", workers, p.peak.Load())
		}
		if ok < workers+1 || refused == 0 || int64(ok) != p.calls.Load() {
			t.Errorf("workers=%d: %d hashed (%d computed), %d refused", workers, ok, p.calls.Load(), refused)
		}
		// Timing is only meaningful while a core is left for the callers;
		// with every core hashing, a refused caller may first wait to be
		// scheduled at all.
		if workers < runtime.GOMAXPROCS(0) && refused > 0 && slowestRefusal >= fastestSuccess {
			t.Errorf("a refusal took %v, longer than a hash (%v)", slowestRefusal, fastestSuccess)
		}
	}
}

// Many callers, enough queue: all are served, at most Workers at a time.
func TestPoolServesAllWithinQueue(t *testing.T) {
	p := &probe{kdf: func(pw, salt []byte, t, m uint32, th uint8, l uint32) []byte {
		time.Sleep(time.Millisecond) // let calls overlap
		return argon2.IDKey(pw, salt, t, m, th, l)
	}}
	h := probedHasher(t, CheapParamsForTests(), Options{Workers: 2, Queue: 64}, p)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 40 {
		wg.Go(func() {
			if err := h.VerifyDummy(context.Background(), "pw"); err != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || p.peak.Load() != 2 || p.calls.Load() != 40 {
		t.Fatalf("failed %d, peak %d, calls %d", failed.Load(), p.peak.Load(), p.calls.Load())
	}
	if s := counters(h.Stats()); s != (Stats{Completed: 40}) {
		t.Fatalf("Stats = %+v", s)
	}
}
