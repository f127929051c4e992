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
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// deletionEnv mocks a deletion's activities: every step succeeds, and the one
// platform reports "running" polls times before pollsDone's answer.
func deletionEnv(t *testing.T, polls int, final string) (*testsuite.TestWorkflowEnvironment, *[]string) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	d := &activities.Deletion{}
	var order []string
	step := func(name string) func(context.Context, activities.DeletionRef) (activities.StepResult, error) {
		return func(context.Context, activities.DeletionRef) (activities.StepResult, error) {
			order = append(order, name)
			return activities.StepResult{Step: name}, nil
		}
	}
	env.OnActivity(d.SuppressSubject, mock.Anything, mock.Anything).Return(step("suppressed"))
	env.OnActivity(d.ResolveSubject, mock.Anything, mock.Anything).Return(step("resolved"))
	env.OnActivity(d.EraseSubjectData, mock.Anything, mock.Anything).Return(step("erased"))
	env.OnActivity(d.VerifyErasure, mock.Anything, mock.Anything).Return(step("verified"))
	env.OnActivity(d.CompleteDeletion, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DeletionRef) (store.DeletionRequest, error) {
			order = append(order, "completed")
			return store.DeletionRequest{Status: store.DeletionCompleted}, nil
		})
	env.OnActivity(d.FailDeletion, mock.Anything, mock.Anything, mock.Anything).Return(
		func(context.Context, activities.DeletionRef, string) error {
			order = append(order, "failed")
			return nil
		})
	target := activities.PropagationTarget{ConnectionID: "seg", Platform: "segment"}
	env.OnActivity(d.PropagationTargets, mock.Anything, mock.Anything).Return([]activities.PropagationTarget{target}, nil)
	env.OnActivity(d.SubmitErasure, mock.Anything, mock.Anything, target).Return(
		func(context.Context, activities.DeletionRef, activities.PropagationTarget) (store.Propagation, error) {
			order = append(order, "submitted")
			return store.Propagation{ConnectionID: "seg", State: "running"}, nil
		})
	n := 0
	env.OnActivity(d.PollErasure, mock.Anything, mock.Anything, target).Return(
		func(context.Context, activities.DeletionRef, activities.PropagationTarget) (store.Propagation, error) {
			n++
			if n == 2 {
				return store.Propagation{}, errors.New("segment: 503") // transient: retried
			}
			if n <= polls+1 {
				return store.Propagation{ConnectionID: "seg", State: "running", Polls: n}, nil
			}
			order = append(order, "polled:"+final)
			return store.Propagation{ConnectionID: "seg", State: final, Polls: n}, nil
		})
	return env, &order
}

// TestDeletionRunsStepsInOrderAndPollsWithBackoff: the steps run in the order the
// issue sets, a platform that answers "running" several times (and fails once in
// between) is polled on a growing interval until done, and the status query shows
// the propagation midway.
func TestDeletionRunsStepsInOrderAndPollsWithBackoff(t *testing.T) {
	env, order := deletionEnv(t, 4, "done")
	start := env.Now()
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.DeletionStatusQuery)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		var st workflows.DeletionState
		if err := v.Get(&st); err != nil || st.Step != "propagate" || st.Propagations["seg"].State != "running" {
			t.Errorf("midway status %+v (%v)", st, err)
		}
	}, 2*time.Minute)
	env.ExecuteWorkflow(workflows.DataSubjectDeletion, activities.DeletionRef{Tenant: "acme", RequestID: "r1"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"suppressed", "resolved", "erased", "submitted", "polled:done", "verified", "completed"}
	if len(*order) != len(want) {
		t.Fatalf("order %v, want %v", *order, want)
	}
	for i := range want {
		if (*order)[i] != want[i] {
			t.Fatalf("order %v, want %v", *order, want)
		}
	}
	// 5 waits of 1, 2, 4, 8, 16 minutes before the sixth poll answered done.
	if took := env.Now().Sub(start); took < 31*time.Minute || took > 40*time.Minute {
		t.Fatalf("propagation took %v of workflow time", took)
	}
	var st workflows.DeletionState
	if err := env.GetWorkflowResult(&st); err != nil || st.Step != "completed" {
		t.Fatalf("result %+v (%v)", st, err)
	}
}

// TestDeletionRecordsARefusedPropagation: local erasure is still verified, then the
// request is marked failed and the workflow fails naming the platform.
func TestDeletionRecordsARefusedPropagation(t *testing.T) {
	env, order := deletionEnv(t, 1, "failed")
	env.ExecuteWorkflow(workflows.DataSubjectDeletion, activities.DeletionRef{Tenant: "acme", RequestID: "r1"})
	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeErasureRefused {
		t.Fatalf("error %v, want %s", err, activities.ErrTypeErasureRefused)
	}
	got := *order
	if got[len(got)-2] != "verified" || got[len(got)-1] != "failed" {
		t.Fatalf("order %v: want verify then failed", got)
	}
}

func TestDeletionStartOptions(t *testing.T) {
	o := workflows.DeletionStartOptions(activities.DeletionRef{Tenant: "acme", RequestID: "ab12"})
	if o.ID != "deletion/acme/ab12" {
		t.Fatalf("id %q", o.ID)
	}
	if v, _ := o.TypedSearchAttributes.GetKeyword(workflows.KindAttribute); v != "deletion" {
		t.Fatalf("kind %q", v)
	}
}
