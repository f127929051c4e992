package personalization

import (
	"container/heap"
	"math"
	"slices"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// P(i is best) = ∫ f_i(x) Π_{j≠i} F_j(x) dx and E[max_j p_j] = Σ_i ∫ x f_i(x) Π_{j≠i} F_j(x) dx
// are integrated together, as one vector-valued integrand over a shared set of nodes, so
// that every node costs one CDF and at most one density per variant.
//
// A uniform grid over [0, 1] fails on peaked posteriors: with a million views a posterior
// is ~1e-4 wide and falls between grid points. So each posterior gets a support interval
// holding all but tailMass of its mass on each side, the integration covers only where
// some integrand can be non-zero, and it starts from segments whose breakpoints are every
// posterior's support ends and mean ± {1, 3, 6} standard deviations — each peak then
// spans a few segments from the start. Adaptive Gauss–Kronrod (7–15 points) then bisects
// the segment with the largest error estimate until the total estimate is below quadTol.

const (
	// tailMass is the mass each side of a posterior's support interval, treated as 0.
	tailMass = 1e-15
	// quadTol bounds the summed |K15 − G7| error estimates, a pessimistic bound on the
	// K15 result's actual error.
	quadTol = 1e-11
	// maxSegments caps the work on pathological input. One limit is float64 itself:
	// with a prior B below 1 the mass within 1e-16 of x = 1 is unrepresentable — about
	// 1e-5 for Jeffreys' prior on a variant converting every one of 1e6 views, 1% per
	// variant for Beta(0.1, 0.1) — and the normalisation in integrate shares it out.
	maxSegments = 2000
)

// density is one posterior, prepared for repeated evaluation.
type density struct {
	a, b     float64
	lnorm    float64 // −ln B(a, b), so that the density costs two logs and an exp
	dist     distuv.Beta
	mean, sd float64
	lo, hi   float64 // support: CDF is taken as 0 below lo and 1 above hi
}

func newDensity(p Beta) density {
	d := density{a: p.A, b: p.B, lnorm: -mathext.Lbeta(p.A, p.B), dist: distuv.Beta{Alpha: p.A, Beta: p.B}}
	d.mean, d.sd = d.dist.Mean(), d.dist.StdDev()
	d.lo, d.hi = d.support()
	return d
}

// support widens mean ± kσ until each tail holds at most tailMass. Beta tails are
// near-Gaussian for large parameters (k = 8 suffices) and exponential or heavier for
// small ones, where the doubling finds the bound in a few CDF calls — cheaper and more
// robust at extreme parameters than inverting the incomplete beta function.
func (d density) support() (lo, hi float64) {
	for k := 8.0; ; k *= 2 {
		lo = math.Max(0, d.mean-k*d.sd)
		if lo == 0 || d.dist.CDF(lo) <= tailMass {
			break
		}
	}
	for k := 8.0; ; k *= 2 {
		hi = math.Min(1, d.mean+k*d.sd)
		if hi == 1 || d.dist.Survival(hi) <= tailMass {
			break
		}
	}
	return lo, hi
}

func (d *density) cdf(x float64) float64 {
	switch {
	case x <= d.lo:
		return 0
	case x >= d.hi:
		return 1
	}
	return d.dist.CDF(x)
}

// pdf is the density at x in (lo, hi); x^(a−1) is skipped when a = 1 so that 0·log 0
// never arises.
func (d *density) pdf(x float64) float64 {
	l := d.lnorm
	if d.a != 1 {
		l += (d.a - 1) * math.Log(x)
	}
	if d.b != 1 {
		l += (d.b - 1) * math.Log1p(-x)
	}
	return math.Exp(l)
}

// integrand evaluates, at one x, f_i(x) Π_{j≠i} F_j(x) into out[i] and x times it into
// out[k+i], for the k posteriors.
type integrand struct {
	d        []density
	cdf, suf []float64 // scratch
}

func newIntegrand(post []Beta) *integrand {
	in := &integrand{d: make([]density, len(post)), cdf: make([]float64, len(post)), suf: make([]float64, len(post)+1)}
	for i, p := range post {
		in.d[i] = newDensity(p)
	}
	return in
}

func (in *integrand) eval(x float64, out []float64) {
	clear(out)
	for j := range in.d {
		in.cdf[j] = in.d[j].cdf(x)
		// Below one support every product but that variant's own holds a zero factor,
		// and its own density is zero there.
		if in.cdf[j] == 0 {
			return
		}
	}
	k := len(in.d)
	in.suf[k] = 1
	for j := k - 1; j >= 0; j-- {
		in.suf[j] = in.suf[j+1] * in.cdf[j]
	}
	pre := 1.0
	for i := range in.d {
		if others := pre * in.suf[i+1]; others > 0 && x > in.d[i].lo && x < in.d[i].hi {
			v := in.d[i].pdf(x) * others
			out[i], out[k+i] = v, x*v
		}
		pre *= in.cdf[i]
	}
}

// domain is where some integrand can be non-zero: below any support start that
// variant's CDF vanishes, and with it every product but its own, while its own density
// vanishes there too; above the highest support end every density does.
func (in *integrand) domain() (start, end float64) {
	for _, d := range in.d {
		start = math.Max(start, d.lo)
		end = math.Max(end, d.hi)
	}
	return start, end
}

// breakpoints are the initial segment ends within [start, end], sorted. Points closer
// than the narrowest posterior's standard deviation to the previous one are dropped:
// with many overlapping posteriors they would multiply segments, and with them CDF
// evaluations, without resolving anything a σ-wide segment does not.
func (in *integrand) breakpoints(start, end float64) []float64 {
	pts := []float64{start, end}
	gap := math.Inf(1)
	for _, d := range in.d {
		gap = math.Min(gap, d.sd)
		pts = append(pts, d.lo, d.hi)
		for _, k := range []float64{-6, -3, -1, 0, 1, 3, 6} {
			pts = append(pts, d.mean+k*d.sd)
		}
	}
	pts = slices.DeleteFunc(pts, func(x float64) bool { return x <= start || x >= end })
	slices.Sort(pts)
	kept := []float64{start}
	for _, x := range pts {
		if x-kept[len(kept)-1] >= gap {
			kept = append(kept, x)
		}
	}
	if end-kept[len(kept)-1] < gap && len(kept) > 1 {
		kept = kept[:len(kept)-1]
	}
	return append(kept, end)
}

// singularities returns the powers of the substitutions for the first and last
// segments (1: none). A shape parameter below 1 makes a density infinite at 0 (A) or 1
// (B), where Gauss–Kronrod converges slowly and misjudges its error; x = s^k with
// k·a ≥ 2 turns x^(a−1) dx into a smooth k·s^(k·a−1) ds. Capped, as priors far below 1
// are not useful; then the end segment is merely less accurate.
func (in *integrand) singularities(start, end float64) (left, right float64) {
	left, right = 1, 1
	for _, d := range in.d {
		if start == 0 && d.lo == 0 && d.a < 1 {
			left = math.Max(left, math.Min(64, math.Ceil(2/d.a)))
		}
		if end == 1 && d.hi == 1 && d.b < 1 {
			right = math.Max(right, math.Min(64, math.Ceil(2/d.b)))
		}
	}
	return left, right
}

// quadrature returns ∫ f_i Π_{j≠i} F_j and ∫ x f_i Π_{j≠i} F_j for every posterior i,
// unnormalised: the first sum to 1 up to the integration error.
func quadrature(post []Beta) (prob, xprob []float64) {
	in := newIntegrand(post)
	k := len(post)
	start, end := in.domain()
	q := &adaptive{f: in.eval, dim: 2 * k, node: make([]float64, 2*k)}
	pts := in.breakpoints(start, end)
	left, right := in.singularities(start, end)
	if left > 1 && right > 1 && len(pts) == 2 {
		pts = []float64{start, (start + end) / 2, end}
	}
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		switch {
		case i == 1 && left > 1:
			q.push(0, 1, varmap{x0: a, w: b - a, power: left})
		case i == len(pts)-1 && right > 1:
			q.push(0, 1, varmap{x0: a, w: b - a, power: right, right: true})
		default:
			q.push(a, b, identity)
		}
	}
	sum := q.run()
	return sum[:k], sum[k:]
}

