package segments

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	before := map[string]bool{"a": true, "b": true, "c": false}
	after := map[string]bool{"b": true, "c": true, "d": true, "a": false}
	entered, exited := Diff(before, after)
	if !reflect.DeepEqual(entered, []string{"c", "d"}) || !reflect.DeepEqual(exited, []string{"a"}) {
		t.Fatalf("Diff = %v, %v; want [c d], [a]", entered, exited)
	}
	if e, x := Diff(after, after); e != nil || x != nil {
		t.Fatalf("Diff of equal sets = %v, %v; want none", e, x)
	}
}

func mustTracker(t *testing.T, rules map[string]string) *Tracker {
	t.Helper()
	var segs []Segment
	for id, src := range rules {
		r, err := Compile(src, testSchema())
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, Segment{ID: id, Rule: r})
	}
	tr, err := NewTracker(segs)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestTransitions walks one profile through enter, stay, exit and re-enter:
// each change yields exactly one event per segment, no change yields none.
func TestTransitions(t *testing.T) {
	tr := mustTracker(t, map[string]string{
		"high-value": `ltv >= 100`,
		"churn-risk": `churn_probability > 0.7`,
		"pro":        `traits.plan == "pro"`,
	})
	p := Profile{Fields: map[string]any{"ltv": 50.0, "churn_probability": 0.9, "traits": map[string]any{"plan": "pro"}}}
	steps := []struct {
		name   string
		ltv    float64
		churn  float64
		expect []Transition
		member []string
	}{
		{"first evaluation enters", 150, 0.9, []Transition{{"churn-risk", Enter}, {"high-value", Enter}, {"pro", Enter}}, []string{"churn-risk", "high-value", "pro"}},
		{"stay: no events", 200, 0.95, []Transition{}, []string{"churn-risk", "high-value", "pro"}},
		{"exit one, stay in others", 20, 0.95, []Transition{{"high-value", Exit}}, []string{"churn-risk", "pro"}},
		{"still out: no events", 30, 0.95, []Transition{}, []string{"churn-risk", "pro"}},
		{"re-enter and exit another", 120, 0.1, []Transition{{"churn-risk", Exit}, {"high-value", Enter}}, []string{"high-value", "pro"}},
	}
	var prev map[string]bool
	for _, s := range steps {
		p.Fields["ltv"], p.Fields["churn_probability"] = s.ltv, s.churn
		next, changes := tr.Evaluate(p, now, prev)
		if !reflect.DeepEqual(changes, s.expect) {
			t.Errorf("%s: transitions %v, want %v", s.name, changes, s.expect)
		}
		if got := members(next); !reflect.DeepEqual(got, s.member) {
			t.Errorf("%s: members %v, want %v", s.name, got, s.member)
		}
		// evaluating the same profile again is idempotent
		if _, again := tr.Evaluate(p, now, next); len(again) != 0 {
			t.Errorf("%s: re-evaluation emitted %v, want nothing", s.name, again)
		}
		prev = next
	}
}

func members(m map[string]bool) []string {
	var ids []string
	for _, id := range []string{"churn-risk", "high-value", "pro"} {
		if m[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestDeletedSegmentExits(t *testing.T) {
	tr := mustTracker(t, map[string]string{"a": `gdpr`})
	_, changes := tr.Evaluate(Profile{Fields: map[string]any{"gdpr": true}}, now, map[string]bool{"a": true, "gone": true})
	if want := []Transition{{"gone", Exit}}; !reflect.DeepEqual(changes, want) {
		t.Fatalf("transitions %v, want %v", changes, want)
	}
}

func TestNewTrackerRejectsDuplicates(t *testing.T) {
	r, _ := Compile(`gdpr`, testSchema())
	if _, err := NewTracker([]Segment{{"a", r}, {"a", r}}); err == nil || err.Error() != `segments: duplicate segment id "a"` {
		t.Fatalf("got %v, want a duplicate id error", err)
	}
}
