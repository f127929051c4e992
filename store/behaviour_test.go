package store_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// applyJourneys stores one consumer batch of journey rows per tenant, as the consumer
// does, at the given first offset.
func applyJourneys(t *testing.T, pool *pgxpool.Pool, day time.Time, first int64, rows map[string]*store.JourneyRows) {
	t.Helper()
	ctx := context.Background()
	if err := (store.Archive{DB: pool}).EnsurePartitions(ctx, day, 0); err != nil {
		t.Fatal(err)
	}
	err := (store.Batches{DB: pool, Group: "behaviour-seed"}).Apply(ctx, "seed", day, []int32{0}, func(map[int32]int64) ([]store.PartitionBatch, *store.PreparedDeltas) {
		return []store.PartitionBatch{{Topic: "seed", FirstOffset: first, LastOffset: first + 9, Journeys: rows}}, store.PrepareDeltas(aggregate.New())
	})
	if err != nil {
		t.Fatal(err)
	}
}

func tp(id, customer, device, channel, kind, campaign string, at time.Time) store.Touchpoint {
	return store.Touchpoint{EventID: id, OccurredAt: at, Who: store.Who{CustomerID: customer, JourneyID: "j-" + customer, DeviceID: device},
		Channel: channel, InteractionType: kind, CampaignID: campaign}
}

func conv(id, customer, device string, micros int64, currency string, at time.Time) store.Conversion {
	return store.Conversion{EventID: id, OccurredAt: at, Who: store.Who{CustomerID: customer, JourneyID: "j-" + customer, DeviceID: device},
		Channel: "web", ValueMicros: micros, Currency: currency, AttributionWeight: 1}
}

func pc(value string, n int64, share float64) store.PreferenceCount {
	return store.PreferenceCount{Value: value, Count: n, Share: share}
}

func ts(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2025, month, day, hour, minute, 0, 0, time.UTC)
}

