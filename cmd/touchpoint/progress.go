package main

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar on stderr until stopped.
type progress struct {
	total        int64
	done, failed *atomic.Int64
	start        time.Time
	quit         chan struct{}
	once         sync.Once
	wg           sync.WaitGroup
}

func newProgress(total int64, done, failed *atomic.Int64, quiet bool) *progress {
	p := &progress{total: total, done: done, failed: failed, start: time.Now(), quit: make(chan struct{})}
	if quiet {
		p.once.Do(func() {})
		return p
	}
	p.wg.Go(p.loop)
	return p
}

func (p *progress) loop() {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			p.draw()
			fmt.Fprintln(os.Stderr)
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	n := p.done.Load()
	secs := time.Since(p.start).Seconds()
	rate := float64(n) / max(secs, 1e-9)
	if p.total <= 0 {
		fmt.Fprintf(os.Stderr, "\r%d events  %.0f ev/s  %d failed ", n, rate, p.failed.Load())
		return
	}
	const width = 30
	frac := min(1, float64(n)/float64(p.total))
	filled := int(frac * width)
	fmt.Fprintf(os.Stderr, "\r[%s%s] %3.0f%% %d/%d  %.0f ev/s  %d failed ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, n, p.total, rate, p.failed.Load())
}

func (p *progress) stop() {
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}
