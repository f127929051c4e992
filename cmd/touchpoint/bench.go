package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/bench"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/migrations"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

type benchFlags struct {
	rate       float64
	duration   time.Duration
	tenants    int
	seed       uint64
	partitions int
	every      int64
	poll       time.Duration
	keep       bool
	jsonOut    bool
	cpuProfile string
	format     string        // the records' wire form: "avro" or "json"
	late       time.Duration // event times drawn from bench.Lateness up to this; 0 = now
}

func parseBenchFlags(args []string) (benchFlags, error) {
	var f benchFlags
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Float64Var(&f.rate, "rate", 0, "target events per second (0: as fast as the pipeline takes them)")
	fs.DurationVar(&f.duration, "duration", 30*time.Second, "how long to produce")
	fs.IntVar(&f.tenants, "tenants", 3, "generator tenants")
	fs.Uint64Var(&f.seed, "seed", 1, "generator seed")
	fs.IntVar(&f.partitions, "partitions", 6, "partitions of the bench topic")
	fs.Int64Var(&f.every, "sample-every", 10, "measure the latency of one event in this many")
	fs.DurationVar(&f.poll, "poll", 20*time.Millisecond, "how often the API is polled for visibility")
	fs.BoolVar(&f.keep, "keep", false, "keep the bench database and topic afterwards")
	fs.BoolVar(&f.jsonOut, "json", false, "print the report as JSON")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.StringVar(&f.format, "format", "avro", "record format: avro (Touchpoint's producers) or json (what any Kafka client writes)")
	fs.DurationVar(&f.late, "late", 0, "draw event times up to this far back (60% < 2h, 25% 2–48h, the rest older); 0: every event stamped now")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.rate < 0 || f.duration <= 0 || f.tenants < 1 || f.partitions < 1 {
		return f, errors.New("bench: -rate must be ≥ 0, -duration, -tenants and -partitions positive")
	}
	if f.format != "avro" && f.format != "json" {
		return f, fmt.Errorf("bench: -format must be avro or json, got %q", f.format)
	}
	if retention := events.DefaultRules().Retention; f.late < 0 || f.late > retention-time.Hour {
		return f, fmt.Errorf("bench: -late must be between 0 and %v (the retention less an hour), got %v", retention-time.Hour, f.late)
	}
	return f, nil
}

// benchEnv is the real pipeline, isolated for one run: its own topic and database
// on the configured (or an embedded) broker and Postgres, tenants of its own in Redis.
type benchEnv struct {
	cfg     config.Config
	d       deps
	topic   string
	prefix  string
	apiURL  string
	keys    map[string]string
	cleanup []func()
}

func (e *benchEnv) close() {
	for i := len(e.cleanup) - 1; i >= 0; i-- {
		e.cleanup[i]()
	}
}

