package mparticle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// DefaultDSRBaseURL is the OpenDSR v3 endpoint.
const DefaultDSRBaseURL = "https://opendsr.mparticle.com/v3"

// OpenDSR request_status values.
const (
	DSRPending    = "pending"
	DSRInProgress = "in_progress"
	DSRCompleted  = "completed"
	DSRCancelled  = "cancelled"
)

// errUnknownRequest marks a 404 from GET /requests/{id}.
var errUnknownRequest = errors.New("mparticle: unknown data subject request")

// DSRConfig configures DSR.
type DSRConfig struct {
	BaseURL string // DefaultDSRBaseURL if empty
	// Key and Secret are the workspace's Data Subject Request credentials (HTTP
	// Basic); they are not the Events API input key.
	Key, Secret string
	// CallbackURLs are sent as status_callback_urls; none if empty (Status polls).
	CallbackURLs []string

	HTTPClient       *http.Client
	Limiter          *rate.Limiter // DefaultLimiter() if nil
	MaxRetries       int           // 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // a 429 without Retry-After; 30s if zero
	MaxThrottleWait  time.Duration // longer throttles go back to the workflow; 20s if zero
	MaxThrottleWaits int           // short throttles waited out in-process; 2 if zero
}

// DSR is a connectors.Eraser over mParticle's OpenDSR v3 API: one erasure
// request per mParticle customer id of the subject (a request carries one value
// per identity type).
//
// Each request's subject_request_id is a UUID v4 derived from the erasure's
// RequestID and the identity's position, so a retried Submit sends the same ids:
// mParticle answers 409 (in progress) or 400 duplicate, which Submit takes as
// already submitted. The external id is the request ids joined by commas.
//
// Identities: controller_customer_id only. OpenDSR accepts only "raw" encoding,
// and Touchpoint keeps only SHA-256 hashes of e-mail addresses, so e-mails cannot
// be sent; an mpid is not known at propagation time (the subject's CDP links are
// erased before), and OpenDSR would require it to be the only identity anyway.
type DSR struct {
	cfg  DSRConfig
	doer *connectors.Doer
	now  func() time.Time
}

// NewDSR validates cfg and returns the eraser.
func NewDSR(cfg DSRConfig) (*DSR, error) {
	if cfg.Key == "" || cfg.Secret == "" {
		return nil, errors.New("mparticle: DSR key and secret are required")
	}
	connectors.SetDefault(&cfg.BaseURL, DefaultDSRBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 2)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.MaxThrottleWait, 20*time.Second)
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	return &DSR{cfg: cfg, now: time.Now, doer: &connectors.Doer{
		Platform: Platform, HTTP: cfg.HTTPClient, Limiter: lim, Classify: classifyDSR,
		MaxRetries: cfg.MaxRetries, Backoff: cfg.RetryBackoff, ThrottleBackoff: cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits, MaxWait: cfg.MaxThrottleWait,
	}}, nil
}

