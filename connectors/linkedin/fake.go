package linkedin

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
)

// Fake reproduces the parts of the LinkedIn Marketing API a campaign sync touches:
// the OAuth2 token endpoint (refresh_token grant), GET /rest/adAccounts/{id}, the
// adCampaigns search finder (paged by metadata.nextPageToken) and adAnalytics
// (q=analytics, campaign pivot, daily; unpaged), with LinkedIn's wire shapes (counts
// as numbers, costs as decimal strings, days without activity omitted) and error
// bodies, plus fault injection. Safe for concurrent use; configure the exported
// fields before serving.
type Fake struct {
	Version                              string // required LinkedIn-Version
	ClientID, ClientSecret, RefreshToken string
	TokenTTL                             time.Duration
	AccountID                            string
	Currency                             string
	Campaigns                            int // campaigns of the account
	PageSize                             int // max campaigns per finder page (caps the client's pageSize)

	seed uint64

	mu           sync.Mutex
	tokens       map[string]time.Time
	tokenSeq     int
	revoked      bool
	expireAfter  int
	throttleLeft int
	failLeft     int
	tokenCalls   int
	apiCalls     int
	apiTimes     []time.Time
}

// NewFake returns a fake whose data depend only on seed.
func NewFake(seed uint64) *Fake {
	return &Fake{
		Version: "202601", ClientID: "fake-client-id", ClientSecret: "fake-client-secret",
		RefreshToken: "fake-refresh-token", TokenTTL: 60 * 24 * time.Hour,
		AccountID: "508000001", Currency: "USD", Campaigns: 3, PageSize: 500,
		seed: seed, tokens: map[string]time.Time{},
	}
}

// RevokeRefreshToken makes the token endpoint answer invalid_grant from now on.
func (f *Fake) RevokeRefreshToken() { f.mu.Lock(); f.revoked = true; f.mu.Unlock() }

// ExpireTokensAfter expires every access token once n more API calls succeeded.
func (f *Fake) ExpireTokensAfter(n int) { f.mu.Lock(); f.expireAfter = n; f.mu.Unlock() }

// ThrottleNext answers the next k API calls with 429 TOO_MANY_REQUESTS (no headers,
// as LinkedIn sends none).
func (f *Fake) ThrottleNext(k int) { f.mu.Lock(); f.throttleLeft = k; f.mu.Unlock() }

