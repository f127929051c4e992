package campaign

import (
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

func testConfig() Config {
	return Config{CampaignID: "cmp-1", Name: "Spring", Channel: events.ChannelSearch, TargetAudience: "all", Budget: 1000,
		Duration: "P30D", CreativeIDs: []string{"a", "b"}, TargetCPA: 20, CTRFloor: 0.01, ROASFloor: 2}
}

func TestValidateNamesTheField(t *testing.T) {
	for name, c := range map[string]struct {
		edit  func(*Config)
		field string
	}{
		"ok":             {func(*Config) {}, ""},
		"no name":        {func(c *Config) { c.Name = "" }, "name"},
		"bad duration":   {func(c *Config) { c.Duration = "P1M" }, "duration"},
		"zero budget":    {func(c *Config) { c.Budget = 0 }, "budget"},
		"no creatives":   {func(c *Config) { c.CreativeIDs = nil }, "creative_ids"},
		"long interval":  {func(c *Config) { c.EvaluationInterval = "P31D" }, "evaluation_interval"},
		"tiny interval":  {func(c *Config) { c.EvaluationInterval = "PT0.5S" }, "evaluation_interval"},
		"ctr floor of 1": {func(c *Config) { c.CTRFloor = 1 }, "ctr_floor"},
	} {
		cfg := testConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if (c.field == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), c.field+":")) {
			t.Errorf("%s: %v, want field %q", name, err, c.field)
		}
	}
}

// perf is a platform performance with totals m and creatives a, b.
func perf(m events.CampaignMetrics, a, b CreativeStats) Performance {
	a.ID, b.ID = "a", "b"
	return Performance{Source: SourcePlatform, Totals: m, Creatives: []CreativeStats{a, b}}
}

func TestThresholdRules(t *testing.T) {
	fine := events.CampaignMetrics{Impressions: 10000, Clicks: 200, Conversions: 10, Cost: 180, Revenue: 540}
	even := CreativeStats{Impressions: 5000, Clicks: 100, Conversions: 5}
	weak := CreativeStats{Impressions: 5000, Clicks: 10, Conversions: 5}
	for name, c := range map[string]struct {
		m          events.CampaignMetrics
		b          CreativeStats
		want       string // bid/audience/rotation summary, "" for no decision
		audienceIn string
	}{
		"within targets":   {fine, even, "", ""},
		"too little data":  {events.CampaignMetrics{Impressions: 999, Cost: 500, Conversions: 1}, even, "", ""},
		"CPA above target": {with(fine, func(m *events.CampaignMetrics) { m.Cost = 400; m.Revenue = 2000 }), even, "bid=-0.5", ""},
		"CPA slightly up":  {with(fine, func(m *events.CampaignMetrics) { m.Cost = 250; m.Revenue = 2000 }), even, "bid=-0.2", ""},
		"CPA within 10%":   {with(fine, func(m *events.CampaignMetrics) { m.Cost = 215; m.Revenue = 2000 }), even, "", ""},
		"no conversion":    {with(fine, func(m *events.CampaignMetrics) { m.Conversions = 0; m.Revenue = 1000 }), even, "bid=-0.25", ""},
		"cheap conversion": {with(fine, func(m *events.CampaignMetrics) { m.Cost = 90 }), even, "bid=0.1", ""},
		"low CTR":          {with(fine, func(m *events.CampaignMetrics) { m.Clicks = 50 }), weak, "rotation=a", ""},
		"low ROAS":         {with(fine, func(m *events.CampaignMetrics) { m.Revenue = 300 }), even, "audience=all/high_intent", ""},
		"low ROAS again":   {with(fine, func(m *events.CampaignMetrics) { m.Revenue = 300 }), even, "bid=-0.1", "all/high_intent"},
	} {
		st := NewState("acme", testConfig(), time.Unix(0, 0))
		if c.audienceIn != "" {
			st.Audience = c.audienceIn
		}
		d, ok := thresholds(st, perf(c.m, even, c.b))
		if got := describe(d, ok); got != c.want {
			t.Errorf("%s: %q (%v), want %q", name, got, d.Reasons, c.want)
		}
	}
}

func with(m events.CampaignMetrics, f func(*events.CampaignMetrics)) events.CampaignMetrics {
	f(&m)
	return m
}

