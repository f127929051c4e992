package generator

import (
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// TestEventsValidate runs every event of a long run, including all campaign lifecycles
// and journey endings, through the pipeline's own validation.
func TestEventsValidate(t *testing.T) {
	rules := events.DefaultRules()
	failures := 0
	each(Config{Seed: 37}, longRun, func(e *events.Event) {
		if err := rules.Validate(e, e.Timestamp); err != nil && failures < 5 {
			failures++
			t.Errorf("%s (%s): %v", e.EventID, e.EventType, err)
		}
	})
}

// TestLiveEventsValidate does the same for a generator stamped by a clock, where
// touchpoints must still not fall outside the validation window.
func TestLiveEventsValidate(t *testing.T) {
	rules := events.DefaultRules()
	g := New(Config{Seed: 41, Clock: time.Now})
	for range 10_000 {
		e := g.Next()
		if err := rules.Validate(&e, time.Now()); err != nil {
			t.Fatalf("%s (%s): %v", e.EventID, e.EventType, err)
		}
	}
}
