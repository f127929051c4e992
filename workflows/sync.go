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

// PlatformAttribute is the search attribute carrying a sync's platform.
var PlatformAttribute = temporal.NewSearchAttributeKeyKeyword("TouchpointPlatform")

// DefaultBackfillChunkDays is how many days one Backfill activity syncs.
const DefaultBackfillChunkDays = 14

// SyncInput names a connection to sync.
type SyncInput struct {
	Tenant       string
	Platform     string // activities.PlatformGoogleAds or activities.PlatformMeta
	ConnectionID string
}

// SyncWorkflowID is the id of a connection's PlatformSync: at most one runs at a time.
func SyncWorkflowID(tenant, platform, connection string) string {
	return fmt.Sprintf("sync/%s/%s/%s", tenant, platform, connection)
}

// BackfillWorkflowID is the id of a connection's Backfill: at most one runs at a time.
func BackfillWorkflowID(tenant, platform, connection string) string {
	return fmt.Sprintf("backfill/%s/%s/%s", tenant, platform, connection)
}

// SyncSearchAttributes are the attributes that let the Web UI filter syncs by
// tenant and platform.
func SyncSearchAttributes(tenant, platform, kind string) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(TenantAttribute.ValueSet(tenant), PlatformAttribute.ValueSet(platform), KindAttribute.ValueSet(kind))
}

// SyncStartOptions start a PlatformSync that fails with
// serviceerror.WorkflowExecutionAlreadyStarted while another runs.
func SyncStartOptions(in SyncInput) client.StartWorkflowOptions {
	return exclusiveStartOptions(SyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), SyncSearchAttributes(in.Tenant, in.Platform, "sync"))
}

// exclusiveStartOptions start the workflow id on the task queue, failing with
// serviceerror.WorkflowExecutionAlreadyStarted while another run of it is open.
func exclusiveStartOptions(id string, attrs temporal.SearchAttributes) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		// Without it the SDK returns the running workflow as if it had started it.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    attrs,
	}
}

// BackfillInput is a backfill of a connection's days [From, To] (inclusive).
type BackfillInput struct {
	SyncInput
	From, To  time.Time
	ChunkDays int // zero: DefaultBackfillChunkDays
}

// BackfillStartOptions start a Backfill that fails while another runs for the
// connection.
func BackfillStartOptions(in BackfillInput) client.StartWorkflowOptions {
	return exclusiveStartOptions(BackfillWorkflowID(in.Tenant, in.Platform, in.ConnectionID), SyncSearchAttributes(in.Tenant, in.Platform, "backfill"))
}

// BackfillProgress is what the progress query returns and Backfill returns at the end.
type BackfillProgress struct {
	ChunksDone  int       `json:"chunks_done"`
	ChunksTotal int       `json:"chunks_total"`
	Rows        int       `json:"rows"`
	SyncedTo    time.Time `json:"synced_to,omitzero"`
	Resumed     int       `json:"resumed"`
	Done        bool      `json:"done"`
	// Status and Failure are the workflow's execution status ("running",
	// "completed", "failed", "terminated", ...) and failure message, filled in by
	// whoever describes the workflow (the API); the workflow itself leaves them empty.
	Status  string `json:"status,omitempty"`
	Failure string `json:"failure,omitempty"`
}

func syncActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		// A dead worker is noticed within the heartbeat timeout and the retry
		// resumes after the last stored day.
		HeartbeatTimeout: 5 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Minute, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{activities.ErrTypeReauthorize, activities.ErrTypeSyncConfig}},
	})
}

// PlatformSync runs one incremental sync of a connection: each stream's activity
// re-reads the platform's lookback before the stored cursor and upserts by natural
// key, so reruns never duplicate and restated days replace old numbers.
func PlatformSync(ctx workflow.Context, in SyncInput) (activities.SyncStreamResult, error) {
	if in.Tenant == "" || in.ConnectionID == "" {
		return activities.SyncStreamResult{}, temporal.NewNonRetryableApplicationError("tenant and connection are required", "InvalidSync", nil)
	}
	var a *activities.Sync
	var res activities.SyncStreamResult
	err := workflow.ExecuteActivity(syncActivityOptions(ctx), a.SyncStream,
		activities.SyncStreamInput{Tenant: in.Tenant, ConnectionID: in.ConnectionID}).Get(ctx, &res)
	return res, err
}

