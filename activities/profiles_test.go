package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/testsuite"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/clv"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/segments"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// recorder is a publisher that keeps what it was sent.
type recorder struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recorder) Publish(_ context.Context, evs []events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, evs...)
	return nil
}

// take returns the events published since the last take as "customer segment action".
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.evs))
	for i, e := range r.evs {
		out[i] = e.CustomerID + " " + e.SegmentID + " " + string(e.SegmentAction)
	}
	r.evs = nil
	sort.Strings(out)
	return out
}

// journeyRows writes journey rows the way the consumer does, all in today's ingestion
// partition whatever their event time (as a late or replayed batch would be).
type journeyRows struct {
	t      *testing.T
	pool   *pgxpool.Pool
	tenant string
	offset int64
}

func newJourneyRows(t *testing.T, pool *pgxpool.Pool, tenant string) *journeyRows {
	t.Helper()
	if err := (store.Archive{DB: pool}).EnsurePartitions(context.Background(), time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	return &journeyRows{t: t, pool: pool, tenant: tenant}
}

func (j *journeyRows) exec(sql string, args ...any) {
	j.t.Helper()
	if _, err := j.pool.Exec(context.Background(), sql, args...); err != nil {
		j.t.Fatal(err)
	}
}

func (j *journeyRows) ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-ev-%d-%d", j.tenant, j.offset, i)
	}
	return out
}

// touchpoints writes one touchpoint per time for the customer, on channel.
func (j *journeyRows) touchpoints(customer, channel string, at ...time.Time) {
	j.t.Helper()
	j.offset++
	who := slices.Repeat([]string{customer}, len(at))
	lo, hi := minMax(at)
	j.exec(`INSERT INTO journey_touchpoints (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
		customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, interaction_types, campaign_ids,
		min_occurred_at, max_occurred_at)
		VALUES ($1, $2, 't', 0, $3, $4, $5, $6, $6, $6, $6, $6, $7, $6, $6, $8, $9)`,
		j.tenant, time.Now().UTC().Truncate(24*time.Hour), j.offset, j.ids(len(at)), at, who, slices.Repeat([]string{channel}, len(at)), lo, hi)
}

// conversions writes one conversion of value (currency units) per time.
func (j *journeyRows) conversions(customer string, value float64, at ...time.Time) {
	j.t.Helper()
	j.offset++
	who := slices.Repeat([]string{customer}, len(at))
	lo, hi := minMax(at)
	j.exec(`INSERT INTO journey_conversions (tenant_id, day, topic, partition, first_offset, event_ids, occurred_at,
		customer_ids, journey_ids, device_ids, anonymous_ids, user_ids, channels, value_micros, currencies,
		attribution_weights, min_occurred_at, max_occurred_at)
		VALUES ($1, $2, 't', 0, $3, $4, $5, $6, $6, $6, $6, $6, $6, $7, $6, $8, $9, $10)`,
		j.tenant, time.Now().UTC().Truncate(24*time.Hour), j.offset, j.ids(len(at)), at, who,
		slices.Repeat([]int64{int64(value * 1e6)}, len(at)), slices.Repeat([]float64{1}, len(at)), lo, hi)
}

func minMax(ts []time.Time) (time.Time, time.Time) {
	return slices.MinFunc(ts, func(a, b time.Time) int { return a.Compare(b) }), slices.MaxFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
}

