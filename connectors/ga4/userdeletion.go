package ga4

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Admin API defaults for user deletion.
const (
	DefaultAdminBaseURL    = "https://analyticsadmin.googleapis.com"
	DefaultAdminAPIVersion = "v1alpha"
	// DeletionScope is the scope submitUserDeletion needs; the sync's
	// analytics.readonly grant is not enough.
	DeletionScope = "https://www.googleapis.com/auth/analytics.edit"
)

// acceptedPrefix starts the external id UserDeletion.Submit returns.
const acceptedPrefix = "accepted:"

// UserDeletionConfig configures UserDeletion.
type UserDeletionConfig struct {
	TokenURL   string // DefaultTokenURL if empty
	BaseURL    string // DefaultAdminBaseURL if empty
	APIVersion string // DefaultAdminAPIVersion if empty
	PropertyID string
	// ClientID, ClientSecret and RefreshToken are a Google OAuth client and a
	// refresh token granted DeletionScope.
	ClientID, ClientSecret, RefreshToken string

	HTTPClient   *http.Client
	Limiter      *rate.Limiter // DefaultLimiter() if nil
	MaxRetries   int           // 3 if zero
	RetryBackoff time.Duration // 1s if zero, doubled each retry
	// ThrottleBackoff is the wait after a short-term RESOURCE_EXHAUSTED; 30s if zero.
	ThrottleBackoff time.Duration
	// DailyQuota is the wait after the daily quota (500 deletions a day per cloud
	// project) ran out; if zero, until the next midnight Pacific time, when Google
	// resets daily quotas.
	DailyQuota func(now time.Time) time.Duration
}

// UserDeletion is a connectors.Eraser over the GA4 Admin API's
// properties/{id}:submitUserDeletion: one call per user id (userId) and per device
// or anonymous id (GA client ids, clientId). GA4 reports no completion, so Submit
// returns "accepted:<n>:<latest deletionRequestTime>" once every identifier was
// accepted and Status reports that as done; GA4 itself then removes the data on
// its own schedule. Re-submitting is harmless (GA4 accepts a repeated deletion)
// but spends quota, so the activity's stored result is what prevents it.
type UserDeletion struct {
	cfg  UserDeletionConfig
	doer *connectors.Doer
	now  func() time.Time
}

