package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestProfileSyncIDsAndSchedule(t *testing.T) {
	in := workflows.SyncInput{Tenant: "acme", Platform: "segment", ConnectionID: "seg"}
	if got := workflows.ProfileSyncWorkflowID("acme", "segment", "seg"); got != "profilesync/acme/segment/seg" {
		t.Errorf("id %q", got)
	}
	opts := workflows.ProfileSyncScheduleOptions(in)
	if opts.ID != workflows.SyncScheduleID("acme", "segment", "seg") || opts.Spec.Intervals[0].Every != 15*time.Minute {
		t.Errorf("schedule %s every %v", opts.ID, opts.Spec.Intervals[0].Every)
	}
	sa := workflows.ProfileSyncStartOptions(in).TypedSearchAttributes
	if v, _ := sa.GetKeyword(workflows.PlatformAttribute); v != "segment" {
		t.Errorf("platform attribute %q", v)
	}
	if v, _ := sa.GetKeyword(workflows.KindAttribute); v != workflows.ProfileSyncKind {
		t.Errorf("kind attribute %q", v)
	}
}

// TestProfileSyncRetriesThenReturns: a failed attempt is retried and the result of
// the successful one returned; a refused grant is not retried.
func TestProfileSyncRetriesThenReturns(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.ProfileSync{}
	attempts := 0
	env.OnActivity(a.SyncProfiles, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ProfileSyncInput) (activities.ProfileSyncResult, error) {
			attempts++
			if in.Tenant != "acme" || in.ConnectionID != "seg" {
				t.Errorf("input %+v", in)
			}
			if attempts == 1 {
				return activities.ProfileSyncResult{}, errors.New("worker lost")
			}
			return activities.ProfileSyncResult{Customers: 3, Changed: 2, ResumedAfter: "c1"}, nil
		})
	env.ExecuteWorkflow(workflows.ProfileSync, workflows.SyncInput{Tenant: "acme", Platform: "segment", ConnectionID: "seg"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res activities.ProfileSyncResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Changed != 2 || res.ResumedAfter != "c1" || attempts != 2 {
		t.Fatalf("result %+v %v after %d attempts", res, err, attempts)
	}

	env = s.NewTestWorkflowEnvironment()
	attempts = 0
	env.OnActivity(a.SyncProfiles, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.ProfileSyncInput) (activities.ProfileSyncResult, error) {
			attempts++
			return activities.ProfileSyncResult{}, temporal.NewNonRetryableApplicationError("revoked", activities.ErrTypeReauthorize, nil)
		})
	env.ExecuteWorkflow(workflows.ProfileSync, workflows.SyncInput{Tenant: "acme", Platform: "segment", ConnectionID: "seg"})
	if err := env.GetWorkflowError(); err == nil || attempts != 1 {
		t.Fatalf("reauthorize: %v after %d attempts", err, attempts)
	}
}
