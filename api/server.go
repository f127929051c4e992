// Package api is Touchpoint's HTTP interface: event ingest, tenant administration,
// health, readiness and Prometheus metrics.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// Publisher writes accepted events to Kafka and returns once they are acknowledged.
type Publisher interface {
	Publish(ctx context.Context, evs []events.Event) error
}

// Tenants is the tenant and API-key store.
type Tenants interface {
	Create(ctx context.Context, id, name string) (store.Tenant, error)
	List(ctx context.Context) ([]store.Tenant, error)
	// CreateKey makes a key with the scopes (nil: store.DefaultScopes).
	CreateKey(ctx context.Context, tenantID, name string, scopes []string) (store.APIKey, string, error)
	// ListKeys returns the tenant's keys, without secrets or hashes.
	ListKeys(ctx context.Context, tenantID string) ([]store.APIKey, error)
	// RevokeKey revokes the tenant's key and returns it; another tenant's key is
	// ENotFound.
	RevokeKey(ctx context.Context, tenantID, keyID string) (store.APIKey, error)
	// Authenticate returns the key a secret belongs to; an unknown or revoked one
	// is EUnauthorized.
	Authenticate(ctx context.Context, secret string) (store.KeyInfo, error)
}

// Check is one dependency readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options are the limits and rules the API enforces.
type Options struct {
	Rules          events.Rules
	MaxBodyBytes   int64
	MaxBatchEvents int
	TenantRate     float64 // events per second per tenant
	TenantBurst    int
	AdminKey       string // empty disables the admin endpoints
	// Registry is where /metrics reads from; other components of the same process
	// register on it too. Nil means a new one.
	Registry *prometheus.Registry
	Now      func() time.Time
}

// Server is the HTTP API. Build it with New.
type Server struct {
	opts       Options
	tenants    Tenants
	publisher  Publisher
	codec      *events.Codec
	checks     []Check
	aggregates store.Aggregates
	realtime   *store.Realtime
	// workflows and attribution serve /v1/attribution; nil or zero answer 503.
	workflows   Workflows
	attribution store.Attribution
	syncs       Syncs
	connections store.Connections
	deletions   DeletionDeps
	consent     ConsentDeps
	campaigns   CampaignDeps
	audit       store.Audit
	auth        *authCache
	limits      *tenantLimiter
	metrics     *metrics
	registry    *prometheus.Registry
	mux         *http.ServeMux
	patterns    []string          // every registered route, for Routes
	access      map[string]string // route pattern -> access, from routeTable
}

// Deps are the API's collaborators. Aggregates and Realtime may be zero/nil on an
// instance that only ingests; their endpoints then answer 503.
type Deps struct {
	Tenants    Tenants
	Publisher  Publisher
	Codec      *events.Codec
	Checks     []Check
	Aggregates store.Aggregates
	Realtime   *store.Realtime
	// Workflows starts and queries attribution recomputes; Attribution serves the
	// credits they write. Either may be nil/zero: their endpoints then answer 503.
	Workflows   Workflows
	Attribution store.Attribution
	// Syncs and Connections serve /v1/connections; nil/zero: 503.
	Syncs       Syncs
	Connections store.Connections
	// Deletions serve /v1/deletions; zero: 503.
	Deletions DeletionDeps
	// Consent serves /v1/consent; zero: 503.
	Consent ConsentDeps
	// Campaigns serve /v1/campaigns; zero: 503.
	Campaigns CampaignDeps
	// Audit records key management and connection changes and serves /v1/audit.
	// Zero: Consent's or Deletions' audit log if set; otherwise those changes go
	// unaudited (tests of other endpoints) and /v1/audit answers 503.
	Audit store.Audit
}

// New wires the API's routes.
func New(opts Options, d Deps) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	reg := opts.Registry
	if reg == nil {
		reg = NewRegistry()
	}
	s := &Server{
		opts:        opts,
		tenants:     d.Tenants,
		publisher:   d.Publisher,
		codec:       d.Codec,
		checks:      d.Checks,
		aggregates:  d.Aggregates,
		realtime:    d.Realtime,
		workflows:   d.Workflows,
		attribution: d.Attribution,
		syncs:       d.Syncs,
		connections: d.Connections,
		deletions:   d.Deletions,
		consent:     d.Consent,
		campaigns:   d.Campaigns,
		audit:       auditOf(d),
		auth:        newAuthCache(d.Tenants, 30*time.Second),
		limits:      newTenantLimiter(opts.TenantRate, opts.TenantBurst),
		metrics:     newMetrics(reg),
		registry:    reg,
		mux:         http.NewServeMux(),
		access:      map[string]string{},
	}
	s.routes()
	return s
}

