package meta

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault is one error response the fake serves instead of the next request's answer,
// shaped like a Graph API error envelope.
type Fault struct {
	Status  int    // HTTP status
	Code    int    // error.code
	Subcode int    // error.error_subcode, 0 for none
	Message string // error.message
	// RegainMinutes, when positive, is sent as estimated_time_to_regain_access in
	// the X-Business-Use-Case-Usage header (Meta reports it in minutes).
	RegainMinutes int
}

// ThrottleFault is a rate-limit error with the given code (4, 17, 613, 80000…),
// served with HTTP 400 as Meta usually does, and usage headers at 100%.
func ThrottleFault(code, regainMinutes int) Fault {
	f := Fault{Status: http.StatusBadRequest, Code: code, RegainMinutes: regainMinutes,
		Message: "There have been too many calls from this ad-account. Wait a bit and try again."}
	switch code {
	case 17:
		f.Subcode = 2446079
		f.Message = "User request limit reached"
	case 613:
		f.Subcode = 1487742
	}
	return f
}

// ServerErrorFault is the transient HTTP 500 Meta answers now and then.
func ServerErrorFault() Fault {
	return Fault{Status: http.StatusInternalServerError, Code: 1, Message: "An unknown error occurred"}
}

// FakeStats counts what the fake served, so tests can check how the client behaved
// (paged, went async, retried, stopped early).
type FakeStats struct {
	Requests       int
	AccountLookups int
	SyncPages      int
	ReportRuns     int
	StatusPolls    int
	ReportPages    int
	Faults         int
	AuthFailures   int
}

// Fake reproduces the parts of the Meta Marketing API the client uses: ad account
// lookup, campaign-level daily insights (synchronous and as async report runs),
// cursor paging, Graph error envelopes and usage headers. Data are a pure function
// of (seed, account, campaign, date), so two fakes with one seed serve the same rows.
type Fake struct {
	// Token is the only access token accepted.
	Token string
	// PollsToComplete is how many status polls a report run needs before it reports
	// "Job Completed".
	PollsToComplete int
	// MaxPageSize, when positive, makes pages asking for more rows fail with the
	// HTTP 500 "Please reduce the amount of data" Meta sends for heavy pages.
	MaxPageSize int
	// FailReportRuns makes report runs end in "Job Failed", as Meta's do when a
	// run is too large.
	FailReportRuns bool

	seed int64

	mu          sync.Mutex
	faults      []Fault
	stats       FakeStats
	expireAfter int // authenticated requests left before the token expires; <0 never
	expired     bool
	runs        map[string]*reportRun
	nextRun     int64
}

type reportRun struct {
	account string
	rows    []fakeRow
	fields  map[string]bool
	since   string
	until   string
	polls   int
}

// NewFake returns a fake insights API whose data are determined by seed.
func NewFake(seed int64) *Fake {
	return &Fake{
		Token:           "fake-meta-token",
		PollsToComplete: 2,
		seed:            seed,
		expireAfter:     -1,
		runs:            make(map[string]*reportRun),
		nextRun:         6000000000001,
	}
}

// FailNext queues faults served, in order, to the next requests.
func (f *Fake) FailNext(faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, faults...)
}

// ExpireTokenAfter lets n more authenticated requests through, then treats the
// token as expired (code 190, subcode 463), as a 60-day user token does mid-sync.
func (f *Fake) ExpireTokenAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expireAfter = n
	f.expired = n == 0
}

// Stats returns a copy of the counters.
func (f *Fake) Stats() FakeStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// AccountCurrency is the currency the fake reports for an account.
func (f *Fake) AccountCurrency(account string) string {
	currencies := []string{"USD", "EUR", "GBP", "JPY"}
	return currencies[f.hash("currency", account)%uint64(len(currencies))]
}

type fakeCampaign struct{ id, name string }

type fakeRow struct {
	account      string
	campaign     fakeCampaign
	date         time.Time
	impressions  int64
	clicks       int64
	purchases    int64
	spendCents   int64
	revenueCents int64
}

func (f *Fake) hash(parts ...string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d", f.seed)
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return h.Sum64()
}

