// Package liveramp resolves customer profiles to RampIDs through LiveRamp's RampID
// API (batch Lookup with hashed PII, POST /v1/batch/lookup, OAuth2 client
// credentials), enforcing segment's trait schema on the way in, carrying the
// GDPR/CCPA flags into the resulting identities, and keeping the customer-id →
// RampID mapping idempotent and latest-wins by source timestamp. It also holds a
// fake of the API.
package liveramp

import (
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
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/segment"
)

// Platform is the value of ThrottledError.Platform.
const Platform = "liveramp"

// Defaults for Config's zero values.
const (
	DefaultBaseURL = "https://us.identity.api.liveramp.com"
	// MaxBatch is how many lookups one batch call carries.
	MaxBatch = 1000
)

// Profile, Schema and SchemaError are segment's.
type (
	Profile     = segment.Profile
	Schema      = segment.Schema
	SchemaError = segment.SchemaError
)

// DefaultSchema is the trait schema used when Config.Schema is nil.
var DefaultSchema = segment.DefaultSchema

// DefaultLimiter is the CDP request budget: 100 requests/s, bursts to 1000.
func DefaultLimiter() *rate.Limiter { return segment.DefaultLimiter() }

// Config configures a Client.
type Config struct {
	BaseURL      string // DefaultBaseURL if empty
	TokenURL     string // BaseURL + "/token" if empty
	ClientID     string
	ClientSecret string

	Schema Schema // DefaultSchema if nil

	HTTPClient       *http.Client
	Limiter          *rate.Limiter // DefaultLimiter() if nil
	MaxRetries       int           // 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // when a 429 has no Retry-After; 30s if zero
	MaxThrottleWaits int           // 5 if zero
}

// Client talks to the RampID API.
type Client struct {
	cfg  Config
	doer *connectors.Doer
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("liveramp: client id and secret are required")
	}
	connectors.SetDefault(&cfg.BaseURL, DefaultBaseURL)
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	connectors.SetDefault(&cfg.TokenURL, cfg.BaseURL+"/token")
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
	cc := clientcredentials.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams,
	}
	return &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:         Platform,
		HTTP:             hc,
		Limiter:          lim,
		Tokens:           &connectors.CachedTokens{Fetch: fetchToken(cc, hc, lim)},
		Classify:         classify,
		MaxRetries:       cfg.MaxRetries,
		Backoff:          cfg.RetryBackoff,
		ThrottleBackoff:  cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits,
	}}, nil
}

// fetchToken runs the client-credentials grant; the token endpoint counts against
// the same request budget, so it waits for the limiter too. A refused grant (4xx)
// wraps ErrReauthorize.
func fetchToken(cc clientcredentials.Config, hc *http.Client, lim *rate.Limiter) func(context.Context) (*oauth2.Token, error) {
	return func(ctx context.Context) (*oauth2.Token, error) {
		if err := lim.Wait(ctx); err != nil {
			return nil, fmt.Errorf("liveramp: rate limiter: %w", err)
		}
		t, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		if err != nil {
			var re *oauth2.RetrieveError
			if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
				return nil, fmt.Errorf("liveramp: %w: token: %w", connectors.ErrReauthorize, err)
			}
			return nil, fmt.Errorf("liveramp: token: %w", err)
		}
		return t, nil
	}
}

// APIError is a non-2xx answer or a per-record error document.
type APIError struct {
	HTTPStatus int
	Code       string // e.g. 600-0043
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("liveramp API %d %s: %s", e.HTTPStatus, e.Code, e.Message)
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	ae := &APIError{HTTPStatus: status, Message: fmt.Sprintf("%.200s", body)}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		ae.Message, ae.Code = e.Error.Message, e.Error.Code
	}
	return ae
}

