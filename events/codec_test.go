package events

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// testNow is the clock of these tests: sub-millisecond, so normalization matters.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535_897_932, time.UTC)

// countingTransport counts schema lookups by id on their way to the registry.
type countingTransport struct {
	next    http.RoundTripper
	lookups atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/schemas/ids/") {
		t.lookups.Add(1)
	}
	return t.next.RoundTrip(req)
}

// newTestCodec returns a Codec on a fresh in-process registry, the registry itself
// (to register other schemas) and the lookup counter.
func newTestCodec(t testing.TB) (*Codec, *srfake.Registry, *countingTransport) {
	t.Helper()
	reg := srfake.NewRegistry()
	ct := &countingTransport{next: handlerTransport{reg.Handler()}}
	cl, err := sr.NewClient(sr.URLs("http://registry.test"), sr.HTTPClient(&http.Client{Transport: ct}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCodec(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return c, reg, ct
}

// wire prefixes an Avro body with the Confluent header for schema id.
func wire(id int, body []byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{0}, uint32(id))
	return append(b, body...)
}

// requireEqual fails with both events as JSON, which shows the differing field.
func requireEqual(t *testing.T, got, want Event) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("events differ\ngot:  %s\nwant: %s", g, w)
	}
}

func TestInProcessRegistryAndNewCodecIdempotent(t *testing.T) {
	ctx := context.Background()
	reg, err := InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	c1, err := NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	if c1.SchemaID() != c2.SchemaID() || c1.SchemaID() <= 0 {
		t.Fatalf("schema ids %d and %d, want the same positive id", c1.SchemaID(), c2.SchemaID())
	}
	got, err := reg.SchemaByID(ctx, c1.SchemaID())
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != SchemaText {
		t.Fatal("the registry holds a different schema text under the codec's id")
	}
}

func TestRegistryClient(t *testing.T) {
	if _, err := RegistryClient(" , "); err == nil {
		t.Fatal("RegistryClient accepted no URL")
	}
	cl, err := RegistryClient("http://a:8081, http://b:8081")
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.OptValues(sr.URLs); !reflect.DeepEqual(got, []any{[]string{"http://a:8081", "http://b:8081"}}) {
		t.Fatalf("URLs = %v", got)
	}
}

func TestAvroRoundTripEveryType(t *testing.T) {
	c, _, _ := newTestCodec(t)
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			want := Example(typ, "acme", testNow)
			b, err := c.Encode(&want)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != c.SchemaID() {
				t.Fatalf("header % x, want magic 0 and schema id %d", b[:5], c.SchemaID())
			}
			var got Event
			if err := c.Decode(context.Background(), b, &got); err != nil {
				t.Fatal(err)
			}
			requireEqual(t, got, want)

			// AppendEncode appends to what is there. (Maps make the bytes vary.)
			b2, err := c.AppendEncode([]byte("key"), &want)
			if err != nil || string(b2[:3]) != "key" {
				t.Fatalf("AppendEncode = %q, %v", b2, err)
			}
			got = Event{}
			if err := c.Decode(context.Background(), b2[3:], &got); err != nil {
				t.Fatal(err)
			}
			requireEqual(t, got, want)
		})
	}
}

func TestJSONToAvroToEvent(t *testing.T) {
	c, _, _ := newTestCodec(t)
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			ex := Example(typ, "acme", testNow)
			// Non-UTC offsets, sub-millisecond digits and empty collections: all the
			// ways JSON can differ from what Avro carries.
			ex.Timestamp = testNow.In(time.FixedZone("CET", 3600))
			if ex.Touchpoints != nil {
				ex.Touchpoints[0].Metadata = map[string]string{}
			}
			if ex.TriggerContext != nil {
				ex.TriggerContext.ContextData = map[string]string{}
			}
			body, err := json.Marshal(ex)
			if err != nil {
				t.Fatal(err)
			}
			fromJSON, err := DecodeJSON(body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.Encode(&fromJSON)
			if err != nil {
				t.Fatal(err)
			}
			var fromAvro Event
			if err := c.Decode(context.Background(), b, &fromAvro); err != nil {
				t.Fatal(err)
			}
			requireEqual(t, fromAvro, fromJSON)
			if !fromAvro.Timestamp.Equal(testNow.Truncate(time.Millisecond)) || fromAvro.Timestamp.Location() != time.UTC {
				t.Fatalf("timestamp %v, want %v in UTC", fromAvro.Timestamp, testNow.Truncate(time.Millisecond))
			}
		})
	}
}

