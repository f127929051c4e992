// Package worker wires Touchpoint's workflows and activities into a Temporal worker
// and keeps the recurring schedules in place.
package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

// Deps are the activity structs the worker serves.
type Deps struct {
	Archive     *activities.Archive
	Attribution *activities.Attribution // nil: attribution recomputes are not served
	Identity    *activities.Identity    // nil: identity updates are not served
	Sync        *activities.Sync        // nil: platform syncs are not served
	ProfileSync *activities.ProfileSync // nil: CDP profile syncs are not served
	Deletion    *activities.Deletion    // nil: data-subject deletions are not served
	Retention   *activities.Retention   // nil: Maintenance's retention step is not served
	Profiles    *activities.Profiles    // nil: profile training and refresh are not served
	Campaigns   *activities.Campaigns   // nil: campaign lifecycles are not served
}

// New returns a worker on workflows.TaskQueue with every workflow and activity registered.
// It stops at once: running activities are abandoned as in a crash (tests use that
// to show work resumes elsewhere). Services use NewWithOptions with GracefulStop.
func New(c client.Client, d Deps) sdkworker.Worker {
	return NewWithOptions(c, d, sdkworker.Options{})
}

// GracefulStop is how long a stopping service worker lets running activities finish
// and report, so a deploy does not leave attempts to be noticed only at their
// heartbeat timeout.
const GracefulStop = 10 * time.Second

// NewWithOptions is New with the SDK worker's options.
func NewWithOptions(c client.Client, d Deps, o sdkworker.Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, o)
	w.RegisterWorkflow(workflows.Maintenance)
	w.RegisterActivity(d.Archive)
	if d.Retention != nil {
		w.RegisterActivity(d.Retention)
	}
	if d.Attribution != nil {
		w.RegisterWorkflow(workflows.AttributionRecompute)
		w.RegisterActivity(d.Attribution)
		w.RegisterWorkflow(workflows.AttributionModelTraining)
		w.RegisterActivity(activities.TrainingFor(d.Attribution))
		w.RegisterWorkflow(workflows.AttributionSweep)
		w.RegisterWorkflow(workflows.TrainingSweep)
	}
	if d.Identity != nil {
		w.RegisterWorkflow(workflows.IdentityUpdate)
		w.RegisterActivity(d.Identity)
	}
	if d.Sync != nil {
		w.RegisterWorkflow(workflows.PlatformSync)
		w.RegisterWorkflow(workflows.Backfill)
		w.RegisterActivity(d.Sync)
	}
	if d.ProfileSync != nil {
		w.RegisterWorkflow(workflows.ProfileSync)
		w.RegisterActivity(d.ProfileSync)
	}
	if d.Deletion != nil {
		w.RegisterWorkflow(workflows.DataSubjectDeletion)
		w.RegisterActivity(d.Deletion)
	}
	if d.Campaigns != nil {
		w.RegisterWorkflow(workflows.CampaignLifecycle)
		w.RegisterActivity(d.Campaigns)
	}
	if d.Profiles != nil {
		w.RegisterWorkflow(workflows.ProfileModelTraining)
		w.RegisterWorkflow(workflows.ProfileRefresh)
		w.RegisterWorkflow(workflows.ProfileTrainingSweep)
		w.RegisterActivity(d.Profiles)
	}
	return w
}

// MaintenanceScheduleID is the schedule that runs workflows.Maintenance daily.
const MaintenanceScheduleID = "touchpoint-maintenance"

// EnsureSchedules creates the recurring schedules, or updates them to the current
// definition if they exist, so every deploy converges on the same schedules.
func EnsureSchedules(ctx context.Context, c client.Client, retention, windowRetention time.Duration) error {
	opts := client.ScheduleOptions{
		ID:   MaintenanceScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 24 * time.Hour, Offset: 30 * time.Minute}}},
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.MaintenanceWorkflowID,
			Workflow:  workflows.Maintenance,
			Args:      []any{workflows.MaintenanceInput{Retention: retention, AheadDays: 7, WindowRetention: windowRetention}},
			TaskQueue: workflows.TaskQueue,
		},
		TriggerImmediately: true,
	}
	if err := ensureSchedule(ctx, c, opts); err != nil {
		return err
	}
	for _, opts := range identitySchedules() {
		if err := ensureSchedule(ctx, c, opts); err != nil {
			return err
		}
	}
	if err := ensureSchedule(ctx, c, profileSchedule()); err != nil {
		return err
	}
	return nil
}

