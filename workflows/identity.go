package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// IdentityUpdateWorkflowID is the id of the scheduled identity update: one runs at a
// time.
const IdentityUpdateWorkflowID = "identity-update"

// IdentityUpdateInput is an identity update of one tenant ("" for every tenant) from
// Since (zero: the stored watermark).
type IdentityUpdateInput struct {
	Tenant string
	Since  time.Time
}

// IdentityUpdate brings the persisted identity graph up to date with the archive: one
// activity that reads the new archive batches, links identifiers, matches devices,
// expires old links and stores links and watermark. The activity heartbeats while it
// reads; a retry redoes the same update, which stores the same links.
func IdentityUpdate(ctx workflow.Context, in IdentityUpdateInput) (activities.UpdateIdentityResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var a *activities.Identity
	var res activities.UpdateIdentityResult
	err := workflow.ExecuteActivity(ctx, a.UpdateIdentity, activities.UpdateIdentityInput(in)).Get(ctx, &res)
	return res, err
}
