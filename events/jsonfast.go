package events

// A fast path for DecodeJSON: a hand-written decoder for the one schema of Event.
//
// Why hand-written rather than a library: BenchmarkDecodeJSON's events ("typical", a
// 900-byte touchpoint interaction with two touchpoints; "mix", that with one to three
// touchpoints, a conversion, a campaign optimization and a content optimization),
// decoded strictly and normalized by each candidate; go test -bench -benchtime 1s
// -count 3, median ns/op, on 2 cores shared with another engineer's benchmarks:
//
//	                                       typical   mix     B/op  allocs (typical)
//	encoding/json (decodeJSONReference)    12152   14722    4680   54
//	go-json-experiment/json, v1 options     6738    7342    1520   15
//	go-json-experiment/json, v2 options     6055    5167    1520   15
//	goccy/go-json Decoder                   5515    6516    3960   39
//	jsontext, reading its tokens only       4756    6638    2944   42
//	this decoder                            2929    2537    1504   29
//
// (With -cpu 1, which the load disturbs less: 12849, 7288, 5156 and 2283 ns for the
// typical event, encoding/json, json v2, goccy and this decoder.) The fastest library
// that keeps the strict checks, goccy's Decoder, takes about twice as long; merely
// reading jsontext's tokens, to fill the Event from them, takes longer than this whole
// decoder; and no library gives encoding/json's error texts, so each would need the
// same fall-back anyway. This decoder's allocations are the Event's own: its strings
// (one each, as with encoding/json; enum values are the constants), pointers, slices
// and maps.
//
// What it handles is the canonical form: member names exactly as the json tags spell
// them, standard JSON strings and numbers, timestamps that time.Time accepts. It
// declines (returns false) everything else, and DecodeJSON then runs encoding/json on
// the input, so that case-insensitive names, errors and their messages stay exactly
// encoding/json's. Whatever it accepts, it decodes to the same Event as encoding/json:
// each decoder below states the encoding/json rule it follows, and FuzzDecodeJSONFast
// holds it to that.
//
// Like encoding/json, every decoder decodes into the value already in place rather
// than a fresh one, because a repeated member name decodes again into what the first
// occurrence left: strings, numbers and timestamps are replaced (or kept, for null),
// structs and maps are merged into. Slices are the exception: encoding/json reuses a
// slice's elements and spare capacity in a way not worth copying, so a second
// occurrence of a slice that is already set is declined.

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSONFast decodes data into *e and normalizes it, reporting whether it could;
// when it could not, *e holds a partial event to be discarded. e must be zero.
func decodeJSONFast(data []byte, e *Event) bool {
	if len(data) > MaxEventBytes {
		return false
	}
	d := fastDecoder{data: data}
	// The top level must be an object: object would also take a null.
	if d.peek() != '{' || !d.event(e) || !d.atEnd() {
		return false
	}
	e.Normalize()
	return true
}

// fastDecoder reads one JSON document front to back. Every method that reads a value
// starts by skipping whitespace, and reports false on anything it does not handle.
type fastDecoder struct {
	data []byte
	pos  int
	// buf holds a string's unescaped bytes, reused from one string to the next.
	buf []byte
}

// The strings that enum-typed fields nearly always hold. Decoding one of them takes
// the constant instead of allocating a copy of the bytes.
var (
	allEngines        = []Engine{EngineRuleBased, EngineML, EngineRealTime}
	allTriggers       = []OptimizationTrigger{TriggerPerformanceThreshold, TriggerBudgetReallocation, TriggerManual}
	allSegmentActions = []SegmentAction{SegmentEnter, SegmentExit}
)

