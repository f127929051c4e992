package segments

import (
	"encoding/json"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func sampleProfile() Profile {
	return Profile{Fields: map[string]any{
		"customer_id":       "c1",
		"country":           "DE",
		"ltv":               250.0,
		"churn_probability": 0.8,
		"engagement_score":  int64(55),
		"conversions":       json.Number("3"),
		"gdpr":              false,
		"ccpa":              true,
		"sources":           []string{"segment", "mparticle"},
		"last_seen":         now.Add(-48 * time.Hour),
		"updated_at":        time.Time{}, // zero: missing
		"traits": map[string]any{
			"plan":    "pro",
			"tags":    []any{"vip", "beta"},
			"age":     41.0,
			"beta":    true,
			"signup":  "2026-11-01T00:00:00Z",
			"address": map[string]any{"city": "Berlin"},
			"nothing": nil,
		},
	}}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		src  string
		want bool
	}{
		{`churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr`, true},
		{`engagement_score between 40 and 80 or "vip" in traits.tags`, true},
		{`engagement_score between 56 and 80`, false},
		{`engagement_score between 55 and 55`, true},
		{`conversions == 3`, true},
		{`"vip" in traits.tags and "segment" in sources`, true},
		{`"gold" in traits.tags or "x" in sources`, false},
		{`country in ["FR", "DE"]`, true},
		{`country in ["FR", "IT"]`, false},
		{`traits.age in [40, 41]`, true},
		{`traits.plan in ["a","b","c","d","e","f","g","h","i","pro"]`, true}, // the map-backed set
		{`last_seen within 3d`, true},
		{`last_seen within 1d`, false},
		{`traits.signup within 4w`, true},
		{`traits.signup within 1w`, false},
		{`last_seen > "2026-11-20" and last_seen < "2026-11-25T00:00:00Z"`, true},
		{`traits.address.city == "Berlin"`, true},
		{`traits.beta and ccpa`, true},
		{`traits.plan`, false}, // a string is not true
		{`exists traits.plan and exists ltv`, true},
		// missing fields: any condition is false, not of it true
		{`revenue > 0`, false},
		{`revenue <= 0`, false},
		{`not revenue > 0`, true},
		{`revenue != 5`, false},
		{`exists revenue`, false},
		{`revenue == null`, true},
		{`traits.nothing == null and not exists traits.nothing`, true},
		{`updated_at within 1000w`, false}, // zero time is missing
		{`exists updated_at`, false},
		{`traits.missing.deeper == 1`, false},
		{`traits.plan.deeper == 1`, false}, // a string has no members
		// values of another type
		{`traits.plan > 1`, false},
		{`traits.plan == 1`, false},
		{`traits.plan != 1`, true},
		{`traits.age == "41"`, false},
	}
	p := sampleProfile()
	for _, c := range cases {
		r, err := Compile(c.src, testSchema())
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.src, err)
		}
		if got := r.Match(p, now); got != c.want {
			t.Errorf("%q matched %v, want %v", c.src, got, c.want)
		}
	}
}

func TestTimeDependent(t *testing.T) {
	for src, want := range map[string]bool{`ltv > 1`: false, `gdpr or not last_seen within 30d`: true} {
		r, err := Compile(src, testSchema())
		if err != nil {
			t.Fatal(err)
		}
		if r.TimeDependent() != want {
			t.Errorf("%q: TimeDependent() = %v, want %v", src, !want, want)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	r, err := Compile(`churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr and last_seen within 30d`, testSchema())
	if err != nil {
		t.Fatal(err)
	}
	p := sampleProfile()
	if n := testing.AllocsPerRun(100, func() { r.Match(p, now) }); n != 0 {
		t.Errorf("Match allocates %v times per call, want 0", n)
	}
}

// benchRule is the 4-clause rule of the issue.
const benchRule = `churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr`

func BenchmarkMatch(b *testing.B) {
	r, err := Compile(benchRule, testSchema())
	if err != nil {
		b.Fatal(err)
	}
	p := sampleProfile()
	b.ReportAllocs()
	for b.Loop() {
		if !r.Match(p, now) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(benchRule, testSchema()); err != nil {
			b.Fatal(err)
		}
	}
}
