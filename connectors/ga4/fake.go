package ga4

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fake reproduces the parts of the GA4 Data API a campaign sync touches: Google's
// OAuth2 token endpoint (refresh_token grant), properties/{id}:runReport (offset/limit
// paging with rowCount, every value a string, date as YYYYMMDD, zero rows dropped as
// with keepEmptyRows=false, propertyQuota when asked) and
// properties/{id}:runRealtimeReport (minutesAgo), with Google's error bodies, plus
// fault injection. Safe for concurrent use; configure exported fields before serving.
type Fake struct {
	Version                              string // API version prefix, e.g. "v1beta"
	ClientID, ClientSecret, RefreshToken string
	TokenTTL                             time.Duration
	PropertyID                           string
	Currency                             string
	Campaigns                            int
	MaxLimit                             int // cap on limit per request (the real API: 250,000)

	seed uint64

	mu           sync.Mutex
	tokens       map[string]time.Time
	tokenSeq     int
	revoked      bool
	expireAfter  int
	throttleLeft int
	throttleMsg  string
	failLeft     int
	tokenCalls   int
	apiCalls     int
	apiTimes     []time.Time
	tokensUsed   int
}

// NewFake returns a fake whose data depend only on seed.
func NewFake(seed uint64) *Fake {
	return &Fake{
		Version: "v1beta", ClientID: "fake-client-id", ClientSecret: "fake-client-secret",
		RefreshToken: "fake-refresh-token", TokenTTL: time.Hour, PropertyID: "345678901",
		Currency: "USD", Campaigns: 3, MaxLimit: 250000, seed: seed, tokens: map[string]time.Time{},
	}
}

// Quota messages the real API uses (and Airbyte matches on).
const (
	QuotaConcurrent = "Exhausted concurrent requests quota."
	QuotaHourly     = "Exhausted property tokens for a project per hour."
)

// RevokeRefreshToken makes the token endpoint answer invalid_grant from now on.
func (f *Fake) RevokeRefreshToken() { f.mu.Lock(); f.revoked = true; f.mu.Unlock() }

// ExpireTokensAfter expires every access token once n more API calls succeeded.
func (f *Fake) ExpireTokensAfter(n int) { f.mu.Lock(); f.expireAfter = n; f.mu.Unlock() }

// ThrottleNext answers the next k API calls with 429 RESOURCE_EXHAUSTED and msg.
func (f *Fake) ThrottleNext(k int, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.throttleLeft, f.throttleMsg = k, msg
}

// FailNext answers the next n API calls with 500 INTERNAL.
func (f *Fake) FailNext(n int) { f.mu.Lock(); f.failLeft = n; f.mu.Unlock() }

// Counts reports token and API requests received.
func (f *Fake) Counts() (token, api int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenCalls, f.apiCalls
}

// APITimes returns when each API request arrived.
func (f *Fake) APITimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.apiTimes...)
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "INVALID_ARGUMENT", "method not allowed")
		return
	}
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	// /{version}/properties/{id}:{method}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != f.Version || parts[1] != "properties" {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "Not found: "+r.URL.Path)
		return
	}
	prop, method, _ := strings.Cut(parts[2], ":")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiCalls++
	f.apiTimes = append(f.apiTimes, time.Now())
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := f.tokens[tok]; !ok || !time.Now().Before(exp) {
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		return
	}
	if prop != f.PropertyID {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "User does not have sufficient permissions for this property.")
		return
	}
	if f.failLeft > 0 {
		f.failLeft--
		writeError(w, http.StatusInternalServerError, "INTERNAL", "Internal error encountered.")
		return
	}
	if f.throttleLeft > 0 {
		f.throttleLeft--
		writeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", f.throttleMsg)
		return
	}
	var req reportRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload: "+err.Error())
		return
	}
	var resp map[string]any
	var msg string
	switch method {
	case "runReport":
		resp, msg = f.runReport(&req)
	case "runRealtimeReport":
		resp, msg = f.runRealtime(&req)
	default:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "unknown method "+method)
		return
	}
	if msg != "" {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
		return
	}
	if f.expireAfter > 0 {
		f.expireAfter--
		if f.expireAfter == 0 {
			clear(f.tokens)
		}
	}
	if req.ReturnPropertyQuota {
		f.tokensUsed += 10
		resp["propertyQuota"] = map[string]any{
			"tokensPerDay":            map[string]int{"consumed": 10, "remaining": max(200000-f.tokensUsed, 0)},
			"tokensPerHour":           map[string]int{"consumed": 10, "remaining": max(40000-f.tokensUsed, 0)},
			"concurrentRequests":      map[string]int{"consumed": 0, "remaining": 10},
			"tokensPerProjectPerHour": map[string]int{"consumed": 10, "remaining": max(14000-f.tokensUsed, 0)},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
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
		tok := fmt.Sprintf("ya29.ga4-fake-%d", f.tokenSeq)
		f.tokens[tok] = time.Now().Add(f.TokenTTL)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": tok, "expires_in": int(f.TokenTTL / time.Second),
			"scope": "https://www.googleapis.com/auth/analytics.readonly", "token_type": "Bearer",
		})
	}
}

