package main

import (
	"context"
	"errors"
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

func runConsumer(ctx context.Context, cfg config.Config, _ []string) error {
	d, err := connectAll(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer d.close()
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return err
	}
	d.registry = api.NewRegistry()
	stop := serveMetrics(cfg.MetricsAddr, d.registry)
	defer stop()
	return serveConsumer(ctx, cfg, d)
}

// serveConsumer consumes until ctx ends.
func serveConsumer(ctx context.Context, cfg config.Config, d deps) error {
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers:  cfg.KafkaBrokers,
		Topic:    cfg.EventsTopic,
		DLQTopic: cfg.DLQTopic,
		Group:    cfg.ConsumerGroup,
		Rules:    events.Rules{Retention: cfg.Retention, MaxClockSkew: cfg.MaxClockSkew},
	}, d.codec, store.Batches{DB: d.pool, Group: cfg.ConsumerGroup}, store.Archive{DB: d.pool}, d.registry)
	if err != nil {
		return err
	}
	slog.Info("consumer running", "topic", cfg.EventsTopic, "group", cfg.ConsumerGroup)
	return c.Run(ctx)
}

// serveMetrics serves /metrics and /healthz for processes without the API.
func serveMetrics(addr string, reg *prometheus.Registry) func() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Warn("metrics server stopped", "addr", addr, "err", err)
		}
	}()
	return func() { _ = hs.Close() }
}
