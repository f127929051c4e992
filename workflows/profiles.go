package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// ProfileTrainingWorkflowID and ProfileRefreshWorkflowID are the idempotency keys of
// a tenant's profile training and refresh: a second request while one runs joins it.
func ProfileTrainingWorkflowID(tenant string) string { return "profile-training/" + tenant }

// ProfileRefreshWorkflowID: see ProfileTrainingWorkflowID.
func ProfileRefreshWorkflowID(tenant string) string { return "profile-refresh/" + tenant }

// ProfileSweepWorkflowID is the id of the scheduled weekly training sweep.
const ProfileSweepWorkflowID = "profile-training-sweep/weekly"

// profilesKind is the TouchpointKind search attribute of the profile workflows.
const profilesKind = "profiles"

// ProfileTrainingInput is a training of tenant's profile models as of AsOf (zero: the
// workflow's start), followed by a refresh with the result unless SkipRefresh.
type ProfileTrainingInput struct {
	Tenant                         string
	AsOf                           time.Time
	CalibrationWeeks, HoldoutWeeks int // zero: activities' defaults
	SkipRefresh                    bool
}

// ProfileTrainingResult is what a ProfileModelTraining did.
type ProfileTrainingResult struct {
	Training activities.TrainProfileResult `json:"training"`
	Refresh  *ProfileRefreshResult         `json:"refresh,omitempty"`
}

// ProfileRefreshInput is a refresh of tenant's scores and segment memberships as of
// AsOf (zero: the workflow's start).
type ProfileRefreshInput struct {
	Tenant string
	AsOf   time.Time
}

// ProfileRefreshResult is what a ProfileRefresh did.
type ProfileRefreshResult struct {
	AsOf       time.Time                  `json:"as_of"`
	Summarised int64                      `json:"summarised"`
	Progress   activities.RefreshProgress `json:"progress"`
}

func profileStartOptions(id, tenant string) client.StartWorkflowOptions {
	return joiningStartOptions(id, tenant, profilesKind)
}

// ProfileTrainingStartOptions are the options to start a ProfileModelTraining with.
func ProfileTrainingStartOptions(in ProfileTrainingInput) client.StartWorkflowOptions {
	return profileStartOptions(ProfileTrainingWorkflowID(in.Tenant), in.Tenant)
}

// ProfileRefreshStartOptions are the options to start a ProfileRefresh with.
func ProfileRefreshStartOptions(in ProfileRefreshInput) client.StartWorkflowOptions {
	return profileStartOptions(ProfileRefreshWorkflowID(in.Tenant), in.Tenant)
}

// ProfileModelTraining fits a tenant's BG/NBD + Gamma-Gamma models on all but the
// last weeks of conversions, evaluates them on those, stores the version and promotes
// it only if it predicts the holdout better than the promoted one (one activity,
// idempotent by the workflow run). Then it refreshes every profile with the promoted
// model, as a child ProfileRefresh (joined if one is running already).
func ProfileModelTraining(ctx workflow.Context, in ProfileTrainingInput) (ProfileTrainingResult, error) {
	var res ProfileTrainingResult
	if in.Tenant == "" {
		return res, temporal.NewNonRetryableApplicationError("profile training needs a tenant", "InvalidInput", nil)
	}
	if in.AsOf.IsZero() {
		in.AsOf = workflow.Now(ctx).UTC()
	}
	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var p *activities.Profiles
	err := workflow.ExecuteActivity(actx, p.TrainProfileModels, activities.TrainProfileInput{Tenant: in.Tenant, AsOf: in.AsOf,
		CalibrationWeeks: in.CalibrationWeeks, HoldoutWeeks: in.HoldoutWeeks,
		TrainingID: info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID}).Get(ctx, &res.Training)
	if err != nil {
		return res, fmt.Errorf("train profile models of %s: %w", in.Tenant, err)
	}
	if in.SkipRefresh {
		return res, nil
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            ProfileRefreshWorkflowID(in.Tenant),
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		TypedSearchAttributes: temporal.NewSearchAttributes(TenantAttribute.ValueSet(in.Tenant), KindAttribute.ValueSet(profilesKind)),
	})
	f := workflow.ExecuteChildWorkflow(cctx, ProfileRefresh, ProfileRefreshInput{Tenant: in.Tenant, AsOf: in.AsOf})
	if err := f.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		if temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			return res, nil // a refresh is running; it scores with whatever is promoted now
		}
		return res, fmt.Errorf("start profile refresh of %s: %w", in.Tenant, err)
	}
	var refreshed ProfileRefreshResult
	if err := f.Get(ctx, &refreshed); err != nil {
		return res, fmt.Errorf("profile refresh of %s: %w", in.Tenant, err)
	}
	res.Refresh = &refreshed
	return res, nil
}

