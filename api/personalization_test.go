package api_test

import (
	"context"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/store"
)

// seedVariants writes day rows of agg_variant the way the consumer does: per tenant,
// variant id -> {views, clicks, conversions, engagement score in micros, engagement
// count}, each variant's counts split over the two days before today so the report
// must sum buckets.
func (s *stack) seedVariants(t *testing.T, rows map[string]map[string][5]int64, today time.Time) {
	t.Helper()
	ctx := context.Background()
	d := aggregate.New()
	for tenant, vs := range rows {
		for id, c := range vs {
			for day := range 2 {
				frac := func(x int64) int64 {
					if day == 0 {
						return x / 2
					}
					return x - x/2
				}
				k := aggregate.VariantKey{Tenant: tenant, Level: aggregate.Day, Bucket: aggregate.Bucket(today.AddDate(0, 0, -1-day).Unix()), VariantID: id}
				d.Variants[k] = &aggregate.VariantDelta{Views: frac(c[0]), Clicks: frac(c[1]), Conversions: frac(c[2]),
					EngagementMicros: frac(c[3]), EngagementCount: frac(c[4])}
			}
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := store.WriteDeltas(ctx, tx, d); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestPersonalizationVariantReport(t *testing.T) {
	s := newStack(t, options{})
	acme, globex := s.tenants[0], s.tenants[1]
	today := time.Now().UTC().Truncate(24 * time.Hour)
	s.seedVariants(t, map[string]map[string][5]int64{
		acme: {
			// hero: b converts at 2% against a's 1% on 10,000 views each — a clear winner.
			"hero-a": {10_000, 400, 100, 4_000_000, 10},
			"hero-b": {10_000, 600, 200, 6_000_000, 10},
			// cta: 3 and 4 conversions in 100 views — undecided.
			"cta-button-a": {100, 10, 3, 1_000_000, 2},
			"cta-button-b": {100, 12, 4, 1_000_000, 2},
			// bad: more conversions than views.
			"bad-a": {6, 2, 10, 0, 0},
			"bad-b": {10, 2, 1, 0, 0},
			"solo":  {50, 5, 1, 0, 0},
		},
		globex: {
			"hero-a": {1_000, 10, 90, 0, 0},
			"hero-z": {1_000, 10, 5, 0, 0},
		},
	}, today)
	// A row of acme's outside the range: never counted.
	old := today.AddDate(0, 0, -60)
	s.seedVariants(t, map[string]map[string][5]int64{acme: {"hero-a": {1_000_000, 0, 1_000_000, 0, 0}}}, old)

	from, to := strconv.FormatInt(today.AddDate(0, 0, -7).Unix(), 10), strconv.FormatInt(today.Add(24*time.Hour).Unix(), 10)
	base := "/v1/personalization/variants?from=" + from + "&to=" + to
	r := s.do(t, "GET", base, s.keys[acme], "", nil)
	if r.status != 200 {
		t.Fatalf("report: %d %s", r.status, r.raw)
	}
	if strings.Contains(r.raw, "hero-z") || r.body["tenant"] != acme || r.body["level"] != "day" || r.body["group_by"] != "prefix" {
		t.Fatalf("report: %s", r.raw)
	}
	exps := experimentsByName(t, r)
	if len(exps) != 4 {
		t.Fatalf("experiments %v, want bad, cta-button, hero, solo", keys(exps))
	}

	hero := exps["hero"]
	checkProbabilities(t, hero)
	rec := hero["recommendation"].(map[string]any)
	if rec["variant_id"] != "hero-b" || rec["decision"] != "winner" || rec["threshold"] != 0.95 || rec["loss_tolerance"] != 0.001 {
		t.Fatalf("hero recommendation %v", rec)
	}
	b := variantOf(t, hero, "hero-b")
	if b["views"] != float64(10_000) || b["conversions"] != float64(200) || b["clicks"] != float64(600) ||
		b["conversion_rate"] != 0.02 || b["ctr"] != 0.06 || b["mean_engagement_score"] != 0.6 {
		t.Fatalf("hero-b %v", b)
	}
	if p := b["probability_best"].(float64); p < 0.999 {
		t.Fatalf("hero-b P(best) %g", p)
	}
	if l := variantOf(t, hero, "hero-a")["expected_loss"].(float64); math.Abs(l-0.01) > 0.001 {
		t.Fatalf("hero-a expected loss %g, want about 0.01", l)
	}

	cta := exps["cta-button"]
	checkProbabilities(t, cta)
	rec = cta["recommendation"].(map[string]any)
	if rec["variant_id"] != "cta-button-b" || rec["decision"] != "keep_testing" {
		t.Fatalf("cta recommendation %v", rec)
	}
	if p := rec["probability_best"].(float64); p < 0.5 || p > 0.95 {
		t.Fatalf("cta-button-b P(best) %g", p)
	}

	bad := exps["bad"]
	if bad["recommendation"] != nil || !strings.Contains(bad["error"].(string), `"bad-a"`) || variantOf(t, bad, "bad-a")["probability_best"] != nil ||
		variantOf(t, bad, "bad-a")["conversions"] != float64(10) {
		t.Fatalf("bad experiment %v", bad)
	}
	solo := exps["solo"]
	if solo["recommendation"] != nil || solo["error"] != nil || variantOf(t, solo, "solo")["probability_best"] != 1.0 {
		t.Fatalf("solo experiment %v", solo)
	}

	// Tenant isolation: globex sees only its own variants, under the same experiment
	// name, with its own recommendation.
	g := s.do(t, "GET", base, s.keys[globex], "", nil)
	if g.status != 200 || strings.Contains(g.raw, "hero-b") || strings.Contains(g.raw, "cta-button") {
		t.Fatalf("globex: %d %s", g.status, g.raw)
	}
	gexps := experimentsByName(t, g)
	if len(gexps) != 1 || gexps["hero"]["recommendation"].(map[string]any)["variant_id"] != "hero-a" {
		t.Fatalf("globex experiments %s", g.raw)
	}
	checkProbabilities(t, gexps["hero"])

	// One experiment; a looser policy; everything as one group.
	one := s.do(t, "GET", base+"&experiment=cta-button&threshold=0.5&loss_tolerance=0.5", s.keys[acme], "", nil)
	oexps := experimentsByName(t, one)
	if len(oexps) != 1 || oexps["cta-button"]["recommendation"].(map[string]any)["decision"] != "winner" {
		t.Fatalf("experiment filter: %s", one.raw)
	}
	all := s.do(t, "GET", base+"&group_by=none", s.keys[acme], "", nil)
	aexps := experimentsByName(t, all)
	if len(aexps) != 1 || len(aexps["all"]["variants"].([]any)) != 7 || aexps["all"]["error"] == nil {
		t.Fatalf("group_by=none: %s", all.raw)
	}

	// The old row counts when the range covers it.
	wide := s.do(t, "GET", "/v1/personalization/variants?level=day&experiment=hero&from="+
		strconv.FormatInt(old.AddDate(0, 0, -2).Unix(), 10)+"&to="+to, s.keys[acme], "", nil)
	if w := experimentsByName(t, wide); variantOf(t, w["hero"], "hero-a")["views"] != float64(1_010_000) {
		t.Fatalf("wide range: %s", wide.raw)
	}

	// Nothing in range: no experiments, not an error.
	empty := s.do(t, "GET", "/v1/personalization/variants?from="+strconv.FormatInt(today.Add(24*time.Hour).Unix(), 10), s.keys[acme], "", nil)
	if empty.status != 400 { // from after the default to
		t.Fatalf("from in the future: %d %s", empty.status, empty.raw)
	}
	none := s.do(t, "GET", "/v1/personalization/variants?level=hour", s.keys[acme], "", nil)
	if none.status != 200 || len(none.body["experiments"].([]any)) != 0 {
		t.Fatalf("empty range: %d %s", none.status, none.raw)
	}
}

func TestPersonalizationVariantReportRejectsBadQueries(t *testing.T) {
	s := newStack(t, options{})
	key := s.keys[s.tenants[0]]
	now := time.Now().UTC()
	rfc := func(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }
	for _, q := range []string{
		"from=" + rfc(now) + "&to=" + rfc(now),                 // empty range
		"from=" + rfc(now) + "&to=" + rfc(now.Add(-time.Hour)), // reversed
		"from=yesterday",                                                   // unparsable
		"to=2026-13-01T00:00:00Z",                                          // unparsable
		"level=hour&from=" + rfc(now.AddDate(0, 0, -100)),                  // too long for hours
		"level=day&from=" + rfc(now.AddDate(-4, 0, 0)) + "&to=" + rfc(now), // too long for days
		"level=month",
		"group_by=engine",
		"threshold=0", "threshold=1.5", "threshold=x",
		"loss_tolerance=-1", "loss_tolerance=NaN",
		"variant_id=hero-a", "channel=email",
	} {
		r := s.do(t, "GET", "/v1/personalization/variants?"+q, key, "", nil)
		if r.status != 400 || r.body["kind"] != "invalid" {
			t.Errorf("%s: %d %s, want 400", q, r.status, r.raw)
		}
	}
	if r := s.do(t, "GET", "/v1/personalization/variants", "", "", nil); r.status != 401 {
		t.Errorf("no key: %d", r.status)
	}
}

func experimentsByName(t *testing.T, r response) map[string]map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	out := map[string]map[string]any{}
	for _, e := range r.body["experiments"].([]any) {
		m := e.(map[string]any)
		out[m["experiment"].(string)] = m
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func variantOf(t *testing.T, exp map[string]any, id string) map[string]any {
	t.Helper()
	for _, v := range exp["variants"].([]any) {
		if m := v.(map[string]any); m["variant_id"] == id {
			return m
		}
	}
	t.Fatalf("no variant %s in %v", id, exp)
	return nil
}

// checkProbabilities: P(best) sums to 1 over an experiment and the leader has the
// highest.
func checkProbabilities(t *testing.T, exp map[string]any) {
	t.Helper()
	var sum, best float64
	var leader string
	for _, v := range exp["variants"].([]any) {
		m := v.(map[string]any)
		p := m["probability_best"].(float64)
		if p < 0 || p > 1 || m["expected_loss"].(float64) < 0 {
			t.Fatalf("variant %v", m)
		}
		sum += p
		if p > best {
			best, leader = p, m["variant_id"].(string)
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("%s: P(best) sums to %.12f", exp["experiment"], sum)
	}
	if rec := exp["recommendation"].(map[string]any); rec["variant_id"] != leader {
		t.Fatalf("%s: recommends %v, the highest P(best) is %s", exp["experiment"], rec["variant_id"], leader)
	}
}
