package googleads

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

// Fake reproduces the parts of the Google Ads REST API a campaign sync touches: the
// OAuth2 token endpoint (refresh_token grant) and googleAds:searchStream, with the
// real wire shapes (one JSON array of batches, lowerCamelCase, int64 as strings, zero
// metrics omitted) and the real error bodies, plus fault injection for tests and
// `touchpoint dev`. It is safe for concurrent use. Configure the exported fields
// before serving.
type Fake struct {
	// Version is the API version prefix the fake serves, e.g. "v23"; any other
	// version gets UNSUPPORTED_VERSION, as a retired version does on the real API.
	Version string
	// ClientID, ClientSecret and RefreshToken are the only credentials the token
	// endpoint accepts.
	ClientID, ClientSecret, RefreshToken string
	// DeveloperToken is required in the developer-token header of every call.
	DeveloperToken string
	// LoginCustomerID, when set, must be sent as login-customer-id: the fake then
	// behaves as if every customer were reachable only through that manager.
	LoginCustomerID string
	// TokenTTL is how long an issued access token is valid (the real one: ~1h).
	TokenTTL time.Duration
	// BatchSize is the maximum number of rows per streamed batch.
	BatchSize int
	// Campaigns is how many campaigns each customer has.
	Campaigns int
	// Currency is every customer's currency_code.
	Currency string

	seed uint64

	// ThrottleNext (RESOURCE_EXHAUSTED, quotaErrorDetails.retryDelay = delay) and FailNext (500 INTERNAL), searchStream calls only
	connectors.Faults

	mu          sync.Mutex
	tokens      map[string]time.Time // access token → expiry
	tokenSeq    int
	revoked     bool
	expireAfter int // expire all access tokens after this many more successful streams; 0 = off
	tokenCalls  int
	streamCalls int
	streamTimes []time.Time
}

// NewFake returns a fake whose data is derived from seed only, so two fakes with the
// same seed (or two runs over the same range) serve identical rows.
func NewFake(seed uint64) *Fake {
	return &Fake{
		Version:        "v23",
		ClientID:       "fake-client-id",
		ClientSecret:   "fake-client-secret",
		RefreshToken:   "fake-refresh-token",
		DeveloperToken: "fake-developer-token",
		TokenTTL:       time.Hour,
		BatchSize:      10000,
		Campaigns:      3,
		Currency:       "USD",
		seed:           seed,
		tokens:         map[string]time.Time{},
	}
}

// RevokeRefreshToken makes the token endpoint answer invalid_grant from now on, as
// Google does once a user removes the app's access.
func (f *Fake) RevokeRefreshToken() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revoked = true
}

// ExpireTokensAfter expires every issued access token once n more searchStream
// calls have succeeded, so a sync sees a 401 part-way through even though its
// cached token still looks valid to it.
func (f *Fake) ExpireTokensAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireAfter = n
}

// Counts reports how many token and searchStream requests the fake has received.
func (f *Fake) Counts() (token, stream int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.streamCalls
}

// StreamTimes returns when each searchStream request arrived, to check pacing.
func (f *Fake) StreamTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.streamTimes...)
}

// ServeHTTP routes POST /token and POST /{version}/customers/{id}/googleAds:searchStream.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeAdsError(w, false, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "requestError", "INVALID_INPUT", "method not allowed", nil)
		return
	}
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	// /{version}/customers/{id}/googleAds:searchStream
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 4 || parts[1] != "customers" || parts[3] != "googleAds:searchStream" {
		http.NotFound(w, r)
		return
	}
	f.serveStream(w, r, parts[0], parts[2])
}

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only refresh_token is supported")
	case id != f.ClientID || secret != f.ClientSecret:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "The OAuth client was not found.")
	case f.revoked || r.PostForm.Get("refresh_token") != f.RefreshToken:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
	default:
		f.tokenSeq++
		tok := fmt.Sprintf("ya29.fake-%d", f.tokenSeq)
		f.tokens[tok] = time.Now().Add(f.TokenTTL)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": tok,
			"expires_in":   int(f.TokenTTL / time.Second),
			"scope":        "https://www.googleapis.com/auth/adwords",
			"token_type":   "Bearer",
		})
	}
}

