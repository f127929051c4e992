package events

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchmarkJSONBodies are the JSON events the decode benchmarks read: a touchpoint
// interaction (the hot path's typical event) with one, two and three touchpoints, and
// one event of each other shape the pipeline sees often.
func benchmarkJSONBodies(tb testing.TB) [][]byte {
	now := time.Now()
	one := Example(TouchpointInteraction, "acme", now)
	one.Touchpoints = one.Touchpoints[:1]
	three := Example(TouchpointInteraction, "acme", now)
	three.Touchpoints = append(three.Touchpoints, Touchpoint{
		Channel: ChannelDisplay, InteractionType: "view", Timestamp: normalizeTime(now.Add(-time.Minute)),
		Metadata: map[string]string{"placement": "sidebar", "creative_id": "cr-hero-b", "viewable": "true"},
	})
	evs := []Event{
		Example(TouchpointInteraction, "acme", now), one, three,
		Example(ConversionEvent, "acme", now),
		Example(CampaignOptimization, "acme", now),
		Example(ContentOptimization, "acme", now),
	}
	bodies := make([][]byte, len(evs))
	for i := range evs {
		b, err := json.Marshal(evs[i])
		if err != nil {
			tb.Fatal(err)
		}
		bodies[i] = b
	}
	return bodies
}