// auditOf is the audit log Deps configure, directly or through the privacy deps.
func auditOf(d Deps) store.Audit {
	for _, a := range []store.Audit{d.Audit, d.Consent.Audit, d.Deletions.Audit} {
		if a.DB != nil {
			return a
		}
	}
	return store.Audit{}
}

// NewRegistry returns a Prometheus registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Registry is the Prometheus registry /metrics serves; other components of the same
// process register their collectors on it.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Who may call a route, besides the tenant key scopes (store.ScopeIngest, ScopeRead,
// ScopeAdmin).
const (
	accessAdminKey = "admin-key" // the global admin key, TOUCHPOINT_ADMIN_KEY
	accessPublic   = "public"    // no key: liveness, readiness, Prometheus metrics
)

// route is one endpoint and who may call it.
type route struct {
	pattern string
	access  string // a key scope, accessAdminKey or accessPublic
	h       http.HandlerFunc
}

// routeTable is every route of the API with its access, in one place so each one's
// access can be reviewed side by side (and README's API table checked against it).
// Handlers never take the tenant from the path or the body, only from the key (see
// tenantOf); api/isolation_test.go calls every route listed here with another
// tenant's key and fails when a route is missing from its own table.
func (s *Server) routeTable() []route {
	const ingest, read, admin = store.ScopeIngest, store.ScopeRead, store.ScopeAdmin
	return []route{
		{"POST /v1/events", ingest, s.handleIngest},

		{"GET /v1/admin/tenants", accessAdminKey, s.handleListTenants},
		{"POST /v1/admin/tenants", accessAdminKey, s.handleCreateTenant},
		{"POST /v1/admin/tenants/{tenant}/keys", accessAdminKey, s.handleCreateKey},
		{"DELETE /v1/admin/tenants/{tenant}/keys/{key}", accessAdminKey, s.handleRevokeKey},
		{"PUT /v1/admin/tenants/{tenant}/retention", accessAdminKey, s.handleSetRetention},

		// A tenant's own keys and audit trail (keys.go).
		{"POST /v1/keys", admin, s.handleCreateOwnKey},
		{"GET /v1/keys", admin, s.handleListOwnKeys},
		{"DELETE /v1/keys/{key}", admin, s.handleRevokeOwnKey},
		{"GET /v1/audit", admin, s.needAudit(s.handleListAudit)},

		// Metrics (queries.go, realtime.go, platformmetrics.go). campaignsHandler adds
		// include=synced to the streamed report.
		{"GET /v1/metrics/campaigns", read, s.campaignsHandler()},
		{"GET /v1/metrics/channels", read, rangeHandler(s, s.aggregates.Channels, asIs[store.ChannelRow])},
		{"GET /v1/metrics/variants", read, rangeHandler(s, s.aggregates.Variants, variantViews)},
		{"GET /v1/metrics/event-types", read, rangeHandler(s, s.aggregates.EventTypes, asIs[store.EventTypeRow])},
		{"GET /v1/metrics/realtime", read, s.handleRealtime},
		{"GET /v1/metrics/platform-campaigns", read, s.handlePlatformCampaigns},
		{"GET /v1/personalization/variants", read, s.handlePersonalizationVariants},

		// Attribution (attribution.go, models.go). Starting a recompute or a training
		// is admin: it replaces stored credits or adds model versions, and costs
		// worker time.
		{"POST /v1/attribution/recompute", admin, s.needWorkflows(s.handleRecompute)},
		{"GET /v1/attribution/recompute", read, s.needWorkflows(s.handleRecomputeProgress)},
		{"GET /v1/attribution/recompute/{from}/{to}", read, s.needWorkflows(s.handleRecomputeProgress)},
		{"GET /v1/attribution/report", read, s.needCredits(s.handleAttributionReport)},
		{"GET /v1/attribution/compare", read, s.needCredits(s.handleAttributionCompare)},
		{"POST /v1/attribution/models/train", admin, s.handleTrain},
		{"GET /v1/attribution/models", read, s.needCredits(s.handleListModels)},

		// Platform connections, syncs and their schedules (syncs.go, schedules.go).
		{"POST /v1/connections", admin, s.needSyncs(s.handleCreateConnection)},
		{"GET /v1/connections", read, s.needSyncs(s.handleListConnections)},
		{"DELETE /v1/connections/{id}", admin, s.needSyncs(s.handleDeleteConnection)},
		{"POST /v1/connections/{id}/sync", admin, s.needSyncs(s.handleStartSync)},
		{"POST /v1/connections/{id}/backfill", admin, s.needSyncs(s.handleStartBackfill)},
		{"GET /v1/connections/{id}/backfill", read, s.needSyncs(s.handleBackfillProgress)},
		{"GET /v1/schedules", read, s.needSchedules(s.handleListSchedules)},
		{"POST /v1/schedules/{id}/pause", admin, s.needSchedules(s.handlePauseSchedule(true))},
		{"POST /v1/schedules/{id}/resume", admin, s.needSchedules(s.handlePauseSchedule(false))},
		{"POST /v1/schedules/{id}/trigger", admin, s.needSchedules(s.handleTriggerSchedule)},

		// Customer profiles and segments (profiles.go). Saving a segment, training and
		// refreshing are admin: they change memberships and emit events.
		{"GET /v1/profiles/{customer_id}", read, s.needProfiles(s.handleGetProfile)},
		{"POST /v1/profiles/refresh", admin, s.handleProfileRefresh},
		{"POST /v1/profiles/train", admin, s.handleProfileTrain},
		{"POST /v1/segments", admin, s.needProfiles(s.handleSaveSegment)},
		{"GET /v1/segments", read, s.needProfiles(s.handleListSegments)},
		{"GET /v1/segments/{id}/members", read, s.needProfiles(s.handleListMembers)},
		{"DELETE /v1/segments/{id}", admin, s.needProfiles(s.handleDeleteSegment)},

		// Campaign lifecycles (campaigns.go). Launching and signalling are admin: they
		// start, steer and stop spending.
		{"POST /v1/campaigns", admin, s.needCampaigns(s.handleLaunchCampaign)},
		{"GET /v1/campaigns", read, s.needCampaigns(s.handleListCampaigns)},
		{"GET /v1/campaigns/{id}", read, s.needCampaigns(s.handleGetCampaign)},
		{"POST /v1/campaigns/{id}/signal", admin, s.needCampaigns(s.handleSignalCampaign)},

		// Privacy (deletions.go, consent.go).
		{"POST /v1/deletions", admin, s.handleCreateDeletion},
		{"GET /v1/deletions", read, s.handleListDeletions},
		{"GET /v1/deletions/{id}", read, s.handleGetDeletion},
		{"PUT /v1/consent/{subject}", admin, s.handleSetConsent},
		{"GET /v1/consent/{subject}", read, s.handleGetConsent},
		{"GET /v1/consent", read, s.handleListConsent},

		{"GET /healthz", accessPublic, s.handleHealth},
		{"GET /readyz", accessPublic, s.handleReady},
		{"GET /metrics", accessPublic, promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP},
	}
}

