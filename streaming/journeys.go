package streaming

import (
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// addJourneyRows extracts what attribution reads from a journey event: every
// touchpoint it reports and, for a conversion, the conversion under the channel of
// its last touchpoint.
func addJourneyRows(e *events.Event, byTenant map[string]*store.JourneyRows) {
	if e.EventType.Family() != events.FamilyJourney || len(e.Touchpoints) == 0 {
		return
	}
	rows := byTenant[e.TenantID]
	if rows == nil {
		rows = &store.JourneyRows{}
		byTenant[e.TenantID] = rows
	}
	who := store.Who{CustomerID: e.CustomerID, JourneyID: e.JourneyID}
	if d := e.Device; d != nil {
		who.DeviceID, who.AnonymousID, who.UserID = d.DeviceID, d.AnonymousID, d.UserID
	}
	for _, tp := range e.Touchpoints {
		rows.Touchpoints = append(rows.Touchpoints, store.Touchpoint{
			EventID: e.EventID, OccurredAt: tp.Timestamp, Who: who, Channel: string(tp.Channel),
			InteractionType: tp.InteractionType, CampaignID: campaignOf(e, tp),
		})
	}
	if e.EventType == events.ConversionEvent && e.ConversionData != nil {
		c := e.ConversionData
		rows.Conversions = append(rows.Conversions, store.Conversion{
			EventID: e.EventID, OccurredAt: e.Timestamp, Who: who, Channel: string(e.Touchpoints[len(e.Touchpoints)-1].Channel),
			ValueMicros: aggregate.Micros(c.Value), Currency: c.Currency, AttributionWeight: c.AttributionWeight,
		})
	}
}

// campaignOf is the campaign a touchpoint belongs to: its metadata's campaign_id,
// else the journey's entry campaign.
func campaignOf(e *events.Event, tp events.Touchpoint) string {
	if id := tp.Metadata["campaign_id"]; id != "" {
		return id
	}
	if e.EntryPoint != nil {
		return e.EntryPoint.Campaign
	}
	return ""
}
