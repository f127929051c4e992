package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/streaming"
)

const (
	// viewHoleAfterKill: a consumer killed after its Postgres commit and before its
	// Redis update leaves that batch out of the view for good. A restarted consumer
	// resumes after the committed offsets, and the view is rebuilt only after a Redis
	// error, never at start-up or on partition assignment. The test then checks that
	// Redis lacks exactly those batches and that --rebuild-cache restores it. Set it to
	// false once the consumer repairs the view itself: the view must then converge
	// after every kill without a rebuild.
	viewHoleAfterKill = false

	killTopic      = "marketing-events"
	killDLQTopic   = "marketing-events-dlq"
	killPartitions = 6 // the consumer's default KAFKA_TOPIC_PARTITIONS
)

// TestConsumerSurvivesSIGKILL streams 200,000 generated events while the real
// `touchpoint consumer` process is killed with SIGKILL at 4-6 random moments and
// restarted each time. Postgres must end up with exactly the generator's totals:
// nothing lost, nothing counted twice. The Redis view must match too: on its own, or
// (while viewHoleAfterKill holds) short by exactly the batches whose Postgres commit
// landed but whose Redis update died with the process, and whole again after
// `--rebuild-cache`.
//
// A kill whose moment comes before the restarted consumer has applied anything waits
// for its first commit, so such kills land right after a commit.
//
// The seed of the schedule and of the generator is logged; TOUCHPOINT_KILL_SEED
// replays it (event timestamps and scheduling still vary).
func TestConsumerSurvivesSIGKILL(t *testing.T) {
	const (
		total     = 200_000
		chunk     = 2_000
		produceIn = 12 * time.Second // the stream is paced so the kills land while it flows
		minGap    = 700 * time.Millisecond
	)
	started := time.Now()
	seed := killSeed(t)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	kills := 4 + rng.IntN(3)
	t.Logf("seed %d (TOUCHPOINT_KILL_SEED=%d replays the schedule): %d kills", seed, seed, kills)

	h := newKillHarness(t)
	g := generator.New(generator.Config{Seed: seed, Tenants: 24, TenantPrefix: h.prefix, Clock: time.Now})

	c := h.startConsumer(t)

	streamStart := time.Now()
	// The stream: paced chunks through the real producer, from a goroutine.
	var produced atomic.Int64
	prodErr := make(chan error, 1)
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		tick := time.NewTicker(produceIn / (total / chunk))
		defer tick.Stop()
		evs := make([]events.Event, chunk)
		for sent := 0; sent < total; sent += chunk {
			for i := range evs {
				evs[i] = g.Next()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := h.producer.Publish(ctx, evs)
			cancel()
			if err != nil {
				prodErr <- err
				return
			}
			produced.Add(chunk)
			<-tick.C
		}
	}()
	producing := func() bool {
		select {
		case <-prodDone:
			return false
		default:
			return true
		}
	}

	// Kill moments: uniformly random over the stream, at least minGap apart.
	at := make([]time.Duration, kills)
	for {
		for i := range at {
			at[i] = 300*time.Millisecond + time.Duration(rng.Int64N(int64(produceIn)))
		}
		slices.Sort(at)
		ok := true
		for i := 1; i < len(at); i++ {
			ok = ok && at[i]-at[i-1] >= minGap
		}
		if ok {
			break
		}
	}
	t.Logf("kill moments: %v", at)

	var lost []lostBatch
	seen := map[string]bool{}
	for i := 1; i <= kills; i++ {
		time.Sleep(time.Until(streamStart.Add(at[i-1])))
		// Each consumer must have resumed applying batches (or caught up with a
		// finished stream) before it is killed.
		// Generous: this checks liveness, and CI machines may be loaded.
		deadline := time.Now().Add(60 * time.Second)
		for {
			n := h.applied(t)
			if n > c.appliedAtStart || (!producing() && n == produced.Load()) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: consumer pid %d applied nothing in 60s (%d of %d records applied)\n%s",
					i, c.pid, n, produced.Load(), c.output())
			}
			time.Sleep(5 * time.Millisecond)
		}
		c.kill(t)
		n := h.applied(t)
		var l []lostBatch
		for _, b := range h.lostToRedis(t) {
			// A part lost at an earlier kill shows again while its partition has had
			// nothing newer for its tenant.
			if k := b.key(); !seen[k] {
				seen[k] = true
				l = append(l, b)
			}
		}
		lost = append(lost, l...)
		t.Logf("kill %d/%d at %v into the stream: pid %d SIGKILLed with %d of %d produced records applied; %d batch parts committed to Postgres but not to Redis",
			i, kills, time.Since(streamStart).Round(time.Millisecond), c.pid, n, produced.Load(), len(l))
		// A SIGKILLed member keeps its partitions until its session times out (45 s,
		// franz-go's default, not configurable in Touchpoint): remove it from the group as
		// an operator would (KIP-571), so the restart is not a 45 s wait.
		h.evictDeadMembers(t)
		c = h.startConsumer(t)
	}

	select {
	case <-prodDone:
	case <-time.After(60 * time.Second):
		t.Fatal("the stream did not finish in 60s")
	}
	select {
	case err := <-prodErr:
		t.Fatalf("produce: %v", err)
	default:
	}
	if produced.Load() != total {
		t.Fatalf("produced %d of %d events", produced.Load(), total)
	}
	producedAt := time.Since(streamStart)
	h.waitCaughtUp(t, c, total, 90*time.Second)
	caughtUpAt := time.Since(streamStart)

	want := g.Totals()
	if n := want.Events(); n != total {
		t.Fatalf("generator counted %d events, want %d", n, total)
	}
	if diff := aggregatetest.Diff(h.postgresTotals(t), want); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's after %d kills:\n%s", kills, diff)
	}
	var archived int64
	if err := h.pool.QueryRow(context.Background(), `SELECT coalesce(sum(event_count), 0) FROM event_archive`).Scan(&archived); err != nil {
		t.Fatal(err)
	}
	if archived != total {
		t.Fatalf("archive holds %d events, want %d", archived, total)
	}
	t.Logf("Postgres exact: %d events after %d kills (stream done at %v, caught up at %v)",
		total, kills, producedAt.Round(time.Millisecond), caughtUpAt.Round(time.Millisecond))

	// The Redis view, as the consumers left it. Each batch part lost at a kill is a
	// hole no later consumer fills: it resumes after the committed offsets, and the
	// view is only rebuilt after a Redis outage, never at start-up.
	if len(lost) == 0 || !viewHoleAfterKill {
		h.eventually(t, 10*time.Second, "Redis totals without a rebuild", func() string {
			return aggregatetest.Diff(h.redisTotals(t, want), want)
		})
		t.Logf("Redis view converged without a rebuild (%d batch parts were committed to Postgres but not to Redis at kills)", len(lost))
	} else {
		// Redis plus exactly the lost batch parts must be Postgres; anything else is
		// another fault.
		lostDeltas := h.deltasOf(t, lost)
		h.eventually(t, 10*time.Second, "Redis totals plus the batch parts lost at kills", func() string {
			got := aggregate.New()
			got.Merge(h.redisDeltas(t, want))
			got.Merge(lostDeltas)
			return aggregatetest.Diff(aggregatetest.Totals(got, aggregate.Week), want)
		})
		missing := aggregatetest.Totals(lostDeltas, aggregate.Week).Events()
		t.Logf("KNOWN BUG: Redis view short by exactly %d events from %d batch parts committed to Postgres but killed before their Redis update: %s",
			missing, len(lost), describeLost(lost))
	}

	c.stop(t)
	start := time.Now()
	if _, stderr, err := runBin(t, h.env(), "", "consumer", "--rebuild-cache"); err != nil {
		t.Fatalf("consumer --rebuild-cache: %v\n%s", err, stderr)
	}
	t.Logf("consumer --rebuild-cache took %v", time.Since(start).Round(time.Millisecond))
	if diff := aggregatetest.Diff(h.redisTotals(t, want), want); diff != "" {
		t.Fatalf("Redis totals differ after --rebuild-cache:\n%s", diff)
	}
	t.Logf("total %v", time.Since(started).Round(time.Millisecond))
}

