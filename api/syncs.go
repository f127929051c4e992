package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// Syncs starts and schedules the platform sync workflows.
type Syncs interface {
	// EnsureSchedule creates the connection's recurring sync, or updates it.
	EnsureSchedule(ctx context.Context, in workflows.SyncInput) error
	// DeleteSchedule removes it; a missing schedule is not an error.
	DeleteSchedule(ctx context.Context, in workflows.SyncInput) error
	// StartSync starts a sync; while one runs it returns a *RunningError.
	StartSync(ctx context.Context, in workflows.SyncInput) (workflowID, runID string, err error)
	// StartBackfill starts a backfill; while one runs it returns a *RunningError.
	StartBackfill(ctx context.Context, in workflows.BackfillInput) (workflowID, runID string, err error)
	// BackfillProgress queries a backfill; an unknown one is ENotFound.
	BackfillProgress(ctx context.Context, workflowID string) (workflows.BackfillProgress, error)
}

// RunningError says the workflow asked for already runs.
type RunningError struct{ WorkflowID, RunID string }

func (e *RunningError) Error() string { return "workflow " + e.WorkflowID + " is already running" }

// TemporalSyncs is Syncs on a Temporal client.
type TemporalSyncs struct{ Client client.Client }

// EnsureSchedule implements Syncs.
func (t TemporalSyncs) EnsureSchedule(ctx context.Context, in workflows.SyncInput) error {
	if activities.IsCDP(in.Platform) {
		return worker.EnsureProfileSyncSchedule(ctx, t.Client, in)
	}
	return worker.EnsureSyncSchedule(ctx, t.Client, in)
}

// DeleteSchedule implements Syncs.
func (t TemporalSyncs) DeleteSchedule(ctx context.Context, in workflows.SyncInput) error {
	err := t.Client.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID)).Delete(ctx)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("delete sync schedule: %w", err)
	}
	return nil
}

// started reads ExecuteWorkflow's answer: a workflow already running is a
// *RunningError naming it by workflowID.
func started(workflowID string, run client.WorkflowRun, err error) (string, string, error) {
	var already *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &already) {
		return "", "", &RunningError{WorkflowID: workflowID, RunID: already.RunId}
	}
	if err != nil {
		return "", "", fmt.Errorf("start workflow: %w", err)
	}
	return run.GetID(), run.GetRunID(), nil
}

// StartSync implements Syncs.
func (t TemporalSyncs) StartSync(ctx context.Context, in workflows.SyncInput) (string, string, error) {
	if activities.IsCDP(in.Platform) {
		return t.startProfileSync(ctx, in)
	}
	run, err := t.Client.ExecuteWorkflow(ctx, workflows.SyncStartOptions(in), workflows.PlatformSync, in)
	return started(workflows.SyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), run, err)
}

// StartBackfill implements Syncs.
func (t TemporalSyncs) StartBackfill(ctx context.Context, in workflows.BackfillInput) (string, string, error) {
	if activities.IsCDP(in.Platform) {
		return "", "", touchpoint.Errorf(touchpoint.EInvalid, "%s connections sync profiles, they have no days to backfill", in.Platform)
	}
	run, err := t.Client.ExecuteWorkflow(ctx, workflows.BackfillStartOptions(in), workflows.Backfill, in)
	return started(workflows.BackfillWorkflowID(in.Tenant, in.Platform, in.ConnectionID), run, err)
}

// BackfillProgress implements Syncs.
func (t TemporalSyncs) BackfillProgress(ctx context.Context, workflowID string) (workflows.BackfillProgress, error) {
	var p workflows.BackfillProgress
	v, err := t.Client.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return p, touchpoint.Errorf(touchpoint.ENotFound, "no backfill %s", workflowID)
		}
		return p, fmt.Errorf("query %s: %w", workflowID, err)
	}
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("query %s: %w", workflowID, err)
	}
	return p, t.describe(ctx, workflowID, &p)
}

// describe adds the backfill's execution status and, if it failed, why, so a
// client can tell a failed backfill from a slow one.
func (t TemporalSyncs) describe(ctx context.Context, workflowID string, p *workflows.BackfillProgress) error {
	desc, err := t.Client.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	p.Status = strings.ToLower(strings.TrimPrefix(info.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
		if ev, err := lastEvent(ctx, t.Client, workflowID); err == nil {
			if a := ev.GetWorkflowExecutionFailedEventAttributes(); a != nil {
				p.Failure = a.GetFailure().GetMessage()
			}
		}
	}
	return nil
}

// lastEvent reads the final event of a closed workflow's history.
func lastEvent(ctx context.Context, c client.Client, workflowID string) (*historypb.HistoryEvent, error) {
	iter := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	var last *historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, err
		}
		last = ev
	}
	return last, nil
}

func (s *Server) needSyncs(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.syncs == nil || s.connections.DB == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "platform syncs are not served by this instance"))
			return
		}
		h(w, r)
	}
}

var connectionIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

