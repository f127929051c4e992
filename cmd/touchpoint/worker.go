package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/worker"
)

func runWorker(ctx context.Context, cfg config.Config, _ []string) error {
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	tc, err := connectTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer tc.Close()
	return serveWorker(ctx, cfg, deps{pool: pool, temporal: tc})
}

// serveWorker runs the Temporal worker until ctx ends, after making sure the
// recurring schedules exist.
func serveWorker(ctx context.Context, cfg config.Config, d deps) error {
	w := worker.New(d.temporal, worker.Deps{
		Archive:     &activities.Archive{Store: store.Archive{DB: d.pool}, Aggregates: store.Aggregates{DB: d.pool}},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: d.pool}, Credits: store.Attribution{DB: d.pool}},
	})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	defer w.Stop()
	if err := worker.EnsureSchedules(ctx, d.temporal, cfg.Retention, cfg.WindowRetention); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	slog.Info("worker running", "task_queue", "touchpoint")
	<-ctx.Done()
	return nil
}
