package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// Identity keeps the persisted identity graph up to date with the raw event archive.
type Identity struct {
	Archive store.Archive
	Links   store.Identity
	Codec   *events.Codec
	// Keys opens events the API sealed (crypto-shredding); nil leaves their device
	// and user ids unreadable, so they link nothing.
	Keys streaming.KeyLookup
	// Secret keys the IP hashes probabilistic matching compares; raw IPs are never
	// stored. Empty: devices are matched on user agent and place only.
	Secret []byte
	// Match configures probabilistic matching (zero: identity.DefaultMatchConfig, a
	// 0.7 threshold).
	Match identity.MatchConfig
	// LinkTTL is how long a link lives after it was last seen (zero: 90 days).
	LinkTTL time.Duration
	// DeviceWindow is how much archive before the watermark is re-read for the device
	// context (IPs, user agents, places) matching compares (zero: DefaultDeviceWindow).
	// The graph's links are persisted; device context is not, so it is rebuilt.
	DeviceWindow time.Duration
	// Now returns the current time (nil: time.Now).
	Now func() time.Time
}

// DefaultDeviceWindow is how far back the device context of a matching run reaches.
const DefaultDeviceWindow = 24 * time.Hour

// ArchiveTopic names the stream the identity watermark tracks: the raw archive.
const ArchiveTopic = "event_archive"

// AllTenants is the watermark key of an update over every tenant.
const AllTenants = "*"

// settleDelay keeps an update off the archive's last moments: a batch committed a
// moment after it was stamped must not fall behind the watermark unseen.
const settleDelay = time.Minute

// UpdateIdentityInput is one identity update: Tenant's events ("" for every tenant)
// archived since Since (zero: since the stored watermark, or the link TTL on the
// first run).
type UpdateIdentityInput struct {
	Tenant string
	Since  time.Time
}

// UpdateIdentityResult says what an update did.
type UpdateIdentityResult struct {
	From, To      time.Time
	Records       int
	Undecodable   int
	Tenants       int
	Links         int // links stored after the update, over the tenants it touched
	Probabilistic int
	Expired       int64
}

// UpdateIdentity reads the archive from the watermark to now, feeds every tenant's
// events to its identity graph (restored from the stored links), matches devices the
// deterministic links keep apart, expires links last seen more than the TTL ago and
// stores each touched tenant's links, then the watermark. Everything it writes is a
// function of the archive and the stored links, so a retry redoes the same work
// harmlessly.
func (a *Identity) UpdateIdentity(ctx context.Context, in UpdateIdentityInput) (UpdateIdentityResult, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	ttl := a.LinkTTL
	if ttl <= 0 {
		ttl = identity.DefaultLinkTTL
	}
	window := a.DeviceWindow
	if window <= 0 {
		window = DefaultDeviceWindow
	}
	key := in.Tenant
	if key == "" {
		key = AllTenants
	}
	at := now().UTC()
	res := UpdateIdentityResult{From: in.Since, To: at.Add(-settleDelay)}
	if res.From.IsZero() {
		mark, ok, err := a.Links.Watermark(ctx, key, ArchiveTopic)
		if err != nil {
			return res, err
		}
		res.From = mark
		if !ok {
			res.From = at.Add(-ttl)
		}
	}
	var hasher *identity.IPHasher
	if len(a.Secret) > 0 {
		h, err := identity.NewIPHasher(a.Secret)
		if err != nil {
			return res, fmt.Errorf("identity update: %w", err)
		}
		hasher = h
	}
	type state struct {
		graph   *identity.Graph
		devices *identity.Devices
	}
	cfg := identity.Config{LinkTTL: ttl}
	tenants := make(map[string]*state)
	replayFrom := minTime(res.From, res.To.Add(-window))
	var unsealer *streaming.Unsealer
	if a.Keys != nil {
		unsealer = streaming.NewUnsealer(a.Keys)
	}
	err := a.Archive.Replay(ctx, replayFrom, res.To, func(value []byte) error {
		res.Records++
		if res.Records%10_000 == 0 {
			activity.RecordHeartbeat(ctx, res.Records)
		}
		e, err := streaming.OpenRecord(ctx, a.Codec, unsealer, value)
		if errors.Is(err, streaming.ErrShredded) {
			return nil // the subject was deleted: the record names no one any more
		}
		if err != nil {
			// The consumer sent such records to the DLQ; they name no one.
			res.Undecodable++
			return nil
		}
		if in.Tenant != "" && e.TenantID != in.Tenant {
			return nil
		}
		s := tenants[e.TenantID]
		if s == nil {
			stored, err := a.Links.Links(ctx, e.TenantID)
			if err != nil {
				return err
			}
			g, err := identity.Restore(cfg, toIdentityLinks(stored))
			if err != nil {
				return fmt.Errorf("identity update: restore %s: %w", e.TenantID, err)
			}
			s = &state{graph: g, devices: identity.NewDevices(cfg)}
			tenants[e.TenantID] = s
		}
		obs := identity.FromEvent(&e, hasher)
		// Events before the watermark are in the stored links already; observing them
		// again changes nothing, and they give the devices their context.
		s.graph.Observe(obs)
		s.devices.Observe(obs)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("identity update: %w", err)
	}
	for tenant, s := range tenants {
		activity.RecordHeartbeat(ctx, res.Records)
		s.graph.Expire(at)
		s.devices.Expire(at)
		m, err := identity.Match(s.graph, s.devices, a.Match)
		switch {
		case err == nil:
			if err := s.graph.SetProbabilistic(m.Links); err != nil {
				return res, fmt.Errorf("identity update %s: %w", tenant, err)
			}
		case errors.Is(err, identity.ErrTooFewKnownPairs):
			// Too few logged-in devices to estimate the model: keep the earlier
			// judgement until it expires.
		default:
			return res, fmt.Errorf("identity update %s: %w", tenant, err)
		}
		links := s.graph.Snapshot()
		if err := a.Links.ReplaceLinks(ctx, tenant, fromIdentityLinks(links)); err != nil {
			return res, fmt.Errorf("identity update: %w", err)
		}
		res.Tenants++
		res.Links += len(links)
		for _, l := range links {
			if l.Method == identity.Probabilistic {
				res.Probabilistic++
			}
		}
	}
	// Tenants without new events still lose their expired links.
	expired, err := a.Links.ExpireLinks(ctx, at.Add(-ttl))
	if err != nil {
		return res, fmt.Errorf("identity update: %w", err)
	}
	res.Expired = expired
	if err := a.Links.SetWatermark(ctx, key, ArchiveTopic, res.To); err != nil {
		return res, fmt.Errorf("identity update: %w", err)
	}
	return res, nil
}

func toIdentityLinks(stored []store.IdentityLink) []identity.Link {
	out := make([]identity.Link, len(stored))
	for i, l := range stored {
		out[i] = identity.Link{A: l.A, B: l.B, Method: identity.Method(l.Method), Confidence: l.Confidence, FirstSeen: l.FirstSeen, LastSeen: l.LastSeen}
	}
	return out
}

func fromIdentityLinks(links []identity.Link) []store.IdentityLink {
	out := make([]store.IdentityLink, len(links))
	for i, l := range links {
		out[i] = store.IdentityLink{A: l.A, B: l.B, Method: string(l.Method), Confidence: l.Confidence, FirstSeen: l.FirstSeen, LastSeen: l.LastSeen}
	}
	return out
}
