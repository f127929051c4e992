package api

import (
	"context"
	"net/http"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// TrainingStarter starts trainings of the data-driven attribution models. A Workflows
// that also implements it serves POST /v1/attribution/models/train.
type TrainingStarter interface {
	// StartTraining starts a training, or joins the running one of the same tenant
	// and range, and returns its workflow and run ids.
	StartTraining(ctx context.Context, in workflows.TrainingInput) (workflowID, runID string, err error)
}

// StartTraining implements TrainingStarter.
func (t TemporalWorkflows) StartTraining(ctx context.Context, in workflows.TrainingInput) (string, string, error) {
	return t.execute(ctx, "start model training", workflows.TrainingStartOptions(in), workflows.AttributionModelTraining, in)
}

type trainRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (s *Server) handleTrain(w http.ResponseWriter, r *http.Request) {
	starter, ok := s.workflows.(TrainingStarter)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "model training is not served by this instance"))
		return
	}
	var req trainRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	from, to, err := attributionRange(req.From, req.To)
	if err != nil {
		writeError(w, r, err)
		return
	}
	id, run, err := starter.StartTraining(r.Context(), workflows.TrainingInput{Tenant: tenantOf(r.Context()), From: from, To: to})
	writeWorkflowStarted(w, r, id, run, err)
}

type modelsResponse struct {
	Tenant string `json:"tenant"`
	// Active names the active version of each kind.
	Active   map[string]int64     `json:"active"`
	Versions []store.ModelVersion `json:"versions"`
}

// handleListModels lists the tenant's model versions, newest first, with their
// held-out metrics and which of them are active.
func (s *Server) handleListModels(w http.ResponseWriter, r *http.Request) {
	tenant := tenantOf(r.Context())
	versions, err := store.Models{DB: s.attribution.DB}.List(r.Context(), tenant)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp := modelsResponse{Tenant: tenant, Active: map[string]int64{}, Versions: versions}
	if resp.Versions == nil {
		resp.Versions = []store.ModelVersion{}
	}
	for _, v := range versions {
		if v.Active {
			resp.Active[v.Kind] = v.Version
		}
	}
	writeJSON(w, http.StatusOK, resp)
}
