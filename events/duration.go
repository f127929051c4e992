package events

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ParseISODuration parses an ISO 8601 duration made of weeks, days, hours, minutes and
// seconds: "P30D", "PT12H", "P2W", "P1DT6H", "PT1.5S". A day is 24 hours. Years and
// months are rejected because their length depends on the calendar date they start
// from, which a campaign's launch config does not carry. Weeks stand alone ("P2W"), as
// ISO 8601 requires; only the seconds may have a fraction; negative durations and
// durations beyond time.Duration's range are rejected.
func ParseISODuration(s string) (time.Duration, error) {
	d, err := parseISODuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid ISO 8601 duration %q: %w", s, err)
	}
	return d, nil
}

// isoUnits are the designators in the order ISO 8601 requires them; rank is the
// position in this table, which must grow along the string.
var isoUnits = [...]struct {
	designator byte
	timePart   bool
	unit       time.Duration
}{
	{'W', false, 7 * 24 * time.Hour},
	{'D', false, 24 * time.Hour},
	{'H', true, time.Hour},
	{'M', true, time.Minute},
	{'S', true, time.Second},
}

func parseISODuration(s string) (time.Duration, error) {
	if len(s) < 2 || s[0] != 'P' {
		return 0, errors.New(`must start with "P" and have at least one component`)
	}
	var (
		total    time.Duration
		inTime   bool
		lastRank = -1
		weeks    bool
	)
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime {
				return 0, errors.New(`"T" appears twice`)
			}
			inTime = true
			i++
			if i == len(s) {
				return 0, errors.New(`"T" must be followed by hours, minutes or seconds`)
			}
			continue
		}

		// A number: digits with an optional fraction ('.' or ',' per ISO 8601).
		start := i
		var n int64
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if n > (math.MaxInt64-9)/10 {
				return 0, errors.New("number too large")
			}
			n = n*10 + int64(s[i]-'0')
		}
		if i == start {
			return 0, fmt.Errorf("expected a number at offset %d", start)
		}
		var frac string
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			fs := i
			for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			}
			if i == fs {
				return 0, fmt.Errorf("expected digits after the decimal mark at offset %d", fs-1)
			}
			frac = s[fs:i]
		}
		if i == len(s) {
			return 0, fmt.Errorf("number at offset %d has no unit designator", start)
		}

		designator := s[i]
		i++
		if !inTime && (designator == 'Y' || designator == 'M') {
			return 0, errors.New("years and months are ambiguous (their length depends on the date); use days or weeks")
		}
		rank := -1
		for r, u := range isoUnits {
			if u.designator == designator && u.timePart == inTime {
				rank = r
				break
			}
		}
		switch {
		case rank < 0:
			return 0, fmt.Errorf("unexpected designator %q", designator)
		case rank <= lastRank:
			return 0, fmt.Errorf("designator %q is repeated or out of order", designator)
		case frac != "" && designator != 'S':
			return 0, errors.New("only seconds may have a fraction")
		}
		lastRank = rank
		weeks = weeks || designator == 'W'
		if weeks && rank > 0 {
			return 0, errors.New("weeks cannot be combined with other components")
		}

		unit := isoUnits[rank].unit
		if n > int64(math.MaxInt64/unit) {
			return 0, errors.New("duration too large")
		}
		part := time.Duration(n) * unit
		// Seconds' fraction, to nanosecond precision; further digits are dropped.
		var fracPart time.Duration
		scale := unit
		for _, c := range []byte(frac) {
			scale /= 10
			fracPart += time.Duration(c-'0') * scale
		}
		if part > math.MaxInt64-fracPart || total > math.MaxInt64-part-fracPart {
			return 0, errors.New("duration too large")
		}
		total += part + fracPart
	}
	return total, nil
}