func TestDecodeResetsTarget(t *testing.T) {
	c, _, _ := newTestCodec(t)
	small := Example(CampaignTermination, "acme", testNow)
	b, err := c.Encode(&small)
	if err != nil {
		t.Fatal(err)
	}
	got := Example(TouchpointInteraction, "other", testNow) // fields Decode must clear
	if err := c.Decode(context.Background(), b, &got); err != nil {
		t.Fatal(err)
	}
	requireEqual(t, got, small)
}

// oldSchemaText is Schema as an earlier producer had it: without device context,
// without conversion_data.attribution_weight and without the segment fields.
func oldSchemaText(t testing.TB) string {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal([]byte(SchemaText), &s); err != nil {
		t.Fatal(err)
	}
	drop := func(fields []any, names ...string) []any {
		var kept []any
		for _, f := range fields {
			name := f.(map[string]any)["name"].(string)
			if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+name+" ") {
				kept = append(kept, f)
			}
		}
		return kept
	}
	fields := drop(s["fields"].([]any), "device", "segment_id", "segment_action")
	for _, f := range fields {
		f := f.(map[string]any)
		if f["name"] == "conversion_data" {
			rec := f["type"].([]any)[1].(map[string]any)
			rec["fields"] = drop(rec["fields"].([]any), "attribution_weight")
		}
	}
	s["fields"] = fields
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeOlderWriterSchema(t *testing.T) {
	c, reg, lookups := newTestCodec(t)
	text := oldSchemaText(t)
	oldID, _, err := reg.RegisterSchema("marketing-events-v0-value", sr.Schema{Schema: text})
	if err != nil {
		t.Fatal(err)
	}
	if oldID == c.SchemaID() {
		t.Fatal("the old schema got the current schema's id")
	}
	old, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}

	for _, typ := range []Type{ConversionEvent, SegmentUpdate} {
		t.Run(string(typ), func(t *testing.T) {
			ev := Example(typ, "acme", testNow)
			body, err := avro.Marshal(old, &ev) // fields the old schema lacks are not written
			if err != nil {
				t.Fatal(err)
			}
			want := ev
			want.Device = nil
			want.SegmentID, want.SegmentAction = "", ""
			if ev.ConversionData != nil {
				cd := *ev.ConversionData
				cd.AttributionWeight = 1 // the schema's default
				want.ConversionData = &cd
			}

			var got Event
			if err := c.Decode(context.Background(), wire(oldID, body), &got); err != nil {
				t.Fatal(err)
			}
			requireEqual(t, got, want)
		})
	}
	if n := lookups.lookups.Load(); n != 1 {
		t.Fatalf("%d registry lookups for one writer schema, want 1", n)
	}
}

func TestDecodeSameSchemaUnderAnotherID(t *testing.T) {
	c, reg, _ := newTestCodec(t)
	const mirrorID = 77 // as a registry that imported our schema might number it
	reg.SeedSchema("mirror-value", 1, mirrorID, sr.Schema{Schema: SchemaText})
	ev := Example(ContentOptimization, "acme", testNow)
	rec, err := c.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := c.Decode(context.Background(), wire(mirrorID, rec[5:]), &got); err != nil {
		t.Fatal(err)
	}
	requireEqual(t, got, ev)
	if l := c.writers[mirrorID]; l == nil || l.ws.reader != Schema {
		t.Fatal("a copy of Schema is not read with Schema itself")
	}
}

