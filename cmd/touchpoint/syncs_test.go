package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// cliSyncs stands in for Temporal behind the real API server: a backfill advances
// one chunk each time its progress is asked for, so the CLI sees it move, and
// schedules are a map. Everything between the binary and it — routes, auth, tenant
// scoping, JSON shapes, error bodies — is the real API.
type cliSyncs struct {
	mu        sync.Mutex
	conns     store.Connections
	backfills map[string]*cliBackfill // by workflow id
	paused    map[string]bool         // by schedule id
	triggered map[string]int
	// stopAfter > 0 stops backfills after that many chunks, as a failed workflow
	// whose query keeps answering its last progress; with reauth the connection is
	// marked needs_reauth too, as a refused grant does.
	stopAfter int
	reauth    bool
}

type cliBackfill struct {
	in       workflows.BackfillInput
	progress workflows.BackfillProgress
	chunks   [][2]time.Time
}

func newCLISyncs(conns store.Connections) *cliSyncs {
	return &cliSyncs{conns: conns, backfills: map[string]*cliBackfill{}, paused: map[string]bool{}, triggered: map[string]int{}}
}

func (f *cliSyncs) EnsureSchedule(_ context.Context, in workflows.SyncInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID)] = false
	return nil
}

func (f *cliSyncs) DeleteSchedule(_ context.Context, in workflows.SyncInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.paused, workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID))
	return nil
}

func (f *cliSyncs) StartSync(_ context.Context, in workflows.SyncInput) (string, string, error) {
	return workflows.SyncWorkflowID(in.Tenant, in.Platform, in.ConnectionID), "run", nil
}

// StartBackfill splits the range into chunks as the Backfill workflow does.
func (f *cliSyncs) StartBackfill(_ context.Context, in workflows.BackfillInput) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := workflows.BackfillWorkflowID(in.Tenant, in.Platform, in.ConnectionID)
	if b := f.backfills[id]; b != nil && !b.progress.Done {
		return "", "", &api.RunningError{WorkflowID: id, RunID: "run"}
	}
	days := in.ChunkDays
	if days <= 0 {
		days = workflows.DefaultBackfillChunkDays
	}
	b := &cliBackfill{in: in}
	for start := in.From; !start.After(in.To); start = start.AddDate(0, 0, days) {
		b.chunks = append(b.chunks, [2]time.Time{start, minTime(start.AddDate(0, 0, days-1), in.To)})
	}
	b.progress.ChunksTotal = len(b.chunks)
	f.backfills[id] = b
	return id, "run", nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (f *cliSyncs) BackfillProgress(ctx context.Context, id string) (workflows.BackfillProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.backfills[id]
	if b == nil {
		return workflows.BackfillProgress{}, touchpoint.Errorf(touchpoint.ENotFound, "no backfill %s", id)
	}
	p := &b.progress
	if f.stopAfter > 0 && p.ChunksDone == f.stopAfter {
		if f.reauth {
			return *p, f.conns.SetStatus(ctx, b.in.Tenant, b.in.ConnectionID, "needs_reauth")
		}
		return *p, nil
	}
	if !p.Done {
		p.ChunksDone++
		p.Rows += 10
		p.SyncedTo = b.chunks[p.ChunksDone-1][1]
		p.Done = p.ChunksDone == p.ChunksTotal
	}
	return *p, nil
}

func (f *cliSyncs) DescribeSchedule(_ context.Context, in workflows.SyncInput) (api.ScheduleState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	sid := workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID)
	paused, ok := f.paused[sid]
	if !ok {
		return api.ScheduleState{}, touchpoint.Errorf(touchpoint.ENotFound, "no schedule for connection %s", in.ConnectionID)
	}
	st := api.ScheduleState{ID: in.ConnectionID, ScheduleID: sid, ConnectionID: in.ConnectionID, Platform: in.Platform, Paused: paused}
	if !paused {
		next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		st.NextRun = &next
	}
	return st, nil
}

