// Package activities holds Touchpoint's Temporal activities: all the I/O that
// workflows orchestrate, as structs holding their dependencies.
package activities

import (
	"context"
	"errors"
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
	// Audit, when set, records every drop of expired partitions (system-wide entry,
	// actor RetentionActor), as the per-tenant retention runs are.
	Audit *store.Audit
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

// DropExpired drops the archive's partitions older than the cutoff and returns their
// names, and audits the drop when an Audit is configured. The names dropped are
// heartbeat before the audit entry is written, so a retry after a failed append
// still records them (the retry's own drop finds nothing left to drop).
func (a *Archive) DropExpired(ctx context.Context, in DropExpiredInput) ([]string, error) {
	var earlier []string
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &earlier)
	}
	dropped, err := a.Store.DropBefore(ctx, in.Cutoff)
	dropped = append(earlier, dropped...)
	if len(dropped) > len(earlier) {
		activity.RecordHeartbeat(ctx, dropped)
		activity.GetLogger(ctx).Info("archive partitions dropped", "partitions", dropped)
	}
	if err != nil {
		err = fmt.Errorf("drop expired archive partitions: %w", err)
	}
	if aerr := a.auditDrop(ctx, in.Cutoff, dropped, err); aerr != nil {
		return dropped, errors.Join(err, aerr)
	}
	return dropped, err
}

// auditDrop appends the system-wide entry of a partition drop. Partitions hold every
// tenant's events, so the entry has no tenant; it names tables, never subjects.
func (a *Archive) auditDrop(ctx context.Context, cutoff time.Time, dropped []string, err error) error {
	if a.Audit == nil {
		return nil
	}
	if dropped == nil {
		dropped = []string{} // JSON [] rather than null
	}
	_, aerr := a.Audit.Append(ctx, store.AuditEntry{
		Actor:  RetentionActor,
		Action: RetentionAction,
		Detail: map[string]any{
			"scope":              "archive",
			"cutoff":             cutoff.UTC().Format(time.RFC3339),
			"partitions_dropped": dropped,
		},
		Outcome: store.OutcomeOf(err),
	})
	return aerr
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
