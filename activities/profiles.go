package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint/clv"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/profiles"
	"github.com/touchpoint/touchpoint/segments"
	"github.com/touchpoint/touchpoint/store"
)

// Profiles trains the customer-profile models and refreshes the customers' scores and
// segment memberships.
type Profiles struct {
	Store store.ProfileScores
	// Publisher (EventPublisher, declared in campaign.go) receives the
	// segment_update events; nil drops them (memberships are
	// still kept), for instances without Kafka.
	Publisher EventPublisher
	// ChunkSize is the customers per refresh chunk (0: DefaultRefreshChunk).
	ChunkSize int
	// Fit fits the models on calibration summaries; nil: FitProfileModels. Tests
	// inject a worse fit to see it refused.
	Fit func([]clv.Customer) (ProfileParams, error)
}

// Defaults of training and refresh.
const (
	DefaultRefreshChunk     = 10_000
	DefaultCalibrationWeeks = 52
	DefaultHoldoutWeeks     = 13
	// LTVHorizonWeeks and LTVAnnualDiscount are the horizon and discount rate of the
	// lifetime value the profile shows.
	LTVHorizonWeeks   = 52
	LTVAnnualDiscount = 0.10
	// minTrainingBuyers is the fewest customers with a repeat purchase a fit needs:
	// below it the four BG/NBD parameters are noise.
	minTrainingBuyers = 5
)

// ProfileParams are a stored profile model's parameters. HasSpend is false when the
// Gamma-Gamma model could not be fitted (too few repeat buyers with a positive
// spend): the profiles then get no lifetime value.
type ProfileParams struct {
	BGNBD    clv.BGNBD      `json:"bgnbd"`
	Spend    clv.GammaGamma `json:"gamma_gamma"`
	HasSpend bool           `json:"has_spend"`
}

// FitProfileModels fits BG/NBD on every customer and Gamma-Gamma on the repeat buyers
// with a positive mean spend.
func FitProfileModels(customers []clv.Customer) (ProfileParams, error) {
	bg, err := clv.FitBGNBD(customers)
	if err != nil {
		return ProfileParams{}, err
	}
	var buyers []clv.Customer
	for _, c := range customers {
		if c.X > 0 && c.MeanSpend > 0 {
			buyers = append(buyers, c)
		}
	}
	p := ProfileParams{BGNBD: bg}
	if len(buyers) >= minTrainingBuyers {
		if gg, err := clv.FitGammaGamma(buyers); err == nil {
			p.Spend, p.HasSpend = gg, true
		}
	}
	return p, nil
}

// TrainProfileInput is one training of a tenant's profile models as of AsOf: fitted
// on the CalibrationWeeks before the last HoldoutWeeks and evaluated on those.
// TrainingID names the run, so that a retried save stores nothing twice.
type TrainProfileInput struct {
	Tenant                         string
	AsOf                           time.Time
	CalibrationWeeks, HoldoutWeeks int
	TrainingID                     string
}

// TrainProfileResult is what a training stored and whether it was promoted.
type TrainProfileResult struct {
	Version  int64                     `json:"version"`
	Metrics  store.ProfileModelMetrics `json:"metrics"`
	Promoted bool                      `json:"promoted"`
	// Previous is the version promoted before, 0 for none, and PreviousMAE its
	// error on the same holdout.
	Previous    int64   `json:"previous"`
	PreviousMAE float64 `json:"previous_mae"`
	// Skipped says why nothing was trained (too little data, a fit that failed).
	Skipped string `json:"skipped,omitempty"`
}

