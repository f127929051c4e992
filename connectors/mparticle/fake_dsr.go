package mparticle

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
)

// DSRFake reproduces OpenDSR v3: POST /requests/ (201 with
// {"expected_completion_time","received_time","encoded_request","subject_request_id","controller_id"}
// and the X-OpenDSR-Processor-Domain header), GET /requests/{id} (request_status
// pending → in_progress → completed after RunningPolls reads), Basic auth with the
// workspace key:secret (401 otherwise), 400 for invalid input or a duplicate of a
// finished request, 409 for a duplicate of one in progress, 404 for an unknown
// id, and 429 with Retry-After. Safe for concurrent use; set exported fields
// before serving.
type DSRFake struct {
	Key, Secret  string
	ControllerID string
	RunningPolls int    // status reads answering pending/in_progress before FinalStatus
	FinalStatus  string // DSRCompleted if empty

	// ThrottleNext (Retry-After rounded to whole seconds) and FailNext (503)
	connectors.Faults

	mu       sync.Mutex
	requests map[string]*fakeDSR
	submits  int
	calls    int
}

type fakeDSR struct {
	Body  map[string]any
	Polls int
}

// NewDSRFake returns a fake completing a request on its third status read.
func NewDSRFake() *DSRFake {
	return &DSRFake{Key: "dsr-fake-key", Secret: "dsr-fake-secret", ControllerID: "1234", RunningPolls: 2,
		requests: map[string]*fakeDSR{}}
}

// Calls returns how many requests arrived.
func (f *DSRFake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// Requests returns the accepted erasure requests' bodies by subject_request_id,
// and how many submissions arrived (duplicates included).
func (f *DSRFake) Requests() (map[string]map[string]any, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]any{}
	for id, r := range f.requests {
		out[id] = r.Body
	}
	return out, f.submits
}

func dsrErr(w http.ResponseWriter, status int, reason, msg string) {
	writeJSON(w, status, map[string]any{"code": status, "message": msg,
		"errors": []any{map[string]string{"domain": "opendsr.mparticle.com", "reason": reason, "message": msg}}})
}

func (f *DSRFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if k, s, ok := r.BasicAuth(); !ok || k != f.Key || s != f.Secret {
		dsrErr(w, http.StatusUnauthorized, "unauthorized", "Invalid credentials")
		return
	}
	if delay, ok := f.Throttled(); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(delay.Round(time.Second)/time.Second)))
		dsrErr(w, http.StatusTooManyRequests, "rate_limited", "Too many requests")
		return
	}
	if f.Failed() {
		dsrErr(w, http.StatusServiceUnavailable, "unavailable", "Service unavailable")
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	id, isOne := strings.CutPrefix(path, "/requests/")
	switch {
	case r.Method == http.MethodPost && path == "/requests":
		f.submit(w, r)
	case r.Method == http.MethodGet && isOne && id != "":
		f.status(w, id)
	default:
		dsrErr(w, http.StatusNotFound, "not_found", "Not found")
	}
}

func (f *DSRFake) submit(w http.ResponseWriter, r *http.Request) {
	f.submits++
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		dsrErr(w, http.StatusBadRequest, "invalid_request", "invalid JSON")
		return
	}
	id, _ := body["subject_request_id"].(string)
	if reason := invalidDSR(body); reason != "" {
		dsrErr(w, http.StatusBadRequest, "invalid_request", reason)
		return
	}
	if prev, ok := f.requests[id]; ok {
		if f.state(prev) == DSRCompleted {
			dsrErr(w, http.StatusBadRequest, "duplicate_request", "Duplicate subject_request_id "+id)
		} else {
			dsrErr(w, http.StatusConflict, "duplicate_request", "Request "+id+" is already in progress")
		}
		return
	}
	f.requests[id] = &fakeDSR{Body: body}
	now := time.Now().UTC()
	w.Header().Set("X-OpenDSR-Processor-Domain", "opendsr.mparticle.com")
	w.Header().Set("X-OpenDSR-Signature", "fake-signature")
	writeJSON(w, http.StatusCreated, map[string]any{"subject_request_id": id, "controller_id": f.ControllerID,
		"received_time": now.Format(time.RFC3339), "expected_completion_time": now.AddDate(0, 0, 14).Format(time.RFC3339),
		"encoded_request": "ZmFrZQ=="})
}

// invalidDSR names what OpenDSR would reject in a submission, or "".
func invalidDSR(body map[string]any) string {
	id, _ := body["subject_request_id"].(string)
	ids, _ := body["subject_identities"].(map[string]any)
	reg := body["regulation"]
	switch {
	case len(id) != 36 || id[14] != '4':
		return "subject_request_id must be a UUID v4"
	case reg != "gdpr" && reg != "ccpa":
		return "regulation must be gdpr or ccpa"
	case body["subject_request_type"] != "erasure" && body["subject_request_type"] != "access" && body["subject_request_type"] != "portability":
		return "invalid subject_request_type"
	case len(ids) == 0:
		return "subject_identities is required"
	}
	for _, v := range ids {
		if m, _ := v.(map[string]any); m["encoding"] != "raw" {
			return "only raw encoding is supported"
		}
	}
	return ""
}

func (f *DSRFake) state(r *fakeDSR) string {
	switch {
	case r.Polls > f.RunningPolls:
		if f.FinalStatus != "" {
			return f.FinalStatus
		}
		return DSRCompleted
	case r.Polls > 1:
		return DSRInProgress
	}
	return DSRPending
}

func (f *DSRFake) status(w http.ResponseWriter, id string) {
	req, ok := f.requests[id]
	if !ok {
		dsrErr(w, http.StatusNotFound, "not_found", "Unknown subject_request_id "+id)
		return
	}
	req.Polls++
	writeJSON(w, http.StatusOK, map[string]any{"controller_id": f.ControllerID, "subject_request_id": id,
		"expected_completion_time": time.Now().UTC().AddDate(0, 0, 14).Format(time.RFC3339),
		"request_status":           f.state(req), "api_version": "3.0", "results_url": nil, "extensions": []any{}})
}