// FailNext answers the next n API calls with 500.
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
	if r.URL.Path == "/oauth/v2/accessToken" && r.Method == http.MethodPost {
		f.serveToken(w, r)
		return
	}
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/rest/") {
		writeError(w, http.StatusNotFound, 0, "NOT_FOUND", "Not found")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apiCalls++
	f.apiTimes = append(f.apiTimes, time.Now())
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if exp, ok := f.tokens[tok]; !ok || !time.Now().Before(exp) {
		writeError(w, http.StatusUnauthorized, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
		return
	}
	if v := r.Header.Get("LinkedIn-Version"); v != f.Version {
		writeError(w, http.StatusUpgradeRequired, 0, "VERSION_MISSING", fmt.Sprintf("Requested version %q is not active", v))
		return
	}
	if r.Header.Get("X-Restli-Protocol-Version") != "2.0.0" {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 required")
		return
	}
	if f.failLeft > 0 {
		f.failLeft--
		writeError(w, http.StatusInternalServerError, 0, "INTERNAL_SERVER_ERROR", "Internal Server Error")
		return
	}
	if f.throttleLeft > 0 {
		f.throttleLeft--
		writeError(w, http.StatusTooManyRequests, 101, "TOO_MANY_REQUESTS", "Resource level throttle APPLICATION DAY limit for calls to this resource is reached.")
		return
	}
	var body any
	ok := false
	switch parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/rest/"), "/"); {
	case len(parts) == 2 && parts[0] == "adAccounts" && parts[1] == f.AccountID:
		body, ok = map[string]any{"id": mustInt(f.AccountID), "name": "Fake account", "currency": f.Currency, "status": "ACTIVE", "type": "BUSINESS"}, true
	case len(parts) == 3 && parts[0] == "adAccounts" && parts[1] == f.AccountID && parts[2] == "adCampaigns":
		body, ok = f.campaignsPage(w, r)
	case len(parts) == 1 && parts[0] == "adAnalytics":
		body, ok = f.analytics(w, r)
	default:
		writeError(w, http.StatusNotFound, 0, "NOT_FOUND", "Not found: "+r.URL.Path)
		return
	}
	if !ok {
		return
	}
	if f.expireAfter > 0 {
		f.expireAfter--
		if f.expireAfter == 0 {
			clear(f.tokens)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func mustInt(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

func (f *Fake) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokenCalls++
	switch {
	case r.PostForm.Get("grant_type") != "refresh_token":
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only refresh_token is supported")
	case r.PostForm.Get("client_id") != f.ClientID || r.PostForm.Get("client_secret") != f.ClientSecret:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
	case f.revoked || r.PostForm.Get("refresh_token") != f.RefreshToken:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "The provided authorization grant or refresh token is invalid, expired or revoked")
	default:
		f.tokenSeq++
		tok := fmt.Sprintf("AQfake-%d", f.tokenSeq)
		f.tokens[tok] = time.Now().Add(f.TokenTTL)
		w.Header().Set("Content-Type", "application/json")
		// Programmatic refresh tokens are not extended: the same one comes back.
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": tok, "expires_in": int(f.TokenTTL / time.Second),
			"refresh_token": f.RefreshToken, "refresh_token_expires_in": 365 * 24 * 3600,
			"scope": "r_ads,r_ads_reporting",
		})
	}
}

func (f *Fake) campaignsPage(w http.ResponseWriter, r *http.Request) (any, bool) {
	q := r.URL.Query()
	if q.Get("q") != "search" {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "q=search required")
		return nil, false
	}
	size, _ := strconv.Atoi(q.Get("pageSize"))
	if size <= 0 || size > f.PageSize {
		size = f.PageSize
	}
	start := 0
	if pt := q.Get("pageToken"); pt != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(pt, "tok-"))
		if err != nil || n < 0 || n > f.Campaigns {
			writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "invalid pageToken")
			return nil, false
		}
		start = n
	}
	els := []any{}
	end := min(start+size, f.Campaigns)
	for i := start; i < end; i++ {
		els = append(els, map[string]any{
			"id": f.CampaignID(i), "name": f.CampaignName(i), "status": "ACTIVE", "type": "SPONSORED_UPDATES",
			"account": "urn:li:sponsoredAccount:" + f.AccountID, "costType": "CPM",
		})
	}
	meta := map[string]any{}
	if end < f.Campaigns {
		meta["nextPageToken"] = "tok-" + strconv.Itoa(end)
	}
	return map[string]any{"elements": els, "metadata": meta}, true
}

var (
	dateRangeRE = regexp.MustCompile(`^\(start:\(year:(\d+),month:(\d+),day:(\d+)\),end:\(year:(\d+),month:(\d+),day:(\d+)\)\)$`)
	listRE      = regexp.MustCompile(`^List\((.*)\)$`)
)

