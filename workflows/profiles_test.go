package workflows_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// mockProfiles mocks the profile activities of env; a refresh's first attempt fails
// to show it is retried. It records the calls as "activity tenant".
func mockProfiles(env *testsuite.TestWorkflowEnvironment) func() []string {
	p := &activities.Profiles{}
	var mu sync.Mutex
	var calls []string
	failed := map[string]bool{}
	rec := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, s)
	}
	env.OnActivity(p.TrainProfileModels, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TrainProfileInput) (activities.TrainProfileResult, error) {
			rec("train " + in.Tenant)
			if in.TrainingID == "" || in.AsOf.IsZero() {
				panic("training without an id or a time")
			}
			return activities.TrainProfileResult{Version: 3, Promoted: true, Metrics: store.ProfileModelMetrics{HoldoutMAE: 0.4}}, nil
		})
	env.OnActivity(p.PrepareProfileRefresh, mock.Anything, mock.Anything, mock.Anything).Return(
		func(_ context.Context, tenant string, _ time.Time) (int64, error) {
			rec("prepare " + tenant)
			return 25_000, nil
		})
	env.OnActivity(p.RefreshProfiles, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RefreshInput) (activities.RefreshProgress, error) {
			mu.Lock()
			first := !failed[in.Tenant]
			failed[in.Tenant] = true
			mu.Unlock()
			if first {
				return activities.RefreshProgress{}, context.DeadlineExceeded
			}
			rec("refresh " + in.Tenant)
			return activities.RefreshProgress{Last: "c-24999", Customers: 25_000, Chunks: 3, Entered: 4, Exited: 1, ModelVersion: 3}, nil
		})
	env.OnActivity(p.ProfileTenants, mock.Anything, mock.Anything).Return([]string{"acme", "globex"}, nil)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(calls)
	}
}

// TestProfileModelTrainingThenRefresh: the training stores and promotes, then the
// child refresh summarises and scores (its failed attempt retried).
func TestProfileModelTrainingThenRefresh(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProfileRefresh)
	calls := mockProfiles(env)
	env.ExecuteWorkflow(workflows.ProfileModelTraining, workflows.ProfileTrainingInput{Tenant: "acme"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.ProfileTrainingResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if !got.Training.Promoted || got.Refresh == nil || got.Refresh.Summarised != 25_000 || got.Refresh.Progress.Customers != 25_000 || got.Refresh.AsOf.IsZero() {
		t.Errorf("result %+v (refresh %+v)", got, got.Refresh)
	}
	if want := []string{"train acme", "prepare acme", "refresh acme"}; !slices.Equal(calls(), want) {
		t.Errorf("calls %v, want %v", calls(), want)
	}
}

// TestProfileModelTrainingSkipRefresh: on request, the training does not refresh.
func TestProfileModelTrainingSkipRefresh(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProfileRefresh)
	calls := mockProfiles(env)
	env.ExecuteWorkflow(workflows.ProfileModelTraining, workflows.ProfileTrainingInput{Tenant: "acme", SkipRefresh: true})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"train acme"}; !slices.Equal(calls(), want) {
		t.Errorf("calls %v, want %v", calls(), want)
	}
}

// TestProfileTrainingSweep trains (and refreshes) every tenant with profile work.
func TestProfileTrainingSweep(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.ProfileModelTraining)
	env.RegisterWorkflow(workflows.ProfileRefresh)
	calls := mockProfiles(env)
	env.ExecuteWorkflow(workflows.ProfileTrainingSweep, workflows.WeeklyProfileTraining)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.ProfileSweepResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Tenants, []string{"acme", "globex"}) {
		t.Errorf("tenants %v", got.Tenants)
	}
	c := calls()
	slices.Sort(c)
	if want := []string{"prepare acme", "prepare globex", "refresh acme", "refresh globex", "train acme", "train globex"}; !slices.Equal(c, want) {
		t.Errorf("calls %v, want %v", c, want)
	}
}

// TestProfileWorkflowsRejectNoTenant: no tenant is a non-retryable input error.
func TestProfileWorkflowsRejectNoTenant(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	for _, run := range []func(env *testsuite.TestWorkflowEnvironment){
		func(env *testsuite.TestWorkflowEnvironment) {
			env.ExecuteWorkflow(workflows.ProfileModelTraining, workflows.ProfileTrainingInput{})
		},
		func(env *testsuite.TestWorkflowEnvironment) {
			env.ExecuteWorkflow(workflows.ProfileRefresh, workflows.ProfileRefreshInput{})
		},
	} {
		env := s.NewTestWorkflowEnvironment()
		run(env)
		if env.GetWorkflowError() == nil {
			t.Error("a workflow without a tenant succeeded")
		}
	}
}
