package segments

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
)

// CompileJSON compiles a rule in its structured JSON form, for rule
// builders that would rather not generate text. Each object is one of
//
//	{"all": [rule, ...]}        every rule matches (and)
//	{"any": [rule, ...]}        some rule matches (or)
//	{"not": rule}
//	{"field": "ltv", "op": ">=", "value": 100}      op: == != < <= > >=
//	{"field": "country", "op": "in", "value": ["DE", "FR"]}
//	{"field": "traits.tags", "op": "contains", "value": "vip"}
//	{"field": "engagement_score", "op": "between", "value": [40, 80]}
//	{"field": "last_seen", "op": "within", "value": "30d"}
//	{"field": "traits.plan", "op": "exists"}
//	{"field": "gdpr"}                               a bool field as a condition
//
// It produces the same syntax tree as the equivalent text, and errors name
// the JSON path of the offending member ($.all[1].value).
func CompileJSON(data []byte, schema Schema) (*Rule, error) {
	if len(data) > MaxJSONLen {
		return nil, &Error{Path: "$", Msg: "rule too long: " + strconv.Itoa(len(data)) + " bytes (at most " + strconv.Itoa(MaxJSONLen) + ")"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Path: "$", Msg: "empty rule: expected a JSON object"}
		}
		return nil, &Error{Path: "$", Msg: "malformed JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Error{Path: "$", Msg: "malformed JSON: unexpected data after the rule"}
	}
	b := &jsonBuilder{schema: schema}
	root, err := b.node(v, "$", 0)
	if err != nil {
		return nil, err
	}
	return newRule(root, schema), nil
}

type jsonBuilder struct {
	schema Schema
	nodes  int
}

func jsonErr(path, msg string) error { return &Error{Path: path, Msg: msg} }

func (b *jsonBuilder) count(path string, n int) error {
	b.nodes += n
	if b.nodes > MaxNodes {
		return jsonErr(path, "rule too large: more than "+strconv.Itoa(MaxNodes)+" conditions and values")
	}
	return nil
}

func (b *jsonBuilder) node(v any, path string, depth int) (Node, error) {
	if depth > MaxDepth {
		return nil, jsonErr(path, "rule nested too deeply: more than "+strconv.Itoa(MaxDepth)+" levels of all, any and not")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, jsonErr(path, "expected an object with all, any, not or field, found "+jsonKind(v))
	}
	if err := b.count(path, 1); err != nil {
		return nil, err
	}
	switch {
	case has(obj, "all"):
		return b.list(obj, "all", path, depth, newAnd)
	case has(obj, "any"):
		return b.list(obj, "any", path, depth, newOr)
	case has(obj, "not"):
		if err := onlyKeys(obj, path, "not"); err != nil {
			return nil, err
		}
		x, err := b.node(obj["not"], path+".not", depth+1)
		if err != nil {
			return nil, err
		}
		return &Not{Arg: x}, nil
	case has(obj, "field"):
		return b.condition(obj, path)
	}
	return nil, jsonErr(path, "expected an object with all, any, not or field, found keys "+keyList(obj))
}

func (b *jsonBuilder) list(obj map[string]any, key, path string, depth int, build func([]Node) Node) (Node, error) {
	if err := onlyKeys(obj, path, key); err != nil {
		return nil, err
	}
	items, ok := obj[key].([]any)
	if !ok || len(items) == 0 {
		return nil, jsonErr(path+"."+key, "expected a non-empty array of rules, found "+jsonKind(obj[key]))
	}
	args := make([]Node, len(items))
	for i, it := range items {
		x, err := b.node(it, path+"."+key+"["+strconv.Itoa(i)+"]", depth+1)
		if err != nil {
			return nil, err
		}
		args[i] = x
	}
	return build(args), nil
}

func (b *jsonBuilder) condition(obj map[string]any, path string) (Node, error) {
	if err := onlyKeys(obj, path, "field", "op", "value"); err != nil {
		return nil, err
	}
	field, ok := obj["field"].(string)
	if !ok || !validPath(field) {
		return nil, jsonErr(path+".field", "expected a field path of names (letters, digits, _) joined by dots, found "+jsonKind(obj["field"]))
	}
	op, hasOp := obj["op"].(string)
	if has(obj, "op") && !hasOp {
		return nil, jsonErr(path+".op", "expected an operator string, found "+jsonKind(obj["op"]))
	}
	value, hasValue := obj["value"]
	needValue := hasOp && op != "exists"
	if hasValue != needValue {
		if hasValue {
			return nil, jsonErr(path+".value", "unexpected value: "+describeOp(op)+" takes none")
		}
		return nil, jsonErr(path, "missing value for op "+quote(op))
	}
	n, fail, err := b.check(field, op, value, path)
	if err != nil {
		return nil, err
	}
	if fail != nil {
		return nil, jsonErr(failPath(path, fail), fail.msg)
	}
	return n, nil
}

