package identity

import (
	"cmp"
	"slices"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Devices accumulates, per device, the context probabilistic matching compares: the IP
// keys the device was seen on, its latest user agent and the places it was seen in.
// Identifiers are interned to small numbers so that a hundred thousand devices and their
// comparisons stay cheap. Devices is not safe for concurrent use.
type Devices struct {
	ttl      time.Duration
	index    map[string]int32
	profiles []profile

	// IP keys, numbered; every exact address belongs to one network prefix.
	ips      map[string]int32
	ipKeys   []string
	ipPrefix []int32
	prefixes map[string]int32
	nets     []string

	agents map[string]int32
	agent  []agentInfo
}

// agentInfo is a User-Agent string and what it parses to.
type agentInfo struct {
	raw    string
	parsed UserAgent
}

// profile is one device's context.
type profile struct {
	key         string
	first, last int64 // unix nanoseconds
	sightings   []sighting
	agent       int32 // -1 when never seen
	agentAt     int64
	places      []place
}

// sighting is an exact address a device was seen on, and when first and last.
type sighting struct {
	ip          int32
	first, last int64
}

// place is a location a device was seen in, and how often.
type place struct {
	country, region, city string
	lat, lon              float64
	n                     int32
}

// maxPlaces bounds the places kept per device: a device's home is its most frequent
// place, and a few distinct places suffice to find it even for a traveller.
const maxPlaces = 4

// NewDevices returns an empty device set whose sightings expire after cfg's TTL.
func NewDevices(cfg Config) *Devices {
	return &Devices{
		ttl:      cfg.ttl(),
		index:    make(map[string]int32),
		ips:      make(map[string]int32),
		prefixes: make(map[string]int32),
		agents:   make(map[string]int32),
	}
}

// Len returns the number of devices.
func (d *Devices) Len() int { return len(d.profiles) }

// Observe records the device context of obs under its device key. Observations may come
// in any order: the latest user agent is chosen by time, not by arrival.
func (d *Devices) Observe(obs Observation) {
	key := obs.DeviceKey()
	if key == "" {
		return
	}
	at := obs.At.UnixNano()
	p := d.profile(key, at)
	p.first, p.last = min(p.first, at), max(p.last, at)
	if obs.IP.Exact != "" {
		p.see(d.ip(obs.IP), at)
	}
	if obs.UserAgent != "" && (p.agent < 0 || at >= p.agentAt) {
		p.agent, p.agentAt = d.userAgent(obs.UserAgent), at
	}
	if g := obs.Geo; g.Country != "" || g.City != "" || g.Latitude != 0 || g.Longitude != 0 {
		p.visit(g)
	}
}

// Expire forgets the addresses a device was last seen on more than the TTL before now,
// and the devices not seen since then at all.
func (d *Devices) Expire(now time.Time) {
	cutoff := now.Add(-d.ttl).UnixNano()
	old := *d
	d.index = make(map[string]int32, len(old.profiles))
	d.profiles = nil
	d.ips, d.ipKeys, d.ipPrefix = make(map[string]int32), nil, nil
	d.prefixes, d.nets = make(map[string]int32), nil
	for _, p := range old.profiles {
		if p.last < cutoff {
			continue
		}
		kept := p.sightings[:0]
		for _, s := range p.sightings {
			if s.last >= cutoff {
				s.ip = d.ip(IPKeys{Prefix: old.nets[old.ipPrefix[s.ip]], Exact: old.ipKeys[s.ip]})
				kept = append(kept, s)
			}
		}
		p.sightings = kept
		slices.SortFunc(p.sightings, func(a, b sighting) int { return cmp.Compare(a.ip, b.ip) })
		d.index[p.key] = int32(len(d.profiles))
		d.profiles = append(d.profiles, p)
	}
}

func (d *Devices) profile(key string, at int64) *profile {
	i, ok := d.index[key]
	if !ok {
		i = int32(len(d.profiles))
		d.index[key] = i
		d.profiles = append(d.profiles, profile{key: key, first: at, last: at, agent: -1})
	}
	return &d.profiles[i]
}

// ip returns the number of an exact address, interning it and its prefix.
func (d *Devices) ip(k IPKeys) int32 {
	if n, ok := d.ips[k.Exact]; ok {
		return n
	}
	net, ok := d.prefixes[k.Prefix]
	if !ok {
		net = int32(len(d.nets))
		d.prefixes[k.Prefix] = net
		d.nets = append(d.nets, k.Prefix)
	}
	n := int32(len(d.ipKeys))
	d.ips[k.Exact] = n
	d.ipKeys = append(d.ipKeys, k.Exact)
	d.ipPrefix = append(d.ipPrefix, net)
	return n
}

// userAgent returns the number of a user-agent string, parsing it once.
func (d *Devices) userAgent(raw string) int32 {
	if n, ok := d.agents[raw]; ok {
		return n
	}
	n := int32(len(d.agent))
	d.agents[raw] = n
	d.agent = append(d.agent, agentInfo{raw: raw, parsed: ParseUserAgent(raw)})
	return n
}

// see records a sighting on ip, keeping sightings sorted by address number so two
// devices' addresses intersect in one merge pass.
func (p *profile) see(ip int32, at int64) {
	i, found := slices.BinarySearchFunc(p.sightings, ip, func(s sighting, ip int32) int { return cmp.Compare(s.ip, ip) })
	if found {
		s := &p.sightings[i]
		s.first, s.last = min(s.first, at), max(s.last, at)
		return
	}
	p.sightings = slices.Insert(p.sightings, i, sighting{ip: ip, first: at, last: at})
}

// visit counts a visit to g's place.
func (p *profile) visit(g events.Geo) {
	for i := range p.places {
		q := &p.places[i]
		if q.country == g.Country && q.region == g.Region && q.city == g.City {
			q.n++
			return
		}
	}
	if len(p.places) < maxPlaces {
		p.places = append(p.places, place{country: g.Country, region: g.Region, city: g.City, lat: g.Latitude, lon: g.Longitude, n: 1})
	}
}

// home returns the place the device was seen in most often (the first such on a tie),
// or nil when it was never located.
func (p *profile) home() *place {
	var best *place
	for i := range p.places {
		if best == nil || p.places[i].n > best.n {
			best = &p.places[i]
		}
	}
	return best
}
