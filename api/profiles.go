package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/segments"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

// ProfileStarter starts profile trainings and refreshes. A Workflows that also
// implements it serves POST /v1/profiles/train and /v1/profiles/refresh.
type ProfileStarter interface {
	StartProfileTraining(ctx context.Context, in workflows.ProfileTrainingInput) (workflowID, runID string, err error)
	StartProfileRefresh(ctx context.Context, in workflows.ProfileRefreshInput) (workflowID, runID string, err error)
}

// StartProfileTraining implements ProfileStarter.
func (t TemporalWorkflows) StartProfileTraining(ctx context.Context, in workflows.ProfileTrainingInput) (string, string, error) {
	return t.execute(ctx, "start profile training", workflows.ProfileTrainingStartOptions(in), workflows.ProfileModelTraining, in)
}

// StartProfileRefresh implements ProfileStarter.
func (t TemporalWorkflows) StartProfileRefresh(ctx context.Context, in workflows.ProfileRefreshInput) (string, string, error) {
	return t.execute(ctx, "start profile refresh", workflows.ProfileRefreshStartOptions(in), workflows.ProfileRefresh, in)
}

// profileStore is the profile stores on the API's Postgres, which Deps.Attribution
// carries (every instance that serves reports serves profiles too).
func (s *Server) profileStore() store.ProfileScores { return store.ProfileScores{DB: s.attribution.DB} }

func (s *Server) needProfiles(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.attribution.DB == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "profiles are not served by this instance"))
			return
		}
		h(w, r)
	}
}

type profileResponse struct {
	store.CustomerProfile
	Scores      store.Scores            `json:"scores"`
	Segments    []string                `json:"segments"`
	Behaviour   store.CustomerBehaviour `json:"behaviour"`
	Preferences profilePreferences      `json:"preferences"`
}

type profilePreferences struct {
	Explicit store.ExplicitPreferences `json:"explicit"`
	Implicit store.ImplicitPreferences `json:"implicit"`
}

// handleGetProfile answers one customer's profile: traits, consent flags, scores, the
// segments it is a member of, its live behaviour (from the journey rows, as of now)
// and its explicit and implicit preferences. A customer known only from events (no
// CDP profile yet) gets a profile too; 404 only without either.
func (s *Server) handleGetProfile(w http.ResponseWriter, r *http.Request) {
	ctx, tenant, id := r.Context(), tenantOf(r.Context()), r.PathValue("customer_id")
	behaviour, err := store.Journeys{DB: s.attribution.DB}.Behaviour(ctx, tenant, id, s.opts.Now())
	if err != nil {
		writeError(w, r, err)
		return
	}
	p, err := store.Profiles{DB: s.attribution.DB}.Get(ctx, tenant, id)
	switch {
	case errors.Is(err, store.ErrProfileNotFound) && !behaviour.Known():
		writeError(w, r, touchpoint.Errorf(touchpoint.ENotFound, "no profile of customer %q", id))
		return
	case errors.Is(err, store.ErrProfileNotFound):
		p = store.CustomerProfile{TenantID: tenant, CustomerID: id, Traits: map[string]any{},
			TraitTimes: map[string]time.Time{}, Sources: []string{}}
	case err != nil:
		writeError(w, r, err)
		return
	}
	resp := profileResponse{CustomerProfile: p, Behaviour: behaviour}
	if resp.Scores, err = s.profileStore().ScoresOf(ctx, tenant, id); errors.Is(err, store.ErrProfileNotFound) {
		resp.Scores = store.Scores{CustomerID: id}
	} else if err != nil {
		writeError(w, r, err)
		return
	}
	if resp.Segments, err = s.profileStore().SegmentsOf(ctx, tenant, id); err != nil {
		writeError(w, r, err)
		return
	}
	if resp.Segments == nil {
		resp.Segments = []string{}
	}
	consent, err := s.consentOf(ctx, tenant, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp.Preferences = profilePreferences{Explicit: store.ExplicitPreferencesOf(p.Traits, consent), Implicit: behaviour.Implicit}
	writeJSON(w, http.StatusOK, resp)
}

// consentOf returns the subject's consent per purpose (every purpose given when none
// is recorded), or nil when this instance does not serve consent.
func (s *Server) consentOf(ctx context.Context, tenant, subject string) (*store.ConsentPurposes, error) {
	if s.consent.Privacy.DB == nil || !s.consent.Privacy.Hasher.Valid() {
		return nil, nil
	}
	c, err := s.consent.Privacy.Consent(ctx, tenant, subject)
	if err != nil && touchpoint.KindOf(err) == touchpoint.ENotFound {
		given := store.ConsentGiven
		return &given, nil
	}
	if err != nil {
		return nil, err
	}
	out := store.ConsentPurposesOf(c)
	return &out, nil
}

type segmentRequest struct {
	SegmentID string          `json:"segment_id"`
	Name      string          `json:"name"`
	Rule      string          `json:"rule"`
	RuleJSON  json.RawMessage `json:"rule_json"`
}

// maxSegmentIDLen keeps segment ids within what an event's segment_id may hold.
const maxSegmentIDLen = 128

// compileSegment checks a segment request and compiles its rule against the profile
// schema; a rule that does not compile is EInvalid with the compiler's own message
// (line:column or JSON path, what was found and what was expected).
func compileSegment(req segmentRequest) (*segments.Rule, error) {
	if req.SegmentID == "" || len(req.SegmentID) > maxSegmentIDLen {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "segment_id is required (at most %d bytes)", maxSegmentIDLen)
	}
	if (req.Rule == "") == (len(req.RuleJSON) == 0) {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "give exactly one of rule (text) and rule_json")
	}
	var rule *segments.Rule
	var err error
	if req.Rule != "" {
		rule, err = segments.Compile(req.Rule, segments.ProfileSchema())
	} else {
		rule, err = segments.CompileJSON(req.RuleJSON, segments.ProfileSchema())
	}
	if err != nil {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "%s", err.Error())
	}
	return rule, nil
}

