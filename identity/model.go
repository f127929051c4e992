package identity

import "math"

// FieldModel holds the Fellegi–Sunter parameters of one field in one stratum: for every
// agreement level, its probability among pairs of one person's devices (M) and among
// pairs of different people's devices (U). A level's weight is log(M/U).
type FieldModel struct {
	Field string
	// Given names the stratum the probabilities are conditioned on, or is empty.
	Given  string
	Levels []string
	M, U   []float64
}

// Fellegi–Sunter assumes the fields independent given match status; here they are not,
// so the dependent fields are modelled per stratum of the field they depend on. What a
// shared address means depends on the network: in a home network it means a household,
// in a carrier's it means nothing much. Geolocation comes from the address, and a
// household shares its devices' brands and habits, so given a shared address the user
// agent, the place and the device classes say far less than they do alone. Treating
// them as independent would count the same evidence two or three times.
var strata = [numFields][]string{
	FieldNetwork:     {""},
	FieldIP:          {"home_network", "small_network", "large_network"},
	FieldUserAgent:   {"address_shared", "no_address_shared"},
	FieldGeo:         {"address_shared", "no_address_shared"},
	FieldDeviceClass: {"address_shared", "no_address_shared"},
}

// stratum returns the stratum field f of comparison c falls in.
func stratum(f Field, c Comparison) int {
	switch f {
	case FieldNetwork:
		return 0
	case FieldIP:
		return int(min(c[FieldNetwork], NetworkLarge))
	}
	if c[FieldIP] <= IPCommon {
		return 0
	}
	return 1
}

// slotBase numbers the parameter sets: field f's stratum s is set slotBase[f]+s, and
// numSlots counts them all.
var slotBase, numSlots = func() (base [numFields]int, n int) {
	for f := range numFields {
		base[f] = n
		n += len(strata[f])
	}
	return base, n
}()

// slot returns which parameter set field f of comparison c is weighed with.
func slot(f Field, c Comparison) int {
	return slotBase[f] + stratum(f, c)
}

// slotField returns the field and stratum name of parameter set s.
func slotField(s int) (Field, string) {
	f := numFields - 1
	for slotBase[f] > s {
		f--
	}
	return f, strata[f][s-slotBase[f]]
}

// Model is a fitted Fellegi–Sunter model. It is a plain value so a store can keep the
// model each matching run used next to the links it made.
type Model struct {
	// Fields holds every field's parameters, per stratum, in Field order.
	Fields []FieldModel
	// Prior is the share of candidate pairs that are one person, before any comparison.
	Prior float64
	// MatchPairs and NonMatchPairs count the known pairs M and U were estimated from.
	MatchPairs, NonMatchPairs int
}

// Weight returns the log-likelihood ratio of field f in comparison c; a Missing field
// weighs nothing.
func (m *Model) Weight(c Comparison, f Field) float64 {
	l := c[f]
	if l == Missing {
		return 0
	}
	fm := &m.Fields[slot(f, c)]
	return math.Log(fm.M[l] / fm.U[l])
}

// LogLikelihoodRatio sums the field weights of c: the Fellegi–Sunter score, which treats
// the fields as independent given match status and their strata.
func (m *Model) LogLikelihoodRatio(c Comparison) float64 {
	var w float64
	for f := range numFields {
		w += m.Weight(c, f)
	}
	return w
}

// Probability returns the probability that a pair compared as c is one person.
func (m *Model) Probability(c Comparison) float64 {
	return logistic(logit(m.Prior) + m.LogLikelihoodRatio(c))
}

// weightTable holds every parameter set's level weights, so scoring a million pairs
// costs additions rather than logarithms.
type weightTable [][]float64

func (m *Model) table() weightTable {
	t := make(weightTable, len(m.Fields))
	for s, fm := range m.Fields {
		t[s] = make([]float64, len(fm.M))
		for l := range fm.M {
			t[s][l] = math.Log(fm.M[l] / fm.U[l])
		}
	}
	return t
}

// llr is Model.LogLikelihoodRatio from the table.
func (t weightTable) llr(c Comparison) float64 {
	var w float64
	for f, l := range c {
		if l != Missing {
			w += t[slot(Field(f), c)][l]
		}
	}
	return w
}

// smoothing is the pseudo-count added to every level (the Jeffreys prior): a level never
// seen among the known pairs gets a small probability instead of zero, which would give
// it an infinite weight on the strength of a sample that merely missed it.
const smoothing = 0.5

// tally counts the agreement levels of known pairs.
type tally struct {
	pairs  int
	levels [][]float64
}

func newTally() *tally {
	t := &tally{levels: make([][]float64, numSlots)}
	for s := range t.levels {
		f, _ := slotField(s)
		t.levels[s] = make([]float64, len(levelNames[f]))
	}
	return t
}

func (t *tally) add(c Comparison) {
	t.pairs++
	for f, l := range c {
		if l != Missing {
			t.levels[slot(Field(f), c)][l]++
		}
	}
}

// probabilities returns parameter set s's smoothed level distribution.
func (t *tally) probabilities(s int) []float64 {
	counts := t.levels[s]
	total := 0.0
	for _, n := range counts {
		total += n
	}
	p := make([]float64, len(counts))
	for l, n := range counts {
		p[l] = (n + smoothing) / (total + smoothing*float64(len(counts)))
	}
	return p
}

// fit turns the tallies of known matches and non-matches into a model, its prior unset.
func fit(match, nonmatch *tally) Model {
	m := Model{MatchPairs: match.pairs, NonMatchPairs: nonmatch.pairs}
	for s := range numSlots {
		f, given := slotField(s)
		m.Fields = append(m.Fields, FieldModel{
			Field:  f.String(),
			Given:  given,
			Levels: levelNames[f],
			M:      match.probabilities(s),
			U:      nonmatch.probabilities(s),
		})
	}
	return m
}

// maxLogit bounds log-odds so that exp and logistic stay finite and exact enough.
const maxLogit = 40

func logit(p float64) float64 {
	return math.Log(p / (1 - p))
}

func logistic(x float64) float64 {
	x = max(-maxLogit, min(maxLogit, x))
	return 1 / (1 + math.Exp(-x))
}
