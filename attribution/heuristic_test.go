package attribution

import (
	"math"
	"slices"
	"testing"
	"time"
)

var conversionTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// touch is a touch of channel ch, campaign "ch1", days before conversionTime
// (negative days are after it).
func touch(ch string, days float64) Touch {
	return Touch{Channel: ch, CampaignID: ch + "1", At: conversionTime.Add(-time.Duration(days * float64(day)))}
}

func converted(value int64, touches ...Touch) Journey {
	return Journey{Touches: touches, Converted: true, ValueMicros: value, Currency: "EUR", ConvertedAt: conversionTime}
}

func in(currency string, j Journey) Journey {
	j.Currency = currency
	return j
}

// credit is an expected credit of channel ch's campaign "ch1".
func credit(ch string, micros int64, share float64) Credit {
	return Credit{Channel: ch, CampaignID: ch + "1", ValueMicros: micros, Share: share}
}

func TestHeuristicModels(t *testing.T) {
	abc := converted(100, touch("A", 3), touch("B", 2), touch("C", 1))
	tests := []struct {
		name    string
		model   Model
		journey Journey
		opts    Options
		want    []Credit
	}{
		// One touch: every model gives it everything.
		{"one touch/first", FirstTouch, converted(100, touch("A", 1)), Options{}, []Credit{credit("A", 100, 1)}},
		{"one touch/last", LastTouch, converted(100, touch("A", 1)), Options{}, []Credit{credit("A", 100, 1)}},
		{"one touch/linear", Linear, converted(100, touch("A", 1)), Options{}, []Credit{credit("A", 100, 1)}},
		{"one touch/time decay", TimeDecay, converted(100, touch("A", 1)), Options{}, []Credit{credit("A", 100, 1)}},
		{"one touch/position", PositionBased, converted(100, touch("A", 1)), Options{}, []Credit{credit("A", 100, 1)}},

		// Two touches.
		{"two touches/first", FirstTouch, converted(100, touch("A", 2), touch("B", 1)), Options{}, []Credit{credit("A", 100, 1)}},
		{"two touches/last", LastTouch, converted(100, touch("A", 2), touch("B", 1)), Options{}, []Credit{credit("B", 100, 1)}},
		{"two touches/linear", Linear, converted(100, touch("A", 2), touch("B", 1)), Options{}, []Credit{credit("A", 50, 0.5), credit("B", 50, 0.5)}},
		{"two touches/position 50-50", PositionBased, converted(100, touch("A", 2), touch("B", 1)), Options{}, []Credit{credit("A", 50, 0.5), credit("B", 50, 0.5)}},
		// Weights 0.5 and 1: quotas 33.3 and 66.7, the leftover micro goes to B.
		{"two touches/time decay 1-day half-life", TimeDecay, converted(100, touch("A", 2), touch("B", 1)), Options{HalfLife: day},
			[]Credit{credit("A", 33, 1.0/3), credit("B", 67, 2.0/3)}},
		{"default half-life is a week", TimeDecay, converted(300, touch("A", 7), touch("B", 0)), Options{},
			[]Credit{credit("A", 100, 1.0/3), credit("B", 200, 2.0/3)}},

		// Three touches, 100 micros.
		{"three touches/linear ties go to the earliest", Linear, abc, Options{},
			[]Credit{credit("A", 34, 1.0/3), credit("B", 33, 1.0/3), credit("C", 33, 1.0/3)}},
		{"three touches/position 40-20-40", PositionBased, abc, Options{},
			[]Credit{credit("A", 40, 0.4), credit("B", 20, 0.2), credit("C", 40, 0.4)}},
		// Weights 1/4, 1/2, 1 of 7/4: quotas 14.29, 28.57, 57.14.
		{"three touches/time decay", TimeDecay, abc, Options{HalfLife: day},
			[]Credit{credit("A", 14, 1.0/7), credit("B", 29, 2.0/7), credit("C", 57, 4.0/7)}},
		// Middle touches get 20/3 each: 7, 7, 6 with the leftover micros to the earliest.
		{"five touches/position shares the middle", PositionBased,
			converted(100, touch("A", 5), touch("B", 4), touch("C", 3), touch("D", 2), touch("E", 1)), Options{},
			[]Credit{credit("A", 40, 0.4), credit("B", 7, 0.2/3), credit("C", 7, 0.2/3), credit("D", 6, 0.2/3), credit("E", 40, 0.4)}},

		// Credits are per (channel, campaign).
		{"repeated channel/linear", Linear, converted(100, touch("A", 3), touch("B", 2), touch("A", 1)), Options{},
			[]Credit{credit("A", 67, 2.0/3), credit("B", 33, 1.0/3)}},
		{"repeated channel/position", PositionBased, converted(100, touch("A", 3), touch("B", 2), touch("A", 1)), Options{},
			[]Credit{credit("A", 80, 0.8), credit("B", 20, 0.2)}},
		{"campaigns of a channel are kept apart", Linear,
			converted(100, touch("A", 2), Touch{Channel: "A", CampaignID: "A2", At: conversionTime.Add(-day)}), Options{},
			[]Credit{credit("A", 50, 0.5), {Channel: "A", CampaignID: "A2", ValueMicros: 50, Share: 0.5}}},

		// The lookback window.
		{"touch older than the lookback/first", FirstTouch, converted(100, touch("A", 31), touch("B", 10), touch("C", 1)), Options{},
			[]Credit{credit("B", 100, 1)}},
		{"touch older than the lookback/linear", Linear, converted(100, touch("A", 31), touch("B", 10), touch("C", 1)), Options{},
			[]Credit{credit("B", 50, 0.5), credit("C", 50, 0.5)}},
		{"custom lookback", PositionBased, converted(100, touch("A", 31), touch("B", 10), touch("C", 1)), Options{Lookback: 5 * day},
			[]Credit{credit("C", 100, 1)}},
		{"touch exactly at the lookback counts", FirstTouch, converted(100, touch("A", 30), touch("B", 1)), Options{},
			[]Credit{credit("A", 100, 1)}},
		{"touch after the conversion/last", LastTouch, converted(100, touch("A", 2), touch("B", 1), touch("C", -0.01)), Options{},
			[]Credit{credit("B", 100, 1)}},
		{"touch after the conversion/position", PositionBased, converted(100, touch("A", 2), touch("B", 1), touch("C", -1)), Options{},
			[]Credit{credit("A", 50, 0.5), credit("B", 50, 0.5)}},
		{"touch at the conversion instant counts", LastTouch, converted(100, touch("A", 2), touch("B", 0)), Options{},
			[]Credit{credit("B", 100, 1)}},

		// Order: unsorted input is ordered; simultaneous touches keep input order.
		{"unsorted input/first", FirstTouch, converted(100, touch("B", 1), touch("C", 3), touch("A", 2)), Options{},
			[]Credit{credit("C", 100, 1)}},
		{"unsorted input/position", PositionBased, converted(100, touch("B", 1), touch("C", 3), touch("A", 2)), Options{},
			[]Credit{credit("C", 40, 0.4), credit("A", 20, 0.2), credit("B", 40, 0.4)}},
		{"simultaneous first touches/first listed wins", FirstTouch, converted(100, touch("B", 2), touch("A", 2), touch("C", 1)), Options{},
			[]Credit{credit("B", 100, 1)}},
		{"simultaneous last touches/last listed wins", LastTouch, converted(100, touch("C", 3), touch("B", 1), touch("A", 1)), Options{},
			[]Credit{credit("A", 100, 1)}},
		{"simultaneous touches/linear in input order", Linear, converted(100, touch("B", 1), touch("A", 1), touch("C", 1)), Options{},
			[]Credit{credit("B", 34, 1.0/3), credit("A", 33, 1.0/3), credit("C", 33, 1.0/3)}},
		{"simultaneous touches/time decay weighs them equally", TimeDecay, converted(100, touch("B", 1), touch("A", 1)), Options{},
			[]Credit{credit("B", 50, 0.5), credit("A", 50, 0.5)}},

		// Values.
		{"zero value keeps shares", PositionBased, converted(0, touch("A", 3), touch("B", 2), touch("C", 1)), Options{},
			[]Credit{credit("A", 0, 0.4), credit("B", 0, 0.2), credit("C", 0, 0.4)}},
		{"one micro goes to the earliest of equals", Linear, converted(1, touch("A", 3), touch("B", 2), touch("C", 1)), Options{},
			[]Credit{credit("A", 1, 1.0/3), credit("B", 0, 1.0/3), credit("C", 0, 1.0/3)}},
		{"refund is split like a sale", Linear, converted(-100, touch("A", 3), touch("B", 2), touch("C", 1)), Options{},
			[]Credit{credit("A", -34, 1.0/3), credit("B", -33, 1.0/3), credit("C", -33, 1.0/3)}},
		{"yen", Linear, in("JPY", converted(1_500_000_000, touch("A", 3), touch("B", 2))), Options{},
			[]Credit{credit("A", 750_000_000, 0.5), credit("B", 750_000_000, 0.5)}},
		{"dollars", Linear, in("USD", converted(19_990_001, touch("A", 3), touch("B", 2))), Options{},
			[]Credit{credit("A", 9_995_001, 0.5), credit("B", 9_995_000, 0.5)}},

		// Nothing to attribute.
		{"no conversion", Linear, Journey{Touches: []Touch{touch("A", 1)}}, Options{}, nil},
		{"no touches", PositionBased, converted(100), Options{}, nil},
		{"no touches in the window", TimeDecay, converted(100, touch("A", 40), touch("B", -1)), Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.model(tt.journey, tt.opts)
			if !creditsEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func creditsEqual(got, want []Credit) bool {
	return slices.EqualFunc(got, want, func(g, w Credit) bool {
		return g.Channel == w.Channel && g.CampaignID == w.CampaignID && g.ValueMicros == w.ValueMicros &&
			math.Abs(g.Share-w.Share) < 1e-12
	})
}

func TestHeuristicsDoNotModifyTheJourney(t *testing.T) {
	j := converted(100, touch("B", 1), touch("A", 2), touch("C", 40))
	before := slices.Clone(j.Touches)
	for _, m := range Heuristics() {
		m.Attribute(j, Options{})
	}
	if !slices.Equal(j.Touches, before) {
		t.Errorf("touches changed to %v", j.Touches)
	}
}