type reportRequest struct {
	DateRanges []struct {
		StartDate string `json:"startDate"`
		EndDate   string `json:"endDate"`
	} `json:"dateRanges"`
	MinuteRanges []struct {
		StartMinutesAgo int `json:"startMinutesAgo"`
		EndMinutesAgo   int `json:"endMinutesAgo"`
	} `json:"minuteRanges"`
	Dimensions          []named     `json:"dimensions"`
	Metrics             []named     `json:"metrics"`
	Limit               json.Number `json:"limit"` // int64 fields: string or number
	Offset              json.Number `json:"offset"`
	ReturnPropertyQuota bool        `json:"returnPropertyQuota"`
}

var metricTypes = map[string]string{
	"sessions": "TYPE_INTEGER", "conversions": "TYPE_FLOAT", "totalRevenue": "TYPE_CURRENCY",
	"activeUsers": "TYPE_INTEGER", "eventCount": "TYPE_INTEGER",
}

// table renders rows (name → value) for the requested dimensions and metrics.
func table(req *reportRequest, rows []map[string]string, allowed map[string]bool) (map[string]any, []any, string) {
	dh, mh := []any{}, []any{}
	for _, d := range req.Dimensions {
		if !allowed[d.Name] {
			return nil, nil, fmt.Sprintf("Field %s is not a valid dimension.", d.Name)
		}
		dh = append(dh, map[string]string{"name": d.Name})
	}
	for _, m := range req.Metrics {
		if !allowed[m.Name] {
			return nil, nil, fmt.Sprintf("Field %s is not a valid metric.", m.Name)
		}
		mh = append(mh, map[string]string{"name": m.Name, "type": metricTypes[m.Name]})
	}
	out := []any{}
	for _, row := range rows {
		dv, mv := []any{}, []any{}
		for _, d := range req.Dimensions {
			dv = append(dv, map[string]string{"value": row[d.Name]})
		}
		for _, m := range req.Metrics {
			mv = append(mv, map[string]string{"value": row[m.Name]})
		}
		out = append(out, map[string]any{"dimensionValues": dv, "metricValues": mv})
	}
	return map[string]any{"dimensionHeaders": dh, "metricHeaders": mh}, out, ""
}