// call posts payload with a Bearer token and the limiter, retrying 5xx and transport
// errors, waiting out 429s (Retry-After, else ThrottleBackoff), and fetching a new
// token once on 403 (LiveRamp's signal for an expired token). 401, or 403 with a
// fresh token, wraps ErrReauthorize.
func (c *Client) call(ctx context.Context, u string, payload []byte) ([]byte, error) {
	resp, err := c.doer.Do(ctx, connectors.Request{Method: http.MethodPost, URL: u, Body: payload,
		Header: http.Header{"Content-Type": {"application/json"}}})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// classify judges a RampID API answer. LiveRamp answers an expired token with 403,
// and bad credentials with 401.
func classify(r *connectors.Response) connectors.Verdict {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return connectors.Succeeded()
	case r.Status == http.StatusForbidden:
		return connectors.TokenRefused(apiError(r.Status, r.Body))
	case r.Status == http.StatusUnauthorized:
		return connectors.GrantRefused(apiError(r.Status, r.Body))
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

// Identity is one customer's RampID as the sync stores it.
type Identity struct {
	CustomerID      string    `json:"customer_id"` // the profile's internal customer id
	RampID          string    `json:"ramp_id"`     // empty when not resolved
	SourceTimestamp time.Time `json:"source_timestamp"`
	// GDPR/CCPA are the profile's flags, carried along; a GDPR-restricted profile is
	// never sent to LiveRamp and comes back with no RampID.
	GDPR             bool      `json:"gdpr"`
	CCPA             bool      `json:"ccpa"`
	ConsentTimestamp time.Time `json:"consent_timestamp"`
	Error            string    `json:"error,omitempty"` // per-record error from LiveRamp
}

// CustomerID normalises an internal customer id (trims white space); applying it
// twice changes nothing.
func CustomerID(id string) string { return strings.TrimSpace(id) }

// HashEmail is the Lookup encoding of an email: SHA-256 hex of the lowercased,
// trimmed address.
func HashEmail(email string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(h[:])
}

// LookupPath is the batch element for p: /people/lookup?email=<sha256>.
func LookupPath(email string) string {
	return "/people/lookup?" + url.Values{"email": {HashEmail(email)}}.Encode()
}

// Resolve looks up the RampID of each profile by its hashed email, MaxBatch per
// call. Every profile is schema-checked (and must have an email) before anything is
// sent. Identities come back in the order of profiles; GDPR-restricted profiles are
// not sent. Records LiveRamp could not resolve carry the per-record error.
func (c *Client) Resolve(ctx context.Context, profiles []Profile) ([]Identity, error) {
	out := make([]Identity, len(profiles))
	var paths []string
	var idx []int
	for i, p := range profiles {
		cid := CustomerID(p.CustomerID)
		if cid == "" {
			return nil, fmt.Errorf("liveramp: profile %d has no customer id", i)
		}
		if err := c.cfg.Schema.Validate(cid, p.Traits); err != nil {
			return nil, err
		}
		email, _ := p.Traits["email"].(string)
		if strings.TrimSpace(email) == "" {
			return nil, &SchemaError{UserID: cid, Violations: []string{`trait "email": required for RampID lookup`}}
		}
		out[i] = Identity{CustomerID: cid, SourceTimestamp: p.SourceTimestamp, GDPR: p.GDPR, CCPA: p.CCPA, ConsentTimestamp: p.ConsentTimestamp}
		if p.GDPR {
			continue
		}
		paths = append(paths, LookupPath(email))
		idx = append(idx, i)
	}
	for start := 0; start < len(paths); start += MaxBatch {
		end := min(start+MaxBatch, len(paths))
		payload, err := json.Marshal(paths[start:end])
		if err != nil {
			return nil, err
		}
		body, err := c.call(ctx, c.cfg.BaseURL+"/v1/batch/lookup", payload)
		if err != nil {
			return nil, fmt.Errorf("liveramp: batch lookup: %w", err)
		}
		var docs []struct {
			Type      string `json:"type"`
			Universal string `json:"universal"`
			Error     *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(body, &docs); err != nil {
			return nil, fmt.Errorf("liveramp: batch lookup: decode: %w", err)
		}
		if len(docs) != end-start {
			return nil, fmt.Errorf("liveramp: batch lookup: %d answers for %d lookups", len(docs), end-start)
		}
		for j, d := range docs {
			id := &out[idx[start+j]]
			if d.Error != nil {
				id.Error = d.Error.Code + " " + d.Error.Message
				continue
			}
			id.RampID = d.Universal
		}
	}
	return out, nil
}

// MergeIdentity keeps one mapping per customer: the identity with the later
// SourceTimestamp wins (an unresolved one never replaces a resolved one of the same
// time); on ties the higher RampID wins, so the result does not depend on arrival
// order and re-merging is a no-op. The flags follow the later ConsentTimestamp, set
// flags winning ties. Different customers: existing is returned unchanged.
func MergeIdentity(existing, incoming Identity) Identity {
	if existing.CustomerID == "" {
		existing.CustomerID = CustomerID(incoming.CustomerID)
	}
	if CustomerID(existing.CustomerID) != CustomerID(incoming.CustomerID) {
		return existing
	}
	out := existing
	out.CustomerID = CustomerID(existing.CustomerID)
	if incoming.SourceTimestamp.After(existing.SourceTimestamp) ||
		(incoming.SourceTimestamp.Equal(existing.SourceTimestamp) && (incoming.RampID > existing.RampID ||
			(incoming.RampID == existing.RampID && incoming.Error > existing.Error))) {
		out.RampID, out.SourceTimestamp, out.Error = incoming.RampID, incoming.SourceTimestamp, incoming.Error
	}
	switch {
	case incoming.ConsentTimestamp.After(existing.ConsentTimestamp):
		out.GDPR, out.CCPA, out.ConsentTimestamp = incoming.GDPR, incoming.CCPA, incoming.ConsentTimestamp
	case existing.ConsentTimestamp.After(incoming.ConsentTimestamp):
	default:
		out.GDPR, out.CCPA = existing.GDPR || incoming.GDPR, existing.CCPA || incoming.CCPA
	}
	return out
}
