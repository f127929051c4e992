package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/workflows"
)

const day = 24 * time.Hour

// campaignConfig is a 30-day campaign evaluated daily over three creatives.
func campaignConfig() campaign.Config {
	return campaign.Config{CampaignID: "cmp-1", Name: "Spring", Channel: events.ChannelSearch, TargetAudience: "returning_30d",
		Budget: 10000, Duration: "P30D", EvaluationInterval: "P1D", CreativeIDs: []string{"cr-a", "cr-b", "cr-c"},
		TargetCPA: 20, CTRFloor: 0.01, ROASFloor: 2, MinImpressions: 1000}
}

// delivery is one day of the campaign as the platform reports it.
type delivery struct {
	m         events.CampaignMetrics
	creatives [3]campaign.CreativeStats
}

// dayOf is day n's (1-based) delivery: on a normal day CPA 18, CTR 2% and ROAS 3 are
// all within targets; day 3 costs too much (CPA 30, ROAS 1.8), day 6 has a CTR of 0.5%
// and day 14 converts cheaply (CPA 8). cr-a converts twice as well as cr-b; cr-c
// has the lowest CTR.
func dayOf(n int, dailyCost float64) delivery {
	d := delivery{m: events.CampaignMetrics{Impressions: 10000, Clicks: 200, Conversions: 10, Cost: dailyCost, Revenue: 540}}
	switch n {
	case 3:
		d.m.Cost = 300
	case 6:
		d.m.Clicks = 50
	case 14:
		d.m.Cost = 80
	}
	d.creatives = [3]campaign.CreativeStats{
		{ID: "cr-a", Impressions: 4000, Clicks: 100, Conversions: 6},
		{ID: "cr-b", Impressions: 4000, Clicks: 80, Conversions: 3},
		{ID: "cr-c", Impressions: 2000, Clicks: 20, Conversions: 1},
	}
	return d
}

// performanceAfter sums the days delivered by elapsed.
func performanceAfter(elapsed time.Duration, dailyCost float64) campaign.Performance {
	p := campaign.Performance{Source: campaign.SourcePlatform, Creatives: []campaign.CreativeStats{{ID: "cr-a"}, {ID: "cr-b"}, {ID: "cr-c"}}}
	for n := 1; n <= int(elapsed/day); n++ {
		d := dayOf(n, dailyCost)
		t := &p.Totals
		t.Impressions, t.Clicks, t.Conversions = t.Impressions+d.m.Impressions, t.Clicks+d.m.Clicks, t.Conversions+d.m.Conversions
		t.Cost, t.Revenue = t.Cost+d.m.Cost, t.Revenue+d.m.Revenue
		for i, c := range d.creatives {
			s := &p.Creatives[i]
			s.Impressions, s.Clicks, s.Conversions = s.Impressions+c.Impressions, s.Clicks+c.Clicks, s.Conversions+c.Conversions
		}
	}
	return p
}

// campaignRecorder mocks a campaign's activities: performance by elapsed days, and
// every emitted event validated, named as EmitEvent names it, and recorded.
type campaignRecorder struct {
	mu        sync.Mutex
	events    []events.Event
	decisions []campaign.Decision
	saved     []campaign.State
	emitFails int // the first emits fail, as a Kafka outage would
}

func campaignEnv(t *testing.T, dailyCost float64, rec *campaignRecorder) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.CampaignLifecycle)
	a := &activities.Campaigns{}
	env.OnActivity(a.ReadPerformance, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PerformanceInput) (campaign.Performance, error) {
			return performanceAfter(env.Now().Sub(in.Since), dailyCost), nil
		})
	env.OnActivity(a.ApplyDecision, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DecisionInput) (activities.Applied, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.decisions = append(rec.decisions, in.Decision)
			return activities.Applied{Platform: "none"}, nil
		})
	env.OnActivity(a.SaveState, mock.Anything, mock.Anything).Return(
		func(_ context.Context, st campaign.State) error {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.saved = append(rec.saved, st)
			return nil
		})
	env.OnActivity(a.EmitEvent, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.EmitInput) (string, error) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.emitFails > 0 {
				rec.emitFails--
				return "", errors.New("kafka: not enough replicas")
			}
			e := in.Event
			e.EventID = activities.CampaignEventID("campaign/acme/cmp-1", in.Seq)
			e.Timestamp = time.Now().UTC()
			e.Normalize()
			if err := events.DefaultRules().Validate(&e, time.Now()); err != nil {
				t.Errorf("emitted an invalid %s: %v", e.EventType, err)
			}
			rec.events = append(rec.events, e)
			return e.EventID, nil
		})
	return env
}

