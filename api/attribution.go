package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// Workflows starts Touchpoint's Temporal workflows and asks them how far they got.
type Workflows interface {
	// StartAttribution starts a recompute, or joins the running one of the same
	// tenant and range, and returns its workflow and run ids.
	StartAttribution(ctx context.Context, in workflows.AttributionRecomputeInput) (workflowID, runID string, err error)
	// AttributionProgress queries a recompute's progress; an unknown workflow is an
	// ENotFound error.
	AttributionProgress(ctx context.Context, workflowID string) (workflows.AttributionProgress, error)
}

// TemporalWorkflows is Workflows on a Temporal client.
type TemporalWorkflows struct{ Client client.Client }

// StartAttribution implements Workflows.
func (t TemporalWorkflows) StartAttribution(ctx context.Context, in workflows.AttributionRecomputeInput) (string, string, error) {
	return t.execute(ctx, "start attribution recompute", workflows.AttributionStartOptions(in), workflows.AttributionRecompute, in)
}

// execute starts wf with in and returns its workflow and run ids; what names the
// start in an error.
func (t TemporalWorkflows) execute(ctx context.Context, what string, opts client.StartWorkflowOptions, wf, in any) (string, string, error) {
	run, err := t.Client.ExecuteWorkflow(ctx, opts, wf, in)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", what, err)
	}
	return run.GetID(), run.GetRunID(), nil
}

// AttributionProgress implements Workflows. It queries the latest run of the id.
func (t TemporalWorkflows) AttributionProgress(ctx context.Context, workflowID string) (workflows.AttributionProgress, error) {
	var p workflows.AttributionProgress
	v, err := t.Client.QueryWorkflow(ctx, workflowID, "", workflows.ProgressQuery)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return p, touchpoint.Errorf(touchpoint.ENotFound, "no attribution recompute %s", workflowID)
		}
		return p, fmt.Errorf("query %s: %w", workflowID, err)
	}
	if err := v.Get(&p); err != nil {
		return p, fmt.Errorf("query %s: %w", workflowID, err)
	}
	return p, nil
}

// maxAttributionRange bounds one recompute or report request.
const maxAttributionRange = 366 * 24 * time.Hour

func (s *Server) needWorkflows(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.workflows == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "workflows are not served by this instance"))
			return
		}
		h(w, r)
	}
}

func (s *Server) needCredits(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.attribution.DB == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "attribution reports are not served by this instance"))
			return
		}
		h(w, r)
	}
}

type recomputeRequest struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Models    []string `json:"models,omitempty"`
	ChunkDays int      `json:"chunk_days,omitempty"`
}

type recomputeResponse struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

func (s *Server) handleRecompute(w http.ResponseWriter, r *http.Request) {
	var req recomputeRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	from, to, err := attributionRange(req.From, req.To)
	if err == nil {
		err = checkModels(req.Models)
	}
	if err == nil && (req.ChunkDays < 0 || req.ChunkDays > 366) {
		err = touchpoint.Errorf(touchpoint.EInvalid, "chunk_days must be between 1 and 366")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	in := workflows.AttributionRecomputeInput{Tenant: tenantOf(r.Context()), From: from, To: to, Models: req.Models, ChunkDays: req.ChunkDays}
	id, run, err := s.workflows.StartAttribution(r.Context(), in)
	writeWorkflowStarted(w, r, id, run, err)
}

// writeWorkflowStarted answers 202 with the started workflow's ids, or err.
func writeWorkflowStarted(w http.ResponseWriter, r *http.Request, id, run string, err error) {
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, recomputeResponse{WorkflowID: id, RunID: run})
}

type progressResponse struct {
	WorkflowID string                        `json:"workflow_id"`
	Progress   workflows.AttributionProgress `json:"progress"`
}

