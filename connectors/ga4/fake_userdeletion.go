package ga4

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Quota message of the Admin API's daily user-deletion limit.
const QuotaDailyDeletions = "Quota exceeded for quota metric 'User Deletion Requests' and limit 'User Deletion Requests per day per project'."

// UserDeletionFake reproduces the Admin API's
// POST /{version}/properties/{id}:submitUserDeletion (a body with exactly one of
// userId, clientId, appInstanceId, userProvidedData → {"deletionRequestTime"})
// behind Google's refresh-token grant at /token, with Google's error bodies:
// 401 UNAUTHENTICATED for a bad token, 403 PERMISSION_DENIED for another
// property or a grant without analytics.edit, 429 RESOURCE_EXHAUSTED once
// DailyQuota deletions were accepted, and injected 500s and short-term 429s.
// Safe for concurrent use; set exported fields before serving.
type UserDeletionFake struct {
	Version                              string
	ClientID, ClientSecret, RefreshToken string
	PropertyID                           string
	DailyQuota                           int  // accepted deletions before the daily quota error
	ReadOnlyGrant                        bool // the refresh token lacks analytics.edit

	mu        sync.Mutex
	tokens    map[string]bool
	tokenSeq  int
	revoked   bool
	throttle  int
	fail      int
	calls     int
	deletions []map[string]string
}

// NewUserDeletionFake returns a fake with Google's daily quota of 500.
func NewUserDeletionFake() *UserDeletionFake {
	return &UserDeletionFake{Version: DefaultAdminAPIVersion, ClientID: "fake-client-id", ClientSecret: "fake-client-secret",
		RefreshToken: "fake-deletion-refresh-token", PropertyID: "345678901", DailyQuota: 500, tokens: map[string]bool{}}
}

// RevokeRefreshToken makes the token endpoint answer invalid_grant from now on.
func (f *UserDeletionFake) RevokeRefreshToken() { f.mu.Lock(); f.revoked = true; f.mu.Unlock() }

// ThrottleNext answers the next k API calls with a short-term 429.
func (f *UserDeletionFake) ThrottleNext(k int) { f.mu.Lock(); f.throttle = k; f.mu.Unlock() }

// FailNext answers the next n API calls with 500 INTERNAL.
func (f *UserDeletionFake) FailNext(n int) { f.mu.Lock(); f.fail = n; f.mu.Unlock() }

// Calls returns how many API (not token) requests arrived.
func (f *UserDeletionFake) Calls() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls }

// Deletions returns the accepted request bodies, in order.
func (f *UserDeletionFake) Deletions() []map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deletions)
}

func (f *UserDeletionFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method not allowed")
		return
	}
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	prop, ok := strings.CutPrefix(r.URL.Path, "/"+f.Version+"/properties/")
	prop, isDeletion := strings.CutSuffix(prop, ":submitUserDeletion")
	if !ok || !isDeletion {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Not found: "+r.URL.Path)
		return
	}
	if msg, status, rpc := f.refuse(r, prop); msg != "" {
		writeError(w, status, rpc, msg)
		return
	}
	f.accept(w, r)
}

// refuse returns the error a call gets before its body is looked at, if any.
func (f *UserDeletionFake) refuse(r *http.Request, prop string) (string, int, string) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !f.tokens[tok]:
		return "Request had invalid authentication credentials.", http.StatusUnauthorized, "UNAUTHENTICATED"
	case f.ReadOnlyGrant:
		return "Request had insufficient authentication scopes.", http.StatusForbidden, "PERMISSION_DENIED"
	case prop != f.PropertyID:
		return "User does not have sufficient permissions for this property.", http.StatusForbidden, "PERMISSION_DENIED"
	case f.fail > 0:
		f.fail--
		return "Internal error encountered.", http.StatusInternalServerError, "INTERNAL"
	case f.throttle > 0:
		f.throttle--
		return "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'.", http.StatusTooManyRequests, "RESOURCE_EXHAUSTED"
	case len(f.deletions) >= f.DailyQuota:
		return QuotaDailyDeletions, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED"
	}
	return "", 0, ""
}

func (f *UserDeletionFake) accept(w http.ResponseWriter, r *http.Request) {
	var body map[string]string
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload: "+err.Error())
		return
	}
	n := 0
	for _, k := range []string{"userId", "clientId", "appInstanceId", "userProvidedData"} {
		if body[k] != "" {
			n++
		}
	}
	if n != 1 || len(body) != 1 {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "exactly one user identifier is required")
		return
	}
	f.deletions = append(f.deletions, body)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"deletionRequestTime": time.Now().UTC().Format(time.RFC3339Nano)})
}

func (f *UserDeletionFake) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only refresh_token is supported")
	case r.PostForm.Get("client_id") != f.ClientID || r.PostForm.Get("client_secret") != f.ClientSecret:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
	case f.revoked || r.PostForm.Get("refresh_token") != f.RefreshToken:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
	default:
		f.tokenSeq++
		tok := fmt.Sprintf("ya29.admin-fake-%d", f.tokenSeq)
		f.tokens[tok] = true
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "scope": DeletionScope, "token_type": "Bearer"})
	}
}
