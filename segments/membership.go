package segments

import (
	"errors"
	"sort"
	"time"
)

// Action is a membership change; its values are those of the segment_update
// event's segment_action (events.SegmentEnter, events.SegmentExit).
type Action string

// The two membership changes.
const (
	Enter Action = "enter"
	Exit  Action = "exit"
)

// Transition is one membership change of one profile: one segment_update
// event to emit.
type Transition struct {
	SegmentID string
	Action    Action
}

// Segment is a saved segment: its id and compiled rule.
type Segment struct {
	ID   string
	Rule *Rule
}

// Diff compares two membership sets (segment id → member; false counts as
// not a member) and returns the segments entered and exited, each sorted.
func Diff(before, after map[string]bool) (entered, exited []string) {
	for id, in := range after {
		if in && !before[id] {
			entered = append(entered, id)
		}
	}
	for id, in := range before {
		if in && !after[id] {
			exited = append(exited, id)
		}
	}
	sort.Strings(entered)
	sort.Strings(exited)
	return entered, exited
}

// Tracker evaluates a fixed set of segments against profiles. Building it
// once per segment set checks the ids and sorts them, so each evaluation
// only evaluates.
type Tracker struct {
	segs []Segment // sorted by ID
}

// NewTracker returns a tracker of segs; ids must be unique and non-empty and
// rules compiled.
func NewTracker(segs []Segment) (*Tracker, error) {
	t := &Tracker{segs: append([]Segment(nil), segs...)}
	ids := make(map[string]struct{}, len(segs))
	for _, s := range t.segs {
		if s.ID == "" || s.Rule == nil {
			return nil, errors.New("segments: a segment needs an id and a compiled rule")
		}
		if _, dup := ids[s.ID]; dup {
			return nil, errors.New("segments: duplicate segment id " + quote(s.ID))
		}
		ids[s.ID] = struct{}{}
	}
	sort.Slice(t.segs, func(i, j int) bool { return t.segs[i].ID < t.segs[j].ID })
	return t, nil
}

// Evaluate returns the profile's memberships at time now (the ids of the
// segments it matches) and the transitions from prev: one Enter per segment
// newly matched, one Exit per segment no longer matched, none for unchanged
// memberships, so evaluating an unchanged profile again emits nothing.
// A segment in prev that the tracker does not know was deleted: the profile
// leaves it (one Exit). Transitions are sorted by segment id.
func (t *Tracker) Evaluate(p Profile, now time.Time, prev map[string]bool) (next map[string]bool, changes []Transition) {
	next = make(map[string]bool)
	for _, s := range t.segs {
		if s.Rule.Match(p, now) {
			next[s.ID] = true
		}
	}
	return next, Transitions(prev, next)
}

// Transitions turns the difference between two membership sets into
// transitions sorted by segment id (an id enters or exits, never both).
func Transitions(before, after map[string]bool) []Transition {
	entered, exited := Diff(before, after)
	out := make([]Transition, 0, len(entered)+len(exited))
	for _, id := range entered {
		out = append(out, Transition{SegmentID: id, Action: Enter})
	}
	for _, id := range exited {
		out = append(out, Transition{SegmentID: id, Action: Exit})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SegmentID < out[j].SegmentID })
	return out
}
