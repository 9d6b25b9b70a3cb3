package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// ErrOverloaded means the hashing pool refused the call without doing any
// work: its queue was full, the wait for a worker exceeded MaxWait, or the
// caller's context ended while waiting. Callers answer 503 with
// Retry-After. When the context ended, the error also wraps its cause, so
// errors.Is(err, context.Canceled) holds as well.
var ErrOverloaded = errors.New("password: hashing pool overloaded")

// ErrTooLong is returned by Hash for an input over MaxInputBytes. The
// policy (CheckPolicy) refuses such passwords long before; this bound
// keeps Unicode normalisation of hostile input cheap even if a caller
// skips the policy.
var ErrTooLong = errors.New("password: input too long")

// MaxInputBytes bounds what Hash and Verify will normalise and hash: far
// above the policy's 128 characters (at most 4 bytes each in UTF-8, plus
// room for combining marks that normalisation folds).
const MaxInputBytes = 4096

// Options size the hashing pool. Zero values take the defaults.
type Options struct {
	// Workers is how many hashes may run at once; default
	// runtime.GOMAXPROCS(0), one per core: more would not add throughput,
	// only memory (each hash holds Params.MemoryKiB) and latency.
	Workers int
	// Queue is how many calls may wait for a worker; default 64. A
	// negative value means none may wait: a call finding every worker
	// busy is refused at once.
	Queue int
	// MaxWait is the longest a call waits for a worker; default 2s.
	MaxWait time.Duration
}

const (
	defaultQueue   = 64
	defaultMaxWait = 2 * time.Second
)

// Stats is a snapshot of the pool for metrics.
type Stats struct {
	InFlight  int    // hashes running now, at most Workers
	Queued    int    // calls waiting for a worker, at most Queue
	Rejected  uint64 // calls refused with ErrOverloaded since construction
	Completed uint64 // hashes computed since construction
	// Hashing is the time spent computing those hashes (not waiting for a
	// worker): what a login costs in Argon2id alone, to tell it apart
	// from everything else a login does.
	Hashing time.Duration
}

// kdf is the signature of argon2.IDKey; tests substitute an instrumented
// wrapper to observe concurrency.
type kdf func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hasher hashes and verifies passwords with Argon2id in a bounded pool.
// It is safe for concurrent use; build one per process with NewHasher.
type Hasher struct {
	params  Params
	slots   chan struct{} // a token per running hash; capacity = Workers
	queue   int64         // most calls allowed to wait
	maxWait time.Duration
	kdf     kdf
	// dummy is a hash of a random secret made at construction with the
	// current parameters; VerifyDummy checks passwords against it.
	dummy string

	queued    atomic.Int64
	inFlight  atomic.Int64
	rejected  atomic.Uint64
	completed atomic.Uint64
	hashing   atomic.Int64 // nanoseconds
}

// NewHasher returns a pool that hashes new passwords with params, which
// must pass Params.Validate. It computes one hash (the dummy used by
// VerifyDummy) before returning.
func NewHasher(params Params, opts Options) (*Hasher, error) {
	return newHasher(params, opts, argon2.IDKey)
}

func newHasher(params Params, opts Options, f kdf) (*Hasher, error) {
	if err := params.Validate(); err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case opts.Queue == 0:
		opts.Queue = defaultQueue
	case opts.Queue < 0:
		opts.Queue = 0
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = defaultMaxWait
	}
	h := &Hasher{
		params:  params,
		slots:   make(chan struct{}, opts.Workers),
		queue:   int64(opts.Queue),
		maxWait: opts.MaxWait,
		kdf:     f,
	}
	// The dummy secret is random and then forgotten, so no password can
	// match the dummy hash, not even one chosen by someone who read this.
	secret := make([]byte, 32)
	rand.Read(secret)
	h.dummy = h.derive(string(secret), randomSalt(params.SaltLen), params).String()
	return h, nil
}

// Params returns the parameters used for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Stats returns a snapshot of the pool's counters.
func (h *Hasher) Stats() Stats {
	return Stats{
		InFlight:  int(h.inFlight.Load()),
		Queued:    int(h.queued.Load()),
		Rejected:  h.rejected.Load(),
		Completed: h.completed.Load(),
		Hashing:   time.Duration(h.hashing.Load()),
	}
}

