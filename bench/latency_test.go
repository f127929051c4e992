package bench

import (
	"testing"
	"time"
)

func TestLatencyFromCaptureToVisible(t *testing.T) {
	l := NewLatency(1)
	t0 := time.Unix(1000, 0)
	for i := range 4 {
		l.Captured("a", t0.Add(time.Duration(i)*time.Second))
	}
	l.Captured("b", t0)
	l.Visible("a", 2, t0.Add(5*time.Second)) // events 0 and 1: 5 s and 4 s
	if l.Pending() != 3 {
		t.Fatalf("pending %d", l.Pending())
	}
	l.Visible("a", 2, t0.Add(9*time.Second)) // nothing new
	l.Visible("a", 4, t0.Add(6*time.Second)) // events 2, 3: 4 s, 3 s
	l.Visible("b", 1, t0.Add(time.Second))   // 1 s
	p := l.Percentiles(0.5, 1)
	if l.Samples() != 5 || p[0] != 4*time.Second || p[1] != 5*time.Second {
		t.Fatalf("samples %d percentiles %v", l.Samples(), p)
	}
	if l.Produced("a") != 4 || l.Pending() != 0 {
		t.Fatal("counts")
	}
}

func TestLatencySampling(t *testing.T) {
	l := NewLatency(10)
	t0 := time.Unix(0, 0)
	for range 100 {
		l.Captured("a", t0)
	}
	l.Visible("a", 100, t0.Add(time.Second))
	if l.Samples() != 10 || l.Produced("a") != 100 {
		t.Fatalf("samples %d", l.Samples())
	}
}
