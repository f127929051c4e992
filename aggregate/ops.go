package aggregate

// Len returns the number of rows, counted over all families and levels: the rows a
// write of d upserts.
func (d *Deltas) Len() int {
	return len(d.Campaigns) + len(d.Channels) + len(d.ConversionValues) +
		len(d.Interactions) + len(d.Variants) + len(d.EventTypes)
}

// Empty reports whether d has no rows.
func (d *Deltas) Empty() bool { return d.Len() == 0 }

// Merge adds o's rows to d, as if o's events had been added to d after d's own. It
// copies o's values, so later changes to either never show in the other.
func (d *Deltas) Merge(o *Deltas) {
	mergeRows(d.Campaigns, o.Campaigns, (*CampaignDelta).add)
	mergeRows(d.Channels, o.Channels, (*ChannelDelta).add)
	mergeCounts(d.ConversionValues, o.ConversionValues)
	mergeCounts(d.Interactions, o.Interactions)
	mergeRows(d.Variants, o.Variants, (*VariantDelta).add)
	mergeCounts(d.EventTypes, o.EventTypes)
}

// ByTenant splits d by tenant: the Redis view is written per tenant, each under its
// own hash tag. The parts have copies of d's values.
func (d *Deltas) ByTenant() map[string]*Deltas { return d.ByTenantWhere(nil) }

// ByTenantWhere splits the rows of d that keep accepts (all when keep is nil) by
// tenant, copying only those: a batch of late events has many rows the Redis view
// does not hold.
func (d *Deltas) ByTenantWhere(keep func(Level, Bucket) bool) map[string]*Deltas {
	out := make(map[string]*Deltas)
	d.route(func(s slot) *Deltas {
		if keep != nil && !keep(s.level, s.bucket) {
			return nil
		}
		part := out[s.tenant]
		if part == nil {
			part = New()
			out[s.tenant] = part
		}
		return part
	})
	return out
}

// Only returns a copy of d's rows at level l.
func (d *Deltas) Only(l Level) *Deltas {
	out := New()
	d.route(func(s slot) *Deltas {
		if s.level != l {
			return nil
		}
		return out
	})
	return out
}

// route copies every row of d into the Deltas to returns for the row's slot, or
// drops it when to returns nil.
func (d *Deltas) route(to func(slot) *Deltas) {
	routeRows(d.Campaigns, to, func(o *Deltas) map[CampaignKey]*CampaignDelta { return o.Campaigns }, clonePtr)
	routeRows(d.Channels, to, func(o *Deltas) map[ChannelKey]*ChannelDelta { return o.Channels }, clonePtr)
	routeRows(d.ConversionValues, to, func(o *Deltas) map[ConversionValueKey]int64 { return o.ConversionValues }, same)
	routeRows(d.Interactions, to, func(o *Deltas) map[InteractionKey]int64 { return o.Interactions }, same)
	routeRows(d.Variants, to, func(o *Deltas) map[VariantKey]*VariantDelta { return o.Variants }, clonePtr)
	routeRows(d.EventTypes, to, func(o *Deltas) map[EventTypeKey]int64 { return o.EventTypes }, same)
}

// key is what every row key has: the slot it belongs to.
type key interface {
	comparable
	at() slot
}

func routeRows[K key, V any](src map[K]V, to func(slot) *Deltas, rows func(*Deltas) map[K]V, clone func(V) V) {
	for k, v := range src {
		if dst := to(k.at()); dst != nil {
			rows(dst)[k] = clone(v)
		}
	}
}

func mergeRows[K comparable, V any](dst, src map[K]*V, add func(*V, *V)) {
	for k, v := range src {
		if cur := dst[k]; cur != nil {
			add(cur, v)
		} else {
			dst[k] = clonePtr(v)
		}
	}
}

func mergeCounts[K comparable](dst, src map[K]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

func clonePtr[T any](p *T) *T {
	c := *p
	return &c
}

func same(v int64) int64 { return v }

func (k CampaignKey) at() slot        { return slot{k.Tenant, k.Level, k.Bucket} }
func (k ChannelKey) at() slot         { return slot{k.Tenant, k.Level, k.Bucket} }
func (k ConversionValueKey) at() slot { return slot{k.Tenant, k.Level, k.Bucket} }
func (k InteractionKey) at() slot     { return slot{k.Tenant, k.Level, k.Bucket} }
func (k VariantKey) at() slot         { return slot{k.Tenant, k.Level, k.Bucket} }
func (k EventTypeKey) at() slot       { return slot{k.Tenant, k.Level, k.Bucket} }

// add adds o to c; o is the later delta, so its currency wins, as in Add.
func (c *CampaignDelta) add(o *CampaignDelta) {
	c.Currency = o.Currency
	c.Impressions += o.Impressions
	c.Clicks += o.Clicks
	c.Conversions += o.Conversions
	c.CostMicros += o.CostMicros
	c.RevenueMicros += o.RevenueMicros
	c.Events += o.Events
}

func (c *ChannelDelta) add(o *ChannelDelta) {
	c.JourneysStarted += o.JourneysStarted
	c.StageChanges += o.StageChanges
	c.Conversions += o.Conversions
}

func (v *VariantDelta) add(o *VariantDelta) {
	v.Views += o.Views
	v.Clicks += o.Clicks
	v.Conversions += o.Conversions
	v.EngagementMicros += o.EngagementMicros
	v.EngagementCount += o.EngagementCount
}
