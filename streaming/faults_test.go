package streaming_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/internal/tcpproxy"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/streaming"
)

// TestPostgresConnectionDropsMidStream runs the consumer on a pool whose connections
// go through a proxy, drops them at every step of its transaction and at random
// while ~30k events stream in, and makes Postgres look down for a second: every batch
// must still be applied exactly once, a retried batch must still be remembered for
// deduplication, and the consumer must carry on rather than exit.
func TestPostgresConnectionDropsMidStream(t *testing.T) {
	r := newRig(t)
	cfg := r.pool.Config()
	p := newProxy(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	cut := &cutter{proxy: p}
	pool := proxiedPool(t, r.pool, p.Addr(), cut)
	_, stop := r.start(t, storesOn(pool, nil))
	defer stop()

	g := r.generator(11)
	// Each step of Batches.Apply's transaction, in order: its first statement, the
	// offsets lock, the offset update, the archive row, the aggregate upserts
	// (agg_campaign is written by then), the commit.
	steps := []string{"SET LOCAL synchronous_commit", "FOR UPDATE", "UPDATE consumer_offsets SET", "INSERT INTO event_archive", "INSERT INTO agg_channel", "commit"}
	var retried []events.Event // the chunk whose commit was cut
	for _, stmt := range steps {
		fired := cut.arm(stmt)
		retried = take(g, 3500)
		r.publish(t, retried)
		select {
		case <-fired:
		case <-time.After(20 * time.Second):
			t.Fatalf("the consumer never ran %q", stmt)
		}
		// Let the retry through, so that the next cut hits a batch of its own.
		r.waitCaughtUp(t)
	}
	// Cuts at no particular point: in a fetch, between batches, in a retry.
	for i := range 3 {
		r.publish(t, take(g, 2000))
		time.Sleep(time.Duration(30*i) * time.Millisecond)
		p.CutConnections()
	}
	r.waitCaughtUp(t)
	// An outage that finds the consumer with a batch to write: it fetches the chunk
	// within FetchMaxWait and retries until Postgres is back.
	r.publish(t, take(g, 4000))
	p.Pause()
	time.Sleep(time.Second)
	p.Resume()
	r.waitCaughtUp(t)
	t.Logf("%d queries and %d connection attempts failed", cut.queries.Load(), cut.connects.Load())
	if cut.connects.Load() == 0 {
		t.Fatal("no connection attempt failed: the outage never reached the consumer")
	}
	// Events after the last fault are applied too: the consumer is still running.
	// Re-sent events of a batch that was retried are recognised as duplicates.
	r.publish(t, take(g, 2000))
	r.publish(t, retried[:500])
	r.waitCaughtUp(t)
	if diff := aggregatetest.Diff(r.postgresTotals(t), g.Totals()); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's:\n%s", diff)
	}
	checkArchived(t, r, g.Count())
}

// TestRedisOutageDegradesThenCatchesUp takes Redis away from a running consumer:
// Postgres stays exact and the consumer reports itself degraded; once Redis is back
// the view is rebuilt from Postgres and matches the generator again.
func TestRedisOutageDegradesThenCatchesUp(t *testing.T) {
	r := newRig(t)
	opts, err := redis.ParseURL(storetest.RedisURL())
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, opts.Addr)
	opts.Addr = p.Addr()
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	c, stop := r.start(t, r.stores(&store.Realtime{RDB: rdb}))
	defer stop()

	g := r.generator(12)
	r.publish(t, take(g, 5000))
	r.waitCaughtUp(t)
	before := g.Totals()
	eventually(t, "Redis totals before the outage", func() string { return aggregatetest.Diff(r.redisTotals(t, before), before) })
	if c.Degraded() {
		t.Fatal("consumer degraded before any outage")
	}

	p.Pause()
	r.publish(t, take(g, 5000))
	r.waitCaughtUp(t)
	want := g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals during the Redis outage:\n%s", diff)
	}
	eventually(t, "consumer degraded during the outage", func() string {
		if !c.Degraded() {
			return "Degraded() = false"
		}
		return ""
	})
	// Nothing of the second chunk reached Redis (read past the proxy): the view is
	// stale, not partly updated.
	if diff := aggregatetest.Diff(r.redisTotals(t, before), before); diff != "" {
		t.Fatalf("Redis changed while unreachable:\n%s", diff)
	}

	p.Resume()
	// The consumer retries Redis only when a batch arrives (and at most every two
	// seconds), so keep a trickle of events coming, as live traffic would.
	deadline := time.Now().Add(30 * time.Second)
	for c.Degraded() {
		if time.Now().After(deadline) {
			t.Fatal("consumer still degraded 30s after Redis came back")
		}
		r.publish(t, take(g, 10))
		time.Sleep(300 * time.Millisecond)
	}
	r.waitCaughtUp(t)
	want = g.Totals()
	eventually(t, "Redis totals after the outage", func() string { return aggregatetest.Diff(r.redisTotals(t, want), want) })
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals after the outage:\n%s", diff)
	}
	if c.Degraded() {
		t.Fatal("consumer degraded again after Redis came back")
	}
}

