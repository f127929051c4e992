package campaign

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/personalization"
)

// Rule constants. Thresholds get a tolerance so that noise around a target does not
// make the campaign oscillate between raising and lowering bids.
const (
	cpaTolerance    = 0.10  // act when CPA is more than 10% above target
	cpaScaleUpBelow = 0.50  // raise bids when CPA is under half the target
	scaleUpStep     = 0.10  // +10% bids
	maxBidCut       = -0.50 // one decision never more than halves bids
	noConvCut       = -0.25 // no conversion after twice the target CPA spent
	roasBidCut      = -0.10 // ROAS still low with the audience already narrowed
	// ReallocationStep is the smallest change of a creative's share worth a decision:
	// below it, reallocating would churn the platform for sampling noise.
	ReallocationStep = 0.05
	// ThompsonDraws is the number of posterior draws one allocation takes; the shares'
	// sampling error is at most 0.5/√draws = 0.005, well under ReallocationStep.
	ThompsonDraws = 10000
	// HighIntentSuffix marks the narrowed audience the ROAS rule switches to.
	HighIntentSuffix = "/high_intent"
)

// Evaluate applies the rules to the performance read at an evaluation, judged against
// the previous evaluation's (st.Metrics): it returns at most one
// performance_threshold decision (bid, audience and creative changes together) and at
// most one budget_reallocation. Deterministic: the Thompson draws are seeded from the
// campaign and the evaluation number.
func Evaluate(st State, p Performance) []Decision {
	var out []Decision
	active := st.Active
	if d, ok := thresholds(st, p); ok {
		out = append(out, d)
		if len(d.Changes.CreativeRotation) > 0 {
			active = d.Changes.CreativeRotation
		}
	}
	if d, ok := reallocate(st, p, active); ok {
		out = append(out, d)
	}
	return out
}

// interval is the delivery since the previous evaluation.
func interval(st State, p Performance) events.CampaignMetrics {
	a, b := p.Totals, st.Metrics
	return events.CampaignMetrics{Impressions: a.Impressions - b.Impressions, Clicks: a.Clicks - b.Clicks,
		Conversions: a.Conversions - b.Conversions, Cost: a.Cost - b.Cost, Revenue: a.Revenue - b.Revenue}
}

// thresholds checks the interval's CPA, CTR and ROAS against the config's targets.
// An interval with fewer than MinImpressions impressions is not evidence enough.
func thresholds(st State, p Performance) (Decision, bool) {
	m, c := interval(st, p), st.Config
	if m.Impressions < c.minImpressions() {
		return Decision{}, false
	}
	d := Decision{Trigger: events.TriggerPerformanceThreshold}
	if bid, why := cpaRule(c, m); why != "" {
		d.Changes.BidAdjustment, d.Reasons = &bid, append(d.Reasons, why)
	}
	if rot, why := ctrRule(st, p, m); why != "" {
		d.Changes.CreativeRotation, d.Reasons = rot, append(d.Reasons, why)
	}
	if aud, bid, why := roasRule(st, m); why != "" {
		d.Reasons = append(d.Reasons, why)
		if aud != "" {
			d.Changes.AudienceTargeting = aud
		} else if d.Changes.BidAdjustment == nil {
			d.Changes.BidAdjustment = &bid
		}
	}
	return d, len(d.Reasons) > 0
}

// cpaRule brings the cost per acquisition to target by scaling bids by target/CPA
// (bounded), or raises bids when conversions come much cheaper than the target.
func cpaRule(c Config, m events.CampaignMetrics) (float64, string) {
	if c.TargetCPA <= 0 || m.Cost <= 0 {
		return 0, ""
	}
	if m.Conversions == 0 {
		if m.Cost >= 2*c.TargetCPA {
			return noConvCut, fmt.Sprintf("no conversion for %.2f spent (target CPA %.2f)", m.Cost, c.TargetCPA)
		}
		return 0, ""
	}
	cpa := m.Cost / float64(m.Conversions)
	switch {
	case cpa > c.TargetCPA*(1+cpaTolerance):
		return math.Max(maxBidCut, round2(c.TargetCPA/cpa-1)), fmt.Sprintf("CPA %.2f above target %.2f", cpa, c.TargetCPA)
	case cpa < c.TargetCPA*cpaScaleUpBelow:
		return scaleUpStep, fmt.Sprintf("CPA %.2f under half the target %.2f", cpa, c.TargetCPA)
	}
	return 0, ""
}

