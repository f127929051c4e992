package streaming_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// TestLostCommitAckKeepsDedupAndView loses the acknowledgement of a committed batch:
// Postgres commits it, then the connection drops before pgx reads the reply, so the
// consumer retries and finds the offsets already past the batch. The batch's events
// must still be remembered for deduplication (re-sent copies are not counted again)
// and must still reach the Redis view.
func TestLostCommitAckKeepsDedupAndView(t *testing.T) {
	r := newRig(t)
	drop := &ackDropper{}
	lost := &lostBatch{failed: make(chan struct{})}
	// Only the batch transactions go through the dropper: the view rebuild's
	// read-only transactions commit too and must not be the ones hit.
	st := r.stores(&store.Realtime{RDB: r.rdb})
	st.Batches = store.Batches{DB: dialedPool(t, r.pool, drop.dial, lost), Group: group}
	_, stop := r.start(t, st)
	defer stop()

	// A first chunk, fully applied and in Redis, so the view is no longer marked for
	// the rebuild every assignment triggers: from here on only the consumer's own
	// updates (or a rebuild it decides on) can bring a batch to Redis.
	g := r.generator(21)
	r.publish(t, take(g, 500))
	r.waitCaughtUp(t)
	before := g.Totals()
	eventually(t, "Redis totals before the lost acknowledgement", func() string {
		return aggregatetest.Diff(r.redisTotals(t, before), before)
	})

	fired := drop.arm()
	r.publish(t, take(g, 1000))
	select {
	case <-fired:
	case <-time.After(15 * time.Second):
		t.Fatal("no batch was committed after the dropper was armed")
	}
	// The dropper fires while pgx still waits for the reply; the commit's error, and
	// with it the batch it lost, is known once pgx has seen the connection drop.
	select {
	case <-lost.failed:
	case <-time.After(15 * time.Second):
		t.Fatal("the commit whose reply was dropped did not fail")
	}
	r.waitCaughtUp(t)
	applied := lost.events(t, r)
	t.Logf("the lost acknowledgement was of a batch of %d events", len(applied))
	if len(applied) == 0 {
		t.Fatal("the batch whose acknowledgement was lost held no events")
	}

	// Re-sent copies of events of that batch: they must be recognised as duplicates.
	r.publish(t, applied[:min(100, len(applied))])
	r.waitCaughtUp(t)
	want := g.Totals()
	if diff := aggregatetest.Diff(r.postgresTotals(t), want); diff != "" {
		t.Errorf("Postgres totals differ from the generator's (re-sent events of the batch counted again):\n%s", diff)
	}
	within(t, 10*time.Second, "Redis totals (the batch whose acknowledgement was lost must reach the view)", func() string {
		return aggregatetest.Diff(r.redisTotals(t, want), want)
	})
	checkArchived(t, r, g.Count())
}

// TestRebalanceMidWriteKeepsDedup lets consumer B join the group while consumer A's
// batch is being written: A's transaction is held open just before COMMIT until B
// has taken over partitions, loaded their deduplication sets from the archive (which
// does not have A's batch yet) and started writing the same records itself. Then
// A commits, B finds them applied already, and every event of the batch is re-sent:
// none may count twice.
func TestRebalanceMidWriteKeepsDedup(t *testing.T) {
	r := newRig(t)
	adm := groupAdmin(t, r)
	// Enough tenants (the partition key) that every partition gets events, so B
	// takes over some of the batch whichever partitions it is given.
	g := generator.New(generator.Config{Seed: 22, Tenants: 32, TenantPrefix: r.prefix, Clock: time.Now})
	// Each consumer's batches go through a traced pool of its own, straight to the
	// server (proxiedPool, given the server's own address).
	cfg := r.pool.Config()
	direct := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))

	// Published before A starts, so that A's first poll holds the whole batch.
	batch := take(g, 1000)
	r.publish(t, batch)
	gate := &commitGate{}
	held, release := gate.arm()
	stA := r.stores(nil)
	stA.Batches = store.Batches{DB: proxiedPool(t, r.pool, direct, gate), Group: group}
	_, stopA := r.start(t, stA)
	defer stopA()
	defer release() // before stopping A, which waits for the held commit
	select {
	case <-held:
	case <-time.After(15 * time.Second):
		t.Fatal("consumer A never came to commit its batch")
	}

	watch := &writeWatch{started: make(chan struct{})}
	stB := r.stores(nil)
	stB.Batches = store.Batches{DB: proxiedPool(t, r.pool, direct, watch), Group: group}
	_, stopB := r.start(t, stB)
	defer stopB()
	defer release() // B may be waiting for A's row locks
	select {
	case <-watch.started:
	case <-time.After(15 * time.Second):
		t.Fatal("consumer B never started writing records of A's batch")
	}
	// B is now waiting for A's offset row locks; let A commit.
	time.Sleep(200 * time.Millisecond)
	release()
	r.waitCaughtUp(t)
	t.Logf("partitions after the rebalance: %v", waitAssignment(t, adm, 2))

	r.publish(t, batch) // every event of the batch, re-sent
	r.waitCaughtUp(t)
	if diff := aggregatetest.Diff(r.postgresTotals(t), g.Totals()); diff != "" {
		t.Fatalf("Postgres totals differ from the generator's (re-sent events of the batch counted again):\n%s", diff)
	}
	checkArchived(t, r, g.Count())
}

