package bench

import (
	"sync"
	"time"
)

// Progress records how many events were visible over time, to measure the steady
// rate of the pipeline apart from its start-up and its final drain.
type Progress struct {
	mu     sync.Mutex
	points []point
}

type point struct {
	at      time.Time
	visible int64
}

// Record notes that visible events were visible at t; calls come in time order.
func (p *Progress) Record(t time.Time, visible int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.points = append(p.points, point{t, visible})
}

// Rate is the events per second that became visible between the first records at or
// after from and at or after to (0 when there are not two such points).
func (p *Progress) Rate(from, to time.Time) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, b := p.firstAtOrAfter(from), p.firstAtOrAfter(to)
	if a < 0 || b <= a {
		return 0
	}
	return float64(p.points[b].visible-p.points[a].visible) / p.points[b].at.Sub(p.points[a].at).Seconds()
}

func (p *Progress) firstAtOrAfter(t time.Time) int {
	for i, pt := range p.points {
		if !pt.at.Before(t) {
			return i
		}
	}
	return -1
}