func (d *fastDecoder) event(e *Event) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "event_id":
			return str(d, &e.EventID, nil)
		case "event_type":
			return str(d, &e.EventType, AllTypes)
		case "tenant_id":
			return str(d, &e.TenantID, nil)
		case "timestamp":
			return d.timestamp(&e.Timestamp)
		case "device":
			return pointer(d, &e.Device, d.device)
		case "campaign_id":
			return str(d, &e.CampaignID, nil)
		case "campaign_name":
			return str(d, &e.CampaignName, nil)
		case "channel":
			return str(d, &e.Channel, AllChannels)
		case "currency":
			return str(d, &e.Currency, nil)
		case "performance_metrics":
			return pointer(d, &e.PerformanceMetrics, d.campaignMetrics)
		case "launch_config":
			return pointer(d, &e.LaunchConfig, d.launchConfig)
		case "optimization_trigger":
			return str(d, &e.OptimizationTrigger, allTriggers)
		case "changes_made":
			return pointer(d, &e.ChangesMade, d.changes)
		case "termination_reason":
			return str(d, &e.TerminationReason, nil)
		case "customer_id":
			return str(d, &e.CustomerID, nil)
		case "journey_id":
			return str(d, &e.JourneyID, nil)
		case "current_stage":
			return str(d, &e.CurrentStage, nil)
		case "previous_stage":
			return str(d, &e.PreviousStage, nil)
		case "touchpoints":
			return slice(d, &e.Touchpoints, d.touchpoint)
		case "entry_point":
			return pointer(d, &e.EntryPoint, d.entryPoint)
		case "initial_context":
			return pointer(d, &e.InitialContext, d.initialContext)
		case "conversion_data":
			return pointer(d, &e.ConversionData, d.conversionData)
		case "personalization_engine":
			return str(d, &e.PersonalizationEngine, allEngines)
		case "trigger_context":
			return pointer(d, &e.TriggerContext, d.triggerContext)
		case "content_variations":
			return slice(d, &e.ContentVariations, d.contentVariation)
		case "segment_id":
			return str(d, &e.SegmentID, nil)
		case "segment_action":
			return str(d, &e.SegmentAction, allSegmentActions)
		case "sealed":
			return pointer(d, &e.Sealed, d.sealed)
		}
		return false
	})
}

func (d *fastDecoder) device(v *Device) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "device_id":
			return str(d, &v.DeviceID, nil)
		case "anonymous_id":
			return str(d, &v.AnonymousID, nil)
		case "user_id":
			return str(d, &v.UserID, nil)
		case "ip":
			return str(d, &v.IP, nil)
		case "user_agent":
			return str(d, &v.UserAgent, nil)
		case "geo":
			return pointer(d, &v.Geo, d.geo)
		}
		return false
	})
}

func (d *fastDecoder) geo(v *Geo) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "country":
			return str(d, &v.Country, nil)
		case "region":
			return str(d, &v.Region, nil)
		case "city":
			return str(d, &v.City, nil)
		case "latitude":
			return d.float(&v.Latitude)
		case "longitude":
			return d.float(&v.Longitude)
		}
		return false
	})
}

func (d *fastDecoder) campaignMetrics(v *CampaignMetrics) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "impressions":
			return d.integer(&v.Impressions)
		case "clicks":
			return d.integer(&v.Clicks)
		case "conversions":
			return d.integer(&v.Conversions)
		case "cost":
			return d.float(&v.Cost)
		case "revenue":
			return d.float(&v.Revenue)
		}
		return false
	})
}

func (d *fastDecoder) launchConfig(v *LaunchConfig) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "target_audience":
			return str(d, &v.TargetAudience, nil)
		case "budget":
			return d.float(&v.Budget)
		case "duration":
			return str(d, &v.Duration, nil)
		case "creative_ids":
			return slice(d, &v.CreativeIDs, d.plainString)
		}
		return false
	})
}

func (d *fastDecoder) changes(v *Changes) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "bid_adjustment":
			return d.floatPointer(&v.BidAdjustment)
		case "audience_targeting":
			return str(d, &v.AudienceTargeting, nil)
		case "budget_allocation":
			return mapOf(d, &v.BudgetAllocation, d.floatValue)
		case "creative_rotation":
			return slice(d, &v.CreativeRotation, d.plainString)
		}
		return false
	})
}

func (d *fastDecoder) touchpoint(v *Touchpoint) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "channel":
			return str(d, &v.Channel, AllChannels)
		case "interaction_type":
			return str(d, &v.InteractionType, nil)
		case "timestamp":
			return d.timestamp(&v.Timestamp)
		case "metadata":
			return mapOf(d, &v.Metadata, d.stringValue)
		}
		return false
	})
}

func (d *fastDecoder) entryPoint(v *EntryPoint) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "source":
			return str(d, &v.Source, nil)
		case "medium":
			return str(d, &v.Medium, nil)
		case "campaign":
			return str(d, &v.Campaign, nil)
		case "content":
			return str(d, &v.Content, nil)
		case "term":
			return str(d, &v.Term, nil)
		}
		return false
	})
}

func (d *fastDecoder) initialContext(v *InitialContext) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "device_type":
			return str(d, &v.DeviceType, nil)
		case "location":
			return str(d, &v.Location, nil)
		case "referral_source":
			return str(d, &v.ReferralSource, nil)
		}
		return false
	})
}

func (d *fastDecoder) conversionData(v *ConversionData) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "value":
			return d.float(&v.Value)
		case "currency":
			return str(d, &v.Currency, nil)
		case "attribution_weight":
			return d.float(&v.AttributionWeight)
		}
		return false
	})
}

