package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/ga4"
	"github.com/touchpoint/touchpoint/connectors/googleads"
	"github.com/touchpoint/touchpoint/connectors/linkedin"
	"github.com/touchpoint/touchpoint/connectors/meta"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/store"
)

// GoogleAdsCredentials are what a googleads connection stores (encrypted).
type GoogleAdsCredentials struct {
	DeveloperToken  string `json:"developer_token"`
	LoginCustomerID string `json:"login_customer_id,omitempty"`
	ClientID        string `json:"client_id"`
	ClientSecret    string `json:"client_secret"`
	RefreshToken    string `json:"refresh_token"`
}

// MetaCredentials are what a meta connection stores (encrypted).
type MetaCredentials struct {
	AccessToken string `json:"access_token"`
}

// LinkedInCredentials are what a linkedin connection stores (encrypted): the OAuth
// app and the member's (programmatic) refresh token. The account id is the
// connection's account_id (the numeric ad account id).
type LinkedInCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// GA4Credentials are what a ga4 connection stores (encrypted): a Google OAuth client
// and a refresh token granted analytics.readonly. The property id is the
// connection's account_id.
type GA4Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
}

// PostHogCredentials are what a posthog connection stores (encrypted): a personal API
// key with Query Read. The project id is the connection's account_id, so the stored
// rows' account (the client reports the project id) is the connection's.
type PostHogCredentials struct {
	PersonalAPIKey string `json:"personal_api_key"`
}

// Each credentials type names its required fields that are empty, in the order the
// API documents them.
func (c GoogleAdsCredentials) missing() []string {
	// client_secret stays optional, as it always was for Google Ads connections.
	return emptyFields("developer_token", c.DeveloperToken, "client_id", c.ClientID, "refresh_token", c.RefreshToken)
}

func (c MetaCredentials) missing() []string { return emptyFields("access_token", c.AccessToken) }

func (c LinkedInCredentials) missing() []string {
	return emptyFields("client_id", c.ClientID, "client_secret", c.ClientSecret, "refresh_token", c.RefreshToken)
}

func (c GA4Credentials) missing() []string {
	return emptyFields("client_id", c.ClientID, "client_secret", c.ClientSecret, "refresh_token", c.RefreshToken)
}

func (c PostHogCredentials) missing() []string {
	return emptyFields("personal_api_key", c.PersonalAPIKey)
}

// emptyFields takes (name, value) pairs and returns the names whose value is blank.
func emptyFields(pairs ...string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			out = append(out, pairs[i])
		}
	}
	return out
}

// credentials is what every platform's credentials struct is.
type credentials interface{ missing() []string }

// newCredentials returns an empty credentials struct for platform, or nil for an
// unknown platform.
func newCredentials(platform string) credentials {
	switch platform {
	case PlatformGoogleAds:
		return &GoogleAdsCredentials{}
	case PlatformMeta:
		return &MetaCredentials{}
	case PlatformLinkedIn:
		return &LinkedInCredentials{}
	case PlatformGA4:
		return &GA4Credentials{}
	case PlatformPostHog:
		return &PostHogCredentials{}
	}
	return nil
}

// CheckCredentials decodes a connection's credentials JSON for platform and says
// which required fields are missing. The API answers its error with a 400; the sync
// activity fails with it as a SyncConfiguration error. It never echoes the values.
func CheckCredentials(platform string, raw []byte) error {
	_, err := decodeCredentials(platform, raw)
	return err
}

func decodeCredentials(platform string, raw []byte) (credentials, error) {
	cr := newCredentials(platform)
	if cr == nil {
		return nil, fmt.Errorf("unknown platform %q (want one of %s)", platform, strings.Join(CampaignPlatforms, ", "))
	}
	if err := json.Unmarshal(raw, cr); err != nil {
		return nil, fmt.Errorf("%s credentials are not a JSON object of strings (%v); they need %s",
			platform, err, strings.Join(newCredentials(platform).missing(), ", "))
	}
	if m := cr.missing(); len(m) > 0 {
		return nil, fmt.Errorf("%s credentials lack %s (they need %s)",
			platform, strings.Join(m, ", "), strings.Join(newCredentials(platform).missing(), ", "))
	}
	return cr, nil
}

