package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidHash is wrapped by every error of ParsePHC: the stored string
// is not an Argon2id hash this package accepts.
var ErrInvalidHash = errors.New("password: invalid Argon2id PHC string")

// phcPrefix fixes the algorithm and the version: Argon2id only (the
// variant OWASP and RFC 9106 recommend) and version 0x13 = 19 only (the
// one x/crypto implements; 0x10 hashes would not verify).
const phcPrefix = "$argon2id$v=19$"

// maxPHCLen bounds the input before any parsing: the longest string this
// package accepts (64-byte salt and key, largest numbers) is 209 bytes.
const maxPHCLen = 256

// Floors for stored hashes. They are lower than those for new hashes
// (Params.Validate), because an old or imported hash with weaker settings
// must still verify once so that it can be upgraded at that login.
const (
	// minStoredSaltLen is the minimum of the Argon2 specification
	// (RFC 9106 §3.1: at least 8 bytes).
	minStoredSaltLen = 8
	// minStoredKeyLen refuses tags too short to rule out a collision by
	// guessing (RFC 9106 allows 4 bytes; Warden never writes less than 16).
	minStoredKeyLen = 16
)

// b64 is the PHC string format's encoding: standard alphabet, no padding.
// Strict refuses non-zero trailing bits, so each hash has one spelling.
var b64 = base64.RawStdEncoding.Strict()

// PHC is a parsed Argon2id hash. Params.SaltLen and Params.KeyLen are the
// lengths of Salt and Key.
type PHC struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// String encodes h in the PHC string format:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>.
func (h PHC) String() string {
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix,
		h.Params.MemoryKiB, h.Params.Iterations, h.Params.Parallelism,
		b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// ParsePHC parses a stored hash strictly: exactly the canonical form that
// String produces, parameters in the order m, t, p as plain decimals, no
// optional fields (keyid, data), unpadded base64 without line breaks, and
// every value within bounds. A stored hash may come from an import or a
// tampered row, so nothing in it is trusted to be small: memory and
// iterations are capped before anything is allocated. Weak but valid
// parameters are accepted so that the hash can be verified and upgraded.
func ParsePHC(s string) (PHC, error) {
	bad := func(what string) (PHC, error) {
		return PHC{}, fmt.Errorf("%w: %s", ErrInvalidHash, what)
	}
	if len(s) > maxPHCLen {
		return bad("too long")
	}
	rest, ok := strings.CutPrefix(s, phcPrefix)
	if !ok {
		return bad("not an Argon2id version 19 hash")
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return bad("want parameters, salt and hash")
	}
	ps := strings.Split(fields[0], ",")
	if len(ps) != 3 {
		return bad("want parameters m, t and p")
	}
	m, ok1 := decimalField(ps[0], "m=", maxMemoryKiB)
	t, ok2 := decimalField(ps[1], "t=", maxIterations)
	p, ok3 := decimalField(ps[2], "p=", maxParallelism)
	if !ok1 || !ok2 || !ok3 {
		return bad("parameters not m=<KiB>,t=<n>,p=<n> within bounds")
	}
	salt, ok := decodeB64(fields[1])
	if !ok {
		return bad("salt is not unpadded base64")
	}
	key, ok := decodeB64(fields[2])
	if !ok {
		return bad("hash is not unpadded base64")
	}
	h := PHC{
		Params: Params{MemoryKiB: uint32(m), Iterations: uint32(t), Parallelism: uint8(p),
			SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		Salt: salt,
		Key:  key,
	}
	switch {
	case t < 1 || p < 1:
		return bad("iterations and parallelism must be at least 1")
	case m < 8*p:
		// x/crypto would round the memory up and compute a different hash.
		return bad("memory below 8 KiB per lane")
	case m*t > maxCost:
		return bad("memory × iterations too large")
	case len(salt) < minStoredSaltLen || len(salt) > maxSaltLen:
		return bad("salt length out of bounds")
	case len(key) < minStoredKeyLen || len(key) > maxKeyLen:
		return bad("hash length out of bounds")
	}
	// The checks above should leave one spelling per hash; this makes it
	// a guarantee, so that the stored string is a stable identifier.
	if h.String() != s {
		return bad("not in canonical form")
	}
	return h, nil
}

// decimalField parses "<name><digits>" as a plain decimal at most max:
// no sign, no leading zeros, no spaces.
func decimalField(s, name string, max uint64) (uint64, bool) {
	d, ok := strings.CutPrefix(s, name)
	if !ok || d == "" || len(d) > 10 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(d, 10, 64)
	if err != nil || n > max {
		return 0, false
	}
	return n, true
}

// decodeB64 decodes unpadded standard base64. encoding/base64 skips CR and
// LF even in strict mode, so the alphabet is checked first.
func decodeB64(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, false
		}
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, false
	}
	return b, true
}

// NeedsRehash reports whether the stored hash phc was made with any
// setting below params, so that it should be replaced by a hash with
// params the next time the password is known (at a successful login).
// A string that does not parse needs replacing too, and reports true.
func NeedsRehash(phc string, params Params) bool {
	h, err := ParsePHC(phc)
	if err != nil {
		return true
	}
	return h.Params.weakerThan(params)
}