// ctrRule takes the creative with the lowest click-through rate out of rotation when
// the campaign's CTR falls below the floor; the last creative always stays.
func ctrRule(st State, p Performance, m events.CampaignMetrics) ([]string, string) {
	floor := st.Config.CTRFloor
	if floor <= 0 || len(st.Active) < 2 {
		return nil, ""
	}
	ctr := float64(m.Clicks) / float64(m.Impressions)
	if ctr >= floor {
		return nil, ""
	}
	stats := statsOf(p, st.Active)
	worst := slices.MinFunc(stats, func(a, b CreativeStats) int {
		return cmp.Or(cmp.Compare(rate(a.Clicks, a.Impressions), rate(b.Clicks, b.Impressions)), cmp.Compare(a.ID, b.ID))
	})
	keep := slices.DeleteFunc(slices.Clone(st.Active), func(id string) bool { return id == worst.ID })
	return keep, fmt.Sprintf("CTR %.4f below floor %.4f: %s rotated out", ctr, floor, worst.ID)
}

// roasRule narrows the audience to its high-intent part the first time return on ad
// spend falls below the floor, and cuts bids when it stays low afterwards.
func roasRule(st State, m events.CampaignMetrics) (audience string, bid float64, why string) {
	floor := st.Config.ROASFloor
	if floor <= 0 || m.Cost <= 0 {
		return "", 0, ""
	}
	roas := m.Revenue / m.Cost
	if roas >= floor {
		return "", 0, ""
	}
	why = fmt.Sprintf("ROAS %.2f below floor %.2f", roas, floor)
	if st.Audience == st.Config.TargetAudience {
		return st.Config.TargetAudience + HighIntentSuffix, 0, why
	}
	return "", roasBidCut, why
}

// reallocate splits the budget across the active creatives by Thompson sampling on
// their conversions per impression since launch (personalization.Allocate): a share is
// the probability that the creative converts best, so budget follows the evidence as
// it grows while creatives still uncertain keep some. It decides only when the
// creatives have MinImpressions between them and a share moves by ReallocationStep.
func reallocate(st State, p Performance, active []string) (Decision, bool) {
	if len(active) < 2 {
		return Decision{}, false
	}
	stats := statsOf(p, active)
	var impressions int64
	variants := make([]personalization.VariantStats, len(stats))
	for i, s := range stats {
		impressions += s.Impressions
		variants[i] = personalization.VariantStats{ID: s.ID, Trials: s.Impressions, Successes: min(s.Conversions, s.Impressions)}
	}
	if impressions < st.Config.minImpressions() {
		return Decision{}, false
	}
	shares, err := personalization.Allocate(variants, personalization.Uniform, ThompsonDraws, Seeded(st.Tenant, st.Config.CampaignID, st.Evaluations))
	if err != nil {
		return Decision{}, false // only on invalid counts, which statsOf never builds
	}
	alloc, moved := map[string]float64{}, 0.0
	for i, id := range active {
		alloc[id] = round4(shares[i])
		moved = math.Max(moved, math.Abs(alloc[id]-st.Allocation[id]))
	}
	if moved < ReallocationStep {
		return Decision{}, false
	}
	return Decision{Trigger: events.TriggerBudgetReallocation, Changes: events.Changes{BudgetAllocation: alloc},
		Reasons: []string{fmt.Sprintf("Thompson sampling over %d creatives moved a share by %.2f", len(active), moved)}}, true
}

// Seeded is the generator of a campaign's evaluation: the same campaign and
// evaluation always draw the same numbers, so replaying the workflow reproduces its
// decisions without a SideEffect, and successive evaluations draw independently.
func Seeded(tenant, campaignID string, evaluation int) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenant + "/" + campaignID))
	return rand.New(rand.NewPCG(h.Sum64(), uint64(evaluation)))
}

// statsOf returns the stats of the active creatives, in their order; a creative
// the stream has not reported has zeros.
func statsOf(p Performance, active []string) []CreativeStats {
	out := make([]CreativeStats, len(active))
	for i, id := range active {
		out[i] = CreativeStats{ID: id}
		for _, s := range p.Creatives {
			if s.ID == id {
				out[i] = s
			}
		}
	}
	return out
}

func rate(num, den int64) float64 {
	if den <= 0 {
		return 0
	}
	return float64(num) / float64(den)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
