package segments

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testSchema is the profile schema plus a string country, as the issue's
// examples use it.
func testSchema() Schema {
	s := ProfileSchema()
	s["country"] = String
	return s
}

func TestCompileValid(t *testing.T) {
	cases := []struct{ src, canonical string }{
		{`churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr`,
			`churn_probability > 0.7 and ltv >= 100 and traits.plan == "pro" and not gdpr`},
		{`engagement_score between 40 and 80 or "vip" in traits.tags`,
			`engagement_score between 40 and 80 or "vip" in traits.tags`},
		{`last_seen within 30d`, `last_seen within 30d`},
		{`country in ["DE","FR"]`, `country in ["DE", "FR"]`},
		{`traits.age in [1, 2.5]`, `traits.age in [1, 2.5]`},
		{`exists traits.email AND NOT ccpa`, `exists traits.email and not ccpa`},
		{`(ltv>1 or ltv<0) and (gdpr)`, `(ltv > 1 or ltv < 0) and gdpr`},
		{`((ltv > 1))`, `ltv > 1`},
		{`ltv > 1 and (gdpr and ccpa)`, `ltv > 1 and gdpr and ccpa`},
		{`not (ltv > 1 and gdpr)`, `not (ltv > 1 and gdpr)`},
		{`not not gdpr`, `not not gdpr`},
		{`last_seen > "2024-01-02" and updated_at <= "2024-01-02T03:04:05Z"`, `last_seen > "2024-01-02" and updated_at <= "2024-01-02T03:04:05Z"`},
		{`traits.x == null or ramp_id != null`, `traits.x == null or ramp_id != null`},
		{"ltv >= -1.5e+3\n\tand revenue < 1e21", `ltv >= -1500 and revenue < 1e+21`},
		{`traits.in == "\u00e9\n"`, `traits.in == "é\n"`},
		{`"x" in sources`, `"x" in sources`},
		{`traits.signup within 2w or last_seen within 12h`, `traits.signup within 2w or last_seen within 12h`},
	}
	for _, c := range cases {
		r, err := Compile(c.src, testSchema())
		if err != nil {
			t.Errorf("Compile(%q): %v", c.src, err)
			continue
		}
		if got := r.String(); got != c.canonical {
			t.Errorf("Compile(%q).String() = %q, want %q", c.src, got, c.canonical)
		}
		assertRoundTrip(t, r)
	}
}

func assertRoundTrip(t *testing.T, r *Rule) {
	t.Helper()
	again, err := Compile(r.String(), testSchema())
	if err != nil {
		t.Fatalf("canonical %q does not compile: %v", r.String(), err)
	}
	if !reflect.DeepEqual(r.Root(), again.Root()) {
		t.Errorf("round trip of %q changed the tree", r.String())
	}
}