// Hash returns the PHC string of a new Argon2id hash of plain, after NFKC
// normalisation, with a fresh random salt and the pool's parameters. It
// does not check the policy; call CheckPolicy first for a new password.
// It fails with ErrOverloaded (no work done) or ErrTooLong.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	if len(plain) > MaxInputBytes {
		return "", ErrTooLong
	}
	plain = normalize(plain)
	salt := randomSalt(h.params.SaltLen)
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.derive(plain, salt, h.params).String(), nil
}

// Verify reports whether plain (after NFKC normalisation) is the password
// of the stored hash phc, comparing in constant time, and whether the
// hash should be replaced because it was made with weaker parameters than
// the pool's (rehash is only ever true when ok is). A phc that does not
// parse is an error (wrapping ErrInvalidHash) before any work. An input
// over MaxInputBytes is a wrong password found at no cost, as Hash never
// stores one; VerifyDummy treats it the same way, so timing stays equal.
func (h *Hasher) Verify(ctx context.Context, phc, plain string) (ok, rehash bool, err error) {
	stored, err := ParsePHC(phc)
	if err != nil {
		return false, false, err
	}
	if len(plain) > MaxInputBytes {
		return false, false, nil
	}
	plain = normalize(plain)
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	got := h.derive(plain, stored.Salt, stored.Params)
	h.release()
	if subtle.ConstantTimeCompare(got.Key, stored.Key) != 1 {
		return false, false, nil
	}
	return true, stored.Params.weakerThan(h.params), nil
}

// VerifyDummy does the work of a failed Verify at the current parameters
// (the same queueing, normalisation, hash and comparison) against a hash
// that no password matches. A login for an unknown email calls it so that
// it takes as long as a wrong password for a known one, leaving no timing
// oracle for which emails have accounts. It returns only ErrOverloaded,
// exactly when Verify would have.
func (h *Hasher) VerifyDummy(ctx context.Context, plain string) error {
	_, _, err := h.Verify(ctx, h.dummy, plain)
	return err
}

// derive computes the hash of an already normalised password.
func (h *Hasher) derive(plain string, salt []byte, p Params) PHC {
	start := time.Now()
	key := h.kdf([]byte(plain), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	h.hashing.Add(int64(time.Since(start)))
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	p.testOnly = false // a property of configurations, not of stored hashes
	return PHC{Params: p, Salt: salt, Key: key}
}

// acquire takes a worker slot, waiting in the queue if all are busy. It
// never waits longer than MaxWait or past ctx, and never lets more than
// Queue calls wait: an attacker who floods logins gets fast refusals
// instead of a growing backlog (and the memory each hash holds).
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		h.rejected.Add(1)
		return fmt.Errorf("%w: %w", ErrOverloaded, context.Cause(ctx))
	}
	select {
	case h.slots <- struct{}{}:
		h.inFlight.Add(1)
		return nil
	default:
	}
	// Every worker is busy: queue if there is room. Blocked senders on a
	// channel are served in arrival order, and a released slot goes to the
	// longest waiter before any newcomer, so the queue is fair.
	if h.queued.Add(1) > h.queue {
		h.queued.Add(-1)
		h.rejected.Add(1)
		return fmt.Errorf("%w: %d hashes already waiting", ErrOverloaded, h.queue)
	}
	defer h.queued.Add(-1)
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		h.inFlight.Add(1)
		return nil
	case <-timer.C:
		h.rejected.Add(1)
		return fmt.Errorf("%w: no worker free within %v", ErrOverloaded, h.maxWait)
	case <-ctx.Done():
		h.rejected.Add(1)
		return fmt.Errorf("%w: %w", ErrOverloaded, context.Cause(ctx))
	}
}

func (h *Hasher) release() {
	h.inFlight.Add(-1)
	h.completed.Add(1)
	<-h.slots
}

// normalize applies NFKC, as NIST SP 800-63B §5.1.1.2 advises, so that a
// password typed on another keyboard or OS (composed vs decomposed accents,
// full-width forms, ligatures) still matches.
func normalize(plain string) string {
	return norm.NFKC.String(plain)
}

func randomSalt(n uint32) []byte {
	salt := make([]byte, n)
	rand.Read(salt) // never fails since Go 1.24; it crashes the program instead
	return salt
}
