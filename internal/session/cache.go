package session

import (
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
	entries map[string]cacheEntry
}

type cacheEntry struct {
	session  Session
	account  account.Account
	storedAt time.Time
}

// NewCache keeps at most max sessions, each for at most ttl.
func NewCache(ttl time.Duration, max int) *Cache {
	c := &Cache{ttl: ttl, max: max, entries: make(map[string]cacheEntry)}
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

// Get returns the cached session for a token hash, if fresh.
func (c *Cache) Get(hash string, now time.Time) (Session, account.Account, bool) {
	if c == nil || !c.enabled.Load() {
		return Session{}, account.Account{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[hash]
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
func (c *Cache) Put(hash string, s Session, a account.Account, now time.Time, gen uint64) {
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
	c.entries[hash] = cacheEntry{session: s, account: a, storedAt: now}
}

// Evict drops sessions by token hash.
func (c *Cache) Evict(hashes ...string) {
	if c == nil {
		return
	}
	c.generation.Add(1)
	c.mu.Lock()
	for _, h := range hashes {
		delete(c.entries, h)
	}
	c.mu.Unlock()
}
