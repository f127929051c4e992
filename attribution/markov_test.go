package attribution

import (
	"math"
	"strings"
	"testing"
)

// path builds a journey from "A>B>C", one touch a day, converting or not.
func path(p string, conv bool) Journey {
	channels := strings.Split(p, ">")
	var ts []Touch
	for i, c := range channels {
		ts = append(ts, touch(c, float64(len(channels)-i)))
	}
	if !conv {
		return Journey{Touches: ts}
	}
	return converted(1_000_000, ts...)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestMarkovWorkedReference is the reference example: three converting paths and no
// others. Removing A loses every conversion; removing B leaves A → conversion with
// probability 3/8 against A → A with 2/8, i.e. 1/2. Normalised, the three
// conversions go 2 to A and 1 to B.
func TestMarkovWorkedReference(t *testing.T) {
	m, err := TrainMarkov([]Journey{path("A>B>A>B>B>A", true), path("A>B>B>A>A", true), path("A>A", true)})
	if err != nil {
		t.Fatal(err)
	}
	if p := m.ConversionProbability(); !near(p, 1) {
		t.Errorf("P(conversion) = %v, want 1", p)
	}
	re := m.RemovalEffects()
	if !near(re["A"], 1) || !near(re["B"], 0.5) {
		t.Errorf("removal effects %v, want A=1 B=0.5", re)
	}
	shares := m.Shares()
	if a, b := 3*shares["A"], 3*shares["B"]; !near(a, 2) || !near(b, 1) {
		t.Errorf("credit of 3 conversions: A=%v B=%v, want A=2 B=1", a, b)
	}
}

// TestMarkovWithNonConvertingPaths: A>conv, B>null, A>B>conv. From B half the paths
// convert; from A half convert at once and half go to B: 3/4; from start (2/3 to A,
// 1/3 to B) 2/3. Without A: 1/3·1/2 = 1/6, a removal effect of 3/4; without B: A
// converts with 1/2, start with 1/3, a removal effect of 1/2. Shares 0.6 and 0.4.
func TestMarkovWithNonConvertingPaths(t *testing.T) {
	m, err := TrainMarkov([]Journey{path("A", true), path("B", false), path("A>B", true)})
	if err != nil {
		t.Fatal(err)
	}
	if p := m.ConversionProbability(); !near(p, 2.0/3) {
		t.Errorf("P(conversion) = %v, want 2/3", p)
	}
	if re := m.RemovalEffects(); !near(re["A"], 0.75) || !near(re["B"], 0.5) {
		t.Errorf("removal effects %v, want A=0.75 B=0.5", re)
	}
	if s := m.Shares(); !near(s["A"], 0.6) || !near(s["B"], 0.4) {
		t.Errorf("shares %v, want A=0.6 B=0.4", s)
	}
	// One path ended converted at A: (1 + 2/3) / (1 + 1). Paths ended at B: one
	// converted, one not: (1 + 2/3) / (2 + 1).
	if p := m.PathProbability([]string{"B", "A"}); !near(p, 5.0/6) {
		t.Errorf("P(convert | ..A) = %v, want 5/6", p)
	}
	if p := m.PathProbability([]string{"A", "B"}); !near(p, 5.0/9) {
		t.Errorf("P(convert | ..B) = %v, want 5/9", p)
	}
	if p := m.PathProbability([]string{"Z"}); !near(p, 2.0/3) {
		t.Errorf("P(convert | unknown channel) = %v, want the base rate 2/3", p)
	}
}

func TestMarkovAttribute(t *testing.T) {
	m, err := TrainMarkov([]Journey{path("A", true), path("B", false), path("A>B", true)})
	if err != nil {
		t.Fatal(err)
	}
	a2 := Touch{Channel: "A", CampaignID: "A2", At: conversionTime.Add(-day)}
	tests := []struct {
		name    string
		journey Journey
		want    []Credit
	}{
		{"shares", converted(100, touch("A", 2), touch("B", 1)), []Credit{credit("A", 60, 0.6), credit("B", 40, 0.4)}},
		{"only the channels present", converted(100, touch("B", 2), touch("B", 1)), []Credit{credit("B", 100, 1)}},
		// A's 60% is split 2:1 between its campaigns by touches.
		{"campaigns by touch count", converted(100, touch("A", 3), a2, touch("A", 1), touch("B", 2)),
			[]Credit{credit("A", 40, 0.4), credit("B", 40, 0.4), {Channel: "A", CampaignID: "A2", ValueMicros: 20, Share: 0.2}}},
		{"unknown channels fall back to linear", converted(100, touch("X", 2), touch("Y", 1), touch("Y", 0)),
			[]Credit{credit("X", 33, 1.0/3), credit("Y", 67, 2.0/3)}},
		{"unknown channel next to a known one gets nothing", converted(100, touch("X", 2), touch("B", 1)),
			[]Credit{credit("X", 0, 0), credit("B", 100, 1)}},
		{"window", converted(100, touch("A", 40), touch("B", 1), touch("A", -1)), []Credit{credit("B", 100, 1)}},
		{"no conversion", path("A>B", false), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.Attribute(tt.journey, Options{}); !creditsEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMarkovTrainingErrors(t *testing.T) {
	if _, err := TrainMarkov(nil); err == nil {
		t.Error("no journeys: no error")
	}
	if _, err := TrainMarkov([]Journey{path("A>B", false), path("B", false)}); err == nil {
		t.Error("no conversions: no error")
	}
	if _, err := TrainMarkov([]Journey{converted(100), path("B", false)}); err == nil {
		t.Error("only conversions without touches: no error")
	}
}
