package identity

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Method says how a link was established.
type Method string

// The two ways two identifiers get linked.
const (
	// Deterministic links come from identifiers seen together in one event.
	Deterministic Method = "deterministic"
	// Probabilistic links come from the matcher's judgement that two devices belong to
	// one person.
	Probabilistic Method = "probabilistic"
)

// Link ties two identifiers to one person. It is a plain value so a store can persist it
// as one row.
type Link struct {
	// A and B are the linked identifiers, A < B.
	A, B   string
	Method Method
	// Confidence is 1 for deterministic links and the match probability for
	// probabilistic ones.
	Confidence float64
	// FirstSeen and LastSeen bound the evidence for the link; expiry runs from LastSeen.
	FirstSeen, LastSeen time.Time
}

// DefaultLinkTTL is how long a link lives unseen unless configured otherwise.
const DefaultLinkTTL = 90 * 24 * time.Hour

// Config configures a Graph.
type Config struct {
	// LinkTTL is how long a link lives after it was last seen; zero means DefaultLinkTTL.
	LinkTTL time.Duration
}

func (c Config) ttl() time.Duration {
	if c.LinkTTL <= 0 {
		return DefaultLinkTTL
	}
	return c.LinkTTL
}

type pair struct{ a, b string }

// Graph is the identity graph: links between identifiers, and the people (connected
// sets of identifiers) they form. It keeps two partitions: one over all links, which
// names people, and one over deterministic links only, which the matcher learns from and
// matches across. A Graph is not safe for concurrent use.
type Graph struct {
	ttl   time.Duration
	links map[pair]Link
	// index numbers every linked identifier for the union-finds; ids is its inverse.
	index    map[string]int32
	ids      []string
	all, det unionFind
	// prefer is better over node numbers, made once so unions do not allocate.
	prefer func(x, y int32) bool
}

// NewGraph returns an empty graph.
func NewGraph(cfg Config) *Graph {
	g := &Graph{ttl: cfg.ttl(), links: make(map[pair]Link)}
	g.prefer = func(x, y int32) bool { return better(g.ids[x], g.ids[y]) }
	g.rebuild()
	return g
}

// Restore returns a graph holding links, as a Snapshot returned them.
func Restore(cfg Config, links []Link) (*Graph, error) {
	g := NewGraph(cfg)
	for _, l := range links {
		l, err := normalize(l)
		if err != nil {
			return nil, err
		}
		g.add(l)
	}
	return g, nil
}

