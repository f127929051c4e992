package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxTopPreferences is how many values each list of implicit preferences holds at most.
const MaxTopPreferences = 5

// PreferenceCount is one value of an implicit preference: how many of the customer's
// touchpoints of the last 90 days carry it, and that count's share of all of them.
type PreferenceCount struct {
	Value string  `json:"value"`
	Count int64   `json:"count"`
	Share float64 `json:"share"`
}

// ImplicitPreferences are what the customer's own touchpoints of the last 90 days
// show they prefer: the most frequent channels, campaigns and interaction types
// (count descending, then value; at most MaxTopPreferences each) and the hour of day
// (UTC) with the most touchpoints (the earliest on a tie; nil without touchpoints).
type ImplicitPreferences struct {
	TopChannels         []PreferenceCount `json:"top_channels"`
	TopCampaigns        []PreferenceCount `json:"top_campaigns"`
	TopInteractionTypes []PreferenceCount `json:"top_interaction_types"`
	PreferredHourUTC    *int              `json:"preferred_hour_utc"`
}

// CustomerBehaviour is one customer's behaviour as of AsOf, computed live from the
// journey rows the consumer writes (so an event shows within about a second of its
// ingestion). FirstSeen, LastSeen and DevicesSeen cover every retained touchpoint and
// conversion; the windowed counts cover (AsOf - window, AsOf]. Elements that occurred
// after AsOf are ignored.
type CustomerBehaviour struct {
	AsOf           time.Time  `json:"as_of"`
	FirstSeen      *time.Time `json:"first_seen"`
	LastSeen       *time.Time `json:"last_seen"`
	Touchpoints7d  int64      `json:"touchpoints_7d"`
	Touchpoints30d int64      `json:"touchpoints_30d"`
	Touchpoints90d int64      `json:"touchpoints_90d"`
	// Conversions90d and Revenue90d (micros per currency, exact sums) are the
	// conversions of the last 90 days.
	Conversions90d int64            `json:"conversions_90d"`
	Revenue90d     map[string]int64 `json:"revenue_90d"`
	Channels90d    int              `json:"channels_90d"` // distinct channels of the 90 days' touchpoints
	DevicesSeen    int              `json:"devices_seen"` // distinct device ids (never the ids themselves)
	// Implicit is not part of the behaviour's JSON: the API shows it under preferences.
	Implicit ImplicitPreferences `json:"-"`
}

// Known reports whether the customer has any journey data up to AsOf.
func (b CustomerBehaviour) Known() bool { return b.FirstSeen != nil }

// customerElements selects one customer's elements of a journey table: the rows are
// found through the GIN index on customer_ids (@>), then only the customer's
// positions are kept (unnest WITH ORDINALITY) and the other arrays read at them.
const customerElements = `FROM %s t, unnest(t.customer_ids) WITH ORDINALITY AS u(customer_id, i)
	WHERE t.tenant_id = $1 AND t.customer_ids @> ARRAY[$2::text] AND t.min_occurred_at <= $3 AND u.customer_id = $2`

var behaviourSQL = `WITH tp AS MATERIALIZED (
	SELECT t.occurred_at[u.i] AS at, t.device_ids[u.i] AS device, t.channels[u.i] AS channel,
		t.interaction_types[u.i] AS kind, t.campaign_ids[u.i] AS campaign
	` + fmt.Sprintf(customerElements, "journey_touchpoints") + `
), cv AS MATERIALIZED (
	SELECT t.occurred_at[u.i] AS at, t.device_ids[u.i] AS device, t.value_micros[u.i] AS value, t.currencies[u.i] AS currency
	` + fmt.Sprintf(customerElements, "journey_conversions") + `
),
seen AS (SELECT at, device FROM tp WHERE at <= $3 UNION ALL SELECT at, device FROM cv WHERE at <= $3),
tp90 AS (SELECT * FROM tp WHERE at <= $3 AND at > $3 - interval '90 days'),
cv90 AS (SELECT * FROM cv WHERE at <= $3 AND at > $3 - interval '90 days'),
breakdown AS (
	SELECT 'channel' AS dim, channel AS key, count(*) AS n, 0::bigint AS amount FROM tp90 WHERE channel <> '' GROUP BY channel
	UNION ALL SELECT 'interaction_type', kind, count(*), 0 FROM tp90 WHERE kind <> '' GROUP BY kind
	UNION ALL SELECT 'campaign', campaign, count(*), 0 FROM tp90 WHERE campaign <> '' GROUP BY campaign
	UNION ALL SELECT 'hour', extract(hour FROM at AT TIME ZONE 'UTC')::int::text, count(*), 0 FROM tp90 GROUP BY 2
	UNION ALL SELECT 'currency', currency, count(*), sum(value)::bigint FROM cv90 GROUP BY currency
)
SELECT s.first_seen, s.last_seen, s.devices, w.n7, w.n30, w.n90, c.n,
	coalesce(b.dims, '{}'), coalesce(b.keys, '{}'), coalesce(b.counts, '{}'), coalesce(b.amounts, '{}')
FROM (SELECT min(at) AS first_seen, max(at) AS last_seen, count(DISTINCT device) FILTER (WHERE device <> '') AS devices FROM seen) s,
	(SELECT count(*) FILTER (WHERE at > $3 - interval '7 days') AS n7, count(*) FILTER (WHERE at > $3 - interval '30 days') AS n30,
		count(*) AS n90 FROM tp90) w,
	(SELECT count(*) AS n FROM cv90) c,
	(SELECT array_agg(dim) AS dims, array_agg(key) AS keys, array_agg(n) AS counts, array_agg(amount) AS amounts FROM breakdown) b`