func (f *Fake) campaigns(account string) []fakeCampaign {
	n := 2 + int(f.hash("campaigns", account)%3)
	out := make([]fakeCampaign, n)
	for i := range out {
		id := 23850000000000000 + f.hash("campaign", account, strconv.Itoa(i))%10000000000
		out[i] = fakeCampaign{id: strconv.FormatUint(id, 10), name: fmt.Sprintf("Campaign %d of act_%s", i+1, account)}
	}
	return out
}

// rows lists the account's campaign days from since to until inclusive, ordered by
// date then campaign. About one campaign day in ten has no delivery and, as with
// Meta, no row at all.
func (f *Fake) rows(account string, since, until time.Time) []fakeRow {
	var out []fakeRow
	camps := f.campaigns(account)
	for d := since; !d.After(until); d = d.AddDate(0, 0, 1) {
		for _, c := range camps {
			day := d.Format(time.DateOnly)
			h := f.hash("row", account, c.id, day)
			rng := rand.New(rand.NewPCG(h, uint64(f.seed)))
			if rng.IntN(10) == 0 {
				continue
			}
			r := fakeRow{account: account, campaign: c, date: d}
			r.impressions = 1000 + rng.Int64N(200000)
			r.clicks = r.impressions / (20 + rng.Int64N(80))
			r.spendCents = 1 + rng.Int64N(900000)
			if rng.IntN(4) > 0 {
				r.purchases = 1 + rng.Int64N(40)
				r.revenueCents = r.purchases * (500 + rng.Int64N(20000))
			}
			out = append(out, r)
		}
	}
	return out
}

// formatCents writes an amount the way Meta does: a decimal string without
// trailing zeros ("5339.5", "12", "0.07").
func formatCents(c int64) string {
	s := fmt.Sprintf("%d.%02d", c/100, c%100)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func (r fakeRow) json(fields map[string]bool) map[string]any {
	day := r.date.Format(time.DateOnly)
	out := map[string]any{"date_start": day, "date_stop": day}
	set := func(name string, v any) {
		if fields[name] {
			out[name] = v
		}
	}
	set("account_id", r.account)
	set("campaign_id", r.campaign.id)
	set("campaign_name", r.campaign.name)
	set("impressions", strconv.FormatInt(r.impressions, 10))
	set("clicks", strconv.FormatInt(r.clicks, 10))
	set("spend", formatCents(r.spendCents))
	// Meta lists the pixel purchase beside the aggregate "purchase" with the same
	// value; a client summing every purchase-like action would double count.
	actions := []map[string]string{{"action_type": "link_click", "value": strconv.FormatInt(r.clicks, 10)}}
	var values []map[string]string
	if r.purchases > 0 {
		p := strconv.FormatInt(r.purchases, 10)
		v := formatCents(r.revenueCents)
		actions = append(actions,
			map[string]string{"action_type": "offsite_conversion.fb_pixel_purchase", "value": p},
			map[string]string{"action_type": "purchase", "value": p})
		values = append(values,
			map[string]string{"action_type": "offsite_conversion.fb_pixel_purchase", "value": v},
			map[string]string{"action_type": "purchase", "value": v})
	}
	set("actions", actions)
	if values != nil {
		set("action_values", values)
	}
	return out
}

var versionRE = regexp.MustCompile(`^v\d+(\.\d+)?$`)

// ServeHTTP routes /v{N}/act_{id}, /v{N}/act_{id}/insights, /v{N}/{report_run_id}
// and /v{N}/{report_run_id}/insights.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "malformed request: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stats.Requests++

	if len(f.faults) > 0 {
		ft := f.faults[0]
		f.faults = f.faults[1:]
		f.stats.Faults++
		f.writeUsage(w, "", ft.RegainMinutes, 100)
		writeError(w, ft.Status, ft.Code, ft.Subcode, ft.Message)
		return
	}
	if !f.authorised(r) {
		f.stats.AuthFailures++
		sub, msg := 0, "Invalid OAuth access token - Cannot parse access token"
		if f.expired {
			sub, msg = 463, "Error validating access token: Session has expired."
		}
		writeError(w, http.StatusUnauthorized, 190, sub, msg)
		return
	}

	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || !versionRE.MatchString(parts[0]) {
		writeError(w, http.StatusBadRequest, 100, 0, "Unknown path components: "+r.URL.Path)
		return
	}
	parts = parts[1:]
	node, edge := parts[0], ""
	if len(parts) == 2 {
		edge = parts[1]
	}
	account, isAccount := strings.CutPrefix(node, "act_")
	switch {
	case len(parts) > 2:
		writeError(w, http.StatusBadRequest, 100, 0, "Unknown path components: "+r.URL.Path)
	case isAccount && edge == "" && r.Method == http.MethodGet:
		f.serveAccount(w, r, account)
	case isAccount && edge == "insights" && r.Method == http.MethodGet:
		f.serveSyncInsights(w, r, account)
	case isAccount && edge == "insights" && r.Method == http.MethodPost:
		f.startReportRun(w, r, account)
	case !isAccount && edge == "" && r.Method == http.MethodGet:
		f.serveReportStatus(w, node)
	case !isAccount && edge == "insights" && r.Method == http.MethodGet:
		f.serveReportInsights(w, r, node)
	default:
		writeError(w, http.StatusBadRequest, 100, 0, "Unsupported "+r.Method+" request")
	}
}