// summary is an event in one line: type, trigger and changes.
func summary(e events.Event) string {
	s := string(e.EventType)
	if e.OptimizationTrigger != "" {
		s += " " + string(e.OptimizationTrigger)
	}
	if c := e.ChangesMade; c != nil {
		if c.BidAdjustment != nil {
			s += fmt.Sprintf(" bid=%+.2f", *c.BidAdjustment)
		}
		if c.AudienceTargeting != "" {
			s += " audience=" + c.AudienceTargeting
		}
		if len(c.CreativeRotation) > 0 {
			s += " rotation=" + strings.Join(c.CreativeRotation, ",")
		}
		if len(c.BudgetAllocation) > 0 {
			keys := make([]string, 0, len(c.BudgetAllocation))
			for k := range c.BudgetAllocation {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s:%.2f", k, c.BudgetAllocation[k]))
			}
			s += " allocation=" + strings.Join(parts, ",")
		}
	}
	if e.TerminationReason != "" {
		s += " reason=" + e.TerminationReason
	}
	return s
}

func signalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, name string, arg any) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, at)
}

// TestCampaignThirtyDays: a 30-day campaign evaluated daily, with a day of high CPA and
// low ROAS, a day of low CTR and a day of cheap conversions, budget reallocated by
// Thompson sampling, a manual optimization on day 10, a pause over days 16-17 and a
// termination on day 20. The emitted events are exactly the expected ones, their
// metrics add up to the final totals, and the event ids are unique.
func TestCampaignThirtyDays(t *testing.T) {
	rec := &campaignRecorder{emitFails: 2}
	env := campaignEnv(t, 180, rec)
	signalAt(env, 9*day+12*time.Hour, workflows.CampaignOptimizeSignal,
		workflows.OptimizeSignal{Reason: "holiday push", Changes: events.Changes{AudienceTargeting: "lookalike_2pct"}})
	signalAt(env, 15*day+12*time.Hour, workflows.CampaignPauseSignal, nil)
	var paused campaign.State
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.CampaignStateQuery)
		if err == nil {
			err = v.Get(&paused)
		}
		if err != nil {
			t.Errorf("query: %v", err)
		}
	}, 16*day+12*time.Hour)
	signalAt(env, 17*day+12*time.Hour, workflows.CampaignResumeSignal, nil)
	signalAt(env, 20*day+12*time.Hour, workflows.CampaignTermSignal, workflows.TerminateSignal{Reason: "client request"})
	env.ExecuteWorkflow(workflows.CampaignLifecycle, workflows.CampaignInput{Tenant: "acme", Config: campaignConfig()})

	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var st campaign.State
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rec.events {
		got = append(got, summary(e))
	}
	want := wantThirtyDays
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if paused.Status != campaign.Paused || paused.Skipped != 1 {
		t.Errorf("mid-pause: status %s, skipped %d; want paused, 1", paused.Status, paused.Skipped)
	}
	if st.Evaluations != 18 || st.Skipped != 2 || st.EndReason != "terminated: client request" {
		t.Errorf("%d evaluations, %d skipped, ended %q; want 18, 2, terminated", st.Evaluations, st.Skipped, st.EndReason)
	}
	checkFinal(t, st, rec, 20, 180)
}

// TestCampaignEndsWhenBudgetIsSpent: with a budget of 1,000 the campaign ends at the
// evaluation that finds 1,020 spent (day 5), without applying that day's decisions.
func TestCampaignEndsWhenBudgetIsSpent(t *testing.T) {
	rec := &campaignRecorder{}
	env := campaignEnv(t, 180, rec)
	cfg := campaignConfig()
	cfg.Budget = 1000
	start := env.Now()
	env.ExecuteWorkflow(workflows.CampaignLifecycle, workflows.CampaignInput{Tenant: "acme", Config: cfg})
	var st campaign.State
	if err := env.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	last := rec.events[len(rec.events)-1]
	if st.EndReason != campaign.EndBudget || last.EventType != events.CampaignTermination || last.TerminationReason != campaign.EndBudget {
		t.Errorf("ended %q with %s %q", st.EndReason, last.EventType, last.TerminationReason)
	}
	if got := st.EndedAt.Sub(start); got != 5*day || st.Spend != 1020 {
		t.Errorf("ended after %s having spent %.2f; want 5 days, 1020", got, st.Spend)
	}
	checkFinal(t, st, rec, 5, 180)
}

