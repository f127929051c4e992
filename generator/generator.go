// Package generator produces a seeded, deterministic stream of realistic marketing events
// together with the exact aggregates of everything it produced, so that tests and
// benchmarks can check a pipeline's output figure for figure.
//
// The world it simulates: tenants run campaigns on every channel through launch,
// optimization and termination; their customers, each with a few devices, go through
// journeys from first touch to conversion or abandonment; a personalization engine
// triggers on behaviour, tests content variants and moves customers between segments.
package generator

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Generator produces events one at a time. It is not safe for concurrent use: the order of
// random draws is what makes the sequence reproducible.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	tenants []tenant
	count   int64
	totals  Totals
	// idBuf is reused to build event ids without intermediate strings.
	idBuf []byte
}

// pcgStream is the second PCG word; fixing it makes the sequence a function of Seed alone.
const pcgStream = 0x7f4a7c15_9e3779b9

// Family shares in percent. Journeys dominate real traffic; campaign platforms report
// in batches; personalization is the rarest.
const (
	campaignPercent        = 30
	journeyPercent         = 55
	personalizationPercent = 100 - campaignPercent - journeyPercent
)

// New returns a generator for cfg, with zero fields of cfg replaced by their defaults.
func New(cfg Config) *Generator {
	cfg = cfg.withDefaults()
	g := &Generator{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(cfg.Seed, pcgStream)),
		tenants: make([]tenant, cfg.Tenants),
		totals:  newTotals(),
	}
	for i := range g.tenants {
		g.tenants[i] = newTenant(g.rng, i, cfg)
	}
	return g
}

// Next generates the next event, normalized. Apart from timestamps under a Clock, the
// sequence is a pure function of the Config.
func (g *Generator) Next() events.Event {
	t := &g.tenants[g.rng.IntN(len(g.tenants))]
	e := events.Event{
		EventID:   g.eventID(t),
		TenantID:  t.id,
		Timestamp: g.now(),
	}
	switch f := g.rng.IntN(100); {
	case f < campaignPercent:
		g.campaignEvent(t, &e)
	case f < campaignPercent+journeyPercent:
		g.journeyEvent(t, &e)
	default:
		g.personalizationEvent(t, &e)
	}
	g.totals.countEvent(t.id, e.EventType)
	g.count++
	e.Normalize()
	return e
}

// Count returns the number of events generated so far.
func (g *Generator) Count() int64 { return g.count }

// Totals returns the exact aggregates of every event generated so far. The result is a
// deep copy: later calls to Next do not change it.
func (g *Generator) Totals() Totals { return g.totals.clone() }

// now is the event time of the event being generated.
func (g *Generator) now() time.Time {
	if g.cfg.Clock != nil {
		return g.cfg.Clock()
	}
	return g.cfg.Start.Add(time.Duration(g.count) * g.cfg.Step)
}

// eventID is "<tenant>-<seed>-<sequence>": unique within a run by the sequence number, and
// across runs with different seeds by the seed, so a deduplicating pipeline fed two
// different runs counts both.
func (g *Generator) eventID(t *tenant) string {
	b := append(g.idBuf[:0], t.id...)
	b = append(b, '-')
	b = strconv.AppendUint(b, g.cfg.Seed, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, g.count+1, 10)
	g.idBuf = b
	return string(b)
}
