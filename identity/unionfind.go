package identity

// unionFind is a disjoint-set forest over dense node numbers. Besides the usual parent
// and size, every set threads its members on a circular list (next), so listing a set
// costs its size rather than a scan of all nodes, and every root remembers the set's
// canonical member (best), so naming a person costs one find.
type unionFind struct {
	parent []int32
	size   []int32
	next   []int32
	best   []int32 // meaningful at roots only
}

// add makes a new singleton set and returns its node.
func (u *unionFind) add() int32 {
	n := int32(len(u.parent))
	u.parent = append(u.parent, n)
	u.size = append(u.size, 1)
	u.next = append(u.next, n)
	u.best = append(u.best, n)
	return n
}

// find returns the root of x's set, halving the path on the way so later finds are
// near-constant.
func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

// union merges the sets of a and b and reports whether they were apart. better decides
// which of the two sets' canonical members names the merged set.
func (u *unionFind) union(a, b int32, better func(x, y int32) bool) bool {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return false
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
	// Swapping the successors of two nodes of two circular lists splices them into one.
	u.next[ra], u.next[rb] = u.next[rb], u.next[ra]
	if better(u.best[rb], u.best[ra]) {
		u.best[ra] = u.best[rb]
	}
	return true
}

// canonical returns the canonical member of x's set.
func (u *unionFind) canonical(x int32) int32 {
	return u.best[u.find(x)]
}

// members calls f for every member of x's set.
func (u *unionFind) members(x int32, f func(int32)) {
	for y := x; ; {
		f(y)
		if y = u.next[y]; y == x {
			return
		}
	}
}
