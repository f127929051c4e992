package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/aggregate"
	"github.com/touchpoint/touchpoint/aggregate/aggregatetest"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// cleanTenant removes a test tenant's keys before and after the test.
func cleanTenant(t *testing.T, rt store.Realtime, tenant string) {
	ctx := context.Background()
	clean := func() {
		iter := rt.RDB.Scan(ctx, 0, "tp:{"+tenant+"}:*", 1000).Iterator()
		for iter.Next(ctx) {
			rt.RDB.Del(ctx, iter.Val())
		}
	}
	clean()
	t.Cleanup(clean)
}

func TestRealtimeApplyIsIdempotentAndExact(t *testing.T) {
	ctx := context.Background()
	rt := store.Realtime{RDB: storetest.Redis(t)}
	tenant := fmt.Sprintf("rt-%d", time.Now().UnixNano())
	cleanTenant(t, rt, tenant)

	g := generator.New(generator.Config{Seed: 11, Tenants: 1, Clock: time.Now})
	var batches []*aggregate.Deltas
	for range 4 {
		d := aggregate.New()
		for range 2500 {
			e := g.Next()
			e.TenantID = tenant
			d.Add(&e)
		}
		batches = append(batches, d)
	}
	for i, d := range batches {
		if ok, err := rt.Apply(ctx, tenant, 0, int64(i*2500+2499), d); err != nil || !ok {
			t.Fatalf("apply %d: %v %v", i, ok, err)
		}
	}
	// A batch re-applied after a crash (same or older offset) changes nothing.
	if ok, err := rt.Apply(ctx, tenant, 0, 2*2500+2499, batches[2]); err != nil || ok {
		t.Fatalf("replayed batch applied again: %v %v", ok, err)
	}
	want := g.Totals()
	totals, fresh, err := rt.Totals(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(fresh) > time.Minute {
		t.Fatalf("freshness %v", fresh)
	}
	all := aggregate.New()
	for _, d := range batches {
		all.Merge(d)
	}
	if diff := aggregatetest.Diff(aggregatetest.Totals(totals, aggregate.Week), aggregatetest.Totals(all, aggregate.Window)); diff != "" {
		t.Fatalf("totals differ from the applied batches:\n%s", diff)
	}
	if got, w := aggregatetest.Totals(all, aggregate.Window).Events(), want.Events(); got != w {
		t.Fatalf("events %d, generator %d", got, w)
	}
	now := aggregate.BucketStart(aggregate.Window, time.Now())
	windows, err := rt.Windows(ctx, tenant, now-3600, now+5)
	if err != nil || len(windows) == 0 {
		t.Fatalf("windows: %d, %v", len(windows), err)
	}
	sum := aggregate.New()
	for _, w := range windows {
		sum.Merge(w)
	}
	if diff := aggregatetest.Diff(aggregatetest.Totals(sum, aggregate.Window), aggregatetest.Totals(all, aggregate.Window)); diff != "" {
		t.Fatalf("windows differ:\n%s", diff)
	}

	// A rebuild from older figures than what Redis already applied is refused.
	err = rt.Replace(ctx, tenant, all.Only(aggregate.Window), all.Only(aggregate.Week), map[int32]int64{0: 100})
	if !store.IsStale(err) {
		t.Fatalf("stale rebuild: %v", err)
	}
	if err := rt.Replace(ctx, tenant, batches[0].Only(aggregate.Window), batches[0].Only(aggregate.Week), map[int32]int64{0: 9999}); err != nil {
		t.Fatal(err)
	}
	totals, _, _ = rt.Totals(ctx, tenant)
	if diff := aggregatetest.Diff(aggregatetest.Totals(totals, aggregate.Week), aggregatetest.Totals(batches[0], aggregate.Week)); diff != "" {
		t.Fatalf("rebuilt totals:\n%s", diff)
	}
}

// Late events count in the running totals, but only windows younger than the TTL
// get a key: an older one would linger beside the windows a rebuild gives.
func TestRealtimeApplyKeepsOnlyYoungWindows(t *testing.T) {
	ctx := context.Background()
	rt := store.Realtime{RDB: storetest.Redis(t), WindowTTL: time.Hour}
	tenant := fmt.Sprintf("rt-late-%d", time.Now().UnixNano())
	cleanTenant(t, rt, tenant)

	now := time.Now()
	ages := []time.Duration{time.Minute, 50 * time.Minute, 70 * time.Minute, 30 * 24 * time.Hour}
	i := 0
	g := generator.New(generator.Config{Seed: 3, Tenants: 1, Clock: func() time.Time { i++; return now.Add(-ages[i%len(ages)]) }})
	d := aggregate.New()
	for range 400 {
		e := g.Next()
		e.TenantID = tenant
		d.Add(&e)
	}
	if ok, err := rt.Apply(ctx, tenant, 0, 399, d); err != nil || !ok {
		t.Fatalf("apply: %v %v", ok, err)
	}
	totals, _, err := rt.Totals(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sumEvents(totals), int64(400); got != want {
		t.Errorf("totals count %d events, want %d", got, want)
	}
	keys, err := rt.RDB.Keys(ctx, "tp:{"+tenant+"}:w:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	young := map[string]bool{}
	for _, age := range ages[:2] {
		unix := now.Add(-age).Unix()
		young[fmt.Sprintf("tp:{%s}:w:%d", tenant, unix-unix%5)] = true
	}
	if len(keys) != len(young) {
		t.Fatalf("window keys %v, want only the two younger than the TTL %v", keys, young)
	}
	for _, k := range keys {
		if !young[k] {
			t.Errorf("window key %s is older than the TTL", k)
		}
	}
}

func sumEvents(d *aggregate.Deltas) int64 {
	var n int64
	for _, v := range d.EventTypes {
		n += v
	}
	return n
}
