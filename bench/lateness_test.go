package bench

import (
	"math"
	"testing"
	"time"
)

func TestLatenessFollowsProfile(t *testing.T) {
	const n = 200000
	l := NewLateness(720*time.Hour, 1)
	var recent, day, older int
	for range n {
		d := l.Draw()
		switch {
		case d < 0 || d >= 720*time.Hour:
			t.Fatalf("lateness %v outside [0, 720h)", d)
		case d < 2*time.Hour:
			recent++
		case d < 48*time.Hour:
			day++
		default:
			older++
		}
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"< 2h", float64(recent) / n, 0.60}, {"2h-48h", float64(day) / n, 0.25}, {"≥ 48h", float64(older) / n, 0.15}} {
		if math.Abs(c.got-c.want) > 0.01 {
			t.Errorf("%s: share %.3f, want %.2f", c.name, c.got, c.want)
		}
	}
}

func TestLatenessShortMaxKeepsEveryDrawInRange(t *testing.T) {
	for _, max := range []time.Duration{time.Nanosecond, time.Second, 3 * time.Hour, 48 * time.Hour} {
		l := NewLateness(max, 7)
		over2h := 0
		for range 10000 {
			d := l.Draw()
			if d < 0 || d >= max {
				t.Fatalf("max %v: lateness %v out of range", max, d)
			}
			if d >= 2*time.Hour {
				over2h++
			}
		}
		// Up to 48h, the bands past max give their share to the 2h–max band.
		if max == 48*time.Hour && math.Abs(float64(over2h)/10000-0.40) > 0.02 {
			t.Errorf("max 48h: %d of 10000 over 2h, want about 40%%", over2h)
		}
	}
}

func TestLatenessZeroIsOnTime(t *testing.T) {
	l := NewLateness(0, 1)
	for range 100 {
		if d := l.Draw(); d != 0 {
			t.Fatalf("lateness %v with max 0", d)
		}
	}
}
