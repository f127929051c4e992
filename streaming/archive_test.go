package streaming_test

import (
	"context"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// TestArchiveReplayAndErase: the archive holds every accepted event, replays a range,
// and can remove one subject's events and nothing else.
func TestArchiveReplayAndErase(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tenant := r.prefix + "tenant-01"
	now := time.Now().UTC()
	var evs []events.Event
	for i, who := range []string{"cust-a", "cust-b", "cust-a", "cust-c"} {
		e := events.Example(events.AllTypes[3+i], tenant, now) // journey events carry customer ids
		e.CustomerID = who
		e.Device = &events.Device{DeviceID: "dev-" + who}
		evs = append(evs, e)
	}
	start := time.Now().Add(-time.Second)
	r.publish(t, evs)
	_, stop := r.start(t, r.stores(nil))
	r.waitCaughtUp(t)
	stop()

	archive := store.Archive{DB: r.pool}
	replayed := func() map[string]int {
		out := map[string]int{}
		err := archive.Replay(ctx, start, time.Now().Add(time.Second), func(v []byte) error {
			e, err := streaming.DecodeRecord(ctx, r.codec, v)
			out[e.CustomerID]++
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := replayed(); got["cust-a"] != 2 || got["cust-b"] != 1 || got["cust-c"] != 1 {
		t.Fatalf("replay: %v", got)
	}
	if got := func() int {
		n := 0
		_ = archive.Replay(ctx, start.Add(-time.Hour), start, func([]byte) error { n++; return nil })
		return n
	}(); got != 0 {
		t.Fatalf("a range before the events replays %d", got)
	}
	removed, err := archive.EraseSubject(ctx, tenant, "dev-cust-a", streaming.SubjectMatcher(ctx, r.codec, tenant, "dev-cust-a"))
	if err != nil || removed != 2 {
		t.Fatalf("erase removed %d, %v", removed, err)
	}
	if got := replayed(); got["cust-a"] != 0 || got["cust-b"] != 1 || got["cust-c"] != 1 {
		t.Fatalf("after erase: %v", got)
	}
	var n int
	if err := r.pool.QueryRow(ctx, `SELECT count(*) FROM event_archive WHERE subjects @> ARRAY[$1]::text[]`, tenant+":dev-cust-a").Scan(&n); err != nil || n != 0 {
		t.Fatalf("subject still indexed in %d batches (%v)", n, err)
	}
	if removed, err := archive.EraseSubject(ctx, tenant, "dev-cust-a", streaming.SubjectMatcher(ctx, r.codec, tenant, "dev-cust-a")); err != nil || removed != 0 {
		t.Fatalf("second erase: %d %v", removed, err)
	}

	// The journey rows attribution reads forget the subject too, and keep the others.
	j := store.Journeys{DB: r.pool}
	customers := func() map[string]int {
		out := map[string]int{}
		_ = j.Touchpoints(ctx, tenant, now.Add(-time.Hour), now.Add(time.Hour), func(tp store.Touchpoint) error {
			out[tp.Who.CustomerID]++
			return nil
		})
		_ = j.Conversions(ctx, tenant, now.Add(-time.Hour), now.Add(time.Hour), func(c store.Conversion) error {
			out["conversion:"+c.Who.CustomerID]++
			return nil
		})
		return out
	}
	before := customers()
	if before["cust-a"] == 0 || before["cust-b"] == 0 {
		t.Fatalf("journey rows before erase: %v", before)
	}
	erased, err := j.EraseSubject(ctx, tenant, "dev-cust-a")
	if err != nil || erased != int64(before["cust-a"]+before["conversion:cust-a"]) {
		t.Fatalf("erased %d journey elements (%v), want %d", erased, err, before["cust-a"]+before["conversion:cust-a"])
	}
	after := customers()
	if after["cust-a"] != 0 || after["conversion:cust-a"] != 0 || after["cust-b"] != before["cust-b"] || after["cust-c"] != before["cust-c"] {
		t.Fatalf("journey rows after erase: %v (before %v)", after, before)
	}
}
