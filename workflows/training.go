package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// TrainingInput is a training of tenant's data-driven attribution models on the
// journeys in [From, To).
type TrainingInput struct {
	Tenant   string
	From, To time.Time
}

// TrainedModel is what a training did with one kind of model.
type TrainedModel struct {
	Kind     string  `json:"kind"`
	Version  int64   `json:"version"`
	Train    int     `json:"train_journeys"`
	HeldOut  int     `json:"held_out_journeys"`
	AUC      float64 `json:"auc"`
	LogLoss  float64 `json:"log_loss"`
	Promoted bool    `json:"promoted"`
	// Previous is the version active before, 0 for none.
	Previous int64 `json:"previous"`
	// Skipped says why this kind could not be trained on the data; nothing was
	// stored for it then.
	Skipped string `json:"skipped,omitempty"`
}

// TrainingResult is what AttributionModelTraining returns.
type TrainingResult struct {
	Models []TrainedModel `json:"models"`
}

// TrainingWorkflowID is the id of the training of tenant's models on [from, to): a
// second request for the same range joins the running training.
func TrainingWorkflowID(tenant string, from, to time.Time) string {
	return fmt.Sprintf("training/%s/%s-%s", tenant, from.UTC().Format(timeID), to.UTC().Format(timeID))
}

// TrainingStartOptions are the options to start in with, like AttributionStartOptions.
func TrainingStartOptions(in TrainingInput) client.StartWorkflowOptions {
	return joiningStartOptions(TrainingWorkflowID(in.Tenant, in.From, in.To), in.Tenant, "training")
}

// AttributionModelTraining trains every kind of data-driven model on a tenant's
// journeys, one kind after the other: each activity builds the training set, trains
// on the people not held out, evaluates on the held-out ones and stores the version
// with its metrics; a second activity promotes it only if its held-out AUC beats the
// active version's (or none is active). Versions are named by the workflow's run, so
// a retried activity stores nothing twice. A kind the data cannot fit is reported as
// skipped and the other kinds still train.
func AttributionModelTraining(ctx workflow.Context, in TrainingInput) (TrainingResult, error) {
	if in.Tenant == "" || !in.From.Before(in.To) {
		return TrainingResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("training needs a tenant and from < to, got %q [%s, %s)", in.Tenant, in.From, in.To), "InvalidInput", nil)
	}
	info := workflow.GetInfo(ctx)
	trainingID := info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID
	trainCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{"InvalidModel", "NotTrainable"}},
	})
	promoteCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var t *activities.Training
	var result TrainingResult
	for _, kind := range activities.ModelKinds {
		var trained activities.TrainModelResult
		err := workflow.ExecuteActivity(trainCtx, t.TrainModel, activities.TrainModelInput{
			Tenant: in.Tenant, From: in.From, To: in.To, Kind: kind, TrainingID: trainingID}).Get(ctx, &trained)
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == "NotTrainable" {
			// The data cannot fit this kind (no conversions, no channel with an
			// effect, a fit that does not converge): the other kinds still train.
			result.Models = append(result.Models, TrainedModel{Kind: kind, Skipped: appErr.Message()})
			continue
		}
		if err != nil {
			return result, fmt.Errorf("train %s: %w", kind, err)
		}
		var promoted activities.PromoteResult
		err = workflow.ExecuteActivity(promoteCtx, t.PromoteIfBetter, activities.PromoteInput{Tenant: in.Tenant, Version: trained.Version}).Get(ctx, &promoted)
		if err != nil {
			return result, fmt.Errorf("promote %s version %d: %w", kind, trained.Version, err)
		}
		result.Models = append(result.Models, TrainedModel{Kind: kind, Version: trained.Version, Train: trained.Train, HeldOut: trained.HeldOut,
			AUC: trained.Metrics.AUC, LogLoss: trained.Metrics.LogLoss, Promoted: promoted.Promoted, Previous: promoted.Previous})
	}
	return result, nil
}

// WeeklyTraining is the sweep the weekly training schedule runs: the tenants with
// conversions in the last 30 days, each trained on its last 90 days.
var WeeklyTraining = TrainingSweepInput{Window: 30 * 24 * time.Hour, TrainWindow: 90 * 24 * time.Hour}

// TrainingSweepWorkflowID is the id of the scheduled training sweep.
const TrainingSweepWorkflowID = "training-sweep/weekly"

// TrainingSweepInput is a training of every tenant with conversions in the last
// Window, on its journeys of the last TrainWindow (zero: Window), both up to the end
// of the current UTC day (so the runs of one day train on the same range, under the
// same workflow ids).
type TrainingSweepInput struct {
	Window      time.Duration
	TrainWindow time.Duration
}

// TrainingSweepResult says what a training sweep did.
type TrainingSweepResult struct {
	From, To time.Time // the training range
	Tenants  []string
	// Joined counts trainings of the same range already running (started from the
	// API, say), which the sweep left to finish.
	Joined int
}

// TrainingSweep trains the data-driven models of every tenant with recent
// conversions: one child AttributionModelTraining per tenant, with the training's
// idempotency key as id, all running at once and awaited.
func TrainingSweep(ctx workflow.Context, in TrainingSweepInput) (TrainingSweepResult, error) {
	if in.Window <= 0 || in.TrainWindow < 0 {
		return TrainingSweepResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("training sweep needs a window, got %v (training window %v)", in.Window, in.TrainWindow), "InvalidInput", nil)
	}
	if in.TrainWindow == 0 {
		in.TrainWindow = in.Window
	}
	to := workflow.Now(ctx).UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	res := TrainingSweepResult{From: to.Add(-in.TrainWindow), To: to}
	var a *activities.Attribution
	if err := workflow.ExecuteActivity(sweepActivityOptions(ctx), a.ConversionTenants, to.Add(-in.Window), to).Get(ctx, &res.Tenants); err != nil {
		return res, err
	}
	var failed []string
	res.Joined, failed = runTenantChildren(ctx, res.Tenants, func(tenant string) (string, string, any, any) {
		return TrainingWorkflowID(tenant, res.From, res.To), "training", AttributionModelTraining, TrainingInput{Tenant: tenant, From: res.From, To: res.To}
	})
	if len(failed) > 0 {
		return res, fmt.Errorf("training sweep: %d of %d trainings failed: %v", len(failed), len(res.Tenants), failed)
	}
	return res, nil
}
