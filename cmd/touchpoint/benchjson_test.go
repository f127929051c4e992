package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/bench"
	"github.com/touchpoint/touchpoint/generator"
)

// The bench's JSON records must be what a client using encoding/json writes, byte for
// byte, so that the consumer is measured on the same input.
func TestBenchJSONIsEncodingJSON(t *testing.T) {
	late := bench.NewLateness(720*time.Hour, 1)
	g := generator.New(generator.Config{Seed: 1, Tenants: 3, Clock: func() time.Time { return time.Now().Add(-late.Draw()) }})
	for i := range 20000 {
		e := g.Next()
		want, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := jsonRecord(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec.Value, want) || string(rec.Key) != e.TenantID {
			t.Fatalf("event %d: bench wrote\n%s\nencoding/json writes\n%s", i, rec.Value, want)
		}
	}
}
