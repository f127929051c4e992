package workflows_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
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
	var r *activities.Retention
	env.OnActivity(r.ApplyRetention, mock.Anything, activities.ApplyRetentionInput{Now: start}).Return(activities.RetentionReport{}, nil).Once()

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

// TestMaintenanceAppliesTenantRetention: after the partition drop, the run applies
// every tenant's retention at the run's time and returns the per-tenant report.
func TestMaintenanceAppliesTenantRetention(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a, r := &activities.Archive{}, &activities.Retention{}
	start := time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	var order []string
	env.OnActivity(a.EnsurePartitions, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.DropExpired, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DropExpiredInput) ([]string, error) {
			order = append(order, "drop")
			return nil, nil
		})
	report := activities.RetentionReport{Tenants: []activities.TenantRetention{
		{TenantID: "acme", Days: 7, Cutoff: start.AddDate(0, 0, -7), Counts: store.RetentionCounts{IdentityLinks: 3, Touchpoints: 12}},
		{TenantID: "zeta", Days: 90, Cutoff: start.AddDate(0, 0, -90)},
	}}
	env.OnActivity(r.ApplyRetention, mock.Anything, activities.ApplyRetentionInput{Now: start}).Return(
		func(context.Context, activities.ApplyRetentionInput) (activities.RetentionReport, error) {
			order = append(order, "retention")
			return report, nil
		}).Once()

	env.ExecuteWorkflow(workflows.Maintenance, workflows.MaintenanceInput{Retention: 90 * 24 * time.Hour, AheadDays: 7})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.MaintenanceResult
	if err := env.GetWorkflowResult(&res); err != nil || !reflect.DeepEqual(res.Retention, report) {
		t.Fatalf("retention report %+v, %v; want %+v", res.Retention, err, report)
	}
	if !reflect.DeepEqual(order, []string{"drop", "retention"}) {
		t.Fatalf("order %v, want the partition drop before the retention run", order)
	}
	env.AssertExpectations(t)
}

// TestMaintenanceRetentionFailureStillPrunes: a retention run that keeps failing
// fails the maintenance run, but only after the windows were pruned.
func TestMaintenanceRetentionFailureStillPrunes(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a, r := &activities.Archive{}, &activities.Retention{}
	env.OnActivity(a.EnsurePartitions, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.DropExpired, mock.Anything, mock.Anything).Return([]string(nil), nil)
	env.OnActivity(r.ApplyRetention, mock.Anything, mock.Anything).Return(activities.RetentionReport{},
		temporal.NewNonRetryableApplicationError("retention failed for 1 tenants", "test", errors.New("boom")))
	env.OnActivity(a.PruneWindows, mock.Anything, mock.Anything).Return(int64(5), nil).Once()

	env.ExecuteWorkflow(workflows.Maintenance, workflows.MaintenanceInput{Retention: 90 * 24 * time.Hour, AheadDays: 7, WindowRetention: time.Hour})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "retention failed") {
		t.Fatalf("workflow error %v, want the retention failure", err)
	}
	env.AssertExpectations(t)
}