func runBench(ctx context.Context, cfg config.Config, args []string) error {
	f, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	env, err := setupBench(ctx, cfg, f)
	defer env.close()
	if err != nil {
		return err
	}
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(f.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	r, err := measure(ctx, env, f)
	if err != nil {
		return err
	}
	if f.jsonOut {
		err = json.NewEncoder(os.Stdout).Encode(r)
	} else {
		r.print(os.Stdout)
	}
	if err == nil && !r.Exact {
		// A throughput figure over wrong totals is no figure: fail the run.
		err = errors.New("bench: the pipeline's totals differ from the generator's (see exactness above)")
	}
	return err
}

func setupBench(ctx context.Context, cfg config.Config, f benchFlags) (*benchEnv, error) {
	run := time.Now().UTC().Format("20060102t150405")
	env := &benchEnv{topic: "bench-events-" + run, prefix: "b" + run[len(run)-6:] + "-", keys: map[string]string{}}
	if _, set := os.LookupEnv("KAFKA_BROKERS"); !set {
		dir, err := os.MkdirTemp("", "touchpoint-bench-kafka")
		if err != nil {
			return env, err
		}
		b, err := streaming.StartBroker(0, dir)
		if err != nil {
			return env, err
		}
		env.cleanup = append(env.cleanup, func() { b.Close(); os.RemoveAll(dir) })
		cfg.KafkaBrokers = b.Addrs()
	}
	dbURL, drop, err := benchDatabase(ctx, cfg.DatabaseURL, "touchpoint_bench_"+run, f.keep)
	if err != nil {
		return env, err
	}
	env.cleanup = append(env.cleanup, drop)
	cfg.DatabaseURL = dbURL
	cfg.EventsTopic, cfg.DLQTopic, cfg.TopicPartitions = env.topic, env.topic+"-dlq", int32(f.partitions)
	cfg.ConsumerGroup = "bench-" + run
	env.cfg = cfg
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return env, err
	}
	if env.d, err = connectAll(ctx, cfg, false); err != nil {
		return env, err
	}
	env.cleanup = append(env.cleanup, env.d.close, func() { cleanRedis(env.d, env.prefix) })
	if _, err := migrations.Up(ctx, env.d.pool); err != nil {
		return env, err
	}
	return env, env.createTenants(ctx, f.tenants)
}

// benchDatabase creates a fresh database next to the configured one.
func benchDatabase(ctx context.Context, base, name string, keep bool) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", func() {}, fmt.Errorf("bench: DATABASE_URL: %w", err)
	}
	u.Path = "/" + name
	if err := store.EnsureDatabase(ctx, u.String()); err != nil {
		return "", func() {}, err
	}
	drop := func() {
		if keep {
			fmt.Fprintf(os.Stderr, "bench database kept: %s\n", u.Redacted())
			return
		}
		admin := *u
		admin.Path = "/postgres"
		c, err := pgx.Connect(context.Background(), admin.String())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

func cleanRedis(d deps, prefix string) {
	ctx := context.Background()
	iter := d.rdb.Scan(ctx, 0, "tp:{"+prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		d.rdb.Del(ctx, iter.Val())
	}
}

func (e *benchEnv) createTenants(ctx context.Context, n int) error {
	t := store.Tenants{DB: e.d.pool}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%stenant-%02d", e.prefix, i)
		if _, err := t.Create(ctx, id, ""); err != nil {
			return err
		}
		_, key, err := t.CreateKey(ctx, id, "bench", []string{store.ScopeIngest, store.ScopeRead})
		if err != nil {
			return err
		}
		e.keys[id] = key
	}
	return nil
}

