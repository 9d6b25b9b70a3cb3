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
