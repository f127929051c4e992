package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/touchpoint/touchpoint/store"
)

// RetentionActor and RetentionAction name the retention run in the audit log.
const (
	RetentionActor  = "system:retention"
	RetentionAction = "retention.run"
)

// Retention applies every tenant's retention policy to the personal data derived
// from events (store.Retention) and audits what each run removed.
type Retention struct {
	Store store.Retention
	Audit store.Audit
}

// ApplyRetentionInput fixes the run's clock, so a retried attempt computes the same
// cutoffs (the workflow passes workflow.Now).
type ApplyRetentionInput struct {
	Now time.Time
}

// TenantRetention is what one tenant's run removed. Error is set when the run or its
// audit entry failed; counts are then what earlier attempts removed.
type TenantRetention struct {
	TenantID string                `json:"tenant_id"`
	Days     int                   `json:"days"`
	Cutoff   time.Time             `json:"cutoff"`
	Counts   store.RetentionCounts `json:"counts"`
	Error    string                `json:"error,omitempty"`
}

// RetentionReport is every tenant's result, in the order they ran.
type RetentionReport struct {
	Tenants []TenantRetention `json:"tenants"`
}

// ApplyRetention runs every tenant's policy, one tenant after the other, and appends
// one audit entry per tenant. It heartbeats the report after each tenant; a retried
// attempt resumes from it, skipping the tenants already done. A failing tenant does
// not stop the others: it is recorded and audited with its error and, once every
// tenant was run, the activity fails so that Temporal retries it, and the retry runs
// only the failed tenants. Apply is idempotent for a cutoff, so re-running is safe.
func (r *Retention) ApplyRetention(ctx context.Context, in ApplyRetentionInput) (RetentionReport, error) {
	policies, err := r.Store.Policies(ctx)
	if err != nil {
		return RetentionReport{}, err
	}
	var rep RetentionReport
	earlier := map[string]TenantRetention{}
	for _, t := range loadRetentionProgress(ctx).Tenants {
		earlier[t.TenantID] = t
		if t.Error == "" {
			rep.Tenants = append(rep.Tenants, t)
		}
	}
	for _, pol := range policies {
		prev, seen := earlier[pol.TenantID]
		if seen && prev.Error == "" {
			continue
		}
		rep.Tenants = append(rep.Tenants, r.applyTenant(ctx, in.Now, pol, prev.Counts, rep))
		activity.RecordHeartbeat(ctx, rep)
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("retention run: %w", err)
		}
	}
	return rep, rep.err()
}

// loadRetentionProgress is the report an earlier attempt heartbeat, if any.
func loadRetentionProgress(ctx context.Context) RetentionReport {
	var rep RetentionReport
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &rep); err != nil {
			// Unreadable progress: start over, every tenant's run is idempotent.
			return RetentionReport{}
		}
	}
	return rep
}

// applyTenant runs one tenant's policy and audits it. prev are the counts an
// earlier, failed attempt committed (a run whose audit entry failed), so the entry
// that finally gets written has the whole of what went.
func (r *Retention) applyTenant(ctx context.Context, now time.Time, pol store.TenantPolicy, prev store.RetentionCounts, progress RetentionReport) TenantRetention {
	cutoff := now.Add(-time.Duration(pol.Days) * 24 * time.Hour)
	res := TenantRetention{TenantID: pol.TenantID, Days: pol.Days, Cutoff: cutoff}
	// One large tenant's transaction may outlast the heartbeat timeout.
	counts, err := whileHeartbeating(ctx, 10*time.Second, progress, func() (store.RetentionCounts, error) {
		return r.Store.Apply(ctx, pol.TenantID, cutoff)
	})
	res.Counts = prev.Add(counts)
	if _, aerr := r.Audit.Append(ctx, store.AuditEntry{
		TenantID: pol.TenantID,
		Actor:    RetentionActor,
		Action:   RetentionAction,
		Detail:   retentionDetail(res),
		Outcome:  store.OutcomeOf(err),
	}); aerr != nil {
		err = errors.Join(err, aerr)
	}
	if err != nil {
		res.Error = err.Error()
		activity.GetLogger(ctx).Error("retention run failed", "tenant", pol.TenantID, "error", err)
	}
	return res
}

// retentionDetail is an audit entry's detail: the policy, the cutoff and how many
// rows of each table went. Counts only: the log never names what was removed.
func retentionDetail(t TenantRetention) map[string]any {
	return map[string]any{
		"retention_days": t.Days,
		"cutoff":         t.Cutoff.UTC().Format(time.RFC3339),
		"removed":        t.Counts,
	}
}

// err is nil when every tenant ran, else names the ones that failed.
func (rep RetentionReport) err() error {
	var failed []string
	for _, t := range rep.Tenants {
		if t.Error != "" {
			failed = append(failed, t.TenantID+": "+t.Error)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("retention failed for %d tenants: %s", len(failed), strings.Join(failed, "; "))
}

// whileHeartbeating runs fn, heartbeating progress every interval until it returns,
// and stops heartbeating before it returns. The progress is sent again, not
// nothing, because a heartbeat replaces the details.
func whileHeartbeating[T any](ctx context.Context, every time.Duration, progress any, fn func() (T, error)) (T, error) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
				activity.RecordHeartbeat(ctx, progress)
			}
		}
	}()
	defer func() { close(done); <-stopped }()
	return fn()
}
