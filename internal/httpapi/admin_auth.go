package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/adminkey"
	"github.com/wardenhq/warden/internal/store"
)

// bootstrapKeyID names the WARDEN_ADMIN_KEY key in audit records.
const bootstrapKeyID = "key_bootstrap"

// Admin keys found in the database are remembered for a short while, so that
// introspection — which a platform calls on every one of its own requests —
// does not read the admin_keys table every time.
const (
	// adminKeyCacheTTL is how long a key found in the database is trusted
	// without asking it again: a revoked key keeps working on a node for at
	// most this long (unless the revoking code calls forgetAdminKeys).
	adminKeyCacheTTL = 30 * time.Second
	// adminKeyCacheMax bounds the cache. Only keys that exist enter it
	// (unknown keys are never cached, so guessing cannot fill memory), and
	// a deployment has a handful of them.
	adminKeyCacheMax = 1024
)

// adminKeyCache maps the SHA-256 of an admin key to the stored key. Reads
// are one atomic load and one map lookup, without locks; a write copies the
// map, which happens once per key per TTL.
//
// Keys are found by their digest, never compared as secrets: a map lookup's
// timing can at most tell something about the digest, which does not lead
// back to a key (the database index lookup it replaces behaves the same).
type adminKeyCache struct {
	entries atomic.Pointer[map[[sha256.Size]byte]cachedAdminKey]
	mu      sync.Mutex // serialises writers

	bootOnce   sync.Once
	bootDigest [sha256.Size]byte // SHA-256 of WARDEN_ADMIN_KEY
}

type cachedAdminKey struct {
	key     adminkey.Key
	expires time.Time
}

func (c *adminKeyCache) get(digest *[sha256.Size]byte, now time.Time) (adminkey.Key, bool) {
	m := c.entries.Load()
	if m == nil {
		return adminkey.Key{}, false
	}
	e, ok := (*m)[*digest]
	if !ok || !now.Before(e.expires) {
		return adminkey.Key{}, false
	}
	return e.key, true
}

func (c *adminKeyCache) put(digest *[sha256.Size]byte, k adminkey.Key, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[[sha256.Size]byte]cachedAdminKey)
	if old := c.entries.Load(); old != nil {
		for d, e := range *old {
			if now.Before(e.expires) && len(next) < adminKeyCacheMax-1 {
				next[d] = e
			}
		}
	}
	next[*digest] = cachedAdminKey{key: k, expires: now.Add(adminKeyCacheTTL)}
	c.entries.Store(&next)
}

// forget empties the cache: code that revokes an admin key calls it (through
// forgetAdminKeys) so the key stops working on this node at once.
func (c *adminKeyCache) forget() {
	c.mu.Lock()
	c.entries.Store(nil)
	c.mu.Unlock()
}

// forgetAdminKeys drops every cached admin key; call it after revoking one.
func (a *API) forgetAdminKeys() { a.adminKeys.forget() }

// isBootstrapKey compares the SHA-256 of a presented key with that of
// WARDEN_ADMIN_KEY in constant time (comparing digests of equal length
// also hides the key's length).
func (a *API) isBootstrapKey(digest *[sha256.Size]byte) bool {
	if a.BootstrapAdminKey == "" {
		return false
	}
	c := &a.adminKeys
	c.bootOnce.Do(func() { c.bootDigest = sha256.Sum256([]byte(a.BootstrapAdminKey)) })
	return subtle.ConstantTimeCompare(digest[:], c.bootDigest[:]) == 1
}

// sha256Of hashes s through a buffer on the stack: []byte(s) would allocate
// for a key longer than 32 bytes.
func sha256Of(s string) [sha256.Size]byte {
	var buf [128]byte
	if len(s) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	return sha256.Sum256([]byte(s))
}

// authenticateAdmin checks the Bearer admin key and that it holds scope.
func (a *API) authenticateAdmin(r *http.Request, scope string) (adminkey.Key, *Problem) {
	unauthenticated := func(detail string) *Problem {
		return NewProblem(http.StatusUnauthorized, "unauthenticated", detail)
	}
	auth := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || token == "" {
		return adminkey.Key{}, unauthenticated("send an admin API key as Authorization: Bearer wdn_…")
	}
	token = strings.TrimSpace(token)
	digest := sha256Of(token)
	var key adminkey.Key
	switch {
	case a.isBootstrapKey(&digest):
		key = adminkey.Key{ID: bootstrapKeyID, Name: "WARDEN_ADMIN_KEY", Scopes: adminkey.Scopes}
	case adminkey.LooksLikeKey(token):
		now := time.Now()
		if cached, ok := a.adminKeys.get(&digest, now); ok {
			key = cached
			break
		}
		// Unknown keys are not cached: each costs a lookup, as before.
		found, err := a.Store.AdminKeyByHash(r.Context(), adminkey.Hash(token))
		if errors.Is(err, store.ErrNotFound) {
			return adminkey.Key{}, unauthenticated("the admin API key is unknown or revoked")
		}
		if err != nil {
			a.Log.ErrorContext(r.Context(), "admin key lookup", "request_id", requestID(r.Context()), "error", err)
			return adminkey.Key{}, errInternal()
		}
		a.adminKeys.put(&digest, found, now)
		key = found
	default:
		return adminkey.Key{}, unauthenticated("the admin API key is unknown or revoked")
	}
	if !key.Allows(scope) {
		return adminkey.Key{}, NewProblem(http.StatusForbidden, "insufficient_scope",
			"this admin API key lacks the scope "+scope).With("required_scope", scope)
	}
	return key, nil
}

// adminActor names the admin key acting on this request, for audit records.
func adminActor(r *http.Request) string {
	key, _ := r.Context().Value(adminKeyCtx{}).(adminkey.Key)
	return "admin_key:" + key.ID
}
