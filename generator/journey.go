package generator

import (
	"strconv"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Journey dynamics, per journey event of a running journey.
const (
	// advanceRate is the chance a journey moves to the next funnel stage.
	advanceRate = 0.3
	// abandonRate is the chance a journey past awareness is given up. With advanceRate it
	// lets roughly half of the journeys that get past awareness convert.
	abandonRate = 0.12
	// loginRate is the chance an anonymous customer logs in at an event in the intent stage.
	loginRate = 0.3
	// deviceSwitchRate is the chance a journey continues on another of the customer's
	// devices, which is what cross-device identity resolution has to stitch together.
	deviceSwitchRate = 0.15
	// favouriteChannelRate is the chance a touchpoint stays on the journey's current
	// channel rather than arriving through another one.
	favouriteChannelRate = 0.6
)

// journeyEvent moves one customer of t one step along their journey, starting a journey
// if they have none.
func (g *Generator) journeyEvent(t *tenant, e *events.Event) {
	c := &t.customers[g.rng.IntN(len(t.customers))]
	j := &c.journey
	var count channelCount
	var valueCents int64
	switch {
	case !j.active:
		g.startJourney(t, c, e)
		count = countJourneyStart
	case j.stage == len(stages)-1:
		valueCents = g.convert(t, c, e)
		count = countConversion
	case j.stage > 0 && g.chance(abandonRate):
		g.abandon(t, c, e)
		count = countStageChange
	case g.chance(advanceRate):
		g.advance(t, c, e)
		count = countStageChange
	default:
		g.interact(t, c, e)
	}
	e.CustomerID = c.id
	e.JourneyID = j.id
	e.Device = c.eventDevice(&c.devices[j.device])
	last := e.Touchpoints[len(e.Touchpoints)-1].Channel
	g.totals.addChannel(ChannelKey{Tenant: t.id, Channel: last}, count, t.currency, valueCents)
	for _, tp := range e.Touchpoints {
		g.totals.addInteraction(InteractionKey{Tenant: t.id, Channel: tp.Channel, InteractionType: tp.InteractionType})
	}
}

// startJourney begins a journey at the awareness stage, entering through a click on one
// channel, sometimes after an exposure on the same channel.
func (g *Generator) startJourney(t *tenant, c *customer, e *events.Event) {
	t.journeys++
	ch := g.randomChannel()
	p := &profiles[ch]
	c.journey = journey{
		active:  true,
		id:      "jrn-" + strconv.Itoa(t.journeys),
		channel: ch,
		device:  g.rng.IntN(len(c.devices)),
	}
	campaign := g.runningCampaign(t, ch)
	e.EventType = events.JourneyStart
	e.CurrentStage = stages[0]
	e.EntryPoint = &events.EntryPoint{Source: p.source, Medium: p.medium, Campaign: campaign}
	if p.channel == events.ChannelSearch {
		e.EntryPoint.Term = g.pick(searchTerms)
	}
	e.InitialContext = &events.InitialContext{
		DeviceType:     deviceKinds[c.devices[c.journey.device].kind].name,
		Location:       c.geo.City + ", " + c.geo.Country,
		ReferralSource: p.source,
	}
	click := touch{ch, interactionClick}
	if g.chance(0.5) {
		e.Touchpoints = g.touchpoints(t, e.Timestamp, touch{ch, p.exposure}, click)
	} else {
		e.Touchpoints = g.touchpoints(t, e.Timestamp, click)
	}
}

// interact records one to three touchpoints of the kinds typical for the journey's stage.
// The last one is on the journey's channel; earlier ones may arrive through others.
func (g *Generator) interact(t *tenant, c *customer, e *events.Event) {
	j := &c.journey
	g.maybeSwitchDevice(c)
	e.EventType = events.TouchpointInteraction
	e.CurrentStage = stages[j.stage]
	var buf [3]touch
	touches := buf[:1+g.rng.IntN(len(buf))]
	for i := range touches {
		ch := j.channel
		if i < len(touches)-1 && !g.chance(favouriteChannelRate) {
			ch = g.randomChannel()
		}
		touches[i] = touch{ch, g.stageInteraction(j.stage, ch)}
	}
	e.Touchpoints = g.touchpoints(t, e.Timestamp, touches...)
	if !g.chance(favouriteChannelRate) {
		// The customer will come back through another channel next time.
		j.channel = g.randomChannel()
	}
}

// stageInteraction draws an interaction type typical for a funnel stage: exposures early,
// site visits and product views in consideration, carts at intent.
func (g *Generator) stageInteraction(stage, ch int) string {
	switch stage {
	case 0:
		if g.chance(0.6) {
			return profiles[ch].exposure
		}
		return interactionClick
	case 1:
		return g.pick(considerationInteractions)
	default:
		return g.pick(intentInteractions)
	}
}

var (
	considerationInteractions = []string{interactionClick, interactionVisit, interactionView}
	intentInteractions        = []string{interactionView, interactionAddToCart, interactionVisit}
	// stageEntries is the interaction that moves a journey into each stage.
	stageEntries = [len(stages)]string{interactionClick, interactionVisit, interactionView, interactionAddToCart}
	searchTerms  = []string{"running shoes", "winter jacket sale", "free shipping", "gift ideas", "best price"}
)

// advance moves the journey to the next stage, triggered by that stage's typical
// interaction on the journey's channel.
func (g *Generator) advance(t *tenant, c *customer, e *events.Event) {
	j := &c.journey
	g.maybeSwitchDevice(c)
	if j.stage+1 >= 2 && !c.loggedIn && g.chance(loginRate) {
		c.loggedIn = true
	}
	e.EventType = events.JourneyStageChange
	e.PreviousStage = stages[j.stage]
	j.stage++
	e.CurrentStage = stages[j.stage]
	e.Touchpoints = g.touchpoints(t, e.Timestamp, touch{j.channel, stageEntries[j.stage]})
}

// abandonStage is where an abandoned journey ends up.
const abandonStage = "abandoned"

// abandon ends the journey without a conversion; the customer's next journey event
// starts a new journey.
func (g *Generator) abandon(t *tenant, c *customer, e *events.Event) {
	j := &c.journey
	e.EventType = events.JourneyStageChange
	e.PreviousStage = stages[j.stage]
	e.CurrentStage = abandonStage
	e.Touchpoints = g.touchpoints(t, e.Timestamp, touch{j.channel, interactionVisit})
	j.active = false
}

// convert completes the journey with a purchase, credited in full to the last touch.
// Checking out requires an account, so the customer is identified from here on.
func (g *Generator) convert(t *tenant, c *customer, e *events.Event) int64 {
	j := &c.journey
	c.loggedIn = true
	cents := g.orderValueCents()
	e.EventType = events.ConversionEvent
	e.CurrentStage = stages[j.stage]
	e.ConversionData = &events.ConversionData{Value: float64(cents) / 100, Currency: t.currency, AttributionWeight: 1}
	e.Touchpoints = g.touchpoints(t, e.Timestamp, touch{j.channel, interactionClick})
	j.active = false
	return cents
}

// orderValueCents draws an order value: mostly modest baskets with a long tail, capped.
func (g *Generator) orderValueCents() int64 {
	return min(1_500+int64(g.rng.ExpFloat64()*6_000), 500_000)
}

func (g *Generator) maybeSwitchDevice(c *customer) {
	if len(c.devices) > 1 && g.chance(deviceSwitchRate) {
		c.journey.device = g.rng.IntN(len(c.devices))
	}
}

// touch is a touchpoint to be built: a channel index and an interaction type.
type touch struct {
	ch   int
	kind string
}

// touchpoints builds touchpoints spaced by up to a few seconds, in time order, the last
// shortly before the event time at.
func (g *Generator) touchpoints(t *tenant, at time.Time, touches ...touch) []events.Touchpoint {
	tps := make([]events.Touchpoint, len(touches))
	offset := time.Duration(g.rng.IntN(500)) * time.Millisecond
	for i := len(touches) - 1; i >= 0; i-- {
		tps[i] = g.touchpoint(t, at.Add(-offset), touches[i])
		offset += time.Duration(200+g.rng.IntN(2300)) * time.Millisecond
	}
	return tps
}

// touchpoint builds one touchpoint. Its metadata names a campaign running on the channel
// when there is one, which is what attribution links journeys to campaigns by.
func (g *Generator) touchpoint(t *tenant, at time.Time, tc touch) events.Touchpoint {
	tp := events.Touchpoint{Channel: profiles[tc.ch].channel, InteractionType: tc.kind, Timestamp: at}
	if id := g.runningCampaign(t, tc.ch); id != "" {
		tp.Metadata = map[string]string{"campaign_id": id}
	}
	return tp
}

// runningCampaign returns the id of a running campaign of t on channel ch, or "".
// Slots are assigned to channels round-robin, so the channel's slots are ch, ch+6, ...
func (g *Generator) runningCampaign(t *tenant, ch int) string {
	n := (len(t.campaigns) - ch + len(profiles) - 1) / len(profiles)
	if n <= 0 {
		return ""
	}
	c := &t.campaigns[ch+len(profiles)*g.rng.IntN(n)]
	if !c.active {
		return ""
	}
	return c.id
}
