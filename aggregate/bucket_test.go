package aggregate

import (
	"testing"
	"time"
)

func TestBucketStart(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		level Level
		in    string
		want  string
	}{
		{Window, "2026-03-04T10:20:34.999Z", "2026-03-04T10:20:30Z"},
		{Window, "2026-03-04T10:20:35Z", "2026-03-04T10:20:35Z"}, // exactly on a boundary
		{Window, "2026-03-04T10:20:34.999999999Z", "2026-03-04T10:20:30Z"},
		{Window, "1969-12-31T23:59:58Z", "1969-12-31T23:59:55Z"}, // floor, not truncation
		{Window, "2026-03-04T12:20:37+02:00", "2026-03-04T10:20:35Z"},
		{Hour, "2026-03-04T10:59:59.9Z", "2026-03-04T10:00:00Z"},
		{Hour, "2026-03-04T11:00:00Z", "2026-03-04T11:00:00Z"},
		{Hour, "2026-03-04T01:30:00+05:30", "2026-03-03T20:00:00Z"}, // UTC hour, not local
		{Day, "2026-03-04T23:59:59Z", "2026-03-04T00:00:00Z"},
		{Day, "2026-03-05T00:00:00Z", "2026-03-05T00:00:00Z"},
		{Day, "2026-03-05T01:00:00+02:00", "2026-03-04T00:00:00Z"},
		{Week, "2026-03-04T10:20:30Z", "2026-03-02T00:00:00Z"}, // Wednesday -> Monday
		{Week, "2026-03-08T23:59:59Z", "2026-03-02T00:00:00Z"}, // Sunday ends the week
		{Week, "2026-03-09T00:00:00Z", "2026-03-09T00:00:00Z"}, // Monday starts one
		{Week, "2026-01-01T00:00:00Z", "2025-12-29T00:00:00Z"}, // across a year
		{Week, "1970-01-01T00:00:00Z", "1969-12-29T00:00:00Z"}, // the epoch was a Thursday
	}
	for _, tt := range tests {
		got := BucketTime(BucketStart(tt.level, at(tt.in)))
		if want := at(tt.want); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("BucketStart(%s, %s) = %s, want %s", tt.level, tt.in, got, want)
		}
	}
}

// TestBucketsNest checks, over a year in irregular steps, that each level's bucket
// contains the event, starts where its definition says, and lies within the
// bucket of the next coarser level, so rollups never split a finer bucket.
func TestBucketsNest(t *testing.T) {
	width := map[Level]time.Duration{Window: WindowSize, Hour: time.Hour, Day: 24 * time.Hour, Week: 7 * 24 * time.Hour}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for ts := start; ts.Before(start.AddDate(1, 0, 0)); ts = ts.Add(97*time.Minute + 3*time.Second + 7*time.Millisecond) {
		prev := Bucket(0)
		for i, l := range Levels {
			b := BucketStart(l, ts)
			bt := BucketTime(b)
			if ts.Before(bt) || !ts.Before(bt.Add(width[l])) {
				t.Fatalf("%s bucket of %s starts at %s", l, ts, bt)
			}
			if l == Week && bt.Weekday() != time.Monday {
				t.Fatalf("week of %s starts on %s", ts, bt.Weekday())
			}
			if i > 0 && b > prev {
				t.Fatalf("%s bucket %s starts after the finer bucket %s", l, bt, BucketTime(prev))
			}
			prev = b
		}
	}
}

func TestBucketStartPanicsOnUnknownLevel(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an unknown level")
		}
	}()
	BucketStart("month", time.Now())
}
