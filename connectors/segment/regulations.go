package segment

import (
	"context"
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

// Public API (deletion and suppression) defaults.
const (
	DefaultPublicAPIBaseURL = "https://api.segmentapis.com"
	// MaxSubjectIDs is how many user ids one regulation may carry.
	MaxSubjectIDs = 5000
	// RegulationType is the regulation an erasure creates: stop collecting the
	// user's data and delete what Segment and its destinations hold.
	RegulationType = "SUPPRESS_WITH_DELETE"
)

// Regulation overallStatus values.
const (
	StatusInitialized    = "INITIALIZED"
	StatusRunning        = "RUNNING"
	StatusFinished       = "FINISHED"
	StatusFailed         = "FAILED"
	StatusInvalid        = "INVALID"
	StatusNotSupported   = "NOT_SUPPORTED"
	StatusPartialSuccess = "PARTIAL_SUCCESS"
)

// RegulationsConfig configures Regulations.
type RegulationsConfig struct {
	BaseURL string // DefaultPublicAPIBaseURL if empty (EU: https://eu1.api.segmentapis.com)
	// Token is a Public API workspace token with the deletion permission; it is
	// not the Profile API access token.
	Token string

	HTTPClient   *http.Client
	Limiter      *rate.Limiter // DefaultLimiter() if nil
	MaxRetries   int           // 5xx/transport retries per call; 3 if zero
	RetryBackoff time.Duration // 1s if zero, doubled each retry
	// ThrottleBackoff is the wait for a 429 naming none; 30s if zero.
	ThrottleBackoff time.Duration
	// MaxThrottleWait: a 429 asking for longer is returned as
	// *connectors.ThrottledError (the workflow waits durably); 20s if zero.
	MaxThrottleWait time.Duration
	// MaxThrottleWaits is how many short throttles are waited out in-process; 2 if zero.
	MaxThrottleWaits int
}

// Regulations is a connectors.Eraser over Segment's Public API: one workspace
// SUPPRESS_WITH_DELETE regulation per erasure, polled by its overallStatus.
//
// Segment takes no client request id and its regulation list carries no subject
// ids, so a Submit retried after its answer was lost creates a second regulation
// for the same users. That is harmless (both suppress and delete the same users)
// and rare: the activity stores the first regulateId before calling again.
type Regulations struct {
	cfg  RegulationsConfig
	doer *connectors.Doer
}

// NewRegulations validates cfg and returns the eraser.
func NewRegulations(cfg RegulationsConfig) (*Regulations, error) {
	if cfg.Token == "" {
		return nil, errors.New("segment: a Public API token is required for regulations")
	}
	connectors.SetDefault(&cfg.BaseURL, DefaultPublicAPIBaseURL)
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
	return &Regulations{cfg: cfg, doer: &connectors.Doer{
		Platform: Platform, HTTP: cfg.HTTPClient, Limiter: lim, Classify: classifyPublic,
		MaxRetries: cfg.MaxRetries, Backoff: cfg.RetryBackoff, ThrottleBackoff: cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits, MaxWait: cfg.MaxThrottleWait,
	}}, nil
}

// SubjectIDs are the Segment user ids of an erasure: its user ids plus the
// customer ids the profile sync derived from Segment user ids (segment:<id>),
// deduplicated and sorted. Other customer ids are no Segment user ids.
func SubjectIDs(req connectors.ErasureRequest) []string {
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

// Submit creates the workspace regulation and returns its regulateId.
func (r *Regulations) Submit(ctx context.Context, req connectors.ErasureRequest) (string, error) {
	ids := SubjectIDs(req)
	if len(ids) == 0 {
		return "", connectors.ErrNothingToErase
	}
	if len(ids) > MaxSubjectIDs {
		return "", fmt.Errorf("segment: request %s: %d user ids, a regulation takes at most %d", req.RequestID, len(ids), MaxSubjectIDs)
	}
	payload, err := json.Marshal(map[string]any{"regulationType": RegulationType, "subjectType": "USER_ID", "subjectIds": ids})
	if err != nil {
		return "", fmt.Errorf("segment: encode regulation: %w", err)
	}
	body, err := r.call(ctx, http.MethodPost, r.cfg.BaseURL+"/regulations", payload)
	if err != nil {
		return "", fmt.Errorf("segment: request %s: create regulation: %w", req.RequestID, err)
	}
	var resp struct {
		Data struct {
			RegulateID string `json:"regulateId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data.RegulateID == "" {
		return "", fmt.Errorf("segment: request %s: create regulation: no regulateId in %.200s", req.RequestID, body)
	}
	return resp.Data.RegulateID, nil
}

// Status reads the regulation's overallStatus. A regulation Segment no longer
// knows is reported failed: polling again cannot bring it back.
func (r *Regulations) Status(ctx context.Context, regulateID string) (connectors.ErasureStatus, error) {
	body, err := r.call(ctx, http.MethodGet, r.cfg.BaseURL+"/regulations/"+url.PathEscape(regulateID), nil)
	if errors.Is(err, ErrNotFound) {
		return connectors.ErasureStatus{State: connectors.ErasureFailed, Detail: "regulation " + regulateID + " not found at Segment"}, nil
	}
	if err != nil {
		return connectors.ErasureStatus{}, fmt.Errorf("segment: regulation %s: %w", regulateID, err)
	}
	var resp struct {
		Data struct {
			Regulation struct {
				OverallStatus string `json:"overallStatus"`
				FinishedAt    string `json:"finishedAt"`
			} `json:"regulation"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data.Regulation.OverallStatus == "" {
		return connectors.ErasureStatus{}, fmt.Errorf("segment: regulation %s: no overallStatus in %.200s", regulateID, body)
	}
	reg := resp.Data.Regulation
	return connectors.ErasureStatus{State: RegulationState(reg.OverallStatus), Detail: regulationDetail(reg.OverallStatus, reg.FinishedAt)}, nil
}

// RegulationState maps a regulation's overallStatus to an erasure state.
// PARTIAL_SUCCESS is failed: it is final (Segment will not retry the destinations
// that failed) and the data is not erased everywhere, so a person has to look;
// calling it done would record an erasure that did not happen. An unknown status
// is running, so a status Segment adds later is polled rather than misreported.
func RegulationState(overall string) connectors.ErasureState {
	switch overall {
	case StatusFinished:
		return connectors.ErasureDone
	case StatusFailed, StatusInvalid, StatusNotSupported, StatusPartialSuccess:
		return connectors.ErasureFailed
	}
	return connectors.ErasureRunning
}

func regulationDetail(overall, finishedAt string) string {
	if finishedAt != "" {
		return fmt.Sprintf("segment regulation %s (finished %s)", overall, finishedAt)
	}
	return "segment regulation " + overall
}

// call sends one Public API request with the bearer token.
func (r *Regulations) call(ctx context.Context, method, u string, payload []byte) ([]byte, error) {
	req := connectors.Request{Method: method, URL: u, Body: payload,
		Header: http.Header{"Accept": {"application/vnd.segment.v1+json"}, "Authorization": {"Bearer " + r.cfg.Token}}}
	if payload != nil {
		req.Header.Set("Content-Type", "application/vnd.segment.v1+json")
	}
	resp, err := r.doer.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// classifyPublic judges a Public API answer like the Profile API's, adding the
// X-RateLimit-Reset date as a last hint for a 429's wait.
func classifyPublic(r *connectors.Response) connectors.Verdict {
	v := classify(r)
	if r.Status == http.StatusTooManyRequests && !v.Hinted {
		if t, err := http.ParseTime(r.Header.Get("X-RateLimit-Reset")); err == nil {
			return connectors.ThrottledFor(v.Err, max(time.Until(t), 0))
		}
	}
	return v
}
