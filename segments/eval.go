package segments

import (
	"encoding/json"
	"strings"
	"time"
)

// Profile is what a rule is evaluated against: the profile's fields by the
// schema's names. Values are float64 (or any Go integer or float type, or
// json.Number), string, bool, time.Time, []string, and for Object fields
// such as traits the map[string]any of decoded JSON (whose timestamps may be
// RFC 3339 strings). A nil value, a zero time.Time or an absent key is a
// missing field.
type Profile struct {
	Fields map[string]any
}

// Get returns the value at a dotted path (traits.plan) and whether it is
// present.
func (p Profile) Get(path string) (any, bool) {
	return getter(path)(p.Fields)
}

// Number returns a number field and whether it is present and numeric.
func (p Profile) Number(path string) (float64, bool) {
	v, _ := p.Get(path)
	return toNumber(v)
}

// Time returns a time field and whether it is present and a timestamp.
func (p Profile) Time(path string) (time.Time, bool) {
	v, _ := p.Get(path)
	return toTime(v)
}

// Rule is a compiled segment rule: its syntax tree and an evaluator built
// from closures once, so matching does no parsing, no reflection and, for
// the value types above, no allocation.
type Rule struct {
	root     Node
	eval     pred
	timeDeps bool
}

type pred func(f map[string]any, now time.Time) bool

func newRule(root Node, schema Schema) *Rule {
	c := &compiler{schema: schema}
	return &Rule{root: root, eval: c.compile(root), timeDeps: c.timeDeps}
}

// Root returns the rule's syntax tree.
func (r *Rule) Root() Node { return r.root }

// String returns the rule's canonical text; compiling it gives an equal rule.
func (r *Rule) String() string { return render(r.root) }

// Match reports whether the profile matches the rule at time now (which
// only "within" conditions use).
func (r *Rule) Match(p Profile, now time.Time) bool { return r.eval(p.Fields, now) }

// TimeDependent reports whether the rule uses "within": its result can then
// change with time alone, so its segment must also be re-evaluated
// periodically, not only when a profile changes.
func (r *Rule) TimeDependent() bool { return r.timeDeps }

type compiler struct {
	schema   Schema
	timeDeps bool
}

func (c *compiler) compile(n Node) pred {
	switch n := n.(type) {
	case *And:
		return all(c.compileAll(n.Args))
	case *Or:
		return any_(c.compileAll(n.Args))
	case *Not:
		x := c.compile(n.Arg)
		return func(f map[string]any, now time.Time) bool { return !x(f, now) }
	case *Compare:
		return c.compare(n)
	case *InList:
		return inList(getter(n.Field), n.Values)
	case *Contains:
		return contains(getter(n.Field), n.Value.Str)
	case *Between:
		return c.between(n)
	case *Exists:
		get := getter(n.Field)
		return func(f map[string]any, _ time.Time) bool { _, ok := get(f); return ok }
	case *Within:
		c.timeDeps = true
		return within(getter(n.Field), time.Duration(n.Amount)*durationUnits[n.Unit])
	case *Truth:
		get := getter(n.Field)
		return func(f map[string]any, _ time.Time) bool { v, _ := get(f); b, ok := v.(bool); return ok && b }
	}
	panic("segments: unknown node type") // unreachable: every node type is handled above
}

func (c *compiler) compileAll(ns []Node) []pred {
	ps := make([]pred, len(ns))
	for i, n := range ns {
		ps[i] = c.compile(n)
	}
	return ps
}

func all(ps []pred) pred {
	if len(ps) == 2 { // the common case, without a loop
		a, b := ps[0], ps[1]
		return func(f map[string]any, now time.Time) bool { return a(f, now) && b(f, now) }
	}
	return func(f map[string]any, now time.Time) bool {
		for _, p := range ps {
			if !p(f, now) {
				return false
			}
		}
		return true
	}
}

func any_(ps []pred) pred {
	return func(f map[string]any, now time.Time) bool {
		for _, p := range ps {
			if p(f, now) {
				return true
			}
		}
		return false
	}
}

// getter returns a function that reads a dotted path from a profile's
// fields; its bool is false when the value is missing.
func getter(path string) func(map[string]any) (any, bool) {
	head, rest, dotted := strings.Cut(path, ".")
	if !dotted {
		return func(f map[string]any) (any, bool) { v := f[head]; return v, present(v) }
	}
	segs := strings.Split(rest, ".")
	return func(f map[string]any) (any, bool) {
		v := f[head]
		for _, s := range segs {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			v = m[s]
		}
		return v, present(v)
	}
}

func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case time.Time:
		return !t.IsZero()
	case *time.Time:
		return t != nil && !t.IsZero()
	}
	return true
}

func toNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	case int32:
		return float64(n), true
	case int16:
		return float64(n), true
	case int8:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint8:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, !t.IsZero()
	case string: // a timestamp inside traits, as JSON carries it
		return parseTimeLit(t)
	}
	return time.Time{}, false
}