// ProfileRefresh rebuilds a tenant's behaviour summaries (one SQL aggregation), then
// scores every customer and updates the segment memberships in chunks, in one long
// activity that heartbeats the last customer id of each chunk and resumes after it
// when retried.
func ProfileRefresh(ctx workflow.Context, in ProfileRefreshInput) (ProfileRefreshResult, error) {
	res := ProfileRefreshResult{AsOf: in.AsOf}
	if in.Tenant == "" {
		return res, temporal.NewNonRetryableApplicationError("profile refresh needs a tenant", "InvalidInput", nil)
	}
	if res.AsOf.IsZero() {
		res.AsOf = workflow.Now(ctx).UTC()
	}
	prepCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var p *activities.Profiles
	if err := workflow.ExecuteActivity(prepCtx, p.PrepareProfileRefresh, in.Tenant, res.AsOf).Get(ctx, &res.Summarised); err != nil {
		return res, fmt.Errorf("summarise profiles of %s: %w", in.Tenant, err)
	}
	refreshCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 4 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{"InvalidSegment"}},
	})
	err := workflow.ExecuteActivity(refreshCtx, p.RefreshProfiles, activities.RefreshInput{Tenant: in.Tenant, AsOf: res.AsOf}).Get(ctx, &res.Progress)
	if err != nil {
		return res, fmt.Errorf("refresh profiles of %s: %w", in.Tenant, err)
	}
	return res, nil
}

// ProfileSweepInput is a training of every tenant with profile work (conversions in
// the last Window, CDP profiles or segments).
type ProfileSweepInput struct {
	Window time.Duration
}

// WeeklyProfileTraining is the sweep the weekly profile schedule runs.
var WeeklyProfileTraining = ProfileSweepInput{Window: 365 * 24 * time.Hour}

// ProfileSweepResult says what a profile sweep did.
type ProfileSweepResult struct {
	Tenants []string
	Joined  int // trainings already running, left to finish
}

// ProfileTrainingSweep runs one child ProfileModelTraining (with its refresh) per
// tenant with profile work, all at once, and awaits them.
func ProfileTrainingSweep(ctx workflow.Context, in ProfileSweepInput) (ProfileSweepResult, error) {
	var res ProfileSweepResult
	if in.Window <= 0 {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("profile sweep needs a window, got %v", in.Window), "InvalidInput", nil)
	}
	var p *activities.Profiles
	if err := workflow.ExecuteActivity(sweepActivityOptions(ctx), p.ProfileTenants, workflow.Now(ctx).Add(-in.Window)).Get(ctx, &res.Tenants); err != nil {
		return res, err
	}
	var failed []string
	res.Joined, failed = runTenantChildren(ctx, res.Tenants, func(tenant string) (string, string, any, any) {
		return ProfileTrainingWorkflowID(tenant), profilesKind, ProfileModelTraining, ProfileTrainingInput{Tenant: tenant}
	})
	if len(failed) > 0 {
		return res, fmt.Errorf("profile sweep: %d of %d trainings failed: %v", len(failed), len(res.Tenants), failed)
	}
	return res, nil
}