func (f *cliSyncs) PauseSchedule(_ context.Context, in workflows.SyncInput, pause bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused[workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID)] = pause
	return nil
}

func (f *cliSyncs) TriggerSchedule(_ context.Context, in workflows.SyncInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.triggered[in.ConnectionID]++
	return nil
}

type cliAPI struct {
	srv        *httptest.Server
	syncs      *cliSyncs
	key, other string
}

// newCLIAPI serves the real API on a fresh database with two tenants; acme has the
// connections "ads" (Google Ads) and "fb" (Meta), globex has none.
func newCLIAPI(t *testing.T) *cliAPI {
	t.Helper()
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	conns := store.Connections{DB: pool, Key: store.SecretsKey("cli-test-secret")}
	a := &cliAPI{syncs: newCLISyncs(conns)}
	for _, id := range []string{"acme", "globex"} {
		if _, err := tenants.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
		_, key, err := tenants.CreateKey(ctx, id, "cli", store.AllScopes)
		if err != nil {
			t.Fatal(err)
		}
		if id == "acme" {
			a.key = key
		} else {
			a.other = key
		}
	}
	for _, c := range []store.Connection{
		{TenantID: "acme", ConnectionID: "ads", Platform: "googleads", AccountID: "123", Credentials: []byte(`{}`)},
		{TenantID: "acme", ConnectionID: "fb", Platform: "meta", AccountID: "act_1", Credentials: []byte(`{}`)},
	} {
		if _, err := conns.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		_ = a.syncs.EnsureSchedule(ctx, workflows.SyncInput{Tenant: c.TenantID, Platform: c.Platform, ConnectionID: c.ConnectionID})
	}
	srv := api.New(api.Options{TenantRate: 1e6, TenantBurst: 1e6, MaxBodyBytes: 1 << 20},
		api.Deps{Tenants: tenants, Syncs: a.syncs, Connections: conns})
	a.srv = httptest.NewServer(srv)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *cliAPI) env(key string) []string {
	return []string{"TOUCHPOINT_API_URL=" + a.srv.URL, "TOUCHPOINT_API_KEY=" + key}
}

// lastFrame is what a terminal shows of the progress bar at the end: the text after
// the last carriage return of its line.
func lastFrame(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if i := strings.LastIndex(line, "\r"); i >= 0 {
			return strings.TrimSpace(line[i+1:])
		}
	}
	return ""
}

func TestBackfillCommandShowsProgressToTheEnd(t *testing.T) {
	a := newCLIAPI(t)
	stdout, stderr, err := runBin(t, a.env(a.key), "", "backfill", "-connection", "ads",
		"-from", "2024-03-01", "-to", "2024-03-31", "-chunk-days", "7", "-interval", "20ms")
	if err != nil {
		t.Fatalf("backfill: %v\nstdout: %s\nstderr: %s", err, stdout, stderr)
	}
	// 31 days in chunks of 7: five chunks, the bar ending full.
	if f := lastFrame(stderr); !strings.Contains(f, "100%") || !strings.Contains(f, "5/5") {
		t.Fatalf("last progress frame %q, want 100%% 5/5:\n%q", f, stderr)
	}
	if !strings.Contains(stderr, "started backfill backfill/acme/googleads/ads (2024-03-01 to 2024-03-31)") {
		t.Fatalf("no start line:\n%s", stderr)
	}
	want := "backfill of connection ads done: 5/5 chunks, 50 rows, synced to 2024-03-31"
	if strings.TrimSpace(stdout) != want {
		t.Fatalf("result %q, want %q", stdout, want)
	}
	b := a.syncs.backfills["backfill/acme/googleads/ads"]
	if b == nil || b.in.ChunkDays != 7 || !b.in.From.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("the API got %+v", b)
	}
}

