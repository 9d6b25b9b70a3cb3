// Package rfc6238 computes authenticator-app codes straight from RFC 6238
// and RFC 4226 (HMAC-SHA-1, 6 digits, 30-second steps), sharing no code with
// Warden's totp package or the library behind it: tests check Warden's
// answers against it, so a bug on one side does not hide on the other.
package rfc6238

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// Code is the 6-digit code of a base32 secret (any case, spaces ignored) at t.
func Code(secret string, t time.Time) (string, error) {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.ReplaceAll(secret, " ", "")))
	if err != nil {
		return "", fmt.Errorf("rfc6238: secret %q: %w", secret, err)
	}
	var counter [8]byte
	binary.BigEndian.PutUint64(counter[:], uint64(t.Unix()/30))
	mac := hmac.New(sha1.New, key)
	mac.Write(counter[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000), nil
}

// Authenticator is an authenticator app for tests that log in more than
// once: Warden takes each time step once, so each Next is the code of a new
// step, the current one or the next (both accepted within the usual
// window), and it waits for a step to pass when both were given.
type Authenticator struct {
	Secret string

	mu   sync.Mutex
	last int64 // the newest step given
}

// Next is the code of the next step not given yet.
func (a *Authenticator) Next() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		now := time.Now().Unix() / 30
		if step := max(now, a.last+1); step <= now+1 {
			a.last = step
			return Code(a.Secret, time.Unix(step*30, 0))
		}
		time.Sleep(time.Until(time.Unix((now+1)*30, 0)) + 50*time.Millisecond)
	}
}

// Take is Next for a test: a bad secret fails it.
func (a *Authenticator) Take(t testing.TB) string {
	t.Helper()
	c, err := a.Next()
	if err != nil {
		t.Fatal(err)
	}
	return c
}
