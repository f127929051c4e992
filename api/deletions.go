package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// DeletionWorkflows starts and queries DataSubjectDeletion workflows.
type DeletionWorkflows interface {
	// StartDeletion starts the subject's deletion, or finds the one running.
	StartDeletion(ctx context.Context, ref activities.DeletionRef) (workflowID string, err error)
	// DeletionState queries a deletion; an unknown one is ENotFound.
	DeletionState(ctx context.Context, ref activities.DeletionRef) (workflows.DeletionState, error)
}

// TemporalDeletions is DeletionWorkflows on a Temporal client.
type TemporalDeletions struct{ Client client.Client }

// StartDeletion implements DeletionWorkflows.
func (t TemporalDeletions) StartDeletion(ctx context.Context, ref activities.DeletionRef) (string, error) {
	run, err := t.Client.ExecuteWorkflow(ctx, workflows.DeletionStartOptions(ref), workflows.DataSubjectDeletion, ref)
	if err != nil {
		return "", fmt.Errorf("start deletion: %w", err)
	}
	return run.GetID(), nil
}

// DeletionState implements DeletionWorkflows.
func (t TemporalDeletions) DeletionState(ctx context.Context, ref activities.DeletionRef) (workflows.DeletionState, error) {
	var st workflows.DeletionState
	v, err := t.Client.QueryWorkflow(ctx, workflows.DeletionWorkflowID(ref.Tenant, ref.RequestID), "", workflows.DeletionStatusQuery)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, touchpoint.Errorf(touchpoint.ENotFound, "no deletion workflow for request %s", ref.RequestID)
	}
	if err != nil {
		return st, fmt.Errorf("query deletion: %w", err)
	}
	return st, v.Get(&st)
}

// DeletionDeps serve /v1/deletions; a zero Requests.DB answers 503.
type DeletionDeps struct {
	Requests  store.Deletions
	Privacy   store.Privacy
	Audit     store.Audit
	Workflows DeletionWorkflows
}

// deletionBody is a deletion request: the regulation and the subject's identifiers.
type deletionBody struct {
	Regulation   string   `json:"regulation"`
	CustomerID   string   `json:"customer_id"`
	UserID       string   `json:"user_id"`
	EmailSHA256  string   `json:"email_sha256"`
	DeviceIDs    []string `json:"device_ids"`
	AnonymousIDs []string `json:"anonymous_ids"`
}

func (b deletionBody) subject() (store.SubjectIDs, error) {
	if b.Regulation != "GDPR" && b.Regulation != "CCPA" {
		return store.SubjectIDs{}, touchpoint.Errorf(touchpoint.EInvalid, "regulation must be GDPR or CCPA")
	}
	ids := store.SubjectIDs{DeviceIDs: b.DeviceIDs, AnonymousIDs: b.AnonymousIDs}
	for _, p := range []struct {
		v    string
		list *[]string
	}{{b.CustomerID, &ids.CustomerIDs}, {b.UserID, &ids.UserIDs}, {b.EmailSHA256, &ids.EmailSHA256}} {
		if p.v != "" {
			*p.list = []string{p.v}
		}
	}
	if len(ids.DeviceIDs)+len(ids.AnonymousIDs) > 100 {
		return store.SubjectIDs{}, touchpoint.Errorf(touchpoint.EInvalid, "at most 100 device and anonymous ids")
	}
	if err := ids.Normalize(); err != nil {
		return store.SubjectIDs{}, touchpoint.Errorf(touchpoint.EInvalid, "%v", err)
	}
	return ids, nil
}

func (s *Server) deletionsReady(w http.ResponseWriter, r *http.Request) bool {
	if s.deletions.Requests.DB == nil || s.deletions.Workflows == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "deletions are not served by this instance"))
		return false
	}
	return true
}

// handleCreateDeletion records the request, suppresses the subject before answering
// (so the consumers drop the subject's events from their next poll) and starts the
// workflow. A second request for the same subject while one runs returns it (200).
func (s *Server) handleCreateDeletion(w http.ResponseWriter, r *http.Request) {
	if !s.deletionsReady(w, r) {
		return
	}
	var b deletionBody
	if err := decodeBody(w, r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	ids, err := b.subject()
	if err != nil {
		writeError(w, r, err)
		return
	}
	tenant, ctx := tenantOf(r.Context()), r.Context()
	req, created, err := s.deletions.Requests.Create(ctx, tenant, b.Regulation, actorOf(ctx), ids, s.opts.Now().UTC())
	if err == nil {
		err = s.deletions.Privacy.Suppress(ctx, tenant, ids.All(), "deletion:"+req.RequestID)
	}
	_, aerr := s.deletions.Audit.Append(ctx, store.AuditEntry{TenantID: tenant, Actor: actorOf(ctx), Action: "deletion.requested",
		Subjects: ids.All(), Detail: map[string]any{"request_id": req.RequestID, "regulation": b.Regulation, "new": created},
		Outcome: store.OutcomeOf(err)})
	if err = errors.Join(err, aerr); err != nil {
		writeError(w, r, err)
		return
	}
	ref := activities.DeletionRef{Tenant: tenant, RequestID: req.RequestID}
	id, err := s.deletions.Workflows.StartDeletion(ctx, ref)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusAccepted
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, map[string]any{"deletion": req, "workflow_id": id})
}

func (s *Server) handleGetDeletion(w http.ResponseWriter, r *http.Request) {
	if !s.deletionsReady(w, r) {
		return
	}
	tenant := tenantOf(r.Context())
	req, err := s.deletions.Requests.Get(r.Context(), tenant, r.PathValue("id"))
	if errors.Is(err, store.ErrDeletionNotFound) {
		err = touchpoint.Errorf(touchpoint.ENotFound, "no deletion request %q", r.PathValue("id"))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := map[string]any{"deletion": req, "workflow_id": workflows.DeletionWorkflowID(tenant, req.RequestID)}
	// The workflow's view adds the step under way; the stored request is the record.
	if st, err := s.deletions.Workflows.DeletionState(r.Context(), activities.DeletionRef{Tenant: tenant, RequestID: req.RequestID}); err == nil {
		out["workflow"] = st
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleListDeletions(w http.ResponseWriter, r *http.Request) {
	if !s.deletionsReady(w, r) {
		return
	}
	limit, ok := queryLimit(r)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "limit must be 1..1000"))
		return
	}
	reqs, err := s.deletions.Requests.List(r.Context(), tenantOf(r.Context()), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deletions": reqs})
}
