package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestAttributionSweepStartsOneRecomputePerTenant: the hourly sweep lists the tenants
// with conversions in the last two days (up to the end of the current hour) and runs
// one recompute of that range per tenant, under the recompute's idempotency key.
func TestAttributionSweepStartsOneRecomputePerTenant(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	now := time.Date(2026, 3, 10, 14, 25, 0, 0, time.UTC)
	env.SetStartTime(now)
	to := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	from := to.Add(-48 * time.Hour)

	a := &activities.Attribution{}
	env.OnActivity(a.ConversionTenants, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, f, tt time.Time) ([]string, error) {
			if !f.Equal(from) || !tt.Equal(to) {
				t.Errorf("tenants asked for [%v, %v), want [%v, %v)", f, tt, from, to)
			}
			return []string{"acme", "globex"}, nil
		})
	env.RegisterWorkflow(workflows.AttributionRecompute)
	var mu sync.Mutex
	var ids []string
	env.OnWorkflow(workflows.AttributionRecompute, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in workflows.AttributionRecomputeInput) (workflows.AttributionProgress, error) {
			mu.Lock()
			defer mu.Unlock()
			id := workflow.GetInfo(ctx).WorkflowExecution.ID
			if want := workflows.AttributionWorkflowID(in.Tenant, from, to); id != want || !in.From.Equal(from) || !in.To.Equal(to) {
				t.Errorf("child %s with %+v, want id %s", id, in, want)
			}
			ids = append(ids, id)
			return workflows.AttributionProgress{Done: true}, nil
		})
	env.ExecuteWorkflow(workflows.AttributionSweep, workflows.HourlySweep)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.AttributionSweepResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	want := []string{workflows.AttributionWorkflowID("acme", from, to), workflows.AttributionWorkflowID("globex", from, to)}
	if !slices.Equal(ids, want) || !slices.Equal(res.Tenants, []string{"acme", "globex"}) {
		t.Fatalf("children %v (want %v), result %+v", ids, want, res)
	}
}

// TestAttributionSweepRejectsEmptyWindow: a sweep without a window is a bad input.
func TestAttributionSweepRejectsEmptyWindow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.AttributionRecompute)
	env.ExecuteWorkflow(workflows.AttributionSweep, workflows.AttributionSweepInput{Name: "bad"})
	if env.GetWorkflowError() == nil {
		t.Fatal("sweep without a window succeeded")
	}
}
