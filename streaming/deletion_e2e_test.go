package streaming_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/internal/temporaltest"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
	"github.com/touchpoint/touchpoint/worker"
	"github.com/touchpoint/touchpoint/workflows"
)

// The subject S of the deletion and the others. S uses a phone (with a cookie), a
// laptop and, logged in, an account; the family PC is shared with other-1 and must
// keep other-1's data.
var (
	sIDs      = []string{"subj-s-cust", "subj-s-user", "subj-s-phone", "subj-s-laptop", "subj-s-cookie"}
	familyPC  = "family-pc-shared"
	otherCust = []string{"other-1-cust", "other-2-cust"}
)

type deletionRig struct {
	*rig
	tenant   string
	secret   []byte
	keys     store.SubjectKeys
	audit    store.Audit
	privacy  store.Privacy
	sealer   api.Publisher
	temporal client.Client
	srv      *httptest.Server
	apiKey   string
}

func newDeletionRig(t *testing.T) *deletionRig {
	r := newRig(t)
	secret := []byte("streaming-test-secrets-key") // testHasher's key
	d := &deletionRig{rig: r, tenant: r.prefix + "acme", secret: secret,
		keys:     store.SubjectKeys{DB: r.pool, SecretsKey: secret},
		audit:    store.Audit{DB: r.pool, Hasher: testHasher},
		privacy:  store.Privacy{DB: r.pool, Redis: r.rdb, Hasher: testHasher},
		temporal: temporaltest.Client(t),
	}
	d.sealer = api.SealingPublisher{Next: r.producer, Sealer: api.NewSealer(d.keys)}
	ctx := context.Background()
	tenants := store.Tenants{DB: r.pool}
	if _, err := tenants.Create(ctx, d.tenant, ""); err != nil {
		t.Fatal(err)
	}
	_, key, err := tenants.CreateKey(ctx, d.tenant, "test", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	d.apiKey = key
	d.srv = httptest.NewServer(api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20}, api.Deps{
		Tenants: tenants,
		Deletions: api.DeletionDeps{Requests: d.deletions(), Privacy: d.privacy, Audit: d.audit,
			Workflows: api.TemporalDeletions{Client: d.temporal}},
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *deletionRig) deletions() store.Deletions {
	return store.Deletions{DB: d.pool, SecretsKey: d.secret, Hasher: testHasher}
}

func (d *deletionRig) consumerStores() streaming.ConsumerStores {
	st := d.stores(&store.Realtime{RDB: d.rdb})
	st.SubjectKeys = d.keys
	return st
}

// newWorker is a real Temporal worker with the identity update and the deletion.
func (d *deletionRig) newWorker(t *testing.T) sdkworker.Worker {
	links := store.Identity{DB: d.pool}
	// Stopped gracefully, so each restart falls between steps.
	w := worker.NewWithOptions(d.temporal, worker.Deps{
		Archive: &activities.Archive{Store: store.Archive{DB: d.pool}, Aggregates: store.Aggregates{DB: d.pool}},
		Identity: &activities.Identity{Archive: store.Archive{DB: d.pool}, Links: links, Codec: d.codec, Keys: d.keys, Match: identity.DefaultMatchConfig(),
			// Past the settling delay, so the batches archived a moment ago are read.
			Now: func() time.Time { return time.Now().Add(2 * time.Minute) }},
		Deletion: &activities.Deletion{
			Requests: d.deletions(), Privacy: d.privacy, Keys: d.keys, Audit: d.audit,
			Archive: store.Archive{DB: d.pool}, Journeys: store.Journeys{DB: d.pool}, Identity: links,
			Personal: store.PersonalData{DB: d.pool}, Redis: d.rdb, Codec: d.codec,
			Connections: store.Connections{DB: d.pool, Key: store.SecretsKey("unused")},
		},
	}, sdkworker.Options{WorkerStopTimeout: worker.GracefulStop})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	return w
}

// journey returns a touchpoint and a conversion of customer on device.
func (d *deletionRig) journey(at time.Time, customer, device, anon, user string) []events.Event {
	var out []events.Event
	for i, typ := range []events.Type{events.TouchpointInteraction, events.ConversionEvent} {
		e := events.Example(typ, d.tenant, at.Add(time.Duration(i)*time.Second))
		e.EventID = fmt.Sprintf("%s-%s-%s-%d-%d", customer, device, anon, at.UnixNano(), i)
		e.CustomerID = customer
		e.Device = &events.Device{DeviceID: device, AnonymousID: anon, UserID: user, IP: "198.51.100.7", UserAgent: "Mozilla/5.0"}
		out = append(out, e)
	}
	return out
}

func (d *deletionRig) history(at time.Time) (sealed, plain []events.Event) {
	sealed = slices.Concat(
		d.journey(at, "subj-s-cust", "subj-s-phone", "subj-s-cookie", ""),
		d.journey(at.Add(time.Minute), "subj-s-cust", "subj-s-laptop", "", "subj-s-user"),
		d.journey(at.Add(2*time.Minute), "other-1-cust", "other-1-phone", "", ""),
	)
	plain = slices.Concat( // as a Kafka client other than the API would send them
		d.journey(at.Add(3*time.Minute), "subj-s-cust", familyPC, "", ""),
		d.journey(at.Add(4*time.Minute), "other-1-cust", familyPC, "", ""),
		d.journey(at.Add(5*time.Minute), "other-2-cust", "other-2-tablet", "", ""),
	)
	return sealed, plain
}

func (d *deletionRig) publishBoth(t *testing.T, sealed, plain []events.Event) {
	t.Helper()
	if err := d.sealer.Publish(context.Background(), sealed); err != nil {
		t.Fatal(err)
	}
	d.produced += int64(len(sealed))
	d.publish(t, plain)
}

// TestDataSubjectDeletionEndToEnd: events of S (on several devices, sealed at the
// edge and not) and of others are consumed and aggregated and the identity graph is
// built; a deletion through the API then runs on a real Temporal server. Afterwards
// nothing anywhere names S, everyone else's data and every aggregate are unchanged,
// S's new events are dropped, and the audit chain verifies.
func TestDataSubjectDeletionEndToEnd(t *testing.T) {
	runDeletionEndToEnd(t, false)
}

// TestDataSubjectDeletionSurvivesWorkerRestarts: the same, with the worker stopped
// after every step it finishes and a new one started.
func TestDataSubjectDeletionSurvivesWorkerRestarts(t *testing.T) {
	runDeletionEndToEnd(t, true)
}

func runDeletionEndToEnd(t *testing.T, restarts bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := newDeletionRig(t)
	now := time.Now().UTC().Add(-time.Hour)
	if err := (store.Archive{DB: d.pool}).EnsurePartitions(ctx, now.AddDate(0, 0, -1), 3); err != nil {
		t.Fatal(err)
	}
	sealed, plain := d.history(now)
	d.publishBoth(t, sealed, plain)
	_, stop := d.start(t, d.consumerStores())
	d.waitCaughtUp(t)

	w := d.newWorker(t)
	defer func() { w.Stop() }()
	run, err := d.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "identity-" + d.tenant, TaskQueue: workflows.TaskQueue},
		workflows.IdentityUpdate, workflows.IdentityUpdateInput{Tenant: d.tenant})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := d.count(t, `SELECT count(*) FROM identity_links WHERE tenant_id = $1 AND (id_a = 'device:subj-s-laptop' OR id_b = 'device:subj-s-laptop')`); n == 0 {
		var res activities.UpdateIdentityResult
		_ = run.Get(ctx, &res)
		rows, _ := d.pool.Query(ctx, `SELECT id_a || ' ' || id_b FROM identity_links WHERE tenant_id = $1`, d.tenant)
		var ls []string
		for rows.Next() {
			var l string
			_ = rows.Scan(&l)
			ls = append(ls, l)
		}
		rows.Close()
		t.Fatalf("the identity update linked none of S's devices: %+v %v", res, ls)
	}
	aggBefore := d.aggregates(t)
	othersBefore := d.othersFootprint(t)

	// The deletion names only S's customer id; the rest comes from the graph.
	code, body := d.post(t, `{"regulation":"GDPR","customer_id":"subj-s-cust"}`)
	if code != http.StatusAccepted {
		t.Fatalf("deletion: %d %s", code, body)
	}
	wfID := workflows.DeletionWorkflowID(d.tenant, d.deletions().RequestID(d.tenant, "subj-s-cust"))
	if restarts {
		w = d.restartBetweenSteps(ctx, t, w, wfID)
	}
	var state workflows.DeletionState
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	if err := d.temporal.GetWorkflow(wctx, wfID, "").Get(wctx, &state); err != nil {
		t.Fatalf("deletion workflow: %v\n%s", err, d.pending(t, wfID))
	}
	if state.Step != "completed" {
		t.Fatalf("state %+v", state)
	}

	if othersAfter := d.othersFootprint(t); fmt.Sprint(othersAfter) != fmt.Sprint(othersBefore) {
		req, _ := d.deletions().Get(ctx, d.tenant, d.deletions().RequestID(d.tenant, "subj-s-cust"))
		t.Errorf("other subjects' data changed: before %v, after %v; steps %+v", othersBefore, othersAfter, req.Steps)
	}
	if got := d.aggregates(t); got != aggBefore {
		t.Errorf("aggregates changed by the deletion:\nbefore %s\nafter  %s", aggBefore, got)
	}
	// S's new events are dropped, sealed (with the edge's cached key) or not; others flow.
	later := time.Now().UTC().Add(-time.Minute)
	d.publishBoth(t, d.journey(later, "subj-s-cust", "subj-s-phone", "", ""), slices.Concat(
		d.journey(later, "subj-s-cust", "subj-s-laptop", "", ""), d.journey(later, "other-2-cust", "other-2-tablet", "", "")))
	d.waitCaughtUp(t)
	stop()

	d.assertNothingNames(ctx, t, sIDs)
	// The shared device keeps other-1's touchpoints and only those.
	onPC := d.count(t, `SELECT count(*) FROM journey_touchpoints t, unnest(t.device_ids) dv WHERE tenant_id = $1 AND dv = '`+familyPC+`'`)
	other1 := d.count(t, `SELECT count(*) FROM journey_touchpoints t, unnest(t.device_ids, t.customer_ids) AS u(dv, c)
		WHERE tenant_id = $1 AND dv = '`+familyPC+`' AND c = 'other-1-cust'`)
	if onPC == 0 || onPC != other1 {
		t.Errorf("shared device: %d touchpoints remain on it, %d of them other-1's", onPC, other1)
	}
	rep, err := d.audit.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
	entries, err := d.audit.List(ctx, d.tenant, store.AuditFilter{Action: "deletion."})
	if err != nil || len(entries) < 6 {
		t.Fatalf("audit entries %d %v", len(entries), err)
	}
}

