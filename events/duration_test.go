package events

import (
	"strings"
	"testing"
	"time"
)

func TestParseISODuration(t *testing.T) {
	valid := map[string]time.Duration{
		"P30D":            30 * 24 * time.Hour,
		"PT12H":           12 * time.Hour,
		"P2W":             14 * 24 * time.Hour,
		"P1DT6H":          30 * time.Hour,
		"PT1M":            time.Minute,
		"PT90M":           90 * time.Minute,
		"P1DT2H3M4S":      26*time.Hour + 3*time.Minute + 4*time.Second,
		"PT1.5S":          1500 * time.Millisecond,
		"PT0,25S":         250 * time.Millisecond,
		"PT0.0000000019S": 1 * time.Nanosecond, // digits beyond nanoseconds are dropped
		"PT0S":            0,
		"P0D":             0,
		"PT2562047H":      2562047 * time.Hour, // near time.Duration's limit
	}
	for in, want := range valid {
		got, err := ParseISODuration(in)
		if err != nil || got != want {
			t.Errorf("ParseISODuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}

	invalid := map[string]string{
		"":                           "must start with",
		"P":                          "must start with",
		"30D":                        "must start with",
		"p30d":                       "must start with",
		"-P1D":                       "must start with",
		"PT":                         `"T" must be followed`,
		"P1DT":                       `"T" must be followed`,
		"P1M":                        "ambiguous",
		"P1Y":                        "ambiguous",
		"P1Y2M10D":                   "ambiguous",
		"P2W1D":                      "weeks cannot be combined",
		"P1D1D":                      "repeated or out of order",
		"PT1S1M":                     "repeated or out of order",
		"PT1H1D":                     `unexpected designator 'D'`,
		"PTT1H":                      `"T" appears twice`,
		"P1DTT1H":                    `"T" appears twice`,
		"P1.5D":                      "only seconds may have a fraction",
		"PT1.S":                      "expected digits after the decimal mark",
		"P-1D":                       "expected a number",
		"PT1H30":                     "has no unit designator",
		"P1DT1X":                     `unexpected designator 'X'`,
		"P99999999999999999999D":     "too large",
		"PT9223372037S":              "too large",
		"PT2562047H47M16.854775807S": "", // time.Duration's largest value
		"PT2562047H47M16.854775808S": "too large",
		"PT2562047H48M":              "too large",
	}
	for in, want := range invalid {
		_, err := ParseISODuration(in)
		if want == "" {
			if err != nil {
				t.Errorf("ParseISODuration(%q) = %v, want no error", in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseISODuration(%q) error = %v, want one containing %q", in, err, want)
		}
	}
}
