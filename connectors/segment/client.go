package segment

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
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
)

// Platform is the value of ThrottledError.Platform.
const Platform = "segment"

// Defaults for Config's zero values.
const (
	DefaultProfileBaseURL  = "https://profiles.segment.com"
	DefaultTrackingBaseURL = "https://api.segment.io"
	// MaxBatch is how many messages one /v1/batch call carries (Segment caps a
	// batch at 500KB and a message at 32KB; 100 small messages stay well inside).
	MaxBatch = 100
)

// DefaultLimiter is the CDP request budget: 100 requests/s, bursts to 1000. Share
// one between all clients of a workspace.
func DefaultLimiter() *rate.Limiter { return rate.NewLimiter(100, 1000) }

// ErrNotFound is returned when the Profile API knows no such user.
var ErrNotFound = errors.New("segment: profile not found")

// Config configures a Client.
type Config struct {
	ProfileBaseURL  string // DefaultProfileBaseURL if empty
	SpaceID         string
	AccessToken     string // Profile API token, sent as Basic username, empty password
	TrackingBaseURL string // DefaultTrackingBaseURL if empty
	WriteKey        string // source write key, sent as Basic username, empty password

	Schema   Schema // DefaultSchema if nil
	PageSize int    // traits per Profile API page; 100 if zero

	HTTPClient       *http.Client
	Limiter          *rate.Limiter // DefaultLimiter() if nil
	MaxRetries       int           // 3 if zero
	RetryBackoff     time.Duration // 1s if zero, doubled each retry
	ThrottleBackoff  time.Duration // when a 429 says nothing; 30s if zero
	MaxThrottleWaits int           // 5 if zero
}

// Client talks to the Profile and Tracking APIs for one space/source.
type Client struct {
	cfg  Config
	doer *connectors.Doer
}

// New validates cfg and returns a Client. Reading needs SpaceID and AccessToken,
// sending needs WriteKey; at least one pair is required.
func New(cfg Config) (*Client, error) {
	if (cfg.SpaceID == "" || cfg.AccessToken == "") && cfg.WriteKey == "" {
		return nil, errors.New("segment: space id and access token, or a write key, are required")
	}
	connectors.SetDefault(&cfg.ProfileBaseURL, DefaultProfileBaseURL)
	connectors.SetDefault(&cfg.TrackingBaseURL, DefaultTrackingBaseURL)
	cfg.ProfileBaseURL = strings.TrimRight(cfg.ProfileBaseURL, "/")
	cfg.TrackingBaseURL = strings.TrimRight(cfg.TrackingBaseURL, "/")
	if cfg.Schema == nil {
		cfg.Schema = DefaultSchema
	}
	connectors.SetDefault(&cfg.PageSize, 100)
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
	return &Client{cfg: cfg, doer: &connectors.Doer{
		Platform:         Platform,
		HTTP:             hc,
		Limiter:          lim,
		Classify:         classify,
		MaxRetries:       cfg.MaxRetries,
		Backoff:          cfg.RetryBackoff,
		ThrottleBackoff:  cfg.ThrottleBackoff,
		MaxThrottleWaits: cfg.MaxThrottleWaits,
	}}, nil
}

// APIError is a non-2xx answer.
type APIError struct {
	HTTPStatus int
	Message    string
}

func (e *APIError) Error() string { return fmt.Sprintf("segment API %d: %s", e.HTTPStatus, e.Message) }

