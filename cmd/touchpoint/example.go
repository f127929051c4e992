package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
)

// runExample prints a valid, fully populated example of an event type, stamped now,
// for curl and kcat samples that never go stale.
func runExample(_ context.Context, _ config.Config, args []string) error {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	tenant := fs.String("tenant", "demo", "tenant_id of the example")
	if err := fs.Parse(args); err != nil {
		return err
	}
	types := events.AllTypes
	if fs.NArg() > 0 {
		t := events.Type(fs.Arg(0))
		if !slices.Contains(events.AllTypes, t) {
			return fmt.Errorf("example: unknown event type %q; one of %v", t, events.AllTypes)
		}
		types = []events.Type{t}
	}
	enc := json.NewEncoder(os.Stdout)
	for _, t := range types {
		e := events.Example(t, *tenant, time.Now().UTC())
		e.EventID = events.NewEventID()
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}
