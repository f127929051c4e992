package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// deps are the connections a subcommand shares; the dev stack opens them once.
type deps struct {
	pool     *pgxpool.Pool
	rdb      *redis.Client
	temporal client.Client
	codec    *events.Codec
	registry *prometheus.Registry // shared by the components of one process
	// fakes are the local platform fakes syncs call instead of the real APIs
	// (`touchpoint dev -fake-platforms`); zero: the platforms' own URLs.
	fakes fakePlatforms
}

func (d deps) close() {
	if d.temporal != nil {
		d.temporal.Close()
	}
	if d.rdb != nil {
		d.rdb.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
}

// connectAll opens every dependency a service needs, failing on the first one that is
// missing with a line that says how to start it.
func connectAll(ctx context.Context, cfg config.Config, withTemporal bool) (d deps, err error) {
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.pool, err = connectPostgres(ctx, cfg); err != nil {
		return d, err
	}
	if d.rdb, err = connectRedis(ctx, cfg); err != nil {
		return d, err
	}
	if err = checkKafka(ctx, cfg); err != nil {
		return d, err
	}
	if d.codec, err = newCodec(ctx, cfg); err != nil {
		return d, err
	}
	if withTemporal {
		if d.temporal, err = connectTemporal(ctx, cfg); err != nil {
			return d, err
		}
	}
	return d, nil
}

func topics(cfg config.Config) streaming.Topics {
	return streaming.Topics{Events: cfg.EventsTopic, DLQ: cfg.DLQTopic, Partitions: cfg.TopicPartitions, Retention: cfg.Retention}
}

func runAPI(ctx context.Context, cfg config.Config, _ []string) error {
	d, err := connectAll(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer d.close()
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return err
	}
	return serveAPI(ctx, cfg, d, nil)
}

// serveAPI serves until ctx ends, then drains in-flight requests. ready, if set, is
// called with the bound address once the listener is open.
func serveAPI(ctx context.Context, cfg config.Config, d deps, ready func(addr string)) error {
	producer, err := streaming.NewProducer(cfg.KafkaBrokers, cfg.EventsTopic, d.codec, streaming.ProducerOptions{Linger: time.Millisecond})
	if err != nil {
		return err
	}
	defer producer.Close()
	// Without a secrets key /v1/connections answers 503 rather than the API failing,
	// and events are produced unsealed.
	conns := store.Connections{}
	var publisher api.Publisher = producer
	var privacy privacyStores
	if key, err := secretsKey(cfg); err != nil {
		slog.Warn("api: connections, consent and deletions are not served and events are not sealed", "err", err)
	} else {
		conns = store.Connections{DB: d.pool, Key: key}
		// Personal fields reach Kafka only sealed under per-subject keys (crypto-shredding).
		publisher = api.SealingPublisher{Next: producer, Sealer: api.NewSealer(store.SubjectKeys{DB: d.pool, SecretsKey: key})}
		privacy = newPrivacyStores(d, key)
	}
	srv := api.New(api.Options{
		Rules:          events.Rules{Retention: cfg.Retention, MaxClockSkew: cfg.MaxClockSkew},
		MaxBodyBytes:   cfg.MaxBodyBytes,
		MaxBatchEvents: cfg.MaxBatchEvents,
		TenantRate:     cfg.TenantRate,
		TenantBurst:    cfg.TenantBurst,
		AdminKey:       cfg.AdminKey,
		Registry:       d.registry,
	}, api.Deps{
		Tenants:     store.Tenants{DB: d.pool},
		Publisher:   publisher,
		Codec:       d.codec,
		Checks:      readinessChecks(cfg, d),
		Aggregates:  store.Aggregates{DB: d.pool},
		Realtime:    &store.Realtime{RDB: d.rdb},
		Workflows:   workflowsOf(d),
		Attribution: store.Attribution{DB: d.pool},
		Syncs:       syncsOf(d),
		Connections: conns,
		Consent:     api.ConsentDeps{Privacy: privacy.privacy, Audit: privacy.audit},
		Deletions:   deletionsOf(d, privacy),
		Campaigns:   campaignsOf(d),
		// Key management and connection changes are audited even without a secrets
		// key: their entries name no subject, so they need no subject hasher.
		Audit: store.Audit{DB: d.pool, Hasher: privacy.audit.Hasher},
	})

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("api: listen on %s (TOUCHPOINT_HTTP_ADDR): %w", cfg.HTTPAddr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	slog.Info("api listening", "addr", ln.Addr().String())
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

// workflowsOf is the API's way to Temporal; nil (its endpoints answer 503) when the
// process has no Temporal client.
func workflowsOf(d deps) api.Workflows {
	if d.temporal == nil {
		return nil
	}
	return api.TemporalWorkflows{Client: d.temporal}
}

// syncsOf is the API's way to start and schedule platform syncs; nil (503) without
// a Temporal client.
func syncsOf(d deps) api.Syncs {
	if d.temporal == nil {
		return nil
	}
	return api.TemporalSyncs{Client: d.temporal}
}

func readinessChecks(cfg config.Config, d deps) []api.Check {
	checks := []api.Check{
		{Name: "postgres", Fn: func(ctx context.Context) error { return d.pool.Ping(ctx) }},
		{Name: "redis", Fn: func(ctx context.Context) error { return d.rdb.Ping(ctx).Err() }},
		{Name: "kafka", Fn: func(ctx context.Context) error { return streaming.Ping(ctx, cfg.KafkaBrokers) }},
	}
	if d.temporal != nil {
		checks = append(checks, api.Check{Name: "temporal", Fn: func(ctx context.Context) error {
			_, err := d.temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}})
	}
	return checks
}

// privacyStores are the stores of consent, suppression, deletions and the audit
// trail, all keyed from the secrets key.
type privacyStores struct {
	privacy   store.Privacy
	audit     store.Audit
	deletions store.Deletions
	keys      store.SubjectKeys
}

func newPrivacyStores(d deps, key []byte) privacyStores {
	h := store.NewSubjectHasher(key)
	return privacyStores{
		privacy:   store.Privacy{DB: d.pool, Redis: d.rdb, Hasher: h},
		audit:     store.Audit{DB: d.pool, Hasher: h},
		deletions: store.Deletions{DB: d.pool, SecretsKey: key, Hasher: h},
		keys:      store.SubjectKeys{DB: d.pool, SecretsKey: key},
	}
}

// campaignsOf serves /v1/campaigns; zero (503) without a Temporal client.
func campaignsOf(d deps) api.CampaignDeps {
	if d.temporal == nil {
		return api.CampaignDeps{}
	}
	return api.CampaignDeps{Store: store.Campaigns{DB: d.pool}, Workflows: api.TemporalCampaigns{Client: d.temporal}}
}

// deletionsOf serves /v1/deletions; zero (503) without a Temporal client or key.
func deletionsOf(d deps, p privacyStores) api.DeletionDeps {
	if d.temporal == nil || p.deletions.DB == nil {
		return api.DeletionDeps{}
	}
	return api.DeletionDeps{Requests: p.deletions, Privacy: p.privacy, Audit: p.audit, Workflows: api.TemporalDeletions{Client: d.temporal}}
}
