package segment

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
)

// RegulationsFake reproduces the Public API's workspace regulations: POST
// /regulations ({"regulationType","subjectType","subjectIds"} → 200
// {"data":{"regulateId"}}) and GET /regulations/{id}
// ({"data":{"regulation":{"id","workspaceId","overallStatus","createdAt","finishedAt","streamStatus"}}}),
// Bearer token auth (401 otherwise), 422 for an invalid body, 404 for an unknown
// id, X-RateLimit-* headers on every answer and 429 with msBeforeNext. A new
// regulation is INITIALIZED, RUNNING for RunningPolls status reads, then
// FinalStatus. Safe for concurrent use; set exported fields before serving.
type RegulationsFake struct {
	Token       string
	WorkspaceID string
	// RunningPolls is how many status reads answer a non-final status before the
	// regulation reaches FinalStatus.
	RunningPolls int
	FinalStatus  string // StatusFinished if empty

	// ThrottleNext (msBeforeNext = delay) and FailNext (500)
	connectors.Faults

	mu    sync.Mutex
	regs  map[string]*fakeRegulation
	order []string
	calls int
}

type fakeRegulation struct {
	ID, Type, SubjectType string
	SubjectIDs            []string
	Polls                 int
	CreatedAt             time.Time
}

// NewRegulationsFake returns a fake that finishes a regulation on the third poll.
func NewRegulationsFake() *RegulationsFake {
	return &RegulationsFake{Token: "sgp_fake_public_token", WorkspaceID: "ws_fake", RunningPolls: 2,
		regs: map[string]*fakeRegulation{}}
}

// Calls returns how many requests arrived.
func (f *RegulationsFake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Regulations returns the subject ids of every regulation created, in order.
func (f *RegulationsFake) Regulations() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, id := range f.order {
		out = append(out, slices.Clone(f.regs[id].SubjectIDs))
	}
	return out
}

func (f *RegulationsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.Header.Get("Authorization") != "Bearer "+f.Token {
		writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized"))
		return
	}
	if delay, ok := f.Throttled(); ok {
		f.writeThrottled(w, delay)
		return
	}
	f.rateHeaders(w, 1)
	if f.Failed() {
		writeJSON(w, http.StatusInternalServerError, errBody("Internal server error"))
		return
	}
	switch id, isOne := strings.CutPrefix(r.URL.Path, "/regulations/"); {
	case r.Method == http.MethodPost && r.URL.Path == "/regulations":
		f.create(w, r)
	case r.Method == http.MethodGet && isOne && id != "":
		f.get(w, id)
	default:
		writeJSON(w, http.StatusNotFound, errBody("Not found"))
	}
}

func (f *RegulationsFake) rateHeaders(w http.ResponseWriter, remaining int) {
	w.Header().Set("X-RateLimit-Consumed", "1")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Reset", time.Now().Add(time.Minute).UTC().Format(http.TimeFormat))
	w.Header().Set("X-Regulation-RateLimit-Remaining", strconv.Itoa(remaining))
}

func (f *RegulationsFake) writeThrottled(w http.ResponseWriter, delay time.Duration) {
	f.rateHeaders(w, 0)
	w.Header().Set("X-RateLimit-Reset", time.Now().Add(delay).UTC().Format(http.TimeFormat))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []any{map[string]any{
		"type": "RequestError", "message": "Too many requests",
		"data": map[string]any{"remainingPoints": 0, "msBeforeNext": delay.Milliseconds(), "consumedPoints": 21}}}})
}

func (f *RegulationsFake) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RegulationType string   `json:"regulationType"`
		SubjectType    string   `json:"subjectType"`
		SubjectIDs     []string `json:"subjectIds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, errBody("invalid JSON"))
		return
	}
	if body.RegulationType == "" || body.SubjectType != "USER_ID" || len(body.SubjectIDs) == 0 || len(body.SubjectIDs) > MaxSubjectIDs {
		writeJSON(w, http.StatusUnprocessableEntity, errBody("regulationType, subjectType USER_ID and 1-5000 subjectIds are required"))
		return
	}
	id := fmt.Sprintf("reg_%04d", len(f.order)+1)
	f.regs[id] = &fakeRegulation{ID: id, Type: body.RegulationType, SubjectType: body.SubjectType,
		SubjectIDs: body.SubjectIDs, CreatedAt: time.Now().UTC()}
	f.order = append(f.order, id)
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"regulateId": id}})
}

func (f *RegulationsFake) get(w http.ResponseWriter, id string) {
	reg, ok := f.regs[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, errBody("Regulation not found"))
		return
	}
	reg.Polls++
	status, finished := StatusInitialized, ""
	switch {
	case reg.Polls > f.RunningPolls:
		status, finished = f.FinalStatus, time.Now().UTC().Format(time.RFC3339)
		if status == "" {
			status = StatusFinished
		}
	case reg.Polls > 1:
		status = StatusRunning
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"regulation": map[string]any{
		"id": id, "workspaceId": f.WorkspaceID, "overallStatus": status,
		"createdAt": reg.CreatedAt.Format(time.RFC3339), "finishedAt": finished, "streamStatus": []any{},
	}}})
}
