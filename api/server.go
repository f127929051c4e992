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
	CreateKey(ctx context.Context, tenantID, name string) (store.APIKey, string, error)
	RevokeKey(ctx context.Context, tenantID, keyID string) error
	Authenticate(ctx context.Context, secret string) (string, error)
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
	auth        *authCache
	limits      *tenantLimiter
	metrics     *metrics
	registry    *prometheus.Registry
	mux         *http.ServeMux
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
		auth:        newAuthCache(d.Tenants, 30*time.Second),
		limits:      newTenantLimiter(opts.TenantRate, opts.TenantBurst),
		metrics:     newMetrics(reg),
		registry:    reg,
		mux:         http.NewServeMux(),
	}
	s.routes()
	return s
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

func (s *Server) routes() {
	s.handle("POST /v1/events", s.requireTenant(s.handleIngest))
	s.handle("GET /v1/admin/tenants", s.requireAdmin(s.handleListTenants))
	s.handle("POST /v1/admin/tenants", s.requireAdmin(s.handleCreateTenant))
	s.handle("POST /v1/admin/tenants/{tenant}/keys", s.requireAdmin(s.handleCreateKey))
	s.handle("DELETE /v1/admin/tenants/{tenant}/keys/{key}", s.requireAdmin(s.handleRevokeKey))
	s.metricRoutes()
	s.attributionRoutes()
	s.modelRoutes()
	s.syncRoutes()
	s.handle("GET /healthz", s.handleHealth)
	s.handle("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Error: "no route for " + r.Method + " " + r.URL.Path, Kind: "not_found"})
	})
}

// handle registers a handler wrapped with panic recovery and request metrics.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
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
