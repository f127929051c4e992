package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/campaign"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// CampaignWorkflows starts, signals and queries CampaignLifecycle workflows.
type CampaignWorkflows interface {
	// StartCampaign starts the lifecycle; one already running is EConflict.
	StartCampaign(ctx context.Context, in workflows.CampaignInput) (workflowID string, err error)
	// SignalCampaign sends one of the workflow's signals; a campaign not running is
	// EConflict.
	SignalCampaign(ctx context.Context, tenant, campaignID, signal string, arg any) error
	// CampaignState queries the running workflow; one not running is ENotFound.
	CampaignState(ctx context.Context, tenant, campaignID string) (campaign.State, error)
}

// TemporalCampaigns is CampaignWorkflows on a Temporal client.
type TemporalCampaigns struct{ Client client.Client }

// StartCampaign implements CampaignWorkflows.
func (t TemporalCampaigns) StartCampaign(ctx context.Context, in workflows.CampaignInput) (string, error) {
	run, err := t.Client.ExecuteWorkflow(ctx, workflows.CampaignStartOptions(in.Tenant, in.Config.CampaignID), workflows.CampaignLifecycle, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return "", touchpoint.Errorf(touchpoint.EConflict, "campaign %s is already running", in.Config.CampaignID)
	}
	if err != nil {
		return "", fmt.Errorf("start campaign: %w", err)
	}
	return run.GetID(), nil
}

// SignalCampaign implements CampaignWorkflows.
func (t TemporalCampaigns) SignalCampaign(ctx context.Context, tenant, id, signal string, arg any) error {
	err := t.Client.SignalWorkflow(ctx, workflows.CampaignWorkflowID(tenant, id), "", signal, arg)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return touchpoint.Errorf(touchpoint.EConflict, "campaign %s is not running", id)
	}
	if err != nil {
		return fmt.Errorf("signal campaign: %w", err)
	}
	return nil
}

// CampaignState implements CampaignWorkflows.
func (t TemporalCampaigns) CampaignState(ctx context.Context, tenant, id string) (campaign.State, error) {
	var st campaign.State
	v, err := t.Client.QueryWorkflow(ctx, workflows.CampaignWorkflowID(tenant, id), "", workflows.CampaignStateQuery)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return st, touchpoint.Errorf(touchpoint.ENotFound, "no workflow for campaign %s", id)
	}
	if err != nil {
		return st, fmt.Errorf("query campaign: %w", err)
	}
	return st, v.Get(&st)
}

// CampaignDeps serve /v1/campaigns; a zero Store.DB or nil Workflows answers 503.
type CampaignDeps struct {
	Store     store.Campaigns
	Workflows CampaignWorkflows
}

func (s *Server) needCampaigns(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.campaigns.Store.DB == nil || s.campaigns.Workflows == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "campaigns are not served by this instance"))
			return
		}
		h(w, r)
	}
}

// handleLaunchCampaign validates the launch configuration, records the campaign and
// starts its lifecycle, which emits campaign_launch. Campaign ids are not reused:
// one the tenant launched before is 409, running or not.
func (s *Server) handleLaunchCampaign(w http.ResponseWriter, r *http.Request) {
	var cfg campaign.Config
	if err := decodeBody(w, r, &cfg); err != nil {
		writeError(w, r, err)
		return
	}
	if err := cfg.Validate(); err != nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "%v", err))
		return
	}
	tenant, ctx := tenantOf(r.Context()), r.Context()
	raw, _ := json.Marshal(cfg)
	row, created, err := s.campaigns.Store.Create(ctx, tenant, cfg.CampaignID, raw, actorOf(ctx), s.opts.Now().UTC())
	if err == nil && !created && row.Status != string(campaign.Launching) {
		err = touchpoint.Errorf(touchpoint.EConflict, "campaign %s exists (status %s); campaign ids are not reused", cfg.CampaignID, row.Status)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A row still "launching" is a launch whose start failed or is under way: starting
	// again either starts it or finds it running (409).
	id, err := s.campaigns.Workflows.StartCampaign(ctx, workflows.CampaignInput{Tenant: tenant, Config: cfg})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"campaign": row, "workflow_id": id})
}

func (s *Server) handleListCampaigns(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(r)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "limit must be 1..1000"))
		return
	}
	rows, err := s.campaigns.Store.List(r.Context(), tenantOf(r.Context()), r.URL.Query().Get("status"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"campaigns": rows})
}

// handleGetCampaign answers the stored campaign with its decision history and, while
// it runs, the workflow's live state.
func (s *Server) handleGetCampaign(w http.ResponseWriter, r *http.Request) {
	tenant, id := tenantOf(r.Context()), r.PathValue("id")
	row, err := s.campaigns.Store.Get(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	decisions, err := s.campaigns.Store.Decisions(r.Context(), tenant, id, 1000)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := map[string]any{"campaign": row, "decisions": decisions, "workflow_id": workflows.CampaignWorkflowID(tenant, id)}
	if row.Status != string(campaign.Ended) {
		if st, err := s.campaigns.Workflows.CampaignState(r.Context(), tenant, id); err == nil {
			out["workflow"] = st
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// signalBody is a signal to a campaign: optimize takes the reason and the changes,
// terminate a reason.
type signalBody struct {
	Signal  string          `json:"signal"`
	Reason  string          `json:"reason"`
	Changes *events.Changes `json:"changes"`
}

func (s *Server) handleSignalCampaign(w http.ResponseWriter, r *http.Request) {
	var b signalBody
	if err := decodeBody(w, r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	tenant, id := tenantOf(r.Context()), r.PathValue("id")
	row, err := s.campaigns.Store.Get(r.Context(), tenant, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	arg, err := signalArg(row, b, s.opts.Now())
	if err == nil && row.Status == string(campaign.Ended) {
		err = touchpoint.Errorf(touchpoint.EConflict, "campaign %s has ended", id)
	}
	if err == nil {
		err = s.campaigns.Workflows.SignalCampaign(r.Context(), tenant, id, b.Signal, arg)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"campaign_id": id, "signal": b.Signal})
}

// signalArg validates a signal body and returns the workflow's signal argument.
func signalArg(row store.Campaign, b signalBody, now time.Time) (any, error) {
	switch b.Signal {
	case workflows.CampaignPauseSignal, workflows.CampaignResumeSignal:
		return nil, nil
	case workflows.CampaignTermSignal:
		return workflows.TerminateSignal{Reason: b.Reason}, nil
	case workflows.CampaignOptimizeSignal:
		if b.Changes == nil {
			return nil, touchpoint.Errorf(touchpoint.EInvalid, "optimize needs changes: bid_adjustment, audience_targeting, budget_allocation or creative_rotation")
		}
		var cfg campaign.Config
		if err := json.Unmarshal(row.Config, &cfg); err != nil {
			return nil, fmt.Errorf("stored config of campaign %s: %w", row.CampaignID, err)
		}
		if err := campaign.ValidateManual(cfg, b.Reason, *b.Changes, now); err != nil {
			return nil, touchpoint.Errorf(touchpoint.EInvalid, "%v", err)
		}
		return workflows.OptimizeSignal{Reason: b.Reason, Changes: *b.Changes}, nil
	}
	return nil, touchpoint.Errorf(touchpoint.EInvalid, "signal must be pause, resume, terminate or optimize, got %q", b.Signal)
}
