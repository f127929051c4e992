package mparticle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	cfg Config
	// doer sends with credentials given per request (the input key, nothing for
	// the SSO grant); profiles adds the SSO bearer token.
	doer, profiles *connectors.Doer
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
	connectors.SetDefault(&cfg.MaxRetries, 3)
	connectors.SetDefault(&cfg.RetryBackoff, time.Second)
	connectors.SetDefault(&cfg.ThrottleBackoff, 30*time.Second)
	connectors.SetDefault(&cfg.MaxThrottleWaits, 5)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = DefaultLimiter()
	}
	c := &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:         Platform,
		HTTP:             hc,
		Limiter:          lim,
		Classify:         classify,
		MaxRetries:       cfg.MaxRetries,
		Backoff:          cfg.RetryBackoff,
		ThrottleBackoff:  cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits,
	}}
	profiles := *c.doer
	profiles.Tokens = &connectors.CachedTokens{Fetch: c.ssoToken}
	c.profiles = &profiles
	return c, nil
}

// ssoToken fetches a Profile API token: mParticle's SSO takes the
// client-credentials grant as a JSON body with an audience, which
// golang.org/x/oauth2/clientcredentials (form-encoded) cannot send.
func (c *Client) ssoToken(ctx context.Context) (*oauth2.Token, error) {
	payload, _ := json.Marshal(map[string]string{"client_id": c.cfg.ClientID, "client_secret": c.cfg.ClientSecret,
		"audience": Audience, "grant_type": "client_credentials"})
	body, err := c.call(ctx, c.doer, http.MethodPost, c.cfg.TokenURL, nil, payload)
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

// call sends one request through d (c.doer, or c.profiles for a bearer token),
// retrying 5xx and transport errors and waiting out 429s (Retry-After, else
// ThrottleBackoff) up to MaxThrottleWaits times. auth sets static credentials.
func (c *Client) call(ctx context.Context, d *connectors.Doer, method, u string, auth func(*http.Request), payload []byte) ([]byte, error) {
	req := connectors.Request{Method: method, URL: u, Body: payload, Auth: auth}
	if payload != nil {
		req.Header = http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := d.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// classify judges an Events, Profile or SSO answer. 401/403 and 400 invalid_client
// mean a refused token: with a bearer token the Doer fetches a new one once, else
// (input key, SSO grant) it is ErrReauthorize.
func classify(r *connectors.Response) connectors.Verdict {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return connectors.Succeeded()
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden,
		r.Status == http.StatusBadRequest && bytes.Contains(r.Body, []byte(`"invalid_client"`)):
		return connectors.TokenRefused(apiError(r.Status, r.Body))
	case r.Status == http.StatusNotFound:
		return connectors.Permanent(fmt.Errorf("%w: %w", ErrNotFound, apiError(r.Status, r.Body)))
	case r.Status == http.StatusTooManyRequests:
		if d, ok := connectors.RetryAfter(r.Header); ok {
			return connectors.ThrottledFor(apiError(r.Status, r.Body), d)
		}
		return connectors.ThrottledNoHint(apiError(r.Status, r.Body))
	case r.Status >= 500:
		return connectors.Transient(apiError(r.Status, r.Body))
	}
	return connectors.Permanent(apiError(r.Status, r.Body))
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
		if _, err := c.call(ctx, c.doer, http.MethodPost, c.cfg.EventsBaseURL+"/v2/bulkevents", auth, payload); err != nil {
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
	// A refused token is fetched anew once by c.profiles; a refused grant then
	// fails in ssoToken.
	body, err := c.call(ctx, c.profiles, http.MethodGet, u, nil, nil)
	if err != nil {
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
