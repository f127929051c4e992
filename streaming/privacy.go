package streaming

import (
	"context"
	"log/slog"
	"time"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// privacyCache holds the subjects whose events are dropped (suppressed, or without
// analytics consent), reloaded every few seconds so a deletion's suppression takes
// effect quickly without a query per event.
type privacyCache struct {
	source  store.Privacy
	every   time.Duration
	loaded  time.Time
	blocked map[string]struct{}
}

func (p *privacyCache) refresh(ctx context.Context, now time.Time) {
	if p.source.DB == nil || now.Sub(p.loaded) < p.every {
		return
	}
	blocked, err := p.source.Blocked(ctx)
	if err != nil {
		// Keep the last list: Postgres being briefly down must not let blocked
		// subjects through, and apply will retry against it anyway.
		slog.Warn("consumer: reloading suppression and consent failed", "err", err)
		return
	}
	p.blocked, p.loaded = blocked, now
}

func (p *privacyCache) blocks(e *events.Event) bool {
	if len(p.blocked) == 0 {
		return false
	}
	blocked := false
	forSubjects(e, func(s string) {
		if _, ok := p.blocked[store.BlockedKey(e.TenantID, s)]; ok {
			blocked = true
		}
	})
	return blocked
}