// handleSaveSegment creates or replaces a segment after compiling its rule; the
// stored rule is the canonical text. Members change at the next refresh.
func (s *Server) handleSaveSegment(w http.ResponseWriter, r *http.Request) {
	var req segmentRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	rule, err := compileSegment(req)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.Name == "" {
		req.Name = req.SegmentID
	}
	def, created, err := s.profileStore().SaveSegment(r.Context(), tenantOf(r.Context()),
		store.SegmentDef{SegmentID: req.SegmentID, Name: req.Name, Rule: rule.String()})
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, def)
}

func (s *Server) handleListSegments(w http.ResponseWriter, r *http.Request) {
	defs, err := s.profileStore().Segments(r.Context(), tenantOf(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"segments": defs})
}

func (s *Server) handleDeleteSegment(w http.ResponseWriter, r *http.Request) {
	if err := s.profileStore().DeleteSegment(r.Context(), tenantOf(r.Context()), r.PathValue("id")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleListMembers pages through a segment's members by customer id: pass the
// returned next as after.
func (s *Server) handleListMembers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, ok := queryLimit(r)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "limit must be 1–1000, got %q", q.Get("limit")))
		return
	}
	members, err := s.profileStore().Members(r.Context(), tenantOf(r.Context()), r.PathValue("id"), q.Get("after"), limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	next := ""
	if len(members) == limit {
		next = members[len(members)-1].CustomerID
	}
	writeJSON(w, http.StatusOK, map[string]any{"segment_id": r.PathValue("id"), "members": members, "next": next})
}

type profileTrainRequest struct {
	CalibrationWeeks int  `json:"calibration_weeks"`
	HoldoutWeeks     int  `json:"holdout_weeks"`
	SkipRefresh      bool `json:"skip_refresh"`
}

func (s *Server) profileStarter(w http.ResponseWriter, r *http.Request) (ProfileStarter, bool) {
	starter, ok := s.workflows.(ProfileStarter)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "profile workflows are not served by this instance"))
	}
	return starter, ok
}

// handleProfileTrain starts ProfileModelTraining (and its refresh) for the tenant.
func (s *Server) handleProfileTrain(w http.ResponseWriter, r *http.Request) {
	starter, ok := s.profileStarter(w, r)
	if !ok {
		return
	}
	var req profileTrainRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if req.CalibrationWeeks < 0 || req.CalibrationWeeks > 520 || req.HoldoutWeeks < 0 || req.HoldoutWeeks > 104 {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "calibration_weeks must be 0–520 and holdout_weeks 0–104 (0: the default)"))
		return
	}
	id, run, err := starter.StartProfileTraining(r.Context(), workflows.ProfileTrainingInput{Tenant: tenantOf(r.Context()),
		CalibrationWeeks: req.CalibrationWeeks, HoldoutWeeks: req.HoldoutWeeks, SkipRefresh: req.SkipRefresh})
	writeWorkflowStarted(w, r, id, run, err)
}

// handleProfileRefresh starts ProfileRefresh for the tenant, as of now.
func (s *Server) handleProfileRefresh(w http.ResponseWriter, r *http.Request) {
	starter, ok := s.profileStarter(w, r)
	if !ok {
		return
	}
	id, run, err := starter.StartProfileRefresh(r.Context(), workflows.ProfileRefreshInput{Tenant: tenantOf(r.Context()), AsOf: s.opts.Now().UTC().Truncate(time.Second)})
	writeWorkflowStarted(w, r, id, run, err)
}
