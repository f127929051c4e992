package streaming

import (
	"encoding/binary"
	"math/bits"
	"sync"
	"time"
)

// eventHash identifies (tenant_id, event_id). 128 bits keep the chance of two
// different events colliding — which would drop a valid one — negligible even over
// hundreds of millions of events.
type eventHash [16]byte

// hashEvent is FNV-1a 128 of tenant, a zero byte and the event id — the same value
// hash/fnv's New128a gives — computed without allocating, since it runs per event.
func hashEvent(tenant, eventID string) eventHash {
	hi, lo := uint64(0x6c62272e07bb0142), uint64(0x62b821756295c58d)
	step := func(c byte) {
		lo ^= uint64(c)
		h, l := bits.Mul64(0x13b, lo)
		hi, lo = h+lo<<24+0x13b*hi, l
	}
	for i := 0; i < len(tenant); i++ {
		step(tenant[i])
	}
	step(0)
	for i := 0; i < len(eventID); i++ {
		step(eventID[i])
	}
	var out eventHash
	binary.BigEndian.PutUint64(out[:8], hi)
	binary.BigEndian.PutUint64(out[8:], lo)
	return out
}

// dedupSet remembers the events one partition applied during the last horizon. It
// keeps generations (a quarter of the horizon each) so expiry drops whole maps
// instead of scanning entries, which keeps memory flat under a steady load. Events are
// keyed by tenant, so one tenant's re-sent events land on the same partition and
// meet the same set.
//
// The poll stage reads and adds while the apply stage may add what it found applied
// already, hence the lock.
type dedupSet struct {
	mu      sync.RWMutex
	horizon time.Duration
	gens    []generation // oldest first
}

type generation struct {
	start time.Time
	seen  map[eventHash]struct{}
}

func newDedupSet(horizon time.Duration) *dedupSet { return &dedupSet{horizon: horizon} }

func (d *dedupSet) contains(h eventHash) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for i := len(d.gens) - 1; i >= 0; i-- {
		if _, ok := d.gens[i].seen[h]; ok {
			return true
		}
	}
	return false
}

// add records hashes applied at now, expiring generations older than the horizon.
func (d *dedupSet) add(now time.Time, hashes []eventHash) {
	d.mu.Lock()
	defer d.mu.Unlock()
	span := d.horizon / 4
	if n := len(d.gens); n == 0 || now.Sub(d.gens[n-1].start) >= span {
		d.gens = append(d.gens, generation{start: now, seen: make(map[eventHash]struct{}, len(hashes))})
	}
	cur := d.gens[len(d.gens)-1].seen
	for _, h := range hashes {
		cur[h] = struct{}{}
	}
	for len(d.gens) > 1 && now.Sub(d.gens[0].start) > d.horizon+span {
		d.gens[0] = generation{}
		d.gens = d.gens[1:]
	}
}

// load adds hashes stored as concatenated 16-byte values.
func (d *dedupSet) load(now time.Time, raw []byte) {
	hashes := make([]eventHash, 0, len(raw)/16)
	for i := 0; i+16 <= len(raw); i += 16 {
		hashes = append(hashes, eventHash(raw[i:i+16]))
	}
	d.add(now, hashes)
}

func (d *dedupSet) size() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := 0
	for _, g := range d.gens {
		n += len(g.seen)
	}
	return n
}
