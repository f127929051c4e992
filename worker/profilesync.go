package worker

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/workflows"
)

// EnsureProfileSyncSchedule creates a CDP connection's recurring ProfileSync, or
// updates the existing schedule to it.
func EnsureProfileSyncSchedule(ctx context.Context, c client.Client, in workflows.SyncInput) error {
	return ensureSchedule(ctx, c, workflows.ProfileSyncScheduleOptions(in))
}
