package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors/ga4"
	"github.com/touchpoint/touchpoint/connectors/googleads"
	"github.com/touchpoint/touchpoint/connectors/linkedin"
	"github.com/touchpoint/touchpoint/connectors/meta"
	"github.com/touchpoint/touchpoint/connectors/posthog"
)

// fakePlatforms are the base URLs of the platform fakes `touchpoint dev
// -fake-platforms` serves; empty fields leave the real platforms in place.
type fakePlatforms struct {
	googleAds, googleAdsVersion string
	meta                        string
	linkedIn, linkedInVersion   string
	ga4, ga4Version             string
	postHog                     string
	// demos are connections the fakes accept, one per platform, for the banner.
	demos []fakeConnection
}

// fakeConnection is a POST /v1/connections body that works against a fake.
type fakeConnection struct {
	label, url  string // the platform's name in the banner and its fake's URL
	id          string
	platform    string
	account     string
	credentials any
}

// sync points s at the fakes that are set.
func (f fakePlatforms) sync(s *activities.Sync) *activities.Sync {
	if f.googleAds != "" {
		s.GoogleAdsBaseURL, s.GoogleAdsTokenURL, s.GoogleAdsAPIVersion = f.googleAds, f.googleAds+"/token", f.googleAdsVersion
	}
	if f.meta != "" {
		s.MetaBaseURL = f.meta
	}
	if f.linkedIn != "" {
		// The fake serves LinkedIn's token endpoint at its real path.
		s.LinkedInBaseURL, s.LinkedInTokenURL, s.LinkedInVersion = f.linkedIn, f.linkedIn+"/oauth/v2/accessToken", f.linkedInVersion
	}
	if f.ga4 != "" {
		s.GA4BaseURL, s.GA4TokenURL, s.GA4APIVersion = f.ga4, f.ga4+"/token", f.ga4Version
	}
	if f.postHog != "" {
		s.PostHogBaseURL = f.postHog
	}
	return s
}

// body is the connection's POST /v1/connections JSON.
func (c fakeConnection) body() string {
	b, _ := json.Marshal(map[string]any{"connection_id": c.id, "platform": c.platform, "account_id": c.account, "credentials": c.credentials})
	return string(b)
}

// banner tells where the fakes are and how to connect to them.
func (f fakePlatforms) banner(apiAddr, demoKey string) string {
	var b strings.Builder
	b.WriteString("Fake platforms (seeded data, credentials below are the only ones they accept):\n")
	for _, c := range f.demos {
		fmt.Fprintf(&b, "  %-17s%s\n", c.label, c.url)
	}
	b.WriteString("Create a connection against a fake and sync it now (every platform syncs the same way):\n")
	for _, c := range f.demos {
		fmt.Fprintf(&b, "  # %s\n", c.label)
		fmt.Fprintf(&b, "  curl -H 'Authorization: Bearer %s' -d '%s' http://%s/v1/connections\n", demoKey, c.body(), apiAddr)
		fmt.Fprintf(&b, "  curl -X POST -H 'Authorization: Bearer %s' http://%s/v1/connections/%s/sync\n", demoKey, apiAddr, c.id)
	}
	b.WriteString("\n")
	return b.String()
}

// startFakePlatforms serves the Google Ads, Meta, LinkedIn, GA4 and PostHog fakes on
// free local ports.
func startFakePlatforms() (fakePlatforms, func(), error) {
	gads, mf, li, ga, ph := googleads.NewFake(1), meta.NewFake(1), linkedin.NewFake(1), ga4.NewFake(1), posthog.NewFake(1)
	urls, stop, err := serveAllLocal(gads, mf, li, ga, ph)
	if err != nil {
		return fakePlatforms{}, nil, err
	}
	f := fakePlatforms{
		googleAds: urls[0], googleAdsVersion: gads.Version, meta: urls[1],
		linkedIn: urls[2], linkedInVersion: li.Version, ga4: urls[3], ga4Version: ga.Version, postHog: urls[4],
	}
	f.demos = []fakeConnection{
		{label: "Google Ads", url: f.googleAds, id: "gads-demo", platform: activities.PlatformGoogleAds, account: "1234567890",
			credentials: activities.GoogleAdsCredentials{DeveloperToken: gads.DeveloperToken, ClientID: gads.ClientID,
				ClientSecret: gads.ClientSecret, RefreshToken: gads.RefreshToken}},
		{label: "Meta", url: f.meta, id: "meta-demo", platform: activities.PlatformMeta, account: "act_1234",
			credentials: activities.MetaCredentials{AccessToken: mf.Token}},
		{label: "LinkedIn", url: f.linkedIn, id: "linkedin-demo", platform: activities.PlatformLinkedIn, account: li.AccountID,
			credentials: activities.LinkedInCredentials{ClientID: li.ClientID, ClientSecret: li.ClientSecret, RefreshToken: li.RefreshToken}},
		{label: "GA4", url: f.ga4, id: "ga4-demo", platform: activities.PlatformGA4, account: ga.PropertyID,
			credentials: activities.GA4Credentials{ClientID: ga.ClientID, ClientSecret: ga.ClientSecret, RefreshToken: ga.RefreshToken}},
		{label: "PostHog", url: f.postHog, id: "posthog-demo", platform: activities.PlatformPostHog, account: ph.ProjectID,
			credentials: activities.PostHogCredentials{PersonalAPIKey: ph.APIKey}},
	}
	return f, stop, nil
}

// serveAllLocal serves each handler on a free local port and returns their URLs in
// order; on an error the ones already started are stopped.
func serveAllLocal(handlers ...http.Handler) ([]string, func(), error) {
	var urls []string
	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	for _, h := range handlers {
		u, stop, err := serveLocal(h)
		if err != nil {
			stopAll()
			return nil, nil, err
		}
		urls, stops = append(urls, u), append(stops, stop)
	}
	return urls, stopAll, nil
}

func serveLocal(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("dev: fake platform: %w", err)
	}
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }() // ends with http.ErrServerClosed on stop
	return "http://" + ln.Addr().String(), func() { _ = hs.Close() }, nil
}
