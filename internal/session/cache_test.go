package session

import (
	"testing"
	"time"

	"github.com/wardenhq/warden/internal/account"
)

// The cache is keyed by the raw SHA-256 of a token, but revocations name
// sessions by their stored hash (account.HashToken): both must agree, or an
// eviction would miss.
func TestCacheKeyIsTheStoredTokenHash(t *testing.T) {
	t.Parallel()
	p := Policy{IdleTimeout: 30 * time.Minute, Lifetime: time.Hour}
	now := time.Now()
	token, s := New(account.Account{ID: "usr_1", Realm: account.RealmUser}, AAL1, "", "", "", now, p)
	key := KeyOf(token)
	if key.Hash() != account.HashToken(token) || key.Hash() != s.TokenHash {
		t.Fatalf("KeyOf(token).Hash() = %s, stored hash %s", key.Hash(), s.TokenHash)
	}

	c := NewCache(time.Minute, 10)
	c.Put(key, s, account.Account{ID: "usr_1"}, now, c.Generation())
	if got, _, ok := c.Get(key, now); !ok || got.ID != s.ID {
		t.Fatalf("Get after Put: %v %v", got.ID, ok)
	}
	if _, _, ok := c.Get(key, now.Add(time.Minute)); ok {
		t.Fatal("an entry as old as the TTL was served")
	}
	c.Evict("not-a-hash", s.TokenHash)
	if _, _, ok := c.Get(key, now); ok {
		t.Fatal("evicted by its stored hash, still served")
	}
	// A lookup that raced an eviction does not put back what was evicted.
	gen := c.Generation()
	c.Evict(s.TokenHash)
	c.Put(key, s, account.Account{}, now, gen)
	if _, _, ok := c.Get(key, now); ok {
		t.Fatal("a stale Put survived an eviction")
	}
}

func BenchmarkResolveCached(b *testing.B) {
	p := Policy{IdleTimeout: 30 * time.Minute, Lifetime: time.Hour}
	now := time.Now()
	svc := &Service{Policy: p, Now: time.Now, Cache: NewCache(time.Minute, 100_000)}
	var tokens []string
	for range 1000 {
		token, s := New(account.Account{ID: "usr_1", Realm: account.RealmUser}, AAL1, "", "", "", now, p)
		svc.Cache.Put(KeyOf(token), s, account.Account{ID: "usr_1"}, now, svc.Cache.Generation())
		tokens = append(tokens, token)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := svc.Resolve(b.Context(), tokens[i%len(tokens)]); err != nil {
			b.Fatal(err)
		}
	}
}
