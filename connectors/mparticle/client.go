package mparticle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/segment"
)

// Platform is the value of ThrottledError.Platform.
const Platform = "mparticle"

// Defaults for Config's zero values.
const (
	DefaultEventsBaseURL  = "https://s2s.mparticle.com"
	DefaultProfileBaseURL = "https://api.mparticle.com"
	DefaultTokenURL       = "https://sso.auth.mparticle.com/oauth/token"
	Audience              = "https://api.mparticle.com"
	// MaxBatch is how many batches (one per user) one /v2/bulkevents call carries.
	MaxBatch = 100
)

// DefaultLimiter is the CDP request budget: 100 requests/s, bursts to 1000.
func DefaultLimiter() *rate.Limiter { return segment.DefaultLimiter() }

// ErrNotFound is returned when the Profile API knows no such user.
var ErrNotFound = errors.New("mparticle: profile not found")

// Config configures a Client.
type Config struct {
	EventsBaseURL string // DefaultEventsBaseURL if empty
	APIKey        string // input key:secret, HTTP Basic, for the Events API
	APISecret     string
	Environment   string // "production" if empty

	ProfileBaseURL string // DefaultProfileBaseURL if empty
	TokenURL       string // DefaultTokenURL if empty
	ClientID       string // Profile API credentials (client-credentials grant)
	ClientSecret   string
	OrgID          string
	AccountID      string
	WorkspaceID    string

	Schema Schema // DefaultSchema if nil

	HTTPClient       *http.Client
	Limiter          *rate.Limiter // DefaultLimiter() if nil
	MaxRetries       int           // 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // when a 429 has no Retry-After; 30s if zero
	MaxThrottleWaits int           // 5 if zero
}