// TrainProfileModels fits BG/NBD + Gamma-Gamma on the calibration period, evaluates
// the fit on the holdout (predicted vs actual repeat purchases per customer), stores
// it as a new version and promotes it only if its holdout error is lower than the
// promoted version's on the same holdout, so the two are compared on equal data.
func (p *Profiles) TrainProfileModels(ctx context.Context, in TrainProfileInput) (TrainProfileResult, error) {
	in = in.withDefaults()
	end := in.AsOf.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	calEnd := end.AddDate(0, 0, -7*in.HoldoutWeeks)
	recs, err := p.Store.RFMSummaries(ctx, in.Tenant, calEnd.AddDate(0, 0, -7*in.CalibrationWeeks), calEnd, end)
	if err != nil {
		return TrainProfileResult{}, err
	}
	activity.RecordHeartbeat(ctx, nil)
	customers := make([]clv.Customer, len(recs))
	buyers := 0
	for i, r := range recs {
		customers[i] = clv.Customer{X: r.X, Tx: r.Tx, T: r.T, MeanSpend: r.MeanSpend}
		if r.X > 0 {
			buyers++
		}
	}
	if buyers < minTrainingBuyers {
		return TrainProfileResult{Skipped: fmt.Sprintf("%d repeat buyers in the calibration period, need %d", buyers, minTrainingBuyers)}, nil
	}
	params, err := p.fit(customers)
	if err != nil {
		return TrainProfileResult{Skipped: "fit: " + err.Error()}, nil
	}
	res := TrainProfileResult{Metrics: EvaluateHoldout(params.BGNBD, recs, float64(in.HoldoutWeeks))}
	res.Metrics.CalibrationLogLik = finite(params.BGNBD.LogLik)
	blob, err := json.Marshal(params)
	if err != nil {
		return res, fmt.Errorf("train profile models of %s: %w", in.Tenant, err)
	}
	if res.Version, err = p.Store.SaveModel(ctx, store.ProfileModel{Tenant: in.Tenant, TrainingID: in.TrainingID, Params: blob, Metrics: res.Metrics}); err != nil {
		return res, err
	}
	return p.promoteIfBetter(ctx, in.Tenant, recs, float64(in.HoldoutWeeks), res)
}

func (in TrainProfileInput) withDefaults() TrainProfileInput {
	if in.CalibrationWeeks <= 0 {
		in.CalibrationWeeks = DefaultCalibrationWeeks
	}
	if in.HoldoutWeeks <= 0 {
		in.HoldoutWeeks = DefaultHoldoutWeeks
	}
	return in
}

func (p *Profiles) fit(customers []clv.Customer) (ProfileParams, error) {
	if p.Fit != nil {
		return p.Fit(customers)
	}
	return FitProfileModels(customers)
}

// promoteIfBetter promotes res.Version when no version is promoted or the promoted
// one predicts the same holdout worse. Run again after it promoted, it finds the
// version itself promoted and reports it so.
func (p *Profiles) promoteIfBetter(ctx context.Context, tenant string, recs []store.RFM, holdout float64, res TrainProfileResult) (TrainProfileResult, error) {
	active, err := p.Store.ActiveModel(ctx, tenant)
	switch {
	case errors.Is(err, store.ErrNoProfileModel):
	case err != nil:
		return res, err
	case active.Version == res.Version:
		res.Promoted = true
		return res, nil
	default:
		var old ProfileParams
		if err := json.Unmarshal(active.Params, &old); err != nil {
			return res, fmt.Errorf("profile model %d of %s: %w", active.Version, tenant, err)
		}
		res.Previous, res.PreviousMAE = active.Version, EvaluateHoldout(old.BGNBD, recs, holdout).HoldoutMAE
		if !(res.Metrics.HoldoutMAE < res.PreviousMAE) {
			return res, nil
		}
	}
	if err := p.Store.PromoteModel(ctx, tenant, res.Version); err != nil {
		return res, err
	}
	res.Promoted = true
	return res, nil
}

