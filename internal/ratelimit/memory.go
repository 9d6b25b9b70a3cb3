package ratelimit

import (
	"context"
	"sync"
	"time"
)

// evictionSample is how many buckets MemoryStore looks at to make room for one.
const evictionSample = 32

// MemoryStore keeps buckets in this process's memory: a BucketStore for
// limits a node may keep to itself (see the package comment for when). It
// holds at most a fixed number of buckets; to make room it drops buckets that
// have refilled completely — they carry no information — and, when it finds
// none, the one nearest to full among a sample. It is safe for concurrent use.
type MemoryStore struct {
	capacity int

	mu      sync.Mutex
	entries map[string]memoryEntry
}

type memoryEntry struct {
	bucket Bucket
	fullAt time.Time // when the bucket will have refilled completely
}

// NewMemoryStore keeps at most maxEntries buckets (at least 1).
func NewMemoryStore(maxEntries int) *MemoryStore {
	return &MemoryStore{capacity: max(maxEntries, 1), entries: make(map[string]memoryEntry)}
}

// UpdateBuckets implements BucketStore.
func (m *MemoryStore) UpdateBuckets(ctx context.Context, now time.Time, keys []Key, update func([]Bucket) ([]Bucket, bool)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	current := make([]Bucket, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	added := 0
	for i, k := range keys {
		e, ok := m.entries[k.Bucket]
		if !ok {
			added++
		}
		current[i] = e.bucket
	}
	next, save := update(current)
	if !save {
		return nil
	}
	for len(m.entries)+added > m.capacity && m.evict(now, keys) {
	}
	for i, k := range keys {
		m.entries[k.Bucket] = memoryEntry{bucket: next[i], fullAt: k.Limit.fullAt(next[i])}
	}
	return nil
}

// evict makes room for at least one bucket, never dropping one of keep. It
// reports false when there is nothing it may drop.
func (m *MemoryStore) evict(now time.Time, keep []Key) bool {
	var oldest string
	var oldestFull time.Time
	seen, dropped := 0, false
	// Map iteration starts at a random place: this samples the buckets.
	for name, e := range m.entries {
		if isKept(name, keep) {
			continue
		}
		if !e.fullAt.After(now) {
			delete(m.entries, name)
			dropped = true
		} else if oldest == "" || e.fullAt.Before(oldestFull) {
			oldest, oldestFull = name, e.fullAt
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	if dropped {
		return true
	}
	if oldest == "" {
		return false
	}
	delete(m.entries, oldest)
	return true
}

func isKept(name string, keep []Key) bool {
	for _, k := range keep {
		if k.Bucket == name {
			return true
		}
	}
	return false
}

// Prune drops every bucket that has refilled completely by now and returns
// how many it dropped. Calling it now and then keeps memory down between
// bursts; the bound holds without it.
func (m *MemoryStore) Prune(now time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for name, e := range m.entries {
		if !e.fullAt.After(now) {
			delete(m.entries, name)
			n++
		}
	}
	return n
}

// Len is the number of buckets held.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