// TestTwoConsumersSplitPartitionsAndSurviveRebalance starts a second consumer in the
// group while the first works through a backlog, then stops the first while both are
// busy: each rebalance hands partitions over through the offsets in Postgres, so
// nothing is lost or counted twice.
//
// Only Postgres, where the hand-over happens, is compared: the Redis view of a batch
// written by a consumer being stopped depends on the view's own recovery, which
// TestRedisOutageDegradesThenCatchesUp covers.
func TestTwoConsumersSplitPartitionsAndSurviveRebalance(t *testing.T) {
	r := newRig(t)
	adm := groupAdmin(t, r)
	g := r.generator(13)

	r.publish(t, take(g, 10000))
	_, stopA := r.start(t, r.stores(nil))
	r.publish(t, take(g, 4000))
	_, stopB := r.start(t, r.stores(nil)) // joins while A is mid-backlog
	defer stopB()
	r.publish(t, take(g, 4000))
	split := waitAssignment(t, adm, 2)
	t.Logf("while both ran: %v", split)
	r.publish(t, take(g, 6000))
	stopA() // leaves while the group is busy with the chunk just published
	r.publish(t, take(g, 4000))
	waitAssignment(t, adm, 1)
	r.publish(t, take(g, 2000))
	r.waitCaughtUp(t)

	want := g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's:\n%s", diff)
	}
	checkArchived(t, r, g.Count())
}

func newProxy(t *testing.T, target string) *tcpproxy.Proxy {
	t.Helper()
	p, err := tcpproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// proxiedPool opens a second pool on base's database that connects through addr,
// traced by tracer.
func proxiedPool(t *testing.T, base *pgxpool.Pool, addr string, tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	u, err := url.Parse(base.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// cutter is a pgx tracer that cuts every proxied connection just before the
// statement it is armed for is sent, so the cut lands at a known point inside the
// consumer's transaction (the server then rolls it back). It also counts the queries
// and connection attempts that failed.
type cutter struct {
	proxy *tcpproxy.Proxy

	mu    sync.Mutex
	armed string // the statement to cut before (see matches); "" when disarmed
	fired chan struct{}

	queries, connects atomic.Int64
}

// arm makes the next statement that matches stmt fail; the channel is closed once
// the connections have been cut.
func (c *cutter) arm(stmt string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.fired = stmt, make(chan struct{})
	return c.fired
}

func (c *cutter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed != "" && matches(d.SQL, c.armed) {
		c.proxy.CutConnections()
		c.armed = ""
		close(c.fired)
	}
	return ctx
}

// matches says whether sql is the statement stmt stands for: pgx's own "commit"
// exactly (synchronous_commit contains the word too), any other by a substring.
func matches(sql, stmt string) bool {
	if stmt == "commit" {
		return sql == stmt
	}
	return strings.Contains(sql, stmt)
}

func (c *cutter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if d.Err != nil {
		c.queries.Add(1)
	}
}

func (c *cutter) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (c *cutter) TraceConnectEnd(_ context.Context, d pgx.TraceConnectEndData) {
	if d.Err != nil {
		c.connects.Add(1)
	}
}

// storesOn is rig.stores on another pool.
func storesOn(pool *pgxpool.Pool, rt *store.Realtime) streaming.ConsumerStores {
	return streaming.ConsumerStores{
		Batches:    store.Batches{DB: pool, Group: group},
		Archive:    store.Archive{DB: pool},
		Aggregates: store.Aggregates{DB: pool},
		Privacy:    store.Privacy{DB: pool, Hasher: testHasher},
		Realtime:   rt,
	}
}

// checkArchived checks that the raw archive holds each event once: a batch retried
// after a dropped connection must not be archived twice.
func checkArchived(t *testing.T, r *rig, want int64) {
	t.Helper()
	var n int64
	if err := r.pool.QueryRow(context.Background(), `SELECT coalesce(sum(event_count), 0) FROM event_archive`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("archive holds %d events, want %d", n, want)
	}
}

// groupAdmin is an admin client on the rig's broker, to see the group from outside.
func groupAdmin(t *testing.T, r *rig) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// waitAssignment waits until the group is stable with the given number of members,
// each owning at least one partition of the topic and all of them owning every
// partition exactly once, and returns who owns what.
func waitAssignment(t *testing.T, adm *kadm.Client, members int) map[string][]int32 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		owned, state, err := describeGroup(adm)
		switch {
		case err != nil:
			last = err.Error()
		case state != "Stable" || len(owned) != members:
			last = fmt.Sprintf("state %s, assignment %v", state, owned)
		default:
			last = checkSplit(owned)
			if last == "" {
				return owned
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group never settled with %d members each owning partitions; last seen: %s", members, last)
	return nil
}

func describeGroup(adm *kadm.Client) (map[string][]int32, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, "", err
	}
	d, err := groups.On(group, nil)
	if err == nil {
		err = d.Err
	}
	if err != nil {
		return nil, "", err
	}
	owned := map[string][]int32{}
	for _, m := range d.Members {
		a, ok := m.Assigned.AsConsumer()
		if !ok {
			return nil, "", fmt.Errorf("member %s has no consumer assignment", m.MemberID)
		}
		owned[m.MemberID] = nil
		for _, tp := range a.Topics {
			if tp.Topic == topic {
				owned[m.MemberID] = append(owned[m.MemberID], tp.Partitions...)
			}
		}
	}
	return owned, d.State, nil
}

// checkSplit says what is wrong with an assignment of the topic's 4 partitions.
func checkSplit(owned map[string][]int32) string {
	var all []int32
	for member, parts := range owned {
		if len(parts) == 0 {
			return fmt.Sprintf("member %s owns no partition: %v", member, owned)
		}
		all = append(all, parts...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []int32{0, 1, 2, 3}) {
		return fmt.Sprintf("partitions not owned exactly once: %v", owned)
	}
	return ""
}
