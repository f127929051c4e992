package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

func runConsumer(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("consumer", flag.ContinueOnError)
	rebuild := fs.Bool("rebuild-cache", false, "rebuild the Redis real-time view from Postgres, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := connectAll(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer d.close()
	if *rebuild {
		return rebuildView(ctx, cfg, d)
	}
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return err
	}
	d.registry = api.NewRegistry()
	c, err := newConsumer(cfg, d)
	if err != nil {
		return err
	}
	stop := serveMetrics(cfg.MetricsAddr, d.registry, c.Degraded)
	defer stop()
	slog.Info("consumer running", "topic", cfg.EventsTopic, "group", cfg.ConsumerGroup)
	return c.Run(ctx)
}

func rebuildView(ctx context.Context, cfg config.Config, d deps) error {
	start := time.Now()
	err := store.RebuildView(ctx, store.Aggregates{DB: d.pool}, store.Realtime{RDB: d.rdb}, cfg.ConsumerGroup, cfg.EventsTopic)
	if err != nil {
		return err
	}
	slog.Info("real-time view rebuilt from Postgres", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func newConsumer(cfg config.Config, d deps) (*streaming.Consumer, error) {
	var reg prometheus.Registerer // a nil *Registry must not become a non-nil interface
	if d.registry != nil {
		reg = d.registry
	}
	// The blocked set holds keyed hashes of subjects, under a key derived from the
	// secrets key: the same as the API's and the worker's, so their hashes match.
	key, err := secretsKey(cfg)
	if err != nil {
		return nil, err
	}
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers:         cfg.KafkaBrokers,
		Topic:           cfg.EventsTopic,
		DLQTopic:        cfg.DLQTopic,
		Group:           cfg.ConsumerGroup,
		SessionTimeout:  cfg.SessionTimeout,
		InstanceID:      cfg.InstanceID,
		Rules:           events.Rules{Retention: cfg.Retention, MaxClockSkew: cfg.MaxClockSkew},
		DedupWindow:     cfg.DedupWindow,
		WindowRetention: cfg.WindowRetention,
	}, d.codec, streaming.ConsumerStores{
		Batches:    store.Batches{DB: d.pool, Group: cfg.ConsumerGroup},
		Archive:    store.Archive{DB: d.pool},
		Aggregates: store.Aggregates{DB: d.pool},
		Privacy:    store.Privacy{DB: d.pool, Redis: d.rdb, Hasher: store.NewSubjectHasher(key)},
		Realtime:   &store.Realtime{RDB: d.rdb},
		// Opens the events the API sealed (crypto-shredding); same secrets key as the API.
		SubjectKeys: store.SubjectKeys{DB: d.pool, SecretsKey: key},
	}, reg)
	if err != nil {
		return nil, err
	}
	// A deletion suppresses its subject, then destroys the subject's keys: cached keys
	// are dropped whenever the blocked set changes, so none outlives its deletion.
	c.OnPrivacyChange(c.ForgetSubjectKeys)
	return c, nil
}

// serveConsumer consumes until ctx ends.
func serveConsumer(ctx context.Context, cfg config.Config, d deps) error {
	c, err := newConsumer(cfg, d)
	if err != nil {
		return err
	}
	slog.Info("consumer running", "topic", cfg.EventsTopic, "group", cfg.ConsumerGroup)
	return c.Run(ctx)
}

// serveMetrics serves /metrics and /healthz for processes without the API; healthz
// says "degraded" while Redis is down and only Postgres is updated.
func serveMetrics(addr string, reg *prometheus.Registry, degraded func() bool) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if degraded() {
			_, _ = w.Write([]byte(`{"status":"degraded","redis":"down"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	return func() { _ = hs.Close() }
}