// benchmarkJSONDecoder runs decode over the typical event alone and over the mix.
func benchmarkJSONDecoder(b *testing.B, decode func([]byte) (Event, error)) {
	bodies := benchmarkJSONBodies(b)
	b.Run("typical", func(b *testing.B) {
		body := bodies[0]
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mix", func(b *testing.B) {
		total := 0
		for _, body := range bodies {
			total += len(body)
		}
		b.SetBytes(int64(total / len(bodies)))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := decode(bodies[i]); err != nil {
				b.Fatal(err)
			}
			i++
			if i == len(bodies) {
				i = 0
			}
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) { benchmarkJSONDecoder(b, DecodeJSON) }

// BenchmarkDecodeJSONReference is DecodeJSON without the fast path.
func BenchmarkDecodeJSONReference(b *testing.B) { benchmarkJSONDecoder(b, decodeJSONReference) }

// checkFastPath checks DecodeJSON's fast path against encoding/json on data: the fast
// path either declines or decodes exactly what decodeJSONReference decodes, and so
// DecodeJSON answers exactly as the reference does, event and error alike. It reports
// whether the fast path took data.
func checkFastPath(t *testing.T, data []byte) bool {
	t.Helper()
	want, wantErr := decodeJSONReference(data)
	var fast Event
	took := decodeJSONFast(data, &fast)
	if took {
		if wantErr != nil {
			t.Fatalf("fast path accepted what encoding/json rejects (%v):\n%q", wantErr, data)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("fast path decoded %q otherwise than encoding/json", data)
			requireEqual(t, fast, want)
		}
	}
	got, err := DecodeJSON(data)
	if !reflect.DeepEqual(err, wantErr) {
		t.Fatalf("DecodeJSON(%q) error = %v, want %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeJSON(%q) differs from encoding/json", data)
		requireEqual(t, got, want)
	}
	return took
}

// fastPathSeeds are inputs for the differential tests: every example event in two
// layouts, the benchmark's events, and small documents that probe each rule the fast
// path copies from encoding/json. The fast path must take those in take; those in
// either, most of them errors, it may take or decline.
func fastPathSeeds(tb testing.TB) (take, either [][]byte) {
	for _, typ := range AllTypes {
		e := Example(typ, "acme", testNow)
		e.Sealed = &SealedIdentity{Token: "tok", Nonce: []byte{1, 2, 3}, Ciphertext: []byte("secret")}
		for _, marshal := range []func(any) ([]byte, error){
			json.Marshal,
			func(v any) ([]byte, error) { return json.MarshalIndent(v, "\r\n", " \t") },
		} {
			b, err := marshal(e)
			if err != nil {
				tb.Fatal(err)
			}
			take = append(take, b)
		}
	}
	take = append(take, benchmarkJSONBodies(tb)...)
	for _, s := range fastPathTakes {
		take = append(take, []byte(s))
	}
	for _, s := range fastPathEither {
		either = append(either, []byte(s))
	}
	return take, either
}

// fastPathTakes are inputs the fast path must take (and decode as the reference does).
var fastPathTakes = []string{
	`{}`,
	" \t\r\n{ \t\r\n\"event_id\" \t\r\n: \t\r\n\"a\" \t\r\n, \"tenant_id\":\"t\"} \t\r\n",
	// Nulls: pointers, slices and maps become nil, the rest stay as they are.
	`{"event_id":null,"timestamp":null,"device":null,"touchpoints":null,"changes_made":{"bid_adjustment":null,"budget_allocation":null,"creative_rotation":null}}`,
	`{"touchpoints":[null,{"metadata":{"a":null}},{"channel":null,"timestamp":null,"metadata":null}]}`,
	`{"changes_made":{"budget_allocation":{"a":null,"b":1},"creative_rotation":[null,"x"]},"performance_metrics":{"impressions":null,"cost":null}}`,
	`{"content_variations":[{"performance_metrics":null},null]}`,
	// Empty objects and arrays.
	`{"device":{},"touchpoints":[],"content_variations":[{}],"trigger_context":{"context_data":{}},"launch_config":{"creative_ids":[]}}`,
	`{"touchpoints":[{"metadata":{}}],"changes_made":{"budget_allocation":{},"creative_rotation":[]}}`,
	// Numbers.
	`{"performance_metrics":{"impressions":4611686018427387904,"clicks":-9223372036854775808,"conversions":9223372036854775807,"cost":1e15,"revenue":-0}}`,
	`{"performance_metrics":{"impressions":0,"clicks":-0,"cost":1E+2,"revenue":1.7976931348623157e308}}`,
	`{"device":{"geo":{"latitude":-1e-400,"longitude":123456789012345678901234567890}}}`,
	`{"conversion_data":{"value":0.1,"attribution_weight":5e-324},"changes_made":{"bid_adjustment":-0.0e-0}}`,
	`{"content_variations":[{"performance_metrics":{"views":1,"clicks":2,"conversions":3,"engagement_score":0.000001}}]}`,
	// Strings: escapes, surrogates, invalid UTF-8, control characters by escape.
	`{"event_id":"\u0000\"\\\/\b\f\n\r\t\u00e9\u20AC\ud83d\ude00"}`,
	`{"event_id":"\ud800","tenant_id":"\udc00x","customer_id":"\ud800\u0041","journey_id":"\ud800\ud800\udc00","segment_id":"\udbff\udfff\ud800"}`,
	"{\"event_id\":\"\xff\xfe\",\"tenant_id\":\"\xed\xa0\x80\",\"customer_id\":\"a\xe2\x82\",\"journey_id\":\"\xc0\xaf\",\"segment_id\":\"\xef\xbf\xbd\xf4\x90\x80\x80\"}",
	"{\"touchpoints\":[{\"metadata\":{\"\\u006b\xff\":\"v\\n\",\"k\":\"\\ud83d\"}}]}",
	`{"event_type":"touchpoint_interaction","channel":"email","personalization_engine":"ml_powered","segment_action":"exit","optimization_trigger":"manual_trigger"}`,
	`{"event_type":"Touchpoint_interaction","channel":"e\u006dail","touchpoints":[{"channel":"carrier pigeon"}]}`,
	// Timestamps, as time.Time takes them.
	`{"timestamp":"2026-03-14T16:09:26.535897932+01:00","touchpoints":[{"timestamp":"2026-03-14T15:09:26-23:59"},{"timestamp":"0001-01-01T00:00:00Z"}]}`,
	`{"timestamp":"9999-12-31T23:59:59.999999999Z","touchpoints":[{"timestamp":"2026-03-14T15:09:26.1Z"}]}`,
	// Repeated names: strings replaced, structs and maps merged, null kept or applied.
	`{"event_id":"a","event_id":"b","tenant_id":"t","tenant_id":null,"timestamp":"2026-03-14T15:09:26Z","timestamp":null}`,
	`{"device":{"ip":"1"},"device":{"user_id":"u","geo":{"city":"c"}},"device":{"geo":{"country":"US"}}}`,
	`{"device":{"ip":"1"},"device":null,"changes_made":{"bid_adjustment":1},"changes_made":{"bid_adjustment":2}}`,
	`{"changes_made":{"bid_adjustment":1,"bid_adjustment":null},"sealed":{"nonce":"AQ=="},"sealed":{"nonce":null}}`,
	`{"touchpoints":null,"touchpoints":[{"metadata":{"a":"1"},"metadata":{"b":"2","a":"3"}}]}`,
	`{"trigger_context":{"context_data":{"a":"1","a":"2"}},"trigger_context":{"context_data":null}}`,
	`{"content_variations":[{"performance_metrics":{"views":1},"performance_metrics":{"clicks":2}}]}`,
	// Base64 in the sealed identity, newlines and all (encoding/json ignores them).
	`{"sealed":{"token":"t","nonce":"","ciphertext":"AQID\nBA=="}}`,
	`{"sealed":{"token":"t","nonce":null,"ciphertext":"AQ\u003d\u003d"}}`,
	`{"sealed":null}`,
}

// fastPathEither are inputs the fast path may take or decline; most are errors.
var fastPathEither = []string{
	"", " ", "null", "[]", `"x"`, "1", "\ufeff{}", "{", "}", "{}{}", "{} x", "{},", "{}]", "{}\x00",
	`{"event_id":"a"`, `{"event_id":"a",}`, `{"event_id" "a"}`, `{"event_id":"a" "tenant_id":"b"}`,
	`{,"event_id":"a"}`, `{"event_id":}`, `{"event_id"}`, `{event_id:"a"}`, `{'event_id':"a"}`,
	// Names not as the tags spell them, and unknown names.
	`{"Event_ID":"a"}`, `{"EVENT_TYPE":"journey_start"}`, `{"event\u005fid":"a"}`, `{"event_id":"a","EVENT_ID":"b"}`,
	`{"bogus":1}`, `{"device":{"imei":"x"}}`, `{"tenantId":"acme"}`, "{\"event_id\x00\":\"a\"}",
	// Types.
	`{"event_id":5}`, `{"event_id":true}`, `{"event_id":{}}`, `{"event_id":[]}`, `{"device":"x"}`, `{"device":[]}`,
	`{"touchpoints":{}}`, `{"touchpoints":"x"}`, `{"touchpoints":[1]}`, `{"touchpoints":[[]]}`, `{"timestamp":1}`,
	`{"timestamp":{}}`, `{"timestamp":"yesterday"}`, `{"timestamp":"2026-03-14 15:09:26Z"}`, `{"timestamp":"2026-03-14T15:09:26"}`,
	`{"timestamp":"2026-03-14T15:09:26+24:00"}`, `{"timestamp":"2026-03-14T15:09:26,5Z"}`, `{"timestamp":"2026-03-14T5:09:26Z"}`,
	`{"timestamp":"2026-03-14T24:00:00Z"}`, `{"timestamp":"2026-03-14T23:59:60Z"}`, `{"timestamp":"2026-02-30T00:00:00Z"}`,
	`{"timestamp":"2026\u002d03-14T15:09:26Z"}`, `{"timestamp":"2026-03-14t15:09:26z"}`, `{"timestamp":"10000-01-01T00:00:00Z"}`, `{"timestamp":"-0001-01-01T00:00:00Z"}`,
	`{"metadata":{}}`, `{"touchpoints":[{"metadata":{"a":1}}]}`, `{"touchpoints":[{"metadata":{"a":"b",}}]}`,
	`{"touchpoints":[{"metadata":{"a" "b"}}]}`, `{"touchpoints":[{"metadata":{1:"b"}}]}`, `{"touchpoints":[{},]}`, `{"touchpoints":[,]}`,
	`{"changes_made":{"budget_allocation":{"a":"1"}}}`, `{"changes_made":{"bid_adjustment":"1"}}`, `{"changes_made":{"bid_adjustment":true}}`,
	`{"sealed":{"nonce":[1,2,3]}}`, `{"sealed":{"nonce":"AQI"}}`, `{"sealed":{"nonce":"!!!!"}}`, `{"sealed":{"nonce":5}}`,
	// Numbers.
	`{"performance_metrics":{"impressions":1.0}}`, `{"performance_metrics":{"impressions":1e2}}`, `{"performance_metrics":{"impressions":1.5}}`,
	`{"performance_metrics":{"impressions":9223372036854775808}}`, `{"performance_metrics":{"impressions":-9223372036854775809}}`,
	`{"performance_metrics":{"impressions":18446744073709551616}}`, `{"performance_metrics":{"impressions":99999999999999999999}}`,
	`{"performance_metrics":{"impressions":"1"}}`, `{"performance_metrics":{"impressions":01}}`, `{"performance_metrics":{"impressions":-}}`,
	`{"performance_metrics":{"impressions":+1}}`, `{"performance_metrics":{"impressions":0x10}}`, `{"performance_metrics":{"impressions":1_0}}`,
	`{"performance_metrics":{"cost":1e309}}`, `{"performance_metrics":{"cost":-1e309}}`, `{"performance_metrics":{"cost":1.}}`,
	`{"performance_metrics":{"cost":.5}}`, `{"performance_metrics":{"cost":1e}}`, `{"performance_metrics":{"cost":1e+}}`,
	`{"performance_metrics":{"cost":NaN}}`, `{"performance_metrics":{"cost":Infinity}}`, `{"performance_metrics":{"cost":-Infinity}}`,
	`{"performance_metrics":{"cost":1.5.5}}`, `{"performance_metrics":{"cost":00}}`, `{"performance_metrics":{"cost":-01.5}}`,
	`{"performance_metrics":{"cost":nul}}`, `{"performance_metrics":{"cost":nullx}}`, `{"performance_metrics":nulL}`,
	// Strings.
	"{\"event_id\":\"a\nb\"}", "{\"event_id\":\"a\x00b\"}", "{\"event_id\":\"a\x1fb\"}", `{"event_id":"\'"}`, `{"event_id":"\x41"}`,
	`{"event_id":"\u00"}`, `{"event_id":"\u00g0"}`, `{"event_id":"\U0041"}`, `{"event_id":"\`, `{"event_id":"a`, `{"event_id":"\u`,
	`{"event_id":"\ud800\u"}`, `{"event_id":"\ud800\"}`, `{"event_id":"\ud800\n"}`, `{"event_id":'a'}`,
	// Slices repeated.
	`{"touchpoints":[{"channel":"email"}],"touchpoints":[{"interaction_type":"open"}]}`,
	`{"touchpoints":[],"touchpoints":[{}]}`, `{"content_variations":[{}],"content_variations":null}`,
	`{"launch_config":{"creative_ids":["a"],"creative_ids":["b","c"]}}`,
}

func TestDecodeJSONFastMatchesReference(t *testing.T) {
	take, either := fastPathSeeds(t)
	for _, b := range take {
		if !checkFastPath(t, b) {
			t.Errorf("fast path declined %q", b)
		}
	}
	// Long strings, and bodies around MaxEventBytes: too slow to be fuzzing seeds.
	if largest := `{"termination_reason":"` + strings.Repeat("x", MaxEventBytes-25) + `"}`; !checkFastPath(t, []byte(largest)) {
		t.Errorf("fast path declined a body of MaxEventBytes")
	}
	either = append(either,
		[]byte(`{"event_id":"`+strings.Repeat("x\\u00e9\xff", 5000)+`"}`),
		[]byte(`{"termination_reason":"`+strings.Repeat("x", MaxEventBytes-24)+`"}`),
		[]byte(`{"termination_reason":"`+strings.Repeat("x", MaxEventBytes-23)+`"}`),
	)
	for _, b := range either {
		checkFastPath(t, b)
	}
}

// FuzzDecodeJSONFast holds the fast path to encoding/json on any input:
//
//	go test ./events -run '^$' -fuzz FuzzDecodeJSONFast -fuzztime 60s
func FuzzDecodeJSONFast(f *testing.F) {
	take, either := fastPathSeeds(f)
	for _, b := range append(take, either...) {
		f.Add(b)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		f.Add(randomEventJSON(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkFastPath(t, data) })
}

// TestFastPathCoversEveryField keeps the fast path in step with the Event type: an
// event with every field set must take it (a new field it does not know would send
// every event to encoding/json), and no type in the tree may decode itself
// differently from what the fast path assumes (a custom unmarshaler, a ",string").
func TestFastPathCoversEveryField(t *testing.T) {
	var e Event
	fillEveryField(t, reflect.ValueOf(&e).Elem(), "Event")
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !checkFastPath(t, b) {
		t.Fatalf("the fast path declined an event with every field set; does jsonfast.go know every field?\n%s", b)
	}
}

// fillEveryField sets v and everything under it to a value that is not zero.
func fillEveryField(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	timeType := reflect.TypeFor[time.Time]()
	if v.Type() != timeType {
		for _, iface := range []reflect.Type{reflect.TypeFor[json.Unmarshaler](), reflect.TypeFor[encoding.TextUnmarshaler]()} {
			if reflect.PointerTo(v.Type()).Implements(iface) {
				t.Fatalf("%s (%s) implements %s, which the fast path does not call", path, v.Type(), iface)
			}
		}
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Int64:
		v.SetInt(-7)
	case reflect.Float64:
		v.SetFloat(0.25)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillEveryField(t, v.Elem(), path)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{1, 2, 3})
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillEveryField(t, v.Index(0), path+"[0]")
	case reflect.Map:
		elem := reflect.New(v.Type().Elem()).Elem()
		fillEveryField(t, elem, path+"[k]")
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), elem)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(testNow.Truncate(time.Millisecond)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" || strings.Contains(opts, "string") || f.Anonymous {
				t.Fatalf("%s.%s: json tag %q is not a plain name, which is all the fast path reads", path, f.Name, f.Tag.Get("json"))
			}
			fillEveryField(t, v.Field(i), path+"."+name)
		}
	default:
		t.Fatalf("%s: the fast path has no decoder for a %s", path, v.Type())
	}
}

// plain8 must agree with plainASCII on every byte in every position, alone and next
// to other bytes that borrow or carry.
func TestPlain8(t *testing.T) {
	neighbours := []byte{'a', ' ', '~', 0x7f, 0x00, 0x1f, '"', '\\', 0x80, 0xff, '!', '#', '[', ']'}
	for pos := range 8 {
		for c := range 256 {
			for _, n := range neighbours {
				var b [8]byte
				for i := range b {
					b[i] = n
				}
				b[pos] = byte(c)
				want := true
				for _, x := range b {
					want = want && plainASCII[x]
				}
				if got := plain8(binary.LittleEndian.Uint64(b[:])); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// TestDecodeJSONFastRandomEvents checks the fast path on random events written the
// way a careless producer might: fields in any order, some repeated or in another
// case, values of the right type or not, edge-case numbers, strings and timestamps,
// nulls, and whitespace anywhere. Unlike byte-level fuzzing, most of these are valid
// JSON, so they reach the fast path's decoding rather than its syntax checks.
func TestDecodeJSONFastRandomEvents(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n, took := 20000, 0
	if testing.Short() {
		n = 2000
	}
	for range n {
		if checkFastPath(t, randomEventJSON(r)) {
			took++
		}
	}
	t.Logf("the fast path took %d of %d", took, n)
	// Both outcomes must be common for the test to test anything.
	if took < n/10 || took > n*9/10 {
		t.Fatalf("the fast path took %d of %d random events", took, n)
	}
}

// randomEventJSON returns a random JSON object shaped more or less like an Event.
func randomEventJSON(r *rand.Rand) []byte {
	var b bytes.Buffer
	g := jsonGen{r: r, b: &b}
	g.space()
	g.value(reflect.TypeFor[Event](), 0)
	g.space()
	return b.Bytes()
}

type jsonGen struct {
	r *rand.Rand
	b *bytes.Buffer
}

// Pools of tokens by kind, the first few of each the common, valid ones.
var (
	genStrings = []string{`"x"`, `"acme"`, `"email"`, `"touchpoint_interaction"`, `"campaign_launch"`, `"ml_powered"`,
		`""`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800"`, `"\u0000"`, `"a\"\\\/\b\f\n\r\t"`,
		"\"\xff\"", "\"\xe2\x82\"", "\"\xed\xa0\x80\"", `"\u00E9\u00e9"`, "\"\x7f\"", `"a\u"`, `"\'"`, "\"\t\"", `"`}
	genInts = []string{`0`, `12500`, `-7`, `-0`, `9223372036854775807`, `-9223372036854775808`,
		`9223372036854775808`, `-9223372036854775809`, `1.0`, `1e2`, `01`, `1.5`, `-`, `99999999999999999999`}
	genFloats = []string{`0.87`, `182.4`, `-122.4194`, `1e15`, `0`, `-0.0`, `5e-324`, `1.7976931348623157e308`,
		`-1e-400`, `1e309`, `1E+2`, `.5`, `1.`, `1e`, `0x10`, `NaN`}
	genTimes = []string{`"2026-03-14T15:09:26.535Z"`, `"2026-03-14T16:09:26.535897932+01:00"`, `"2026-03-14T15:09:26-23:59"`,
		`"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59.999999999Z"`, `"2026-03-14T15:09:26+24:00"`, `"2026-03-14 15:09:26Z"`,
		`"2026-03-14T15:09:26,5Z"`, `"2026\u002d03-14T15:09:26Z"`, `"yesterday"`, `1710428966`}
	genBase64 = []string{`"AQID"`, `""`, `"AQ=="`, `"AQ\nID"`, `"A"`, `"!!"`, `[1,2]`}
	genOthers = []string{`null`, `null`, `true`, `"x"`, `1`, `{}`, `[]`, `[null]`, `{"a":1}`, `nul`}
)

func (g *jsonGen) space() {
	if g.r.IntN(8) == 0 {
		g.b.WriteString([]string{" ", "\n", "\t", "\r\n  "}[g.r.IntN(4)])
	}
}

// pick writes a token of pool, mostly one of the first (valid, common) few.
func (g *jsonGen) pick(pool []string) {
	if g.r.IntN(4) != 0 {
		g.b.WriteString(pool[g.r.IntN(min(4, len(pool)))])
		return
	}
	g.b.WriteString(pool[g.r.IntN(len(pool))])
}

func (g *jsonGen) value(t reflect.Type, depth int) {
	switch g.r.IntN(25) {
	case 0, 1:
		g.b.WriteString("null")
		return
	case 2:
		g.pick(genOthers)
		return
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		g.pick(genTimes)
	case t.Kind() == reflect.String:
		g.pick(genStrings)
	case t.Kind() == reflect.Int64:
		g.pick(genInts)
	case t.Kind() == reflect.Float64:
		g.pick(genFloats)
	case t.Kind() == reflect.Pointer:
		g.value(t.Elem(), depth)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		g.pick(genBase64)
	case t.Kind() == reflect.Slice:
		g.list(func() { g.value(t.Elem(), depth+1) })
	case t.Kind() == reflect.Map:
		g.members(func() {
			g.pick(genStrings)
			g.colon()
			g.value(t.Elem(), depth+1)
		})
	case t.Kind() == reflect.Struct:
		g.object(t, depth)
	}
}

// object writes some of t's fields in random order, now and then one twice, in
// another case or unknown.
func (g *jsonGen) object(t reflect.Type, depth int) {
	fields := g.r.Perm(t.NumField())
	fields = fields[:g.r.IntN(len(fields)+1)]
	if depth == 0 && len(fields) > 8 {
		fields = fields[:8]
	}
	i := 0
	g.members(func() {
		f := t.Field(fields[g.r.IntN(i+1)]) // a repeat now and then
		if g.r.IntN(3) != 0 {
			f = t.Field(fields[i])
		}
		i++
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch g.r.IntN(40) {
		case 0:
			name = strings.ToUpper(name)
		case 1:
			name += "x"
		}
		g.b.WriteString(strconv.Quote(name))
		g.colon()
		g.value(f.Type, depth+1)
	}, len(fields))
}

func (g *jsonGen) colon() {
	g.space()
	g.b.WriteByte(':')
	g.space()
}

// members writes an object of n (random if n is not given) members.
func (g *jsonGen) members(member func(), n ...int) {
	count := g.r.IntN(4)
	if len(n) > 0 {
		count = n[0]
	}
	g.b.WriteByte('{')
	for i := range count {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.space()
		member()
		g.space()
	}
	g.b.WriteByte('}')
}

func (g *jsonGen) list(elem func()) {
	g.b.WriteByte('[')
	for i := range g.r.IntN(4) {
		if i > 0 {
			g.b.WriteByte(',')
		}
		g.space()
		elem()
		g.space()
	}
	g.b.WriteByte(']')
}
