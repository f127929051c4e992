package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestIdentityUpdateRunsAndRetries: the update passes its input to the activity, is
// retried after a failure, and returns the activity's result.
func TestIdentityUpdateRunsAndRetries(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Identity{}
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	env.OnActivity(a.UpdateIdentity, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.UpdateIdentityInput) (activities.UpdateIdentityResult, error) {
			calls++
			if in.Tenant != "acme" || !in.Since.Equal(since) {
				t.Errorf("activity input %+v", in)
			}
			if calls == 1 {
				return activities.UpdateIdentityResult{}, errors.New("postgres restarting")
			}
			return activities.UpdateIdentityResult{Records: 7, Tenants: 1, Links: 3}, nil
		})
	env.ExecuteWorkflow(workflows.IdentityUpdate, workflows.IdentityUpdateInput{Tenant: "acme", Since: since})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res activities.UpdateIdentityResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if calls != 2 || res.Records != 7 || res.Links != 3 {
		t.Fatalf("calls %d, result %+v", calls, res)
	}
}
