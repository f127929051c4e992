package segments

import (
	"strconv"
	"time"
)

// The checks below are shared by the text and the JSON form, so both reject
// the same rules with the same words; each form adds its own location (a
// line:column or a JSON path) to the part of the condition that is wrong.

// part says which part of a condition a check failed on.
type part int

const (
	atField part = iota
	atValue      // the compared value, the contained value or the duration
	atLow        // between's lower bound
	atHigh       // between's upper bound
	atElem       // an element of an in-list; checkFail.elem says which
	atOp         // the operator (only the JSON form can misspell it)
)

type checkFail struct {
	at   part
	elem int
	msg  string
}

func failAt(at part, msg string) *checkFail { return &checkFail{at: at, msg: msg} }

// Limits on one rule, so that a hostile or accidental rule can neither blow
// the parser's stack nor make evaluation of millions of profiles slow.
const (
	MaxSourceLen = 4096  // bytes of rule text
	MaxJSONLen   = 16384 // bytes of JSON rule
	MaxDepth     = 32    // nesting of parentheses, not, all/any/not
	MaxNodes     = 256   // conditions and operators (list elements count too)
	maxDuration  = 100 * 365 * 24 * time.Hour
)

// timeLayouts are the accepted forms of a timestamp literal.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02"}

func parseTimeLit(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

const timeExpected = `a timestamp ("2006-01-02" or RFC 3339)`

// fieldType resolves a field for a condition that needs a value (not exists).
func fieldType(s Schema, field string) (Type, *checkFail) {
	t, msg := s.resolve(field)
	if msg != "" {
		return 0, failAt(atField, msg)
	}
	if t == Object {
		return 0, failAt(atField, "field "+field+" is an object: use one of its members, as in "+field+".name")
	}
	return t, nil
}

func checkCompare(s Schema, field, op string, v Literal) (Node, *checkFail) {
	if _, ok := compareOps[op]; !ok {
		return nil, failAt(atOp, "unknown operator "+quote(op)+" (expected ==, !=, <, <=, >, >=)")
	}
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	n := &Compare{Field: field, Op: op, Value: v}
	ordering := op != "==" && op != "!="
	if v.Kind == LitNull {
		if ordering {
			return nil, failAt(atValue, "null can only be compared with == or !=")
		}
		return n, nil
	}
	if msg := checkScalar(field, t, v, ordering, "compare with"); msg != "" {
		return nil, failAt(atValue, msg)
	}
	return n, nil
}

// checkScalar checks that literal v fits field (of type t) for comparison;
// ordering restricts to types that have an order. It returns "" when it fits.
func checkScalar(field string, t Type, v Literal, ordering bool, verb string) string {
	expected := ""
	switch t {
	case Number:
		if v.Kind != LitNumber {
			expected = "a number"
		}
	case Time:
		if v.Kind != LitString {
			expected = timeExpected
		} else if _, ok := parseTimeLit(v.Str); !ok {
			expected = timeExpected
		}
	case String:
		if ordering {
			return "field " + field + " is a string: it has no order (use ==, != or in)"
		}
		if v.Kind != LitString {
			expected = "a string"
		}
	case Bool:
		if ordering {
			return "field " + field + " is a bool: it has no order (use == or !=)"
		}
		if v.Kind != LitBool {
			expected = "true or false"
		}
	case StringList:
		return "field " + field + ` is a list of strings: test membership with "value" in ` + field
	case dynamic:
		if ordering && v.Kind != LitNumber {
			expected = "a number"
		}
	}
	if expected != "" {
		return "expected " + expected + " to " + verb + " " + field + ", found " + v.describe()
	}
	return ""
}

func checkInList(s Schema, field string, vs []Literal) (Node, *checkFail) {
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	switch t {
	case Number, String, dynamic:
	default:
		return nil, failAt(atField, "field "+field+" is "+t.article()+": in [...] needs a number or string field")
	}
	if len(vs) == 0 {
		return nil, failAt(atValue, "empty list: "+field+" in [] never matches")
	}
	for i, v := range vs {
		if v.Kind != LitNumber && v.Kind != LitString {
			return nil, &checkFail{at: atElem, elem: i, msg: "expected a string or a number in the list, found " + v.describe()}
		}
		if v.Kind != vs[0].Kind {
			return nil, &checkFail{at: atElem, elem: i, msg: "list mixes types: expected " + kindName(vs[0].Kind) + ", found " + v.describe()}
		}
		if msg := checkScalar(field, t, v, false, "compare with"); msg != "" {
			return nil, &checkFail{at: atElem, elem: i, msg: msg}
		}
	}
	return &InList{Field: field, Values: vs}, nil
}

func kindName(k LitKind) string {
	if k == LitNumber {
		return "a number"
	}
	return "a string"
}

func checkContains(s Schema, v Literal, field string) (Node, *checkFail) {
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	if t != StringList && t != dynamic {
		return nil, failAt(atField, `expected a list of strings after "in", found `+t.String()+" field "+field)
	}
	if v.Kind != LitString {
		return nil, failAt(atValue, "expected a string to look for in "+field+", found "+v.describe())
	}
	return &Contains{Value: v, Field: field}, nil
}

func checkBetween(s Schema, field string, lo, hi Literal) (Node, *checkFail) {
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	if t != Number && t != Time && t != dynamic {
		return nil, failAt(atField, "field "+field+" is "+t.article()+": between needs a number or time field")
	}
	if msg := checkScalar(field, t, lo, true, "bound"); msg != "" {
		return nil, failAt(atLow, msg)
	}
	if msg := checkScalar(field, t, hi, true, "bound"); msg != "" {
		return nil, failAt(atHigh, msg)
	}
	if boundsReversed(t, lo, hi) {
		return nil, failAt(atHigh, "empty range: "+hi.String()+" is below "+lo.String())
	}
	return &Between{Field: field, Low: lo, High: hi}, nil
}

func boundsReversed(t Type, lo, hi Literal) bool {
	if t == Time {
		a, _ := parseTimeLit(lo.Str)
		b, _ := parseTimeLit(hi.Str)
		return b.Before(a)
	}
	return hi.Num < lo.Num
}

func checkExists(s Schema, field string) (Node, *checkFail) {
	if _, msg := s.resolve(field); msg != "" {
		return nil, failAt(atField, msg)
	}
	return &Exists{Field: field}, nil
}

func checkTruth(s Schema, field string) (Node, *checkFail) {
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	if t != Bool && t != dynamic {
		return nil, failAt(atField, "expected a condition, found "+t.String()+" field "+field+" (compare it, as in "+field+" == ...)")
	}
	return &Truth{Field: field}, nil
}

var durationUnits = map[string]time.Duration{
	"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

// parseDuration parses "30d": a positive whole number and one unit.
func parseDuration(s string) (int64, string, string) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	bad := "bad duration " + quote(s) + ": expected a whole number and a unit s, m, h, d or w, as in 30d"
	if i == 0 || i == len(s) {
		return 0, "", bad
	}
	unit, ok := durationUnits[s[i:]]
	if !ok {
		return 0, "", bad
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > int64(maxDuration/unit) {
		return 0, "", "bad duration " + quote(s) + ": at most 100 years"
	}
	if n == 0 {
		return 0, "", "bad duration " + quote(s) + ": must be positive"
	}
	return n, s[i:], ""
}

func checkWithin(s Schema, field, dur string) (Node, *checkFail) {
	t, f := fieldType(s, field)
	if f != nil {
		return nil, f
	}
	if t != Time && t != dynamic {
		return nil, failAt(atField, "field "+field+" is "+t.article()+": within needs a time field")
	}
	n, unit, msg := parseDuration(dur)
	if msg != "" {
		return nil, failAt(atValue, msg)
	}
	return &Within{Field: field, Amount: n, Unit: unit}, nil
}

var compareOps = map[string]struct{}{"==": {}, "!=": {}, "<": {}, "<=": {}, ">": {}, ">=": {}}
