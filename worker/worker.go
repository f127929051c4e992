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
}

// New returns a worker on workflows.TaskQueue with every workflow and activity registered.
func New(c client.Client, d Deps) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	w.RegisterWorkflow(workflows.Maintenance)
	w.RegisterActivity(d.Archive)
	if d.Attribution != nil {
		w.RegisterWorkflow(workflows.AttributionRecompute)
		w.RegisterActivity(d.Attribution)
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
