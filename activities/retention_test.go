package activities_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// retentionFixture is a database with tenants "acme" (7 days) and "zeta" (90), each
// with identity links and profiles 100, 30 and 3 days old, and an audit log.
func retentionFixture(t *testing.T, now time.Time) (*pgxpool.Pool, store.Audit) {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	r := store.Retention{DB: pool}
	for _, tenant := range []string{"acme", "zeta"} {
		if _, err := (store.Tenants{DB: pool}).Create(ctx, tenant, ""); err != nil {
			t.Fatal(err)
		}
		for _, age := range []int{100, 30, 3} {
			at := now.AddDate(0, 0, -age)
			id := strconv.Itoa(age)
			if _, err := pool.Exec(ctx, `INSERT INTO identity_links (tenant_id, id_a, id_b, method, confidence, first_seen, last_seen)
				VALUES ($1, 'device:'||$2, 'user:'||$2, 'deterministic', 1, $3, $3)`, tenant, id, at); err != nil {
				t.Fatal(err)
			}
			if _, err := pool.Exec(ctx, `INSERT INTO customer_profiles (tenant_id, customer_id, updated_at) VALUES ($1, $2, $3)`, tenant, id, at); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := r.SetPolicy(ctx, "acme", 7); err != nil {
		t.Fatal(err)
	}
	return pool, store.Audit{DB: pool, Hasher: store.NewSubjectHasher([]byte("test-secrets-key-0123456789"))}
}

// retentionEntries returns tenant's retention.run audit entries, oldest first, with
// their removed counts.
func retentionEntries(t *testing.T, audit store.Audit, tenant string) ([]store.AuditRecord, []store.RetentionCounts) {
	t.Helper()
	recs, err := audit.List(context.Background(), tenant, store.AuditFilter{Action: activities.RetentionAction})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(recs)
	counts := make([]store.RetentionCounts, len(recs))
	for i, rec := range recs {
		var d struct {
			Removed store.RetentionCounts `json:"removed"`
		}
		if err := json.Unmarshal(rec.Detail, &d); err != nil {
			t.Fatal(err)
		}
		counts[i] = d.Removed
	}
	return recs, counts
}

func verifyAudit(t *testing.T, audit store.Audit) {
	t.Helper()
	rep, err := audit.Verify(context.Background())
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v, %v", rep, err)
	}
}

// TestApplyRetentionAudits: one run applies each tenant's policy and appends one
// entry per tenant (actor system:retention, the counts and the cutoff), and the
// chain verifies.
func TestApplyRetentionAudits(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	pool, audit := retentionFixture(t, now)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	act := &activities.Retention{Store: store.Retention{DB: pool}, Audit: audit}
	env.RegisterActivity(act)

	val, err := env.ExecuteActivity(act.ApplyRetention, activities.ApplyRetentionInput{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var rep activities.RetentionReport
	if err := val.Get(&rep); err != nil {
		t.Fatal(err)
	}
	want := activities.RetentionReport{Tenants: []activities.TenantRetention{
		{TenantID: "acme", Days: 7, Cutoff: now.AddDate(0, 0, -7), Counts: store.RetentionCounts{IdentityLinks: 2, Profiles: 2}},
		{TenantID: "zeta", Days: 90, Cutoff: now.AddDate(0, 0, -90), Counts: store.RetentionCounts{IdentityLinks: 1, Profiles: 1}},
	}}
	if !reflect.DeepEqual(normalise(rep), want) {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	for _, tr := range want.Tenants {
		recs, counts := retentionEntries(t, audit, tr.TenantID)
		if len(recs) != 1 || recs[0].Actor != activities.RetentionActor || recs[0].Outcome != "ok" || counts[0] != tr.Counts {
			t.Fatalf("%s audit entries %+v (counts %+v), want one with %+v", tr.TenantID, recs, counts, tr.Counts)
		}
		var d struct {
			Cutoff string `json:"cutoff"`
			Days   int    `json:"retention_days"`
		}
		if err := json.Unmarshal(recs[0].Detail, &d); err != nil || d.Cutoff != tr.Cutoff.Format(time.RFC3339) || d.Days != tr.Days {
			t.Fatalf("%s detail %s, %v", tr.TenantID, recs[0].Detail, err)
		}
	}
	verifyAudit(t, audit)
}

// TestApplyRetentionResumes: a retried attempt skips the tenants its heartbeat says
// are done and re-runs the failed ones, adding what their earlier attempt removed.
func TestApplyRetentionResumes(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	pool, audit := retentionFixture(t, now)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	act := &activities.Retention{Store: store.Retention{DB: pool}, Audit: audit}
	env.RegisterActivity(act)
	done := activities.TenantRetention{TenantID: "acme", Days: 7, Cutoff: now.AddDate(0, 0, -7), Counts: store.RetentionCounts{IdentityLinks: 9}}
	failed := activities.TenantRetention{TenantID: "zeta", Days: 90, Cutoff: now.AddDate(0, 0, -90), Counts: store.RetentionCounts{Profiles: 4}, Error: "audit: connection reset"}
	env.SetHeartbeatDetails(activities.RetentionReport{Tenants: []activities.TenantRetention{done, failed}})

	val, err := env.ExecuteActivity(act.ApplyRetention, activities.ApplyRetentionInput{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var rep activities.RetentionReport
	if err := val.Get(&rep); err != nil {
		t.Fatal(err)
	}
	zeta := failed
	zeta.Error, zeta.Counts = "", store.RetentionCounts{IdentityLinks: 1, Profiles: 5}
	if want := (activities.RetentionReport{Tenants: []activities.TenantRetention{done, zeta}}); !reflect.DeepEqual(normalise(rep), want) {
		t.Fatalf("report %+v, want %+v", rep, want)
	}
	if recs, _ := retentionEntries(t, audit, "acme"); len(recs) != 0 {
		t.Fatalf("acme, done before the retry, was run again: %+v", recs)
	}
	if _, counts := retentionEntries(t, audit, "zeta"); len(counts) != 1 || counts[0] != zeta.Counts {
		t.Fatalf("zeta entries %+v, want one with %+v", counts, zeta.Counts)
	}
	// acme's rows are still there: its run was skipped.
	var links int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM identity_links WHERE tenant_id = 'acme'`).Scan(&links); err != nil || links != 3 {
		t.Fatalf("acme links %d, %v", links, err)
	}
	verifyAudit(t, audit)
}

// TestDropExpiredAudits: with an Audit configured, dropping expired archive
// partitions appends a system-wide retention entry naming them.
func TestDropExpiredAudits(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	pool, audit := retentionFixture(t, now)
	archive := store.Archive{DB: pool}
	old := now.AddDate(0, 0, -100)
	if err := archive.EnsurePartitions(ctx, old, 0); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	act := &activities.Archive{Store: archive, Aggregates: store.Aggregates{DB: pool}, Audit: &audit}
	env.RegisterActivity(act)
	val, err := env.ExecuteActivity(act.DropExpired, activities.DropExpiredInput{Cutoff: now.AddDate(0, 0, -90)})
	if err != nil {
		t.Fatal(err)
	}
	var dropped []string
	if err := val.Get(&dropped); err != nil || len(dropped) != 3 {
		t.Fatalf("dropped %v, %v; want the 3 tables' partitions of %s", dropped, err, old.Format(time.DateOnly))
	}
	recs, err := audit.List(ctx, "", store.AuditFilter{Action: activities.RetentionAction})
	if err != nil || len(recs) != 1 || recs[0].Actor != activities.RetentionActor {
		t.Fatalf("system entries %+v, %v", recs, err)
	}
	var d struct {
		Dropped []string `json:"partitions_dropped"`
	}
	if err := json.Unmarshal(recs[0].Detail, &d); err != nil || !reflect.DeepEqual(d.Dropped, dropped) {
		t.Fatalf("detail %s, %v; want %v", recs[0].Detail, err, dropped)
	}
	verifyAudit(t, audit)
}

// normalise puts the report's times in UTC, as they were given, for comparison.
func normalise(rep activities.RetentionReport) activities.RetentionReport {
	for i := range rep.Tenants {
		rep.Tenants[i].Cutoff = rep.Tenants[i].Cutoff.UTC()
	}
	return rep
}
