package api

import (
	"cmp"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/personalization"
	"github.com/touchpoint/touchpoint/store"
)

// GET /v1/personalization/variants: the variant report of issue 7. Per experiment —
// the variants tested against each other in one content slot — every variant's views,
// clicks, conversions, CTR, conversion rate and mean engagement over [from, to), the
// Bayesian probability that its conversion rate is the best of the experiment's, its
// expected loss, and the experiment's recommendation (package personalization).
//
// agg_variant keys rows by variant_id alone: the stream does not keep which slot or
// engine a variant belongs to. Variant ids name their slot by convention — the slot
// name, a dash and the variant's letter ("hero-banner-a", the generator's placements;
// "hero-a" in the examples) — so by default (group_by=prefix) the experiment is the id
// up to its last dash, and an id without one is an experiment of its own. group_by=none
// compares every selected variant as one experiment, for ids without that convention.

// Group-by modes of the variant report.
const (
	groupByPrefix = "prefix"
	groupByNone   = "none"
	// allVariants is the experiment name under group_by=none.
	allVariants = "all"
)

// experimentOf is the experiment a variant id belongs to under group_by=prefix.
func experimentOf(variantID string) string {
	if i := strings.LastIndexByte(variantID, '-'); i > 0 {
		return variantID[:i]
	}
	return variantID
}

type variantReportQuery struct {
	store.Query
	GroupBy    string
	Experiment string
	Policy     personalization.Policy
}

// parseVariantReport reads level (default day), from, to, group_by, experiment,
// threshold and loss_tolerance. Every mistake is a 400 naming the parameter.
func (s *Server) parseVariantReport(r *http.Request) (variantReportQuery, error) {
	v := r.URL.Query()
	q := variantReportQuery{
		Query:   store.Query{Tenant: tenantOf(r.Context()), Level: aggregate.Level(v.Get("level"))},
		GroupBy: cmp.Or(v.Get("group_by"), groupByPrefix), Experiment: v.Get("experiment"),
		Policy: personalization.DefaultPolicy(),
	}
	for _, p := range []string{"campaign_id", "channel", "variant_id"} {
		if v.Has(p) {
			return q, touchpoint.Errorf(touchpoint.EInvalid, "%s does not apply here; select variants with experiment", p)
		}
	}
	if err := s.parseRange(v, &q.Query, aggregate.Day); err != nil {
		return q, err
	}
	if q.GroupBy != groupByPrefix && q.GroupBy != groupByNone {
		return q, touchpoint.Errorf(touchpoint.EInvalid, "group_by must be %s or %s, got %q", groupByPrefix, groupByNone, q.GroupBy)
	}
	if s := v.Get("threshold"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f > 0 && f <= 1) {
			return q, touchpoint.Errorf(touchpoint.EInvalid, "threshold must be a number in (0, 1], got %q", s)
		}
		q.Policy.Threshold = f
	}
	if s := v.Get("loss_tolerance"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !(f >= 0 && f < 1) {
			return q, touchpoint.Errorf(touchpoint.EInvalid, "loss_tolerance must be a number in [0, 1), got %q", s)
		}
		q.Policy.LossTolerance = f
	}
	return q, nil
}

// variantReportRow is one variant of an experiment. ProbabilityBest and ExpectedLoss
// are null when the experiment could not be analysed (see experimentReport.Error).
type variantReportRow struct {
	store.VariantTotal
	CTR             *float64 `json:"ctr"`
	ConversionRate  *float64 `json:"conversion_rate"`
	MeanEngagement  *float64 `json:"mean_engagement_score"`
	ProbabilityBest *float64 `json:"probability_best"`
	ExpectedLoss    *float64 `json:"expected_loss"`
}

// variantRecommendation is the variant to show and the rule that decided it.
type variantRecommendation struct {
	VariantID       string                   `json:"variant_id"`
	Decision        personalization.Decision `json:"decision"`
	ProbabilityBest float64                  `json:"probability_best"`
	ExpectedLoss    float64                  `json:"expected_loss"`
	Threshold       float64                  `json:"threshold"`
	LossTolerance   float64                  `json:"loss_tolerance"`
}

