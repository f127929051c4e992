package events

import (
	_ "embed"
	"fmt"

	"github.com/hamba/avro/v2"
)

// SchemaText is the Avro schema of Event, as registered in the schema registry.
//
//go:embed marketing_event.avsc
var SchemaText string

// Schema is SchemaText parsed.
var Schema = mustParse(SchemaText)

func mustParse(text string) avro.Schema {
	s, err := avro.Parse(text)
	if err != nil {
		panic(fmt.Sprintf("events: embedded Avro schema does not parse: %v", err))
	}
	return s
}