// Behaviour computes one customer's behaviour and implicit preferences as of now from
// the tenant's journey_touchpoints and journey_conversions, in one query. A customer
// without journey data gets zero counts and Known() false.
func (j Journeys) Behaviour(ctx context.Context, tenant, customerID string, now time.Time) (CustomerBehaviour, error) {
	now = now.UTC()
	b := CustomerBehaviour{AsOf: now, Revenue90d: map[string]int64{}}
	var first, last *time.Time
	var devices int
	var dims, keys []string
	var counts, amounts []int64
	err := j.DB.QueryRow(ctx, behaviourSQL, tenant, customerID, now).Scan(&first, &last, &devices,
		&b.Touchpoints7d, &b.Touchpoints30d, &b.Touchpoints90d, &b.Conversions90d, &dims, &keys, &counts, &amounts)
	if err != nil {
		return b, fmt.Errorf("store: behaviour of %s/%s: %w", tenant, customerID, err)
	}
	if first != nil {
		f, l := first.UTC(), last.UTC()
		b.FirstSeen, b.LastSeen = &f, &l
	}
	b.DevicesSeen = devices
	byDim := map[string][]PreferenceCount{}
	for i, dim := range dims {
		switch dim {
		case "currency":
			if keys[i] != "" || amounts[i] != 0 {
				b.Revenue90d[keys[i]] += amounts[i]
			}
		default:
			byDim[dim] = append(byDim[dim], PreferenceCount{Value: keys[i], Count: counts[i]})
		}
	}
	b.Channels90d = len(byDim["channel"])
	b.Implicit = ImplicitPreferences{
		TopChannels:         topPreferences(byDim["channel"], b.Touchpoints90d),
		TopCampaigns:        topPreferences(byDim["campaign"], b.Touchpoints90d),
		TopInteractionTypes: topPreferences(byDim["interaction_type"], b.Touchpoints90d),
	}
	if hours := byDim["hour"]; len(hours) > 0 {
		best, bestHour := int64(-1), 0
		for _, h := range hours {
			hour, err := strconv.Atoi(h.Value)
			if err != nil {
				return b, fmt.Errorf("store: behaviour of %s/%s: hour %q", tenant, customerID, h.Value)
			}
			if h.Count > best || (h.Count == best && hour < bestHour) {
				best, bestHour = h.Count, hour
			}
		}
		b.Implicit.PreferredHourUTC = &bestHour
	}
	return b, nil
}

// topPreferences orders values by count descending, then value, keeps the first
// MaxTopPreferences and sets each one's share of total.
func topPreferences(values []PreferenceCount, total int64) []PreferenceCount {
	out := slices.Clone(values)
	slices.SortFunc(out, func(a, b PreferenceCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	if len(out) > MaxTopPreferences {
		out = out[:MaxTopPreferences]
	}
	for i := range out {
		if total > 0 {
			out[i].Share = float64(out[i].Count) / float64(total)
		}
	}
	if out == nil {
		out = []PreferenceCount{}
	}
	return out
}

// ExplicitPreferenceTraits are the CDP-merged traits read as explicit preferences,
// each under the name it is shown with: `preferences`, `communication_preferences`
// (also accepted as `communicationPreferences`) and `interests`. Values are shown as
// the CDP gave them (object, list or scalar); a trait that is absent is left out.
var ExplicitPreferenceTraits = map[string][]string{
	"preferences":               {"preferences"},
	"communication_preferences": {"communication_preferences", "communicationPreferences"},
	"interests":                 {"interests"},
}

// ConsentPurposes is a subject's consent per purpose. Recorded is false when no
// consent is stored, which means every purpose is given.
type ConsentPurposes struct {
	Analytics       bool       `json:"analytics"`
	Personalization bool       `json:"personalization"`
	Advertising     bool       `json:"advertising"`
	Recorded        bool       `json:"recorded"`
	Source          string     `json:"source,omitempty"`
	SourceTime      *time.Time `json:"source_time,omitempty"`
}

// ConsentGiven is the consent of a subject with no consent recorded.
var ConsentGiven = ConsentPurposes{Analytics: true, Personalization: true, Advertising: true}

// ConsentPurposesOf returns a stored consent record as ConsentPurposes.
func ConsentPurposesOf(c Consent) ConsentPurposes {
	t := c.SourceTime.UTC()
	return ConsentPurposes{Analytics: c.Analytics, Personalization: c.Personalization, Advertising: c.Advertising,
		Recorded: true, Source: c.Source, SourceTime: &t}
}

// ExplicitPreferences are what the customer stated: the preference traits of the
// CDP-merged profile (ExplicitPreferenceTraits) and their consent per purpose (nil
// when the instance does not serve consent).
type ExplicitPreferences struct {
	Traits  map[string]any   `json:"traits"`
	Consent *ConsentPurposes `json:"consent"`
}

// ExplicitPreferencesOf picks the preference traits out of a profile's traits; the
// first accepted name present wins.
func ExplicitPreferencesOf(traits map[string]any, consent *ConsentPurposes) ExplicitPreferences {
	out := ExplicitPreferences{Traits: map[string]any{}, Consent: consent}
	for shown, names := range ExplicitPreferenceTraits {
		for _, name := range names {
			if v, ok := traits[name]; ok && v != nil {
				out.Traits[shown] = v
				break
			}
		}
	}
	return out
}
