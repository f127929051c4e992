package attribution

import (
	"slices"
	"time"
)

// PersonPath is the non-converting path of one person.
type PersonPath struct {
	Person string
	Journey
}

// NonConverting returns, for every person with touches in [from, to) and no
// conversion in it, one journey that did not convert made of those touches, oldest
// first. They are the negative examples the data-driven models learn from next to
// Stitch's converting journeys. Paths come sorted by person, so the result depends
// only on the input.
func NonConverting(touches []PersonTouch, conversions []PersonConversion, from, to time.Time) []PersonPath {
	converted := make(map[string]bool)
	for _, c := range conversions {
		if inRange(c.At, from, to) {
			converted[c.Person] = true
		}
	}
	var in []PersonTouch
	for _, t := range touches {
		if !converted[t.Person] && inRange(t.At, from, to) {
			in = append(in, t)
		}
	}
	byPerson := touchesByPerson(in)
	people := make([]string, 0, len(byPerson))
	for p := range byPerson {
		people = append(people, p)
	}
	slices.Sort(people)
	out := make([]PersonPath, len(people))
	for i, p := range people {
		out[i] = PersonPath{Person: p, Journey: Journey{Touches: byPerson[p]}}
	}
	return out
}

// inRange reports whether at is in [from, to).
func inRange(at, from, to time.Time) bool { return !at.Before(from) && at.Before(to) }