// refresh runs the tenant's refresh as the workflow does: summaries, then the
// chunked activity in Temporal's activity environment.
func refresh(t *testing.T, p *activities.Profiles, tenant string, asOf time.Time) activities.RefreshProgress {
	t.Helper()
	if _, err := p.PrepareProfileRefresh(context.Background(), tenant, asOf); err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(p)
	v, err := env.ExecuteActivity(p.RefreshProfiles, activities.RefreshInput{Tenant: tenant, AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	var prog activities.RefreshProgress
	if err := v.Get(&prog); err != nil {
		t.Fatal(err)
	}
	return prog
}

// TestRefreshEmitsOneEventPerMembershipChange: two segments, profiles crossing their
// thresholds between refreshes. Each change emits exactly one enter or exit event;
// a refresh with nothing changed emits none; the events are valid and their ids
// deterministic, so a retried chunk's copies are deduplicated by the consumer.
func TestRefreshEmitsOneEventPerMembershipChange(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	const tenant = "acme"
	j := newJourneyRows(t, pool, tenant)
	ps := store.ProfileScores{DB: pool}
	pub := &recorder{}
	p := &activities.Profiles{Store: ps, Publisher: pub, ChunkSize: 2}
	for _, d := range []store.SegmentDef{
		{SegmentID: "engaged", Name: "Engaged", Rule: "touchpoints_30d >= 3"},
		{SegmentID: "buyers", Name: "Buyers", Rule: "conversions >= 2"},
	} {
		if _, _, err := ps.SaveSegment(ctx, tenant, d); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-20 * day)
	j.touchpoints("c1", "email", t0.Add(-25*day), t0.Add(-25*day+time.Hour), t0.Add(-24*day)) // engaged now, not in 10 days
	j.touchpoints("c2", "search", t0.Add(-day))                                               // not engaged yet
	j.conversions("c3", 20, t0.Add(-50*day))                                                  // one conversion: not a buyer yet
	j.conversions("c4", 30, t0.Add(-40*day), t0.Add(-10*day))                                 // a buyer throughout
	j.touchpoints("c5", "social", t0.Add(-2*day))                                             // in no segment, ever

	first := refresh(t, p, tenant, t0)
	want := []string{"c1 engaged enter", "c4 buyers enter"}
	evs := pub.evs
	if got := pub.take(); !slices.Equal(got, want) {
		t.Fatalf("first refresh: %v, want %v", got, want)
	}
	if first.Customers != 5 || first.Entered != 2 || first.Exited != 0 || first.Chunks != 3 {
		t.Errorf("first refresh progress %+v", first)
	}
	for _, e := range evs {
		if err := events.DefaultRules().Validate(&e, time.Now()); err != nil {
			t.Errorf("invalid segment event %+v: %v", e, err)
		}
	}
	if again := activities.SegmentEvent(tenant, "c1", segmentsEnter("engaged"), t0); again.EventID != evs[slices.IndexFunc(evs, func(e events.Event) bool { return e.CustomerID == "c1" })].EventID {
		t.Errorf("event id is not deterministic: %s", again.EventID)
	}

	refresh(t, p, tenant, t0.Add(time.Minute))
	if got := pub.take(); len(got) != 0 {
		t.Errorf("unchanged refresh emitted %v", got)
	}

	j.touchpoints("c2", "email", t0.Add(5*day), t0.Add(5*day+time.Hour), t0.Add(6*day))
	j.conversions("c3", 25, t0.Add(5*day))
	second := refresh(t, p, tenant, t0.Add(10*day))
	want = []string{"c1 engaged exit", "c2 engaged enter", "c3 buyers enter"}
	if got := pub.take(); !slices.Equal(got, want) {
		t.Errorf("second refresh: %v, want %v", got, want)
	}
	if second.Entered != 2 || second.Exited != 1 {
		t.Errorf("second refresh progress %+v", second)
	}
	refresh(t, p, tenant, t0.Add(10*day+time.Minute))
	if got := pub.take(); len(got) != 0 {
		t.Errorf("unchanged second refresh emitted %v", got)
	}

	members, err := ps.Members(ctx, tenant, "engaged", "", 10)
	if err != nil || len(members) != 1 || members[0].CustomerID != "c2" {
		t.Errorf("engaged members %+v, %v", members, err)
	}
	sc, err := ps.ScoresOf(ctx, tenant, "c2")
	if err != nil || sc.EngagementScore == nil || *sc.EngagementScore <= 0 || sc.LTV != nil {
		t.Errorf("c2 scores without a model: %+v, %v", sc, err)
	}

	// A deleted segment's members exit once.
	if err := ps.DeleteSegment(ctx, tenant, "buyers"); err != nil {
		t.Fatal(err)
	}
	refresh(t, p, tenant, t0.Add(10*day+2*time.Minute))
	if got, want := pub.take(), []string{"c3 buyers exit", "c4 buyers exit"}; !slices.Equal(got, want) {
		t.Errorf("after deleting a segment: %v, want %v", got, want)
	}
}

func segmentsEnter(id string) segments.Transition {
	return segments.Transition{SegmentID: id, Action: segments.Enter}
}

// synthTransactions simulates n customers of the BG/NBD story (FHL 2005: Poisson
// purchases at a rate λ ~ Gamma(0.5, 2) per week, dropping out after each purchase
// with p ~ Beta(0.7, 3)) over weeks, first purchases in the first quarter, and
// writes them as conversions.
func synthTransactions(t *testing.T, j *journeyRows, n int, start time.Time, weeks float64, seed uint64) {
	t.Helper()
	src := rand.NewPCG(seed, seed+1)
	rng := rand.New(src)
	lambda := distuv.Gamma{Alpha: 0.5, Beta: 2, Src: src}
	drop := distuv.Beta{Alpha: 0.7, Beta: 3, Src: src}
	week := 7 * 24 * float64(time.Hour)
	for c := range n {
		l, p := lambda.Rand(), drop.Rand()
		tw := rng.Float64() * weeks / 4
		at := []time.Time{start.Add(time.Duration(tw * week))}
		for rng.Float64() >= p {
			if tw += rng.ExpFloat64() / l; tw >= weeks {
				break
			}
			at = append(at, start.Add(time.Duration(tw*week)))
		}
		j.conversions(fmt.Sprintf("cust-%04d", c), 10+40*rng.Float64(), at...)
	}
}

// TestTrainProfileModelsPromotesOnlyBetter: the first training is promoted; a retry
// stores nothing new; a worse fit is stored but refused; a fit better than a poor
// promoted one replaces it. Then a refresh scores with the promoted model.
func TestTrainProfileModelsPromotesOnlyBetter(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	const tenant = "acme"
	j := newJourneyRows(t, pool, tenant)
	asOf := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	synthTransactions(t, j, 600, asOf.AddDate(0, 0, -7*40), 40, 1)
	ps := store.ProfileScores{DB: pool}
	p := &activities.Profiles{Store: ps}
	var ts testsuite.WorkflowTestSuite
	train := func(p *activities.Profiles, id string) activities.TrainProfileResult {
		t.Helper()
		env := ts.NewTestActivityEnvironment()
		env.RegisterActivity(p)
		v, err := env.ExecuteActivity(p.TrainProfileModels, activities.TrainProfileInput{Tenant: tenant, AsOf: asOf, CalibrationWeeks: 30, HoldoutWeeks: 10, TrainingID: id})
		if err != nil {
			t.Fatal(err)
		}
		var res activities.TrainProfileResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := train(p, "run-1")
	if !first.Promoted || first.Version == 0 || first.Skipped != "" || first.Metrics.HoldoutMAE <= 0 || first.Metrics.Customers == 0 ||
		first.Metrics.HoldoutActual <= 0 || first.Metrics.HoldoutRelError > 0.5 {
		t.Fatalf("first training: %+v", first)
	}
	if again := train(p, "run-1"); again.Version != first.Version || !again.Promoted {
		t.Errorf("retried training: %+v, want version %d promoted", again, first.Version)
	}
	// A fit that expects almost nothing predicts the holdout worse.
	poor := activities.ProfileParams{BGNBD: clv.BGNBD{R: 0.01, Alpha: 100, A: 2, B: 100}}
	worse := train(&activities.Profiles{Store: ps, Fit: func([]clv.Customer) (activities.ProfileParams, error) { return poor, nil }}, "run-2")
	if worse.Promoted || worse.Previous != first.Version || !(worse.Metrics.HoldoutMAE > worse.PreviousMAE) {
		t.Errorf("worse training: %+v", worse)
	}
	// Degenerate parameters (a = 1) predict nothing finite: refused as the worst fit.
	broken := activities.ProfileParams{BGNBD: clv.BGNBD{R: 0.5, Alpha: 2, A: 1, B: 3}}
	if res := train(&activities.Profiles{Store: ps, Fit: func([]clv.Customer) (activities.ProfileParams, error) { return broken, nil }}, "run-2b"); res.Promoted {
		t.Errorf("degenerate training promoted: %+v", res)
	}
	if active, err := ps.ActiveModel(ctx, tenant); err != nil || active.Version != first.Version {
		t.Errorf("active after a worse fit: %+v, %v", active, err)
	}
	// Over a poor promoted model, the real fit wins.
	blob, _ := json.Marshal(poor)
	v, err := ps.SaveModel(ctx, store.ProfileModel{Tenant: tenant, TrainingID: "manual-poor", Params: blob})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.PromoteModel(ctx, tenant, v); err != nil {
		t.Fatal(err)
	}
	better := train(p, "run-3")
	if !better.Promoted || better.Previous != v || !(better.Metrics.HoldoutMAE < better.PreviousMAE) {
		t.Errorf("better training: %+v", better)
	}
	prog := refresh(t, p, tenant, asOf)
	if prog.ModelVersion != better.Version || prog.Customers != 600 {
		t.Errorf("refresh with the promoted model: %+v", prog)
	}
	sc, err := ps.ScoresOf(ctx, tenant, "cust-0001")
	if err != nil || sc.ModelVersion != better.Version || sc.PAlive == nil || sc.ChurnProbability == nil ||
		math.Abs(*sc.PAlive+*sc.ChurnProbability-1) > 1e-9 || sc.ExpectedPurchases90d == nil || sc.LTV == nil || *sc.LTV < 0 {
		t.Errorf("scores: %+v, %v", sc, err)
	}
}

// TestRefreshResumesAfterHeartbeat: a retried refresh resumes after the last customer
// its heartbeat recorded instead of starting over.
func TestRefreshResumesAfterHeartbeat(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	j := newJourneyRows(t, pool, "acme")
	now := time.Now().UTC().Truncate(time.Hour)
	for _, c := range []string{"c1", "c2", "c3", "c4", "c5"} {
		j.touchpoints(c, "email", now.Add(-time.Hour))
	}
	p := &activities.Profiles{Store: store.ProfileScores{DB: pool}, ChunkSize: 2}
	if _, err := p.PrepareProfileRefresh(ctx, "acme", now); err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(p)
	env.SetHeartbeatDetails(activities.RefreshProgress{Last: "c3", Customers: 3, Chunks: 2})
	v, err := env.ExecuteActivity(p.RefreshProfiles, activities.RefreshInput{Tenant: "acme", AsOf: now})
	if err != nil {
		t.Fatal(err)
	}
	var prog activities.RefreshProgress
	if err := v.Get(&prog); err != nil {
		t.Fatal(err)
	}
	if prog.Customers != 5 || prog.Chunks != 3 || prog.Last != "c5" {
		t.Errorf("resumed refresh %+v, want 2 more customers in one chunk", prog)
	}
	for _, c := range []string{"c1", "c2"} {
		if _, err := p.Store.ScoresOf(ctx, "acme", c); err == nil {
			t.Errorf("%s was scored again after the heartbeat", c)
		}
	}
	if sc, err := p.Store.ScoresOf(ctx, "acme", "c4"); err != nil || sc.EngagementScore == nil {
		t.Errorf("c4 not scored: %+v, %v", sc, err)
	}
}