// experimentReport is one experiment. Recommendation is null for an experiment of one
// variant (nothing to compare) and for one whose counts are inconsistent; Error says
// why in the second case.
type experimentReport struct {
	Experiment     string                 `json:"experiment"`
	Variants       []variantReportRow     `json:"variants"`
	Recommendation *variantRecommendation `json:"recommendation"`
	Error          string                 `json:"error,omitempty"`
}

type variantReportResponse struct {
	Tenant      string             `json:"tenant"`
	Level       aggregate.Level    `json:"level"`
	From        time.Time          `json:"from"`
	To          time.Time          `json:"to"`
	GroupBy     string             `json:"group_by"`
	Experiments []experimentReport `json:"experiments"`
	Freshness   freshness          `json:"freshness"`
}

func (s *Server) handlePersonalizationVariants(w http.ResponseWriter, r *http.Request) {
	if s.aggregates.DB == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "aggregates are not served by this instance"))
		return
	}
	q, err := s.parseVariantReport(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	totals, updated, err := s.aggregates.VariantTotals(r.Context(), q.Query)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, variantReportResponse{
		Tenant: q.Tenant, Level: q.Level, From: q.From, To: q.To, GroupBy: q.GroupBy,
		Experiments: experiments(totals, q.GroupBy, q.Experiment, q.Policy),
		Freshness:   newFreshness(updated, "postgres", s.opts.Now()),
	})
}

// experiments groups the totals (ordered by variant id) into experiments, keeps the
// one named only when only is set, and analyses each.
func experiments(totals []store.VariantTotal, groupBy, only string, p personalization.Policy) []experimentReport {
	byName := map[string][]store.VariantTotal{}
	for _, t := range totals {
		name := allVariants
		if groupBy == groupByPrefix {
			name = experimentOf(t.VariantID)
		}
		if only == "" || name == only {
			byName[name] = append(byName[name], t)
		}
	}
	out := make([]experimentReport, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, analyseExperiment(name, byName[name], p))
	}
	return out
}

// analyseExperiment computes the Beta-Binomial figures of one experiment: trials are
// views, successes conversions. A variant with more conversions than views (the stream
// takes each event's counts as reported and does not check them against each other)
// has no Binomial reading; rather than clamp it — which would credit it a 100%
// conversion rate and likely crown it — the experiment is reported with its counts,
// no probabilities and no recommendation, and Error naming the variant. Other
// experiments are unaffected.
func analyseExperiment(name string, vs []store.VariantTotal, p personalization.Policy) experimentReport {
	e := experimentReport{Experiment: name, Variants: make([]variantReportRow, len(vs))}
	stats := make([]personalization.VariantStats, len(vs))
	for i, v := range vs {
		e.Variants[i] = variantReportRow{VariantTotal: v, CTR: ratio(v.Clicks, v.Views),
			ConversionRate: ratio(v.Conversions, v.Views), MeanEngagement: ratio(v.EngagementMicros, v.EngagementCount*1e6)}
		stats[i] = personalization.VariantStats{ID: v.VariantID, Trials: v.Views, Successes: v.Conversions}
		if v.Conversions > v.Views && e.Error == "" {
			e.Error = "variant " + strconv.Quote(v.VariantID) + " has " + strconv.FormatInt(v.Conversions, 10) +
				" conversions but only " + strconv.FormatInt(v.Views, 10) + " views: conversions cannot exceed views, so the experiment is not analysed"
		}
	}
	if e.Error != "" {
		return e
	}
	rec, err := p.Recommend(stats)
	if err != nil { // the counts and policy were checked: not expected
		e.Error = err.Error()
		return e
	}
	for i := range e.Variants {
		pb, el := finite(rec.Analysis.ProbBest[i]), finite(rec.Analysis.ExpectedLoss[i])
		e.Variants[i].ProbabilityBest, e.Variants[i].ExpectedLoss = &pb, &el
	}
	if len(vs) > 1 {
		e.Recommendation = &variantRecommendation{VariantID: rec.VariantID, Decision: rec.Decision,
			ProbabilityBest: finite(rec.ProbBest), ExpectedLoss: finite(rec.ExpectedLoss),
			Threshold: p.Threshold, LossTolerance: p.LossTolerance}
	}
	return e
}

// finite keeps a NaN or infinity, which JSON cannot carry, out of a response.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
