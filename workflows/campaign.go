package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/events"
)

// The campaign workflow's query, signals and search-attribute kind.
const (
	CampaignStateQuery     = "state"
	CampaignPauseSignal    = "pause"
	CampaignResumeSignal   = "resume"
	CampaignTermSignal     = "terminate"
	CampaignOptimizeSignal = "optimize"
	CampaignKind           = "campaign"
)

// DefaultCampaignContinueAfter is how many wake-ups (evaluations, skipped evaluations
// and signals) one run of a CampaignLifecycle takes before it continues as new: about
// 25 history events each, so a run stays near 2,500 events whatever the campaign's
// length.
const DefaultCampaignContinueAfter = 100

// CampaignInput starts a CampaignLifecycle; State is set when it continues as new.
type CampaignInput struct {
	Tenant string
	Config campaign.Config
	State  *campaign.State `json:",omitempty"`
	// ContinueAfter overrides DefaultCampaignContinueAfter (tests).
	ContinueAfter int `json:",omitempty"`
}

// TerminateSignal ends a campaign early.
type TerminateSignal struct {
	Reason string `json:"reason,omitempty"`
}

// OptimizeSignal is a manual optimization: the changes to apply and why.
type OptimizeSignal struct {
	Reason  string         `json:"reason"`
	Changes events.Changes `json:"changes"`
}

// CampaignWorkflowID is the id of a campaign's lifecycle: one per campaign.
func CampaignWorkflowID(tenant, campaignID string) string {
	return "campaign/" + tenant + "/" + campaignID
}

// CampaignStartOptions start a CampaignLifecycle that fails with
// serviceerror.WorkflowExecutionAlreadyStarted while one runs for the campaign.
func CampaignStartOptions(tenant, campaignID string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       CampaignWorkflowID(tenant, campaignID),
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK returns the running workflow as if it had started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    temporal.NewSearchAttributes(TenantAttribute.ValueSet(tenant), KindAttribute.ValueSet(CampaignKind)),
	}
}

// campaignActivityOptions retry transient failures without limit: every activity is
// idempotent (events by id, decisions by seq, state by overwrite) and a campaign must
// not stop over a Kafka or Postgres outage. An event the rules refuse does stop it.
func campaignActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidCampaignEvent}},
	})
}

// CampaignLifecycle runs one campaign: it emits campaign_launch, then on every
// evaluation interval reads the campaign's performance and applies what
// campaign.Evaluate decides (each decision recorded and applied by an activity, and
// emitted as campaign_optimization), takes pause, resume, optimize and terminate
// signals, and ends on its duration, its budget or a terminate signal with
// campaign_termination. Every wait is a durable timer, so it survives worker
// restarts; it continues as new every ContinueAfter wake-ups to keep its history small.
func CampaignLifecycle(ctx workflow.Context, in CampaignInput) (campaign.State, error) {
	r := &campaignRun{ctx: ctx, actx: campaignActivityOptions(ctx), in: in}
	if in.State != nil {
		r.st = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, CampaignStateQuery, func() (campaign.State, error) { return r.st, nil }); err != nil {
		return r.st, err
	}
	if in.State == nil {
		if err := r.launch(); err != nil {
			return r.st, err
		}
	}
	return r.loop()
}

// campaignRun is one run (between ContinueAsNews) of a CampaignLifecycle.
type campaignRun struct {
	ctx, actx workflow.Context
	in        CampaignInput
	st        campaign.State
	wakeups   int
	timer     workflow.Future // pending until the next evaluation or the end
}

func (r *campaignRun) now() time.Time { return workflow.Now(r.ctx).UTC() }

func (r *campaignRun) launch() error {
	r.st = campaign.NewState(r.in.Tenant, r.in.Config, r.now())
	if err := r.emit(r.in.Config.LaunchEvent(r.in.Tenant, "", r.now())); err != nil {
		return err
	}
	return r.save()
}