func (f *Fake) analytics(w http.ResponseWriter, r *http.Request) (any, bool) {
	q := r.URL.Query()
	if q.Get("q") != "analytics" || q.Get("pivot") != "(value:CAMPAIGN)" || q.Get("timeGranularity") != "(value:DAILY)" {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "the fake serves q=analytics, pivot=(value:CAMPAIGN), timeGranularity=(value:DAILY)")
		return nil, false
	}
	m := dateRangeRE.FindStringSubmatch(q.Get("dateRange"))
	if m == nil {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "invalid dateRange")
		return nil, false
	}
	n := make([]int, 7)
	for i := 1; i <= 6; i++ {
		n[i], _ = strconv.Atoi(m[i])
	}
	from := time.Date(n[1], time.Month(n[2]), n[3], 0, 0, 0, 0, time.UTC)
	to := time.Date(n[4], time.Month(n[5]), n[6], 0, 0, 0, 0, time.UTC)
	lm := listRE.FindStringSubmatch(q.Get("campaigns"))
	if lm == nil || to.Before(from) {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "campaigns=List(...) and a valid dateRange are required")
		return nil, false
	}
	if fields := strings.Split(q.Get("fields"), ","); len(fields) > 20 {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "at most 20 fields")
		return nil, false
	}
	var idx []int
	for _, urn := range strings.Split(lm[1], ",") {
		id, ok := strings.CutPrefix(urn, campaignURN)
		i, err := strconv.Atoi(id)
		if !ok || err != nil || i < 1000 || i >= 1000+f.Campaigns {
			continue // unknown campaigns simply yield no rows, as without access
		}
		idx = append(idx, i-1000)
	}
	els := []any{}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for _, i := range idx {
			row := f.Row(i, d)
			if row.Impressions == 0 {
				continue // no activity, no element
			}
			ymd := map[string]int{"year": d.Year(), "month": int(d.Month()), "day": d.Day()}
			els = append(els, map[string]any{
				"pivotValues":                    []string{campaignURN + strconv.FormatInt(f.CampaignID(i), 10)},
				"dateRange":                      map[string]any{"start": ymd, "end": ymd},
				"impressions":                    row.Impressions,
				"clicks":                         row.Clicks,
				"costInLocalCurrency":            millisString(row.CostMillis),
				"costInUsd":                      millisString(row.CostMillis),
				"externalWebsiteConversions":     row.Conversions,
				"conversionValueInLocalCurrency": millisString(row.RevenueMillis),
			})
		}
	}
	return map[string]any{"paging": map[string]any{"start": 0, "count": 10, "links": []any{}}, "elements": els}, true
}

// CampaignID is the id of the i-th campaign.
func (f *Fake) CampaignID(i int) int64 { return int64(1000 + i) }

// CampaignName is the name of the i-th campaign.
func (f *Fake) CampaignName(i int) string { return fmt.Sprintf("LinkedIn Campaign %d", i+1) }

// FakeRow is the seeded performance of one campaign on one day.
type FakeRow struct {
	Impressions, Clicks, Conversions int64
	CostMillis                       int64 // thousandths of a currency unit
	RevenueMillis                    int64
}

// Row returns the seeded row of the i-th campaign on date; Impressions 0 means the
// API omits the day. Costs are in thousandths of a currency unit (LinkedIn reports
// costs such as "209.449").
func (f *Fake) Row(i int, date time.Time) FakeRow {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%s", f.AccountID, i, date.Format(time.DateOnly))
	rng := rand.New(rand.NewPCG(f.seed, h.Sum64()))
	impr := rng.Int64N(20000)
	if impr < 1000 {
		impr = 0 // some idle days
	}
	clicks := int64(0)
	if impr > 0 {
		clicks = rng.Int64N(impr/50 + 1)
	}
	return FakeRow{
		Impressions: impr, Clicks: clicks, Conversions: rng.Int64N(clicks/10 + 1),
		CostMillis: rng.Int64N(300_000_000), RevenueMillis: rng.Int64N(100_000_000),
	}
}

// millisString renders thousandths as a decimal string, e.g. 209449 → "209.449".
func millisString(milli int64) string {
	return fmt.Sprintf("%d.%03d", milli/1000, milli%1000)
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeError(w http.ResponseWriter, status, serviceCode int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"status": status, "code": code, "message": msg}
	if serviceCode != 0 {
		body["serviceErrorCode"] = serviceCode
	}
	_ = json.NewEncoder(w).Encode(body)
}
