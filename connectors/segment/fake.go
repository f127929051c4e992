package segment

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
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

// Fake reproduces the Profile API traits endpoint
// (GET /v1/spaces/{space}/collections/users/profiles/user_id:{id}/traits, Basic
// auth with the access token, {"traits","cursor":{"url","has_more","next"}} paged
// by ?limit=&next=, default 10) and the Tracking API (POST /v1/batch, Basic auth
// with the write key; identify traits are applied to the stored profile, messages
// are deduplicated by messageId). Fault injection: 429 with Retry-After and the
// Public API's msBeforeNext body, 500s, invalid credentials. Safe for concurrent use.
type Fake struct {
	SpaceID     string
	AccessToken string
	WriteKey    string

	// ThrottleNext (Retry-After only for whole seconds, msBeforeNext always) and FailNext (500)
	connectors.Faults

	mu       sync.Mutex
	profiles map[string]map[string]any
	seen     map[string]bool // messageIds
	tracks   []Message
	calls    int
	times    []time.Time
}

// NewFake returns a fake with users user-1..user-n whose traits depend only on seed.
func NewFake(seed uint64, n int) *Fake {
	f := &Fake{SpaceID: "spa_fake", AccessToken: "fake-access-token", WriteKey: "fake-write-key",
		profiles: map[string]map[string]any{}, seen: map[string]bool{}}
	plans := []string{"free", "pro", "enterprise"}
	for i := 1; i <= n; i++ {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		id := fmt.Sprintf("user-%d", i)
		f.profiles[id] = map[string]any{
			"email":            fmt.Sprintf("user%d@example.com", i),
			"first_name":       fmt.Sprintf("First%d", i),
			"last_name":        fmt.Sprintf("Last%d", i),
			"plan":             plans[rng.IntN(len(plans))],
			"lifetime_value":   float64(rng.IntN(100000)) / 100,
			"orders":           float64(rng.IntN(50)),
			"newsletter":       rng.IntN(2) == 1,
			"created_at":       time.Date(2023, 1, 1+rng.IntN(300), 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
			"updated_at":       time.Date(2024, 1, 1+rng.IntN(30), 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
			"gdpr_restricted":  rng.IntN(4) == 0,
			"ccpa_do_not_sell": rng.IntN(4) == 0,
		}
	}
	return f
}

// SetTraits replaces a user's stored traits (e.g. to plant a schema violation).
func (f *Fake) SetTraits(userID string, traits map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.profiles[userID] = maps.Clone(traits)
}

// Traits returns a copy of a user's stored traits.
func (f *Fake) Traits(userID string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.profiles[userID])
}

// Tracks returns the deduplicated track messages received.
func (f *Fake) Tracks() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tracks)
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

func errBody(msg string) map[string]any {
	return map[string]any{"errors": []any{map[string]any{"type": "RequestError", "message": msg}}}
}

// ServeHTTP routes the traits and batch endpoints.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.times = append(f.times, time.Now())
	user, _, _ := r.BasicAuth()
	isBatch := r.URL.Path == "/v1/batch"
	want := f.AccessToken
	if isBatch {
		want = f.WriteKey
	}
	if user != want {
		writeJSON(w, http.StatusUnauthorized, errBody("Unauthorized: invalid credentials"))
		return
	}
	if delay, ok := f.Throttled(); ok {
		if delay%time.Second == 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(delay/time.Second)))
		}
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", time.Now().Add(delay).UTC().Format(http.TimeFormat))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"errors": []any{map[string]any{
			"type": "RequestError", "message": "Too many requests",
			"data": map[string]any{"remainingPoints": 0, "msBeforeNext": delay.Milliseconds(), "consumedPoints": 21}}}})
		return
	}
	if f.Failed() {
		writeJSON(w, http.StatusInternalServerError, errBody("Internal server error"))
		return
	}
	if isBatch {
		f.serveBatch(w, r)
		return
	}
	prefix := "/v1/spaces/" + f.SpaceID + "/collections/users/profiles/user_id:"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	uid, ok2 := strings.CutSuffix(rest, "/traits")
	if r.Method != http.MethodGet || !ok || !ok2 {
		writeJSON(w, http.StatusNotFound, errBody("Not found"))
		return
	}
	traits, found := f.profiles[uid]
	if !found {
		writeJSON(w, http.StatusNotFound, errBody("Resource not found"))
		return
	}
	limit := 10
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = min(l, 200)
	}
	offset := 0
	if n := r.URL.Query().Get("next"); n != "" {
		b, err := base64.RawURLEncoding.DecodeString(n)
		if o, err2 := strconv.Atoi(string(b)); err != nil || err2 != nil || o < 0 {
			writeJSON(w, http.StatusBadRequest, errBody("invalid cursor"))
			return
		} else {
			offset = o
		}
	}
	keys := slices.Sorted(maps.Keys(traits))
	page := map[string]any{}
	end := min(offset+limit, len(keys))
	for _, k := range keys[min(offset, len(keys)):end] {
		page[k] = traits[k]
	}
	cursor := map[string]any{"url": r.URL.Path, "has_more": end < len(keys), "next": ""}
	if end < len(keys) {
		cursor["next"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"traits": page, "cursor": cursor})
}

func (f *Fake) serveBatch(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, errBody("method not allowed"))
		return
	}
	var body struct {
		Batch []Message `json:"batch"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid JSON"))
		return
	}
	for _, m := range body.Batch {
		if m.MessageID == "" || m.UserID == "" {
			writeJSON(w, http.StatusBadRequest, errBody("messageId and userId are required"))
			return
		}
	}
	for _, m := range body.Batch {
		if f.seen[m.MessageID] {
			continue
		}
		f.seen[m.MessageID] = true
		switch m.Type {
		case "identify":
			p := f.profiles[m.UserID]
			if p == nil {
				p = map[string]any{}
				f.profiles[m.UserID] = p
			}
			maps.Copy(p, m.Traits)
		case "track":
			f.tracks = append(f.tracks, m)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true})
}