// loop waits for the next evaluation, the end or a signal until the campaign ends or
// the run continues as new.
func (r *campaignRun) loop() (campaign.State, error) {
	sig := r.signals()
	for r.st.Status != campaign.Ended {
		if r.wakeups >= r.continueAfter() || workflow.GetInfo(r.ctx).GetContinueAsNewSuggested() {
			if err := sig.drain(r); err != nil {
				return r.st, err
			}
			if r.st.Status == campaign.Ended {
				break
			}
			next := r.in
			st := r.st
			st.Runs++
			next.State = &st
			return r.st, workflow.NewContinueAsNewError(r.ctx, CampaignLifecycle, next)
		}
		if r.timer == nil {
			// Never negative (which the SDK refuses): a wake already due fires at once.
			r.timer = workflow.NewTimer(r.ctx, max(0, r.nextWake().Sub(r.now())))
		}
		sel := workflow.NewSelector(r.ctx)
		var err error
		sel.AddFuture(r.timer, func(f workflow.Future) {
			r.timer = nil
			if err = f.Get(r.ctx, nil); err == nil {
				err = r.wake()
			}
		})
		sig.add(sel, r, &err)
		sel.Select(r.ctx)
		r.wakeups++
		if err != nil {
			return r.st, err
		}
	}
	return r.st, nil
}

func (r *campaignRun) continueAfter() int {
	if r.in.ContinueAfter > 0 {
		return r.in.ContinueAfter
	}
	return DefaultCampaignContinueAfter
}

// nextWake is the next evaluation, or the end if that comes first.
func (r *campaignRun) nextWake() time.Time {
	if r.st.EndsAt.Before(r.st.NextEvalAt) {
		return r.st.EndsAt
	}
	return r.st.NextEvalAt
}

// wake runs when the timer fires: the end of the campaign's duration, or an
// evaluation (skipped while paused).
func (r *campaignRun) wake() error {
	now := r.now()
	if !now.Before(r.st.EndsAt) {
		return r.end(campaign.EndDuration)
	}
	for !r.st.NextEvalAt.After(now) { // after a long outage, the missed ones are not run late
		r.st.NextEvalAt = r.st.NextEvalAt.Add(r.st.Config.Interval())
	}
	if r.st.Status == campaign.Paused {
		r.st.Skipped++
		return r.save()
	}
	return r.evaluate()
}

// evaluate reads the performance, ends the campaign if the budget is spent and
// otherwise applies the rules' decisions.
func (r *campaignRun) evaluate() error {
	perf, err := r.readPerformance()
	if err != nil {
		return err
	}
	decisions := campaign.Evaluate(r.st, perf)
	r.st.Observe(perf)
	if r.st.BudgetExhausted() {
		return r.end(campaign.EndBudget)
	}
	for _, d := range decisions {
		if err := r.decide(d); err != nil {
			return err
		}
	}
	return r.save()
}

func (r *campaignRun) readPerformance() (campaign.Performance, error) {
	var a *activities.Campaigns
	c := r.st.Config
	var perf campaign.Performance
	err := workflow.ExecuteActivity(r.actx, a.ReadPerformance, activities.PerformanceInput{Tenant: r.st.Tenant,
		CampaignID: c.CampaignID, Channel: c.Channel, Currency: c.Currency, Since: r.st.LaunchedAt, Creatives: c.CreativeIDs}).Get(r.ctx, &perf)
	return perf, err
}

// decide records a decision, applies it and emits it.
func (r *campaignRun) decide(d campaign.Decision) error {
	var a *activities.Campaigns
	d = r.st.Record(d, r.now())
	if err := workflow.ExecuteActivity(r.actx, a.ApplyDecision, activities.DecisionInput{Tenant: r.st.Tenant,
		CampaignID: r.st.Config.CampaignID, Decision: d}).Get(r.ctx, nil); err != nil {
		return err
	}
	return r.emit(r.st.OptimizationEvent(d, r.now()))
}