// EvaluateHoldout compares, over the customers of the calibration, the repeat
// purchases BG/NBD expects in the holdout (FHL 2005 eq. 10) with the actual ones.
func EvaluateHoldout(m clv.BGNBD, recs []store.RFM, holdoutWeeks float64) store.ProfileModelMetrics {
	out := store.ProfileModelMetrics{Customers: len(recs), HoldoutWeeks: holdoutWeeks}
	absErr := 0.0
	for _, r := range recs {
		pred := m.ConditionalExpected(clv.Customer{X: r.X, Tx: r.Tx, T: r.T, MeanSpend: r.MeanSpend}, holdoutWeeks)
		absErr += math.Abs(pred - r.HoldoutX)
		out.HoldoutPredicted += pred
		out.HoldoutActual += r.HoldoutX
	}
	if len(recs) > 0 {
		out.HoldoutMAE = absErr / float64(len(recs))
	}
	if math.IsNaN(out.HoldoutMAE) || math.IsInf(out.HoldoutMAE, 0) {
		// A model that cannot predict (degenerate parameters) is the worst there
		// is, in a value JSON can store.
		out.HoldoutMAE = math.MaxFloat64
	}
	if out.HoldoutActual > 0 {
		out.HoldoutRelError = finite(math.Abs(out.HoldoutPredicted-out.HoldoutActual) / out.HoldoutActual)
	}
	out.HoldoutPredicted = finite(out.HoldoutPredicted)
	return out
}

// ProfileTenants returns the tenants a profile refresh has work for.
func (p *Profiles) ProfileTenants(ctx context.Context, since time.Time) ([]string, error) {
	return p.Store.ProfileTenants(ctx, since)
}

// PrepareProfileRefresh rebuilds the tenant's behaviour summaries as of asOf (one SQL
// aggregation) and returns how many customers a refresh will score.
func (p *Profiles) PrepareProfileRefresh(ctx context.Context, tenant string, asOf time.Time) (int64, error) {
	return p.Store.BuildSummaries(ctx, tenant, asOf)
}

// RefreshInput is a refresh of a tenant's scores and memberships as of AsOf, from
// the customer after After (empty: the first).
type RefreshInput struct {
	Tenant string
	AsOf   time.Time
	After  string
}

// RefreshProgress is a refresh's heartbeat details and result: it resumes after Last.
type RefreshProgress struct {
	Last         string `json:"last"`
	Customers    int    `json:"customers"`
	Entered      int    `json:"entered"`
	Exited       int    `json:"exited"`
	Chunks       int    `json:"chunks"`
	ModelVersion int64  `json:"model_version"`
}

// RefreshProfiles scores every summarised customer of the tenant, chunk by chunk in
// customer-id order, evaluates every segment against each one's previous
// memberships, publishes one segment_update event per entry and exit and then
// applies the changes. It heartbeats the last customer id after each chunk and a
// retry resumes after it. Events are published before the memberships change, with
// ids derived from (tenant, segment, customer, action, AsOf): a chunk retried after a
// publish but before its write publishes the same ids again, which the consumer
// deduplicates, so each change is counted exactly once.
func (p *Profiles) RefreshProfiles(ctx context.Context, in RefreshInput) (RefreshProgress, error) {
	var prog RefreshProgress
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &prog) == nil {
		in.After = prog.Last
	}
	return p.Refresh(ctx, in, prog, func(pr RefreshProgress) { activity.RecordHeartbeat(ctx, pr) })
}

// Refresh is RefreshProfiles without Temporal: it continues prog and reports each
// chunk's progress to beat.
func (p *Profiles) Refresh(ctx context.Context, in RefreshInput, prog RefreshProgress, beat func(RefreshProgress)) (RefreshProgress, error) {
	sc, err := p.newScorer(ctx, in.Tenant, in.AsOf)
	if err != nil {
		return prog, err
	}
	prog.ModelVersion, prog.Last = sc.version, in.After
	for {
		n, err := p.refreshChunk(ctx, sc, in.Tenant, &prog)
		if err != nil {
			return prog, err
		}
		if n == 0 {
			return prog, nil
		}
		beat(prog)
	}
}

