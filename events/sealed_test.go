package events

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Records written before the sealed field existed still decode, with Sealed nil.
func TestDecodeRecordWithoutSealedField(t *testing.T) {
	c, reg, _ := newTestCodec(t)
	var s map[string]any
	if err := json.Unmarshal([]byte(SchemaText), &s); err != nil {
		t.Fatal(err)
	}
	fields := s["fields"].([]any)
	last := fields[len(fields)-1].(map[string]any)
	if last["name"] != "sealed" {
		t.Fatalf("last field is %v, want sealed", last["name"])
	}
	s["fields"] = fields[:len(fields)-1]
	text, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := reg.RegisterSchema("marketing-events-preseal-value", sr.Schema{Schema: string(text)})
	if err != nil {
		t.Fatal(err)
	}
	old, err := avro.ParseWithCache(string(text), "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	ev := Example(TouchpointInteraction, "acme", testNow)
	body, err := avro.Marshal(old, &ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := c.Decode(context.Background(), wire(id, body), &got); err != nil {
		t.Fatal(err)
	}
	requireEqual(t, got, ev)
}

// A sealed event round-trips through Avro and JSON.
func TestSealedFieldRoundTrip(t *testing.T) {
	c, _, _ := newTestCodec(t)
	ev := Example(ConversionEvent, "acme", testNow)
	ev.Sealed = &SealedIdentity{Token: "tok", Nonce: []byte{1, 2, 3}, Ciphertext: []byte{4, 5, 6, 7}}
	rec, err := c.Encode(&ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Event
	if err := c.Decode(context.Background(), rec, &got); err != nil {
		t.Fatal(err)
	}
	requireEqual(t, got, ev)

	js, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := DecodeJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	requireEqual(t, fromJSON, ev)
}
