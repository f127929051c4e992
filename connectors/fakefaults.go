package connectors

import (
	"sync"
	"time"
)

// Faults is the fault injection the platform fakes share: how many of the next
// requests to throttle (and the wait to ask for) and how many to fail. A fake
// embeds it, so tests call ThrottleNext and FailNext on the fake, and its
// ServeHTTP asks Throttled and Failed where the platform would refuse; how a
// throttle or failure is written stays with the fake. Safe for concurrent use.
type Faults struct {
	mu          sync.Mutex
	throttle    int
	throttleFor time.Duration
	fail        int
}

// ThrottleNext throttles the next k requests reaching the check, asking for delay.
func (f *Faults) ThrottleNext(k int, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttle, f.throttleFor = k, delay
}

// FailNext fails the next n requests reaching the check with a server error.
func (f *Faults) FailNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = n
}

// Throttled reports whether this request is to be throttled, using up one, and
// the wait to ask for.
func (f *Faults) Throttled() (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.throttle <= 0 {
		return 0, false
	}
	f.throttle--
	return f.throttleFor, true
}

// Failed reports whether this request is to fail, using up one.
func (f *Faults) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail <= 0 {
		return false
	}
	f.fail--
	return true
}
