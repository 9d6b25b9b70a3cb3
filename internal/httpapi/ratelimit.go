package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/wardenhq/warden/internal/account"
	"github.com/wardenhq/warden/internal/ratelimit"
)

// RateLimits are the limits on the endpoints attackers hammer. Buckets live
// in the database, so every node sharing it counts together.
type RateLimits struct {
	LoginPerIP      ratelimit.Limit
	RegisterPerIP   ratelimit.Limit
	ResetPerIP      ratelimit.Limit
	ResetPerAccount ratelimit.Limit
}

// emailBucket names an account's bucket by the unique form of the address
// asked for, whether or not it is registered: limits must not reveal which
// addresses have accounts.
//
// The address is hashed: the table of buckets should not become a list of
// every address anyone ever typed.
func emailBucket(prefix, rawEmail string) string {
	if _, key, err := account.NormalizeEmail(rawEmail); err == nil {
		sum := sha256.Sum256([]byte(key))
		return prefix + hex.EncodeToString(sum[:16])
	}
	return prefix + "invalid"
}

// rateLimit takes a token from every bucket, or answers 429 with Retry-After.
// Without a limiter (some tests) nothing is limited.
func (a *API) rateLimit(w http.ResponseWriter, r *http.Request, keys ...ratelimit.Key) error {
	if a.Limiter == nil {
		return nil
	}
	d, err := a.Limiter.Check(r.Context(), keys...)
	if err != nil {
		return err
	}
	if d.Allowed {
		return nil
	}
	secs := int(d.RetryAfter.Seconds())
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return NewProblem(http.StatusTooManyRequests, "rate_limited", "too many attempts; try again in "+strconv.Itoa(secs)+" s").
		With("retry_after", secs)
}

// ipBucket names the bucket of the caller's network: its IPv4 address, or
// its IPv6 /64 — one IPv6 client usually holds a whole /64, and would
// otherwise get billions of buckets.
func ipBucket(prefix string, r *http.Request) string {
	ip, _ := r.Context().Value(clientIPCtx{}).(netip.Addr)
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return prefix + p.String()
	}
	return prefix + clientIPString(ip)
}
