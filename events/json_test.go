package events

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDecodeJSONRoundTripEveryType(t *testing.T) {
	for _, typ := range AllTypes {
		t.Run(string(typ), func(t *testing.T) {
			want := Example(typ, "acme", testNow)
			body, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeJSON(append(append([]byte("\n\t "), body...), "\r\n"...))
			if err != nil {
				t.Fatal(err)
			}
			requireEqual(t, got, want)
		})
	}
}

func TestDecodeJSONNormalizes(t *testing.T) {
	body := `{"event_id":"e1","event_type":"campaign_termination","tenant_id":"acme",
		"timestamp":"2026-03-14T16:09:26.535897932+01:00","campaign_id":"c","campaign_name":"n","channel":"email"}`
	e, err := DecodeJSON([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Truncate(time.Millisecond); e.Timestamp != want {
		t.Fatalf("timestamp %v, want %v", e.Timestamp, want)
	}
	if e.Currency != "USD" {
		t.Fatalf("currency %q, want the USD default", e.Currency)
	}
	if err := DefaultRules().Validate(&e, testNow); err != nil {
		t.Fatalf("minimal campaign event is invalid: %v", err)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	cases := []struct {
		name, body, field, reason string
	}{
		{"empty", "", "body", "must be a JSON object"},
		{"null", "null", "body", "must be a JSON object"},
		{"array", `[{"event_id":"a"}]`, "body", "must be a JSON object"},
		{"string", ` "event"`, "body", "must be a JSON object"},
		{"unknown field", `{"event_id":"a","bogus":1}`, "body", `unknown field "bogus"`},
		{"unknown nested field", `{"device":{"imei":"x"}}`, "body", `unknown field "imei"`},
		{"camelCase field", `{"tenantId":"acme"}`, "body", `unknown field "tenantId"`},
		{"trailing object", `{"event_id":"a"} {"event_id":"b"}`, "body", "unexpected data after the JSON object at offset 16"},
		{"trailing bracket", `{"event_id":"a"}]`, "body", "unexpected data after the JSON object"},
		{"string for number", `{"performance_metrics":{"cost":"5"}}`, "performance_metrics.cost", "must be a number, not JSON string"},
		{"fraction for integer", `{"performance_metrics":{"impressions":1.5}}`, "performance_metrics.impressions", "must be an integer, not JSON number"},
		{"number for string", `{"event_id":5}`, "event_id", "must be a string, not JSON number"},
		{"object for array", `{"touchpoints":{}}`, "touchpoints", "must be an array, not JSON object"},
		{"string for object", `{"device":"phone"}`, "device", "must be an object, not JSON string"},
		{"timestamp not RFC 3339", `{"timestamp":"2026-03-14 15:09:26"}`, "body", `timestamp "2026-03-14 15:09:26" is not RFC 3339`},
		{"touchpoint timestamp not RFC 3339", `{"touchpoints":[{"timestamp":"yesterday"}]}`, "body", `timestamp "yesterday" is not RFC 3339`},
		{"timestamp as number", `{"timestamp":1710428966}`, "body", "not a JSON string"},
		{"incomplete", `{"event_id":"a"`, "body", "ends before the JSON object does"},
		{"syntax error", `{"event_id" "a"}`, "body", "invalid JSON at offset 12"},
		{"too large", `{"termination_reason":"` + strings.Repeat("x", MaxEventBytes) + `"}`, "body", "more than the 65536 allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeJSON([]byte(tc.body))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("DecodeJSON = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
				t.Fatalf("DecodeJSON = %q, want field %s with reason containing %q", err, tc.field, tc.reason)
			}
		})
	}
}

func TestSplitJSON(t *testing.T) {
	one := Example(ConversionEvent, "acme", testNow)
	obj, err := json.Marshal(one)
	if err != nil {
		t.Fatal(err)
	}

	body := []byte(" \n" + string(obj) + "\t\r\n")
	items, batch, err := SplitJSON(body)
	if err != nil || batch || len(items) != 1 || string(items[0]) != string(obj) {
		t.Fatalf("single object: %d items, batch %v, err %v", len(items), batch, err)
	}

	body = []byte("[\n " + string(obj) + " ,\n{\"event_id\":\"b\"}, {} ]\n")
	items, batch, err = SplitJSON(body)
	if err != nil || !batch || len(items) != 3 {
		t.Fatalf("batch: %d items, batch %v, err %v", len(items), batch, err)
	}
	if string(items[0]) != string(obj) || string(items[1]) != `{"event_id":"b"}` || string(items[2]) != "{}" {
		t.Fatalf("batch items %q", items)
	}
	for i := range body {
		body[i] = 'x' // items must not alias the body, which an HTTP server may reuse
	}
	if string(items[1]) != `{"event_id":"b"}` {
		t.Fatalf("items alias the body: %q", items[1])
	}
	got, err := DecodeJSON(items[0])
	if err != nil {
		t.Fatal(err)
	}
	requireEqual(t, got, one)

	for _, tc := range []struct{ body, field, reason string }{
		{"", "body", "is empty"},
		{" \n ", "body", "is empty"},
		{"null", "body", "must be a JSON object or an array of objects"},
		{"42", "body", "must be a JSON object or an array of objects"},
		{`"event"`, "body", "must be a JSON object or an array of objects"},
		{"[]", "body", "empty array"},
		{" [ ] ", "body", "empty array"},
		{"[1]", "body[0]", "must be a JSON object"},
		{`[{}, "x"]`, "body[1]", "must be a JSON object"},
		{`[{}, null]`, "body[1]", "must be a JSON object"},
		{`[{}, []]`, "body[1]", "must be a JSON object"},
		{"{}{}", "body", "invalid JSON at offset 2"},
		{"  {} x", "body", "invalid JSON at offset 5"},
		{"[{}] x", "body", "invalid JSON"},
		{"[{}", "body", "invalid JSON"},
		{`{"a":}`, "body", "invalid JSON at offset 5"},
		{"\v{}", "body", "must be a JSON object or an array"},
	} {
		_, _, err := SplitJSON([]byte(tc.body))
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(fe.Reason, tc.reason) {
			t.Errorf("SplitJSON(%q) = %v, want field %s with reason containing %q", tc.body, err, tc.field, tc.reason)
		}
	}
}