// restartBetweenSteps stops the worker each time an activity of the deletion has
// completed and starts a fresh one, until the workflow ends.
func (d *deletionRig) restartBetweenSteps(ctx context.Context, t *testing.T, w sdkworker.Worker, wfID string) sdkworker.Worker {
	seen, restarts := 0, 0
	for {
		desc, err := d.temporal.DescribeWorkflowExecution(ctx, wfID, "")
		if err != nil {
			t.Fatal(err)
		}
		if desc.WorkflowExecutionInfo.GetCloseTime() != nil {
			break
		}
		// Stop lets a running activity finish (WorkerStopTimeout), so the new worker
		// takes over at the next step.
		if done := d.completedActivities(ctx, t, wfID); done > seen {
			seen = done
			w.Stop()
			restarts++
			w = d.newWorker(t)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if restarts < 5 {
		t.Fatalf("the worker was restarted %d times, want one per step", restarts)
	}
	t.Logf("worker restarted %d times", restarts)
	return w
}

func (d *deletionRig) completedActivities(ctx context.Context, t *testing.T, wfID string) int {
	iter := d.temporal.GetWorkflowHistory(ctx, wfID, "", false, 0)
	n := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetActivityTaskCompletedEventAttributes() != nil {
			n++
		}
	}
	return n
}

func (d *deletionRig) post(t *testing.T, body string) (int, string) {
	req, _ := http.NewRequest("POST", d.srv.URL+"/v1/deletions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func (d *deletionRig) count(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := d.pool.QueryRow(context.Background(), sql, d.tenant).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// aggregates is every aggregate row of the tenant, at every level, as text
// (without updated_at, which says when, not what).
func (d *deletionRig) aggregates(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"agg_campaign", "agg_channel", "agg_conversion_value", "agg_interaction", "agg_variant", "agg_event_type"} {
		rows, err := d.pool.Query(context.Background(), `SELECT (to_jsonb(a) - 'updated_at')::text FROM `+table+` a
			WHERE tenant_id = $1 ORDER BY 1`, d.tenant)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			b.WriteString(s + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// othersFootprint counts the journey elements and archived events of the others.
func (d *deletionRig) othersFootprint(t *testing.T) map[string]int64 {
	out := map[string]int64{}
	for _, c := range otherCust {
		out[c] = d.count(t, `SELECT count(*) FROM (SELECT unnest(customer_ids) c FROM journey_touchpoints WHERE tenant_id = $1
			UNION ALL SELECT unnest(customer_ids) FROM journey_conversions WHERE tenant_id = $1) x WHERE c = '`+c+`'`)
	}
	return out
}

// assertNothingNames searches every table's rows as text, the raw archive's records
// (as stored and opened) and the tenant's Redis keys and values for the identifiers.
func (d *deletionRig) assertNothingNames(ctx context.Context, t *testing.T, ids []string) {
	t.Helper()
	rows, err := d.pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		tables = append(tables, s)
	}
	rows.Close()
	patterns := make([]string, len(ids))
	for i, s := range ids {
		patterns[i] = "%" + s + "%"
	}
	for _, table := range tables {
		var n int64
		if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM "`+table+`" x WHERE x::text LIKE ANY($1)`, patterns).Scan(&n); err != nil {
			t.Fatalf("search %s: %v", table, err)
		}
		if n > 0 {
			t.Errorf("table %s: %d rows still name the subject", table, n)
		}
	}
	unsealer := streaming.NewUnsealer(d.keys)
	err = store.Archive{DB: d.pool}.Replay(ctx, time.Now().AddDate(0, 0, -2), time.Now().Add(time.Hour), func(v []byte) error {
		for _, s := range ids {
			if bytes.Contains(v, []byte(s)) {
				t.Errorf("an archived record names %s in clear", s)
			}
		}
		e, err := streaming.OpenRecord(ctx, d.codec, unsealer, v)
		if err != nil {
			t.Errorf("an archived record does not open (%v): the subject's sealed records were left", err)
			return nil
		}
		for _, s := range ids {
			if streaming.HasSubject(&e, s) {
				t.Errorf("an archived event still names %s", s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.assertRedisClean(ctx, t, ids)
}

func (d *deletionRig) assertRedisClean(ctx context.Context, t *testing.T, ids []string) {
	t.Helper()
	iter := d.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		content := key
		if strings.Contains(key, d.tenant) || strings.HasPrefix(key, "privacy:") {
			content += fmt.Sprint(d.redisValue(ctx, key))
		}
		for _, s := range ids {
			if strings.Contains(content, s) {
				t.Errorf("redis key %s names %s", key, s)
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

func (d *deletionRig) redisValue(ctx context.Context, key string) any {
	switch d.rdb.Type(ctx, key).Val() {
	case "string":
		return d.rdb.Get(ctx, key).Val()
	case "hash":
		return d.rdb.HGetAll(ctx, key).Val()
	case "set":
		return d.rdb.SMembers(ctx, key).Val()
	case "zset":
		return d.rdb.ZRange(ctx, key, 0, -1).Val()
	case "list":
		return d.rdb.LRange(ctx, key, 0, -1).Val()
	}
	return nil
}

// pending describes what a stuck workflow waits on, for the failure message.
func (d *deletionRig) pending(t *testing.T, wfID string) string {
	desc, err := d.temporal.DescribeWorkflowExecution(context.Background(), wfID, "")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, a := range desc.PendingActivities {
		fmt.Fprintf(&b, "pending %s attempt %d: %v\n", a.ActivityType.GetName(), a.Attempt, a.LastFailure)
	}
	return b.String()
}