func describe(d Decision, ok bool) string {
	if !ok {
		return ""
	}
	var parts []string
	if b := d.Changes.BidAdjustment; b != nil {
		parts = append(parts, "bid="+strconv.FormatFloat(*b, 'f', -1, 64))
	}
	if a := d.Changes.AudienceTargeting; a != "" {
		parts = append(parts, "audience="+a)
	}
	if r := d.Changes.CreativeRotation; len(r) > 0 {
		parts = append(parts, "rotation="+strings.Join(r, ","))
	}
	return strings.Join(parts, " ")
}

// TestReallocationFollowsEvidence: with little evidence nothing moves; with much, the
// better creative gets most of the budget; the same inputs give the same shares.
func TestReallocationFollowsEvidence(t *testing.T) {
	st := NewState("acme", testConfig(), time.Unix(0, 0))
	thin := perf(events.CampaignMetrics{}, CreativeStats{Impressions: 300, Conversions: 2}, CreativeStats{Impressions: 300, Conversions: 1})
	if _, ok := reallocate(st, thin, st.Active); ok {
		t.Error("reallocated on 600 impressions")
	}
	clear := perf(events.CampaignMetrics{}, CreativeStats{Impressions: 20000, Conversions: 60}, CreativeStats{Impressions: 20000, Conversions: 20})
	d, ok := reallocate(st, clear, st.Active)
	if !ok || d.Changes.BudgetAllocation["a"] < 0.99 || d.Trigger != events.TriggerBudgetReallocation {
		t.Fatalf("clear winner: %+v %v", d, ok)
	}
	again, _ := reallocate(st, clear, st.Active)
	if !maps.Equal(d.Changes.BudgetAllocation, again.Changes.BudgetAllocation) {
		t.Errorf("not reproducible: %v vs %v", d.Changes.BudgetAllocation, again.Changes.BudgetAllocation)
	}
	st.Record(d, time.Unix(0, 0))
	if _, ok := reallocate(st, clear, st.Active); ok {
		t.Error("reallocated again without a 5-point move")
	}
}

func TestRecordKeepsTheLastDecisionsAndAppliesChanges(t *testing.T) {
	st := NewState("acme", testConfig(), time.Unix(0, 0))
	bid := 0.1
	for range HistoryLimit + 5 {
		st.Record(Decision{Trigger: events.TriggerManual, Changes: events.Changes{BidAdjustment: &bid}}, time.Unix(0, 0))
	}
	if len(st.Decisions) != HistoryLimit || st.Decisions[0].Seq != 6 || st.DecisionCount != HistoryLimit+5 {
		t.Errorf("history: %d kept, first %d, count %d", len(st.Decisions), st.Decisions[0].Seq, st.DecisionCount)
	}
	st.Record(Decision{Changes: events.Changes{CreativeRotation: []string{"b"}}}, time.Unix(0, 0))
	if len(st.Active) != 1 || st.Allocation["b"] != 1 || len(st.Allocation) != 1 {
		t.Errorf("rotation: active %v, allocation %v", st.Active, st.Allocation)
	}
}

// TestEventsCarryPlatformIncrementsOnce: platform numbers enter the stream once, as
// increments; streamed numbers are never re-reported.
func TestEventsCarryPlatformIncrementsOnce(t *testing.T) {
	st := NewState("acme", testConfig(), time.Unix(0, 0))
	st.Observe(Performance{Source: SourcePlatform, Totals: events.CampaignMetrics{Impressions: 100, Cost: 10}})
	e1 := st.OptimizationEvent(Decision{Trigger: events.TriggerManual}, time.Unix(0, 0))
	st.Observe(Performance{Source: SourcePlatform, Totals: events.CampaignMetrics{Impressions: 250, Cost: 25}})
	e2 := st.TerminationEvent(time.Unix(0, 0))
	if e1.PerformanceMetrics.Impressions != 100 || e2.PerformanceMetrics.Impressions != 150 || e2.PerformanceMetrics.Cost != 15 {
		t.Errorf("increments %+v then %+v", e1.PerformanceMetrics, e2.PerformanceMetrics)
	}
	st.Source = SourceStreamed
	if e := st.OptimizationEvent(Decision{}, time.Unix(0, 0)); e.PerformanceMetrics != nil {
		t.Errorf("streamed numbers re-reported: %+v", e.PerformanceMetrics)
	}
}