// refreshChunk scores the chunk after prog.Last and advances prog; 0 customers means
// the refresh is done.
func (p *Profiles) refreshChunk(ctx context.Context, sc *scorer, tenant string, prog *RefreshProgress) (int, error) {
	size := p.ChunkSize
	if size <= 0 {
		size = DefaultRefreshChunk
	}
	sums, err := p.Store.Summaries(ctx, tenant, prog.Last, size)
	if err != nil || len(sums) == 0 {
		return 0, err
	}
	last := sums[len(sums)-1].CustomerID
	prev, err := p.Store.MembershipsIn(ctx, tenant, prog.Last, last)
	if err != nil {
		return 0, err
	}
	scores := make([]store.Scores, len(sums))
	var changes []store.MemberChange
	var evs []events.Event
	for i := range sums {
		s := &sums[i]
		scores[i] = sc.score(s)
		_, trans := sc.tracker.Evaluate(segments.Profile{Fields: sc.fields(s, scores[i])}, sc.asOf, prev[s.CustomerID])
		for _, t := range trans {
			changes = append(changes, store.MemberChange{SegmentID: t.SegmentID, CustomerID: s.CustomerID, Enter: t.Action == segments.Enter})
			evs = append(evs, SegmentEvent(tenant, s.CustomerID, t, sc.asOf))
		}
	}
	if err := p.publish(ctx, evs); err != nil {
		return 0, err
	}
	if err := p.Store.WriteScores(ctx, tenant, scores); err != nil {
		return 0, err
	}
	if err := p.Store.ApplyMembers(ctx, tenant, changes, sc.asOf); err != nil {
		return 0, err
	}
	for _, c := range changes {
		if c.Enter {
			prog.Entered++
		} else {
			prog.Exited++
		}
	}
	prog.Last, prog.Customers, prog.Chunks = last, prog.Customers+len(sums), prog.Chunks+1
	return len(sums), nil
}

func (p *Profiles) publish(ctx context.Context, evs []events.Event) error {
	if len(evs) == 0 || p.Publisher == nil {
		return nil
	}
	if err := p.Publisher.Publish(ctx, evs); err != nil {
		return fmt.Errorf("publish %d segment updates: %w", len(evs), err)
	}
	return nil
}

// SegmentEvent is the segment_update event of one transition; its id is derived
// from the transition and the refresh's time, so a retried chunk sends the same id.
func SegmentEvent(tenant, customerID string, t segments.Transition, asOf time.Time) events.Event {
	h := sha256.Sum256([]byte(tenant + "\x00" + t.SegmentID + "\x00" + customerID + "\x00" + string(t.Action) + "\x00" + asOf.UTC().Format(time.RFC3339Nano)))
	return events.Event{
		EventID: "seg-" + hex.EncodeToString(h[:16]), EventType: events.SegmentUpdate, TenantID: tenant, Timestamp: asOf.UTC(),
		CustomerID: customerID, PersonalizationEngine: events.EngineRuleBased,
		// Membership follows from the rule with certainty.
		TriggerContext: &events.TriggerContext{BehaviorPattern: "segment_rule", ConfidenceScore: 1},
		SegmentID:      t.SegmentID, SegmentAction: events.SegmentAction(t.Action),
	}
}

// scorer holds what a refresh scores every customer with: the promoted model (if
// any), the engagement model and the tenant's compiled segments.
type scorer struct {
	asOf       time.Time
	params     ProfileParams
	hasModel   bool
	version    int64
	engagement *profiles.EngagementModel
	tracker    *segments.Tracker
}

// engagementWeights are the default weights without depth: journey touchpoints carry
// no pages or time per session, and a component always 0 would cap every score at 80.
func engagementWeights() profiles.EngagementWeights {
	w := profiles.DefaultEngagementWeights()
	w.Depth = 0
	return w
}

