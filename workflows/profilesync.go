package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// ProfileSyncEvery is how often a CDP connection's profiles are synced.
const ProfileSyncEvery = 15 * time.Minute

// ProfileSyncKind is the TouchpointKind search attribute of profile syncs.
const ProfileSyncKind = "profilesync"

// ProfileSyncWorkflowID is the id of a CDP connection's ProfileSync: at most one
// runs at a time.
func ProfileSyncWorkflowID(tenant, platform, connection string) string {
	return fmt.Sprintf("profilesync/%s/%s/%s", tenant, platform, connection)
}

// ProfileSyncStartOptions start a ProfileSync that fails with
// serviceerror.WorkflowExecutionAlreadyStarted while another runs.
func ProfileSyncStartOptions(in SyncInput) client.StartWorkflowOptions {
	return exclusiveStartOptions(ProfileSyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), SyncSearchAttributes(in.Tenant, in.Platform, ProfileSyncKind))
}

// ProfileSyncScheduleOptions is a CDP connection's recurring profile sync. Its id is
// the connection's SyncScheduleID, as for the ad platforms: a connection has one
// schedule whatever it syncs, so the schedules API (list, pause, resume, trigger,
// delete) serves both without knowing which.
func ProfileSyncScheduleOptions(in SyncInput) client.ScheduleOptions {
	return connectionScheduleOptions(in, ProfileSyncEvery, ProfileSyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), ProfileSync, ProfileSyncKind)
}

func profileActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		// A dead worker is noticed within the heartbeat timeout and the retry resumes
		// after the last stored customer. Longer than SyncStream's: a CDP request
		// may wait out the rate limit or a throttle between heartbeats.
		HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 5 * time.Minute, MaximumAttempts: 20,
			NonRetryableErrorTypes: []string{activities.ErrTypeReauthorize, activities.ErrTypeSyncConfig}},
	})
}

// ProfileSync runs one sync of a CDP connection: Segment and mParticle profiles of
// the customers seen since the last run (and of every stored profile) are merged
// latest-wins into customer_profiles and the merged profile pushed back; LiveRamp
// connections resolve the stored profiles' RampIDs. Reruns change nothing.
func ProfileSync(ctx workflow.Context, in SyncInput) (activities.ProfileSyncResult, error) {
	if in.Tenant == "" || in.ConnectionID == "" {
		return activities.ProfileSyncResult{}, temporal.NewNonRetryableApplicationError("tenant and connection are required", "InvalidSync", nil)
	}
	var a *activities.ProfileSync
	var res activities.ProfileSyncResult
	err := workflow.ExecuteActivity(profileActivityOptions(ctx), a.SyncProfiles,
		activities.ProfileSyncInput{Tenant: in.Tenant, ConnectionID: in.ConnectionID}).Get(ctx, &res)
	return res, err
}
