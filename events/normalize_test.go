package events

import (
	"encoding/hex"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	local := testNow.In(cet) // has sub-millisecond digits
	want := testNow.Truncate(time.Millisecond)

	e := Event{
		EventType:         TouchpointInteraction,
		Timestamp:         local,
		Touchpoints:       []Touchpoint{{Timestamp: local, Metadata: map[string]string{}}},
		LaunchConfig:      &LaunchConfig{CreativeIDs: []string{}},
		ChangesMade:       &Changes{BudgetAllocation: map[string]float64{}, CreativeRotation: []string{}},
		TriggerContext:    &TriggerContext{ContextData: map[string]string{}},
		ContentVariations: []ContentVariation{},
	}
	e.Normalize()
	if e.Timestamp != want || e.Touchpoints[0].Timestamp != want {
		t.Errorf("timestamps %v and %v, want %v (UTC, milliseconds)", e.Timestamp, e.Touchpoints[0].Timestamp, want)
	}
	if e.Touchpoints[0].Metadata != nil || e.LaunchConfig.CreativeIDs != nil || e.ChangesMade.BudgetAllocation != nil ||
		e.ChangesMade.CreativeRotation != nil || e.TriggerContext.ContextData != nil || e.ContentVariations != nil {
		t.Errorf("empty collections left non-nil: %+v", e)
	}
	if e.Currency != "" {
		t.Errorf("journey event got currency %q", e.Currency)
	}

	e = Event{EventType: CampaignTermination, Touchpoints: []Touchpoint{}}
	e.Normalize()
	if e.Currency != "USD" || e.Touchpoints != nil || !e.Timestamp.IsZero() {
		t.Errorf("campaign event normalized to currency %q, touchpoints %#v, timestamp %v", e.Currency, e.Touchpoints, e.Timestamp)
	}
	e.Currency = "EUR"
	e.Normalize()
	if e.Currency != "EUR" {
		t.Errorf("currency %q overwritten", e.Currency)
	}
}

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewEventID(t *testing.T) {
	before := time.Now().UnixMilli()
	seen := make(map[string]bool)
	for range 10000 {
		id := NewEventID()
		if !uuidV7.MatchString(id) {
			t.Fatalf("%q is not a UUIDv7", id)
		}
		if seen[id] {
			t.Fatalf("%q generated twice", id)
		}
		seen[id] = true
	}

	id := NewEventID()
	raw, err := hex.DecodeString(strings.ReplaceAll(id, "-", ""))
	if err != nil {
		t.Fatal(err)
	}
	var ms int64
	for _, b := range raw[:6] {
		ms = ms<<8 | int64(b)
	}
	if ms < before || ms > time.Now().UnixMilli() {
		t.Fatalf("%q carries %d ms, want a time in [%d, now]", id, ms, before)
	}
	if r := NewEventID(); r[:8] < id[:8] {
		t.Fatalf("%q sorts before the earlier %q", r, id)
	}

	// Ordered by time across and within milliseconds (at 1/4096 ms resolution).
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	for _, later := range []time.Duration{time.Millisecond, 300 * time.Nanosecond, 500 * time.Microsecond, time.Hour} {
		a, b := newUUIDv7(t0), newUUIDv7(t0.Add(later))
		if a >= b {
			t.Errorf("ID at +%v (%s) does not sort after the one before (%s)", later, b, a)
		}
	}
}