// fetcher reads one connection's campaign days over [from, to] (inclusive).
type fetcher func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error)

// client builds the platform client of a connection from its stored credentials.
// Errors are configuration errors: retrying cannot fix them.
func (s *Sync) client(c store.Connection) (fetcher, error) {
	cr, err := decodeCredentials(c.Platform, c.Credentials)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.ConnectionID, err)
	}
	hc := s.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	var f fetcher
	switch cr := cr.(type) {
	case *GoogleAdsCredentials:
		f, err = s.googleAds(c.AccountID, *cr, hc)
	case *MetaCredentials:
		f = s.meta(c.AccountID, *cr, hc)
	case *LinkedInCredentials:
		f, err = s.linkedIn(c.AccountID, *cr, hc)
	case *GA4Credentials:
		f, err = s.ga4(c.AccountID, *cr, hc)
	case *PostHogCredentials:
		f, err = s.postHog(c.AccountID, *cr, hc)
	}
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.ConnectionID, err)
	}
	return f, nil
}

func (s *Sync) googleAds(account string, cr GoogleAdsCredentials, hc *http.Client) (fetcher, error) {
	gc, err := googleads.New(googleads.Config{
		BaseURL: s.GoogleAdsBaseURL, TokenURL: s.GoogleAdsTokenURL, APIVersion: s.GoogleAdsAPIVersion,
		DeveloperToken: cr.DeveloperToken, LoginCustomerID: cr.LoginCustomerID, ClientID: cr.ClientID,
		ClientSecret: cr.ClientSecret, RefreshToken: cr.RefreshToken, HTTPClient: hc, Limiter: s.Limiter,
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
		return gc.CampaignDays(ctx, account, from, to)
	}, nil
}

func (s *Sync) meta(account string, cr MetaCredentials, hc *http.Client) fetcher {
	base, version := s.MetaBaseURL, s.MetaAPIVersion
	if base == "" {
		base = "https://graph.facebook.com"
	}
	if version == "" {
		version = "v23.0"
	}
	mc := meta.New(base, version, cr.AccessToken)
	mc.HTTPClient = hc
	if s.Limiter != nil {
		mc.Limiter = s.Limiter
	}
	return func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
		return mc.CampaignDays(ctx, account, from, to)
	}
}

func (s *Sync) linkedIn(account string, cr LinkedInCredentials, hc *http.Client) (fetcher, error) {
	lc, err := linkedin.New(linkedin.Config{
		BaseURL: s.LinkedInBaseURL, TokenURL: s.LinkedInTokenURL, Version: s.LinkedInVersion,
		ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, RefreshToken: cr.RefreshToken,
		HTTPClient: hc, Limiter: s.Limiter,
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
		return lc.Sync(ctx, account, from, to)
	}, nil
}

func (s *Sync) ga4(property string, cr GA4Credentials, hc *http.Client) (fetcher, error) {
	gc, err := ga4.New(ga4.Config{
		BaseURL: s.GA4BaseURL, TokenURL: s.GA4TokenURL, APIVersion: s.GA4APIVersion,
		ClientID: cr.ClientID, ClientSecret: cr.ClientSecret, RefreshToken: cr.RefreshToken,
		HTTPClient: hc, Limiter: s.Limiter,
	})
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, from, to time.Time) ([]connectors.CampaignDay, error) {
		return gc.Sync(ctx, property, from, to)
	}, nil
}

func (s *Sync) postHog(project string, cr PostHogCredentials, hc *http.Client) (fetcher, error) {
	pc, err := posthog.New(posthog.Config{
		BaseURL: s.PostHogBaseURL, APIKey: cr.PersonalAPIKey, ProjectID: project,
		HTTPClient: hc, Limiter: s.Limiter,
	})
	if err != nil {
		return nil, err
	}
	return pc.CampaignDays, nil
}
