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

// TestTrainingSweepTrainsEveryTenantWithRecentConversions: the weekly sweep lists the
// tenants with conversions in the last 30 days (up to the end of the current day) and
// runs one training per tenant on its last 90 days, under the training's idempotency
// key.
func TestTrainingSweepTrainsEveryTenantWithRecentConversions(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 3, 10, 14, 25, 0, 0, time.UTC))
	to := time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)
	from := to.AddDate(0, 0, -90)

	a := &activities.Attribution{}
	env.OnActivity(a.ConversionTenants, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, f, tt time.Time) ([]string, error) {
			if !f.Equal(to.AddDate(0, 0, -30)) || !tt.Equal(to) {
				t.Errorf("tenants asked for [%v, %v), want the last 30 days to %v", f, tt, to)
			}
			return []string{"acme", "globex"}, nil
		})
	env.RegisterWorkflow(workflows.AttributionModelTraining)
	var mu sync.Mutex
	var ids []string
	env.OnWorkflow(workflows.AttributionModelTraining, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in workflows.TrainingInput) (workflows.TrainingResult, error) {
			mu.Lock()
			defer mu.Unlock()
			id := workflow.GetInfo(ctx).WorkflowExecution.ID
			if want := workflows.TrainingWorkflowID(in.Tenant, from, to); id != want || !in.From.Equal(from) || !in.To.Equal(to) {
				t.Errorf("child %s with %+v, want id %s", id, in, want)
			}
			ids = append(ids, id)
			return workflows.TrainingResult{}, nil
		})
	env.ExecuteWorkflow(workflows.TrainingSweep, workflows.WeeklyTraining)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.TrainingSweepResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	want := []string{workflows.TrainingWorkflowID("acme", from, to), workflows.TrainingWorkflowID("globex", from, to)}
	if !slices.Equal(ids, want) || !slices.Equal(res.Tenants, []string{"acme", "globex"}) || !res.From.Equal(from) || !res.To.Equal(to) {
		t.Fatalf("children %v (want %v), result %+v", ids, want, res)
	}
}

// TestTrainingSweepRejectsEmptyWindow: a training sweep without a window is a bad
// input.
func TestTrainingSweepRejectsEmptyWindow(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.AttributionModelTraining)
	env.ExecuteWorkflow(workflows.TrainingSweep, workflows.TrainingSweepInput{})
	if env.GetWorkflowError() == nil {
		t.Fatal("training sweep without a window succeeded")
	}
}
