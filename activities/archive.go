// Package activities holds Touchpoint's Temporal activities: all the I/O that
// workflows orchestrate, as structs holding their dependencies.
package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/store"
)

// Archive manages the raw event archive's day partitions and the retention of the
// finest aggregates.
type Archive struct {
	Store      store.Archive
	Aggregates store.Aggregates
}

// EnsurePartitionsInput says which day partitions must exist.
type EnsurePartitionsInput struct {
	From time.Time
	Days int
}

// EnsurePartitions creates the archive partitions for the coming days, so the
// consumer never waits on DDL at midnight.
func (a *Archive) EnsurePartitions(ctx context.Context, in EnsurePartitionsInput) error {
	if err := a.Store.EnsurePartitions(ctx, in.From, in.Days); err != nil {
		return fmt.Errorf("ensure archive partitions: %w", err)
	}
	return nil
}

// DropExpiredInput says how old a day must be to go.
type DropExpiredInput struct {
	Cutoff time.Time
}

// DropExpired drops the archive's partitions older than the cutoff and returns their names.
func (a *Archive) DropExpired(ctx context.Context, in DropExpiredInput) ([]string, error) {
	dropped, err := a.Store.DropBefore(ctx, in.Cutoff)
	if err != nil {
		return dropped, fmt.Errorf("drop expired archive partitions: %w", err)
	}
	if len(dropped) > 0 {
		activity.GetLogger(ctx).Info("archive partitions dropped", "partitions", dropped)
	}
	return dropped, nil
}

// PruneWindowsInput says which 5-second windows are old enough to go.
type PruneWindowsInput struct {
	Before time.Time
}

// PruneWindows deletes 5-second aggregate windows before the cutoff; hourly, daily
// and weekly rollups keep the same figures.
func (a *Archive) PruneWindows(ctx context.Context, in PruneWindowsInput) (int64, error) {
	n, err := a.Aggregates.PruneLevel(ctx, aggregate.Window, in.Before)
	if err != nil {
		return n, fmt.Errorf("prune 5-second windows: %w", err)
	}
	return n, nil
}
