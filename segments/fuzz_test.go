package segments

import (
	"reflect"
	"strings"
	"testing"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		benchRule,
		`engagement_score between 40 and 80 or "vip" in traits.tags`,
		`last_seen within 30d and country in ["DE","FR"]`,
		`not (exists traits.x or traits.y == null) and traits.z != "\u00e9"`,
		`ltv >= -1.5e+3 and last_seen > "2024-01-02"`,
		`((gdpr)`, `lvt > 1`, `"a" in`, `x within 3q`,
	} {
		f.Add(s)
	}
	schema := testSchema()
	p := sampleProfile()
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Compile(src, schema)
		if err != nil {
			if _, ok := err.(*Error); !ok || !strings.Contains(err.Error(), ": ") {
				t.Fatalf("Compile(%q): error %v is not a located *Error", src, err)
			}
			return
		}
		canon := r.String()
		again, err := Compile(canon, schema)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not compile: %v", canon, src, err)
		}
		if !reflect.DeepEqual(r.Root(), again.Root()) || again.String() != canon {
			t.Fatalf("round trip of %q via %q changed the rule to %q", src, canon, again)
		}
		if r.Match(p, now) != again.Match(p, now) {
			t.Fatalf("%q and its canonical form match differently", src)
		}
	})
}
