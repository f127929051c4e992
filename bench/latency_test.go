package bench

import (
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
)

func TestLatencyFromCaptureToVisible(t *testing.T) {
	l := NewLatency(1)
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		l.Captured("a", t0.Add(time.Duration(i)*time.Second))
	}
	l.Captured("b", t0)
	l.Visible("a", 2, t0.Add(5*time.Second)) // events 0 and 1: 5 s and 4 s
	if l.Pending() != 3 {
		t.Fatalf("pending %d", l.Pending())
	}
	l.Visible("a", 2, t0.Add(9*time.Second)) // nothing new
	l.Visible("a", 4, t0.Add(6*time.Second)) // events 2, 3: 4 s, 3 s
	l.Visible("b", 1, t0.Add(time.Second))   // 1 s
	p := l.Percentiles(0.5, 1)
	if l.Samples() != 5 || p[0] != 4*time.Second || p[1] != 5*time.Second {
		t.Fatalf("samples %d percentiles %v", l.Samples(), p)
	}
	if l.Produced("a") != 4 || l.Pending() != 0 {
		t.Fatal("counts")
	}
}

func TestLatencySampling(t *testing.T) {
	l := NewLatency(10)
	t0 := time.Unix(0, 0)
	for range 100 {
		l.Captured("a", t0)
	}
	l.Visible("a", 100, t0.Add(time.Second))
	if l.Samples() != 10 || l.Produced("a") != 100 {
		t.Fatalf("samples %d", l.Samples())
	}
}

func TestRowsTotalsRoundTrip(t *testing.T) {
	g := generator.New(generator.Config{Seed: 4, Tenants: 2})
	d := aggregate.New()
	for range 5000 {
		e := g.Next()
		d.Add(&e)
	}
	want := g.Totals().ForTenant("tenant-01")
	var r Rows
	for k, c := range d.Campaigns {
		if k.Level == aggregate.Week && k.Tenant == "tenant-01" {
			r.Campaigns = append(r.Campaigns, store.CampaignRow{CampaignID: k.CampaignID, Channel: k.Channel, Impressions: c.Impressions,
				Clicks: c.Clicks, Conversions: c.Conversions, CostMicros: c.CostMicros, RevenueMicros: c.RevenueMicros, Events: c.Events})
		}
	}
	for k, n := range d.EventTypes {
		if k.Level == aggregate.Week && k.Tenant == "tenant-01" {
			r.EventTypes = append(r.EventTypes, store.EventTypeRow{EventType: k.EventType, Events: n})
		}
	}
	got := r.Totals("tenant-01")
	if diff := aggregatetest.Diff(got, want); diff == "" || len(got.Campaigns) != len(want.Campaigns) || got.Events() != want.Events() {
		// Channels and variants were left out on purpose: the diff must show them, the
		// campaign and event counts must agree.
		t.Fatalf("campaigns %d/%d events %d/%d diff %q", len(got.Campaigns), len(want.Campaigns), got.Events(), want.Events(), diff)
	}
	for k, v := range want.Campaigns {
		if got.Campaigns[k] != v {
			t.Fatalf("campaign %+v: %+v, want %+v", k, got.Campaigns[k], v)
		}
	}
}
