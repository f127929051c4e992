package seal

import (
	"context"
	"fmt"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// EnsureFunc returns the keys of tenant's subjects, creating the missing ones
// (store.SubjectKeys.Ensure, adapted).
type EnsureFunc func(ctx context.Context, tenant string, subjects []string) (map[string]Key, error)

// HashFunc is the keyed subject hash (store.SubjectHasher.Hash) the edge caches keys
// by, so that the cache does not hold identifiers as map keys.
type HashFunc func(tenant, subject string) []byte

// Edge seals events before they are produced: one EnsureFunc call per tenant of a
// batch for the subjects its cache does not hold. Safe for concurrent use.
type Edge struct {
	ensure EnsureFunc
	hash   HashFunc
	cache  *Cache[string, Key]
}

// Edge cache bounds. A destroyed key may still seal new events for up to
// EdgeCacheTTL; the consumer drops those as shredded, and the subject is suppressed
// by then anyway (a deletion suppresses before it destroys the key).
const (
	EdgeCacheSize = 100_000
	EdgeCacheTTL  = 5 * time.Minute
)

// NewEdge returns an Edge with a cache of EdgeCacheSize keys kept EdgeCacheTTL.
func NewEdge(ensure EnsureFunc, hash HashFunc) *Edge {
	return &Edge{ensure: ensure, hash: hash, cache: NewCache[string, Key](EdgeCacheSize, EdgeCacheTTL)}
}

// SealAll seals every event of evs that has a subject and is not sealed yet, in place. Keys are fetched
// before any event is sealed; on error some events may be sealed already, so the
// caller must not produce evs then.
func (s *Edge) SealAll(ctx context.Context, evs []events.Event) error {
	keys, err := s.keys(ctx, evs)
	if err != nil {
		return err
	}
	for i := range evs {
		k, ok := keys[i]
		if !ok {
			continue
		}
		if err := Seal(&evs[i], k); err != nil {
			return fmt.Errorf("seal event %q: %w", evs[i].EventID, err)
		}
	}
	return nil
}

// keys returns the key of each event with a subject, by index.
func (s *Edge) keys(ctx context.Context, evs []events.Event) (map[int]Key, error) {
	keys := make(map[int]Key, len(evs))
	missing := map[string]map[string][]int{} // tenant → subject → event indexes
	for i := range evs {
		e := &evs[i]
		if e.Sealed != nil {
			continue // sealed already (a replayed record): its customer_id is a placeholder
		}
		subject := Subject(e)
		if subject == "" {
			continue
		}
		if k, ok := s.cache.Get(string(s.hash(e.TenantID, subject))); ok {
			keys[i] = k
			continue
		}
		if missing[e.TenantID] == nil {
			missing[e.TenantID] = map[string][]int{}
		}
		missing[e.TenantID][subject] = append(missing[e.TenantID][subject], i)
	}
	for tenant, subjects := range missing {
		if err := s.fetch(ctx, tenant, subjects, keys); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

func (s *Edge) fetch(ctx context.Context, tenant string, subjects map[string][]int, keys map[int]Key) error {
	list := make([]string, 0, len(subjects))
	for subject := range subjects {
		list = append(list, subject)
	}
	got, err := s.ensure(ctx, tenant, list)
	if err != nil {
		return fmt.Errorf("seal: subject keys of tenant %q: %w", tenant, err)
	}
	for subject, idx := range subjects {
		k, ok := got[subject]
		if !ok {
			return fmt.Errorf("seal: no key returned for a subject of tenant %q", tenant)
		}
		s.cache.Put(string(s.hash(tenant, subject)), k)
		for _, i := range idx {
			keys[i] = k
		}
	}
	return nil
}
