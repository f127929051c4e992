package streaming

import (
	"slices"

	"github.com/touchpoint/touchpoint/events"
)

// forSubjects calls fn with each personal identifier an event mentions, so a deletion
// can find every archived batch that holds one subject's data.
func forSubjects(e *events.Event, fn func(string)) {
	if e.CustomerID != "" {
		fn(e.CustomerID)
	}
	if d := e.Device; d != nil {
		for _, id := range [...]string{d.UserID, d.AnonymousID, d.DeviceID} {
			if id != "" {
				fn(id)
			}
		}
	}
}

func subjectsOf(e *events.Event) []string {
	var out []string
	forSubjects(e, func(s string) { out = append(out, s) })
	return out
}

// subjectKey is a subject of one tenant; it becomes "tenant:subject" in the archive's
// index only once per batch, not once per event.
type subjectKey struct{ tenant, subject string }

func subjectNames(m map[subjectKey]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k.tenant+":"+k.subject)
	}
	slices.Sort(out)
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// HasSubject reports whether the event names subject as its customer, user,
// anonymous or device id.
func HasSubject(e *events.Event, subject string) bool {
	found := false
	forSubjects(e, func(s string) { found = found || s == subject })
	return found
}