// handleRecomputeProgress answers for the recompute named by its range in the path
// or by ?workflow_id=; a tenant only ever sees its own recomputes.
func (s *Server) handleRecomputeProgress(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r.Context())
	id := r.URL.Query().Get("workflow_id")
	if r.PathValue("from") != "" {
		from, to, err := attributionRange(r.PathValue("from"), r.PathValue("to"))
		if err != nil {
			writeError(w, r, err)
			return
		}
		id = workflows.AttributionWorkflowID(tenant, from, to)
	}
	if id == "" {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "workflow_id is required"))
		return
	}
	if !strings.HasPrefix(id, "attribution/"+tenant+"/") {
		writeError(w, r, touchpoint.Errorf(touchpoint.ENotFound, "no attribution recompute %s", id))
		return
	}
	p, err := s.workflows.AttributionProgress(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, progressResponse{WorkflowID: id, Progress: p})
}

type reportResponse struct {
	Tenant  string            `json:"tenant"`
	Model   string            `json:"model"`
	GroupBy string            `json:"group_by"`
	From    time.Time         `json:"from"`
	To      time.Time         `json:"to"`
	Rows    []store.ReportRow `json:"rows"`
}

func (s *Server) handleAttributionReport(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	from, to, err := attributionRange(v.Get("from"), v.Get("to"))
	model, groupBy := v.Get("model"), v.Get("group_by")
	if groupBy == "" {
		groupBy = store.GroupByChannel
	}
	if err == nil && model == "" {
		err = touchpoint.Errorf(touchpoint.EInvalid, "model is required, one of %v", activities.ModelNames())
	}
	if err == nil {
		err = checkModels([]string{model})
	}
	if err == nil && groupBy != store.GroupByChannel && groupBy != store.GroupByCampaign {
		err = touchpoint.Errorf(touchpoint.EInvalid, "group_by must be %s or %s, got %q", store.GroupByChannel, store.GroupByCampaign, groupBy)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	tenant := tenantOf(r.Context())
	rows, err := s.attribution.Report(r.Context(), tenant, model, from, to, groupBy)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, reportResponse{Tenant: tenant, Model: model, GroupBy: groupBy, From: from, To: to, Rows: asIs(rows).([]store.ReportRow)})
}

type compareResponse struct {
	Tenant string             `json:"tenant"`
	From   time.Time          `json:"from"`
	To     time.Time          `json:"to"`
	Rows   []store.CompareRow `json:"rows"`
}

func (s *Server) handleAttributionCompare(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	from, to, err := attributionRange(v.Get("from"), v.Get("to"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	tenant := tenantOf(r.Context())
	rows, err := s.attribution.Compare(r.Context(), tenant, from, to)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, compareResponse{Tenant: tenant, From: from, To: to, Rows: asIs(rows).([]store.CompareRow)})
}

// attributionRange parses a required [from, to) of conversion times.
func attributionRange(fromS, toS string) (time.Time, time.Time, error) {
	if fromS == "" || toS == "" {
		return time.Time{}, time.Time{}, touchpoint.Errorf(touchpoint.EInvalid, "from and to are required (RFC 3339 or Unix seconds)")
	}
	from, err := parseTime(fromS, time.Time{})
	if err != nil {
		return from, from, touchpoint.Errorf(touchpoint.EInvalid, "from: %v", err)
	}
	to, err := parseTime(toS, time.Time{})
	if err != nil {
		return from, to, touchpoint.Errorf(touchpoint.EInvalid, "to: %v", err)
	}
	if !from.Before(to) {
		return from, to, touchpoint.Errorf(touchpoint.EInvalid, "from must be before to")
	}
	if to.Sub(from) > maxAttributionRange {
		return from, to, touchpoint.Errorf(touchpoint.EInvalid, "range too long: at most %v", maxAttributionRange)
	}
	return from, to, nil
}

func checkModels(models []string) error {
	names := activities.ModelNames()
	for _, m := range models {
		if !slices.Contains(names, m) {
			return touchpoint.Errorf(touchpoint.EInvalid, "unknown model %q: one of %v", m, names)
		}
	}
	return nil
}