func TestDecodeConcurrentLookupsShareOneRequest(t *testing.T) {
	c, reg, lookups := newTestCodec(t)
	oldID, _, err := reg.RegisterSchema("marketing-events-v0-value", sr.Schema{Schema: oldSchemaText(t)})
	if err != nil {
		t.Fatal(err)
	}
	ev := Example(JourneyStageChange, "acme", testNow)
	old, err := avro.ParseWithCache(oldSchemaText(t), "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := avro.Marshal(old, &ev)
	if err != nil {
		t.Fatal(err)
	}
	record := wire(oldID, body)

	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() {
			var e Event
			errs <- c.Decode(context.Background(), record, &e)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := lookups.lookups.Load(); n != 1 {
		t.Fatalf("%d registry lookups, want 1", n)
	}
}

func TestDecodeUnknownSchemaIsCachedBriefly(t *testing.T) {
	c, _, lookups := newTestCodec(t)
	now := testNow
	c.nowFn = func() time.Time { return now }
	ev := Example(SegmentUpdate, "acme", testNow)
	good, err := c.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	bad := wire(4242, good[5:])

	var e Event
	for range 3 {
		if err := c.Decode(context.Background(), bad, &e); !errors.Is(err, ErrUnknownSchema) {
			t.Fatalf("err = %v, want ErrUnknownSchema", err)
		}
	}
	if n := lookups.lookups.Load(); n != 1 {
		t.Fatalf("%d lookups for one unknown id, want 1", n)
	}
	now = now.Add(negativeTTL + time.Second)
	if err := c.Decode(context.Background(), bad, &e); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("err = %v, want ErrUnknownSchema", err)
	}
	if n := lookups.lookups.Load(); n != 2 {
		t.Fatalf("%d lookups after the negative result expired, want 2", n)
	}

	// A flood of distinct ids stops reaching the registry at maxLookup ids.
	c.maxLookup = 4
	for id := 5000; id < 5010; id++ {
		if err := c.Decode(context.Background(), wire(id, good[5:]), &e); !errors.Is(err, ErrUnknownSchema) {
			t.Fatalf("id %d: err = %v, want ErrUnknownSchema", id, err)
		}
	}
	if n := lookups.lookups.Load(); n != 2+3 { // 4 remembered ids: 4242 and three new ones
		t.Fatalf("%d lookups, want 5", n)
	}
	// Once they expire, new ids are looked up again; the own schema never needed one.
	now = now.Add(negativeTTL + time.Second)
	if err := c.Decode(context.Background(), wire(6000, good[5:]), &e); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("err = %v, want ErrUnknownSchema", err)
	}
	if n := lookups.lookups.Load(); n != 6 {
		t.Fatalf("%d lookups, want 6", n)
	}
	if err := c.Decode(context.Background(), good, &e); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeIncompatibleSchemas(t *testing.T) {
	c, reg, lookups := newTestCodec(t)
	ev := Example(CampaignLaunch, "acme", testNow)
	good, err := c.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]sr.Schema{
		"missing required field": {Schema: `{"type":"record","name":"MarketingEvent","namespace":"io.touchpoint.events",
			"fields":[{"name":"event_id","type":"string"}]}`},
		"wrong field type": {Schema: strings.Replace(SchemaText, `{"name": "event_type", "type": "string"}`,
			`{"name": "event_type", "type": "long"}`, 1)},
		"not a record": {Schema: `"string"`},
		"JSON schema":  {Schema: `{"type":"object"}`, Type: sr.TypeJSON},
	} {
		t.Run(name, func(t *testing.T) {
			if name == "wrong field type" && s.Schema == SchemaText {
				t.Fatal("the schema edit did not apply")
			}
			id, _, err := reg.RegisterSchema("other-"+strings.ReplaceAll(name, " ", "-"), s)
			if err != nil {
				t.Fatal(err)
			}
			before := lookups.lookups.Load()
			var e Event
			for range 2 {
				err := c.Decode(context.Background(), wire(id, good[5:]), &e)
				if !errors.Is(err, ErrIncompatibleSchema) {
					t.Fatalf("err = %v, want ErrIncompatibleSchema", err)
				}
			}
			if n := lookups.lookups.Load() - before; n != 1 {
				t.Fatalf("%d lookups, want 1 (incompatibility is permanent)", n)
			}
			if !reflect.DeepEqual(e, Event{}) {
				t.Fatal("Decode left data in the event after an error")
			}
		})
	}
}

func TestDecodeNotWireFormat(t *testing.T) {
	c, _, _ := newTestCodec(t)
	for name, b := range map[string][]byte{
		"nil":          nil,
		"short header": {0, 0, 0, 1},
		"magic byte 1": {1, 0, 0, 0, 1, 0},
		"JSON":         []byte(`{"event_id":"x"}`),
	} {
		var e Event
		if err := c.Decode(context.Background(), b, &e); !errors.Is(err, ErrNotWireFormat) {
			t.Errorf("%s: err = %v, want ErrNotWireFormat", name, err)
		}
	}
	var e Event
	huge := wire(c.SchemaID(), make([]byte, MaxEventBytes+1))
	if err := c.Decode(context.Background(), huge, &e); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized record: err = %v", err)
	}
}

