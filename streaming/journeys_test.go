package streaming_test

import (
	"context"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
)

// TestJourneyRowsMatchTheGenerator: the touchpoints and conversions written for
// attribution hold every touchpoint and conversion the generator sent, once.
func TestJourneyRowsMatchTheGenerator(t *testing.T) {
	r := newRig(t)
	g := r.generator(3)
	evs := take(g, 15000)
	start := time.Now().Add(-time.Minute)
	r.publish(t, evs)
	r.publish(t, evs[:300]) // re-sent: must not add rows
	_, stop := r.start(t, r.stores(nil))
	defer stop()
	r.waitCaughtUp(t)

	want := g.Totals()
	j := store.Journeys{DB: r.pool}
	end := time.Now().Add(time.Minute)
	for tenant := range want.EventsByType {
		var touchpoints int64
		seen := map[string]bool{}
		if err := j.Touchpoints(context.Background(), tenant, start, end, func(tp store.Touchpoint) error {
			touchpoints++
			if tp.Who.CustomerID == "" || tp.Channel == "" || tp.InteractionType == "" {
				t.Fatalf("incomplete touchpoint %+v", tp)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var wantTouchpoints, wantConversions int64
		for k, n := range want.Interactions {
			if k.Tenant == tenant {
				wantTouchpoints += n
			}
		}
		wantValue := map[string]int64{}
		for k, c := range want.Channels {
			if k.Tenant == tenant {
				wantConversions += c.Conversions
				for cur, v := range c.ConversionValueMicros {
					wantValue[cur] += v
				}
			}
		}
		var conversions int64
		value := map[string]int64{}
		if err := j.Conversions(context.Background(), tenant, start, end, func(c store.Conversion) error {
			if seen[c.EventID] {
				t.Fatalf("conversion %s stored twice", c.EventID)
			}
			seen[c.EventID] = true
			conversions++
			value[c.Currency] += c.ValueMicros
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if touchpoints != wantTouchpoints || conversions != wantConversions || len(value) != len(wantValue) {
			t.Fatalf("%s: %d touchpoints, %d conversions %v; generator %d, %d %v", tenant, touchpoints, conversions, value, wantTouchpoints, wantConversions, wantValue)
		}
		for cur, v := range wantValue {
			if value[cur] != v {
				t.Fatalf("%s: conversion value %s %d, want %d", tenant, cur, value[cur], v)
			}
		}
	}
}
