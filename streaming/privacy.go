package streaming

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// privacyCache holds the subjects whose events are dropped (suppressed, or without
// analytics consent), by keyed subject hash, so the hot path needs no query per event.
//
// It learns of changes two ways. Every store.Privacy change bumps the Redis counter
// privacy:version; the poll stage reads it (one GET, at most every versionEvery) and
// the apply stage reads it again right before each transaction, and a moved version
// reloads the set from Postgres. Independently, the set is fully reloaded from
// Postgres, the source of truth, every `every`: that alone bounds how late a change
// is seen when Redis is down or a notification was lost.
//
// The poll and apply stages both use it: readers take the current set through an
// atomic pointer (the set is never modified once published), and mu serializes the
// checks and reloads.
type privacyCache struct {
	source       store.Privacy
	every        time.Duration // full reload from Postgres
	versionEvery time.Duration // Redis version check from the poll stage
	// OnChange, if set, is called after every reload that changed the set (under the
	// cache's lock: it must be quick and must not call back into the cache). The key
	// cache of crypto-shredding resets itself through it.
	OnChange func()

	mu        sync.Mutex
	loaded    time.Time // last successful reload
	checked   time.Time // last version check
	version   string    // privacy:version as of the last reload ("" before any)
	redisDown bool      // the last version check failed: only periodic reloads until it succeeds
	confirmed bool      // the poll stage's current poll already synced (poll goroutine only)
	set       atomic.Pointer[privacySet]
}

// versionCheckTimeout bounds a version GET: Redis being slow or down must not stall
// a batch for the client's default timeouts (seconds).
const versionCheckTimeout = 250 * time.Millisecond

// privacySet is one immutable load of the blocked subjects.
type privacySet struct {
	gen      uint64              // bumped by every reload that changed the set
	tenants  map[string]struct{} // tenants with at least one blocked subject
	subjects map[string]string   // store.BlockedKey(hash) -> reason
}

var emptyPrivacySet = &privacySet{}

func newPrivacyCache(source store.Privacy, every time.Duration) *privacyCache {
	p := &privacyCache{source: source, every: every, versionEvery: 200 * time.Millisecond}
	p.set.Store(emptyPrivacySet)
	return p
}

// current is the set to filter against.
func (p *privacyCache) current() *privacySet { return p.set.Load() }

// refresh is the poll stage's check: a full reload when one is due, else the Redis
// version, at most every versionEvery.
func (p *privacyCache) refresh(ctx context.Context, now time.Time) {
	if p.source.DB == nil {
		return
	}
	p.confirmed = false // a new poll
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.loaded) >= p.every {
		v, ok := p.readVersionLocked(ctx, now)
		p.reloadLocked(ctx, now, v, ok)
		return
	}
	if now.Sub(p.checked) >= p.versionEvery {
		p.checkLocked(ctx, now)
	}
}

// sync is the apply stage's check, made right before a transaction whatever the time
// since the last one, so a batch prepared before a change is not written after it.
func (p *privacyCache) sync(ctx context.Context) {
	if p.source.DB == nil || p.source.Redis == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkLocked(ctx, time.Now())
}

// checkLocked reloads when the Redis version moved since the last reload.
func (p *privacyCache) checkLocked(ctx context.Context, now time.Time) {
	v, ok := p.readVersionLocked(ctx, now)
	if ok && v != p.version {
		p.reloadLocked(ctx, now, v, true)
	}
}

// readVersionLocked GETs privacy:version; ok is false without Redis or when it fails,
// and then the next attempt waits for the next full reload, so a Redis outage costs
// one timeout per reload period, not one per batch.
func (p *privacyCache) readVersionLocked(ctx context.Context, now time.Time) (string, bool) {
	rdb := p.source.Redis
	if rdb == nil || p.redisDown && now.Sub(p.checked) < p.every {
		return "", false
	}
	p.checked = now
	ctx, cancel := context.WithTimeout(ctx, versionCheckTimeout)
	defer cancel()
	v, err := rdb.Get(ctx, store.PrivacyVersionKey).Result()
	if errors.Is(err, redis.Nil) {
		v, err = "0", nil // never bumped (or Redis lost it: the set is reloaded then anyway)
	}
	if err != nil {
		if !p.redisDown {
			slog.Warn("consumer: privacy version unavailable in Redis, relying on the periodic reload from Postgres", "err", err, "every", p.every)
		}
		p.redisDown = true
		return "", false
	}
	p.redisDown = false
	return v, true
}

