package events

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// The fuzz targets check properties, not just the absence of panics: decoding either
// fails with a clean error and a zero event, or yields an event that validation can
// judge and that survives another round trip through both wire forms unchanged.

func FuzzDecodeJSON(f *testing.F) {
	for _, typ := range AllTypes {
		b, err := json.Marshal(Example(typ, "acme", testNow))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"timestamp":"2026-03-14T16:09:26.123456+01:00","touchpoints":[{},{"metadata":{}}]}`))
	f.Add([]byte(`{"changes_made":{"bid_adjustment":null,"budget_allocation":{"a":-0}}}`))
	c, _, _ := newTestCodec(f)

	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeJSON(data)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("error %v (%T) is not a complete *FieldError", err, err)
			}
			if !reflect.DeepEqual(e, Event{}) {
				t.Fatal("DecodeJSON returned an event with its error")
			}
			return
		}
		_ = DefaultRules().Validate(&e, testNow) // must not panic, whatever it says

		// JSON: the decoded event is a fixed point, unless re-encoding grows it past
		// the limit (escapes, U+FFFD for invalid UTF-8, fields written explicitly) or
		// holds a time JSON cannot (a +01:00 offset can push year 9999 into 10000).
		if b, err := json.Marshal(e); err == nil && len(b) <= MaxEventBytes {
			again, err := DecodeJSON(b)
			if err != nil {
				t.Fatalf("re-encoded JSON does not decode: %v\n%s", err, b)
			}
			requireEqual(t, again, e)
		} else if err != nil && !strings.Contains(err.Error(), "year outside of range") {
			t.Fatalf("json.Marshal: %v", err)
		}

		// JSON → Avro → Event gives the same event, unless it is too big for Avro.
		rec, err := c.Encode(&e)
		if err != nil {
			if strings.Contains(err.Error(), "more than the") {
				return
			}
			t.Fatalf("Encode: %v", err)
		}
		var fromAvro Event
		if err := c.Decode(context.Background(), rec, &fromAvro); err != nil {
			if strings.Contains(err.Error(), "items in a collection") {
				return // JSON allows more items than Avro decoding; validation rejects both
			}
			t.Fatalf("Decode of an encoded JSON event: %v", err)
		}
		requireEqual(t, fromAvro, e)
	})
}

func FuzzSplitJSON(f *testing.F) {
	var batch []json.RawMessage
	for _, typ := range AllTypes {
		b, err := json.Marshal(Example(typ, "acme", testNow))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		batch = append(batch, b)
	}
	b, err := json.MarshalIndent(batch, " ", "\t")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(" [ {}, {\"a\":[1,{}]} ]\n"))

	f.Fuzz(func(t *testing.T, body []byte) {
		items, isBatch, err := SplitJSON(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Fatalf("error %v (%T) is not a complete *FieldError", err, err)
			}
			if items != nil {
				t.Fatal("SplitJSON returned items with its error")
			}
			return
		}
		// The body is valid JSON: an object, or a non-empty array of objects.
		var whole any
		if err := json.Unmarshal(body, &whole); err != nil {
			t.Fatalf("accepted a body that is not JSON: %v", err)
		}
		switch w := whole.(type) {
		case map[string]any:
			if isBatch || len(items) != 1 {
				t.Fatalf("object split into %d items, batch %v", len(items), isBatch)
			}
		case []any:
			if !isBatch || len(items) != len(w) || len(w) == 0 {
				t.Fatalf("array of %d split into %d items, batch %v", len(w), len(items), isBatch)
			}
		default:
			t.Fatalf("accepted a body that is a %T", whole)
		}
		for i, item := range items {
			var obj map[string]any
			if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
				t.Fatalf("item %d is not a JSON object: %q", i, item)
			}
		}
	})
}

func FuzzCodecDecode(f *testing.F) {
	c, reg, _ := newTestCodec(f)
	text := oldSchemaText(f)
	oldID, _, err := reg.RegisterSchema("marketing-events-v0-value", sr.Schema{Schema: text})
	if err != nil {
		f.Fatal(err)
	}
	old := avro.MustParse(text)
	for _, typ := range AllTypes {
		e := Example(typ, "acme", testNow)
		b, err := c.Encode(&e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		body, err := avro.Marshal(old, &e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire(oldID, body))
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if err := c.Decode(context.Background(), b, &e); err != nil {
			if !reflect.DeepEqual(e, Event{}) {
				t.Fatal("Decode left data in the event with its error")
			}
			return
		}
		for _, n := range []int{len(e.Touchpoints), len(e.ContentVariations)} {
			if n < 0 || n > maxCollectionItems {
				t.Fatalf("decoded a collection of %d items", n)
			}
		}
		_ = DefaultRules().Validate(&e, testNow) // must not panic, whatever it says

		// A decoded event re-encodes, and decodes again to itself.
		rec, err := c.Encode(&e)
		if err != nil {
			t.Fatalf("Encode of a decoded event: %v", err)
		}
		var again Event
		if err := c.Decode(context.Background(), rec, &again); err != nil {
			t.Fatalf("Decode of a re-encoded event: %v", err)
		}
		scrubNaNs(&e)
		scrubNaNs(&again)
		requireEqual(t, again, e)
	})
}

// scrubNaNs replaces NaNs, which Avro carries but which are unequal to themselves,
// by a value that compares equal.
func scrubNaNs(e *Event) {
	fix := func(f *float64) {
		if math.IsNaN(*f) {
			*f = -12345
		}
	}
	if d := e.Device; d != nil && d.Geo != nil {
		fix(&d.Geo.Latitude)
		fix(&d.Geo.Longitude)
	}
	if m := e.PerformanceMetrics; m != nil {
		fix(&m.Cost)
		fix(&m.Revenue)
	}
	if lc := e.LaunchConfig; lc != nil {
		fix(&lc.Budget)
	}
	if ch := e.ChangesMade; ch != nil {
		if ch.BidAdjustment != nil {
			fix(ch.BidAdjustment)
		}
		for k, v := range ch.BudgetAllocation {
			fix(&v)
			ch.BudgetAllocation[k] = v
		}
	}
	if cd := e.ConversionData; cd != nil {
		fix(&cd.Value)
		fix(&cd.AttributionWeight)
	}
	if tc := e.TriggerContext; tc != nil {
		fix(&tc.ConfidenceScore)
	}
	for i := range e.ContentVariations {
		fix(&e.ContentVariations[i].PerformanceMetrics.EngagementScore)
	}
}