// end reads the final metrics and emits campaign_termination.
func (r *campaignRun) end(reason string) error {
	if reason != campaign.EndBudget { // a budget end has just read them
		perf, err := r.readPerformance()
		if err != nil {
			return err
		}
		r.st.Metrics, r.st.Source, r.st.Creatives, r.st.Spend = perf.Totals, perf.Source, perf.Creatives, perf.Totals.Cost
	}
	r.st.Status, r.st.EndedAt, r.st.EndReason = campaign.Ended, r.now(), reason
	if err := r.emit(r.st.TerminationEvent(r.now())); err != nil {
		return err
	}
	return r.save()
}

func (r *campaignRun) emit(e events.Event) error {
	var a *activities.Campaigns
	return workflow.ExecuteActivity(r.actx, a.EmitEvent, activities.EmitInput{Seq: r.st.NextEventSeq(), Event: e}).Get(r.ctx, nil)
}

func (r *campaignRun) save() error {
	var a *activities.Campaigns
	return workflow.ExecuteActivity(r.actx, a.SaveState, r.st).Get(r.ctx, nil)
}

// campaignSignals are the campaign's signal channels.
type campaignSignals struct {
	pause, resume, terminate, optimize workflow.ReceiveChannel
}

func (r *campaignRun) signals() campaignSignals {
	return campaignSignals{
		pause:     workflow.GetSignalChannel(r.ctx, CampaignPauseSignal),
		resume:    workflow.GetSignalChannel(r.ctx, CampaignResumeSignal),
		terminate: workflow.GetSignalChannel(r.ctx, CampaignTermSignal),
		optimize:  workflow.GetSignalChannel(r.ctx, CampaignOptimizeSignal),
	}
}

func (s campaignSignals) add(sel workflow.Selector, r *campaignRun, err *error) {
	sel.AddReceive(s.pause, func(c workflow.ReceiveChannel, _ bool) { c.Receive(r.ctx, nil); *err = r.setPaused(true) })
	sel.AddReceive(s.resume, func(c workflow.ReceiveChannel, _ bool) { c.Receive(r.ctx, nil); *err = r.setPaused(false) })
	sel.AddReceive(s.terminate, func(c workflow.ReceiveChannel, _ bool) {
		var t TerminateSignal
		c.Receive(r.ctx, &t)
		*err = r.terminate(t)
	})
	sel.AddReceive(s.optimize, func(c workflow.ReceiveChannel, _ bool) {
		var o OptimizeSignal
		c.Receive(r.ctx, &o)
		*err = r.optimize(o)
	})
}

// drain handles the signals already delivered, so none is lost to ContinueAsNew.
func (s campaignSignals) drain(r *campaignRun) error {
	for r.st.Status != campaign.Ended {
		got := false
		for _, ch := range []workflow.ReceiveChannel{s.pause, s.resume, s.terminate, s.optimize} {
			got = got || ch.Len() > 0
		}
		if !got {
			return nil
		}
		sel := workflow.NewSelector(r.ctx)
		var err error
		s.add(sel, r, &err)
		sel.Select(r.ctx)
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *campaignRun) setPaused(paused bool) error {
	switch {
	case paused && r.st.Status == campaign.Running:
		r.st.Status = campaign.Paused
	case !paused && r.st.Status == campaign.Paused:
		r.st.Status = campaign.Running
	default:
		return nil // already so
	}
	return r.save()
}

func (r *campaignRun) terminate(t TerminateSignal) error {
	reason := campaign.EndTerminated
	if t.Reason != "" {
		reason += ": " + t.Reason
	}
	return r.end(reason)
}

// optimize applies a manual trigger. The API validated it; one that is still invalid
// (sent another way) is logged and dropped rather than failing the campaign.
func (r *campaignRun) optimize(o OptimizeSignal) error {
	if err := campaign.ValidateManual(r.st.Config, o.Reason, o.Changes, r.now()); err != nil {
		workflow.GetLogger(r.ctx).Warn("campaign: invalid manual optimization dropped", "error", err.Error())
		return nil
	}
	reasons := []string{"manual"}
	if o.Reason != "" {
		reasons = []string{o.Reason}
	}
	if err := r.decide(campaign.Decision{Trigger: events.TriggerManual, Reasons: reasons, Changes: o.Changes}); err != nil {
		return err
	}
	return r.save()
}
