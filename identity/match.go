package identity

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// MatchConfig configures probabilistic matching. Zero fields take their defaults.
type MatchConfig struct {
	// Threshold is the least match probability that makes a link (default 0.7).
	Threshold float64
	// MaxBlock is the most devices a network may hold and still form candidate pairs
	// (default 200). Carrier NAT and large offices put thousands of strangers behind one
	// network: comparing them all costs the square of their number, and sharing such a
	// network is hardly evidence anyway.
	MaxBlock int
	// RareAddress is the most other persons an address may be seen with and still count
	// as rare (default 3: a household).
	RareAddress int
	// Prior, when in (0, 1), fixes the share of candidate pairs that are one person.
	// Otherwise it is estimated from the candidates themselves (see Match).
	Prior float64
	// MinTrainingPairs is the fewest known matches, and known non-matches, the model is
	// estimated from (default 20); fewer give weights that are mostly noise.
	MinTrainingPairs int
}

// DefaultMatchConfig returns the defaults.
func DefaultMatchConfig() MatchConfig {
	return MatchConfig{Threshold: 0.7, MaxBlock: 200, RareAddress: 3, MinTrainingPairs: 20}
}

func (c MatchConfig) withDefaults() MatchConfig {
	d := DefaultMatchConfig()
	if c.Threshold <= 0 {
		c.Threshold = d.Threshold
	}
	if c.MaxBlock <= 0 {
		c.MaxBlock = d.MaxBlock
	}
	if c.RareAddress <= 0 {
		c.RareAddress = d.RareAddress
	}
	if c.MinTrainingPairs <= 0 {
		c.MinTrainingPairs = d.MinTrainingPairs
	}
	return c
}

// MatchResult is the outcome of one matching run.
type MatchResult struct {
	Model Model
	// Links are the probabilistic links made, sorted by A then B; pass them to
	// Graph.SetProbabilistic.
	Links []Link
	// Candidates counts the device pairs scored; Blocks and SkippedBlocks the networks
	// used for blocking and those left out for holding more than MaxBlock devices.
	Candidates, Blocks, SkippedBlocks int
}

// ErrTooFewKnownPairs reports that the deterministic links do not yet hold enough
// devices of one person, or of different people, to estimate the model from.
var ErrTooFewKnownPairs = errors.New("identity: too few known pairs to estimate the match model")

// Match links devices that the deterministic graph keeps apart but that probably belong
// to one person. It does not change g.
//
// Devices are compared only within a shared network (blocking), which keeps the work
// near-linear, on the network, the addresses, the user agents, the places and the device
// classes they share (see Field). Among the compared pairs, two devices of one deterministic person are
// known matches, and devices of two different accounts known non-matches: their
// agreement levels give the model's M and U, conditioned on blocking just as the
// candidates are. Every other pair, one with at least one device never logged in, is a
// candidate. Unless configured, the prior share of matches among candidates is then
// estimated by expectation–maximization over the candidates with M and U held fixed.
//
// A device belongs to one person, so the persons an unauthenticated device is compared
// with are competing explanations: its probability for each is its odds over one plus
// the sum of the odds of all of them. Two equally good candidates thus get at most one
// half each, and with a threshold above one half a device joins at most one person. A
// link never joins two accounts.
func Match(g *Graph, d *Devices, cfg MatchConfig) (MatchResult, error) {
	cfg = cfg.withDefaults()
	r := newRun(g, d, cfg)
	known, strangers := newTally(), newTally()
	var cands []candidate
	r.pairs(func(a, b int32) {
		c := r.compare(a, b)
		ca, cb := r.person[a], r.person[b]
		switch {
		case ca == cb:
			known.add(c)
		case r.auth[ca] && r.auth[cb]:
			strangers.add(c)
		default:
			cands = append(cands, candidate{a: a, b: b, c: c})
		}
	})
	res := MatchResult{Candidates: len(cands), Blocks: r.blocks, SkippedBlocks: r.skipped}
	if known.pairs < cfg.MinTrainingPairs || strangers.pairs < cfg.MinTrainingPairs {
		return res, fmt.Errorf("%w: %d matches and %d non-matches, need %d of each",
			ErrTooFewKnownPairs, known.pairs, strangers.pairs, cfg.MinTrainingPairs)
	}
	res.Model = fit(known, strangers)
	res.Model.Prior = cfg.Prior
	if !(cfg.Prior > 0 && cfg.Prior < 1) {
		// The share among known pairs is where EM starts, not its answer: account
		// holders who log in on several devices are not a fair sample of candidates.
		res.Model.Prior = estimatePrior(&res.Model, cands, float64(known.pairs)/float64(known.pairs+strangers.pairs))
	}
	res.Links = r.link(&res.Model, cands)
	return res, nil
}