func (d *fastDecoder) triggerContext(v *TriggerContext) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "behavior_pattern":
			return str(d, &v.BehaviorPattern, nil)
		case "context_data":
			return mapOf(d, &v.ContextData, d.stringValue)
		case "confidence_score":
			return d.float(&v.ConfidenceScore)
		}
		return false
	})
}

func (d *fastDecoder) contentVariation(v *ContentVariation) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "variant_id":
			return str(d, &v.VariantID, nil)
		case "content_type":
			return str(d, &v.ContentType, nil)
		case "performance_metrics":
			return d.variantMetrics(&v.PerformanceMetrics)
		}
		return false
	})
}

func (d *fastDecoder) variantMetrics(v *VariantMetrics) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "views":
			return d.integer(&v.Views)
		case "clicks":
			return d.integer(&v.Clicks)
		case "conversions":
			return d.integer(&v.Conversions)
		case "engagement_score":
			return d.float(&v.EngagementScore)
		}
		return false
	})
}

func (d *fastDecoder) sealed(v *SealedIdentity) bool {
	return d.object(func(name []byte) bool {
		switch string(name) {
		case "token":
			return str(d, &v.Token, nil)
		case "nonce":
			return d.blob(&v.Nonce)
		case "ciphertext":
			return d.blob(&v.Ciphertext)
		}
		return false
	})
}

