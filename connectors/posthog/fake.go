package posthog

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
)

// Fake reproduces PostHog's POST /api/projects/{id}/query/ for the campaign
// aggregate query the Client sends: Bearer personal-API-key auth, the HogQLQuery
// response shape (columns, types, results, hasMore, limit, offset), LIMIT/OFFSET
// paging, DRF 429 throttling with Retry-After and the {"type","code","detail","attr"}
// error body. Data is seeded, so identical queries give identical rows.
type Fake struct {
	APIKey    string
	ProjectID string
	Campaigns int // campaigns (utm_campaign values) per day

	seed uint64

	// ThrottleNext (Retry-After in whole seconds rounded up, "0" under a second) and FailNext (500), queries only
	connectors.Faults

	mu    sync.Mutex
	calls int
	times []time.Time
}

// NewFake returns a fake whose data depends only on seed.
func NewFake(seed uint64) *Fake {
	return &Fake{APIKey: "phx_fake_key", ProjectID: "4242", Campaigns: 3, seed: seed}
}

// Calls returns the number of query requests and their arrival times.
func (f *Fake) Calls() (int, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, append([]time.Time(nil), f.times...)
}

// FakeRow is the seeded aggregate of one campaign on one day.
type FakeRow struct {
	Date         time.Time
	Campaign     string
	Impressions  int64
	Clicks       int64
	Conversions  int64
	RevenueCents int64
}

// Row returns the seeded aggregate of the i-th campaign on date.
func (f *Fake) Row(i int, date time.Time) FakeRow {
	name := fmt.Sprintf("spring_sale_%d", i+1)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s", f.ProjectID, name, date.Format(time.DateOnly))
	rng := rand.New(rand.NewPCG(f.seed, h.Sum64()))
	impr := rng.Int64N(20000)
	clicks := rng.Int64N(impr/10 + 1)
	conv := rng.Int64N(clicks/5 + 1)
	return FakeRow{Date: date, Campaign: name, Impressions: impr, Clicks: clicks, Conversions: conv, RevenueCents: conv * rng.Int64N(10000)}
}

var (
	rangeRE  = regexp.MustCompile(`timestamp >= '(\d{4}-\d{2}-\d{2})' AND timestamp < '(\d{4}-\d{2}-\d{2})'`)
	limOffRE = regexp.MustCompile(`LIMIT (\d+) OFFSET (\d+)`)
)

func writeErr(w http.ResponseWriter, status int, typ, code, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": typ, "code": code, "detail": detail, "attr": nil})
}

// ServeHTTP serves POST /api/projects/{id}/query/.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if r.Method != http.MethodPost || len(parts) != 4 || parts[0] != "api" || parts[1] != "projects" || parts[3] != "query" {
		writeErr(w, http.StatusNotFound, "invalid_request", "not_found", "Not found.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.times = append(f.times, time.Now())
	if key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); key != f.APIKey {
		writeErr(w, http.StatusUnauthorized, "authentication_error", "authentication_failed", "Personal API key found in request Authorization header is invalid.")
		return
	}
	if parts[2] != f.ProjectID {
		writeErr(w, http.StatusForbidden, "authentication_error", "permission_denied", "You don't have access to the project.")
		return
	}
	if delay, ok := f.Throttled(); ok {
		secs := int((delay + time.Second - 1) / time.Second)
		if delay < time.Second {
			secs = 0
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeErr(w, http.StatusTooManyRequests, "throttled_error", "throttled", fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs))
		return
	}
	if f.Failed() {
		writeErr(w, http.StatusInternalServerError, "server_error", "error", "A server error occurred.")
		return
	}
	var body struct {
		Query struct {
			Kind  string `json:"kind"`
			Query string `json:"query"`
		} `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Query.Kind != "HogQLQuery" {
		writeErr(w, http.StatusBadRequest, "validation_error", "invalid_input", "Expected a HogQLQuery.")
		return
	}
	rm, lm := rangeRE.FindStringSubmatch(body.Query.Query), limOffRE.FindStringSubmatch(body.Query.Query)
	if rm == nil || lm == nil {
		writeErr(w, http.StatusBadRequest, "validation_error", "invalid_input", "The fake serves only the campaign aggregate query with a timestamp range and LIMIT/OFFSET.")
		return
	}
	from, _ := time.Parse(time.DateOnly, rm[1])
	until, _ := time.Parse(time.DateOnly, rm[2])
	limit, _ := strconv.Atoi(lm[1])
	offset, _ := strconv.Atoi(lm[2])
	limit = min(max(limit, 1), 50000)
	var all [][]any
	for d := from; d.Before(until); d = d.AddDate(0, 0, 1) {
		for i := range f.Campaigns {
			x := f.Row(i, d)
			all = append(all, []any{d.Format(time.DateOnly), x.Campaign, x.Impressions, x.Clicks, x.Conversions,
				fmt.Sprintf("%d.%02d", x.RevenueCents/100, x.RevenueCents%100)})
		}
	}
	page := [][]any{}
	if offset < len(all) {
		page = all[offset:min(offset+limit, len(all))]
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"columns":      []string{"day", "campaign", "impressions", "clicks", "conversions", "revenue"},
		"types":        [][]string{{"day", "Date"}, {"campaign", "String"}, {"impressions", "UInt64"}, {"clicks", "UInt64"}, {"conversions", "UInt64"}, {"revenue", "String"}},
		"results":      page,
		"hasMore":      offset+len(page) < len(all),
		"limit":        limit,
		"offset":       offset,
		"hogql":        body.Query.Query,
		"is_cached":    false,
		"last_refresh": time.Now().UTC().Format(time.RFC3339),
		"timings":      []any{},
	})
}