// NewUserDeletion validates cfg and returns the eraser.
func NewUserDeletion(cfg UserDeletionConfig) (*UserDeletion, error) {
	if cfg.ClientID == "" || cfg.RefreshToken == "" || cfg.PropertyID == "" {
		return nil, errors.New("ga4: client id, refresh token and property id are required for user deletion")
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
		*s = strings.TrimRight(*s, "/")
	}
	def(&cfg.TokenURL, DefaultTokenURL)
	def(&cfg.BaseURL, DefaultAdminBaseURL)
	def(&cfg.APIVersion, DefaultAdminAPIVersion)
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	if cfg.DailyQuota == nil {
		cfg.DailyQuota = untilPacificMidnight
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	oc := &oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Scopes: []string{DeletionScope},
		Endpoint: oauth2.Endpoint{TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	u := &UserDeletion{cfg: cfg, now: time.Now}
	// Quota errors are returned at once (MaxThrottleWaits 0): the daily quota
	// lasts hours, and the workflow sleeps durably for the delay they carry.
	u.doer = &connectors.Doer{Platform: Platform, HTTP: hc, Limiter: lim, Classify: u.classify,
		Tokens: connectors.NewRefreshTokens(oc, cfg.RefreshToken, hc), MaxRetries: cfg.MaxRetries, Backoff: cfg.RetryBackoff}
	return u, nil
}

// DeletionTarget is one submitUserDeletion body: Field is userId or clientId.
type DeletionTarget struct {
	Field, Value string
}

// DeletionTargets lists the identifiers of an erasure GA4 knows: user ids as
// userId, device and anonymous ids as clientId, deduplicated and sorted.
func DeletionTargets(req connectors.ErasureRequest) []DeletionTarget {
	var out []DeletionTarget
	add := func(field string, ids []string) {
		for _, id := range ids {
			if id = strings.TrimSpace(id); id != "" {
				out = append(out, DeletionTarget{field, id})
			}
		}
	}
	add("userId", req.UserIDs)
	add("clientId", req.DeviceIDs)
	add("clientId", req.AnonymousIDs)
	slices.SortFunc(out, func(a, b DeletionTarget) int { return strings.Compare(a.Field+"\x00"+a.Value, b.Field+"\x00"+b.Value) })
	return slices.Compact(out)
}

// Submit submits every identifier and returns the accepted count and the
// latest deletionRequestTime.
func (u *UserDeletion) Submit(ctx context.Context, req connectors.ErasureRequest) (string, error) {
	targets := DeletionTargets(req)
	if len(targets) == 0 {
		return "", connectors.ErrNothingToErase
	}
	latest := ""
	for i, t := range targets {
		at, err := u.submitOne(ctx, t)
		var te *connectors.ThrottledError
		if errors.As(err, &te) {
			return "", te // bare, as the activity classifies it
		}
		if err != nil {
			return "", fmt.Errorf("ga4: request %s: identifier %d of %d: %w", req.RequestID, i+1, len(targets), err)
		}
		latest = max(latest, at) // RFC 3339 UTC timestamps sort as text
	}
	return fmt.Sprintf("%s%d:%s", acceptedPrefix, len(targets), latest), nil
}

func (u *UserDeletion) submitOne(ctx context.Context, t DeletionTarget) (string, error) {
	payload, err := json.Marshal(map[string]string{t.Field: t.Value})
	if err != nil {
		return "", fmt.Errorf("encode deletion: %w", err)
	}
	resp, err := u.doer.Do(ctx, connectors.Request{Method: http.MethodPost, Body: payload,
		URL:    fmt.Sprintf("%s/%s/properties/%s:submitUserDeletion", u.cfg.BaseURL, u.cfg.APIVersion, url.PathEscape(u.cfg.PropertyID)),
		Header: http.Header{"Content-Type": {"application/json"}}})
	if err != nil {
		return "", err
	}
	var out struct {
		DeletionRequestTime string `json:"deletionRequestTime"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.DeletionRequestTime == "" {
		return "", fmt.Errorf("no deletionRequestTime in %.200s", resp.Body)
	}
	return out.DeletionRequestTime, nil
}

// Status reports an accepted submission done: GA4 has no completion status.
func (u *UserDeletion) Status(_ context.Context, externalID string) (connectors.ErasureStatus, error) {
	rest, ok := strings.CutPrefix(externalID, acceptedPrefix)
	n, at, ok2 := strings.Cut(rest, ":")
	if _, err := strconv.Atoi(n); !ok || !ok2 || err != nil {
		return connectors.ErasureStatus{}, fmt.Errorf("ga4: external id %q is not a user deletion", externalID)
	}
	return connectors.ErasureStatus{State: connectors.ErasureDone,
		Detail: fmt.Sprintf("%s identifiers accepted by GA4 (deletionRequestTime %s); GA4 reports no completion", n, at)}, nil
}

// classify judges an Admin API answer like the Data API's, telling the daily
// user-deletion quota (hours away) from short-term ones.
func (u *UserDeletion) classify(r *connectors.Response) connectors.Verdict {
	if r.Status == http.StatusOK {
		return connectors.Succeeded()
	}
	apiErr := decodeAPIError(r)
	switch {
	case r.Status == http.StatusUnauthorized || apiErr.Status == "UNAUTHENTICATED":
		return connectors.TokenRefused(apiErr)
	case r.Status == http.StatusForbidden || apiErr.Status == "PERMISSION_DENIED":
		// No access to the property, or a grant without analytics.edit.
		return connectors.GrantRefused(apiErr)
	case r.Status == http.StatusTooManyRequests || apiErr.Status == "RESOURCE_EXHAUSTED":
		if strings.Contains(strings.ToLower(apiErr.Message), "per day") {
			return connectors.ThrottledFor(apiErr, u.cfg.DailyQuota(u.now()))
		}
		if d, ok := connectors.RetryAfter(r.Header); ok {
			return connectors.ThrottledFor(apiErr, d)
		}
		return connectors.ThrottledFor(apiErr, u.cfg.ThrottleBackoff)
	case r.Status < 500:
		return connectors.Permanent(apiErr)
	}
	return connectors.Transient(apiErr)
}

// pacific is America/Los_Angeles, or PST when the zone database is missing.
var pacific = func() *time.Location {
	if l, err := time.LoadLocation("America/Los_Angeles"); err == nil {
		return l
	}
	return time.FixedZone("PST", -8*3600)
}()

// untilPacificMidnight is the wait until Google resets daily quotas, plus a
// minute of slack for clock skew.
func untilPacificMidnight(now time.Time) time.Duration {
	t := now.In(pacific)
	next := time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, pacific)
	return next.Sub(now) + time.Minute
}