// TestRebuildCacheCommand: with the view's keys gone, `touchpoint consumer
// --rebuild-cache` restores the Redis totals from Postgres.
func TestRebuildCacheCommand(t *testing.T) {
	const total = 5_000
	h := newKillHarness(t)
	g := generator.New(generator.Config{Seed: 7, Tenants: 3, TenantPrefix: h.prefix, Clock: time.Now})
	evs := make([]events.Event, total)
	for i := range evs {
		evs[i] = g.Next()
	}
	if err := h.producer.Publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	c := h.startConsumer(t)
	h.waitCaughtUp(t, c, total, 30*time.Second)
	want := g.Totals()
	pg := h.postgresTotals(t)
	if diff := aggregatetest.Diff(pg, want); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's:\n%s", diff)
	}
	h.eventually(t, 10*time.Second, "Redis totals before the rebuild", func() string {
		return aggregatetest.Diff(h.redisTotals(t, want), want)
	})
	c.stop(t)

	if n := h.cleanRedis(); n == 0 {
		t.Fatal("no Redis keys of the test's tenants to delete")
	}
	if got := h.redisTotals(t, want).Events(); got != 0 {
		t.Fatalf("Redis still counts %d events after its keys were deleted", got)
	}
	if _, stderr, err := runBin(t, h.env(), "", "consumer", "--rebuild-cache"); err != nil {
		t.Fatalf("consumer --rebuild-cache: %v\n%s", err, stderr)
	}
	if diff := aggregatetest.Diff(h.redisTotals(t, want), pg); diff != "" {
		t.Fatalf("Redis totals differ from Postgres' after --rebuild-cache:\n%s", diff)
	}
	// The rebuilt applied offsets guard the view: a consumer started again re-applies
	// nothing.
	c = h.startConsumer(t)
	time.Sleep(2 * time.Second)
	c.stop(t)
	if diff := aggregatetest.Diff(h.redisTotals(t, want), pg); diff != "" {
		t.Fatalf("Redis totals changed after a consumer restart following the rebuild:\n%s", diff)
	}
}

