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
	var a *activities.Attribution
	if err := workflow.ExecuteActivity(sweepActivityOptions(ctx), a.ConversionTenants, res.From, res.To).Get(ctx, &res.Tenants); err != nil {
		return res, err
	}
	var failed []string
	res.Joined, failed = runTenantChildren(ctx, res.Tenants, func(tenant string) (string, string, any, any) {
		rin := AttributionRecomputeInput{Tenant: tenant, From: res.From, To: res.To, Models: in.Models}
		return AttributionWorkflowID(tenant, res.From, res.To), "attribution", AttributionRecompute, rin
	})
	if len(failed) > 0 {
		return res, fmt.Errorf("sweep %s: %d of %d recomputes failed: %v", in.Name, len(failed), len(res.Tenants), failed)
	}
	return res, nil
}

// sweepActivityOptions are the options of a sweep's listing activity.
func sweepActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
}

// runTenantChildren starts one child workflow per tenant, all at once, with the id,
// kind and input child returns, and awaits them in order. A child whose id is
// already running (started from the API, say) is counted as joined and left to
// finish; a sweep cut short abandons its children, whose results are wanted anyway.
// failed lists "tenant: error" for every child that could not start or failed.
func runTenantChildren(ctx workflow.Context, tenants []string, child func(tenant string) (id, kind string, wf, in any)) (joined int, failed []string) {
	futures := make([]workflow.ChildWorkflowFuture, len(tenants))
	for i, tenant := range tenants {
		id, kind, wf, in := child(tenant)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            id,
			TaskQueue:             TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
			TypedSearchAttributes: temporal.NewSearchAttributes(TenantAttribute.ValueSet(tenant), KindAttribute.ValueSet(kind)),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, wf, in)
	}
	for i, f := range futures {
		if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
				joined++
				continue
			}
			failed = append(failed, fmt.Sprintf("%s: %v", tenants[i], err))
			continue
		}
		if err := f.Get(ctx, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", tenants[i], err))
		}
	}
	return joined, failed
}
