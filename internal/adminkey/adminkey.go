// Package adminkey governs the keys a platform's back end uses on the admin
// API: what a key looks like, how it is stored (only its SHA-256), and which
// scopes grant what.
package adminkey

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardenhq/warden/internal/id"
)

// Prefix starts every admin key, so a leaked key is recognisable (secret scanners, logs).
const Prefix = "wdn_"

// Scopes are every scope a key can hold. The first twelve are the ones API.md
// names; the rest cover operations API.md leaves to the implementation.
var Scopes = []string{
	"sessions:introspect", "events:write", "users:read", "users:write",
	"withdrawals:read", "withdrawals:write", "prices:write", "verifications:review",
	"alerts:read", "alerts:write", "rules:write", "audit:read",
	"webhooks:write", // manage webhook endpoints and send test events
	"outbox:read",    // see queued and dead emails and webhooks
	"outbox:write",   // retry dead messages, send a test email
}

// Key is a stored admin key, without its secret.
type Key struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
}

// Allows tells whether the key holds scope.
func (k Key) Allows(scope string) bool { return slices.Contains(k.Scopes, scope) }

// New makes a key: the plaintext to show once, and the Key to store with Hash(plaintext).
func New(name string, scopes []string, now time.Time) (plaintext string, k Key, err error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", Key{}, fmt.Errorf("admin key name must be 1 to 100 characters")
	}
	if err := ValidateScopes(scopes); err != nil {
		return "", Key{}, err
	}
	k = Key{ID: id.New("key"), Name: name, Scopes: slices.Compact(slices.Sorted(slices.Values(scopes))), CreatedAt: now.UTC()}
	return id.Token(Prefix), k, nil
}

// ValidateScopes refuses unknown scopes and an empty list.
func ValidateScopes(scopes []string) error {
	if len(scopes) == 0 {
		return fmt.Errorf("an admin key needs at least one scope (one of %s)", strings.Join(Scopes, ", "))
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			return fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(Scopes, ", "))
		}
	}
	return nil
}

// Hash is what is stored and looked up: keys are 256-bit random, so a plain
// SHA-256 is as strong as a slow hash here, and lets the hot path stay fast.
func Hash(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// LooksLikeKey tells whether s has the shape of an admin key, before any lookup.
func LooksLikeKey(s string) bool {
	return strings.HasPrefix(s, Prefix) && len(s) == len(Prefix)+52
}
