package segments

import (
	"sort"
	"strings"
)

// Type is the type of a profile field as a rule sees it.
type Type uint8

const (
	// Number fields hold float64 or any Go integer/float type.
	Number Type = iota + 1
	// String fields hold a string.
	String
	// Bool fields hold a bool.
	Bool
	// Time fields hold a time.Time (the zero time counts as missing).
	Time
	// StringList fields hold a []string (or a []any of strings).
	StringList
	// Object fields hold a map[string]any (decoded JSON such as traits); a
	// rule reaches into them with dotted paths, whose values are dynamically
	// typed and checked at evaluation time.
	Object
	// dynamic is the type of a path into an Object: unknown until evaluation.
	dynamic
)

func (t Type) String() string {
	switch t {
	case Number:
		return "number"
	case String:
		return "string"
	case Bool:
		return "bool"
	case Time:
		return "time"
	case StringList:
		return "list of strings"
	case Object:
		return "object"
	case dynamic:
		return "dynamic value"
	}
	return "invalid type"
}

// article returns the type with "a"/"an", for error messages.
func (t Type) article() string {
	switch t {
	case Object:
		return "an object"
	case dynamic:
		return "a dynamic value"
	}
	return "a " + t.String()
}

// Schema lists the top-level profile fields a rule may use and their types.
// Rules are checked against it when they are saved, so a typo or a type
// error is reported to the author instead of silently matching nobody.
type Schema map[string]Type

// ProfileSchema is the schema of customer_profiles (migration 00011) plus the
// predictive scores and behaviour fields the profile is planned to carry.
func ProfileSchema() Schema {
	return Schema{
		"customer_id":            String,
		"traits":                 Object,
		"gdpr":                   Bool,
		"ccpa":                   Bool,
		"ramp_id":                String,
		"sources":                StringList,
		"source_timestamp":       Time,
		"consent_timestamp":      Time,
		"updated_at":             Time,
		"ltv":                    Number,
		"churn_probability":      Number,
		"p_alive":                Number,
		"expected_purchases_90d": Number,
		"engagement_score":       Number,
		"last_seen":              Time,
		"touchpoints_30d":        Number,
		"conversions":            Number,
		"revenue":                Number,
	}
}

// resolve returns the type of a dotted field path, or a message saying why
// the path is not valid in this schema.
func (s Schema) resolve(path string) (Type, string) {
	head, rest, dotted := strings.Cut(path, ".")
	t, ok := s[head]
	if !ok {
		msg := "unknown field " + quote(head)
		if near := s.suggest(head); near != "" {
			msg += " (did you mean " + quote(near) + "?)"
		}
		return 0, msg
	}
	if !dotted {
		return t, ""
	}
	if t != Object {
		return 0, "field " + head + " is " + t.article() + ", it has no member " + quote(rest)
	}
	return dynamic, ""
}

// suggest returns the known field closest to name by edit distance, if it is
// close enough to be a plausible typo.
func (s Schema) suggest(name string) string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names) // ties go to the alphabetically first name
	limit := 2
	if len([]rune(name)) <= 3 {
		limit = 1 // on short names two edits reach almost anything
	}
	best, bestD := "", limit+1
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance, so a swapped pair of letters ("lvt" for "ltv") costs one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
