// Package bench holds the measuring parts of `touchpoint bench`: end-to-end latency
// from capture to visible, throughput, and the report. The wiring of the real pipeline
// lives in cmd/touchpoint.
package bench

import (
	"slices"
	"sync"
	"time"
)

// Latency measures, per tenant, how long each event took from capture (when the
// producer stamped it) to visible (when the API first counted it). Events of one
// tenant share a partition and are applied in order, so "the API counts n events"
// means the first n produced are visible.
type Latency struct {
	mu      sync.Mutex
	every   int64 // keep one capture time in every this many events
	tenants map[string]*tenantLatency
	samples []time.Duration
}

type tenantLatency struct {
	produced int64
	captures []capture // sampled, in produce order
	next     int       // first capture not yet seen visible
}

type capture struct {
	index int64 // 0-based position in the tenant's stream
	at    time.Time
}

// NewLatency keeps one capture time in every `every` events, which bounds memory on
// long runs while leaving thousands of samples.
func NewLatency(every int64) *Latency {
	return &Latency{every: max(every, 1), tenants: map[string]*tenantLatency{}}
}

// Captured records that tenant's next event was produced at t.
func (l *Latency) Captured(tenant string, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tl := l.tenants[tenant]
	if tl == nil {
		tl = &tenantLatency{}
		l.tenants[tenant] = tl
	}
	if tl.produced%l.every == 0 {
		tl.captures = append(tl.captures, capture{index: tl.produced, at: t})
	}
	tl.produced++
}

// Visible records that at time t the API counted `count` of tenant's events.
func (l *Latency) Visible(tenant string, count int64, t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tl := l.tenants[tenant]
	if tl == nil {
		return
	}
	for tl.next < len(tl.captures) && tl.captures[tl.next].index < count {
		l.samples = append(l.samples, t.Sub(tl.captures[tl.next].at))
		tl.next++
	}
}

// Produced is how many events of tenant were captured.
func (l *Latency) Produced(tenant string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tl := l.tenants[tenant]; tl != nil {
		return tl.produced
	}
	return 0
}

// Pending is how many sampled events are not visible yet.
func (l *Latency) Pending() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, tl := range l.tenants {
		n += len(tl.captures) - tl.next
	}
	return n
}

// Percentiles returns the given quantiles (0..1) of the observed latencies.
func (l *Latency) Percentiles(qs ...float64) []time.Duration {
	l.mu.Lock()
	s := slices.Clone(l.samples)
	l.mu.Unlock()
	slices.Sort(s)
	out := make([]time.Duration, len(qs))
	if len(s) == 0 {
		return out
	}
	for i, q := range qs {
		idx := int(q*float64(len(s))+0.5) - 1
		out[i] = s[min(max(idx, 0), len(s)-1)]
	}
	return out
}

// Samples is how many latencies were measured.
func (l *Latency) Samples() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.samples)
}