// integrate turns the integrals into an Analysis. The probabilities are divided by
// their sum, exactly 1 in theory, to remove the integration error common to all of
// them; E[max] = Σ_i ∫ x f_i Π F_j gets the same correction.
func integrate(post []Beta) Analysis {
	k := len(post)
	a := Analysis{ProbBest: make([]float64, k), ExpectedLoss: make([]float64, k)}
	if k == 1 {
		a.ProbBest[0] = 1
		return a
	}
	prob, xprob := quadrature(post)
	var total, emax float64
	for i := range prob {
		total += prob[i]
		emax += xprob[i]
	}
	emax /= total
	for i, p := range post {
		a.ProbBest[i] = prob[i] / total
		a.ExpectedLoss[i] = math.Max(0, emax-p.A/(p.A+p.B))
	}
	return a
}

// Gauss–Kronrod 7–15 nodes (on [−1, 1], non-negative half) and weights, from QUADPACK's
// qk15. The odd-indexed Kronrod nodes are the 7 Gauss nodes.
var (
	gkNodes = [8]float64{
		0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
		0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
		0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
		0.207784955007898467600689403773245, 0,
	}
	kronrodWeights = [8]float64{
		0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
		0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
		0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
		0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
	}
	gaussWeights = [4]float64{
		0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
		0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
	}
)

