package generator

import (
	"fmt"
	"slices"

	"github.com/touchpoint/touchpoint/events"
)

// campaignFigures are a campaign event's metric increments in integer units (money in
// cents), kept apart from the float64 wire values so Totals can sum them exactly.
type campaignFigures struct {
	impressions, clicks, conversions, costCents, revenueCents int64
}

func (f campaignFigures) metrics() *events.CampaignMetrics {
	return &events.CampaignMetrics{
		Impressions: f.impressions,
		Clicks:      f.clicks,
		Conversions: f.conversions,
		Cost:        float64(f.costCents) / 100,
		Revenue:     float64(f.revenueCents) / 100,
	}
}

// Campaign lifetimes, in optimization events.
const (
	minOptimizations = 40
	maxOptimizations = 300
)

// campaignEvent advances one campaign slot of t through its lifecycle: an idle slot
// launches, a running campaign is optimized until its optimizations run out, then ends.
func (g *Generator) campaignEvent(t *tenant, e *events.Event) {
	c := &t.campaigns[g.rng.IntN(len(t.campaigns))]
	var f campaignFigures
	switch {
	case !c.active:
		g.launch(t, c, e)
	case c.remaining == 0:
		f = g.terminate(c, e)
	default:
		f = g.optimize(c, e)
	}
	p := &profiles[c.channel]
	e.CampaignID = c.id
	e.CampaignName = c.name
	e.Channel = p.channel
	e.Currency = t.currency
	g.totals.addCampaign(CampaignKey{Tenant: t.id, CampaignID: c.id, Channel: p.channel}, f)
}

// launch starts a fresh campaign in slot c. A launch reports no metrics: nothing has
// been shown or spent yet.
func (g *Generator) launch(t *tenant, c *campaign, e *events.Event) {
	t.launched++
	theme := g.pick(campaignThemes)
	c.id = fmt.Sprintf("cmp-%04d", t.launched)
	c.name = fmt.Sprintf("%s %s #%d", theme, profiles[c.channel].channel, t.launched)
	c.active = true
	c.remaining = minOptimizations + g.rng.IntN(maxOptimizations-minOptimizations+1)
	c.creatives = make([]string, 2+g.rng.IntN(3))
	for i := range c.creatives {
		c.creatives[i] = fmt.Sprintf("%s-cr-%d", c.id, i+1)
	}
	e.EventType = events.CampaignLaunch
	e.LaunchConfig = &events.LaunchConfig{
		TargetAudience: g.pick(audiences),
		Budget:         float64(5_000 + 500*g.rng.IntN(191)), // 5,000 to 100,000 in steps of 500
		Duration:       g.pick(flightDurations),
		CreativeIDs:    slices.Clone(c.creatives),
	}
}

// optimize reports the metrics since the campaign's last event and what was changed in
// response.
func (g *Generator) optimize(c *campaign, e *events.Event) campaignFigures {
	c.remaining--
	f := g.campaignFigures(&profiles[c.channel])
	e.EventType = events.CampaignOptimization
	e.PerformanceMetrics = f.metrics()
	switch n := g.rng.IntN(100); {
	case n < 45:
		e.OptimizationTrigger = events.TriggerPerformanceThreshold
		e.ChangesMade = g.bidChange(c)
	case n < 75:
		e.OptimizationTrigger = events.TriggerBudgetReallocation
		e.ChangesMade = &events.Changes{BudgetAllocation: g.budgetShares()}
	default:
		e.OptimizationTrigger = events.TriggerManual
		e.ChangesMade = &events.Changes{AudienceTargeting: g.pick(audiences)}
	}
	return f
}

// terminate ends the campaign with its final metrics and frees the slot for a new one.
func (g *Generator) terminate(c *campaign, e *events.Event) campaignFigures {
	c.active = false
	f := g.campaignFigures(&profiles[c.channel])
	e.EventType = events.CampaignTermination
	e.PerformanceMetrics = f.metrics()
	e.TerminationReason = g.pick(terminationCauses)
	return f
}

// campaignFigures draws one reporting interval's worth of delivery at the channel's rates.
func (g *Generator) campaignFigures(p *channelProfile) campaignFigures {
	var f campaignFigures
	f.impressions = 500 + g.rng.Int64N(9_500)
	f.clicks = g.portion(f.impressions, p.ctr)
	f.conversions = g.portion(f.clicks, p.cvr)
	f.costCents = f.impressions*p.cpmCents/1000 + f.clicks*p.cpcCents
	for range f.conversions {
		f.revenueCents += g.orderValueCents()
	}
	return f
}

// bidChange reacts to a performance threshold: bids move by 5–30% either way, sometimes
// together with a rotation of the creatives.
func (g *Generator) bidChange(c *campaign) *events.Changes {
	bid := float64(5+g.rng.IntN(26)) / 100
	if g.chance(0.5) {
		bid = -bid
	}
	ch := &events.Changes{BidAdjustment: &bid}
	if g.chance(0.3) {
		// Rotate by one so the next creative leads; the copy keeps events independent.
		ch.CreativeRotation = append(slices.Clone(c.creatives[1:]), c.creatives[0])
	}
	return ch
}

// budgetShares splits the budget over two or three ad sets in whole percent, each at
// least 10%, so the shares are exact in two decimals and sum to 1.
func (g *Generator) budgetShares() map[string]float64 {
	n := 2 + g.rng.IntN(len(adSets)-1)
	shares := make(map[string]float64, n)
	left := 100
	for i, set := range adSets[:n] {
		pct := left
		if i < n-1 {
			// Leave at least 10% for each remaining ad set.
			pct = 10 + g.rng.IntN(left-10*(n-i)+1)
		}
		shares[set] = float64(pct) / 100
		left -= pct
	}
	return shares
}
