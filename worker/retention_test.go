package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestMaintenanceRunsRetention runs Maintenance on the real worker, Temporal and
// Postgres: an old archive day is dropped and audited, each tenant's policy removes
// its expired identity links, the result carries the per-tenant report, and the audit
// chain holds one retention entry per tenant plus the drop's, intact.
func TestMaintenanceRunsRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := storetest.Postgres(t)
	c := temporaltest.Client(t)
	now := time.Now().UTC()
	for _, tenant := range []string{"acme", "zeta"} {
		if _, err := (store.Tenants{DB: pool}).Create(ctx, tenant, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO identity_links (tenant_id, id_a, id_b, method, confidence, first_seen, last_seen)
			VALUES ($1, 'device:d', 'user:u', 'deterministic', 1, $2, $2)`, tenant, now.AddDate(0, 0, -30)); err != nil {
			t.Fatal(err)
		}
	}
	if err := (store.Retention{DB: pool}).SetPolicy(ctx, "acme", 7); err != nil {
		t.Fatal(err)
	}
	archive := store.Archive{DB: pool}
	if err := archive.EnsurePartitions(ctx, now.AddDate(0, 0, -100), 0); err != nil {
		t.Fatal(err)
	}
	audit := store.Audit{DB: pool, Hasher: store.NewSubjectHasher([]byte("worker-test-secrets-key"))}
	w := worker.New(c, worker.Deps{
		Archive:   &activities.Archive{Store: archive, Aggregates: store.Aggregates{DB: pool}, Audit: &audit},
		Retention: &activities.Retention{Store: store.Retention{DB: pool}, Audit: audit},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "maintenance-retention-" + now.Format("150405.000000"), TaskQueue: workflows.TaskQueue},
		workflows.Maintenance, workflows.MaintenanceInput{Retention: 90 * 24 * time.Hour, AheadDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.MaintenanceResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.DroppedPartitions) != 3 || len(res.Retention.Tenants) != 2 {
		t.Fatalf("result %+v", res)
	}
	// Counts are checked in the database and the audit log rather than in this run's
	// report: a Maintenance run an earlier test's schedule started (its worker served
	// no Retention) may have its retry of the step served by this worker.
	for _, tr := range res.Retention.Tenants {
		if tr.Error != "" {
			t.Errorf("%s: %s", tr.TenantID, tr.Error)
		}
	}
	for tenant, want := range map[string]int64{"acme": 1, "zeta": 0} {
		var left int64
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM identity_links WHERE tenant_id = $1`, tenant).Scan(&left); err != nil || left != 1-want {
			t.Errorf("%s links left %d, %v; want %d", tenant, left, err, 1-want)
		}
		recs, err := audit.List(ctx, tenant, store.AuditFilter{Action: activities.RetentionAction})
		if err != nil || len(recs) == 0 {
			t.Fatalf("%s retention entries %+v, %v", tenant, recs, err)
		}
		var removed int64
		for _, rec := range recs {
			var d struct {
				Removed store.RetentionCounts `json:"removed"`
			}
			if err := json.Unmarshal(rec.Detail, &d); err != nil || rec.Actor != activities.RetentionActor || rec.Outcome != "ok" {
				t.Fatalf("%s entry %+v, %v", tenant, rec, err)
			}
			removed += d.Removed.IdentityLinks
		}
		if removed != want {
			t.Errorf("%s: audit says %d links removed, want %d", tenant, removed, want)
		}
	}
	if recs, err := audit.List(ctx, "", store.AuditFilter{Action: activities.RetentionAction}); err != nil || len(recs) != 1 {
		t.Errorf("system retention entries %+v, %v; want the partition drop's", recs, err)
	}
	if rep, err := audit.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("audit chain %+v, %v", rep, err)
	}
}