// ensureSchedule creates the schedule opts, or updates an existing one to its spec
// and action.
func ensureSchedule(ctx context.Context, c client.Client, opts client.ScheduleOptions) error {
	_, err := c.ScheduleClient().Create(ctx, opts)
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", opts.ID, err)
	}
	h := c.ScheduleClient().GetHandle(ctx, opts.ID)
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		in.Description.Schedule.Spec = &opts.Spec
		in.Description.Schedule.Action = opts.Action
		return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
	}})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", opts.ID, err)
	}
	return nil
}

// EnsureSyncSchedule creates a connection's recurring sync at its platform's
// frequency, or updates the existing schedule to it.
func EnsureSyncSchedule(ctx context.Context, c client.Client, in workflows.SyncInput) error {
	return ensureSchedule(ctx, c, workflows.SyncScheduleOptions(in))
}

// The schedules of the identity graph and of attribution recomputation.
const (
	IdentityScheduleID          = "touchpoint-identity-update"
	AttributionHourlyScheduleID = "touchpoint-attribution-hourly"
	AttributionDailyScheduleID  = "touchpoint-attribution-daily"
	TrainingWeeklyScheduleID    = "touchpoint-attribution-training-weekly"
)

// identitySchedules are the identity update every 15 minutes, the sweep of recent
// conversions hourly, the sweep of the full 30-day lookback daily and the training of
// the data-driven models of every tenant with recent conversions weekly.
func identitySchedules() []client.ScheduleOptions {
	sweep := func(id string, in workflows.AttributionSweepInput, every, offset time.Duration) client.ScheduleOptions {
		return client.ScheduleOptions{
			ID:   id,
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every, Offset: offset}}},
			Action: &client.ScheduleWorkflowAction{
				ID:        workflows.AttributionSweepWorkflowID(in.Name),
				Workflow:  workflows.AttributionSweep,
				Args:      []any{in},
				TaskQueue: workflows.TaskQueue,
			},
		}
	}
	return []client.ScheduleOptions{
		{
			ID:   IdentityScheduleID,
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 15 * time.Minute}}},
			Action: &client.ScheduleWorkflowAction{
				ID:        workflows.IdentityUpdateWorkflowID,
				Workflow:  workflows.IdentityUpdate,
				Args:      []any{workflows.IdentityUpdateInput{}},
				TaskQueue: workflows.TaskQueue,
			},
		},
		// Offsets put the sweeps after the identity update of the same quarter hour.
		sweep(AttributionHourlyScheduleID, workflows.HourlySweep, time.Hour, 5*time.Minute),
		sweep(AttributionDailyScheduleID, workflows.DailySweep, 24*time.Hour, time.Hour+10*time.Minute),
		{
			ID:   TrainingWeeklyScheduleID,
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 7 * 24 * time.Hour, Offset: 2*time.Hour + 20*time.Minute}}},
			Action: &client.ScheduleWorkflowAction{
				ID:        workflows.TrainingSweepWorkflowID,
				Workflow:  workflows.TrainingSweep,
				Args:      []any{workflows.WeeklyTraining},
				TaskQueue: workflows.TaskQueue,
			},
		},
	}
}

// ProfileTrainingScheduleID is the schedule of the weekly profile-model training
// sweep (each training refreshes its tenant's profiles after it).
const ProfileTrainingScheduleID = "touchpoint-profile-training-weekly"

// profileSchedule trains every tenant's profile models weekly, after the attribution
// training of the same week.
func profileSchedule() client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:   ProfileTrainingScheduleID,
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: 7 * 24 * time.Hour, Offset: 3*time.Hour + 40*time.Minute}}},
		Action: &client.ScheduleWorkflowAction{
			ID:        workflows.ProfileSweepWorkflowID,
			Workflow:  workflows.ProfileTrainingSweep,
			Args:      []any{workflows.WeeklyProfileTraining},
			TaskQueue: workflows.TaskQueue,
		},
	}
}
