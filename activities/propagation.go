package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
)

// EraserFactory builds the client that propagates deletions to a connection's
// platform, or nil when the platform has no deletion to propagate to.
type EraserFactory func(ctx context.Context, c store.Connection) (connectors.Eraser, error)

// PropagationTarget is one connection a deletion is propagated to.
type PropagationTarget struct {
	ConnectionID string
	Platform     string
}

// ErrTypeErasureRefused is a platform's final refusal of an erasure.
const ErrTypeErasureRefused = "ErasureRefused"

// PropagationTargets lists the tenant's connections whose platform takes deletions.
func (d *Deletion) PropagationTargets(ctx context.Context, ref DeletionRef) ([]PropagationTarget, error) {
	conns, err := d.Connections.List(ctx, ref.Tenant)
	if err != nil {
		return nil, err
	}
	out := []PropagationTarget{}
	for _, c := range conns {
		full, err := d.Connections.Get(ctx, ref.Tenant, c.ConnectionID)
		if err != nil {
			return nil, err
		}
		// A connection whose eraser cannot be built (bad credentials) is still a
		// target: its submit then fails visibly instead of being skipped silently.
		if e, err := d.eraser(ctx, full); err != nil || e != nil {
			out = append(out, PropagationTarget{ConnectionID: c.ConnectionID, Platform: c.Platform})
		}
	}
	return out, nil
}

func (d *Deletion) eraser(ctx context.Context, c store.Connection) (connectors.Eraser, error) {
	if d.Erasers == nil {
		return nil, nil
	}
	return d.Erasers(ctx, c)
}

func (d *Deletion) target(ctx context.Context, ref DeletionRef, t PropagationTarget) (connectors.Eraser, error) {
	c, err := d.Connections.Get(ctx, ref.Tenant, t.ConnectionID)
	if errors.Is(err, store.ErrConnectionNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	if err != nil {
		return nil, err
	}
	e, err := d.eraser(ctx, c)
	if err != nil || e == nil {
		err = fmt.Errorf("connection %s (%s) takes no deletions: %v", t.ConnectionID, t.Platform, err)
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	return e, nil
}

func erasureRequest(ref DeletionRef, regulation string, ids store.SubjectIDs) connectors.ErasureRequest {
	return connectors.ErasureRequest{
		RequestID: ref.RequestID, Regulation: regulation,
		CustomerIDs: ids.CustomerIDs, UserIDs: ids.UserIDs, EmailSHA256: ids.EmailSHA256,
		DeviceIDs: ids.DeviceIDs, AnonymousIDs: ids.AnonymousIDs,
	}
}

// SubmitErasure submits the deletion to one platform, once: a retried or repeated
// call finds the stored submission and returns it.
func (d *Deletion) SubmitErasure(ctx context.Context, ref DeletionRef, t PropagationTarget) (store.Propagation, error) {
	if p, ok, err := d.Requests.Propagation(ctx, ref.Tenant, ref.RequestID, t.ConnectionID); err != nil || ok {
		return p, err
	}
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return store.Propagation{}, err
	}
	req, err := d.Requests.Get(ctx, ref.Tenant, ref.RequestID)
	if err != nil {
		return store.Propagation{}, err
	}
	e, err := d.target(ctx, ref, t)
	if err != nil {
		return store.Propagation{}, err
	}
	p := store.Propagation{ConnectionID: t.ConnectionID, Platform: t.Platform, State: string(connectors.ErasureRunning), SubmittedAt: time.Now().UTC()}
	p.ExternalID, err = e.Submit(ctx, erasureRequest(ref, req.Regulation, ids))
	switch {
	case errors.Is(err, connectors.ErrNothingToErase):
		now := time.Now().UTC()
		p.State, p.Detail, p.FinishedAt = string(connectors.ErasureDone), "platform holds none of the subject's identifiers", &now
	case err != nil:
		return store.Propagation{}, d.classifyErasure(ctx, t, err)
	}
	if err := d.Requests.SavePropagation(ctx, ref.Tenant, ref.RequestID, p); err != nil {
		return store.Propagation{}, err
	}
	return p, d.auditPropagation(ctx, ref, ids, "deletion.propagation_submitted", p)
}

// PollErasure asks the platform how far the submitted erasure got and stores the
// answer. A transient failure is an ordinary error, retried with back-off.
func (d *Deletion) PollErasure(ctx context.Context, ref DeletionRef, t PropagationTarget) (store.Propagation, error) {
	p, ok, err := d.Requests.Propagation(ctx, ref.Tenant, ref.RequestID, t.ConnectionID)
	if err != nil {
		return store.Propagation{}, err
	}
	if !ok {
		return store.Propagation{}, temporal.NewNonRetryableApplicationError("erasure was never submitted to "+t.ConnectionID, ErrTypeDeletionGone, nil)
	}
	if p.State != string(connectors.ErasureRunning) {
		return p, nil
	}
	e, err := d.target(ctx, ref, t)
	if err != nil {
		return store.Propagation{}, err
	}
	st, err := e.Status(ctx, p.ExternalID)
	if err != nil {
		return store.Propagation{}, d.classifyErasure(ctx, t, err)
	}
	p.Polls++
	p.State, p.Detail = string(st.State), st.Detail
	if st.State != connectors.ErasureRunning {
		now := time.Now().UTC()
		p.FinishedAt = &now
	}
	if err := d.Requests.SavePropagation(ctx, ref.Tenant, ref.RequestID, p); err != nil {
		return store.Propagation{}, err
	}
	if st.State == connectors.ErasureRunning {
		return p, nil
	}
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return store.Propagation{}, err
	}
	return p, d.auditPropagation(ctx, ref, ids, "deletion.propagation_"+string(st.State), p)
}

func (d *Deletion) classifyErasure(ctx context.Context, t PropagationTarget, err error) error {
	var te *connectors.ThrottledError
	var se *connectors.StatusError
	switch {
	case errors.As(err, &se) && se.Status >= 400 && se.Status < 500 && se.Status != 408 && se.Status != 429:
		// The platform refused the request itself (invalid, unsupported): retrying
		// the same request cannot help, a person must look at it.
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("connection %s: %v", t.ConnectionID, err), ErrTypeErasureRefused, err)
	case errors.Is(err, connectors.ErrReauthorize):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("connection %s: %v", t.ConnectionID, err), ErrTypeReauthorize, err)
	case errors.As(err, &te):
		return temporal.NewApplicationErrorWithOptions(te.Error(), ErrTypeThrottled,
			temporal.ApplicationErrorOptions{Cause: err, NextRetryDelay: te.RetryAfter})
	}
	return err
}

func (d *Deletion) auditPropagation(ctx context.Context, ref DeletionRef, ids store.SubjectIDs, action string, p store.Propagation) error {
	_, err := d.Audit.Append(ctx, store.AuditEntry{
		TenantID: ref.Tenant, Actor: "workflow:" + DeletionWorkflowIDOf(ref), Action: action, Subjects: ids.All(),
		Detail: map[string]any{"request_id": ref.RequestID, "connection_id": p.ConnectionID, "platform": p.Platform,
			"external_id": p.ExternalID, "state": p.State, "platform_status": p.Detail, "polls": p.Polls},
	})
	return err
}

func isNotFound(err error) bool { return touchpoint.KindOf(err) == touchpoint.ENotFound }
