package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/connectors/liveramp"
	"github.com/touchpoint/touchpoint/connectors/mparticle"
	"github.com/touchpoint/touchpoint/connectors/segment"
	"github.com/touchpoint/touchpoint/store"
)

// The CDP platforms a connection can be to: their syncs are ProfileSyncs, not
// PlatformSyncs.
const (
	PlatformSegment   = "segment"
	PlatformMParticle = "mparticle"
	PlatformLiveRamp  = "liveramp"
)

// ProfilesStream is the cursor stream of a CDP connection: the ingestion day of the
// journey rows its customers were last taken from.
const ProfilesStream = "profiles"

// DefaultProfileChunk is how many customers a profile sync stores and heartbeats at once.
const DefaultProfileChunk = 100

// IsCDP reports whether platform is a CDP, synced by ProfileSync.
func IsCDP(platform string) bool {
	switch platform {
	case PlatformSegment, PlatformMParticle, PlatformLiveRamp:
		return true
	}
	return false
}

// SegmentCredentials are what a segment connection stores (encrypted): the Profile
// API's space and token to read, the source write key to send identifies.
type SegmentCredentials struct {
	SpaceID     string `json:"space_id"`
	AccessToken string `json:"access_token"`
	WriteKey    string `json:"write_key"`
}

// MParticleCredentials are what an mparticle connection stores (encrypted): the
// input key and secret to upload, the Profile API client and workspace to read.
type MParticleCredentials struct {
	APIKey       string `json:"api_key"`
	APISecret    string `json:"api_secret"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	OrgID        string `json:"org_id"`
	AccountID    string `json:"account_id"`
	WorkspaceID  string `json:"workspace_id"`
}

// LiveRampCredentials are what a liveramp connection stores (encrypted).
type LiveRampCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// ProfileSync keeps customer_profiles in step with the tenant's CDPs: it pulls
// Segment and mParticle profiles into the latest-wins merge, pushes the merged
// profile back, withdraws analytics consent of GDPR-restricted subjects, and resolves
// RampIDs through LiveRamp. The URLs default to the platforms' own; tests and
// `touchpoint dev` point them at the fakes.
type ProfileSync struct {
	Connections store.Connections
	Profiles    store.Profiles
	Privacy     store.Privacy

	SegmentProfileBaseURL   string // segment.DefaultProfileBaseURL if empty
	SegmentTrackingBaseURL  string // segment.DefaultTrackingBaseURL if empty
	MParticleEventsBaseURL  string // mparticle.DefaultEventsBaseURL if empty
	MParticleProfileBaseURL string // mparticle.DefaultProfileBaseURL if empty
	MParticleTokenURL       string // mparticle.DefaultTokenURL if empty
	LiveRampBaseURL         string // liveramp.DefaultBaseURL if empty
	LiveRampTokenURL        string // LiveRampBaseURL + "/token" if empty

	// MParticleMPID gives the mpid of a customer that cdp_identities does not link to
	// one yet (the mParticle client has no Identity API search). nil: such customers
	// are uploaded but not read.
	MParticleMPID func(customerID string) (int64, bool)

	HTTPClient *http.Client  // http.DefaultClient if nil
	Limiter    *rate.Limiter // nil: one 100 requests/s, burst 1000 budget shared by every run of this worker
	ChunkSize  int           // customers per stored chunk; DefaultProfileChunk if zero

	once    sync.Once
	limiter *rate.Limiter
}

// ProfileSyncInput names the CDP connection to sync.
type ProfileSyncInput struct {
	Tenant       string
	ConnectionID string
}

// ProfileSyncResult counts what a run did.
type ProfileSyncResult struct {
	Customers        int // customers looked at
	Pulled           int // profiles read from the CDP
	Changed          int // stored profiles the merge changed or created
	Pushed           int // merged profiles sent back to the CDP
	Rejected         int // CDP profiles that broke the trait schema, skipped
	ConsentWithdrawn int // GDPR-restricted subjects whose analytics consent was withdrawn
	RampIDs          int // RampIDs resolved and stored
	NotShared        int // GDPR/CCPA-restricted profiles not sent to LiveRamp
	// ResumedAfter is the customer id an attempt resumed after when an earlier one died.
	ResumedAfter string
}

// profileProgress is SyncProfiles' heartbeat: every customer up to Last is stored.
type profileProgress struct {
	Last   string
	Since  time.Time // the cursor the run started from
	RunDay time.Time // the day the run started: the next cursor
	Result ProfileSyncResult
}

func (s *ProfileSync) httpClient() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	return http.DefaultClient
}

// sharedLimiter is the CDP request budget. Clients are built per run, so without a
// shared limiter every run would get a fresh burst of its own.
func (s *ProfileSync) sharedLimiter() *rate.Limiter {
	s.once.Do(func() {
		s.limiter = s.Limiter
		if s.limiter == nil {
			s.limiter = segment.DefaultLimiter()
		}
	})
	return s.limiter
}

// SyncProfiles runs one sync of a CDP connection, chunk by chunk, heartbeating the
// last stored customer id; a retried attempt resumes after it. A refused grant marks
// the connection needs_reauth and fails without retry; a throttle is retried after
// the delay the platform asked for.
func (s *ProfileSync) SyncProfiles(ctx context.Context, in ProfileSyncInput) (ProfileSyncResult, error) {
	conn, err := s.connection(ctx, in)
	if err != nil {
		return ProfileSyncResult{}, err
	}
	progress, err := s.startProgress(ctx, conn)
	if err != nil {
		return ProfileSyncResult{}, err
	}
	switch conn.Platform {
	case PlatformLiveRamp:
		err = s.resolveRampIDs(ctx, conn, &progress)
	default:
		err = s.syncCDP(ctx, conn, &progress)
	}
	if err != nil {
		return progress.Result, s.classify(ctx, conn, err)
	}
	if err := s.Profiles.AdvanceCursor(ctx, conn.TenantID, conn.ConnectionID, ProfilesStream, progress.RunDay); err != nil {
		return progress.Result, err
	}
	return progress.Result, nil
}

// connection loads the connection, failing without retry when it is gone, waits for
// re-authorisation or is no CDP.
func (s *ProfileSync) connection(ctx context.Context, in ProfileSyncInput) (store.Connection, error) {
	conn, err := s.Connections.Get(ctx, in.Tenant, in.ConnectionID)
	if errors.Is(err, store.ErrConnectionNotFound) {
		return conn, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	if err != nil {
		return conn, fmt.Errorf("profile sync %s/%s: %w", in.Tenant, in.ConnectionID, err)
	}
	if conn.Status == "needs_reauth" {
		return conn, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("connection %s: %v", conn.ConnectionID, connectors.ErrReauthorize), ErrTypeReauthorize, connectors.ErrReauthorize)
	}
	if !IsCDP(conn.Platform) {
		err := fmt.Errorf("connection %s is to %s, not a CDP", conn.ConnectionID, conn.Platform)
		return conn, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
	}
	return conn, nil
}

// startProgress resumes from the heartbeat of a dead attempt, or starts at the
// stored cursor.
func (s *ProfileSync) startProgress(ctx context.Context, conn store.Connection) (profileProgress, error) {
	var p profileProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &p); err == nil && !p.RunDay.IsZero() {
			p.Result.ResumedAfter = p.Last
			return p, nil
		}
	}
	since, _, err := s.Connections.Cursor(ctx, conn.TenantID, conn.ConnectionID, ProfilesStream)
	if err != nil {
		return p, err
	}
	return profileProgress{Since: since, RunDay: utcDay(time.Now())}, nil
}

func (s *ProfileSync) chunkSize() int {
	if s.ChunkSize > 0 {
		return s.ChunkSize
	}
	return DefaultProfileChunk
}

// cdpSide is one CDP's reading and writing of profiles, in our customer ids.
type cdpSide interface {
	// pull reads the customers' profiles (ids: the CDP's id of each customer); a
	// customer the CDP does not know is left out; a profile breaking the schema is
	// counted as rejected and left out.
	pull(ctx context.Context, ids map[string]string, tick func()) (profiles []segment.Profile, rejected int, err error)
	// push sends merged profiles, keyed by the CDP's id of each customer.
	push(ctx context.Context, profiles []segment.Profile, ids map[string]string) error
	// ids maps customers to the CDP's ids, linking the ones it finds.
	ids(ctx context.Context, tenant string, customers []string) (map[string]string, error)
}

// syncCDP pulls, merges and pushes back the profiles of the customers seen since the
// cursor and of every stored profile, a chunk at a time.
func (s *ProfileSync) syncCDP(ctx context.Context, conn store.Connection, p *profileProgress) error {
	side, err := s.cdp(conn)
	if err != nil {
		return err
	}
	for {
		customers, err := s.Profiles.CustomersToSync(ctx, conn.TenantID, p.Since, p.Last, s.chunkSize())
		if err != nil {
			return err
		}
		if len(customers) == 0 {
			return nil
		}
		// A heartbeat between the requests of a chunk keeps the details, which
		// resume at the last stored chunk: a heartbeat without them would clear them.
		tick := func() { activity.RecordHeartbeat(ctx, *p) }
		if err := s.syncChunk(ctx, conn, side, customers, &p.Result, tick); err != nil {
			return err
		}
		p.Last = customers[len(customers)-1]
		activity.RecordHeartbeat(ctx, *p)
	}
}

func (s *ProfileSync) syncChunk(ctx context.Context, conn store.Connection, side cdpSide, customers []string, r *ProfileSyncResult, tick func()) error {
	tenant := conn.TenantID
	ids, err := side.ids(ctx, tenant, customers)
	if err != nil {
		return err
	}
	pulled, rejected, err := side.pull(ctx, ids, tick)
	if err != nil {
		return err
	}
	r.Customers += len(customers)
	r.Pulled += len(pulled)
	r.Rejected += rejected
	changes, err := s.Profiles.Merge(ctx, tenant, conn.Platform, pulled)
	if err != nil {
		return err
	}
	for _, c := range changes {
		if c.Changed {
			r.Changed++
		}
	}
	if err := s.withdrawConsent(ctx, tenant, conn.Platform, changes, r); err != nil {
		return err
	}
	return s.pushBack(ctx, tenant, side, customers, pulled, ids, r)
}

// withdrawConsent records that GDPR-restricted subjects withdrew consent (every
// purpose: GDPR restriction stops processing), at the CDP's consent time, so the
// consumer drops their events and a newer choice recorded elsewhere still wins. It
// never grants consent back: a cleared flag in a CDP does not overrule a withdrawal
// recorded elsewhere.
func (s *ProfileSync) withdrawConsent(ctx context.Context, tenant, platform string, changes []store.ProfileChange, r *ProfileSyncResult) error {
	for _, c := range changes {
		if !c.Profile.GDPR {
			continue
		}
		applied, err := s.Privacy.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: c.Profile.CustomerID,
			Source: platform, SourceTime: c.Profile.ConsentTimestamp})
		if err != nil {
			return fmt.Errorf("withdraw consent of %s: %w", c.Profile.CustomerID, err)
		}
		if applied && c.Changed {
			r.ConsentWithdrawn++
		}
	}
	return nil
}

// pushBack sends the stored profile of each customer whose CDP copy differs from it
// (or is missing), so the CDP learns what other sources knew later. A customer the
// CDP already agrees with is not sent: a rerun sends nothing.
func (s *ProfileSync) pushBack(ctx context.Context, tenant string, side cdpSide, customers []string, pulled []segment.Profile, ids map[string]string, r *ProfileSyncResult) error {
	stored, err := s.Profiles.GetMany(ctx, tenant, customers)
	if err != nil {
		return err
	}
	inCDP := make(map[string]segment.Profile, len(pulled))
	for _, p := range pulled {
		inCDP[p.CustomerID] = p
	}
	var out []segment.Profile
	for _, cid := range customers {
		sp, ok := stored[cid]
		if !ok || len(sp.Traits) == 0 {
			continue
		}
		if cp, ok := inCDP[cid]; ok && sameAsCDP(sp, cp) {
			continue
		}
		if segment.DefaultSchema.Validate(cid, sp.Traits) != nil {
			r.Rejected++ // stored before a schema change; sending would fail the whole batch
			continue
		}
		out = append(out, sp.Segment())
	}
	if len(out) == 0 {
		return nil
	}
	if err := side.push(ctx, out, ids); err != nil {
		return err
	}
	r.Pushed += len(out)
	return nil
}

// sameAsCDP reports whether the CDP's profile already says what the stored one does.
func sameAsCDP(stored store.CustomerProfile, cdp segment.Profile) bool {
	a, _ := json.Marshal([]any{stored.Traits, stored.GDPR, stored.CCPA, stored.SourceTimestamp.UTC()})
	b, _ := json.Marshal([]any{cdp.Traits, cdp.GDPR, cdp.CCPA, cdp.SourceTimestamp.UTC()})
	return bytes.Equal(a, b)
}

// cdp builds the connection's Segment or mParticle side.
func (s *ProfileSync) cdp(conn store.Connection) (cdpSide, error) {
	switch conn.Platform {
	case PlatformSegment:
		var cr SegmentCredentials
		if err := json.Unmarshal(conn.Credentials, &cr); err != nil {
			return nil, configError(fmt.Errorf("segment credentials: %w", err))
		}
		c, err := segment.New(segment.Config{ProfileBaseURL: s.SegmentProfileBaseURL, TrackingBaseURL: s.SegmentTrackingBaseURL,
			SpaceID: cr.SpaceID, AccessToken: cr.AccessToken, WriteKey: cr.WriteKey, HTTPClient: s.httpClient(), Limiter: s.sharedLimiter()})
		if err != nil {
			return nil, configError(err)
		}
		return &segmentSide{c: c, profiles: s.Profiles, canRead: cr.SpaceID != "" && cr.AccessToken != "", canSend: cr.WriteKey != ""}, nil
	case PlatformMParticle:
		var cr MParticleCredentials
		if err := json.Unmarshal(conn.Credentials, &cr); err != nil {
			return nil, configError(fmt.Errorf("mparticle credentials: %w", err))
		}
		c, err := mparticle.New(mparticle.Config{EventsBaseURL: s.MParticleEventsBaseURL, ProfileBaseURL: s.MParticleProfileBaseURL,
			TokenURL: s.MParticleTokenURL, APIKey: cr.APIKey, APISecret: cr.APISecret, ClientID: cr.ClientID, ClientSecret: cr.ClientSecret,
			OrgID: cr.OrgID, AccountID: cr.AccountID, WorkspaceID: cr.WorkspaceID, HTTPClient: s.httpClient(), Limiter: s.sharedLimiter()})
		if err != nil {
			return nil, configError(err)
		}
		return &mparticleSide{c: c, profiles: s.Profiles, mpidOf: s.MParticleMPID,
			canRead: cr.ClientID != "" && cr.ClientSecret != "" && cr.WorkspaceID != "", canSend: cr.APIKey != "" && cr.APISecret != ""}, nil
	}
	return nil, configError(fmt.Errorf("unknown CDP %q", conn.Platform))
}

func configError(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeSyncConfig, err)
}

// segmentSide reads through the Profile API and sends identifies. A customer's
// Segment user_id is the linked one, else the customer id itself (the usual
// set-up: the tenant identifies users by its own customer id).
type segmentSide struct {
	c                *segment.Client
	profiles         store.Profiles
	canRead, canSend bool
}

func (g *segmentSide) ids(ctx context.Context, tenant string, customers []string) (map[string]string, error) {
	ids, err := g.profiles.CDPIDs(ctx, tenant, PlatformSegment, customers)
	if err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, cid := range customers {
		if _, ok := ids[cid]; !ok {
			ids[cid] = cid
			links[cid] = cid
		}
	}
	return ids, g.profiles.LinkCDP(ctx, tenant, PlatformSegment, links)
}

func (g *segmentSide) pull(ctx context.Context, ids map[string]string, tick func()) ([]segment.Profile, int, error) {
	if !g.canRead {
		return nil, 0, nil
	}
	var out []segment.Profile
	rejected := 0
	for _, cid := range sortedKeys(ids) {
		p, err := g.c.GetProfile(ctx, ids[cid])
		tick()
		var se *segment.SchemaError
		switch {
		case errors.Is(err, segment.ErrNotFound):
			continue
		case errors.As(err, &se):
			rejected++
			continue
		case err != nil:
			return nil, rejected, fmt.Errorf("segment profile of %s: %w", cid, err)
		}
		p.CustomerID = cid
		out = append(out, p)
	}
	return out, rejected, nil
}

func (g *segmentSide) push(ctx context.Context, profiles []segment.Profile, ids map[string]string) error {
	if !g.canSend {
		return nil
	}
	for i := range profiles {
		uid := ids[profiles[i].UserID]
		profiles[i].UserID, profiles[i].CustomerID = uid, segment.CustomerID(uid)
	}
	if err := g.c.Send(ctx, profiles, nil); err != nil {
		return fmt.Errorf("segment identify: %w", err)
	}
	return nil
}

// mparticleSide reads through the Profile API by mpid and uploads through the
// Events API by customerid (the customer id), which needs no mpid.
type mparticleSide struct {
	c                *mparticle.Client
	profiles         store.Profiles
	mpidOf           func(string) (int64, bool)
	canRead, canSend bool
}

func (m *mparticleSide) ids(ctx context.Context, tenant string, customers []string) (map[string]string, error) {
	ids, err := m.profiles.CDPIDs(ctx, tenant, PlatformMParticle, customers)
	if err != nil {
		return nil, err
	}
	links := map[string]string{}
	for _, cid := range customers {
		if _, ok := ids[cid]; ok || m.mpidOf == nil {
			continue
		}
		if mpid, ok := m.mpidOf(cid); ok {
			ids[cid] = strconv.FormatInt(mpid, 10)
			links[ids[cid]] = cid
		}
	}
	return ids, m.profiles.LinkCDP(ctx, tenant, PlatformMParticle, links)
}

func (m *mparticleSide) pull(ctx context.Context, ids map[string]string, tick func()) ([]segment.Profile, int, error) {
	if !m.canRead {
		return nil, 0, nil
	}
	var out []segment.Profile
	rejected := 0
	for _, cid := range sortedKeys(ids) {
		mpid, err := strconv.ParseInt(ids[cid], 10, 64)
		if err != nil {
			continue // not an mpid: linked by hand or by another tool
		}
		p, err := m.c.GetProfile(ctx, mpid)
		tick()
		var se *segment.SchemaError
		switch {
		case errors.Is(err, mparticle.ErrNotFound):
			continue
		case errors.As(err, &se):
			rejected++
			continue
		case err != nil:
			return nil, rejected, fmt.Errorf("mparticle profile of %s: %w", cid, err)
		}
		p.CustomerID = cid
		out = append(out, p)
	}
	return out, rejected, nil
}

func (m *mparticleSide) push(ctx context.Context, profiles []segment.Profile, _ map[string]string) error {
	if !m.canSend {
		return nil
	}
	for i := range profiles {
		cid := profiles[i].UserID
		profiles[i].UserID, profiles[i].CustomerID = cid, mparticle.CustomerID(cid)
	}
	if err := m.c.Upload(ctx, profiles); err != nil {
		return fmt.Errorf("mparticle upload: %w", err)
	}
	return nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// resolveRampIDs resolves the RampIDs of the stored profiles that have none or one
// resolved for an older profile, a chunk at a time. GDPR- or CCPA-restricted
// profiles are never sent (CCPA forbids sharing with identity partners) and lose a
// RampID resolved before the restriction.
func (s *ProfileSync) resolveRampIDs(ctx context.Context, conn store.Connection, p *profileProgress) error {
	c, err := s.liveramp(conn)
	if err != nil {
		return err
	}
	for {
		profiles, err := s.Profiles.List(ctx, conn.TenantID, p.Last, s.chunkSize())
		if err != nil {
			return err
		}
		if len(profiles) == 0 {
			return nil
		}
		if err := s.resolveChunk(ctx, c, conn.TenantID, profiles, &p.Result); err != nil {
			return err
		}
		p.Last = profiles[len(profiles)-1].CustomerID
		activity.RecordHeartbeat(ctx, *p)
	}
}

func (s *ProfileSync) resolveChunk(ctx context.Context, c *liveramp.Client, tenant string, profiles []store.CustomerProfile, r *ProfileSyncResult) error {
	var send []segment.Profile
	var updates []store.RampID
	for _, sp := range profiles {
		r.Customers++
		switch {
		case sp.GDPR || sp.CCPA:
			r.NotShared++
			if sp.RampID != "" {
				updates = append(updates, store.RampID{CustomerID: sp.CustomerID})
			}
		case sp.RampID != "" && !sp.RampResolvedFor.Before(sp.SourceTimestamp):
			// resolved for this version of the profile already
		case !hasEmail(sp) || liveramp.DefaultSchema.Validate(sp.CustomerID, sp.Traits) != nil:
			r.Rejected++
		default:
			send = append(send, sp.Segment())
			send[len(send)-1].CustomerID = sp.CustomerID
		}
	}
	if len(send) > 0 {
		ids, err := c.Resolve(ctx, send)
		if err != nil {
			return fmt.Errorf("liveramp resolve: %w", err)
		}
		for _, id := range ids {
			if id.RampID != "" {
				updates = append(updates, store.RampID{CustomerID: id.CustomerID, RampID: id.RampID, For: id.SourceTimestamp})
				r.RampIDs++
			}
		}
	}
	return s.Profiles.SetRampIDs(ctx, tenant, updates)
}

func hasEmail(p store.CustomerProfile) bool {
	e, _ := p.Traits["email"].(string)
	return strings.TrimSpace(e) != ""
}

func (s *ProfileSync) liveramp(conn store.Connection) (*liveramp.Client, error) {
	var cr LiveRampCredentials
	if err := json.Unmarshal(conn.Credentials, &cr); err != nil {
		return nil, configError(fmt.Errorf("liveramp credentials: %w", err))
	}
	c, err := liveramp.New(liveramp.Config{BaseURL: s.LiveRampBaseURL, TokenURL: s.LiveRampTokenURL, ClientID: cr.ClientID,
		ClientSecret: cr.ClientSecret, HTTPClient: s.httpClient(), Limiter: s.sharedLimiter()})
	if err != nil {
		return nil, configError(err)
	}
	return c, nil
}

// classify turns a CDP failure into SyncStream's kinds: a refused grant marks the
// connection needs_reauth and is not retried; a throttle is retried after the
// platform's delay.
func (s *ProfileSync) classify(ctx context.Context, conn store.Connection, err error) error {
	return (&Sync{Connections: s.Connections}).classify(ctx, conn, err)
}