// call sends one request with the limiter, retrying 5xx and transport errors and
// waiting out 429s (Retry-After header, else errors[].data.msBeforeNext, else
// ThrottleBackoff) up to MaxThrottleWaits times. 401/403 wrap ErrReauthorize.
func (c *Client) call(ctx context.Context, method, u, user string, payload []byte) ([]byte, error) {
	req := connectors.Request{Method: method, URL: u, Body: payload,
		Auth: func(r *http.Request) { r.SetBasicAuth(user, "") }}
	if payload != nil {
		req.Header = http.Header{"Content-Type": {"application/json"}}
	}
	resp, err := c.doer.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// classify judges a Profile or Tracking API answer.
func classify(r *connectors.Response) connectors.Verdict {
	switch {
	case r.Status >= 200 && r.Status < 300:
		return connectors.Succeeded()
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		// Access tokens and write keys cannot be refreshed.
		return connectors.GrantRefused(apiError(r.Status, r.Body))
	case r.Status == http.StatusNotFound:
		return connectors.Permanent(fmt.Errorf("%w: %w", ErrNotFound, apiError(r.Status, r.Body)))
	case r.Status == http.StatusTooManyRequests:
		if d, ok := throttleDelay(r.Header, r.Body); ok {
			return connectors.ThrottledFor(apiError(r.Status, r.Body), d)
		}
		return connectors.ThrottledNoHint(apiError(r.Status, r.Body))
	case r.Status >= 500:
		return connectors.Transient(apiError(r.Status, r.Body))
	}
	return connectors.Permanent(apiError(r.Status, r.Body))
}

// throttleDelay reads the wait a 429 names: the Retry-After header, else the
// Profile API's errors[].data.msBeforeNext.
func throttleDelay(hdr http.Header, body []byte) (time.Duration, bool) {
	if d, ok := connectors.RetryAfter(hdr); ok {
		return d, true
	}
	var e struct {
		Errors []struct {
			Data struct {
				MsBeforeNext *int64 `json:"msBeforeNext"`
			} `json:"data"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 && e.Errors[0].Data.MsBeforeNext != nil {
		return time.Duration(*e.Errors[0].Data.MsBeforeNext) * time.Millisecond, true
	}
	return 0, false
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		Message string `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	msg := fmt.Sprintf("%.200s", body)
	if json.Unmarshal(body, &e) == nil {
		if e.Message != "" {
			msg = e.Message
		} else if len(e.Errors) > 0 {
			msg = e.Errors[0].Message
		}
	}
	return &APIError{HTTPStatus: status, Message: msg}
}

// Trait names the Profile API conventions use for the consent flags and the source
// timestamp; they are moved out of Traits into the Profile's fields.
const (
	TraitGDPR      = "gdpr_restricted"
	TraitCCPA      = "ccpa_do_not_sell"
	TraitUpdatedAt = "updated_at"
)

// GetProfile reads all traits of one user (following cursor.next while has_more),
// enforces the schema, and returns the Profile. SourceTimestamp and
// ConsentTimestamp are the updated_at trait (zero if absent, so it loses every
// conflict); the gdpr_restricted/ccpa_do_not_sell traits become the GDPR/CCPA flags.
func (c *Client) GetProfile(ctx context.Context, userID string) (Profile, error) {
	if c.cfg.SpaceID == "" || c.cfg.AccessToken == "" {
		return Profile{}, errors.New("segment: reading profiles needs a space id and access token")
	}
	userID = UserIDOf(userID)
	base := fmt.Sprintf("%s/v1/spaces/%s/collections/users/profiles/user_id:%s/traits",
		c.cfg.ProfileBaseURL, url.PathEscape(c.cfg.SpaceID), url.PathEscape(userID))
	traits := map[string]any{}
	next := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(c.cfg.PageSize)}}
		if next != "" {
			q.Set("next", next)
		}
		body, err := c.call(ctx, http.MethodGet, base+"?"+q.Encode(), c.cfg.AccessToken, nil)
		if err != nil {
			return Profile{}, fmt.Errorf("segment: user %s: %w", userID, err)
		}
		var page struct {
			Traits map[string]any `json:"traits"`
			Cursor struct {
				HasMore bool   `json:"has_more"`
				Next    string `json:"next"`
			} `json:"cursor"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&page); err != nil {
			return Profile{}, fmt.Errorf("segment: user %s: decode traits: %w", userID, err)
		}
		for k, v := range page.Traits {
			traits[k] = v
		}
		if !page.Cursor.HasMore || page.Cursor.Next == "" {
			break
		}
		if page.Cursor.Next == next {
			return Profile{}, fmt.Errorf("segment: user %s: cursor did not advance", userID)
		}
		next = page.Cursor.Next
	}
	if err := c.cfg.Schema.Validate(userID, traits); err != nil {
		return Profile{}, err
	}
	p := Profile{CustomerID: CustomerID(userID), UserID: userID, Traits: traits}
	if s, ok := traits[TraitUpdatedAt].(string); ok {
		p.SourceTimestamp, _ = time.Parse(time.RFC3339, s)
		delete(traits, TraitUpdatedAt)
	}
	p.ConsentTimestamp = p.SourceTimestamp
	p.GDPR, _ = traits[TraitGDPR].(bool)
	p.CCPA, _ = traits[TraitCCPA].(bool)
	delete(traits, TraitGDPR)
	delete(traits, TraitCCPA)
	for k, v := range traits {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return Profile{}, fmt.Errorf("segment: user %s: trait %s: %w", userID, k, err)
			}
			traits[k] = f
		}
	}
	return p, nil
}

// TrackEvent is one track call.
type TrackEvent struct {
	UserID     string
	Event      string
	Properties map[string]any
	Timestamp  time.Time
}

// Message is one /v1/batch message as sent.
type Message struct {
	Type       string         `json:"type"`
	MessageID  string         `json:"messageId"`
	UserID     string         `json:"userId"`
	Event      string         `json:"event,omitempty"`
	Traits     map[string]any `json:"traits,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
	Timestamp  string         `json:"timestamp"`
	Context    map[string]any `json:"context,omitempty"`
}

// IdentifyMessage builds the identify for p: traits (schema-checked) plus
// updated_at and the consent traits, with the flags also in context.consent. The
// messageId is a hash of the content, so resending the same profile is deduplicated
// by Segment instead of counted twice.
func (c *Client) IdentifyMessage(p Profile) (Message, error) {
	uid := UserIDOf(firstNonEmpty(p.UserID, p.CustomerID))
	if uid == "" {
		return Message{}, errors.New("segment: identify needs a user id")
	}
	if err := c.cfg.Schema.Validate(uid, p.Traits); err != nil {
		return Message{}, err
	}
	traits := map[string]any{TraitGDPR: p.GDPR, TraitCCPA: p.CCPA}
	for k, v := range p.Traits {
		traits[k] = v
	}
	ts := p.SourceTimestamp.UTC().Format(time.RFC3339Nano)
	if !p.SourceTimestamp.IsZero() {
		traits[TraitUpdatedAt] = p.SourceTimestamp.UTC().Format(time.RFC3339)
	}
	m := Message{Type: "identify", UserID: uid, Traits: traits, Timestamp: ts,
		Context: map[string]any{"consent": map[string]any{"categoryPreferences": map[string]bool{"gdpr_restricted": p.GDPR, "ccpa_do_not_sell": p.CCPA}}}}
	m.MessageID = messageID(m)
	return m, nil
}

// TrackMessage builds the track call for e with a content-derived messageId.
func TrackMessage(e TrackEvent) (Message, error) {
	uid := UserIDOf(e.UserID)
	if uid == "" || e.Event == "" {
		return Message{}, errors.New("segment: track needs a user id and an event name")
	}
	m := Message{Type: "track", UserID: uid, Event: e.Event, Properties: e.Properties, Timestamp: e.Timestamp.UTC().Format(time.RFC3339Nano)}
	m.MessageID = messageID(m)
	return m, nil
}

func messageID(m Message) string {
	b, _ := json.Marshal(m) // maps marshal with sorted keys: deterministic
	h := sha256.Sum256(b)
	return "tp-" + hex.EncodeToString(h[:16])
}

// Send posts identifies for profiles and track calls for events to /v1/batch in
// batches of MaxBatch. Every message is built (and schema-checked) before anything
// is sent, so a bad profile sends nothing.
func (c *Client) Send(ctx context.Context, profiles []Profile, events []TrackEvent) error {
	if c.cfg.WriteKey == "" {
		return errors.New("segment: sending needs a write key")
	}
	var msgs []Message
	for _, p := range profiles {
		m, err := c.IdentifyMessage(p)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	for _, e := range events {
		m, err := TrackMessage(e)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	for start := 0; start < len(msgs); start += MaxBatch {
		batch := msgs[start:min(start+MaxBatch, len(msgs))]
		payload, err := json.Marshal(map[string]any{"batch": batch, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
		if err != nil {
			return err
		}
		if _, err := c.call(ctx, http.MethodPost, c.cfg.TrackingBaseURL+"/v1/batch", c.cfg.WriteKey, payload); err != nil {
			return fmt.Errorf("segment: batch: %w", err)
		}
	}
	return nil
}