// SubjectRequestID is the deterministic UUID v4 of the n-th OpenDSR request of
// an erasure: 122 bits of SHA-256 with the version and variant bits set.
func SubjectRequestID(requestID string, n int) string {
	h := sha256.Sum256(fmt.Appendf(nil, "touchpoint/opendsr/%s/%d", requestID, n))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	x := hex.EncodeToString(b)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// CustomerIDsOf lists the mParticle customer ids of an erasure: its user ids and
// the customer ids the profile sync derived from mParticle (mparticle:<id>),
// deduplicated and sorted so positions (and request ids) are stable.
func CustomerIDsOf(req connectors.ErasureRequest) []string {
	var ids []string
	for _, u := range req.UserIDs {
		if u = strings.TrimSpace(u); u != "" {
			ids = append(ids, u)
		}
	}
	for _, c := range req.CustomerIDs {
		if strings.HasPrefix(strings.TrimSpace(c), customerPrefix) {
			if u := UserIDOf(c); u != "" {
				ids = append(ids, u)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Submit files one erasure request per customer id and returns their ids.
func (d *DSR) Submit(ctx context.Context, req connectors.ErasureRequest) (string, error) {
	regulation := strings.ToLower(strings.TrimSpace(req.Regulation))
	if regulation != "gdpr" && regulation != "ccpa" {
		return "", fmt.Errorf("mparticle: request %s: regulation %q is neither GDPR nor CCPA", req.RequestID, req.Regulation)
	}
	customers := CustomerIDsOf(req)
	if len(customers) == 0 {
		return "", connectors.ErrNothingToErase
	}
	ids := make([]string, len(customers))
	for i, customer := range customers {
		ids[i] = SubjectRequestID(req.RequestID, i)
		if err := d.submitOne(ctx, regulation, ids[i], customer); err != nil {
			return "", fmt.Errorf("mparticle: request %s: %w", req.RequestID, err)
		}
	}
	return strings.Join(ids, ","), nil
}

func (d *DSR) submitOne(ctx context.Context, regulation, id, customer string) error {
	body := map[string]any{
		"regulation": regulation, "subject_request_id": id, "subject_request_type": "erasure",
		"submitted_time": d.now().UTC().Format(time.RFC3339), "api_version": "3.0",
		"subject_identities": map[string]any{"controller_customer_id": map[string]string{"value": customer, "encoding": "raw"}},
	}
	if len(d.cfg.CallbackURLs) > 0 {
		body["status_callback_urls"] = d.cfg.CallbackURLs
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode erasure: %w", err)
	}
	// A duplicate of this request (a retried submit) passes classifyDSR as done.
	if _, err := d.doer.Do(ctx, d.request(http.MethodPost, d.cfg.BaseURL+"/requests/", payload)); err != nil {
		return fmt.Errorf("submit %s: %w", id, err)
	}
	return nil
}

// Status polls every request of the erasure: failed if any was cancelled,
// running while any is pending or in progress, done when all completed.
func (d *DSR) Status(ctx context.Context, externalID string) (connectors.ErasureStatus, error) {
	var words []string
	state := connectors.ErasureDone
	for id := range strings.SplitSeq(externalID, ",") {
		st, err := d.statusOne(ctx, id)
		if err != nil {
			return connectors.ErasureStatus{}, err
		}
		words = append(words, id+": "+st.Detail)
		state = worse(state, st.State)
	}
	return connectors.ErasureStatus{State: state, Detail: "mparticle OpenDSR " + strings.Join(words, "; ")}, nil
}

// worse orders states failed > running > done: one failed request fails the
// erasure, one still running keeps it running.
func worse(a, b connectors.ErasureState) connectors.ErasureState {
	rank := map[connectors.ErasureState]int{connectors.ErasureDone: 0, connectors.ErasureRunning: 1, connectors.ErasureFailed: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func (d *DSR) statusOne(ctx context.Context, id string) (connectors.ErasureStatus, error) {
	resp, err := d.doer.Do(ctx, d.request(http.MethodGet, d.cfg.BaseURL+"/requests/"+url.PathEscape(id), nil))
	if errors.Is(err, errUnknownRequest) {
		return connectors.ErasureStatus{State: connectors.ErasureFailed, Detail: "unknown to mParticle"}, nil
	}
	if err != nil {
		return connectors.ErasureStatus{}, fmt.Errorf("mparticle: DSR %s: %w", id, err)
	}
	var st struct {
		RequestStatus          string `json:"request_status"`
		ExpectedCompletionTime string `json:"expected_completion_time"`
	}
	if err := json.Unmarshal(resp.Body, &st); err != nil || st.RequestStatus == "" {
		return connectors.ErasureStatus{}, fmt.Errorf("mparticle: DSR %s: no request_status in %.200s", id, resp.Body)
	}
	detail := st.RequestStatus
	if st.ExpectedCompletionTime != "" && st.RequestStatus != DSRCompleted {
		detail += " (expected " + st.ExpectedCompletionTime + ")"
	}
	return connectors.ErasureStatus{State: DSRState(st.RequestStatus), Detail: detail}, nil
}

// DSRState maps an OpenDSR request_status to an erasure state; an unknown status
// is running, so it is polled again rather than misreported.
func DSRState(status string) connectors.ErasureState {
	switch status {
	case DSRCompleted:
		return connectors.ErasureDone
	case DSRCancelled:
		return connectors.ErasureFailed
	}
	return connectors.ErasureRunning
}

func (d *DSR) request(method, u string, payload []byte) connectors.Request {
	req := connectors.Request{Method: method, URL: u, Body: payload, Header: http.Header{"Accept": {"application/json"}},
		Auth: func(r *http.Request) { r.SetBasicAuth(d.cfg.Key, d.cfg.Secret) }}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// classifyDSR judges an OpenDSR answer. A 409 (the same request in progress) or a
// 400 naming a duplicate is a retried submission: done. Credentials cannot be
// refreshed, so 401/403 need a person; 429 waits for Retry-After.
func classifyDSR(r *connectors.Response) connectors.Verdict {
	err := dsrError(r)
	switch {
	case r.Status >= 200 && r.Status < 300, r.Status == http.StatusConflict:
		return connectors.Succeeded()
	case r.Status == http.StatusBadRequest && isDuplicate(err):
		return connectors.Succeeded()
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		return connectors.GrantRefused(err)
	case r.Status == http.StatusNotFound:
		return connectors.Permanent(fmt.Errorf("%w: %w", errUnknownRequest, err))
	case r.Status == http.StatusTooManyRequests:
		if d, ok := connectors.RetryAfter(r.Header); ok {
			return connectors.ThrottledFor(err, d)
		}
		return connectors.ThrottledNoHint(err)
	case r.Status >= 500:
		return connectors.Transient(err)
	}
	return connectors.Permanent(err)
}

// DSRError is OpenDSR's error body {"code","message","errors":[{"domain","reason","message"}]}.
type DSRError struct {
	HTTPStatus int
	Message    string `json:"message"`
	Errors     []struct {
		Domain  string `json:"domain"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (e *DSRError) Error() string {
	msg := e.Message
	for _, x := range e.Errors {
		msg += "; " + x.Reason + ": " + x.Message
	}
	return fmt.Sprintf("mparticle OpenDSR %d: %s", e.HTTPStatus, msg)
}

func dsrError(r *connectors.Response) *DSRError {
	e := &DSRError{HTTPStatus: r.Status}
	if json.Unmarshal(r.Body, e) != nil || (e.Message == "" && len(e.Errors) == 0) {
		e.Message = fmt.Sprintf("%.200s", r.Body)
	}
	return e
}

func isDuplicate(e *DSRError) bool {
	if strings.Contains(strings.ToLower(e.Message), "duplicate") {
		return true
	}
	for _, x := range e.Errors {
		if strings.Contains(strings.ToLower(x.Reason+" "+x.Message), "duplicate") {
			return true
		}
	}
	return false
}