type connectionRequest struct {
	ConnectionID string          `json:"connection_id"`
	Platform     string          `json:"platform"`
	AccountID    string          `json:"account_id"`
	Credentials  json.RawMessage `json:"credentials"`
}

// validCredentials checks a connection's platform and that its credentials carry
// every field the platform's client needs, naming the missing ones.
func validCredentials(platform string, raw json.RawMessage) error {
	if !slices.Contains(activities.CampaignPlatforms, platform) {
		all := append(slices.Clone(activities.CampaignPlatforms), activities.PlatformSegment, activities.PlatformMParticle, activities.PlatformLiveRamp)
		return touchpoint.Errorf(touchpoint.EInvalid, "platform must be one of %s", strings.Join(all, ", "))
	}
	if err := activities.CheckCredentials(platform, raw); err != nil {
		return touchpoint.Errorf(touchpoint.EInvalid, "%v", err)
	}
	return nil
}

func (s *Server) handleCreateConnection(w http.ResponseWriter, r *http.Request) {
	var req connectionRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if !connectionIDPattern.MatchString(req.ConnectionID) {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "connection_id must match %s", connectionIDPattern))
		return
	}
	if req.AccountID == "" {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "account_id is required"))
		return
	}
	if err := connectionCredentials(req.Platform, req.Credentials); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, tenant := r.Context(), tenantOf(r.Context())
	c, err := s.addConnection(ctx, store.Connection{TenantID: tenant, ConnectionID: req.ConnectionID,
		Platform: req.Platform, AccountID: req.AccountID, Credentials: req.Credentials})
	// Never the credentials: the audit trail is readable by the tenant's admin keys.
	detail := map[string]any{"connection_id": req.ConnectionID, "platform": req.Platform, "account_id": req.AccountID}
	if aerr := s.appendAudit(ctx, tenant, "connection.create", detail, err); aerr != nil && err == nil {
		// An unaudited connection is not kept: it would hold credentials nobody can
		// trace.
		s.removeConnection(context.WithoutCancel(ctx), c)
		err = aerr
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// addConnection stores a connection and creates its sync schedule; if the schedule
// cannot be created the connection is removed again (creating it again would
// otherwise answer 409).
func (s *Server) addConnection(ctx context.Context, in store.Connection) (store.Connection, error) {
	c, err := s.connections.Create(ctx, in)
	if errors.Is(err, store.ErrConnectionExists) {
		return c, touchpoint.Errorf(touchpoint.EConflict, "connection %s already exists", in.ConnectionID)
	}
	if err != nil {
		return c, err
	}
	if err := s.syncs.EnsureSchedule(ctx, syncInputOf(c)); err != nil {
		_ = s.connections.Delete(context.WithoutCancel(ctx), c.TenantID, c.ConnectionID)
		return c, touchpoint.Errorf(touchpoint.EUnavailable, "schedule the sync: %v", err)
	}
	return c, nil
}

// syncInputOf names the connection's sync workflows and schedule.
func syncInputOf(c store.Connection) workflows.SyncInput {
	return workflows.SyncInput{Tenant: c.TenantID, Platform: c.Platform, ConnectionID: c.ConnectionID}
}

// removeConnection undoes addConnection as far as it can, logging what fails.
func (s *Server) removeConnection(ctx context.Context, c store.Connection) {
	in := syncInputOf(c)
	if err := errors.Join(s.syncs.DeleteSchedule(ctx, in), s.connections.Delete(ctx, c.TenantID, c.ConnectionID)); err != nil {
		slog.Error("api: removing an unaudited connection failed", "tenant", c.TenantID, "connection", c.ConnectionID, "err", err)
	}
}

func (s *Server) handleListConnections(w http.ResponseWriter, r *http.Request) {
	list, err := s.connections.List(r.Context(), tenantOf(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": list})
}

// connection returns the path's connection of the caller's tenant, or answers 404.
func (s *Server) connection(w http.ResponseWriter, r *http.Request) (store.Connection, bool) {
	c, err := s.connections.Get(r.Context(), tenantOf(r.Context()), r.PathValue("id"))
	if errors.Is(err, store.ErrConnectionNotFound) {
		err = touchpoint.Errorf(touchpoint.ENotFound, "no connection %s", r.PathValue("id"))
	}
	if err != nil {
		writeError(w, r, err)
		return c, false
	}
	return c, true
}

// handleDeleteConnection deletes the caller's connection (another tenant's is 404)
// with its schedule, and audits it as connection.delete. A failed audit is logged:
// the credentials are already gone and putting them back would be worse.
func (s *Server) handleDeleteConnection(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connection(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	in := syncInputOf(c)
	err := s.syncs.DeleteSchedule(ctx, in)
	if err != nil {
		err = touchpoint.Errorf(touchpoint.EUnavailable, "delete the sync schedule: %v", err)
	} else {
		err = s.connections.Delete(ctx, c.TenantID, c.ConnectionID)
	}
	detail := map[string]any{"connection_id": c.ConnectionID, "platform": c.Platform, "account_id": c.AccountID}
	if aerr := s.appendAudit(ctx, c.TenantID, "connection.delete", detail, err); aerr != nil {
		slog.Error("api: audit of connection.delete failed", "tenant", c.TenantID, "connection", c.ConnectionID, "err", aerr)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type startedResponse struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
}

type runningBody struct {
	Error      string `json:"error"`
	Kind       string `json:"kind"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id,omitempty"`
}

func writeStarted(w http.ResponseWriter, r *http.Request, id, run string, err error) {
	var re *RunningError
	if errors.As(err, &re) {
		writeJSON(w, http.StatusConflict, runningBody{Error: re.Error(), Kind: touchpoint.EConflict, WorkflowID: re.WorkflowID, RunID: re.RunID})
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, startedResponse{WorkflowID: id, RunID: run})
}

func (s *Server) handleStartSync(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connection(w, r)
	if !ok {
		return
	}
	id, run, err := s.syncs.StartSync(r.Context(), syncInputOf(c))
	writeStarted(w, r, id, run, err)
}

type backfillRequest struct {
	From      string `json:"from"` // YYYY-MM-DD
	To        string `json:"to"`   // YYYY-MM-DD, inclusive
	ChunkDays int    `json:"chunk_days,omitempty"`
}

func (s *Server) handleStartBackfill(w http.ResponseWriter, r *http.Request) {
	var req backfillRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	from, ferr := time.Parse(time.DateOnly, req.From)
	to, terr := time.Parse(time.DateOnly, req.To)
	if ferr != nil || terr != nil || to.Before(from) || to.Sub(from) > 3*366*24*time.Hour || req.ChunkDays < 0 || req.ChunkDays > 366 {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "from and to must be dates (YYYY-MM-DD), from <= to, at most three years apart"))
		return
	}
	c, ok := s.connection(w, r)
	if !ok {
		return
	}
	in := workflows.BackfillInput{SyncInput: syncInputOf(c),
		From: from, To: to, ChunkDays: req.ChunkDays}
	id, run, err := s.syncs.StartBackfill(r.Context(), in)
	writeStarted(w, r, id, run, err)
}

type backfillProgressResponse struct {
	WorkflowID string                     `json:"workflow_id"`
	Progress   workflows.BackfillProgress `json:"progress"`
}

func (s *Server) handleBackfillProgress(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connection(w, r)
	if !ok {
		return
	}
	id := workflows.BackfillWorkflowID(c.TenantID, c.Platform, c.ConnectionID)
	p, err := s.syncs.BackfillProgress(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, backfillProgressResponse{WorkflowID: id, Progress: p})
}

// startProfileSync starts a CDP connection's ProfileSync; while one runs it returns
// a *RunningError.
func (t TemporalSyncs) startProfileSync(ctx context.Context, in workflows.SyncInput) (string, string, error) {
	run, err := t.Client.ExecuteWorkflow(ctx, workflows.ProfileSyncStartOptions(in), workflows.ProfileSync, in)
	return started(workflows.ProfileSyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), run, err)
}

// connectionCredentials checks a new connection's credentials: CDP connections
// (profile syncs) here, the ad and analytics platforms in validCredentials.
func connectionCredentials(platform string, raw json.RawMessage) error {
	if activities.IsCDP(platform) {
		return validCDPCredentials(platform, raw)
	}
	return validCredentials(platform, raw)
}

// validCDPCredentials requires what the CDP's profile sync needs: Segment a Profile
// API space and token or a write key, mParticle an input key and secret or Profile API
// client credentials with the workspace ids, LiveRamp client credentials.
func validCDPCredentials(platform string, raw json.RawMessage) error {
	ok := false
	switch platform {
	case activities.PlatformSegment:
		var c activities.SegmentCredentials
		ok = json.Unmarshal(raw, &c) == nil && (c.SpaceID != "" && c.AccessToken != "" || c.WriteKey != "")
	case activities.PlatformMParticle:
		var c activities.MParticleCredentials
		ok = json.Unmarshal(raw, &c) == nil && (c.APIKey != "" && c.APISecret != "" ||
			c.ClientID != "" && c.ClientSecret != "" && c.OrgID != "" && c.AccountID != "" && c.WorkspaceID != "")
	case activities.PlatformLiveRamp:
		var c activities.LiveRampCredentials
		ok = json.Unmarshal(raw, &c) == nil && c.ClientID != "" && c.ClientSecret != ""
	}
	if !ok {
		return touchpoint.Errorf(touchpoint.EInvalid, "%s credentials need %s", platform, cdpCredentialFields[platform])
	}
	return nil
}

var cdpCredentialFields = map[string]string{
	activities.PlatformSegment:   "space_id and access_token (to read profiles) and/or write_key (to send them)",
	activities.PlatformMParticle: "api_key and api_secret (to upload) and/or client_id, client_secret, org_id, account_id and workspace_id (to read)",
	activities.PlatformLiveRamp:  "client_id and client_secret",
}
