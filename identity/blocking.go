package identity

import "slices"

// run is the state of one matching run over a Devices.
type run struct {
	cfg MatchConfig
	d   *Devices
	// person numbers every device's deterministic person; auth says which persons hold
	// an account.
	person []int32
	auth   []bool
	// crowd and netCrowd count the distinct persons seen on every address and network.
	crowd, netCrowd []int32
	// class is every device's class (see classIndex), and owned counts per person its
	// devices of each class.
	class []int8
	owned [][numClasses]int32
	// allNets lists each device's networks, sorted, and nets those usable for
	// blocking; block lists each network's devices, or is nil for a network too big to
	// use.
	allNets, nets   [][]int32
	block           [][]int32
	blocks, skipped int
}

// newRun numbers the deterministic persons of d's devices, as g links them, and
// prepares the crowds, classes and blocks the comparisons need.
func newRun(g *Graph, d *Devices, cfg MatchConfig) *run {
	r := &run{cfg: cfg, d: d, person: make([]int32, len(d.profiles))}
	number := make(map[string]int32)
	for i := range d.profiles {
		canon := g.DeterministicPerson(d.profiles[i].key)
		n, ok := number[canon]
		if !ok {
			n = int32(len(r.auth))
			number[canon] = n
			r.auth = append(r.auth, authenticated(canon))
		}
		r.person[i] = n
	}
	r.countCrowds()
	r.countClasses()
	r.buildBlocks()
	return r
}

// countCrowds counts the distinct persons seen on every address and every network.
func (r *run) countCrowds() {
	r.crowd = r.countDistinct(len(r.d.ipKeys), func(ip int32) int32 { return ip })
	r.netCrowd = r.countDistinct(len(r.d.nets), func(ip int32) int32 { return r.d.ipPrefix[ip] })
}

// countDistinct counts, for each of n groups of addresses, the distinct persons seen in
// it, by sorting (group, person) pairs and counting the distinct ones.
func (r *run) countDistinct(n int, group func(ip int32) int32) []int32 {
	var seen []uint64
	for i := range r.d.profiles {
		for _, s := range r.d.profiles[i].sightings {
			seen = append(seen, uint64(group(s.ip))<<32|uint64(r.person[i]))
		}
	}
	slices.Sort(seen)
	seen = slices.Compact(seen)
	counts := make([]int32, n)
	for _, v := range seen {
		counts[v>>32]++
	}
	return counts
}

// numClasses counts the device classes compared: desktop, mobile and tablet.
const numClasses = 3

// classIndex numbers the compared device classes, or returns -1 for a bot or an
// unknown device, which say nothing about what a person owns.
func classIndex(c DeviceClass) int8 {
	switch c {
	case ClassDesktop:
		return 0
	case ClassMobile:
		return 1
	case ClassTablet:
		return 2
	}
	return -1
}

// countClasses records every device's class and each person's devices per class.
func (r *run) countClasses() {
	r.class = make([]int8, len(r.d.profiles))
	r.owned = make([][numClasses]int32, len(r.auth))
	for i := range r.d.profiles {
		c := int8(-1)
		if a := r.d.profiles[i].agent; a >= 0 {
			c = classIndex(r.d.agent[a].parsed.Class)
		}
		r.class[i] = c
		if c >= 0 {
			r.owned[r.person[i]][c]++
		}
	}
}

// buildBlocks groups devices by network and drops the networks holding more than
// MaxBlock devices.
func (r *run) buildBlocks() {
	d := r.d
	r.block = make([][]int32, len(d.nets))
	r.allNets = make([][]int32, len(d.profiles))
	r.nets = make([][]int32, len(d.profiles))
	for i := range d.profiles {
		var nets []int32
		for _, s := range d.profiles[i].sightings {
			nets = append(nets, d.ipPrefix[s.ip])
		}
		slices.Sort(nets)
		r.allNets[i] = slices.Compact(nets)
		for _, n := range r.allNets[i] {
			r.block[n] = append(r.block[n], int32(i))
		}
	}
	for n, members := range r.block {
		switch {
		case len(members) > r.cfg.MaxBlock:
			r.block[n] = nil
			r.skipped++
		case len(members) > 1:
			r.blocks++
		}
	}
	for i, nets := range r.allNets {
		r.nets[i] = slices.DeleteFunc(slices.Clone(nets), func(n int32) bool { return r.block[n] == nil })
	}
}

// pairs calls f once for every pair of devices sharing a usable network, with a < b.
// A pair sharing several networks is visited in the first of them only.
func (r *run) pairs(f func(a, b int32)) {
	for n, members := range r.block {
		for i, a := range members {
			for _, b := range members[i+1:] {
				if firstCommon(r.nets[a], r.nets[b]) == int32(n) {
					f(a, b)
				}
			}
		}
	}
}

// firstCommon returns the smallest element of two sorted lists, or -1 if none.
func firstCommon(x, y []int32) int32 {
	for i, j := 0, 0; i < len(x) && j < len(y); {
		switch {
		case x[i] < y[j]:
			i++
		case x[i] > y[j]:
			j++
		default:
			return x[i]
		}
	}
	return -1
}
