package streaming

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchpoint/touchpoint/store"
)

// view keeps the Redis real-time view in step with what the consumer commits. When
// Redis fails, the consumer carries on (Postgres has every batch) and reports itself
// degraded; once Redis answers again the view is rebuilt from Postgres, which covers
// every batch it missed.
//
// A consumer that takes over partitions (at start, or from a consumer that died)
// also rebuilds the view: the previous owner may have committed a batch to Postgres
// and died before it reached Redis, and nothing else would ever bring it there.
type view struct {
	rt       *store.Realtime
	rebuild  func(ctx context.Context) error
	down     atomic.Bool
	stale    atomic.Bool // partitions were assigned since the last rebuild
	lastTry  time.Time
	degraded prometheus.Gauge
}

// assigned marks the view for a rebuild before the next update.
func (v *view) assigned() { v.stale.Store(true) }

// maintain repairs the view between batches: after Redis returns, or after
// partitions were assigned, even when no batch comes.
func (v *view) maintain(ctx context.Context) {
	switch {
	case v.rt == nil:
	case v.down.Load():
		v.recover(ctx)
	case v.stale.Load():
		v.catchUp(ctx)
	}
}

func (v *view) catchUp(ctx context.Context) {
	if err := v.rebuild(ctx); err != nil {
		v.markDown(err)
		return
	}
	v.stale.Store(false)
}

func (v *view) apply(ctx context.Context, b *built) {
	if v.rt == nil {
		return
	}
	if v.down.Load() && !v.recover(ctx) {
		return
	}
	if v.stale.Load() {
		// The rebuild reads Postgres after this batch committed, so it includes it.
		v.catchUp(ctx)
		return
	}
	for p, d := range b.deltas {
		for tenant, td := range d.ByTenantWhere(v.rt.Holds(time.Now())) {
			if _, err := v.rt.Apply(ctx, tenant, p, b.last[p], td); err != nil {
				v.markDown(err)
				return
			}
		}
	}
}

// recover tries, at most every two seconds, to rebuild the view after an outage.
func (v *view) recover(ctx context.Context) bool {
	if time.Since(v.lastTry) < 2*time.Second {
		return false
	}
	v.lastTry = time.Now()
	if err := v.rt.RDB.Ping(ctx).Err(); err != nil {
		return false
	}
	if err := v.rebuild(ctx); err != nil {
		slog.Warn("consumer: rebuilding the Redis view failed", "err", err)
		return false
	}
	v.down.Store(false)
	v.stale.Store(false)
	v.degraded.Set(0)
	slog.Info("consumer: Redis is back; real-time view rebuilt from Postgres")
	return true
}

func (v *view) markDown(err error) {
	if !v.down.Swap(true) {
		slog.Warn("consumer: Redis unavailable; aggregating to Postgres only until it returns", "err", err)
	}
	v.lastTry = time.Now()
	v.degraded.Set(1)
}
