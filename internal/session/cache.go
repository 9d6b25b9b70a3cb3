package session

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

// Cache keeps recently resolved sessions in memory, so that introspection,
// which platforms call on every request, rarely touches the database.
//
// Correctness rests on eviction: a revoked session must stop working at
// once on this node and within a second on every other. Revocations here
// evict directly; revocations on other nodes arrive through the database
// (LISTEN/NOTIFY on PostgreSQL) and evict too. When that channel is down the
// cache must not be trusted, so it is switched off (SetEnabled(false)) until
// the channel is back. A nil *Cache is valid and caches nothing.
type Cache struct {
	ttl     time.Duration
	max     int
	enabled atomic.Bool
	// generation increases with every eviction, so a lookup that raced an
	// eviction does not put back what was just evicted.
	generation atomic.Uint64

	mu      sync.RWMutex
	entries map[CacheKey]cacheEntry
}

// CacheKey is the SHA-256 of a session token: the bytes whose hex form is
// the stored token hash (account.HashToken). Keying by the raw digest spares
// the hot path the hex string.
type CacheKey [sha256.Size]byte

// KeyOf returns the cache key of a token.
func KeyOf(token string) CacheKey {
	// Through a buffer on the stack: []byte(token) would allocate for a
	// token longer than 32 bytes.
	var buf [128]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// Hash is the stored token hash (account.HashToken) the key stands for.
func (k CacheKey) Hash() string { return hex.EncodeToString(k[:]) }

// keyOfHash turns a stored token hash back into its key; ok is false for
// anything that is not 64 hex digits.
func keyOfHash(hash string) (k CacheKey, ok bool) {
	if hex.DecodedLen(len(hash)) != len(k) {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(hash))
	return k, err == nil
}

type cacheEntry struct {
	session  Session
	account  account.Account
	storedAt time.Time
}

// NewCache keeps at most max sessions, each for at most ttl.
func NewCache(ttl time.Duration, max int) *Cache {
	c := &Cache{ttl: ttl, max: max, entries: make(map[CacheKey]cacheEntry)}
	c.enabled.Store(true)
	return c
}

// SetEnabled turns the cache on or off; turning it off empties it.
func (c *Cache) SetEnabled(on bool) {
	if c == nil {
		return
	}
	if !on {
		c.generation.Add(1)
		c.mu.Lock()
		clear(c.entries)
		c.mu.Unlock()
	}
	c.enabled.Store(on)
}

// Enabled tells whether the cache is in use (false while the revocation channel is down).
func (c *Cache) Enabled() bool { return c != nil && c.enabled.Load() }

// Get returns the cached session for a token's key, if fresh.
func (c *Cache) Get(key CacheKey, now time.Time) (Session, account.Account, bool) {
	if c == nil || !c.enabled.Load() {
		return Session{}, account.Account{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || now.Sub(e.storedAt) >= c.ttl {
		return Session{}, account.Account{}, false
	}
	return e.session, e.account, true
}

// Generation is read before a database lookup and given back to Put.
func (c *Cache) Generation() uint64 {
	if c == nil {
		return 0
	}
	return c.generation.Load()
}

// Put stores a session looked up when the generation was gen; it is dropped
// if anything was evicted since, because it may be what was evicted.
func (c *Cache) Put(key CacheKey, s Session, a account.Account, now time.Time, gen uint64) {
	if c == nil || !c.enabled.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.generation.Load() != gen {
		return
	}
	if len(c.entries) >= c.max {
		// Dropping everything is crude but bounded and rare: the cache refills
		// from the database in one TTL.
		clear(c.entries)
	}
	c.entries[key] = cacheEntry{session: s, account: a, storedAt: now}
}

// Evict drops sessions by token hash.
func (c *Cache) Evict(hashes ...string) {
	if c == nil {
		return
	}
	c.generation.Add(1)
	c.mu.Lock()
	for _, h := range hashes {
		if k, ok := keyOfHash(h); ok {
			delete(c.entries, k)
		}
	}
	c.mu.Unlock()
}
