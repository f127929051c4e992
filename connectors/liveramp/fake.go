package liveramp

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
)

// Fake reproduces the RampID API's token endpoint (POST /token, form-encoded
// client_credentials; a bad client gets 400 invalid_request) and batch Lookup
// (POST /v1/batch/lookup, Bearer, a JSON array of up to 1000 "/people/lookup?email=
// <sha256>" paths; 200 with one document per path in order, a per-record error
// document for a bad path, RampIDs derived from the hash). Expired tokens get 403.
// Fault injection: 429 with Retry-After, 500s, token expiry. Safe for concurrent use.
type Fake struct {
	ClientID, ClientSecret string

	// ThrottleNext (Retry-After truncated to whole seconds) and FailNext (500), lookups only
	connectors.Faults

	mu      sync.Mutex
	tokens  map[string]bool
	issued  int
	lookups int
	calls   int
	times   []time.Time
}

// NewFake returns a fake with fixed credentials.
func NewFake() *Fake {
	return &Fake{ClientID: "fake-client", ClientSecret: "fake-secret", tokens: map[string]bool{}}
}

// RampIDFor is the maintained RampID ("XY" + 47 characters) the fake returns for a
// hashed email.
func RampIDFor(hashedEmail string) string {
	h := sha256.Sum256([]byte("rampid:" + hashedEmail))
	return "XY" + strings.ToUpper(hex.EncodeToString(h[:]))[:47]
}

// ExpireTokens makes every issued token answer 403.
func (f *Fake) ExpireTokens() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

// Calls returns the number of requests and their arrival times.
func (f *Fake) Calls() (int, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, slices.Clone(f.times)
}

// Stats returns tokens issued and successful batch calls.
func (f *Fake) Stats() (tokens, lookups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued, f.lookups
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errDoc(code, msg string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": msg, "requestId": "fake"}}
}

// ServeHTTP routes /token and /v1/batch/lookup.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.times = append(f.times, time.Now())
	if r.URL.Path == "/token" {
		if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
			r.PostForm.Get("client_id") != f.ClientID || r.PostForm.Get("client_secret") != f.ClientSecret {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "invalid client credentials"})
			return
		}
		f.issued++
		tok := "tok-" + strconv.Itoa(f.issued)
		f.tokens[tok] = true
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 600})
		return
	}
	if r.URL.Path != "/v1/batch/lookup" || r.Method != http.MethodPost {
		writeJSON(w, http.StatusNotFound, errDoc("000-0404", "not found"))
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		writeJSON(w, http.StatusUnauthorized, errDoc("000-0401", "missing token"))
		return
	}
	if !f.tokens[tok] {
		writeJSON(w, http.StatusForbidden, errDoc("000-0403", "token expired or invalid"))
		return
	}
	if delay, ok := f.Throttled(); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(delay/time.Second)))
		writeJSON(w, http.StatusTooManyRequests, errDoc("000-0429", "rate limit exceeded"))
		return
	}
	if f.Failed() {
		writeJSON(w, http.StatusInternalServerError, errDoc("600-0010", "Internal Server Error"))
		return
	}
	var paths []string
	if err := json.NewDecoder(r.Body).Decode(&paths); err != nil || len(paths) == 0 || len(paths) > 1000 {
		writeJSON(w, http.StatusBadRequest, errDoc("600-0000", "body must be an array of 1 to 1000 request paths"))
		return
	}
	docs := make([]any, len(paths))
	for i, p := range paths {
		u, err := url.Parse(p)
		email := ""
		if err == nil {
			email = u.Query().Get("email")
		}
		if err != nil || u.Path != "/people/lookup" || len(email) != 64 {
			docs[i] = errDoc("600-0043", "invalid lookup: a sha256 email is required")
			continue
		}
		docs[i] = map[string]any{"type": "lookup", "universal": RampIDFor(email)}
	}
	f.lookups++
	writeJSON(w, http.StatusOK, docs)
}
