package main

import (
	"fmt"
	"net"
	"net/http"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/connectors/googleads"
	"github.com/touchpoint/touchpoint/connectors/meta"
)

// fakePlatforms are the base URLs of the platform fakes `touchpoint dev
// -fake-platforms` serves; empty fields leave the real platforms in place.
type fakePlatforms struct {
	googleAds, googleAdsVersion string
	meta                        string
}

// sync points s at the fakes that are set.
func (f fakePlatforms) sync(s *activities.Sync) *activities.Sync {
	if f.googleAds != "" {
		s.GoogleAdsBaseURL, s.GoogleAdsTokenURL, s.GoogleAdsAPIVersion = f.googleAds, f.googleAds+"/token", f.googleAdsVersion
	}
	if f.meta != "" {
		s.MetaBaseURL = f.meta
	}
	return s
}

// banner tells where the fakes are and how to connect to them.
func (f fakePlatforms) banner(apiAddr, demoKey string) string {
	return fmt.Sprintf(`Fake platforms (seeded data, credentials below are the only ones they accept):
  Google Ads       %s
  Meta             %s
Create a Google Ads connection against the fake and sync it now:
  curl -H 'Authorization: Bearer %s' -d '{"connection_id":"gads-demo","platform":"googleads","account_id":"1234567890","credentials":{"developer_token":"fake-developer-token","client_id":"fake-client-id","client_secret":"fake-client-secret","refresh_token":"fake-refresh-token"}}' http://%s/v1/connections
  curl -X POST -H 'Authorization: Bearer %s' http://%s/v1/connections/gads-demo/sync
  (Meta: "platform":"meta","account_id":"act_1234","credentials":{"access_token":"fake-meta-token"})

`, f.googleAds, f.meta, demoKey, apiAddr, demoKey, apiAddr)
}

// startFakePlatforms serves the Google Ads and Meta fakes on free local ports.
func startFakePlatforms() (fakePlatforms, func(), error) {
	gads := googleads.NewFake(1)
	gURL, gStop, err := serveLocal(gads)
	if err != nil {
		return fakePlatforms{}, nil, err
	}
	mURL, mStop, err := serveLocal(meta.NewFake(1))
	if err != nil {
		gStop()
		return fakePlatforms{}, nil, err
	}
	return fakePlatforms{googleAds: gURL, googleAdsVersion: gads.Version, meta: mURL}, func() { mStop(); gStop() }, nil
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
