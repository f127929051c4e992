package posthog

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

// PersonsFake reproduces PostHog's persons endpoints a deletion uses: GET
// /api/projects/{id}/persons/?distinct_id= (DRF {"count","next","previous","results"}
// paged by limit/offset), GET /api/projects/{id}/persons/{id}/ (404 once gone)
// and POST /api/projects/{id}/persons/bulk_delete/ ({"distinct_ids"|"ids" ≤1000,
// "delete_events"} → 202), with Bearer personal-API-key auth (401), DRF 429 with
// Retry-After, and 500s. Deletion is asynchronous as in PostHog: a deleted
// person stays visible for RunningPolls reads of it, then is gone. Safe for
// concurrent use; set exported fields before serving.
type PersonsFake struct {
	APIKey       string
	ProjectID    string
	RunningPolls int // reads of a deleted person that still find it
	PageSize     int // persons per list page

	// ThrottleNext (Retry-After rounded to whole seconds) and FailNext (500)
	connectors.Faults

	mu      sync.Mutex
	persons []*fakePerson
	deletes [][]string
	calls   int
}

type fakePerson struct {
	ID          int
	UUID        string
	DistinctIDs []string
	Deleted     bool
	Left        int // reads before a deleted person disappears
}

// NewPersonsFake returns an empty fake whose deleted persons disappear on the
// third read.
func NewPersonsFake() *PersonsFake {
	return &PersonsFake{APIKey: "phx_fake_key", ProjectID: "4242", RunningPolls: 2, PageSize: 100}
}

// AddPerson stores a person with these distinct ids and returns its id.
func (f *PersonsFake) AddPerson(distinctIDs ...string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := len(f.persons) + 1
	f.persons = append(f.persons, &fakePerson{ID: id, UUID: fmt.Sprintf("0190f0c4-0000-7000-8000-%012d", id), DistinctIDs: distinctIDs})
	return id
}

// Calls returns how many requests arrived.
func (f *PersonsFake) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// BulkDeletes returns the distinct ids of each bulk_delete call.
func (f *PersonsFake) BulkDeletes() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deletes)
}

func (f *PersonsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if r.Header.Get("Authorization") != "Bearer "+f.APIKey {
		writeErr(w, http.StatusUnauthorized, "authentication_error", "authentication_failed", "Personal API key found in request is invalid.")
		return
	}
	if delay, ok := f.Throttled(); ok {
		secs := int(delay.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeErr(w, http.StatusTooManyRequests, "throttled_error", "throttled", fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs))
		return
	}
	if f.Failed() {
		writeErr(w, http.StatusInternalServerError, "server_error", "error", "A server error occurred.")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/api/projects/"+f.ProjectID+"/persons/")
	switch {
	case !ok:
		writeErr(w, http.StatusNotFound, "invalid_request", "not_found", "Not found.")
	case rest == "" && r.Method == http.MethodGet:
		f.list(w, r)
	case rest == "bulk_delete/" && r.Method == http.MethodPost:
		f.bulkDelete(w, r)
	case strings.HasSuffix(rest, "/") && r.Method == http.MethodGet:
		f.retrieve(w, strings.TrimSuffix(rest, "/"))
	default:
		writeErr(w, http.StatusNotFound, "invalid_request", "not_found", "Not found.")
	}
}

// visible reports whether a read finds p, counting the read against a deleted
// person's remaining visibility.
func (f *PersonsFake) visible(p *fakePerson) bool {
	if !p.Deleted {
		return true
	}
	if p.Left > 0 {
		p.Left--
		return true
	}
	return false
}

func (p *fakePerson) json() map[string]any {
	return map[string]any{"id": p.ID, "uuid": p.UUID, "name": p.DistinctIDs[0], "distinct_ids": p.DistinctIDs,
		"properties": map[string]any{}, "created_at": "2024-01-01T00:00:00Z"}
}

func (f *PersonsFake) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var all []map[string]any
	for _, p := range f.persons {
		if d := q.Get("distinct_id"); (d == "" || slices.Contains(p.DistinctIDs, d)) && f.visible(p) {
			all = append(all, p.json())
		}
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = f.PageSize
	}
	end := min(offset+limit, len(all))
	page := all[min(offset, len(all)):end]
	var next any
	if end < len(all) {
		q.Set("offset", strconv.Itoa(end))
		q.Set("limit", strconv.Itoa(limit))
		next = "http://" + r.Host + r.URL.Path + "?" + q.Encode()
	}
	writeJSONBody(w, http.StatusOK, map[string]any{"count": len(all), "next": next, "previous": nil, "results": page})
}

func (f *PersonsFake) retrieve(w http.ResponseWriter, id string) {
	for _, p := range f.persons {
		if (strconv.Itoa(p.ID) == id || p.UUID == id) && f.visible(p) {
			writeJSONBody(w, http.StatusOK, p.json())
			return
		}
	}
	writeErr(w, http.StatusNotFound, "invalid_request", "not_found", "Not found.")
}

func (f *PersonsFake) bulkDelete(w http.ResponseWriter, r *http.Request) {
	var body struct {
		DistinctIDs  []string `json:"distinct_ids"`
		IDs          []string `json:"ids"`
		DeleteEvents bool     `json:"delete_events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.DistinctIDs)+len(body.IDs) == 0 {
		writeErr(w, http.StatusBadRequest, "validation_error", "invalid_input", "Either ids or distinct_ids must be provided.")
		return
	}
	if len(body.DistinctIDs) > MaxBulkDelete || len(body.IDs) > MaxBulkDelete {
		writeErr(w, http.StatusBadRequest, "validation_error", "max_length", "You can only pass 1000 ids in one call.")
		return
	}
	f.deletes = append(f.deletes, body.DistinctIDs)
	for _, p := range f.persons {
		if p.Deleted {
			continue
		}
		if slices.ContainsFunc(p.DistinctIDs, func(d string) bool { return slices.Contains(body.DistinctIDs, d) }) || slices.Contains(body.IDs, p.UUID) {
			p.Deleted, p.Left = true, f.RunningPolls
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