// varmap is the change of variable x(s) of one initial segment [x0, x0+w] and its
// halves: x = x0 + w·s^power, or x0 + w·(1 − (1−s)^power) at a right end, with s in
// [0, 1]; identity is x = s.
type varmap struct {
	x0, w, power float64
	right        bool
}

var identity = varmap{w: 1, power: 1}

// at returns x(s) and dx/ds.
func (m varmap) at(s float64) (x, jac float64) {
	switch {
	case m.power == 1:
		return m.x0 + m.w*s, m.w
	case m.right:
		r := 1 - s
		return m.x0 + m.w*(1-math.Pow(r, m.power)), m.w * m.power * math.Pow(r, m.power-1)
	}
	return m.x0 + m.w*math.Pow(s, m.power), m.w * m.power * math.Pow(s, m.power-1)
}

// segment is one interval of s with its K15 estimate and error estimate.
type segment struct {
	a, b float64
	m    varmap
	val  []float64
	err  float64
}

// adaptive integrates a vector-valued f by global adaptive bisection: the segment with
// the largest error estimate is split until the summed estimate is below quadTol.
type adaptive struct {
	f     func(x float64, out []float64)
	dim   int
	node  []float64 // scratch for f's output
	segs  segHeap
	total float64
}

func (q *adaptive) push(a, b float64, m varmap) {
	if !(b > a) {
		return
	}
	s := &segment{a: a, b: b, m: m, val: make([]float64, q.dim)}
	s.err = q.gk15(a, b, m, s.val)
	heap.Push(&q.segs, s)
	q.total += s.err
}

// run refines and returns the sum over segments of their estimates.
func (q *adaptive) run() []float64 {
	for q.total > quadTol && len(q.segs) < maxSegments {
		s := heap.Pop(&q.segs).(*segment)
		q.total -= s.err
		mid := s.a + (s.b-s.a)/2
		if mid <= s.a || mid >= s.b { // too narrow to split: keep it as it is
			s.err = 0
			heap.Push(&q.segs, s)
			continue
		}
		q.push(s.a, mid, s.m)
		q.push(mid, s.b, s.m)
	}
	sum := make([]float64, q.dim)
	for _, s := range q.segs {
		for i, v := range s.val {
			sum[i] += v
		}
	}
	return sum
}

// gk15 stores the 15-point Kronrod estimate over s in [a, b], x = m(s), in val and
// returns the largest |K15 − G7| over the components.
func (q *adaptive) gk15(a, b float64, m varmap, val []float64) float64 {
	center, half := (a+b)/2, (b-a)/2
	gauss := make([]float64, q.dim)
	add := func(s, kw, gw float64) {
		x, jac := m.at(s)
		q.f(x, q.node)
		for i, v := range q.node {
			val[i] += kw * v * jac
			gauss[i] += gw * v * jac
		}
	}
	add(center, kronrodWeights[7], gaussWeights[3])
	for j := 0; j < 7; j++ {
		gw := 0.0
		if j%2 == 1 {
			gw = gaussWeights[j/2]
		}
		dx := half * gkNodes[j]
		add(center-dx, kronrodWeights[j], gw)
		add(center+dx, kronrodWeights[j], gw)
	}
	var err float64
	for i := range val {
		val[i] *= half
		err = math.Max(err, math.Abs(val[i]-gauss[i]*half))
	}
	return err
}

// segHeap orders segments by decreasing error estimate.
type segHeap []*segment

func (h segHeap) Len() int           { return len(h) }
func (h segHeap) Less(i, j int) bool { return h[i].err > h[j].err }
func (h segHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *segHeap) Push(x any)        { *h = append(*h, x.(*segment)) }
func (h *segHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}
