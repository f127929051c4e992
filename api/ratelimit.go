package api

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// tenantLimiter is a token bucket per tenant, counted in events, so one tenant's
// flood cannot starve the others. Limits are per API instance.
type tenantLimiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byID  map[string]*rate.Limiter
}

func newTenantLimiter(perSecond float64, burst int) *tenantLimiter {
	return &tenantLimiter{rate: rate.Limit(perSecond), burst: burst, byID: make(map[string]*rate.Limiter)}
}

func (l *tenantLimiter) get(tenant string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.byID[tenant]
	if !ok {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byID[tenant] = lim
	}
	return lim
}

// allow takes n events from the tenant's bucket. When it cannot, it takes nothing and
// says how long to wait (in whole seconds, for Retry-After).
func (l *tenantLimiter) allow(tenant string, n int, now time.Time) (ok bool, retryAfter int) {
	lim := l.get(tenant)
	if n > l.burst {
		// Never allowed at once: the caller must split the batch.
		return false, int(math.Ceil(float64(n) / float64(l.rate)))
	}
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, int(math.Ceil(d.Seconds()))
	}
	return true, 0
}