func (s *Server) routes() {
	for _, rt := range s.routeTable() {
		s.access[rt.pattern] = rt.access
		s.handle(rt.pattern, s.guard(rt))
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no route for " + r.Method + " " + r.URL.Path, Kind: "not_found"})
	})
}

// guard wraps a route's handler with the check its access asks for. An unknown
// access is a programming error, caught by every test that builds a Server.
func (s *Server) guard(rt route) http.HandlerFunc {
	switch rt.access {
	case accessPublic:
		return rt.h
	case accessAdminKey:
		return s.requireAdmin(rt.h)
	case store.ScopeIngest, store.ScopeRead, store.ScopeAdmin:
		return s.requireScope(rt.access, rt.h)
	}
	panic("api: route " + rt.pattern + " has unknown access " + rt.access)
}

// RouteInfo is a registered route and who may call it.
type RouteInfo struct {
	Pattern string
	// Access is a key scope (ingest, read, admin), "admin-key" or "public"; empty
	// for a route registered outside routeTable, which has no known access.
	Access string
}

// Routes lists every route registered on the server, in registration order, so
// tests can check that each one is covered.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.patterns))
	for i, p := range s.patterns {
		out[i] = RouteInfo{Pattern: p, Access: s.access[p]}
	}
	return out
}

// handle registers a handler wrapped with panic recovery and request metrics, and
// records its pattern for Routes.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, s.instrument(pattern, h))
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// instrument counts requests by route and status and turns a panic into a 500, so no
// panic ever reaches a client as a dropped connection.
func (s *Server) instrument(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				slog.Error("api: panic", "route", route, "panic", p)
				writeJSON(sw, http.StatusInternalServerError, errorBody{Error: "internal error", Kind: "internal"})
			}
			s.metrics.observe(route, sw.status, time.Since(start))
		}()
		h(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}
