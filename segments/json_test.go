package segments

import (
	"reflect"
	"testing"
)

func TestCompileJSONEquivalence(t *testing.T) {
	cases := []struct{ json, text string }{
		{`{"all":[{"field":"ltv","op":">=","value":100},{"not":{"field":"gdpr","op":"==","value":true}}]}`,
			`ltv >= 100 and not gdpr == true`},
		{`{"any":[{"field":"engagement_score","op":"between","value":[40,80]},{"field":"traits.tags","op":"contains","value":"vip"}]}`,
			`engagement_score between 40 and 80 or "vip" in traits.tags`},
		{`{"field":"country","op":"in","value":["DE","FR"]}`, `country in ["DE", "FR"]`},
		{`{"field":"last_seen","op":"within","value":"30d"}`, `last_seen within 30d`},
		{`{"field":"traits.email","op":"exists"}`, `exists traits.email`},
		{`{"not":{"field":"gdpr"}}`, `not gdpr`},
		{`{"field":"traits.x","op":"!=","value":null}`, `traits.x != null`},
		{`{"all":[{"all":[{"field":"gdpr"},{"field":"ccpa"}]},{"any":[{"field":"ltv","op":">","value":1}]}]}`, `gdpr and ccpa and ltv > 1`},
	}
	for _, c := range cases {
		fromJSON, err := CompileJSON([]byte(c.json), testSchema())
		if err != nil {
			t.Errorf("CompileJSON(%s): %v", c.json, err)
			continue
		}
		fromText, err := Compile(c.text, testSchema())
		if err != nil {
			t.Fatalf("Compile(%q): %v", c.text, err)
		}
		if !reflect.DeepEqual(fromJSON.Root(), fromText.Root()) {
			t.Errorf("CompileJSON(%s) = %q, want the tree of %q", c.json, fromJSON, c.text)
		}
		assertRoundTrip(t, fromJSON)
	}
}

func TestCompileJSONErrors(t *testing.T) {
	cases := []struct{ json, want string }{
		{``, `$: empty rule: expected a JSON object`},
		{`{"field":"ltv","op":">=","value":100} x`, `$: malformed JSON: unexpected data after the rule`},
		{`{"all":[{"field":"lvt","op":">","value":1}]}`, `$.all[0].field: unknown field "lvt" (did you mean "ltv"?)`},
		{`{"all":[{"field":"ltv","op":">","value":"x"}]}`, `$.all[0].value: expected a number to compare with ltv, found string "x"`},
		{`{"field":"ltv","op":"=>","value":1}`, `$.op: unknown operator "=>" (expected ==, !=, <, <=, >, >=)`},
		{`{"field":"ltv","op":">"}`, `$: missing value for op ">"`},
		{`{"field":"gdpr","value":true}`, `$.value: unexpected value: a bool field without op takes none`},
		{`{"all":[]}`, `$.all: expected a non-empty array of rules, found an array`},
		{`{"all":[1]}`, `$.all[0]: expected an object with all, any, not or field, found number 1`},
		{`{"nope":1}`, `$: expected an object with all, any, not or field, found keys nope`},
		{`{"not":{"field":"gdpr"},"all":[]}`, `$: unexpected key "not" (expected all)`},
		{`{"field":"traits.first-name","op":"exists"}`, `$.field: expected a field path of names (letters, digits, _) joined by dots, found string "traits.first-name"`},
		{`{"field":"ltv","op":"between","value":[5,1]}`, `$.value[1]: empty range: 1 is below 5`},
		{`{"field":"ltv","op":"between","value":[5]}`, `$.value: expected [low, high], found an array of 1`},
		{`{"field":"country","op":"in","value":["DE",2]}`, `$.value[1]: list mixes types: expected a string, found number 2`},
		{`{"field":"last_seen","op":"within","value":"30x"}`, `$.value: bad duration "30x": expected a whole number and a unit s, m, h, d or w, as in 30d`},
		{`{"field":"ltv","op":">","value":1e400}`, `$.value: number 1e400 is out of range`},
	}
	for _, c := range cases {
		_, err := CompileJSON([]byte(c.json), testSchema())
		if err == nil {
			t.Errorf("CompileJSON(%s) succeeded, want %q", c.json, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("CompileJSON(%s)\n got %q\nwant %q", c.json, err, c.want)
		}
	}
}

func TestCompileJSONDepth(t *testing.T) {
	src := `{"field":"gdpr"}`
	for range MaxDepth + 1 {
		src = `{"not":` + src + `}`
	}
	_, err := CompileJSON([]byte(src), testSchema())
	if err == nil || err.Error()[len(err.Error())-len("levels of all, any and not"):] != "levels of all, any and not" {
		t.Fatalf("deep JSON rule: got %v, want a nesting error", err)
	}
}