// Client talks to the Events and Profile APIs of one workspace.
type Client struct {
	cfg     Config
	http    *http.Client
	limiter *rate.Limiter

	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// New validates cfg and returns a Client. Uploading needs APIKey and APISecret,
// reading needs ClientID, ClientSecret and the org/account/workspace ids.
func New(cfg Config) (*Client, error) {
	canSend := cfg.APIKey != "" && cfg.APISecret != ""
	canRead := cfg.ClientID != "" && cfg.ClientSecret != "" && cfg.OrgID != "" && cfg.AccountID != "" && cfg.WorkspaceID != ""
	if !canSend && !canRead {
		return nil, errors.New("mparticle: an input key and secret, or Profile API client credentials and org/account/workspace ids, are required")
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
		*s = strings.TrimRight(*s, "/")
	}
	def(&cfg.EventsBaseURL, DefaultEventsBaseURL)
	def(&cfg.ProfileBaseURL, DefaultProfileBaseURL)
	def(&cfg.TokenURL, DefaultTokenURL)
	def(&cfg.Environment, "production")
	if cfg.Schema == nil {
		cfg.Schema = DefaultSchema
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Second
	}
	if cfg.ThrottleBackoff == 0 {
		cfg.ThrottleBackoff = 30 * time.Second
	}
	if cfg.MaxThrottleWaits == 0 {
		cfg.MaxThrottleWaits = 5
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	c := &Client{cfg: cfg, http: hc, limiter: lim}
	c.tokens = oauth2.ReuseTokenSource(nil, &ssoSource{c: c})
	return c, nil
}

// ssoSource fetches a Profile API token: mParticle's SSO takes the
// client-credentials grant as a JSON body with an audience, which
// golang.org/x/oauth2/clientcredentials (form-encoded) cannot send.
type ssoSource struct {
	c  *Client
	mu sync.Mutex
}

func (s *ssoSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.c
	payload, _ := json.Marshal(map[string]string{"client_id": c.cfg.ClientID, "client_secret": c.cfg.ClientSecret,
		"audience": Audience, "grant_type": "client_credentials"})
	body, err := c.call(context.Background(), http.MethodPost, c.cfg.TokenURL, nil, payload)
	if err != nil {
		return nil, fmt.Errorf("mparticle: token: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("mparticle: token: bad response %.200s", body)
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: time.Now().Add(time.Duration(t.ExpiresIn) * time.Second)}, nil
}

// APIError is a non-2xx answer.
type APIError struct {
	HTTPStatus int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("mparticle API %d: %s", e.HTTPStatus, e.Message)
}

// call sends one request with the limiter, retrying 5xx and transport errors and
// waiting out 429s (Retry-After, else ThrottleBackoff) up to MaxThrottleWaits times.
// 400 invalid_client and 401/403 wrap ErrReauthorize. auth sets credentials.
func (c *Client) call(ctx context.Context, method, u string, auth func(*http.Request), payload []byte) ([]byte, error) {
	backoff := c.cfg.RetryBackoff
	retries, waits := 0, 0
	for {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, fmt.Errorf("mparticle: rate limiter: %w", err)
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		if auth != nil {
			auth(req)
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		var status int
		var hdr http.Header
		var body []byte
		resp, err := c.http.Do(req)
		if err == nil {
			status, hdr = resp.StatusCode, resp.Header
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("mparticle: %s: %w", method, ctx.Err())
			}
		} else {
			switch {
			case status >= 200 && status < 300:
				return body, nil
			case status == http.StatusUnauthorized || status == http.StatusForbidden,
				status == http.StatusBadRequest && bytes.Contains(body, []byte(`"invalid_client"`)):
				return nil, fmt.Errorf("mparticle: %w: %w", connectors.ErrReauthorize, apiError(status, body))
			case status == http.StatusNotFound:
				return nil, fmt.Errorf("%w: %w", ErrNotFound, apiError(status, body))
			case status == http.StatusTooManyRequests:
				d := c.cfg.ThrottleBackoff
				if s, err := strconv.Atoi(strings.TrimSpace(hdr.Get("Retry-After"))); err == nil && s >= 0 {
					d = time.Duration(s) * time.Second
				}
				te := &connectors.ThrottledError{Platform: Platform, RetryAfter: d, Detail: apiError(status, body).Error()}
				if waits >= c.cfg.MaxThrottleWaits {
					return nil, te
				}
				waits++
				if err := connectors.Sleep(ctx, d); err != nil {
					return nil, fmt.Errorf("mparticle: waiting out throttle: %w", err)
				}
				continue
			case status >= 500:
				err = apiError(status, body)
			default:
				return nil, apiError(status, body)
			}
		}
		if retries >= c.cfg.MaxRetries {
			return nil, fmt.Errorf("mparticle: giving up after %d attempts: %w", retries+1, err)
		}
		retries++
		if err := connectors.Sleep(ctx, backoff); err != nil {
			return nil, err
		}
		backoff *= 2
	}
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := fmt.Sprintf("%.200s", body)
	if json.Unmarshal(body, &e) == nil {
		switch {
		case e.Message != "":
			msg = e.Message
		case len(e.Errors) > 0:
			msg = e.Errors[0].Message
		case e.Error != "":
			msg = e.Error
		}
	}
	return &APIError{HTTPStatus: status, Message: msg}
}

// Attribute names for the consent flags and the source timestamp; in a Profile they
// live in fields, on mParticle they are user attributes (and the flags also go in
// consent_state).
const (
	AttrGDPR      = "gdpr_restricted"
	AttrCCPA      = "ccpa_do_not_sell"
	AttrUpdatedAt = "updated_at"
	// GDPRPurpose is the consent_state.gdpr purpose the GDPR flag is sent under.
	GDPRPurpose = "processing"
)

// Consent is one consent_state entry.
type Consent struct {
	Consented           bool  `json:"consented"`
	TimestampUnixtimeMs int64 `json:"timestamp_unixtime_ms"`
}

// ConsentState is a batch's consent_state.
type ConsentState struct {
	GDPR map[string]Consent `json:"gdpr,omitempty"`
	CCPA map[string]Consent `json:"ccpa,omitempty"`
}

// Batch is one element of a /v2/bulkevents body.
type Batch struct {
	Environment     string            `json:"environment"`
	SourceRequestID string            `json:"source_request_id"`
	UserIdentities  map[string]string `json:"user_identities"`
	UserAttributes  map[string]any    `json:"user_attributes,omitempty"`
	ConsentState    *ConsentState     `json:"consent_state,omitempty"`
	TimestampMs     int64             `json:"timestamp_unixtime_ms,omitempty"`
	Events          []any             `json:"events"`
}

// BatchFor builds the batch for p: customerid identity (plus email if the email
// attribute is set), schema-checked attributes with updated_at and the consent
// attributes, and consent_state with GDPR (consented = not restricted) and CCPA
// data_sale_opt_out. source_request_id is a hash of the content, so a resent
// profile is recognised as a duplicate.
func (c *Client) BatchFor(p Profile) (Batch, error) {
	uid := UserIDOf(firstNonEmpty(p.UserID, p.CustomerID))
	if uid == "" {
		return Batch{}, errors.New("mparticle: a profile needs a customer id")
	}
	if err := c.cfg.Schema.Validate(uid, p.Traits); err != nil {
		return Batch{}, err
	}
	attrs := map[string]any{AttrGDPR: p.GDPR, AttrCCPA: p.CCPA}
	for k, v := range p.Traits {
		attrs[k] = v
	}
	ids := map[string]string{"customerid": uid}
	if e, ok := p.Traits["email"].(string); ok && e != "" {
		ids["email"] = e
	}
	b := Batch{Environment: c.cfg.Environment, UserIdentities: ids, UserAttributes: attrs, Events: []any{}}
	if !p.SourceTimestamp.IsZero() {
		attrs[AttrUpdatedAt] = p.SourceTimestamp.UTC().Format(time.RFC3339)
		b.TimestampMs = p.SourceTimestamp.UnixMilli()
	}
	cms := p.ConsentTimestamp.UnixMilli()
	if p.ConsentTimestamp.IsZero() {
		cms = 0
	}
	b.ConsentState = &ConsentState{
		GDPR: map[string]Consent{GDPRPurpose: {Consented: !p.GDPR, TimestampUnixtimeMs: cms}},
		CCPA: map[string]Consent{"data_sale_opt_out": {Consented: p.CCPA, TimestampUnixtimeMs: cms}},
	}
	raw, _ := json.Marshal(b) // maps marshal with sorted keys: deterministic
	h := sha256.Sum256(raw)
	b.SourceRequestID = "tp-" + hex.EncodeToString(h[:16])
	return b, nil
}

// Upload sends one batch per profile to /v2/bulkevents, MaxBatch per call. Every
// batch is built (and schema-checked) first, so a bad profile sends nothing.
func (c *Client) Upload(ctx context.Context, profiles []Profile) error {
	if c.cfg.APIKey == "" || c.cfg.APISecret == "" {
		return errors.New("mparticle: uploading needs an input key and secret")
	}
	var batches []Batch
	for _, p := range profiles {
		b, err := c.BatchFor(p)
		if err != nil {
			return err
		}
		batches = append(batches, b)
	}
	auth := func(r *http.Request) { r.SetBasicAuth(c.cfg.APIKey, c.cfg.APISecret) }
	for start := 0; start < len(batches); start += MaxBatch {
		payload, err := json.Marshal(batches[start:min(start+MaxBatch, len(batches))])
		if err != nil {
			return err
		}
		if _, err := c.call(ctx, http.MethodPost, c.cfg.EventsBaseURL+"/v2/bulkevents", auth, payload); err != nil {
			return fmt.Errorf("mparticle: bulkevents: %w", err)
		}
	}
	return nil
}

// GetProfile reads one user by mpid through the Profile API, enforces the schema on
// its attributes and returns the Profile: UserID from the customer_id identity,
// SourceTimestamp and ConsentTimestamp from updated_at, the flags from the consent
// attributes.
func (c *Client) GetProfile(ctx context.Context, mpid int64) (Profile, error) {
	if c.cfg.ClientID == "" || c.cfg.ClientSecret == "" || c.cfg.WorkspaceID == "" {
		return Profile{}, errors.New("mparticle: reading profiles needs client credentials and workspace ids")
	}
	u := fmt.Sprintf("%s/userprofile/v1/%s/%s/%s/%d?fields=user_identities,user_attributes", c.cfg.ProfileBaseURL,
		url.PathEscape(c.cfg.OrgID), url.PathEscape(c.cfg.AccountID), url.PathEscape(c.cfg.WorkspaceID), mpid)
	var body []byte
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		ts := c.tokens
		c.mu.Unlock()
		tok, err := ts.Token()
		if err != nil {
			return Profile{}, err
		}
		body, err = c.call(ctx, http.MethodGet, u, tok.SetAuthHeader, nil)
		if err == nil {
			break
		}
		if attempt == 0 && errors.Is(err, connectors.ErrReauthorize) {
			// The cached token may have expired or been revoked: fetch a new one
			// once; a refused grant then fails in Token.
			c.mu.Lock()
			if c.tokens == ts {
				c.tokens = oauth2.ReuseTokenSource(nil, &ssoSource{c: c})
			}
			c.mu.Unlock()
			continue
		}
		return Profile{}, fmt.Errorf("mparticle: mpid %d: %w", mpid, err)
	}
	var resp struct {
		MPID           int64 `json:"mpid"`
		UserIdentities []struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"user_identities"`
		UserAttributes map[string]any `json:"user_attributes"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&resp); err != nil {
		return Profile{}, fmt.Errorf("mparticle: mpid %d: decode: %w", mpid, err)
	}
	uid := ""
	for _, id := range resp.UserIdentities {
		if id.Type == "customer_id" {
			uid = id.Value
		}
	}
	if uid == "" {
		return Profile{}, fmt.Errorf("mparticle: mpid %d has no customer_id identity", mpid)
	}
	attrs := resp.UserAttributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	if err := c.cfg.Schema.Validate(uid, attrs); err != nil {
		return Profile{}, err
	}
	p := Profile{CustomerID: CustomerID(uid), UserID: uid, Traits: attrs}
	if s, ok := attrs[AttrUpdatedAt].(string); ok {
		p.SourceTimestamp, _ = time.Parse(time.RFC3339, s)
		delete(attrs, AttrUpdatedAt)
	}
	p.ConsentTimestamp = p.SourceTimestamp
	p.GDPR, _ = attrs[AttrGDPR].(bool)
	p.CCPA, _ = attrs[AttrCCPA].(bool)
	delete(attrs, AttrGDPR)
	delete(attrs, AttrCCPA)
	for k, v := range attrs {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return Profile{}, fmt.Errorf("mparticle: mpid %d: attribute %s: %w", mpid, k, err)
			}
			attrs[k] = f
		}
	}
	return p, nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}
