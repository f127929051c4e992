package mparticle

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
)

// Fake reproduces the Events API (POST /v2/bulkevents, Basic auth with the input
// key and secret, a JSON array of batches, 202 with an empty body; batches are
// deduplicated by source_request_id and their user_attributes applied to the user
// identified by user_identities.customerid), the SSO token endpoint (POST
// /oauth/token, JSON client-credentials grant with audience) and the Profile API
// (GET /userprofile/v1/{org}/{account}/{workspace}/{mpid}, Bearer). mpids are
// derived from the customer id (see MPID). Fault injection: 429 with Retry-After,
// 500s, invalid credentials. Safe for concurrent use.
type Fake struct {
	APIKey, APISecret      string
	ClientID, ClientSecret string
	OrgID, AccountID, WSID string
	token                  string
	// ThrottleNext (Retry-After truncated to whole seconds) and FailNext (500)
	connectors.Faults

	mu       sync.Mutex
	users    map[int64]map[string]any // mpid -> attributes
	ids      map[int64]string         // mpid -> customerid
	seen     map[string]bool
	received []Batch
	calls    int
	times    []time.Time
}

// MPID is the fake's mpid for a customer id.
func MPID(customerID string) int64 {
	h := fnv.New64a()
	h.Write([]byte(customerID))
	return int64(h.Sum64() >> 1)
}

// NewFake returns a fake with users user-1..user-n whose attributes depend only on seed.
func NewFake(seed uint64, n int) *Fake {
	f := &Fake{APIKey: "fake-key", APISecret: "fake-secret", ClientID: "fake-client", ClientSecret: "fake-client-secret",
		OrgID: "1", AccountID: "2", WSID: "3", token: "fake-bearer",
		users: map[int64]map[string]any{}, ids: map[int64]string{}, seen: map[string]bool{}}
	plans := []string{"free", "pro", "enterprise"}
	for i := 1; i <= n; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		id := fmt.Sprintf("user-%d", i)
		f.ids[MPID(id)] = id
		f.users[MPID(id)] = map[string]any{
			"email":            fmt.Sprintf("user%d@example.com", i),
			"plan":             plans[rng.IntN(len(plans))],
			"lifetime_value":   float64(rng.IntN(100000)) / 100,
			"orders":           float64(rng.IntN(50)),
			"newsletter":       rng.IntN(2) == 1,
			"updated_at":       time.Date(2024, 1, 1+rng.IntN(30), 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
			"gdpr_restricted":  rng.IntN(4) == 0,
			"ccpa_do_not_sell": rng.IntN(4) == 0,
		}
	}
	return f
}

// SetAttributes replaces a user's stored attributes.
func (f *Fake) SetAttributes(customerID string, attrs map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids[MPID(customerID)] = customerID
	f.users[MPID(customerID)] = maps.Clone(attrs)
}

// Attributes returns a copy of a user's stored attributes.
func (f *Fake) Attributes(customerID string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.users[MPID(customerID)])
}

// Received returns the deduplicated batches received.
func (f *Fake) Received() []Batch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.received)
}

// ExpireTokens rotates the Bearer token: tokens issued so far get 401.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token += "x"
}

// Calls returns the number of requests and their arrival times.
func (f *Fake) Calls() (int, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, slices.Clone(f.times)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(code int, msg string) map[string]any {
	return map[string]any{"code": code, "message": msg, "errors": []any{map[string]any{"message": msg}}}
}

// ServeHTTP routes the token, bulkevents and profile endpoints.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.times = append(f.times, time.Now())
	if r.URL.Path == "/oauth/token" {
		var g map[string]string
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&g) != nil || g["grant_type"] != "client_credentials" || g["audience"] != Audience {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
			return
		}
		if g["client_id"] != f.ClientID || g["client_secret"] != f.ClientSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "access_denied", "error_description": "Unauthorized"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": f.token, "expires_in": 28800, "token_type": "Bearer"})
		return
	}
	isBulk := r.URL.Path == "/v2/bulkevents"
	if isBulk {
		if k, s, _ := r.BasicAuth(); k != f.APIKey || s != f.APISecret {
			writeJSON(w, http.StatusUnauthorized, errBody(401, "Unauthorized"))
			return
		}
	} else if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, http.StatusUnauthorized, errBody(401, "Unauthorized"))
		return
	}
	if delay, ok := f.Throttled(); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(delay/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, errBody(429, "Too many requests"))
		return
	}
	if f.Failed() {
		writeJSON(w, http.StatusInternalServerError, errBody(500, "Internal server error"))
		return
	}
	if isBulk {
		f.serveBulk(w, r)
		return
	}
	prefix := fmt.Sprintf("/userprofile/v1/%s/%s/%s/", f.OrgID, f.AccountID, f.WSID)
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	mpid, err := strconv.ParseInt(rest, 10, 64)
	if r.Method != http.MethodGet || !ok || err != nil {
		writeJSON(w, http.StatusNotFound, errBody(404, "Not found"))
		return
	}
	attrs, found := f.users[mpid]
	if !found {
		writeJSON(w, http.StatusNotFound, errBody(404, "Profile not found"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mpid": mpid,
		"user_identities": []any{map[string]any{"type": "customer_id", "value": f.ids[mpid]}},
		"user_attributes": attrs})
}

func (f *Fake) serveBulk(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, errBody(405, "method not allowed"))
		return
	}
	var batches []Batch
	if err := json.NewDecoder(r.Body).Decode(&batches); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody(400, "invalid JSON"))
		return
	}
	for _, b := range batches {
		if b.UserIdentities["customerid"] == "" || b.Environment == "" {
			writeJSON(w, http.StatusBadRequest, errBody(400, "customerid and environment are required"))
			return
		}
	}
	for _, b := range batches {
		if b.SourceRequestID != "" && f.seen[b.SourceRequestID] {
			continue
		}
		f.seen[b.SourceRequestID] = true
		f.received = append(f.received, b)
		cid := b.UserIdentities["customerid"]
		mpid := MPID(cid)
		f.ids[mpid] = cid
		if f.users[mpid] == nil {
			f.users[mpid] = map[string]any{}
		}
		maps.Copy(f.users[mpid], b.UserAttributes)
	}
	w.WriteHeader(http.StatusAccepted)
}