func TestBackfillCommandFollowsARunningOne(t *testing.T) {
	a := newCLIAPI(t)
	_, _, err := a.syncs.StartBackfill(context.Background(), workflows.BackfillInput{
		SyncInput: workflows.SyncInput{Tenant: "acme", Platform: "meta", ConnectionID: "fb"},
		From:      time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), ChunkDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runBin(t, a.env(a.key), "", "backfill", "-connection", "fb", "-from", "2024-02-01", "-to", "2024-02-02", "-interval", "20ms")
	if err != nil {
		t.Fatalf("backfill: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "already running") || !strings.Contains(stdout, "done: 3/3 chunks, 30 rows, synced to 2024-01-03") {
		t.Fatalf("stdout %q\nstderr %q", stdout, stderr)
	}
}

func TestBackfillCommandFailures(t *testing.T) {
	a := newCLIAPI(t)
	a.syncs.stopAfter, a.syncs.reauth = 2, true
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"refused credentials", a.env(a.key), []string{"-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-10", "-chunk-days", "2"},
			"the platform refused the connection's credentials (status needs_reauth)"},
		{"unknown connection", a.env(a.key), []string{"-connection", "nope", "-from", "2024-03-01", "-to", "2024-03-02"},
			"POST /v1/connections/nope/backfill: 404 no connection nope"},
		{"another tenant's connection", a.env(a.other), []string{"-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-02"},
			"404 no connection ads"},
		{"bad key", a.env("not-a-key"), []string{"-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-02"},
			"401 unknown or revoked API key (check -key or TOUCHPOINT_API_KEY)"},
		{"no key", []string{"TOUCHPOINT_API_URL=" + a.srv.URL}, []string{"-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-02"},
			"an API key is needed: -key or TOUCHPOINT_API_KEY"},
		{"bad dates", a.env(a.key), []string{"-connection", "ads", "-from", "2024-3-1", "-to", "2024-03-02"},
			"-from and -to must be dates (YYYY-MM-DD)"},
		{"range the API refuses", a.env(a.key), []string{"-connection", "ads", "-from", "2010-01-01", "-to", "2024-03-02"},
			"400 from and to must be dates (YYYY-MM-DD), from <= to, at most three years apart"},
		{"API down", []string{"TOUCHPOINT_API_URL=http://" + closedAddr(t), "TOUCHPOINT_API_KEY=k"},
			[]string{"-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-02"}, "cannot reach the API at http://"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"backfill", "-interval", "20ms"}, c.args...)
			stdout, stderr, err := runBin(t, c.env, "", args...)
			if err == nil {
				t.Fatalf("want a non-zero exit; stdout %q stderr %q", stdout, stderr)
			}
			if !strings.Contains(stderr, c.want) || strings.Contains(stdout, "done") {
				t.Fatalf("stderr does not say %q:\n%s", c.want, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace:\n%s", stderr)
			}
		})
	}
	// The refused backfill stopped where the platform refused it.
	if b := a.syncs.backfills["backfill/acme/googleads/ads"]; b == nil || b.progress.ChunksDone != 2 || b.progress.Done {
		t.Fatalf("backfill %+v", b)
	}
}