// candidate is a scored pair of devices, by profile number.
type candidate struct {
	a, b int32
	c    Comparison
}

// estimatePrior estimates the share of matches among the candidates by EM with M and U
// fixed: the share is the mean match probability the share itself implies. Candidates
// are grouped by comparison, of which there are only a few hundred kinds.
func estimatePrior(m *Model, cands []candidate, start float64) float64 {
	if len(cands) == 0 {
		return start
	}
	kinds := make(map[Comparison]float64)
	for _, c := range cands {
		kinds[c.c]++
	}
	type group struct {
		c      Comparison
		llr, n float64
	}
	groups := make([]group, 0, len(kinds))
	for c, n := range kinds {
		groups = append(groups, group{c, m.LogLikelihoodRatio(c), n})
	}
	// In a fixed order, so that the sums, and so the prior, do not vary from run to run.
	slices.SortFunc(groups, func(a, b group) int { return slices.Compare(a.c[:], b.c[:]) })
	const lo, hi = 1e-6, 1 - 1e-6
	prior := max(lo, min(hi, start))
	for range 200 {
		sum := 0.0
		for _, g := range groups {
			sum += g.n * logistic(logit(prior)+g.llr)
		}
		next := max(lo, min(hi, sum/float64(len(cands))))
		if math.Abs(next-prior) < 1e-9 {
			return next
		}
		prior = next
	}
	return prior
}

// edge is the best candidate pair between two deterministic persons x < y.
type edge struct {
	x, y int32
	a, b int32 // the devices of the best pair
	odds float64
	p    float64
}

// negligibleOdds are odds too small to make a link at any sensible threshold (a
// probability under 1%). Most candidates, strangers who merely share a network, are that
// unlikely; they still count as rivals, but are added up pair by pair instead of being
// tracked per two persons, which keeps a run's memory proportional to the plausible
// pairs rather than to all of them. A rival person with several devices may so be
// counted a few times over, by at most a few hundredths.
const negligibleOdds = 0.01

// link turns scored candidates into links: the best pair per two persons, its odds
// shared out among each unauthenticated side's competing persons, then accepted from
// the most probable down while it clears the threshold and joins no two accounts.
func (r *run) link(m *Model, cands []candidate) []Link {
	base := logit(m.Prior)
	weights := m.table()
	// A link's probability is below its odds, so below the threshold odds never link.
	cut := min(negligibleOdds, r.cfg.Threshold)
	rivals := make([]float64, len(r.auth))
	at := make(map[uint64]int)
	var edges []edge
	for _, c := range cands {
		x, y := r.person[c.a], r.person[c.b]
		if y < x {
			x, y = y, x
		}
		odds := math.Exp(max(-maxLogit, min(maxLogit, base+weights.llr(c.c))))
		if odds < cut {
			rivals[x] += odds
			rivals[y] += odds
			continue
		}
		k := uint64(x)<<32 | uint64(y)
		if i, ok := at[k]; !ok {
			at[k] = len(edges)
			edges = append(edges, edge{x: x, y: y, a: c.a, b: c.b, odds: odds})
		} else if odds > edges[i].odds {
			edges[i].a, edges[i].b, edges[i].odds = c.a, c.b, odds
		}
	}
	for _, e := range edges {
		rivals[e.x] += e.odds
		rivals[e.y] += e.odds
	}
	for i := range edges {
		e := &edges[i]
		e.p = 1
		for _, side := range [2]int32{e.x, e.y} {
			if !r.auth[side] {
				e.p = min(e.p, e.odds/(1+rivals[side]))
			}
		}
	}
	slices.SortFunc(edges, func(e, f edge) int {
		return cmp.Or(cmp.Compare(f.p, e.p), cmp.Compare(e.x, f.x), cmp.Compare(e.y, f.y))
	})
	return r.accept(edges)
}

// accept makes links from edges, most probable first, skipping any that would join two
// accounts.
func (r *run) accept(edges []edge) []Link {
	var joined unionFind
	account := slices.Clone(r.auth)
	for range r.auth {
		joined.add()
	}
	keep := func(x, y int32) bool { return false }
	var links []Link
	for _, e := range edges {
		if e.p < r.cfg.Threshold {
			break
		}
		rx, ry := joined.find(e.x), joined.find(e.y)
		if rx == ry || account[rx] && account[ry] {
			continue
		}
		joined.union(rx, ry, keep)
		account[joined.find(rx)] = account[rx] || account[ry]
		pa, pb := &r.d.profiles[e.a], &r.d.profiles[e.b]
		links = append(links, newLink(pa.key, pb.key, Probabilistic, e.p,
			time.Unix(0, min(pa.first, pb.first)).UTC(), time.Unix(0, max(pa.last, pb.last)).UTC()))
	}
	slices.SortFunc(links, func(x, y Link) int {
		return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B))
	})
	return links
}
