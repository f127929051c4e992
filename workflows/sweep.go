package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// The sweeps the schedules run: recent conversions hourly, the full lookback daily.
var (
	HourlySweep = AttributionSweepInput{Name: "hourly", Window: 48 * time.Hour, Align: time.Hour}
	DailySweep  = AttributionSweepInput{Name: "daily", Window: 30 * 24 * time.Hour, Align: 24 * time.Hour}
)

// AttributionSweepWorkflowID is the id of a scheduled sweep.
func AttributionSweepWorkflowID(name string) string { return "attribution-sweep/" + name }

// AttributionSweepInput is a sweep over the conversions of the last Window, up to the
// end of the current Align period (so every run of one period recomputes the same
// range, under the same workflow ids).
type AttributionSweepInput struct {
	Name   string
	Window time.Duration
	Align  time.Duration
	Models []string // empty: every rule-based model
}

// AttributionSweepResult says what a sweep did.
type AttributionSweepResult struct {
	From, To time.Time
	Tenants  []string
	// Joined counts recomputes of the same range already running (started from the
	// API, say), which the sweep left to finish.
	Joined int
}

// AttributionSweep recomputes the attribution of every tenant with conversions in the
// window: one child AttributionRecompute per tenant, with the recompute's idempotency
// key as id, all running at once and awaited.
func AttributionSweep(ctx workflow.Context, in AttributionSweepInput) (AttributionSweepResult, error) {
	if in.Window <= 0 || in.Align <= 0 {
		return AttributionSweepResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("sweep needs a window and an alignment, got %v and %v", in.Window, in.Align), "InvalidInput", nil)
	}
	to := workflow.Now(ctx).UTC().Truncate(in.Align).Add(in.Align)
	res := AttributionSweepResult{From: to.Add(-in.Window), To: to}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var a *activities.Attribution
	if err := workflow.ExecuteActivity(actx, a.ConversionTenants, res.From, res.To).Get(ctx, &res.Tenants); err != nil {
		return res, err
	}
	futures := make([]workflow.ChildWorkflowFuture, len(res.Tenants))
	for i, tenant := range res.Tenants {
		rin := AttributionRecomputeInput{Tenant: tenant, From: res.From, To: res.To, Models: in.Models}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            AttributionWorkflowID(tenant, res.From, res.To),
			TaskQueue:             TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// A recompute outlives a sweep cut short: its results are wanted anyway.
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			TypedSearchAttributes: temporal.NewSearchAttributes(TenantAttribute.ValueSet(tenant), KindAttribute.ValueSet("attribution")),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, AttributionRecompute, rin)
	}
	var failed []string
	for i, f := range futures {
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
				res.Joined++
				continue
			}
			failed = append(failed, fmt.Sprintf("%s: %v", res.Tenants[i], err))
			continue
		}
		if err := f.Get(ctx, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", res.Tenants[i], err))
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("sweep %s: %d of %d recomputes failed: %v", in.Name, len(failed), len(res.Tenants), failed)
	}
	return res, nil
}