// TestCampaignContinuesAsNew: a run continues as new after ContinueAfter wake-ups,
// carrying its state; the next run goes on from it (same decision and event
// numbering, no event id twice) to the end of the 30 days.
func TestCampaignContinuesAsNew(t *testing.T) {
	rec := &campaignRecorder{}
	env := campaignEnv(t, 150, rec)
	in := workflows.CampaignInput{Tenant: "acme", Config: campaignConfig(), ContinueAfter: 4}
	env.ExecuteWorkflow(workflows.CampaignLifecycle, in)
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want ContinueAsNew after 4 wake-ups, got %v", err)
	}
	var next workflows.CampaignInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	carried := *next.State
	if carried.Runs != 1 || carried.Evaluations != 4 || carried.DecisionCount == 0 || next.ContinueAfter != 4 {
		t.Fatalf("carried state: runs %d, evaluations %d, decisions %d", carried.Runs, carried.Evaluations, carried.DecisionCount)
	}

	next.ContinueAfter = 100
	env2 := campaignEnv(t, 150, rec)
	env2.SetStartTime(carried.LaunchedAt.Add(4 * day))
	env2.ExecuteWorkflow(workflows.CampaignLifecycle, next)
	var st campaign.State
	if err := env2.GetWorkflowResult(&st); err != nil {
		t.Fatal(err)
	}
	if st.Runs != 1 || st.Evaluations != 29 || st.EndReason != campaign.EndDuration || st.LaunchedAt != carried.LaunchedAt {
		t.Errorf("runs %d, evaluations %d, ended %q, launched %s", st.Runs, st.Evaluations, st.EndReason, st.LaunchedAt)
	}
	if len(rec.decisions) <= carried.DecisionCount || rec.decisions[carried.DecisionCount].Seq != carried.DecisionCount+1 {
		t.Errorf("decision numbering restarted: %+v", rec.decisions[carried.DecisionCount])
	}
	checkFinal(t, st, rec, 30, 150)
}

// wantThirtyDays is the expected event sequence of TestCampaignThirtyDays. The
// allocations are the seeded Thompson draws' (campaign.Seeded), stable from run to run.
var wantThirtyDays = []string{
	"campaign_launch",
	// Day 1: 10,000 impressions of evidence; cr-a leads.
	"campaign_optimization budget_reallocation allocation=cr-a:0.69,cr-b:0.13,cr-c:0.17",
	"campaign_optimization budget_reallocation allocation=cr-a:0.85,cr-b:0.07,cr-c:0.07",
	// Day 3: CPA 30 against 20 (bids × 20/30) and ROAS 1.8 under 2 (audience narrowed).
	"campaign_optimization performance_threshold bid=-0.33 audience=returning_30d/high_intent",
	"campaign_optimization budget_reallocation allocation=cr-a:0.92,cr-b:0.04,cr-c:0.03",
	"campaign_optimization budget_reallocation allocation=cr-a:0.98,cr-b:0.01,cr-c:0.01",
	// Day 6: CTR 0.5% under the 1% floor: cr-c, the lowest CTR, leaves the rotation.
	// From here cr-a holds ~99% and the draws move no share by 5 points.
	"campaign_optimization performance_threshold rotation=cr-a,cr-b",
	// Day 9.5: the manual signal.
	"campaign_optimization manual_trigger audience=lookalike_2pct",
	// Day 14: CPA 8, under half the target: bids up 10%.
	"campaign_optimization performance_threshold bid=+0.10",
	// Days 16 and 17 paused; day 20.5 terminated.
	"campaign_termination reason=terminated: client request",
}

// checkFinal checks the ended state: the final metrics are the days delivered, the events' increments add up to them, the
// event ids are unique and every decision was applied.
func checkFinal(t *testing.T, st campaign.State, rec *campaignRecorder, days int, dailyCost float64) {
	t.Helper()
	final := performanceAfter(time.Duration(days)*day, dailyCost).Totals
	if st.Status != campaign.Ended || st.Metrics != final {
		t.Errorf("final: status %s, metrics %+v; want ended, %+v", st.Status, st.Metrics, final)
	}
	var sum events.CampaignMetrics
	ids := map[string]bool{}
	for _, e := range rec.events {
		if ids[e.EventID] {
			t.Errorf("duplicate event id %s", e.EventID)
		}
		ids[e.EventID] = true
		if m := e.PerformanceMetrics; m != nil {
			sum.Impressions, sum.Clicks, sum.Conversions = sum.Impressions+m.Impressions, sum.Clicks+m.Clicks, sum.Conversions+m.Conversions
			sum.Cost, sum.Revenue = sum.Cost+m.Cost, sum.Revenue+m.Revenue
		}
	}
	if sum != final {
		t.Errorf("events carried %+v in total, want the final %+v", sum, final)
	}
	if len(rec.decisions) != st.DecisionCount || st.DecisionCount != len(rec.events)-2 {
		t.Errorf("%d decisions applied, %d counted, %d events", len(rec.decisions), st.DecisionCount, len(rec.events))
	}
	if last := rec.saved[len(rec.saved)-1]; last.Status != campaign.Ended || last.EndReason != st.EndReason {
		t.Errorf("last saved state: %s %q", last.Status, last.EndReason)
	}
}