// killHarness is one test's pipeline around the real binary: a kfake broker, a fresh
// database, the shared Redis, its own consumer group and tenants.
type killHarness struct {
	brokers  []string
	dbURL    string
	pool     *pgxpool.Pool
	rdb      *redis.Client
	codec    *events.Codec
	producer *streaming.Producer
	group    string
	prefix   string
}

func newKillHarness(t *testing.T) *killHarness {
	t.Helper()
	ctx := context.Background()
	h := &killHarness{brokers: startBroker(t), dbURL: storetest.DatabaseURL(t), rdb: storetest.Redis(t)}
	var err error
	if h.pool, err = store.OpenPostgres(ctx, h.dbURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.pool.Close)
	if err := streaming.EnsureTopics(ctx, h.brokers, streaming.Topics{Events: killTopic, DLQ: killDLQTopic, Partitions: killPartitions, Retention: 90 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if h.codec, err = events.NewCodec(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if h.producer, err = streaming.NewProducer(h.brokers, killTopic, h.codec, streaming.ProducerOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.producer.Close)
	id := killRandomHex(4)
	h.prefix = "k" + id + "-"
	h.group = "kill-test-" + id
	t.Cleanup(func() { h.cleanRedis() })
	return h
}

func killRandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func killSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("TOUCHPOINT_KILL_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TOUCHPOINT_KILL_SEED=%q: %v", s, err)
		}
		return n
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) >> 1
}

func (h *killHarness) env() []string {
	return []string{
		"DATABASE_URL=" + h.dbURL,
		"KAFKA_BROKERS=" + strings.Join(h.brokers, ","),
		"REDIS_URL=" + storetest.RedisURL(),
		"TOUCHPOINT_METRICS_ADDR=127.0.0.1:0",
		"KAFKA_CONSUMER_GROUP=" + h.group,
		"TOUCHPOINT_LOG_LEVEL=warn",
	}
}

// childConsumer is one `touchpoint consumer` process.
type childConsumer struct {
	cmd    *exec.Cmd
	pid    int
	stderr *procOutput
	done   chan struct{} // closed once the process has exited and been reaped
	err    error         // Wait's result, once done

	appliedAtStart int64 // records the group's stored offsets covered when it started
}

