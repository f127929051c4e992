package generator

import "github.com/touchpoint/touchpoint/events"

// variantFigures are a content variation's metric increments in integer units; the
// engagement score is in units of 0.0001 so Totals can sum it exactly.
type variantFigures struct {
	views, clicks, conversions, engagementBP int64
}

// personalizationEvent reports one action of t's personalization engine on behalf of one
// customer. Every such event says which engine acted and on what evidence.
func (g *Generator) personalizationEvent(t *tenant, e *events.Event) {
	c := &t.customers[g.rng.IntN(len(t.customers))]
	e.CustomerID = c.id
	e.PersonalizationEngine = g.engine()
	switch n := g.rng.IntN(100); {
	case n < 40:
		e.EventType = events.PersonalizationTrigger
		e.TriggerContext = g.triggerContext(c, g.pick(behaviorPatterns))
		e.Device = c.eventDevice(&c.devices[c.journey.device])
	case n < 75:
		g.optimizeContent(t, c, e)
	default:
		g.updateSegment(c, e)
	}
}

// triggerContext is the evidence the engine acted on: a behaviour seen on some page,
// at the customer's current journey stage, with the engine's confidence.
func (g *Generator) triggerContext(c *customer, pattern string) *events.TriggerContext {
	stage := "none"
	if c.journey.active {
		stage = stages[c.journey.stage]
	}
	return &events.TriggerContext{
		BehaviorPattern: pattern,
		ContextData:     map[string]string{"page": g.pick(pages), "journey_stage": stage},
		// Engines only act above a confidence threshold, hence the floor of 0.3.
		ConfidenceScore: float64(3_000+g.rng.IntN(7_001)) / 10_000,
	}
}

func (g *Generator) engine() events.Engine {
	switch n := g.rng.IntN(100); {
	case n < 35:
		return events.EngineRuleBased
	case n < 75:
		return events.EngineML
	default:
		return events.EngineRealTime
	}
}

// optimizeContent serves the customer one of two to four variants of a placement and
// reports how those variants performed across all visitors since the last report.
func (g *Generator) optimizeContent(t *tenant, c *customer, e *events.Event) {
	p := &placements[g.rng.IntN(len(placements))]
	n := 2 + g.rng.IntN(min(4, len(p.variants))-1)
	// Consecutive variants from a random start are distinct without a shuffle.
	first := g.rng.IntN(len(p.variants))
	e.EventType = events.ContentOptimization
	e.TriggerContext = g.triggerContext(c, g.pick(behaviorPatterns))
	e.Device = c.eventDevice(&c.devices[c.journey.device])
	e.ContentVariations = make([]events.ContentVariation, n)
	for i := range e.ContentVariations {
		id := p.variants[(first+i)%len(p.variants)]
		f := g.variantFigures()
		e.ContentVariations[i] = events.ContentVariation{
			VariantID:   id,
			ContentType: p.contentType,
			PerformanceMetrics: events.VariantMetrics{
				Views:           f.views,
				Clicks:          f.clicks,
				Conversions:     f.conversions,
				EngagementScore: float64(f.engagementBP) / 10_000,
			},
		}
		g.totals.addVariant(VariantKey{Tenant: t.id, VariantID: id}, f)
	}
}

func (g *Generator) variantFigures() variantFigures {
	var f variantFigures
	f.views = 100 + g.rng.Int64N(1_900)
	f.clicks = g.portion(f.views, 0.06)
	f.conversions = g.portion(f.clicks, 0.12)
	f.engagementBP = 1_000 + g.rng.Int64N(8_001)
	return f
}

// updateSegment moves a customer into a segment they are not in, or out of one they are,
// on the evidence of the behaviour that defines the segment.
func (g *Generator) updateSegment(c *customer, e *events.Event) {
	i := g.rng.IntN(len(segments))
	s := &segments[i]
	bit := uint32(1) << i
	e.EventType = events.SegmentUpdate
	e.TriggerContext = g.triggerContext(c, s.pattern)
	e.SegmentID = s.id
	e.SegmentAction = events.SegmentEnter
	if c.segments&bit != 0 {
		e.SegmentAction = events.SegmentExit
	}
	c.segments ^= bit
}
