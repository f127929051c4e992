package attribution

import (
	"slices"
	"testing"
	"time"
)

func TestStitch(t *testing.T) {
	at := func(days float64) time.Time { return conversionTime.Add(time.Duration(days * float64(24*time.Hour))) }
	pt := func(person, channel string, days float64) PersonTouch {
		return PersonTouch{Person: person, Touch: Touch{Channel: channel, CampaignID: "c-" + channel, At: at(days)}}
	}
	conv := func(person, id string, days float64) PersonConversion {
		return PersonConversion{Person: person, EventID: id, ValueMicros: 10_000_000, Currency: "EUR", At: at(days)}
	}
	tests := []struct {
		name        string
		touches     []PersonTouch
		conversions []PersonConversion
		lookback    time.Duration
		want        map[string][]string // conversion -> channels of its touches, oldest first
	}{
		{
			// The graph named the phone and the laptop the same person: the phone's
			// touch reaches the laptop's conversion.
			name:        "cross device",
			touches:     []PersonTouch{pt("user:u1", "social", -3), pt("user:u1", "email", -1)},
			conversions: []PersonConversion{conv("user:u1", "buy", 0)},
			want:        map[string][]string{"buy": {"social", "email"}},
		},
		{
			name:        "other people's touches excluded",
			touches:     []PersonTouch{pt("user:u1", "social", -3), pt("user:u2", "search", -1), pt("device:d9", "display", -1)},
			conversions: []PersonConversion{conv("user:u1", "buy", 0), conv("user:u3", "lonely", 0)},
			want:        map[string][]string{"buy": {"social"}, "lonely": nil},
		},
		{
			name:        "lookback and after the conversion",
			touches:     []PersonTouch{pt("p", "old", -8), pt("p", "edge", -7), pt("p", "in", -2), pt("p", "at", 0), pt("p", "after", 0.5)},
			conversions: []PersonConversion{conv("p", "buy", 0)},
			lookback:    7 * 24 * time.Hour,
			want:        map[string][]string{"buy": {"edge", "in", "at"}},
		},
		{
			name:        "default lookback is 30 days",
			touches:     []PersonTouch{pt("p", "old", -31), pt("p", "in", -29)},
			conversions: []PersonConversion{conv("p", "buy", 0)},
			want:        map[string][]string{"buy": {"in"}},
		},
		{
			name:        "unsorted input, several conversions of one person",
			touches:     []PersonTouch{pt("p", "c", 4), pt("p", "a", 0), pt("p", "b", 2)},
			conversions: []PersonConversion{conv("p", "second", 5), conv("p", "first", 1)},
			want:        map[string][]string{"first": {"a"}, "second": {"a", "b", "c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			journeys := Stitch(tt.touches, tt.conversions, tt.lookback)
			if len(journeys) != len(tt.conversions) {
				t.Fatalf("%d journeys for %d conversions", len(journeys), len(tt.conversions))
			}
			for i, j := range journeys {
				c := tt.conversions[i]
				if j.EventID != c.EventID || !j.Converted || !j.ConvertedAt.Equal(c.At) || j.ValueMicros != c.ValueMicros || j.Currency != c.Currency {
					t.Errorf("journey %d = %+v, want conversion %+v", i, j, c)
				}
				var got []string
				for _, tc := range j.Touches {
					got = append(got, tc.Channel)
				}
				if want := tt.want[c.EventID]; !slices.Equal(got, want) {
					t.Errorf("%s: touches %v, want %v", c.EventID, got, want)
				}
			}
		})
	}
}

// TestStitchedJourneyCreditsBothDevices: the cross-device case end to end
// through a model: the phone's and the laptop's touches share the conversion.
func TestStitchedJourneyCreditsBothDevices(t *testing.T) {
	touches := []PersonTouch{
		{Person: "user:u1", Touch: Touch{Channel: "social", At: conversionTime.Add(-48 * time.Hour)}}, // on the phone
		{Person: "user:u1", Touch: Touch{Channel: "email", At: conversionTime.Add(-time.Hour)}},       // on the laptop
	}
	j := Stitch(touches, []PersonConversion{{Person: "user:u1", EventID: "buy", ValueMicros: 9, Currency: "USD", At: conversionTime}}, 0)[0]
	credits := Linear(j.Journey, Options{})
	if len(credits) != 2 || credits[0].ValueMicros+credits[1].ValueMicros != 9 {
		t.Fatalf("linear credits %+v, want both devices' channels sharing 9", credits)
	}
}