func (p *Profiles) newScorer(ctx context.Context, tenant string, asOf time.Time) (*scorer, error) {
	sc := &scorer{asOf: asOf.UTC()}
	var err error
	if sc.engagement, err = profiles.NewEngagementModel(engagementWeights()); err != nil {
		return nil, err
	}
	m, err := p.Store.ActiveModel(ctx, tenant)
	switch {
	case errors.Is(err, store.ErrNoProfileModel):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(m.Params, &sc.params); err != nil {
			return nil, fmt.Errorf("profile model %d of %s: %w", m.Version, tenant, err)
		}
		sc.hasModel, sc.version = true, m.Version
	}
	if sc.tracker, err = p.loadTracker(ctx, tenant); err != nil {
		return nil, err
	}
	return sc, nil
}

// loadTracker compiles the tenant's segments. A stored rule that no longer compiles
// fails the refresh instead of being skipped: the tracker would take its members for
// a deleted segment's and emit an exit for every one of them.
func (p *Profiles) loadTracker(ctx context.Context, tenant string) (*segments.Tracker, error) {
	defs, err := p.Store.Segments(ctx, tenant)
	if err != nil {
		return nil, err
	}
	segs := make([]segments.Segment, 0, len(defs))
	for _, d := range defs {
		rule, err := segments.Compile(d.Rule, segments.ProfileSchema())
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("segment %s of %s: stored rule does not compile: %v", d.SegmentID, tenant, err), "InvalidSegment", err)
		}
		segs = append(segs, segments.Segment{ID: d.SegmentID, Rule: rule})
	}
	return segments.NewTracker(segs)
}

// score computes one customer's scores. A customer without a conversion has no
// purchase clock for BG/NBD to start from: only engagement is scored.
func (sc *scorer) score(s *store.ProfileSummary) store.Scores {
	out := store.Scores{CustomerID: s.CustomerID, ScoredAt: sc.asOf}
	eng := sc.engagement.Score(profiles.EngagementInput{LastInteraction: s.LastSeen, Interactions30d: s.Touchpoints30d,
		Interactions90d: s.Touchpoints90d, Channels: s.Channels, Conversions: s.Conversions}, sc.asOf)
	out.EngagementScore = &eng
	if !sc.hasModel || s.T <= 0 {
		return out
	}
	c := clv.Customer{X: s.X, Tx: s.Tx, T: s.T, MeanSpend: s.MeanSpend}
	bg := sc.params.BGNBD
	out.ModelVersion = sc.version
	out.PAlive = finitePtr(bg.PAlive(c))
	if out.PAlive != nil {
		out.ChurnProbability = finitePtr(1 - *out.PAlive)
	}
	out.ExpectedPurchases90d = finitePtr(bg.ConditionalExpected(c, 90.0/7))
	if sc.params.HasSpend {
		out.LTV = finitePtr(clv.CLV(c, LTVHorizonWeeks, LTVAnnualDiscount, bg, sc.params.Spend))
	}
	return out
}

func finitePtr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// fields is the profile as segment rules see it (segments.ProfileSchema's names).
func (sc *scorer) fields(s *store.ProfileSummary, scores store.Scores) map[string]any {
	f := map[string]any{
		"customer_id": s.CustomerID, "gdpr": s.GDPR, "ccpa": s.CCPA,
		"touchpoints_30d": float64(s.Touchpoints30d), "conversions": float64(s.Conversions), "revenue": s.Revenue,
		"last_seen": s.LastSeen, "source_timestamp": s.SourceTimestamp, "consent_timestamp": s.ConsentTimestamp, "updated_at": s.UpdatedAt,
	}
	if s.Traits != nil {
		f["traits"] = s.Traits
	}
	if s.RampID != "" {
		f["ramp_id"] = s.RampID
	}
	if s.Sources != nil {
		f["sources"] = s.Sources
	}
	for name, v := range map[string]*float64{"ltv": scores.LTV, "churn_probability": scores.ChurnProbability, "p_alive": scores.PAlive,
		"expected_purchases_90d": scores.ExpectedPurchases90d, "engagement_score": scores.EngagementScore} {
		if v != nil {
			f[name] = *v
		}
	}
	return f
}