func TestCompileErrors(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+1) + "gdpr" + strings.Repeat(")", MaxDepth+1)
	wide := "gdpr" + strings.Repeat(" or gdpr", MaxNodes)
	cases := []struct{ src, want string }{
		{`lvt > 5`, `1:1: unknown field "lvt" (did you mean "ltv"?)`},
		{`ltv > 5 and churn_probabilty > 0.5`, `1:13: unknown field "churn_probabilty" (did you mean "churn_probability"?)`},
		{`colour == "red"`, `1:1: unknown field "colour"`},
		{`ltv > "x"`, `1:7: expected a number to compare with ltv, found string "x"`},
		{`gdpr == 1`, `1:9: expected true or false to compare with gdpr, found number 1`},
		{`last_seen > "yesterday"`, `1:13: expected a timestamp ("2006-01-02" or RFC 3339) to compare with last_seen, found string "yesterday"`},
		{`country < "DE"`, `1:11: field country is a string: it has no order (use ==, != or in)`},
		{`ltv`, `1:1: expected a condition, found number field ltv (compare it, as in ltv == ...)`},
		{`"vip" in ltv`, `1:10: expected a list of strings after "in", found number field ltv`},
		{`(ltv > 5`, `1:9: unbalanced "(" at 1:1: expected ")", found end of rule`},
		{`ltv > 5)`, `1:8: unbalanced ")": no "(" to close`},
		{`(ltv > 5 gdpr)`, `1:10: expected ")" to close "(" at 1:1, found field gdpr`},
		{`ltv > 5 gdpr`, `1:9: expected "and", "or" or end of rule, found field gdpr`},
		{``, `1:1: empty rule: expected a condition such as ltv > 100`},
		{`ltv > 5 and`, `1:12: expected a condition, found end of rule`},
		{`ltv >`, `1:6: expected a value after ">", found end of rule`},
		{`ltv > ltv`, `1:7: expected a value after ">", found field ltv (a rule compares fields with constants; quote strings)`},
		{`ltv = 5`, `1:5: unexpected character "=" (use "==")`},
		{`ltv > 5 && gdpr`, `1:9: unexpected character "&" (use "and")`},
		{`traits.plan == 'pro'`, `1:16: unexpected character "'" (strings use double quotes)`},
		{`traits.plan == "pro`, `1:16: unterminated string: expected a closing "`},
		{`last_seen within 30x`, `1:18: bad duration "30x": expected a whole number and a unit s, m, h, d or w, as in 30d`},
		{`last_seen within 0d`, `1:18: bad duration "0d": must be positive`},
		{`last_seen within 99999999w`, `1:18: bad duration "99999999w": at most 100 years`},
		{`last_seen within "30d"`, `1:18: expected a duration such as 30d after "within", found string "30d"`},
		{`ltv within 30d`, `1:1: field ltv is a number: within needs a time field`},
		{`ltv between 10 and 5`, `1:20: empty range: 5 is below 10`},
		{`ltv between 1 or 5`, `1:15: expected "and" between the bounds of "between", found "or"`},
		{`country in []`, `1:13: empty list: country in [] never matches`},
		{`country in ["DE", 1]`, `1:19: list mixes types: expected a string, found number 1`},
		{`country in "DE"`, `1:12: expected "[" to start a list after "in" (or write "value" in country), found string "DE"`},
		{`ltv > null`, `1:7: null can only be compared with == or !=`},
		{`traits == "x"`, `1:1: field traits is an object: use one of its members, as in traits.name`},
		{`gdpr.x`, `1:1: field gdpr is a bool, it has no member "x"`},
		{`traits. == 1`, `1:9: expected a name after ".", found "=="`},
		{`ltv > 1e400`, `1:7: number 1e400 is out of range`},
		{`ltv > 12abc`, `1:7: expected a value after ">", found duration 12abc`},
		{`ltv > 1.2.3`, `1:7: malformed number "1.2.3"`},
		{"ltv > 1 and\n  lvt < 2", `2:3: unknown field "lvt" (did you mean "ltv"?)`},
		{`()`, `1:2: expected a condition inside ( ), found ")"`},
		{deep, `1:33: rule nested too deeply: more than 32 levels of parentheses and not`},
		{strings.Repeat("not ", MaxDepth+1) + "gdpr", `1:129: rule nested too deeply: more than 32 levels of parentheses and not`},
		{wide, `1:1025: rule too large: more than 256 conditions and values`},
		{strings.Repeat(" ", MaxSourceLen+1), `1:1: rule too long: 4097 bytes (at most 4096)`},
	}
	for _, c := range cases {
		_, err := Compile(c.src, testSchema())
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want error %q", c.src, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("Compile(%q)\n got error %q\nwant error %q", c.src, err, c.want)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Compile(%q) error is %T, want *Error", c.src, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	s := testSchema()
	for name, want := range map[string]string{"lvt": "ltv", "gdrp": "gdpr", "last_sen": "last_seen", "xyz": "", "revnue": "revenue"} {
		if got := s.suggest(name); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
