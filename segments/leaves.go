package segments

import (
	"strings"
	"time"
)

// Evaluation semantics (two-valued, like SQL's WHERE on a NULL): any
// condition on a missing field is false, so `not` of it is true. `x != v` is
// `exists x and not x == v`: true for a present value of another type.

type getFunc = func(map[string]any) (any, bool)

// cmpFunc compares a profile value with a condition's constant: -1, 0, +1,
// and false when they cannot be compared (another type, NaN).
type cmpFunc func(v any) (int, bool)

func (c *compiler) compare(n *Compare) pred {
	get := getter(n.Field)
	if n.Value.Kind == LitNull { // == null is "is missing", != null "is present"
		want := n.Op == "!="
		return func(f map[string]any, _ time.Time) bool { _, ok := get(f); return ok == want }
	}
	t, _ := c.schema.resolve(n.Field)
	cmpv := c.comparer(t, n.Value)
	test := opTest(n.Op)
	mismatch := n.Op == "!="
	return func(f map[string]any, _ time.Time) bool {
		v, ok := get(f)
		if !ok {
			return false
		}
		c, ok := cmpv(v)
		if !ok {
			return mismatch
		}
		return test(c)
	}
}

// comparer returns the comparison of a profile value with constant lit for a
// field of type t.
func (c *compiler) comparer(t Type, lit Literal) cmpFunc {
	if t == Time {
		x, _ := parseTimeLit(lit.Str)
		return func(v any) (int, bool) {
			tv, ok := toTime(v)
			if !ok {
				return 0, false
			}
			return tv.Compare(x), true
		}
	}
	switch lit.Kind {
	case LitNumber:
		x := lit.Num
		return func(v any) (int, bool) {
			n, ok := toNumber(v)
			if !ok {
				return 0, false
			}
			return compareFloat(n, x)
		}
	case LitString:
		x := lit.Str
		return func(v any) (int, bool) {
			s, ok := v.(string)
			if !ok {
				return 0, false
			}
			return strings.Compare(s, x), true
		}
	}
	x := lit.Bool
	return func(v any) (int, bool) {
		b, ok := v.(bool)
		if !ok {
			return 0, false
		}
		if b == x {
			return 0, true
		}
		return 1, true
	}
}

func compareFloat(a, b float64) (int, bool) {
	switch {
	case a < b:
		return -1, true
	case a > b:
		return 1, true
	case a == b:
		return 0, true
	}
	return 0, false // NaN has no order
}

func opTest(op string) func(int) bool {
	switch op {
	case "==":
		return func(c int) bool { return c == 0 }
	case "!=":
		return func(c int) bool { return c != 0 }
	case "<":
		return func(c int) bool { return c < 0 }
	case "<=":
		return func(c int) bool { return c <= 0 }
	case ">":
		return func(c int) bool { return c > 0 }
	}
	return func(c int) bool { return c >= 0 }
}

func (c *compiler) between(n *Between) pred {
	get := getter(n.Field)
	t, _ := c.schema.resolve(n.Field)
	lo, hi := c.comparer(t, n.Low), c.comparer(t, n.High)
	return func(f map[string]any, _ time.Time) bool {
		v, ok := get(f)
		if !ok {
			return false
		}
		a, okA := lo(v)
		b, okB := hi(v)
		return okA && okB && a >= 0 && b <= 0
	}
}

// smallSet is the size up to which a linear scan beats a map lookup.
const smallSet = 8

func inList(get getFunc, vals []Literal) pred {
	if vals[0].Kind == LitNumber {
		nums := make([]float64, len(vals))
		for i, v := range vals {
			nums[i] = v.Num
		}
		return func(f map[string]any, _ time.Time) bool {
			v, _ := get(f)
			n, ok := toNumber(v)
			if !ok {
				return false
			}
			for _, x := range nums {
				if n == x {
					return true
				}
			}
			return false
		}
	}
	has := stringSet(vals)
	return func(f map[string]any, _ time.Time) bool {
		v, _ := get(f)
		s, ok := v.(string)
		return ok && has(s)
	}
}

func stringSet(vals []Literal) func(string) bool {
	if len(vals) <= smallSet {
		strs := make([]string, len(vals))
		for i, v := range vals {
			strs[i] = v.Str
		}
		return func(s string) bool {
			for _, x := range strs {
				if s == x {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]struct{}, len(vals))
	for _, v := range vals {
		set[v.Str] = struct{}{}
	}
	return func(s string) bool { _, ok := set[s]; return ok }
}

func contains(get getFunc, x string) pred {
	return func(f map[string]any, _ time.Time) bool {
		v, _ := get(f)
		switch l := v.(type) {
		case []string:
			for _, s := range l {
				if s == x {
					return true
				}
			}
		case []any: // a list inside traits, as JSON decodes it
			for _, e := range l {
				if s, ok := e.(string); ok && s == x {
					return true
				}
			}
		}
		return false
	}
}

// within is true for a timestamp at most d before now. Timestamps after now
// also match: a clock slightly ahead should not drop a profile that was
// just seen.
func within(get getFunc, d time.Duration) pred {
	return func(f map[string]any, now time.Time) bool {
		v, _ := get(f)
		t, ok := toTime(v)
		return ok && !t.Before(now.Add(-d))
	}
}