var (
	fromRE  = regexp.MustCompile(`(?i)\bFROM\s+([a-z_]+)`)
	rangeRE = regexp.MustCompile(`(?i)segments\.date\s+BETWEEN\s+'(\d{4}-\d{2}-\d{2})'\s+AND\s+'(\d{4}-\d{2}-\d{2})'`)
)

func (f *Fake) serveStream(w http.ResponseWriter, r *http.Request, version, customerID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streamCalls++
	f.streamTimes = append(f.streamTimes, time.Now())

	// Authentication is checked before the stream starts, so these errors use the
	// plain (not array-wrapped) error form, as the front end answers them.
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := f.tokens[tok]; !ok || !time.Now().Before(exp) {
		writeAdsError(w, false, http.StatusUnauthorized, "UNAUTHENTICATED", "authenticationError", "OAUTH_TOKEN_INVALID",
			"Request is missing required authentication credential. Expected OAuth 2 access token.", nil)
		return
	}
	if r.Header.Get("developer-token") != f.DeveloperToken {
		writeAdsError(w, false, http.StatusForbidden, "PERMISSION_DENIED", "authorizationError", "DEVELOPER_TOKEN_NOT_APPROVED",
			"The developer token is not approved.", nil)
		return
	}
	if version != f.Version {
		writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "requestError", "UNSUPPORTED_VERSION",
			fmt.Sprintf("Version %s is not supported.", version), nil)
		return
	}
	if f.LoginCustomerID != "" && r.Header.Get("login-customer-id") != f.LoginCustomerID {
		writeAdsError(w, true, http.StatusForbidden, "PERMISSION_DENIED", "authorizationError", "USER_PERMISSION_DENIED",
			"User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header.", nil)
		return
	}
	if f.Failed() {
		writeAdsError(w, true, http.StatusInternalServerError, "INTERNAL", "internalError", "INTERNAL_ERROR",
			"Internal error encountered.", nil)
		return
	}
	if delay, ok := f.Throttled(); ok {
		writeAdsError(w, true, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "quotaError", "RESOURCE_EXHAUSTED",
			"Too many requests. Retry in "+durationJSON(delay)+".",
			map[string]any{"quotaErrorDetails": map[string]any{
				"rateScope":  "DEVELOPER",
				"rateName":   "Number of operations for basic access",
				"retryDelay": durationJSON(delay),
			}})
		return
	}

	var body struct {
		Query string `json:"query"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimSpace(body.Query) == "" {
		writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "queryError", "UNEXPECTED_END_OF_QUERY",
			"Error in query: no query.", nil)
		return
	}
	m := fromRE.FindStringSubmatch(body.Query)
	if m == nil {
		writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "queryError", "EXPECTED_FROM",
			"Error in query: expected FROM.", nil)
		return
	}
	var rows []any
	switch strings.ToLower(m[1]) {
	case "customer":
		rows = []any{map[string]any{"customer": map[string]any{
			"resourceName": "customers/" + customerID,
			"id":           customerID,
			"currencyCode": f.Currency,
		}}}
	case "campaign":
		rm := rangeRE.FindStringSubmatch(body.Query)
		if rm == nil {
			// The fake only serves bounded daily reports; the real API would accept
			// an unbounded query, but a sync that sends one is a bug worth failing.
			writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "queryError", "MISSING_DATE_RANGE",
				"Error in query: the fake requires segments.date BETWEEN 'a' AND 'b'.", nil)
			return
		}
		from, err1 := time.Parse(time.DateOnly, rm[1])
		to, err2 := time.Parse(time.DateOnly, rm[2])
		if err1 != nil || err2 != nil || to.Before(from) {
			writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "queryError", "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
				"Error in query: invalid date range.", nil)
			return
		}
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			for i := range f.Campaigns {
				rows = append(rows, f.Row(customerID, i, d).wire(customerID))
			}
		}
	default:
		writeAdsError(w, true, http.StatusBadRequest, "INVALID_ARGUMENT", "queryError", "INVALID_RESOURCE_NAME_IN_FROM_CLAUSE",
			"Error in query: the fake serves only customer and campaign.", nil)
		return
	}

	if f.expireAfter > 0 {
		f.expireAfter--
		if f.expireAfter == 0 {
			clear(f.tokens)
		}
	}

	reqID := fmt.Sprintf("fake-%d", f.streamCalls)
	size := max(f.BatchSize, 1)
	batches := []map[string]any{}
	for start := 0; start < len(rows) || start == 0; start += size {
		end := min(start+size, len(rows))
		batches = append(batches, map[string]any{
			"results":   rows[start:end],
			"fieldMask": "campaign.id,campaign.name,segments.date,metrics.impressions,metrics.clicks,metrics.conversions,metrics.conversionsValue,metrics.costMicros",
			"requestId": reqID,
		})
		if len(rows) == 0 {
			break
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("request-id", reqID)
	_ = json.NewEncoder(w).Encode(batches)
}

// FakeRow is the seeded performance of one campaign on one day. Money is kept in
// integers (micros for cost, cents for revenue) so tests can state exact answers.
type FakeRow struct {
	CampaignID   string
	CampaignName string
	Date         time.Time
	Impressions  int64
	Clicks       int64
	// ConversionsHalves is conversions×2: the fake reports halves (e.g. 3.5), as
	// data-driven attribution gives fractional conversions.
	ConversionsHalves int64
	CostMicros        int64
	RevenueCents      int64
}

// Row returns the seeded row for the i-th campaign of customerID on date. It
// depends only on (seed, customer, campaign, date).
func (f *Fake) Row(customerID string, i int, date time.Time) FakeRow {
	id := strconv.Itoa(1000 + i)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s", customerID, id, date.Format(time.DateOnly))
	rng := rand.New(rand.NewPCG(f.seed, h.Sum64()))
	impr := rng.Int64N(50000)
	clicks := int64(0)
	if impr > 0 {
		clicks = rng.Int64N(impr/20 + 1)
	}
	return FakeRow{
		CampaignID:        id,
		CampaignName:      fmt.Sprintf("Campaign %d", i+1),
		Date:              date,
		Impressions:       impr,
		Clicks:            clicks,
		ConversionsHalves: rng.Int64N(clicks/10 + 1),
		// Cost is billed in units of 10,000 micros (a cent) like most accounts.
		CostMicros:   rng.Int64N(500_000) * 10_000,
		RevenueCents: rng.Int64N(2_000_000),
	}
}

// wire renders a row as searchStream does: int64 as strings, doubles as numbers,
// and zero-valued metrics omitted (proto3 JSON drops default values).
func (r FakeRow) wire(customerID string) map[string]any {
	metrics := map[string]any{}
	if r.Impressions != 0 {
		metrics["impressions"] = strconv.FormatInt(r.Impressions, 10)
	}
	if r.Clicks != 0 {
		metrics["clicks"] = strconv.FormatInt(r.Clicks, 10)
	}
	if r.CostMicros != 0 {
		metrics["costMicros"] = strconv.FormatInt(r.CostMicros, 10)
	}
	if r.ConversionsHalves != 0 {
		metrics["conversions"] = json.Number(fmt.Sprintf("%d.%d", r.ConversionsHalves/2, 5*(r.ConversionsHalves%2)))
	}
	if r.RevenueCents != 0 {
		metrics["conversionsValue"] = json.Number(fmt.Sprintf("%d.%02d", r.RevenueCents/100, r.RevenueCents%100))
	}
	return map[string]any{
		"campaign": map[string]any{
			"resourceName": "customers/" + customerID + "/campaigns/" + r.CampaignID,
			"id":           r.CampaignID,
			"name":         r.CampaignName,
			"status":       "ENABLED",
		},
		"metrics":  metrics,
		"segments": map[string]any{"date": r.Date.Format(time.DateOnly)},
	}
}

// durationJSON renders d the way protobuf's JSON mapping renders a Duration ("2s",
// "0.250s").
func durationJSON(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// writeAdsError writes Google's REST error body; wrapped selects the array form
// searchStream uses once the stream has started.
func writeAdsError(w http.ResponseWriter, wrapped bool, status int, rpcStatus, category, enum, msg string, details map[string]any) {
	adsErr := map[string]any{"errorCode": map[string]string{category: enum}, "message": msg}
	if details != nil {
		adsErr["details"] = details
	}
	body := map[string]any{"error": map[string]any{
		"code":    status,
		"message": msg,
		"status":  rpcStatus,
		"details": []any{map[string]any{
			"@type":     "type.googleapis.com/google.ads.googleads.v23.errors.GoogleAdsFailure",
			"errors":    []any{adsErr},
			"requestId": "fake-error",
		}},
	}}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if wrapped {
		_ = json.NewEncoder(w).Encode([]any{body})
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}
