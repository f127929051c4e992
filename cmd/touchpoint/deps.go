package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/sr"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// Each connect function turns a failure into one line that names the dependency, the
// setting that points at it, and how to start it.

func connectPostgres(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pool, err := store.OpenPostgres(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w\n  Postgres is needed (DATABASE_URL): start it (e.g. `pg_ctlcluster 15 main start`) or point DATABASE_URL at a running server", err)
	}
	return pool, nil
}

func connectRedis(ctx context.Context, cfg config.Config) (*redis.Client, error) {
	rdb, err := store.OpenRedis(ctx, cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("%w\n  Redis is needed (REDIS_URL): start it (e.g. `redis-server --daemonize yes`) or point REDIS_URL at a running server", err)
	}
	return rdb, nil
}

func checkKafka(ctx context.Context, cfg config.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := streaming.Ping(ctx, cfg.KafkaBrokers); err != nil {
		return fmt.Errorf("%w\n  Kafka is needed (KAFKA_BROKERS): run `touchpoint dev` for the embedded broker or point KAFKA_BROKERS at a running cluster", err)
	}
	return nil
}

func connectTemporal(ctx context.Context, cfg config.Config) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  cfg.TemporalAddress,
		Namespace: cfg.TemporalNamespace,
		Logger:    tlog.NewStructuredLogger(slog.Default().With("component", "temporal")),
	})
	if err != nil {
		return nil, fmt.Errorf("temporal at %s: %w\n  Temporal is needed (TEMPORAL_ADDRESS): run `touchpoint dev` or `temporal server start-dev`, or point TEMPORAL_ADDRESS at a cluster", cfg.TemporalAddress, err)
	}
	return c, nil
}

// schemaRegistry is the configured registry, or an in-process one when
// SCHEMA_REGISTRY_URL is empty.
func schemaRegistry(cfg config.Config) (*sr.Client, error) {
	if cfg.SchemaRegistryURL == "" {
		return events.InProcessRegistry()
	}
	return events.RegistryClient(cfg.SchemaRegistryURL)
}

func newCodec(ctx context.Context, cfg config.Config) (*events.Codec, error) {
	reg, err := schemaRegistry(cfg)
	if err != nil {
		return nil, fmt.Errorf("schema registry: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	codec, err := events.NewCodec(ctx, reg)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w\n  set SCHEMA_REGISTRY_URL to a reachable registry, or leave it empty for the in-process one", cfg.SchemaRegistryURL, err)
	}
	return codec, nil
}