// startPipeline runs the consumer and the API in this process until ctx ends.
func (e *benchEnv) startPipeline(ctx context.Context, wg *sync.WaitGroup) error {
	c, err := newConsumer(e.cfg, e.d)
	if err != nil {
		return err
	}
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			slog.Error("bench: consumer stopped", "err", err)
		}
	})
	srv := api.New(api.Options{Rules: events.DefaultRules(), MaxBodyBytes: 1 << 20, MaxBatchEvents: 1, TenantRate: 1, TenantBurst: 1},
		api.Deps{Tenants: store.Tenants{DB: e.d.pool}, Aggregates: store.Aggregates{DB: e.d.pool}, Realtime: &store.Realtime{RDB: e.d.rdb}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	wg.Go(func() { _ = hs.Serve(ln) })
	wg.Go(func() { <-ctx.Done(); _ = hs.Close() })
	e.apiURL = "http://" + ln.Addr().String()
	return nil
}

// getJSON calls the API as a tenant.
func (e *benchEnv) getJSON(ctx context.Context, tenant, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", e.apiURL+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.keys[tenant])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("GET %s: %d %s", path, res.StatusCode, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// pollVisibility asks the real-time endpoint, per tenant, how many events it counts.
func (e *benchEnv) pollVisibility(ctx context.Context, lat *bench.Latency, prog *bench.Progress, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var total int64
		for tenant := range e.keys {
			var rt struct {
				Events int64 `json:"events"`
			}
			if err := e.getJSON(ctx, tenant, "/v1/metrics/realtime?view=summary", &rt); err == nil {
				lat.Visible(tenant, rt.Events, time.Now())
				total += rt.Events
			}
		}
		prog.Record(time.Now(), total)
	}
}

// memory samples the process's live heap while the bench runs.
type memory struct {
	mu                  sync.Mutex
	minHeap, maxHeap    uint64
	firstHeap, lastHeap uint64
	samples             int
	timeline            []uint64 // heap in use, every 30 s
	lastTimeline        time.Time
}

// sample reads the live heap as of the last GC: unlike the heap in use, it does not
// swing with the collector's cycle (GOGC=400 lets garbage reach four times the live
// heap), so a leak shows as a rising line.
func (m *memory) sample() {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	m.mu.Lock()
	defer m.mu.Unlock()
	h := live[0].Value.Uint64()
	if m.samples == 0 {
		m.minHeap, m.firstHeap = h, h
	}
	m.minHeap, m.maxHeap, m.lastHeap = min(m.minHeap, h), max(m.maxHeap, h), h
	m.samples++
	if time.Since(m.lastTimeline) >= 30*time.Second {
		m.timeline, m.lastTimeline = append(m.timeline, h), time.Now()
	}
}

func (m *memory) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// produceFor streams generator events at the target rate for the duration, recording
// each event's capture time.
func (e *benchEnv) produceFor(ctx context.Context, f benchFlags, g *generator.Generator, lat *bench.Latency) (int64, time.Duration, error) {
	p, err := streaming.NewProducer(e.cfg.KafkaBrokers, e.topic, e.d.codec, streaming.ProducerOptions{Linger: 2 * time.Millisecond, MaxBufferedRec: 200000})
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	record := p.Record
	if f.format == "json" {
		record = jsonRecord
	}
	var failed error
	var mu sync.Mutex
	start := time.Now()
	deadline := start.Add(f.duration)
	var n int64
	for now := start; now.Before(deadline) && ctx.Err() == nil; now = time.Now() {
		// Pace by the schedule, not by sleeping per event: timer overshoot would
		// otherwise pull the achieved rate below the target.
		due := int64(1 << 62)
		if f.rate > 0 {
			due = int64(now.Sub(start).Seconds() * f.rate)
		}
		if n >= due {
			time.Sleep(time.Millisecond)
			continue
		}
		for end := min(due, n+1000); n < end; n++ {
			ev := g.Next()
			rec, err := record(&ev)
			if err != nil {
				return n, 0, err
			}
			lat.Captured(ev.TenantID, rec.Timestamp)
			p.PublishAsync(ctx, rec, func(err error) {
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			})
		}
	}
	if err := p.Flush(ctx); err != nil {
		return n, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return n, time.Since(start), failed
}

// jsonRecord is the event as any Kafka client would write it: the JSON object as the
// value, the tenant as the key, no schema registry. goccy/go-json writes the same
// bytes as encoding/json (TestBenchJSONIsEncodingJSON) at half the CPU, which the
// load generator would otherwise take from the pipeline it measures.
func jsonRecord(e *events.Event) (*kgo.Record, error) {
	value, err := gojson.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	return &kgo.Record{Key: []byte(e.TenantID), Value: value, Timestamp: time.Now()}, nil
}

// rawConsumeRate reads the whole topic with a plain consumer: the broker's ceiling.
func rawConsumeRate(ctx context.Context, brokers []string, topic string, total int64) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	var n int64
	for n < total {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return 0, fmt.Errorf("raw consume: read %d of %d", n, total)
		}
		n += int64(f.NumRecords())
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func startCPUProfile(path string) (func(), error) {
	fh, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := pprof.StartCPUProfile(fh); err != nil {
		fh.Close()
		return nil, fmt.Errorf("bench: %w", err)
	}
	return func() { pprof.StopCPUProfile(); fh.Close() }, nil
}