func (h *killHarness) startConsumer(t *testing.T) *childConsumer {
	t.Helper()
	cmd := exec.Command(binPath, "consumer")
	cmd.Env = append(os.Environ(), h.env()...)
	p := &childConsumer{cmd: cmd, stderr: &procOutput{}, done: make(chan struct{}), appliedAtStart: h.applied(t)}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

func (p *childConsumer) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *childConsumer) output() string {
	s := p.stderr.String()
	if len(s) > 4000 {
		s = "..." + s[len(s)-4000:]
	}
	return fmt.Sprintf("consumer pid %d output:\n%s", p.pid, s)
}

// kill SIGKILLs the process this test started, by its pid, and waits until it is gone.
func (p *childConsumer) kill(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Fatalf("consumer exited before it was killed: %v\n%s", p.err, p.output())
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL pid %d: %v", p.pid, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("pid %d still running 10s after SIGKILL", p.pid)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("pid %d ended with %v, not by SIGKILL\n%s", p.pid, p.cmd.ProcessState, p.output())
	}
}

// stop ends the process cleanly with SIGTERM; it must exit 0.
func (p *childConsumer) stop(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Fatalf("consumer exited on its own: %v\n%s", p.err, p.output())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("pid %d did not stop within 20s of SIGTERM\n%s", p.pid, p.output())
	}
	if p.err != nil {
		t.Fatalf("consumer stopped with %v\n%s", p.err, p.output())
	}
}

type procOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *procOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *procOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// applied is the number of records the group's stored offsets cover.
func (h *killHarness) applied(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := h.pool.QueryRow(context.Background(),
		`SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = $1 AND topic = $2`,
		h.group, killTopic).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (h *killHarness) waitCaughtUp(t *testing.T, c *childConsumer, produced int64, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		n := h.applied(t)
		if n == produced {
			return
		}
		if n > produced {
			t.Fatalf("stored offsets cover %d records, but only %d were produced", n, produced)
		}
		if c.exited() {
			t.Fatalf("consumer exited: %v\n%s", c.err, c.output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer applied %d of %d records in %v\n%s", n, produced, limit, c.output())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// evictDeadMembers removes every member of the group from it. It runs only while no
// consumer of the group is alive, so every member it finds is a killed process.
func (h *killHarness) evictDeadMembers(t *testing.T) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	described, err := kadm.NewClient(cl).DescribeGroups(ctx, h.group)
	if err != nil {
		t.Fatalf("describe group %s: %v", h.group, err)
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = h.group
	for _, m := range described[h.group].Members {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.MemberID
		reason := "SIGKILLed by TestConsumerSurvivesSIGKILL"
		lm.Reason = &reason
		req.Members = append(req.Members, lm)
	}
	if len(req.Members) == 0 {
		return // killed before it joined
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("remove dead members from %s: %v", h.group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("remove dead members from %s: %v", h.group, err)
	}
	for _, m := range resp.Members {
		if err := kerr.ErrorForCode(m.ErrorCode); err != nil {
			t.Fatalf("remove dead member %s from %s: %v", m.MemberID, h.group, err)
		}
	}
}

// lostBatch is the part of one archived batch, for one tenant, that Postgres committed
// while Redis never received it.
type lostBatch struct {
	tenant           string
	partition        int32
	first, last      int64
	records          []byte // the whole batch's framed records
	redisApplied     int64
	batchEventsTotal int
}

func (l lostBatch) key() string {
	return fmt.Sprintf("%s/%d@%d-%d", l.tenant, l.partition, l.first, l.last)
}

// lostToRedis, run while no consumer is alive, finds the archived batch parts that
// Postgres committed beyond the offset the Redis view records as applied for their
// tenant and partition. No later consumer applies them: it resumes after Postgres'
// offsets.
func (h *killHarness) lostToRedis(t *testing.T) []lostBatch {
	t.Helper()
	ctx := context.Background()
	// Polls are applied one after the other, and each poll's Redis update finishes
	// before the next poll: only the newest batch of a partition can be missing.
	rows, err := h.pool.Query(ctx, `SELECT DISTINCT ON (partition) partition, first_offset, last_offset, tenant_ids, event_count, records
		FROM event_archive WHERE topic = $1 ORDER BY partition, last_offset DESC`, killTopic)
	if err != nil {
		t.Fatal(err)
	}
	type batch struct {
		partition   int32
		first, last int64
		tenants     []string
		count       int
		records     []byte
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (batch, error) {
		var b batch
		err := r.Scan(&b.partition, &b.first, &b.last, &b.tenants, &b.count, &b.records)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	applied := map[string]map[int32]int64{}
	redisApplied := func(tenant string, p int32) int64 {
		if applied[tenant] == nil {
			m, err := h.rdb.HGetAll(ctx, "tp:{"+tenant+"}:applied").Result()
			if err != nil {
				t.Fatal(err)
			}
			applied[tenant] = map[int32]int64{}
			for k, v := range m {
				part, _ := strconv.ParseInt(k, 10, 32)
				off, _ := strconv.ParseInt(v, 10, 64)
				applied[tenant][int32(part)] = off
			}
		}
		if off, ok := applied[tenant][p]; ok {
			return off
		}
		return -1
	}
	var out []lostBatch
	for _, b := range all {
		for _, tenant := range b.tenants {
			if off := redisApplied(tenant, b.partition); b.last > off {
				out = append(out, lostBatch{tenant: tenant, partition: b.partition, first: b.first, last: b.last,
					records: b.records, redisApplied: off, batchEventsTotal: b.count})
			}
		}
	}
	return out
}

// deltasOf decodes the lost batch parts' events of their tenants, as the consumer
// counted them.
func (h *killHarness) deltasOf(t *testing.T, lost []lostBatch) *aggregate.Deltas {
	t.Helper()
	d := aggregate.New()
	for _, l := range lost {
		for rec := l.records; len(rec) > 0; {
			if len(rec) < 4 {
				t.Fatalf("archived batch %d@%d-%d: truncated frame", l.partition, l.first, l.last)
			}
			n := int(binary.BigEndian.Uint32(rec))
			value := rec[4 : 4+n]
			rec = rec[4+n:]
			var e events.Event
			if err := h.codec.Decode(context.Background(), value, &e); err != nil {
				t.Fatalf("archived batch %d@%d-%d: %v", l.partition, l.first, l.last, err)
			}
			if err := (events.Rules{}).Validate(&e, time.Now()); err != nil {
				t.Fatalf("archived batch %d@%d-%d: %v", l.partition, l.first, l.last, err)
			}
			if e.TenantID == l.tenant {
				d.Add(&e)
			}
		}
	}
	return d
}

func describeLost(lost []lostBatch) string {
	var parts []string
	for _, l := range lost {
		parts = append(parts, fmt.Sprintf("%s partition %d offsets %d-%d (Redis applied %d)", l.tenant, l.partition, l.first, l.last, l.redisApplied))
	}
	return strings.Join(parts, "; ")
}

// postgresTotals sums the week-level aggregates of every tenant in the database.
func (h *killHarness) postgresTotals(t *testing.T) generator.Totals {
	t.Helper()
	agg := store.Aggregates{DB: h.pool}
	tenants, err := agg.Tenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := aggregate.New()
	for _, tenant := range tenants {
		d, err := agg.Totals(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		all.Merge(d)
	}
	return aggregatetest.Totals(all, aggregate.Week)
}

// redisDeltas reads the running totals of the tenants in want from the Redis view.
func (h *killHarness) redisDeltas(t *testing.T, want generator.Totals) *aggregate.Deltas {
	t.Helper()
	rt := store.Realtime{RDB: h.rdb}
	all := aggregate.New()
	for tenant := range want.EventsByType {
		d, _, err := rt.Totals(context.Background(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		all.Merge(d)
	}
	return all
}

func (h *killHarness) redisTotals(t *testing.T, want generator.Totals) generator.Totals {
	t.Helper()
	return aggregatetest.Totals(h.redisDeltas(t, want), aggregate.Week)
}

// cleanRedis deletes the keys of the harness's tenants and reports how many.
func (h *killHarness) cleanRedis() int {
	ctx := context.Background()
	n := 0
	iter := h.rdb.Scan(ctx, 0, "tp:{"+h.prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if h.rdb.Del(ctx, iter.Val()).Err() == nil {
			n++
		}
	}
	return n
}

// eventually retries check until it returns "" or limit passes.
func (h *killHarness) eventually(t *testing.T, limit time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		diff := check()
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s:\n%s", what, diff)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
