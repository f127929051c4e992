package seal

import (
	"sync"
	"time"
)

// Cache is a bounded, expiring map for keys: two generations, the current one taking
// new entries and the previous one still read. A generation is retired when it is
// half the size bound or half the lifetime old, so at most Max entries are held and
// none is returned more than TTL after it was put. Reads do not refresh an entry: a
// key destroyed in the store stops being used within TTL even when it is used all
// the time. Safe for concurrent use.
type Cache[K comparable, V any] struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu        sync.Mutex
	cur, prev map[K]V
	rotated   time.Time
}

// NewCache returns a cache of at most size entries (at least 2) kept at most ttl.
func NewCache[K comparable, V any](size int, ttl time.Duration) *Cache[K, V] {
	c := &Cache[K, V]{max: max(size, 2), ttl: ttl, now: time.Now}
	c.Reset()
	return c
}

// Get returns the entry of k, if it is held.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	if v, ok := c.cur[k]; ok {
		return v, true
	}
	v, ok := c.prev[k]
	return v, ok
}

// Put stores v under k.
func (c *Cache[K, V]) Put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	c.cur[k] = v
	if len(c.cur) >= c.max/2 {
		c.rotateLocked()
	}
}

// Reset drops every entry.
func (c *Cache[K, V]) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur, c.prev, c.rotated = map[K]V{}, map[K]V{}, c.now()
}

// Len is the number of entries held, for tests and metrics.
func (c *Cache[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.prev)
}

func (c *Cache[K, V]) expireLocked() {
	age := c.now().Sub(c.rotated)
	if age >= c.ttl {
		c.cur, c.prev, c.rotated = map[K]V{}, map[K]V{}, c.now()
		return
	}
	if age >= c.ttl/2 {
		c.rotateLocked()
	}
}

func (c *Cache[K, V]) rotateLocked() {
	c.prev, c.cur, c.rotated = c.cur, map[K]V{}, c.now()
}