// authorised checks the token (query param or bearer header) and counts down a
// pending expiry. Callers hold f.mu.
func (f *Fake) authorised(r *http.Request) bool {
	tok := r.Form.Get("access_token")
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		tok = h
	}
	if f.expired || tok != f.Token {
		return false
	}
	if f.expireAfter > 0 {
		f.expireAfter--
		f.expired = f.expireAfter == 0
	}
	return true
}

func (f *Fake) serveAccount(w http.ResponseWriter, r *http.Request, account string) {
	f.stats.AccountLookups++
	out := map[string]any{"id": "act_" + account}
	for _, field := range strings.Split(r.Form.Get("fields"), ",") {
		switch strings.TrimSpace(field) {
		case "currency":
			out["currency"] = f.AccountCurrency(account)
		case "account_id":
			out["account_id"] = account
		case "timezone_name":
			out["timezone_name"] = "Europe/Berlin"
		}
	}
	f.writeUsage(w, account, 0, 3)
	writeJSON(w, out)
}

// insightsQuery validates the parameters shared by the sync and async calls.
func insightsQuery(r *http.Request) (since, until time.Time, fields map[string]bool, err error) {
	if lv := r.Form.Get("level"); lv != "campaign" {
		return since, until, nil, fmt.Errorf("level must be campaign, got %q", lv)
	}
	if ti := r.Form.Get("time_increment"); ti != "1" {
		return since, until, nil, fmt.Errorf("time_increment must be 1, got %q", ti)
	}
	var tr struct{ Since, Until string }
	if err := json.Unmarshal([]byte(r.Form.Get("time_range")), &tr); err != nil {
		return since, until, nil, fmt.Errorf("time_range: %w", err)
	}
	if since, err = time.Parse(time.DateOnly, tr.Since); err != nil {
		return since, until, nil, fmt.Errorf("time_range since: %w", err)
	}
	if until, err = time.Parse(time.DateOnly, tr.Until); err != nil {
		return since, until, nil, fmt.Errorf("time_range until: %w", err)
	}
	if until.Before(since) {
		return since, until, nil, fmt.Errorf("time_range until before since")
	}
	fields = make(map[string]bool)
	for _, fl := range strings.Split(r.Form.Get("fields"), ",") {
		fields[strings.TrimSpace(fl)] = true
	}
	return since, until, fields, nil
}

func (f *Fake) serveSyncInsights(w http.ResponseWriter, r *http.Request, account string) {
	since, until, fields, err := insightsQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "Invalid parameter: "+err.Error())
		return
	}
	f.writeUsage(w, account, 0, 5)
	if f.writePage(w, r, f.rows(account, since, until), fields) {
		f.stats.SyncPages++
	}
}

func (f *Fake) startReportRun(w http.ResponseWriter, r *http.Request, account string) {
	since, until, fields, err := insightsQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, 100, 0, "Invalid parameter: "+err.Error())
		return
	}
	f.stats.ReportRuns++
	id := strconv.FormatInt(f.nextRun, 10)
	f.nextRun++
	f.runs[id] = &reportRun{account: account, rows: f.rows(account, since, until), fields: fields,
		since: since.Format(time.DateOnly), until: until.Format(time.DateOnly)}
	f.writeUsage(w, account, 0, 5)
	writeJSON(w, map[string]string{"report_run_id": id})
}

