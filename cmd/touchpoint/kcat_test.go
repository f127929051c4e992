package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
)

// TestKcatJSONLinesAreAggregatedAndReplayable: events written by a standard Kafka
// client (kcat, JSON lines) are aggregated by the real consumer process like any
// other, and `touchpoint replay` gives them back from the archive.
func TestKcatJSONLinesAreAggregatedAndReplayable(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is needed (apt-get install kcat); make tools installs it")
	}
	h := newKillHarness(t)
	tenant := h.prefix + "kcat"
	start := time.Now().Add(-time.Second).UTC()
	lines, stderr, err := runBin(t, nil, "", "example", "-tenant", tenant)
	if err != nil {
		t.Fatalf("example: %v %s", err, stderr)
	}
	cmd := exec.Command(kcat, "-P", "-b", h.brokers[0], "-t", killTopic, "-k", tenant, "-X", "partitioner=murmur2_random")
	cmd.Stdin = strings.NewReader(lines)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v %s", err, out)
	}
	c := h.startConsumer(t)
	h.waitCaughtUp(t, c, int64(len(events.AllTypes)), 30*time.Second)

	totals, err := store.Aggregates{DB: h.pool}.Totals(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string]int64{}
	for k, n := range totals.EventTypes {
		byType[k.EventType] += n
	}
	for _, typ := range events.AllTypes {
		if byType[string(typ)] != 1 {
			t.Fatalf("event types %v: want one of each", byType)
		}
	}
	c.stop(t)

	out, stderr, err := runBin(t, h.env(), "", "replay", "-from", start.Format(time.RFC3339), "-tenant", tenant)
	if err != nil {
		t.Fatalf("replay: %v %s", err, stderr)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != len(events.AllTypes) || !strings.Contains(stderr, "replayed 10 events") {
		t.Fatalf("replay printed %d lines: %s\n%s", len(got), out, stderr)
	}
	for _, l := range got {
		if e, err := events.DecodeJSON([]byte(l)); err != nil || e.TenantID != tenant {
			t.Fatalf("replayed line %q: %v", l, err)
		}
	}
}