// Backfill syncs a connection's days [From, To] one chunk after another, reporting
// its progress through the "progress" query.
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillProgress, error) {
	if in.Tenant == "" || in.ConnectionID == "" || in.From.IsZero() || in.To.Before(in.From) {
		return BackfillProgress{}, temporal.NewNonRetryableApplicationError("backfill needs a tenant, a connection and from <= to", "InvalidSync", nil)
	}
	days := in.ChunkDays
	if days <= 0 {
		days = DefaultBackfillChunkDays
	}
	var parts [][2]time.Time
	for start := in.From; !start.After(in.To); start = start.AddDate(0, 0, days) {
		end := start.AddDate(0, 0, days-1)
		if end.After(in.To) {
			end = in.To
		}
		parts = append(parts, [2]time.Time{start, end})
	}
	progress := BackfillProgress{ChunksTotal: len(parts)}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BackfillProgress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	actx := syncActivityOptions(ctx)
	var a *activities.Sync
	for _, p := range parts {
		var res activities.SyncStreamResult
		err := workflow.ExecuteActivity(actx, a.SyncStream,
			activities.SyncStreamInput{Tenant: in.Tenant, ConnectionID: in.ConnectionID, From: p[0], To: p[1]}).Get(ctx, &res)
		if err != nil {
			return progress, fmt.Errorf("backfill %s..%s: %w", p[0].Format(time.DateOnly), p[1].Format(time.DateOnly), err)
		}
		progress.ChunksDone++
		progress.Rows += res.Rows
		progress.SyncedTo = p[1]
		if !res.ResumedFrom.IsZero() {
			progress.Resumed++
		}
	}
	progress.Done = true
	return progress, nil
}

// SyncEvery is how often a platform's recurring sync runs.
func SyncEvery(platform string) time.Duration {
	switch platform {
	case activities.PlatformMeta:
		return 30 * time.Minute
	case activities.PlatformLinkedIn:
		// LinkedIn's daily per-application limits are unpublished and reset at
		// midnight UTC; hourly keeps a connection's calls in the low hundreds a day.
		return time.Hour
	case activities.PlatformGA4, activities.PlatformPostHog:
		// Near real time. A run re-reads the 2-day lookback in one request per page:
		// 12 an hour, inside GA4's hourly property tokens and PostHog's 120 HogQL
		// queries an hour per project.
		return 5 * time.Minute
	}
	return 15 * time.Minute // Google Ads
}

// SyncScheduleID is the id of a connection's recurring sync schedule.
func SyncScheduleID(tenant, platform, connection string) string {
	return "touchpoint-" + SyncWorkflowID(tenant, platform, connection)
}

// SyncScheduleOptions is a connection's recurring sync at its platform's frequency.
func SyncScheduleOptions(in SyncInput) client.ScheduleOptions {
	return connectionScheduleOptions(in, SyncEvery(in.Platform), SyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), PlatformSync, "sync")
}

// connectionScheduleOptions is a connection's recurring run of wf every interval,
// under the connection's SyncScheduleID (one schedule per connection, whatever it
// syncs) and the workflow id id.
func connectionScheduleOptions(in SyncInput, every time.Duration, id string, wf any, kind string) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:   SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID),
		Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}},
		Action: &client.ScheduleWorkflowAction{
			ID:                    id,
			Workflow:              wf,
			Args:                  []any{in},
			TaskQueue:             TaskQueue,
			TypedSearchAttributes: SyncSearchAttributes(in.Tenant, in.Platform, kind),
		},
		// A sync still running when the next is due is not doubled.
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	}
}