// reloadLocked loads the blocked set from Postgres. version is the Redis version read
// before the load (so a change after it triggers another one); it is remembered only
// if the load succeeds, so a failed reload is retried at the next check.
func (p *privacyCache) reloadLocked(ctx context.Context, now time.Time, version string, versionOK bool) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	list, err := p.source.BlockList(ctx)
	if err != nil {
		// Keep the last set: Postgres being briefly down must not let blocked
		// subjects through, and apply will retry against it anyway.
		slog.Warn("consumer: reloading suppression and consent failed", "err", err)
		return
	}
	p.loaded = now
	if versionOK {
		p.version = version
	}
	old := p.current()
	next := newPrivacySet(list, old.gen)
	if next.equal(old) {
		return
	}
	next.gen = old.gen + 1
	p.set.Store(next)
	if p.OnChange != nil {
		p.OnChange()
	}
}

func newPrivacySet(list []store.BlockedSubject, gen uint64) *privacySet {
	s := &privacySet{gen: gen, tenants: map[string]struct{}{}, subjects: make(map[string]string, len(list))}
	for _, b := range list {
		s.tenants[b.TenantID] = struct{}{}
		key := store.BlockedKey(b.Hash)
		if s.subjects[key] != store.ReasonSuppressed { // suppression wins over consent
			s.subjects[key] = b.Reason
		}
	}
	return s
}

func (s *privacySet) equal(o *privacySet) bool { return maps.Equal(s.subjects, o.subjects) }

// blocks says why e must be dropped ("" if it must not): store.ReasonSuppressed when
// any of its identifiers is suppressed, else store.ReasonConsent when one refused
// analytics. Identifiers are hashed (an HMAC each) only for tenants with blocked
// subjects, so most events cost one map lookup.
func (s *privacySet) blocks(h store.SubjectHasher, e *events.Event) string {
	if _, ok := s.tenants[e.TenantID]; !ok {
		return ""
	}
	why := ""
	forSubjects(e, func(id string) {
		if why == store.ReasonSuppressed {
			return
		}
		if r, ok := s.subjects[store.BlockedKey(h.Hash(e.TenantID, id))]; ok {
			why = r
		}
	})
	return why
}

// blocks checks e against the current set, for the poll stage. Before the first
// event of a poll is dropped, the set is confirmed against the Redis version (sync):
// a drop cannot be undone, so an event of a subject whose consent just came back must
// not be dropped because the throttled check in refresh had not seen it yet.
func (p *privacyCache) blocks(ctx context.Context, e *events.Event) string {
	s := p.current()
	why := s.blocks(p.source.Hasher, e)
	if why != "" && !p.confirmed {
		p.confirmed = true
		p.sync(ctx)
		if now := p.current(); now != s { // unchanged set: same answer, no need to hash again
			why = now.blocks(p.source.Hasher, e)
		}
	}
	return why
}

// recheck closes the race between a poll's filtering and its write: the poll stage
// filtered pl against the set of generation pl.privacyGen, and a suppression or a
// consent withdrawal may have come since (the apply stage runs a poll behind, and
// retries while Postgres is down). Right before each transaction the apply stage
// checks the Redis version; if the set moved, the poll's events are filtered again
// and the batch rebuilt without the newly blocked ones.
//
// What remains is the time between that check and the commit (one transaction,
// milliseconds): a change that completes within it reaches the next batch. Without
// Redis the window is the full-reload period (PrivacyRefresh). Events dropped here
// stay in the deduplication set (they were remembered when the poll was prepared):
// the same event id sent again within the dedup window is dropped as a duplicate.
func (c *Consumer) recheck(ctx context.Context, pl *poll, done []*built) {
	c.privacy.sync(ctx)
	s := c.privacy.current()
	if s.gen == pl.privacyGen {
		return
	}
	pl.privacyGen = s.gen
	for i, g := range pl.groups {
		if done[i] != nil { // committed already
			continue
		}
		dropped := false
		for _, p := range g {
			dropped = c.dropBlocked(s, pl.byPartition[p]) || dropped
		}
		if dropped {
			// As the poll stage built it (nothing applied yet); own: the hashes it
			// already remembered for this poll are not duplicates of themselves.
			firsts := make(map[int32]int64, len(g))
			for _, p := range g {
				firsts[p] = pl.byPartition[p].first
			}
			pl.pre[i] = c.build(pl, g, firsts, pl.pre[i].own)
		}
	}
}

// dropBlocked removes pr's events that s blocks and reports whether there were any.
func (c *Consumer) dropBlocked(s *privacySet, pr *partitionRecords) bool {
	kept := pr.events[:0]
	for _, a := range pr.events {
		if why := s.blocks(c.privacy.source.Hasher, &a.event); why != "" {
			c.m.dropped.WithLabelValues(why).Inc()
			continue
		}
		kept = append(kept, a)
	}
	dropped := len(kept) < len(pr.events)
	pr.events = kept
	return dropped
}
