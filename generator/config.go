package generator

import "time"

// Config fixes everything a Generator produces: two generators with equal Configs (and no
// Clock) emit identical sequences, which is what lets tests and benchmarks know the exact
// totals a pipeline fed by them must reproduce.
type Config struct {
	// Seed seeds the random source; it is also part of every event id, so runs with
	// different seeds never collide in a deduplicating pipeline.
	Seed uint64
	// Tenants is the number of tenants, named "tenant-01", "tenant-02", ... (default 3).
	Tenants int
	// TenantPrefix is put before every tenant id, so runs that share Postgres or Redis
	// (tests, repeated benchmarks) keep their figures apart.
	TenantPrefix string
	// CampaignsPerTenant is the number of concurrently running campaigns per tenant,
	// spread round-robin over all channels (default 12).
	CampaignsPerTenant int
	// CustomersPerTenant is the number of customers per tenant (default 500).
	CustomersPerTenant int
	// Start is the synthetic event time of the first event (default 2026-01-01T00:00:00Z).
	Start time.Time
	// Step is how far synthetic event time advances per event (default 1ms).
	Step time.Duration
	// Clock, if non-nil, stamps events with its time instead of Start+n*Step, for live
	// streaming. It never influences anything but timestamps.
	Clock func() time.Time
}

// Defaults applied by New to zero fields.
const (
	DefaultTenants            = 3
	DefaultCampaignsPerTenant = 12
	DefaultCustomersPerTenant = 500
	DefaultStep               = time.Millisecond
)

// DefaultStart is the synthetic time of the first event when Config.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// withDefaults returns cfg with zero (or nonsensical negative) fields replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.Tenants <= 0 {
		cfg.Tenants = DefaultTenants
	}
	if cfg.CampaignsPerTenant <= 0 {
		cfg.CampaignsPerTenant = DefaultCampaignsPerTenant
	}
	if cfg.CustomersPerTenant <= 0 {
		cfg.CustomersPerTenant = DefaultCustomersPerTenant
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Step <= 0 {
		cfg.Step = DefaultStep
	}
	return cfg
}