func describeOp(op string) string {
	if op == "" {
		return "a bool field without op"
	}
	return "op " + quote(op)
}

// check builds the condition with the checks the text form uses.
func (b *jsonBuilder) check(field, op string, value any, path string) (Node, *checkFail, error) {
	switch op {
	case "":
		n, f := checkTruth(b.schema, field)
		return n, f, nil
	case "exists":
		n, f := checkExists(b.schema, field)
		return n, f, nil
	case "within":
		d, ok := value.(string)
		if !ok {
			return nil, nil, jsonErr(path+".value", `expected a duration string such as "30d", found `+jsonKind(value))
		}
		n, f := checkWithin(b.schema, field, d)
		return n, f, nil
	case "contains":
		lit, err := jsonLiteral(value, path+".value")
		if err != nil {
			return nil, nil, err
		}
		n, f := checkContains(b.schema, lit, field)
		return n, f, nil
	case "in", "between":
		lits, err := b.literals(value, path+".value")
		if err != nil {
			return nil, nil, err
		}
		if op == "in" {
			n, f := checkInList(b.schema, field, lits)
			return n, f, nil
		}
		if len(lits) != 2 {
			return nil, nil, jsonErr(path+".value", "expected [low, high], found an array of "+strconv.Itoa(len(lits)))
		}
		n, f := checkBetween(b.schema, field, lits[0], lits[1])
		return n, f, nil
	}
	lit, err := jsonLiteral(value, path+".value")
	if err != nil {
		return nil, nil, err
	}
	n, f := checkCompare(b.schema, field, op, lit)
	return n, f, nil
}

func (b *jsonBuilder) literals(v any, path string) ([]Literal, error) {
	items, ok := v.([]any)
	if !ok {
		return nil, jsonErr(path, "expected an array, found "+jsonKind(v))
	}
	if err := b.count(path, len(items)); err != nil {
		return nil, err
	}
	lits := make([]Literal, len(items))
	for i, it := range items {
		l, err := jsonLiteral(it, path+"["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		lits[i] = l
	}
	return lits, nil
}

func jsonLiteral(v any, path string) (Literal, error) {
	switch x := v.(type) {
	case nil:
		return Literal{Kind: LitNull}, nil
	case string:
		return Literal{Kind: LitString, Str: x}, nil
	case bool:
		return Literal{Kind: LitBool, Bool: x}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return Literal{}, jsonErr(path, "number "+string(x)+" is out of range")
		}
		return Literal{Kind: LitNumber, Num: f}, nil
	}
	return Literal{}, jsonErr(path, "expected a string, number, bool or null, found "+jsonKind(v))
}

// failPath places a check failure on the JSON member it is about.
func failPath(path string, f *checkFail) string {
	switch f.at {
	case atField:
		return path + ".field"
	case atValue:
		return path + ".value"
	case atLow:
		return path + ".value[0]"
	case atHigh:
		return path + ".value[1]"
	case atElem:
		return path + ".value[" + strconv.Itoa(f.elem) + "]"
	case atOp:
		return path + ".op"
	}
	return path
}

func has(obj map[string]any, k string) bool { _, ok := obj[k]; return ok }

func onlyKeys(obj map[string]any, path string, allowed ...string) error {
	for _, k := range sortedKeys(obj) {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return jsonErr(path, "unexpected key "+quote(k)+" (expected "+strings.Join(allowed, ", ")+")")
		}
	}
	return nil
}

func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func keyList(obj map[string]any) string {
	if len(obj) == 0 {
		return "none"
	}
	return strings.Join(sortedKeys(obj), ", ")
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quote(x)
	case bool:
		return "bool " + strconv.FormatBool(x)
	case json.Number:
		return "number " + string(x)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "an unexpected value"
}

// validPath accepts exactly the paths the text form can write, so every
// JSON rule has a text form.
func validPath(p string) bool {
	for i, seg := range strings.Split(p, ".") {
		if seg == "" || !isIdentStart(seg[0]) {
			return false
		}
		for _, c := range []byte(seg) {
			if !isIdentPart(c) {
				return false
			}
		}
		if _, kw := keywords[strings.ToLower(seg)]; kw && i == 0 {
			return false
		}
	}
	return true
}
