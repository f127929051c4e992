package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/ga4"
	"github.com/touchpoint/touchpoint/connectors/liveramp"
	"github.com/touchpoint/touchpoint/connectors/mparticle"
	"github.com/touchpoint/touchpoint/connectors/posthog"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
)

// ErasersConfig is what NewEraserFactory needs beyond a connection's
// credentials. The URLs default to the platforms' own; tests and `touchpoint dev`
// point them at the fakes.
type ErasersConfig struct {
	SegmentPublicAPIBaseURL string // segment.DefaultPublicAPIBaseURL if empty
	MParticleDSRBaseURL     string // mparticle.DefaultDSRBaseURL if empty
	PostHogBaseURL          string // posthog.DefaultBaseURL if empty
	GA4AdminBaseURL         string // ga4.DefaultAdminBaseURL if empty
	GA4AdminAPIVersion      string // ga4.DefaultAdminAPIVersion if empty
	GA4TokenURL             string // ga4.DefaultTokenURL if empty
	// LiveRampDir is the mounted SFTP landing directory deletion files go to;
	// without it a LiveRamp connection's deletions fail as misconfigured.
	LiveRampDir string

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // nil: each platform's default budget, shared by every eraser built
}

// The extra credentials deletions need, decoded from the same JSON as the sync's
// credentials (unknown fields are ignored there, so connections may carry them).
type (
	// segmentErasureCredentials adds the Public API token: regulations are not
	// reachable with the Profile API token or the write key.
	segmentErasureCredentials struct {
		SegmentCredentials
		PublicAPIToken string `json:"public_api_token"`
	}
	// mparticleErasureCredentials adds the workspace's Data Subject Request
	// key and secret, which differ from the Events API input key.
	mparticleErasureCredentials struct {
		MParticleCredentials
		DSRKey    string `json:"dsr_api_key"`
		DSRSecret string `json:"dsr_api_secret"`
	}
	// ga4ErasureCredentials adds an optional refresh token granted analytics.edit
	// (submitUserDeletion); without it the sync's refresh_token is used, which
	// works only if it was granted that scope too.
	ga4ErasureCredentials struct {
		GA4Credentials
		DeletionRefreshToken string `json:"deletion_refresh_token"`
	}
)

// NewEraserFactory returns the EraserFactory the deletion activities use. Ad
// platforms without a per-user deletion API (googleads, meta, linkedin) and
// unknown platforms get (nil, nil). A connection lacking the credential its
// platform's deletion needs gets an eraser that fails at once with
// ErrReauthorize naming the field, so the gap is visible in the deletion's
// history instead of the platform being skipped.
func NewEraserFactory(cfg ErasersConfig) EraserFactory {
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	lim := func(def func() *rate.Limiter) *rate.Limiter {
		if cfg.Limiter != nil {
			return cfg.Limiter
		}
		return def()
	}
	// One budget per platform for every eraser the factory builds: erasers are
	// built per activity, and a fresh limiter each would grant a fresh burst.
	b := &eraserBuilder{cfg: cfg, hc: hc,
		segmentLim: lim(segment.DefaultLimiter), mparticleLim: lim(mparticle.DefaultLimiter),
		posthogLim: lim(posthog.DefaultLimiter), ga4Lim: lim(ga4.DefaultLimiter)}
	return b.build
}

type eraserBuilder struct {
	cfg                                          ErasersConfig
	hc                                           *http.Client
	segmentLim, mparticleLim, posthogLim, ga4Lim *rate.Limiter
}

func (b *eraserBuilder) build(_ context.Context, c store.Connection) (connectors.Eraser, error) {
	var (
		e   connectors.Eraser
		err error
	)
	switch c.Platform {
	case PlatformSegment:
		e, err = b.segment(c)
	case PlatformMParticle:
		e, err = b.mparticle(c)
	case PlatformPostHog:
		e, err = b.posthog(c)
	case PlatformGA4:
		e, err = b.ga4(c)
	case PlatformLiveRamp:
		e = b.liveramp()
	default:
		return nil, nil // no per-user deletion API to propagate to
	}
	if err != nil {
		return nil, fmt.Errorf("connection %s (%s): %w", c.ConnectionID, c.Platform, err)
	}
	return e, nil
}