// Observe links every identifier of obs to the best-ranked one among them (a user id if
// there is one): identifiers seen in one event belong to one person. Linking to one
// anchor rather than pairwise keeps an event's links linear in its identifiers while
// joining exactly the same sets. A device two accounts log in on joins them into one
// person, as the events say; refusing some merges would make the people depend on the
// order events arrive in.
func (g *Graph) Observe(obs Observation) {
	ids := make([]string, 0, len(obs.IDs))
	for _, id := range obs.IDs {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) < 2 {
		return
	}
	anchor := slices.MinFunc(ids, func(a, b string) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	for _, id := range ids {
		if id != anchor {
			g.add(newLink(anchor, id, Deterministic, 1, obs.At, obs.At))
		}
	}
}

// Person returns the canonical identifier of id's person: its best-ranked member (the
// smallest user id, else customer id, else device id, else anonymous id). It depends only
// on the set, so it is the same whatever order links arrived in. An identifier the graph
// has never linked is a person of its own.
func (g *Graph) Person(id string) string {
	n, ok := g.index[id]
	if !ok {
		return id
	}
	return g.ids[g.all.canonical(n)]
}

// DeterministicPerson is Person counting deterministic links only.
func (g *Graph) DeterministicPerson(id string) string {
	n, ok := g.index[id]
	if !ok {
		return id
	}
	return g.ids[g.det.canonical(n)]
}

// Members returns the identifiers of id's person, sorted.
func (g *Graph) Members(id string) []string {
	n, ok := g.index[id]
	if !ok {
		return []string{id}
	}
	var out []string
	g.all.members(n, func(m int32) { out = append(out, g.ids[m]) })
	slices.Sort(out)
	return out
}

// Expire drops the links last seen more than the TTL before now and returns how many it
// dropped. A union-find cannot split a set, so the partitions are rebuilt from the
// surviving links.
func (g *Graph) Expire(now time.Time) int {
	cutoff := now.Add(-g.ttl)
	n := 0
	for k, l := range g.links {
		if l.LastSeen.Before(cutoff) {
			delete(g.links, k)
			n++
		}
	}
	if n > 0 {
		g.rebuild()
	}
	return n
}

// SetProbabilistic replaces the graph's probabilistic links with links, so each matching
// run states the current judgement instead of piling onto stale ones. A pair linked
// before keeps its earlier FirstSeen; a pair already linked deterministically stays so.
func (g *Graph) SetProbabilistic(links []Link) error {
	fresh := make([]Link, 0, len(links))
	for _, l := range links {
		l, err := normalize(l)
		if err != nil {
			return err
		}
		if l.Method != Probabilistic {
			return fmt.Errorf("identity: SetProbabilistic given a %s link %s–%s", l.Method, l.A, l.B)
		}
		fresh = append(fresh, l)
	}
	previous := make(map[pair]Link)
	for k, l := range g.links {
		if l.Method == Probabilistic {
			previous[k] = l
			delete(g.links, k)
		}
	}
	for _, l := range fresh {
		k := pair{l.A, l.B}
		if _, ok := g.links[k]; ok {
			continue
		}
		if old, ok := previous[k]; ok && old.FirstSeen.Before(l.FirstSeen) {
			l.FirstSeen = old.FirstSeen
		}
		g.links[k] = l
	}
	g.rebuild()
	return nil
}

// Snapshot returns every link, sorted by A then B, for a store to persist.
func (g *Graph) Snapshot() []Link {
	out := make([]Link, 0, len(g.links))
	for _, l := range g.links {
		out = append(out, l)
	}
	slices.SortFunc(out, func(x, y Link) int {
		return cmp.Or(cmp.Compare(x.A, y.A), cmp.Compare(x.B, y.B))
	})
	return out
}

// add records l, merging it into an existing link of the same pair.
func (g *Graph) add(l Link) {
	k := pair{l.A, l.B}
	if old, ok := g.links[k]; ok {
		l = merge(old, l)
	}
	g.links[k] = l
	a, b := g.node(l.A), g.node(l.B)
	g.all.union(a, b, g.prefer)
	if l.Method == Deterministic {
		g.det.union(a, b, g.prefer)
	}
}

// node returns id's node number, adding it to both partitions if new.
func (g *Graph) node(id string) int32 {
	if n, ok := g.index[id]; ok {
		return n
	}
	n := g.all.add()
	g.det.add()
	g.index[id] = n
	g.ids = append(g.ids, id)
	return n
}

// rebuild recomputes the partitions from the links.
func (g *Graph) rebuild() {
	g.index = make(map[string]int32, 2*len(g.links))
	g.ids = g.ids[:0]
	g.all, g.det = unionFind{}, unionFind{}
	for _, l := range g.links {
		a, b := g.node(l.A), g.node(l.B)
		g.all.union(a, b, g.prefer)
		if l.Method == Deterministic {
			g.det.union(a, b, g.prefer)
		}
	}
}

// newLink returns a link between a and b with its ends in order.
func newLink(a, b string, m Method, confidence float64, first, last time.Time) Link {
	if b < a {
		a, b = b, a
	}
	return Link{A: a, B: b, Method: m, Confidence: confidence, FirstSeen: first, LastSeen: last}
}

// merge combines two sightings of one link: the evidence spans both, and deterministic
// evidence outranks any probabilistic judgement.
func merge(old, l Link) Link {
	if old.FirstSeen.Before(l.FirstSeen) {
		l.FirstSeen = old.FirstSeen
	}
	if old.LastSeen.After(l.LastSeen) {
		l.LastSeen = old.LastSeen
	}
	if old.Method == Deterministic {
		l.Method, l.Confidence = Deterministic, 1
	}
	return l
}

var errBadLink = errors.New("identity: invalid link")

// normalize checks a link from outside the package and puts its ends in order.
func normalize(l Link) (Link, error) {
	switch {
	case l.A == "" || l.B == "" || l.A == l.B:
		return l, fmt.Errorf("%w: ends %q and %q", errBadLink, l.A, l.B)
	case l.Method != Deterministic && l.Method != Probabilistic:
		return l, fmt.Errorf("%w: method %q", errBadLink, l.Method)
	case !(l.Confidence > 0 && l.Confidence <= 1):
		return l, fmt.Errorf("%w: confidence %v", errBadLink, l.Confidence)
	case l.LastSeen.Before(l.FirstSeen):
		return l, fmt.Errorf("%w: last seen %v before first seen %v", errBadLink, l.LastSeen, l.FirstSeen)
	}
	if l.B < l.A {
		l.A, l.B = l.B, l.A
	}
	return l, nil
}