// TestBehaviour: one customer's behaviour and implicit preferences are computed from
// only its own elements of rows shared with other customers, over the right windows,
// ignoring the future; revenue is exact per currency; at most five values per list;
// another tenant's same customer id never counts; an unknown customer is not Known.
func TestBehaviour(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	j := store.Journeys{DB: pool}
	now := ts(6, 30, 12, 0)
	day := now.Truncate(24 * time.Hour)
	applyJourneys(t, pool, day, 0, map[string]*store.JourneyRows{
		"acme": {
			Touchpoints: []store.Touchpoint{
				tp("t0", "c1", "d1", "email", "click", "spring", ts(3, 20, 9, 0)), // 102 days ago: first seen only
				tp("t1", "x", "dx", "social", "view", "summer", ts(6, 30, 11, 0)),
				tp("t2", "c1", "d2", "email", "open", "summer", ts(6, 28, 9, 15)),
				tp("t3", "c1", "d2", "social", "click", "summer", ts(6, 10, 9, 30)),
				tp("t4", "c1", "", "email", "click", "", ts(5, 1, 21, 0)),
				tp("t5", "c1", "d9", "email", "click", "summer", ts(6, 30, 13, 0)), // future: ignored
			},
			Conversions: []store.Conversion{
				conv("v1", "c1", "d4", 1_500_000, "EUR", ts(6, 27, 10, 0)),
				conv("v2", "y", "dy", 1, "EUR", ts(6, 27, 10, 0)),
				conv("v3", "c1", "", 2_250_001, "EUR", ts(6, 20, 10, 0)),
				conv("v4", "c1", "", 9_999_999_999, "USD", ts(5, 21, 10, 0)),
				conv("v5", "c1", "", 5, "USD", ts(3, 27, 10, 0)), // 95 days ago
			},
		},
		"other": {
			Touchpoints: []store.Touchpoint{tp("o1", "c1", "od", "tv", "view", "secret", ts(6, 29, 3, 0))},
			Conversions: []store.Conversion{conv("o2", "c1", "od", 7, "GBP", ts(6, 29, 3, 0))},
		},
	})
	var many []store.Touchpoint
	for i, c := range []string{"a", "b", "c", "d", "e", "f", "g", "g"} {
		many = append(many, tp("m"+string(rune('0'+i)), "c2", "", "email", "view", c, ts(6, 29, 8, i)))
	}
	applyJourneys(t, pool, day, 10, map[string]*store.JourneyRows{"acme": {
		Touchpoints: append([]store.Touchpoint{
			tp("t6", "c1", "d3", "search", "click", "summer", ts(6, 29, 21, 10)),
			tp("t7", "c1", "", "email", "click", "autumn", ts(6, 25, 9, 0)),
		}, many...),
	}})

	b, err := j.Behaviour(ctx, "acme", "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	first, last, hour := ts(3, 20, 9, 0), ts(6, 29, 21, 10), 9
	want := store.CustomerBehaviour{AsOf: now, FirstSeen: &first, LastSeen: &last, Touchpoints7d: 3, Touchpoints30d: 4, Touchpoints90d: 5,
		Conversions90d: 3, Revenue90d: map[string]int64{"EUR": 3_750_001, "USD": 9_999_999_999}, Channels90d: 3, DevicesSeen: 4,
		Implicit: store.ImplicitPreferences{
			TopChannels:         []store.PreferenceCount{pc("email", 3, 0.6), pc("search", 1, 0.2), pc("social", 1, 0.2)},
			TopCampaigns:        []store.PreferenceCount{pc("summer", 3, 0.6), pc("autumn", 1, 0.2)},
			TopInteractionTypes: []store.PreferenceCount{pc("click", 4, 0.8), pc("open", 1, 0.2)},
			PreferredHourUTC:    &hour,
		}}
	if !b.Known() || !reflect.DeepEqual(b, want) {
		t.Errorf("behaviour of c1:\n got %+v\nwant %+v", b, want)
	}

	b, err = j.Behaviour(ctx, "acme", "c2", now)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Implicit.TopCampaigns; len(got) != 5 || got[0] != (store.PreferenceCount{Value: "g", Count: 2, Share: 0.25}) ||
		got[1].Value != "a" || got[4].Value != "d" || b.DevicesSeen != 0 || *b.Implicit.PreferredHourUTC != 8 {
		t.Errorf("behaviour of c2: %+v", b)
	}

	b, err = j.Behaviour(ctx, "other", "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	if b.Touchpoints90d != 1 || b.Conversions90d != 1 || !reflect.DeepEqual(b.Revenue90d, map[string]int64{"GBP": 7}) ||
		b.Implicit.TopChannels[0].Value != "tv" || b.DevicesSeen != 1 {
		t.Errorf("behaviour of other/c1: %+v", b)
	}

	b, err = j.Behaviour(ctx, "acme", "nobody", now)
	if err != nil {
		t.Fatal(err)
	}
	if b.Known() || b.Touchpoints90d != 0 || len(b.Revenue90d) != 0 || b.Implicit.PreferredHourUTC != nil ||
		b.Implicit.TopChannels == nil || len(b.Implicit.TopChannels) != 0 {
		t.Errorf("behaviour of an unknown customer: %+v", b)
	}
}

// TestExplicitPreferences: the accepted traits are picked (camelCase alias included),
// others ignored, and the consent is carried as given.
func TestExplicitPreferences(t *testing.T) {
	withdrawn := store.ConsentPurposes{Analytics: true, Advertising: true, Recorded: true, Source: "api"}
	got := store.ExplicitPreferencesOf(map[string]any{"email": "a@b.c", "preferences": map[string]any{"newsletter": true},
		"communicationPreferences": []any{"email"}, "interests": []any{"running", "tea"}}, &withdrawn)
	want := store.ExplicitPreferences{Traits: map[string]any{"preferences": map[string]any{"newsletter": true},
		"communication_preferences": []any{"email"}, "interests": []any{"running", "tea"}}, Consent: &withdrawn}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("explicit preferences:\n got %+v\nwant %+v", got, want)
	}
	if got := store.ExplicitPreferencesOf(nil, nil); got.Traits == nil || len(got.Traits) != 0 || got.Consent != nil {
		t.Errorf("no traits: %+v", got)
	}
}
