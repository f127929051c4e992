package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/migrations"
	"github.com/touchpoint/touchpoint/store"
)

func runMigrate(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	create := fs.Bool("create-db", false, "create the database if it does not exist")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *create {
		if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	return migrate(ctx, cfg)
}

func migrate(ctx context.Context, cfg config.Config) error {
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	applied, err := migrations.Up(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slog.Info("migrations applied", "versions", applied)
	return nil
}
