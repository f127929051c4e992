package workflows_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestMaintenanceEnsuresThenDrops(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Archive{}
	start := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	env.OnActivity(a.EnsurePartitions, mock.Anything, activities.EnsurePartitionsInput{From: start, Days: 7}).Return(nil).Once()
	env.OnActivity(a.DropExpired, mock.Anything, activities.DropExpiredInput{Cutoff: start.Add(-90 * 24 * time.Hour)}).
		Return([]string{"event_archive_20260302"}, nil).Once()
	env.OnActivity(a.PruneWindows, mock.Anything, activities.PruneWindowsInput{Before: start.Add(-7 * 24 * time.Hour)}).Return(int64(42), nil).Once()

	env.ExecuteWorkflow(workflows.Maintenance, workflows.MaintenanceInput{Retention: 90 * 24 * time.Hour, AheadDays: 7, WindowRetention: 7 * 24 * time.Hour})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.MaintenanceResult
	if err := env.GetWorkflowResult(&res); err != nil || len(res.DroppedPartitions) != 1 || res.PrunedWindowRows != 42 {
		t.Fatalf("result %+v, %v", res, err)
	}
	env.AssertExpectations(t)
}
