// Package password owns everything Warden does with a user's password: the
// Argon2id hash that is stored (as a PHC string), the bounded pool that
// computes those hashes, and the policy a new password must meet.
//
// Hashing is the one step of a login whose cost an attacker controls (every
// guess costs the server a hash), so it runs in a [Hasher] that admits at
// most one hash per core and refuses work with [ErrOverloaded] rather than
// queueing without bound. The policy follows NIST SP 800-63B: a length range,
// no composition rules, and a check against guessable passwords (zxcvbn).
//
// The package holds no HTTP, SQL or global mutable state; callers persist
// the PHC strings and map the errors to their answers.
package password

import (
	"errors"
	"fmt"
)

// Params are the Argon2id cost parameters and output sizes of a hash.
// Memory and iterations trade off against each other; OWASP lists
// equivalent pairs (m=47104 t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4,
// m=7168 t=5 KiB), which is why the floor below is on their product.
type Params struct {
	MemoryKiB   uint32 // m: memory per hash in KiB
	Iterations  uint32 // t: passes over that memory
	Parallelism uint8  // p: lanes (goroutines) per hash
	SaltLen     uint32 // random salt bytes per hash
	KeyLen      uint32 // derived key (tag) bytes stored

	// testOnly is set only by CheapParamsForTests; it lifts the floors so
	// that test suites do not spend seconds hashing. It is unexported so
	// that no configuration can set it.
	testOnly bool
}

// Bounds of the parameters. The floors are what Warden is willing to store
// for a new password; the ceilings guard against a typo (or a tampered
// stored hash) that would make one login allocate gigabytes or run for
// minutes on every core.
const (
	// minMemoryKiB is the smallest memory in OWASP's equivalence table
	// (7 MiB with 5 iterations).
	minMemoryKiB = 7 * 1024
	// minCost is the smallest m×t of OWASP's table (7168 KiB × 5).
	minCost = 7168 * 5
	// minSaltLen follows RFC 9106 §3.1, which recommends 16 bytes of salt.
	minSaltLen = 16
	// minKeyLen keeps the stored tag at 128 bits or more.
	minKeyLen = 16

	// maxMemoryKiB is 4 GiB per hash, the same ceiling as the configuration.
	maxMemoryKiB = 4 << 20
	// maxIterations matches the configuration's ceiling.
	maxIterations = 100
	// maxCost bounds m×t to 4 GiB touched once: over a second per hash on
	// a current core, already far more than any login should cost.
	maxCost = 4 << 20
	// maxParallelism matches the configuration's ceiling; every lane is
	// a goroutine, so more would only oversubscribe the cores.
	maxParallelism = 16
	// maxSaltLen and maxKeyLen bound the PHC string and what it allocates.
	maxSaltLen = 64
	maxKeyLen  = 64
)

// ErrInvalidParams is wrapped by every error of Params.Validate.
var ErrInvalidParams = errors.New("password: invalid Argon2id parameters")

// DefaultParams are OWASP's current recommendation for Argon2id
// (Password Storage Cheat Sheet): 19 MiB of memory, 2 iterations, one lane,
// with a 16-byte salt and a 32-byte key. About 100 hashes per second on
// two cores of the reference machine. Raise them freely: stored hashes with
// lower parameters are upgraded at the next login (see NeedsRehash).
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLen: 16, KeyLen: 32}
}

// CheapParamsForTests returns parameters far below any safe floor, so that
// tests of code that hashes passwords run in microseconds. They pass
// Validate only because they are marked as test parameters; never use them
// outside tests. Hashes made with them are real Argon2id hashes, and a
// Hasher with production parameters flags them for rehash.
func CheapParamsForTests() Params {
	return Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32, testOnly: true}
}

// Validate reports whether p may be used to hash new passwords: at or
// above the floor (OWASP's weakest equivalent setting) and below ceilings
// that no sane deployment reaches. Parameters from CheapParamsForTests
// skip the floor but not the ceilings.
func (p Params) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, args...))
	}
	switch {
	case p.Parallelism < 1 || p.Parallelism > maxParallelism:
		return bad("parallelism %d, want 1 to %d", p.Parallelism, maxParallelism)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return bad("iterations %d, want 1 to %d", p.Iterations, maxIterations)
	case p.MemoryKiB < 8*uint32(p.Parallelism):
		// Argon2 needs 8 KiB per lane; x/crypto would silently round up,
		// producing a hash that other implementations disagree with.
		return bad("memory %d KiB, Argon2 needs at least 8 KiB per lane", p.MemoryKiB)
	case p.MemoryKiB > maxMemoryKiB:
		return bad("memory %d KiB, at most %d", p.MemoryKiB, maxMemoryKiB)
	case uint64(p.MemoryKiB)*uint64(p.Iterations) > maxCost:
		return bad("memory × iterations = %d KiB, at most %d", uint64(p.MemoryKiB)*uint64(p.Iterations), maxCost)
	case p.SaltLen > maxSaltLen:
		return bad("salt length %d, at most %d", p.SaltLen, maxSaltLen)
	case p.KeyLen > maxKeyLen:
		return bad("key length %d, at most %d", p.KeyLen, maxKeyLen)
	case p.SaltLen < minSaltLen:
		// Salt and key floors hold even for tests: they cost nothing.
		return bad("salt length %d, at least %d", p.SaltLen, minSaltLen)
	case p.KeyLen < minKeyLen:
		return bad("key length %d, at least %d", p.KeyLen, minKeyLen)
	}
	if p.testOnly {
		return nil
	}
	switch {
	case p.MemoryKiB < minMemoryKiB:
		return bad("memory %d KiB, at least %d (OWASP)", p.MemoryKiB, minMemoryKiB)
	case uint64(p.MemoryKiB)*uint64(p.Iterations) < minCost:
		return bad("memory × iterations = %d KiB, at least %d (OWASP: e.g. m=19456 t=2)",
			uint64(p.MemoryKiB)*uint64(p.Iterations), minCost)
	}
	return nil
}

// weakerThan reports whether any setting of p is below that of cur, so
// that a hash made with p should be replaced by one made with cur. Only
// "below" counts, never "different": if an operator lowers the parameters
// for a while, hashes made with the higher ones are not downgraded.
func (p Params) weakerThan(cur Params) bool {
	return p.MemoryKiB < cur.MemoryKiB ||
		p.Iterations < cur.Iterations ||
		p.Parallelism < cur.Parallelism ||
		p.SaltLen < cur.SaltLen ||
		p.KeyLen < cur.KeyLen
}
