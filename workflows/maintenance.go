// Package workflows holds Touchpoint's Temporal workflow definitions. Workflow code is
// deterministic: all I/O happens in activities.
package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// TaskQueue is the task queue Touchpoint's workers poll.
const TaskQueue = "touchpoint"

// MaintenanceWorkflowID is the id of the scheduled maintenance run; the schedule
// appends the run time.
const MaintenanceWorkflowID = "maintenance"

// MaintenanceInput configures one maintenance run.
type MaintenanceInput struct {
	Retention       time.Duration // how long raw events are kept
	AheadDays       int           // how many future day partitions to keep ready
	WindowRetention time.Duration // how long 5-second aggregate windows are kept; 0 keeps them
}

// MaintenanceResult says what a run did.
type MaintenanceResult struct {
	DroppedPartitions []string
	PrunedWindowRows  int64
	// Retention is what each tenant's retention policy removed from the personal
	// tables (empty on runs started before the step existed).
	Retention activities.RetentionReport
}

// retentionVersion marks the per-tenant retention step, so a Maintenance run that
// was in flight when the step was added replays without it.
const retentionVersion = "tenant-retention"

// retentionActivityOptions give the per-tenant run, which goes through every tenant
// in one activity, a long overall timeout and a heartbeat timeout instead: it
// heartbeats after each tenant and every 10 s during one.
var retentionActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 2 * time.Hour,
	HeartbeatTimeout:    2 * time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 10},
}

// Maintenance keeps the raw archive's day partitions ready ahead of time, drops the
// days past retention, applies every tenant's retention policy to the personal data
// derived from events, and prunes old 5-second windows. It runs daily on a schedule
// and is safe to run any time.
func Maintenance(ctx workflow.Context, in MaintenanceInput) (MaintenanceResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 10},
	})
	var a *activities.Archive
	now := workflow.Now(ctx)
	if err := workflow.ExecuteActivity(ctx, a.EnsurePartitions, activities.EnsurePartitionsInput{From: now, Days: in.AheadDays}).Get(ctx, nil); err != nil {
		return MaintenanceResult{}, err
	}
	var res MaintenanceResult
	if err := workflow.ExecuteActivity(ctx, a.DropExpired, activities.DropExpiredInput{Cutoff: now.Add(-in.Retention)}).Get(ctx, &res.DroppedPartitions); err != nil {
		return res, err
	}
	// A failed retention run does not keep the windows from being pruned; the run
	// still fails with it, so the failure shows.
	rerr := applyRetention(ctx, now, &res.Retention)
	if in.WindowRetention > 0 {
		if err := workflow.ExecuteActivity(ctx, a.PruneWindows, activities.PruneWindowsInput{Before: now.Add(-in.WindowRetention)}).Get(ctx, &res.PrunedWindowRows); err != nil {
			return res, err
		}
	}
	return res, rerr
}

// applyRetention runs every tenant's retention policy with the run's time as the
// clock the cutoffs are computed from.
func applyRetention(ctx workflow.Context, now time.Time, report *activities.RetentionReport) error {
	if workflow.GetVersion(ctx, retentionVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	var r *activities.Retention
	ctx = workflow.WithActivityOptions(ctx, retentionActivityOptions)
	return workflow.ExecuteActivity(ctx, r.ApplyRetention, activities.ApplyRetentionInput{Now: now}).Get(ctx, report)
}