// object decodes a JSON object into the struct that member fills: member decodes
// the value of the member called name, or returns false for a name it does not know.
// A null leaves the struct as it is, as encoding/json does.
//
// Names are compared as they stand, so a name with an escape or in another case
// (which encoding/json matches case-insensitively) is unknown here and declined.
func (d *fastDecoder) object(member func(name []byte) bool) bool {
	switch d.peek() {
	case 'n':
		return d.null()
	case '{':
		d.pos++
	default:
		return false
	}
	if d.peek() == '}' {
		d.pos++
		return true
	}
	for {
		name, ok := d.name()
		if !ok || !member(name) {
			return false
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// name reads a member name and the colon after it. The name ends at the first
// quote: if it holds a backslash, that quote may be an escaped one, but then the name
// is no json tag (none has a backslash) and is declined as unknown anyway.
func (d *fastDecoder) name() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.pos + 1
	n := bytes.IndexByte(d.data[start:], '"')
	if n < 0 {
		return nil, false
	}
	d.pos = start + n + 1
	if d.peek() != ':' {
		return nil, false
	}
	d.pos++
	return d.data[start : start+n], true
}

// pointer decodes a JSON object into the struct *dst points to, allocating it if
// *dst is nil, and null into a nil *dst: encoding/json's rules for pointers.
//
// decode, like the decode of slice and mapOf, is a method value bound to d
// (d.device), not a method expression taking d ((*fastDecoder).device): handing d
// to a function value would make the compiler move it to the heap.
func pointer[T any](d *fastDecoder, dst **T, decode func(*T) bool) bool {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.null()
	case '{':
		if *dst == nil {
			*dst = new(T)
		}
		return decode(*dst)
	}
	return false
}

// slice decodes a JSON array into *dst, each element with decode, and null into a
// nil slice. Elements start at their zero value, so that a null element stays zero
// as with encoding/json, which also makes [] an empty slice that is not nil.
func slice[T any](d *fastDecoder, dst *[]T, decode func(*T) bool) bool {
	if *dst != nil {
		return false // a repeated name: see the file comment
	}
	switch d.peek() {
	case 'n':
		return d.null()
	case '[':
		d.pos++
	default:
		return false
	}
	if d.peek() == ']' {
		d.pos++
		*dst = []T{}
		return true
	}
	// Room for the typical one to three touchpoints or variations at once.
	s := make([]T, 0, 4)
	for {
		var zero T
		s = append(s, zero)
		if !decode(&s[len(s)-1]) {
			return false
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			*dst = s
			return true
		default:
			return false
		}
	}
}

// mapOf decodes a JSON object into the map *dst, making it if it is nil, and null
// into a nil map. As with encoding/json, keys are unescaped like any string, a
// repeated key's last value wins, and each value is decoded from a fresh zero value,
// which decode returns for null.
func mapOf[V any](d *fastDecoder, dst *map[string]V, decode func() (V, bool)) bool {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.null()
	case '{':
		d.pos++
	default:
		return false
	}
	if *dst == nil {
		*dst = make(map[string]V)
	}
	if d.peek() == '}' {
		d.pos++
		return true
	}
	for {
		if d.peek() != '"' {
			return false
		}
		key, ok := d.unquote()
		if !ok {
			return false
		}
		k := string(key)
		if d.peek() != ':' {
			return false
		}
		d.pos++
		v, ok := decode()
		if !ok {
			return false
		}
		(*dst)[k] = v
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// str decodes a JSON string into *dst, taking the element of known it equals, if
// any, rather than a new copy. A null leaves *dst as it is, as encoding/json does for
// strings.
func str[T ~string](d *fastDecoder, dst *T, known []T) bool {
	switch d.peek() {
	case 'n':
		return d.null()
	case '"':
		b, ok := d.unquote()
		if !ok {
			return false
		}
		for _, k := range known {
			if string(k) == string(b) {
				*dst = k
				return true
			}
		}
		*dst = T(b)
		return true
	}
	return false
}

// plainString is str for strings without known values, as an element decoder.
func (d *fastDecoder) plainString(dst *string) bool { return str(d, dst, nil) }

// stringValue decodes a JSON string, or null as "", as a map value decoder.
func (d *fastDecoder) stringValue() (string, bool) {
	var s string
	return s, str(d, &s, nil)
}

// floatValue decodes a JSON number, or null as 0, as a map value decoder.
func (d *fastDecoder) floatValue() (float64, bool) {
	var f float64
	return f, d.float(&f)
}

// timestamp decodes a JSON string into *dst with time.Time's own UnmarshalJSON, handed
// the string's raw bytes quotes included, exactly as encoding/json hands them; it
// also ignores null.
func (d *fastDecoder) timestamp(dst *time.Time) bool {
	switch d.peek() {
	case 'n':
		return d.null()
	case '"':
		start := d.pos
		if _, _, ok := d.scanString(); !ok {
			return false
		}
		return dst.UnmarshalJSON(d.data[start:d.pos]) == nil
	}
	return false
}

// blob decodes a JSON string holding standard base64 into *dst, as encoding/json
// does for []byte, and null into nil. encoding/json also accepts an array of numbers:
// declined here.
func (d *fastDecoder) blob(dst *[]byte) bool {
	switch d.peek() {
	case 'n':
		*dst = nil
		return d.null()
	case '"':
		s, ok := d.unquote()
		if !ok {
			return false
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		*dst = b[:n]
		return err == nil
	}
	return false
}

// null reads the literal null.
func (d *fastDecoder) null() bool {
	if len(d.data)-d.pos < 4 || string(d.data[d.pos:d.pos+4]) != "null" {
		return false
	}
	d.pos += 4
	return true
}

// integer decodes a JSON number into *dst as encoding/json does for int64, by
// strconv.ParseInt: an integer without fraction or exponent, in range. A null
// leaves *dst as it is.
func (d *fastDecoder) integer(dst *int64) bool {
	if d.peek() == 'n' {
		return d.null()
	}
	end, integer := d.scanNumber()
	if end < 0 || !integer {
		return false
	}
	n, ok := parseInt(d.data[d.pos:end])
	if !ok {
		return false
	}
	*dst = n
	d.pos = end
	return true
}

// parseInt is strconv.ParseInt(string(b), 10, 64) for b a JSON integer (which
// scanNumber has checked), minus the conversion to a string.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	// 19 digits cannot overflow a uint64, and anything longer than 19 digits
	// (JSON integers have no leading zeros) is out of int64's range anyway.
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		n = n*10 + uint64(c-'0')
	}
	switch {
	case neg && n <= 1<<63:
		return int64(-n), true
	case !neg && n < 1<<63:
		return int64(n), true
	}
	return 0, false
}

// float decodes a JSON number into *dst as encoding/json does for float64, by
// strconv.ParseFloat, which rejects what is out of range. A null leaves *dst as it is.
func (d *fastDecoder) float(dst *float64) bool {
	if d.peek() == 'n' {
		return d.null()
	}
	end, _ := d.scanNumber()
	if end < 0 {
		return false
	}
	f, err := strconv.ParseFloat(string(d.data[d.pos:end]), 64)
	if err != nil {
		return false
	}
	*dst = f
	d.pos = end
	return true
}

// floatPointer decodes a JSON number into the float64 *dst points to, allocating it
// if *dst is nil, and null into a nil *dst.
func (d *fastDecoder) floatPointer(dst **float64) bool {
	if d.peek() == 'n' {
		*dst = nil
		return d.null()
	}
	f := *dst
	if f == nil {
		f = new(float64)
	}
	if !d.float(f) {
		return false
	}
	*dst = f
	return true
}

// scanNumber checks that a JSON number starts at d.pos, returning the offset just
// after it (-1 if there is none) and whether it is an integer (no fraction or
// exponent). It is the grammar of RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *fastDecoder) scanNumber() (end int, integer bool) {
	b, i := d.data, d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		if i = skipDigits(b, i+1); !isDigit(b[i-1]) {
			return -1, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = skipDigits(b, i); !isDigit(b[i-1]) {
			return -1, false
		}
	}
	return i, integer
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// unquote reads the JSON string at d.pos and returns its value as encoding/json
// decodes it. The bytes are the input's own when the string needs no decoding,
// or else d.buf's: either way they are only good until the next call.
func (d *fastDecoder) unquote() ([]byte, bool) {
	raw, plain, ok := d.scanString()
	if !ok || plain {
		return raw, ok
	}
	d.buf, ok = appendUnquoted(d.buf[:0], raw)
	return d.buf, ok
}

// scanString checks the JSON string whose opening quote is at d.pos and moves past
// it, returning its contents between the quotes and whether they are plain: without
// escapes and valid UTF-8, so that they are the string's value as they stand. Like
// encoding/json it takes invalid UTF-8 (which unquoting replaces), not control
// characters.
func (d *fastDecoder) scanString() (raw []byte, plain, ok bool) {
	b := d.data
	start := d.pos + 1
	plain = true
	for i := start; ; {
		for len(b)-i >= 8 && plain8(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		if i >= len(b) {
			return nil, false, false
		}
		c := b[i]
		switch {
		case plainASCII[c]:
			i++
		case c == '"':
			d.pos = i + 1
			return b[start:i], plain, true
		case c == '\\':
			n := escapeLen(b[i:])
			if n == 0 {
				return nil, false, false
			}
			plain = false
			i += n
		case c < ' ':
			return nil, false, false
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
}

// plain8 reports whether the eight bytes packed in x are all plainASCII, testing them
// at once with the carry tricks of "Bit Twiddling Hacks" (hasless, haszero): for each
// test, a byte's high bit ends up set if the byte fails it, and possibly (which only
// sends scanString the slow way) if a lower byte does.
func plain8(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	control := x - ones*' '
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return (control&^x|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&highs == 0
}

// plainASCII marks the bytes that stand for themselves in a JSON string: ASCII but
// for control characters, the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// escapeLen returns the length of the JSON escape that s starts with, or 0 if s does
// not start with one. JSON has fewer escapes than Go: no \' for one.
func escapeLen(s []byte) int {
	if len(s) < 2 || s[0] != '\\' {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := hex4(s[2:]); ok {
			return 6
		}
	}
	return 0
}

// hex4 decodes the four hex digits that s starts with.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// unescapes maps the letter of a one-letter escape to the byte it stands for.
var unescapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// appendUnquoted appends the value of the JSON string contents s to b as encoding/json
// (unquoteBytes) computes it: escapes decoded, a \u escape of a surrogate joined
// with the next into one rune if they form a pair and U+FFFD if not, and each byte of
// invalid UTF-8 replaced by U+FFFD.
func appendUnquoted(b, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			n := escapeLen(s[i:])
			switch n {
			case 0:
				return b, false
			case 2:
				b = append(b, unescapes[s[i+1]])
			case 6:
				r, next := unescapeU(s[i:])
				b = utf8.AppendRune(b, r)
				n = next
			}
			i += n
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r) // RuneError for invalid UTF-8
			i += size
		}
	}
	return b, true
}

// unescapeU decodes the \u escape that s starts with (escapeLen has checked it),
// returning the rune and how many bytes it took: 12 for a surrogate pair written as
// two escapes, else 6.
func unescapeU(s []byte) (rune, int) {
	r, _ := hex4(s[2:])
	if !utf16.IsSurrogate(r) {
		return r, 6
	}
	if escapeLen(s[6:]) == 6 { // another \u escape

		r2, _ := hex4(s[8:])
		if pair := utf16.DecodeRune(r, r2); pair != unicode.ReplacementChar {
			return pair, 12
		}
	}
	return unicode.ReplacementChar, 6
}

// peek skips whitespace and returns the next byte, or 0 at the end of the input.
func (d *fastDecoder) peek() byte {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return d.data[d.pos] // the usual case: no whitespace
	}
	for ; d.pos < len(d.data); d.pos++ {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// atEnd skips whitespace and reports whether that is all there was left.
func (d *fastDecoder) atEnd() bool {
	d.peek()
	return d.pos == len(d.data)
}