// within is eventually with a deadline of its own.
func within(t *testing.T, d time.Duration, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
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

// dialedPool opens a second pool on base's database whose connections are made by
// dial and traced by tracer.
func dialedPool(t *testing.T, base *pgxpool.Pool, dial func(ctx context.Context, network, addr string) (net.Conn, error), tracer pgx.QueryTracer) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(base.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.DialFunc = dial
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// commitComplete is the server's CommandComplete message for COMMIT: type 'C', length
// 11, "COMMIT\0". It is sent only once the transaction has committed.
var commitComplete = []byte("C\x00\x00\x00\x0bCOMMIT\x00")

// ackDropper sits between pgx and the server's socket. Once armed, it watches what
// the server sends and, when the reply to a COMMIT arrives, drops the connection
// (with a reset) instead of passing the reply on: the transaction is committed, but
// the client sees a broken connection. It fires once.
type ackDropper struct {
	mu    sync.Mutex
	armed bool
	fired chan struct{}
}

func (d *ackDropper) arm() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armed, d.fired = true, make(chan struct{})
	return d.fired
}

// fire disarms the dropper and reports whether it was armed.
func (d *ackDropper) fire() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.armed {
		return false
	}
	d.armed = false
	close(d.fired)
	return true
}

func (d *ackDropper) isArmed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.armed
}

func (d *ackDropper) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &ackConn{Conn: c, d: d}, nil
}

type ackConn struct {
	net.Conn
	d    *ackDropper
	tail []byte // the last bytes passed on, for a reply split across reads
}

func (c *ackConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n == 0 || !c.d.isArmed() {
		return n, err
	}
	seen := append(c.tail, p[:n]...)
	if bytes.Contains(seen, commitComplete) && c.d.fire() {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Conn.Close()
		return 0, errors.New("connection dropped after the server's reply to COMMIT")
	}
	c.tail = append(c.tail[:0], seen[max(0, len(seen)-len(commitComplete)+1):]...)
	return n, err
}

// lostBatch is a pgx tracer that keeps the archive records each open batch
// transaction writes and, when a COMMIT fails, the records of that transaction: the
// batch whose acknowledgement the dropper took.
type lostBatch struct {
	failed chan struct{} // closed when a commit first fails

	mu      sync.Mutex
	pending map[*pgx.Conn][][]byte
	lost    [][]byte
	once    sync.Once
}

type commitKey struct{}

func (l *lostBatch) TraceQueryStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[*pgx.Conn][][]byte{}
	}
	switch {
	case strings.Contains(d.SQL, "SET LOCAL synchronous_commit"): // a batch transaction begins
		l.pending[conn] = nil
	case strings.Contains(d.SQL, "INSERT INTO event_archive") && len(d.Args) > 8:
		if records, ok := d.Args[8].([]byte); ok {
			l.pending[conn] = append(l.pending[conn], bytes.Clone(records))
		}
	case d.SQL == "commit":
		return context.WithValue(ctx, commitKey{}, true)
	}
	return ctx
}

func (l *lostBatch) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, d pgx.TraceQueryEndData) {
	if ctx.Value(commitKey{}) == nil || d.Err == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lost = append(l.lost, l.pending[conn]...)
	l.once.Do(func() { close(l.failed) })
}

// events decodes the events of the batch whose commit failed.
func (l *lostBatch) events(t *testing.T, r *rig) []events.Event {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []events.Event
	for _, blob := range l.lost {
		for len(blob) >= 4 {
			n := int(binary.BigEndian.Uint32(blob))
			e, err := streaming.DecodeRecord(context.Background(), r.codec, blob[4:4+n])
			if err != nil {
				t.Fatalf("decode a record of the lost batch: %v", err)
			}
			out = append(out, e)
			blob = blob[4+n:]
		}
	}
	return out
}

// commitGate is a pgx tracer that, once armed, holds the next COMMIT before it is
// sent until released: the transaction stays open, its row locks held and its rows
// invisible to everyone else.
type commitGate struct {
	mu      sync.Mutex
	armed   bool
	held    chan struct{}
	release chan struct{}
}

func (g *commitGate) arm() (held <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.held, g.release = true, make(chan struct{}), make(chan struct{})
	var once sync.Once
	rel := g.release
	return g.held, func() { once.Do(func() { close(rel) }) }
}

func (g *commitGate) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if d.SQL != "commit" {
		return ctx
	}
	g.mu.Lock()
	if !g.armed {
		g.mu.Unlock()
		return ctx
	}
	g.armed = false
	close(g.held)
	release := g.release
	g.mu.Unlock()
	<-release
	return ctx
}

func (g *commitGate) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// writeWatch is a pgx tracer that reports when a consumer first starts writing a
// batch (its first statement on the offsets table).
type writeWatch struct {
	once    sync.Once
	started chan struct{}
}

func (w *writeWatch) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "INSERT INTO consumer_offsets") {
		w.once.Do(func() { close(w.started) })
	}
	return ctx
}

func (w *writeWatch) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