func TestDecodeTruncatedAndTrailing(t *testing.T) {
	c, _, _ := newTestCodec(t)
	for _, typ := range AllTypes {
		ev := Example(typ, "acme", testNow)
		b, err := c.Encode(&ev)
		if err != nil {
			t.Fatal(err)
		}
		for n := 5; n < len(b); n++ {
			var e Event
			if err := c.Decode(context.Background(), b[:n], &e); err == nil {
				t.Fatalf("%s truncated to %d of %d bytes decoded without error", typ, n, len(b))
			}
		}
		var e Event
		if err := c.Decode(context.Background(), append(b, 0), &e); err == nil {
			t.Fatalf("%s with a trailing byte decoded without error", typ)
		}
	}
}

// TestDecodeHostileBlockCounts covers the array counts hamba/avro alone turns into
// slices of negative length.
func TestDecodeHostileBlockCounts(t *testing.T) {
	c, _, _ := newTestCodec(t)
	ev := Example(TouchpointInteraction, "acme", testNow)
	one, none := ev, ev
	one.Touchpoints = ev.Touchpoints[:1]
	none.Touchpoints = nil
	// Without block byte sizes, an array is its count, its items and a 0 count.
	plain := avro.Config{DisableBlockSizeHeader: true}.Freeze()
	withOne, err := plain.Marshal(Schema, &one)
	if err != nil {
		t.Fatal(err)
	}
	withNone, err := plain.Marshal(Schema, &none)
	if err != nil {
		t.Fatal(err)
	}
	// The touchpoints array starts where the encodings first differ: count 1 vs 0.
	at := 0
	for withOne[at] == withNone[at] {
		at++
	}
	tpEnd := len(withOne) - (len(withNone) - at - 1) - 1 // before the closing 0 count
	prefix, tp, suffix := withOne[:at], withOne[at+1:tpEnd], withNone[at+1:]

	varint := func(n int64) []byte { return binary.AppendVarint(nil, n) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	// Sanity: reassembled, the pieces decode to the one-touchpoint event.
	var e Event
	if err := c.Decode(context.Background(), wire(c.SchemaID(), cat(prefix, varint(1), tp, varint(0), suffix)), &e); err != nil {
		t.Fatalf("reassembled record: %v", err)
	}
	requireEqual(t, e, one)

	for name, body := range map[string][]byte{
		"count MaxInt64 after a block":  cat(prefix, varint(1), tp, varint(math.MaxInt64), varint(0), suffix),
		"count MinInt64":                cat(prefix, varint(math.MinInt64), varint(0), varint(0), suffix),
		"count far beyond the bytes":    cat(prefix, varint(1_000_000), tp, varint(0), suffix),
		"negative count, negative size": cat(prefix, varint(-1), varint(-5), tp, varint(0), suffix),
		"count over the item limit":     cat(prefix, varint(maxCollectionItems+1), tp, varint(0), suffix),
	} {
		if err := c.Decode(context.Background(), wire(c.SchemaID(), body), &e); err == nil {
			t.Errorf("%s: decoded without error (%d touchpoints)", name, len(e.Touchpoints))
		}
	}
}

func TestDecodeHonoursContext(t *testing.T) {
	c, _, _ := newTestCodec(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var e Event
	if err := c.Decode(ctx, wire(777, []byte{0}), &e); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestEncodeRefusesOversizedEvents(t *testing.T) {
	c, _, _ := newTestCodec(t)
	ev := Example(CampaignTermination, "acme", testNow)
	ev.TerminationReason = strings.Repeat("x", MaxEventBytes)
	if _, err := c.Encode(&ev); err == nil {
		t.Fatal("Encode accepted an event over MaxEventBytes")
	}
	if _, err := c.Encode(nil); err == nil {
		t.Fatal("Encode accepted a nil event")
	}
}

// benchmarkEvent is the hot path's typical event: a touchpoint interaction with two
// touchpoints and device context.
func benchmarkEvent() Event { return Example(TouchpointInteraction, "acme", time.Now()) }

func BenchmarkDecode(b *testing.B) {
	c, _, _ := newTestCodec(b)
	ev := benchmarkEvent()
	rec, err := c.Encode(&ev)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	var e Event
	for b.Loop() {
		if err := c.Decode(ctx, rec, &e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c, _, _ := newTestCodec(b)
	ev := benchmarkEvent()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := c.AppendEncode(buf[:0], &ev)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}