func TestBackfillCommandGivesUpWhenStalled(t *testing.T) {
	a := newCLIAPI(t)
	// The connection stays active although the backfill no longer moves: only
	// -stall can tell.
	a.syncs.stopAfter = 1
	_, stderr, err := runBin(t, a.env(a.key), "", "backfill", "-connection", "ads", "-from", "2024-03-01", "-to", "2024-03-04",
		"-chunk-days", "1", "-interval", "100ms", "-stall", "300ms")
	if err == nil || !strings.Contains(stderr, "no progress for 300ms (1 of 4 chunks done)") ||
		!strings.Contains(stderr, `workflow "backfill/acme/googleads/ads"`) {
		t.Fatalf("want a stall error: %v\n%s", err, stderr)
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestSchedulesCommands(t *testing.T) {
	a := newCLIAPI(t)
	stdout, stderr, err := runBin(t, a.env(a.key), "", "schedules", "list")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONNECTION") ||
		!strings.Contains(lines[1], "ads") || !strings.Contains(lines[1], "googleads") || !strings.Contains(lines[1], "active") ||
		!strings.Contains(lines[1], "2030-01-02T03:04:05Z") || !strings.Contains(lines[1], "touchpoint-sync/acme/googleads/ads") ||
		!strings.Contains(lines[2], "fb") || !strings.Contains(lines[2], "meta") {
		t.Fatalf("list:\n%s", stdout)
	}

	// Flags may follow the action and the id.
	stdout, stderr, err = runBin(t, nil, "", "schedules", "pause", "ads", "-api", a.srv.URL, "-key", a.key)
	if err != nil || strings.TrimSpace(stdout) != "schedule of connection ads (googleads): paused, next run -" {
		t.Fatalf("pause: %v %q %s", err, stdout, stderr)
	}
	stdout, _, err = runBin(t, a.env(a.key), "", "schedules", "-json", "list")
	var listed struct{ Schedules []api.ScheduleState }
	if err != nil || json.Unmarshal([]byte(stdout), &listed) != nil || len(listed.Schedules) != 2 || !listed.Schedules[0].Paused {
		t.Fatalf("list -json after pause: %v %s", err, stdout)
	}
	stdout, _, err = runBin(t, a.env(a.key), "", "schedules", "resume", "ads")
	if err != nil || !strings.Contains(stdout, "ads (googleads): active, next run 2030-01-02T03:04:05Z") {
		t.Fatalf("resume: %v %q", err, stdout)
	}
	stdout, _, err = runBin(t, a.env(a.key), "", "schedules", "trigger", "fb")
	if err != nil || strings.TrimSpace(stdout) != "triggered a sync of connection fb" || a.syncs.triggered["fb"] != 1 {
		t.Fatalf("trigger: %v %q %v", err, stdout, a.syncs.triggered)
	}

	// Without TOUCHPOINT_API_URL the CLI calls the API at TOUCHPOINT_HTTP_ADDR.
	stdout, stderr, err = runBin(t, []string{"TOUCHPOINT_API_URL=", "TOUCHPOINT_HTTP_ADDR=" + strings.TrimPrefix(a.srv.URL, "http://"),
		"TOUCHPOINT_API_KEY=" + a.key}, "", "schedules", "list")
	if err != nil || !strings.Contains(stdout, "googleads") {
		t.Fatalf("list at TOUCHPOINT_HTTP_ADDR: %v %s %s", err, stdout, stderr)
	}
}

func TestSchedulesCommandErrors(t *testing.T) {
	a := newCLIAPI(t)
	cases := []struct {
		env  []string
		args []string
		want string
	}{
		{a.env(a.other), []string{"pause", "ads"}, "schedules pause: POST /v1/schedules/ads/pause: 404 no connection ads"},
		{a.env(a.key), []string{"trigger", "nope"}, "404 no connection nope"},
		{a.env(a.key), []string{"pause"}, "schedules pause: wrong arguments"},
		{a.env(a.key), []string{"list", "ads"}, "schedules list: wrong arguments"},
		{a.env(a.key), []string{"delete", "ads"}, `schedules: unknown action "delete"`},
		{a.env(a.key), nil, "usage: touchpoint schedules list"},
		{a.env("wrong"), []string{"list"}, "401 unknown or revoked API key (check -key or TOUCHPOINT_API_KEY)"},
		{[]string{"TOUCHPOINT_API_URL=ftp://x", "TOUCHPOINT_API_KEY=k"}, []string{"list"}, `-api (TOUCHPOINT_API_URL) "ftp://x": want an http:// or https:// URL`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, err := runBin(t, c.env, "", append([]string{"schedules"}, c.args...)...)
			if err == nil || !strings.Contains(stderr, c.want) {
				t.Fatalf("want a non-zero exit saying %q: %v\nstdout %q\nstderr %q", c.want, err, stdout, stderr)
			}
		})
	}
	if got, _ := a.syncs.DescribeSchedule(context.Background(), workflows.SyncInput{Tenant: "acme", Platform: "googleads", ConnectionID: "ads"}); got.Paused {
		t.Fatal("another tenant paused acme's schedule")
	}
}
