package workflows

import (
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
)

// DeletionStatusQuery is the query that returns a deletion's DeletionState.
const DeletionStatusQuery = "status"

// DeletionWorkflowID is the id of the deletion of one subject (by request id, itself
// a keyed hash of the subject): a second request for the subject while one runs joins
// it instead of starting another.
func DeletionWorkflowID(tenant, requestID string) string {
	return activities.DeletionWorkflowIDOf(activities.DeletionRef{Tenant: tenant, RequestID: requestID})
}

// DeletionStartOptions start a DataSubjectDeletion, or find the one already running
// for the subject (WorkflowIDConflictPolicy USE_EXISTING).
func DeletionStartOptions(ref activities.DeletionRef) client.StartWorkflowOptions {
	return joiningStartOptions(DeletionWorkflowID(ref.Tenant, ref.RequestID), ref.Tenant, "deletion")
}

// DeletionState is what the status query returns: the step under way and the
// results of the finished ones (counts only, never identifiers).
type DeletionState struct {
	Step         string
	Done         []activities.StepResult
	Propagations map[string]store.Propagation
	Failure      string `json:",omitempty"`
}

// Propagation polling: first after a minute, then backing off to every six hours,
// for as long as the platform takes (LiveRamp allows itself 45 days).
const (
	firstErasurePoll = time.Minute
	maxErasurePoll   = 6 * time.Hour
)

// DataSubjectDeletion erases one data subject: suppress, resolve the identity, erase
// every personal row and key, propagate to the connected platforms, verify nothing
// remains, complete. Every step is an idempotent activity that reads the subject from
// the request row, so the workflow survives worker restarts at any point and cannot
// act on another subject.
func DataSubjectDeletion(ctx workflow.Context, ref activities.DeletionRef) (DeletionState, error) {
	st := &DeletionState{Step: "suppress", Propagations: map[string]store.Propagation{}}
	if err := workflow.SetQueryHandler(ctx, DeletionStatusQuery, func() (DeletionState, error) { return *st, nil }); err != nil {
		return *st, err
	}
	var d *activities.Deletion
	actx := workflow.WithActivityOptions(ctx, deletionActivityOptions(10*time.Minute))
	for _, step := range []struct {
		name string
		fn   any
	}{{"suppress", d.SuppressSubject}, {"resolve", d.ResolveSubject}, {"erase", d.EraseSubjectData}} {
		if err := st.run(actx, step.name, step.fn, ref); err != nil {
			return *st, err
		}
	}
	st.Step = "propagate"
	perr := propagate(ctx, ref, st)
	// Local erasure is verified even when a platform refused: that part is done.
	if err := st.run(actx, "verify", d.VerifyErasure, ref); err != nil {
		return *st, err
	}
	if perr != nil {
		st.Failure = perr.Error()
		_ = workflow.ExecuteActivity(actx, d.FailDeletion, ref, perr.Error()).Get(ctx, nil)
		return *st, perr
	}
	st.Step = "complete"
	var done store.DeletionRequest
	if err := workflow.ExecuteActivity(actx, d.CompleteDeletion, ref).Get(ctx, &done); err != nil {
		st.Failure = err.Error()
		return *st, err
	}
	st.Step = "completed"
	return *st, nil
}

func (st *DeletionState) run(ctx workflow.Context, name string, fn any, ref activities.DeletionRef) error {
	st.Step = name
	var res activities.StepResult
	if err := workflow.ExecuteActivity(ctx, fn, ref).Get(ctx, &res); err != nil {
		st.Failure = err.Error()
		return err
	}
	st.Done = append(st.Done, res)
	return nil
}

// deletionActivityOptions retry transient failures without limit: a deletion must
// finish, and every activity is idempotent. Non-retryable errors (verification
// residue, a missing request) end it.
func deletionActivityOptions(timeout time.Duration) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		// Also bounds the short steps that never heartbeat: an attempt lost with its
		// worker is retried elsewhere after at most this long.
		HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Minute,
		},
	}
}

// propagate submits the deletion to every connected platform that takes one and
// polls each, concurrently, until it is done or refused. Polls are durable timers,
// so waiting days costs nothing and survives restarts.
func propagate(ctx workflow.Context, ref activities.DeletionRef, st *DeletionState) error {
	var d *activities.Deletion
	actx := workflow.WithActivityOptions(ctx, deletionActivityOptions(2*time.Minute))
	var targets []activities.PropagationTarget
	if err := workflow.ExecuteActivity(actx, d.PropagationTargets, ref).Get(ctx, &targets); err != nil {
		return err
	}
	wg := workflow.NewWaitGroup(ctx)
	var firstErr error
	for _, t := range targets {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			if err := propagateTo(ctx, actx, ref, t, st); err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait(ctx)
	st.Done = append(st.Done, activities.StepResult{Step: "propagated", Counts: map[string]int64{"platforms": int64(len(targets))}})
	return firstErr
}

func propagateTo(ctx, actx workflow.Context, ref activities.DeletionRef, t activities.PropagationTarget, st *DeletionState) error {
	var d *activities.Deletion
	var p store.Propagation
	if err := workflow.ExecuteActivity(actx, d.SubmitErasure, ref, t).Get(ctx, &p); err != nil {
		return err
	}
	st.Propagations[t.ConnectionID] = p
	for wait := firstErasurePoll; p.State == string(connectors.ErasureRunning); wait = min(2*wait, maxErasurePoll) {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return err
		}
		if err := workflow.ExecuteActivity(actx, d.PollErasure, ref, t).Get(ctx, &p); err != nil {
			return err
		}
		st.Propagations[t.ConnectionID] = p
	}
	if p.State == string(connectors.ErasureFailed) {
		return temporal.NewNonRetryableApplicationError("platform refused the erasure: "+t.Platform+" "+p.Detail,
			activities.ErrTypeErasureRefused, nil)
	}
	return nil
}