func (f *Fake) serveReportStatus(w http.ResponseWriter, id string) {
	run, ok := f.runs[id]
	if !ok {
		writeError(w, http.StatusBadRequest, 100, 33, "Object with ID '"+id+"' does not exist")
		return
	}
	f.stats.StatusPolls++
	run.polls++
	status, pct := "Job Completed", 100
	switch {
	case run.polls == 1 && f.PollsToComplete > 1:
		status, pct = "Job Not Started", 0
	case run.polls < f.PollsToComplete:
		status, pct = "Job Running", 100*run.polls/f.PollsToComplete
	}
	if f.FailReportRuns && run.polls >= f.PollsToComplete {
		status = "Job Failed"
	}
	f.writeUsage(w, run.account, 0, 5)
	writeJSON(w, map[string]any{
		"id": id, "account_id": run.account, "async_status": status,
		"async_percent_completion": pct, "date_start": run.since, "date_stop": run.until,
		"is_running": status != "Job Completed",
	})
}

func (f *Fake) serveReportInsights(w http.ResponseWriter, r *http.Request, id string) {
	run, ok := f.runs[id]
	if !ok {
		writeError(w, http.StatusBadRequest, 100, 33, "Object with ID '"+id+"' does not exist")
		return
	}
	if run.polls < f.PollsToComplete || f.FailReportRuns {
		writeError(w, http.StatusBadRequest, 2601, 0, "Report is not ready")
		return
	}
	f.writeUsage(w, run.account, 0, 5)
	if f.writePage(w, r, run.rows, run.fields) {
		f.stats.ReportPages++
	}
}

// writePage serves one page of rows. The cursor is an opaque base64 offset; next
// is present only while rows remain, which is how clients know to stop. It reports
// whether a page (rather than an error) was written.
func (f *Fake) writePage(w http.ResponseWriter, r *http.Request, rows []fakeRow, fields map[string]bool) bool {
	limit := 25
	if l := r.Form.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, 100, 0, "Invalid parameter: limit")
			return false
		}
		limit = min(n, 500)
	}
	if f.MaxPageSize > 0 && limit > f.MaxPageSize {
		writeError(w, http.StatusInternalServerError, 1, 0,
			"Please reduce the amount of data you're asking for, then retry your request")
		return false
	}
	start := 0
	if a := r.Form.Get("after"); a != "" {
		raw, err := base64.RawURLEncoding.DecodeString(a)
		off, ok := strings.CutPrefix(string(raw), "offset:")
		n, convErr := strconv.Atoi(off)
		if err != nil || !ok || convErr != nil || n < 0 || n > len(rows) {
			writeError(w, http.StatusBadRequest, 100, 0, "Invalid parameter: after")
			return false
		}
		start = n
	}
	end := min(start+limit, len(rows))
	data := make([]map[string]any, 0, end-start)
	for _, row := range rows[start:end] {
		data = append(data, row.json(fields))
	}
	cursor := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(n))) }
	out := map[string]any{"data": data}
	if len(data) > 0 {
		paging := map[string]any{"cursors": map[string]string{"before": cursor(start), "after": cursor(end)}}
		if end < len(rows) {
			q := url.Values{}
			for k, v := range r.Form {
				if k != "access_token" {
					q[k] = v
				}
			}
			q.Set("after", cursor(end))
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			paging["next"] = scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
		}
		out["paging"] = paging
	}
	writeJSON(w, out)
	return true
}

// writeUsage sets the usage headers Meta attaches to every response; pct is the
// share of the quota used.
func (f *Fake) writeUsage(w http.ResponseWriter, account string, regainMinutes, pct int) {
	if account == "" {
		account = "0"
	}
	buc, _ := json.Marshal(map[string][]map[string]any{account: {{
		"type": "ads_insights", "call_count": pct, "total_cputime": pct / 2, "total_time": pct / 2,
		"estimated_time_to_regain_access": regainMinutes, "ads_api_access_tier": "standard_access",
	}}})
	app, _ := json.Marshal(map[string]int{"call_count": pct, "total_time": pct / 2, "total_cputime": pct / 2})
	w.Header().Set("X-Business-Use-Case-Usage", string(buc))
	w.Header().Set("X-App-Usage", string(app))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status, code, subcode int, msg string) {
	body := map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEfFake"}
	if subcode != 0 {
		body["error_subcode"] = subcode
	}
	if code == 1 || code == 2 {
		body["is_transient"] = true
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}
