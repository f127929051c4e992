package bench

import (
	"testing"
	"time"
)

func TestProgressRate(t *testing.T) {
	var p Progress
	t0 := time.Unix(100, 0)
	for i := range 11 { // 1000 events per second, sampled every second
		p.Record(t0.Add(time.Duration(i)*time.Second), int64(i*1000))
	}
	if r := p.Rate(t0.Add(2*time.Second), t0.Add(8*time.Second)); r != 1000 {
		t.Fatalf("rate %v", r)
	}
	if r := p.Rate(t0.Add(9*time.Second), t0.Add(20*time.Second)); r != 0 {
		t.Fatalf("rate past the last point %v", r)
	}
}
