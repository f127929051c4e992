package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/bench"
	"github.com/touchpoint/touchpoint/generator"
)

type benchReport struct {
	TargetRate     float64  `json:"target_rate"`
	Format         string   `json:"format"`
	Late           string   `json:"late"`
	Partitions     int      `json:"partitions"`
	Tenants        int      `json:"tenants"`
	Produced       int64    `json:"produced"`
	ProduceSeconds float64  `json:"produce_seconds"`
	ProduceRate    float64  `json:"produce_rate"`
	Throughput     float64  `json:"throughput"`  // events/s from first capture until all were visible
	SteadyRate     float64  `json:"steady_rate"` // events/s made visible between 10% and 90% of the producing time
	LatencyP50     string   `json:"latency_p50"`
	LatencyP95     string   `json:"latency_p95"`
	LatencyP99     string   `json:"latency_p99"`
	LatencyMax     string   `json:"latency_max"`
	LatencySamples int      `json:"latency_samples"`
	AllVisible     bool     `json:"all_visible"`
	Exact          bool     `json:"exact"`
	Mismatches     []string `json:"mismatches,omitempty"`
	RawConsumeRate float64  `json:"raw_consume_rate"`
	HeapFirstMB    float64  `json:"heap_first_mb"`
	HeapMaxMB      float64  `json:"heap_max_mb"`
	HeapLastMB     float64  `json:"heap_last_mb"`
	HeapTimelineMB []int    `json:"heap_timeline_mb"` // every 30 s
}

func measure(ctx context.Context, env *benchEnv, f benchFlags) (*benchReport, error) {
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	if err := env.startPipeline(runCtx, &wg); err != nil {
		return nil, err
	}
	lat := bench.NewLatency(f.every)
	var mem memory
	wg.Go(func() { mem.run(runCtx, 2*time.Second) })
	var prog bench.Progress
	wg.Go(func() { env.pollVisibility(runCtx, lat, &prog, f.poll) })

	late := bench.NewLateness(f.late, f.seed)
	clock := func() time.Time { return time.Now().Add(-late.Draw()) }
	g := generator.New(generator.Config{Seed: f.seed, Tenants: f.tenants, TenantPrefix: env.prefix, Clock: clock})
	start := time.Now()
	produced, took, err := env.produceFor(ctx, f, g, lat)
	if err != nil {
		return nil, fmt.Errorf("bench: produce: %w", err)
	}
	allVisible := waitVisible(ctx, lat, 2*time.Minute)
	end := time.Now()
	mem.sample()
	r := &benchReport{TargetRate: f.rate, Format: f.format, Late: f.late.String(), Partitions: f.partitions, Tenants: f.tenants, Produced: produced,
		ProduceSeconds: took.Seconds(), ProduceRate: float64(produced) / took.Seconds(), AllVisible: allVisible,
		Throughput: float64(produced) / end.Sub(start).Seconds(), LatencySamples: lat.Samples(),
		SteadyRate:  prog.Rate(start.Add(took/10), start.Add(took*9/10)),
		HeapFirstMB: mb(mem.firstHeap), HeapMaxMB: mb(mem.maxHeap), HeapLastMB: mb(mem.lastHeap)}
	for _, h := range mem.timeline {
		r.HeapTimelineMB = append(r.HeapTimelineMB, int(mb(h)))
	}
	p := lat.Percentiles(0.5, 0.95, 0.99, 1)
	r.LatencyP50, r.LatencyP95, r.LatencyP99, r.LatencyMax = round(p[0]), round(p[1]), round(p[2]), round(p[3])
	r.Mismatches = env.exactness(ctx, g.Totals(), start.Add(-f.late))
	r.Exact = len(r.Mismatches) == 0 && allVisible
	stop()
	if r.RawConsumeRate, err = rawConsumeRate(ctx, env.cfg.KafkaBrokers, env.topic, produced); err != nil {
		return nil, err
	}
	return r, nil
}

// waitVisible waits until every sampled event was seen through the API.
func waitVisible(ctx context.Context, lat *bench.Latency, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for lat.Pending() > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// exactness compares, tenant by tenant, the API's week-level aggregates with the
// generator's totals, once the durable aggregates caught up with the real-time view.
func (e *benchEnv) exactness(ctx context.Context, want generator.Totals, oldest time.Time) []string {
	// From the week before the oldest event's, so its week's bucket is in range.
	from := fmt.Sprintf("&from=%d", oldest.Add(-8*24*time.Hour).Unix())
	var out []string
	for tenant := range e.keys {
		var rows bench.Rows
		fetch := func(path string, dst any) error {
			var resp struct {
				Rows any `json:"rows"`
			}
			resp.Rows = dst
			return e.getJSON(ctx, tenant, path, &resp)
		}
		for path, dst := range map[string]any{
			"/v1/metrics/campaigns?level=week" + from:   &rows.Campaigns,
			"/v1/metrics/channels?level=week" + from:    &rows.Channels,
			"/v1/metrics/variants?level=week" + from:    &rows.Variants,
			"/v1/metrics/event-types?level=week" + from: &rows.EventTypes,
		} {
			if err := fetch(path, dst); err != nil {
				out = append(out, err.Error())
			}
		}
		if diff := aggregatetest.Diff(rows.Totals(tenant), want.ForTenant(tenant)); diff != "" {
			out = append(out, tenant+": "+diff)
		}
	}
	sort.Strings(out)
	return out
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func round(d time.Duration) string { return d.Round(time.Millisecond).String() }

func (r *benchReport) print(w io.Writer) {
	target := "max"
	if r.TargetRate > 0 {
		target = fmt.Sprintf("%.0f ev/s", r.TargetRate)
	}
	exact := "100% (every tenant, campaign, channel, variant and event type equals the generator's totals)"
	if !r.Exact {
		exact = fmt.Sprintf("NOT exact: all visible=%v %v", r.AllVisible, r.Mismatches)
	}
	fmt.Fprintf(w, `touchpoint bench — target %s, %s records, lateness up to %s, %d partitions, %d tenants
  produced          %d events in %.1fs (%.0f ev/s)
  end to end        %.0f ev/s steady (made visible between 10%% and 90%% of the run), %.0f ev/s including start and final drain
  latency           p50 %s  p95 %s  p99 %s  max %s  (%d samples, capture → visible in /v1/metrics/realtime)
  exactness         %s
  raw consume rate  %.0f ev/s (plain consumer on the same broker: the ceiling)
  live heap         %.0f MB at start, %.0f MB max, %.0f MB at end; every 30 s: %v MB
`, target, r.Format, r.Late, r.Partitions, r.Tenants, r.Produced, r.ProduceSeconds, r.ProduceRate, r.SteadyRate, r.Throughput,
		r.LatencyP50, r.LatencyP95, r.LatencyP99, r.LatencyMax, r.LatencySamples, exact, r.RawConsumeRate,
		r.HeapFirstMB, r.HeapMaxMB, r.HeapLastMB, r.HeapTimelineMB)
}