func (f *Fake) runReport(req *reportRequest) (map[string]any, string) {
	if len(req.DateRanges) != 1 {
		return nil, "the fake serves exactly one dateRange"
	}
	from, err1 := time.Parse(time.DateOnly, req.DateRanges[0].StartDate)
	to, err2 := time.Parse(time.DateOnly, req.DateRanges[0].EndDate)
	if err1 != nil || err2 != nil || to.Before(from) {
		return nil, "invalid dateRange"
	}
	limit, offset := 10000, 0
	if req.Limit != "" {
		n, err := strconv.Atoi(string(req.Limit))
		if err != nil || n < 0 {
			return nil, "invalid limit"
		}
		if n > 0 {
			limit = n
		}
	}
	limit = min(limit, f.MaxLimit)
	if req.Offset != "" {
		n, err := strconv.Atoi(string(req.Offset))
		if err != nil || n < 0 {
			return nil, "invalid offset"
		}
		offset = n
	}
	var rows []map[string]string
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for i := range f.Campaigns {
			r := f.Row(i, d)
			if r.Sessions == 0 {
				continue // keepEmptyRows=false
			}
			rows = append(rows, map[string]string{
				"date": d.Format("20060102"), "sessionCampaignId": r.CampaignID, "sessionCampaignName": r.CampaignName,
				"sessions": strconv.FormatInt(r.Sessions, 10), "conversions": strconv.FormatFloat(float64(r.ConversionsHalves)/2, 'f', -1, 64),
				"totalRevenue": fmt.Sprintf("%d.%02d", r.RevenueCents/100, r.RevenueCents%100),
			})
		}
	}
	// orderBys date, campaign id: already in that order (ids have equal length).
	allowed := map[string]bool{"date": true, "sessionCampaignId": true, "sessionCampaignName": true, "sessions": true, "conversions": true, "totalRevenue": true}
	resp, all, msg := table(req, rows, allowed)
	if msg != "" {
		return nil, msg
	}
	resp["rowCount"] = len(all)
	end := min(offset+limit, len(all))
	if offset < len(all) {
		resp["rows"] = all[offset:end]
	}
	resp["metadata"] = map[string]any{"currencyCode": f.Currency, "timeZone": "Etc/UTC"}
	resp["kind"] = "analyticsData#runReport"
	return resp, ""
}

func (f *Fake) runRealtime(req *reportRequest) (map[string]any, string) {
	start := 29
	if len(req.MinuteRanges) == 1 {
		start = req.MinuteRanges[0].StartMinutesAgo
	}
	if start < 0 || start > 29 {
		return nil, "startMinutesAgo must be within the last 30 minutes"
	}
	var rows []map[string]string
	for m := 0; m <= start; m++ {
		r := f.RealtimeRow(m)
		if r.ActiveUsers == 0 {
			continue
		}
		rows = append(rows, map[string]string{
			"minutesAgo": fmt.Sprintf("%02d", m), "activeUsers": strconv.FormatInt(r.ActiveUsers, 10),
			"eventCount": strconv.FormatInt(r.EventCount, 10), "conversions": strconv.FormatFloat(r.Conversions, 'f', -1, 64),
		})
	}
	// The real API orders realtime rows by the first metric, descending.
	sort.SliceStable(rows, func(i, j int) bool {
		a, _ := strconv.Atoi(rows[i]["activeUsers"])
		b, _ := strconv.Atoi(rows[j]["activeUsers"])
		return a > b
	})
	allowed := map[string]bool{"minutesAgo": true, "activeUsers": true, "eventCount": true, "conversions": true}
	resp, all, msg := table(req, rows, allowed)
	if msg != "" {
		return nil, msg
	}
	resp["rows"] = all
	resp["rowCount"] = len(all)
	resp["kind"] = "analyticsData#runRealtimeReport"
	return resp, ""
}

// FakeRow is the seeded traffic of one campaign on one day.
type FakeRow struct {
	CampaignID, CampaignName string
	Sessions                 int64 // 0: the row is absent
	ConversionsHalves        int64
	RevenueCents             int64
}

// Row returns the seeded row of the i-th campaign on date.
func (f *Fake) Row(i int, date time.Time) FakeRow {
	id := strconv.Itoa(20000 + i)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s", f.PropertyID, id, date.Format(time.DateOnly))
	rng := rand.New(rand.NewPCG(f.seed, h.Sum64()))
	sessions := rng.Int64N(5000)
	if sessions < 300 {
		sessions = 0
	}
	return FakeRow{
		CampaignID: id, CampaignName: fmt.Sprintf("ga4_campaign_%d", i+1), Sessions: sessions,
		ConversionsHalves: rng.Int64N(sessions/20 + 1), RevenueCents: rng.Int64N(5_000_000),
	}
}

// RealtimeRow returns the seeded activity m minutes ago.
func (f *Fake) RealtimeRow(m int) RealtimeMinute {
	rng := rand.New(rand.NewPCG(f.seed, uint64(m)+1))
	u := rng.Int64N(200)
	return RealtimeMinute{MinutesAgo: m, ActiveUsers: u, EventCount: u * (1 + rng.Int64N(10)), Conversions: float64(rng.Int64N(u/10 + 1))}
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeError(w http.ResponseWriter, status int, rpcStatus, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": msg, "status": rpcStatus}})
}