// decode reads a connection's credentials JSON into v.
func decode(c store.Connection, v any) error {
	if err := json.Unmarshal(c.Credentials, v); err != nil {
		return fmt.Errorf("credentials are not a JSON object of strings: %w", err)
	}
	return nil
}

func (b *eraserBuilder) segment(c store.Connection) (connectors.Eraser, error) {
	var cr segmentErasureCredentials
	if err := decode(c, &cr); err != nil {
		return nil, err
	}
	if cr.PublicAPIToken == "" {
		return lacking(c, "public_api_token (a Segment Public API token with deletion access)"), nil
	}
	return segment.NewRegulations(segment.RegulationsConfig{BaseURL: b.cfg.SegmentPublicAPIBaseURL,
		Token: cr.PublicAPIToken, HTTPClient: b.hc, Limiter: b.segmentLim})
}

func (b *eraserBuilder) mparticle(c store.Connection) (connectors.Eraser, error) {
	var cr mparticleErasureCredentials
	if err := decode(c, &cr); err != nil {
		return nil, err
	}
	if cr.DSRKey == "" || cr.DSRSecret == "" {
		return lacking(c, "dsr_api_key and dsr_api_secret (the workspace's OpenDSR credentials)"), nil
	}
	return mparticle.NewDSR(mparticle.DSRConfig{BaseURL: b.cfg.MParticleDSRBaseURL,
		Key: cr.DSRKey, Secret: cr.DSRSecret, HTTPClient: b.hc, Limiter: b.mparticleLim})
}

func (b *eraserBuilder) posthog(c store.Connection) (connectors.Eraser, error) {
	var cr PostHogCredentials
	if err := decode(c, &cr); err != nil {
		return nil, err
	}
	if cr.PersonalAPIKey == "" {
		return lacking(c, "personal_api_key"), nil
	}
	// The sync's key must also carry the person:write scope to delete.
	return posthog.NewPersons(posthog.PersonsConfig{BaseURL: b.cfg.PostHogBaseURL, APIKey: cr.PersonalAPIKey,
		ProjectID: c.AccountID, HTTPClient: b.hc, Limiter: b.posthogLim})
}

func (b *eraserBuilder) ga4(c store.Connection) (connectors.Eraser, error) {
	var cr ga4ErasureCredentials
	if err := decode(c, &cr); err != nil {
		return nil, err
	}
	refresh := cr.DeletionRefreshToken
	if refresh == "" {
		refresh = cr.RefreshToken
	}
	if cr.ClientID == "" || refresh == "" {
		return lacking(c, "client_id and deletion_refresh_token (a refresh token granted analytics.edit)"), nil
	}
	return ga4.NewUserDeletion(ga4.UserDeletionConfig{TokenURL: b.cfg.GA4TokenURL, BaseURL: b.cfg.GA4AdminBaseURL,
		APIVersion: b.cfg.GA4AdminAPIVersion, PropertyID: c.AccountID, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret,
		RefreshToken: refresh, HTTPClient: b.hc, Limiter: b.ga4Lim})
}

func (b *eraserBuilder) liveramp() connectors.Eraser {
	if b.cfg.LiveRampDir == "" {
		err := fmt.Errorf("liveramp: no landing directory (ErasersConfig.LiveRampDir) for deletion files")
		return failing{temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)}
	}
	return &liveramp.OptOut{Dir: b.cfg.LiveRampDir}
}

// lacking is the eraser of a connection without the credential its platform's
// deletion needs: it fails with ErrReauthorize, a person has to add it.
func lacking(c store.Connection, what string) connectors.Eraser {
	return failing{fmt.Errorf("%w: %s connection %s lacks %s for deletions", connectors.ErrReauthorize, c.Platform, c.ConnectionID, what)}
}

// failing is an eraser that cannot work; every call returns err.
type failing struct{ err error }

func (f failing) Submit(context.Context, connectors.ErasureRequest) (string, error) { return "", f.err }

func (f failing) Status(context.Context, string) (connectors.ErasureStatus, error) {
	return connectors.ErasureStatus{}, f.err
}
