package identity

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// SynthConfig sizes a synthetic population.
type SynthConfig struct {
	Seed   uint64
	People int
	// End closes the observed window and Days is its length; zero values mean
	// 2026-01-01 and 60 days, well inside the link TTL.
	End  time.Time
	Days int
}

// Population is a seeded synthetic population of people, their devices and their
// sessions, with the ground truth of which device is whose. It models what makes
// cross-device matching hard: households of several people behind one home address,
// offices of many people behind one network, phones on carrier NAT addresses that change
// every session, people travelling, cookies cleared, and accounts used on some devices
// only, or never.
type Population struct {
	// Truth maps every device key (see Observation.DeviceKey) to its person.
	Truth map[string]int
	// People and Devices count the physical population.
	People, Devices int
	// End is the end of the observed window.
	End time.Time

	// household and office number every person's home and workplace (-1: none), so tests
	// can tell a housemate or a colleague from a stranger.
	household, office []int

	sessions []session
	devices  []synthDevice
	sites    []site
	cities   []city
}

// session is one visit of a device; an observation is made from it on demand.
type session struct {
	at     int64 // unix nanoseconds
	device int32
	site   int32
	anon   uint8 // index into the device's anonymous ids
	user   bool
}

// synthDevice is one device and the identifiers its events carry.
type synthDevice struct {
	person    int
	deviceKey string // "" for a browser known only by its cookie
	anonKeys  []string
	userKey   string
	agent     string
}

// site is one public address and where it geolocates.
type site struct {
	keys     IPKeys
	city     int
	lat, lon float64
}

// city is a place people live in and addresses geolocate to.
type city struct {
	country, region, name string
	lat, lon              float64
	weight                int
}

// synthCities are real cities, weighted by how many of the population live there.
// Neighbours across a regional border (New York and Newark, Berlin and Potsdam) and
// cities far apart within one region (New York and Buffalo) exercise the geolocation
// levels.
var synthCities = []city{
	{"US", "NY", "New York", 40.7128, -74.0060, 12},
	{"US", "NJ", "Newark", 40.7357, -74.1724, 3},
	{"US", "NY", "Buffalo", 42.8864, -78.8784, 2},
	{"US", "MA", "Boston", 42.3601, -71.0589, 4},
	{"US", "IL", "Chicago", 41.8781, -87.6298, 6},
	{"US", "CA", "San Francisco", 37.7749, -122.4194, 5},
	{"US", "CA", "Oakland", 37.8044, -122.2712, 2},
	{"US", "CA", "Los Angeles", 34.0522, -118.2437, 8},
	{"US", "TX", "Austin", 30.2672, -97.7431, 3},
	{"US", "WA", "Seattle", 47.6062, -122.3321, 3},
	{"DE", "BE", "Berlin", 52.5200, 13.4050, 5},
	{"DE", "BB", "Potsdam", 52.3906, 13.0645, 1},
	{"DE", "BY", "Munich", 48.1351, 11.5820, 4},
	{"DE", "BY", "Nuremberg", 49.4521, 11.0767, 2},
	{"DE", "HH", "Hamburg", 53.5511, 9.9937, 3},
	{"FR", "IDF", "Paris", 48.8566, 2.3522, 7},
	{"FR", "IDF", "Versailles", 48.8049, 2.1204, 1},
	{"FR", "ARA", "Lyon", 45.7640, 4.8357, 3},
	{"GB", "ENG", "London", 51.5074, -0.1278, 8},
	{"GB", "ENG", "Manchester", 53.4808, -2.2426, 3},
	{"GB", "SCT", "Edinburgh", 55.9533, -3.1883, 2},
}

// Device kinds and platform ecosystems.
const (
	kindPhone = iota
	kindLaptop
	kindTablet
	kindDesktop
	numKinds
)

const (
	ecoApple = iota
	ecoWindows
	ecoLinux
	ecoChromeOS
)

// world is the state of building a population.
type world struct {
	r     *rand.Rand
	h     *IPHasher
	p     *Population
	start int64
	span  int64
	nets  int
	// households and workplaces count the homes and offices made so far.
	households, workplaces int
	siteOf                 map[string]int32
	// siteNet is the network of every site, by site number.
	siteNet []string
	// Per city: the residential network being filled and its room left; offices being
	// filled; public hotspots; hotels. Per country: carrier networks.
	homeNet   []string
	homeRoom  []int
	offices   [][]*office
	hotspots  [][]int32
	hotels    [][]int32
	carriers  map[string][][]string
	byCountry map[string][]int
	cityPick  []int
}

// office is a workplace: its egress addresses and the room left for more staff.
type office struct {
	id    int
	addrs []int32
	room  int
}

// synthPerson is one member of the population while it is built.
type synthPerson struct {
	id        int
	city      int
	home      [2]int32 // the home address, and after renumber the new one
	renumber  int64    // when the home address changes; 0 if never
	office    *office
	carrier   []string // the carrier's networks
	eco       int
	account   bool
	tripStart int64
	tripEnd   int64
	tripCity  int
	hotel     int32
}

// synthSecret keys the population's IP hashes; it is fixed so runs are reproducible.
var synthSecret = []byte("touchpoint-identity-synthetic-population")

// Synthesize builds the population for cfg. The same config always gives the same
// population.
func Synthesize(cfg SynthConfig) *Population {
	if cfg.End.IsZero() {
		cfg.End = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.Days <= 0 {
		cfg.Days = 60
	}
	h, err := NewIPHasher(synthSecret)
	if err != nil {
		panic(err) // the secret is a constant of the right length
	}
	span := time.Duration(cfg.Days) * 24 * time.Hour
	w := &world{
		r:         rand.New(rand.NewPCG(cfg.Seed, 0x1de7)),
		h:         h,
		p:         &Population{Truth: make(map[string]int), End: cfg.End, cities: synthCities},
		start:     cfg.End.Add(-span).UnixNano(),
		span:      int64(span),
		siteOf:    make(map[string]int32),
		homeNet:   make([]string, len(synthCities)),
		homeRoom:  make([]int, len(synthCities)),
		offices:   make([][]*office, len(synthCities)),
		hotspots:  make([][]int32, len(synthCities)),
		hotels:    make([][]int32, len(synthCities)),
		carriers:  make(map[string][][]string),
		byCountry: make(map[string][]int),
	}
	w.layOut(cfg.People)
	for w.p.People < cfg.People {
		w.household(min(w.householdSize(), cfg.People-w.p.People))
	}
	slices.SortStableFunc(w.p.sessions, func(a, b session) int { return cmp.Compare(a.at, b.at) })
	return w.p
}

// layOut makes the shared infrastructure: hotspots and hotels per city and carrier
// networks per country, in proportion to the population so that their crowding is the
// same at every size.
func (w *world) layOut(people int) {
	total := 0
	for _, c := range synthCities {
		total += c.weight
	}
	for i, c := range synthCities {
		w.byCountry[c.country] = append(w.byCountry[c.country], i)
		for range c.weight {
			w.cityPick = append(w.cityPick, i)
		}
		inCity := people * c.weight / total
		// Hotspots come eight to a network, as a café chain's or a city's.
		var net string
		for k := range 2 + inCity/150 {
			if k%8 == 0 {
				net = w.newNet()
			}
			w.hotspots[i] = append(w.hotspots[i], w.site(net, i))
		}
		for range 2 + inCity/500 {
			w.hotels[i] = append(w.hotels[i], w.site(w.newNet(), i))
		}
	}
	// Countries in order, not map order, so the same seed gives the same networks.
	countries := slices.Sorted(maps.Keys(w.byCountry))
	for _, country := range countries {
		cities := w.byCountry[country]
		weight := 0
		for _, c := range cities {
			weight += synthCities[c].weight
		}
		inCountry := people * weight / total
		for range 3 {
			var nets []string
			for range 2 + inCountry/250 {
				nets = append(nets, w.newNet())
			}
			w.carriers[country] = append(w.carriers[country], nets)
		}
	}
}

// householdSize draws how many of the population share a home: most customers of one
// business live alone among its customers, some with one or more others.
func (w *world) householdSize() int {
	return pick(w.r, []int{45, 30, 13, 9, 3}) + 1
}

// household makes n people sharing one home address.
func (w *world) household(n int) {
	c := w.cityPick[w.r.IntN(len(w.cityPick))]
	home := w.homeAddress(c)
	var renumber int64
	second := home
	if w.r.Float64() < 0.15 {
		renumber = w.start + w.r.Int64N(w.span)
		if w.r.Float64() < 0.5 {
			second = w.homeAddress(c)
		} else {
			second = w.site(w.netOf(home), c)
		}
	}
	eco := w.ecosystem()
	w.households++
	for i := range n {
		pe := &synthPerson{id: w.p.People, city: c, home: [2]int32{home, second}, renumber: renumber, eco: eco}
		w.p.People++
		w.p.household = append(w.p.household, w.households)
		if i > 0 && w.r.Float64() < 0.5 {
			pe.eco = w.ecosystem()
		}
		w.life(pe)
	}
}

// Where a person spends an active day.
const (
	dayHome = iota
	dayOffice
	dayCafe
	dayMoving
	dayTrip
	numDayKinds
)

// usage is the chance that a device of a kind is used on a day of a kind. Devices go
// where their person goes, which is what lets matching tell a person from a household:
// a housemate shares the home only, a colleague the office only.
var usage = [numKinds][numDayKinds]float64{
	kindPhone:   {0.6, 0.6, 0.8, 0.9, 0.8},
	kindLaptop:  {0.5, 0.8, 0.4, 0.1, 0.6},
	kindTablet:  {0.35, 0, 0.15, 0, 0.3},
	kindDesktop: {0.5, 0.8, 0, 0, 0},
}

// dayHours are the hours a day's sessions start in, by day kind.
var dayHours = [numDayKinds][2]int{{18, 23}, {9, 17}, {8, 21}, {8, 21}, {8, 23}}

// deviceLife is a device while its sessions are made.
type deviceLife struct {
	synthDevice
	kind int
	// atWork places a desktop in the office rather than at home.
	atWork   bool
	sessions []int64 // times
	sites    []int32
}

const dayNanos = int64(24 * time.Hour)

// life fills in a person's work, carrier, travel and account, then lives their active
// days, using some of their devices on each.
func (w *world) life(pe *synthPerson) {
	country := synthCities[pe.city].country
	carriers := w.carriers[country]
	pe.carrier = carriers[w.r.IntN(len(carriers))]
	w.p.office = append(w.p.office, -1)
	if w.r.Float64() < 0.4 {
		pe.office = w.office(pe.city)
		w.p.office[pe.id] = pe.office.id
	}
	if w.r.Float64() < 0.15 {
		pe.tripStart = w.start + w.r.Int64N(w.span)
		pe.tripEnd = pe.tripStart + int64(2+w.r.IntN(5))*dayNanos
		pe.tripCity = w.cityPick[w.r.IntN(len(w.cityPick))]
		if pe.tripCity == pe.city {
			pe.tripCity = (pe.city + 1) % len(synthCities)
		}
		hotels := w.hotels[pe.tripCity]
		pe.hotel = hotels[w.r.IntN(len(hotels))]
	}
	pe.account = w.r.Float64() < 0.55
	kinds := []int{kindPhone, kindLaptop, kindTablet, kindDesktop}
	if w.r.Float64() < 0.1 {
		kinds = []int{kindLaptop, kindPhone, kindDesktop, kindTablet}
	}
	devices := make([]*deviceLife, pick(w.r, []int{30, 40, 20, 10})+1)
	for k := range devices {
		devices[k] = w.newDevice(pe, kinds[k], k)
	}
	days := int(w.span / dayNanos)
	active := min(days, 4+w.r.IntN(17))
	for _, day := range w.r.Perm(days)[:active] {
		start := w.start + int64(day)*dayNanos
		kind, spot := w.day(pe, start)
		for _, d := range devices {
			p := usage[d.kind][kind]
			if d.kind == kindDesktop && d.atWork != (kind == dayOffice) {
				p = 0
			}
			if w.r.Float64() < p {
				hours := dayHours[kind]
				at := start + int64(hours[0]+w.r.IntN(hours[1]-hours[0]+1))*int64(time.Hour) + w.r.Int64N(int64(time.Hour))
				d.sessions = append(d.sessions, at)
				d.sites = append(d.sites, w.where(pe, d, kind, spot, at))
			}
		}
	}
	for _, d := range devices {
		if len(d.sessions) == 0 {
			at := w.start + w.r.Int64N(w.span)
			d.sessions, d.sites = append(d.sessions, at), append(d.sites, pe.homeAt(at))
		}
		w.finish(pe, d)
	}
}

// day picks where a person spends a day starting at start, and the café if any.
func (w *world) day(pe *synthPerson, start int64) (int, int32) {
	if pe.tripEnd > pe.tripStart && start >= pe.tripStart-dayNanos && start < pe.tripEnd {
		return dayTrip, pe.hotel
	}
	weights := []int{70, 0, 15, 15}
	if pe.office != nil {
		weights = []int{45, 35, 10, 10}
	}
	kind := pick(w.r, weights)
	if kind == dayCafe {
		return kind, w.hotspot(pe.city)
	}
	return kind, -1
}

// newDevice makes one device of a person, without sessions yet.
func (w *world) newDevice(pe *synthPerson, kind, index int) *deviceLife {
	d := &deviceLife{synthDevice: synthDevice{person: pe.id, agent: w.userAgent(kind, pe.eco)}, kind: kind}
	// Apps carry a device id; a browser without the SDK is known by its cookie alone.
	if kind == kindPhone || kind == kindTablet || w.r.Float64() < 0.5 {
		d.deviceKey = ID(KindDevice, fmt.Sprintf("p%d-%d", pe.id, index))
	}
	if pe.account {
		d.userKey = ID(KindUser, fmt.Sprintf("u%d", pe.id))
	}
	d.atWork = kind == kindDesktop && pe.office != nil && w.r.Float64() < 0.4
	d.anonKeys = append(d.anonKeys, ID(KindAnonymous, fmt.Sprintf("%016x", w.r.Uint64())))
	return d
}

// finish orders a device's sessions, decides when it logs in and clears its cookies,
// and adds it to the population.
func (w *world) finish(pe *synthPerson, d *deviceLife) {
	n := len(d.sessions)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(d.sessions[a], d.sessions[b]) })

	// A person with an account logs in on a device from some session on, or never; a
	// cookie-only browser that clears its cookies loses the login with them.
	loginAt := n
	if pe.account && w.r.Float64() < 0.7 {
		loginAt = w.r.IntN(n)
	}
	clearAt := n
	if d.deviceKey == "" && n > 1 && w.r.Float64() < 0.25 {
		clearAt = 1 + w.r.IntN(n-1)
		d.anonKeys = append(d.anonKeys, ID(KindAnonymous, fmt.Sprintf("%016x", w.r.Uint64())))
	}
	relogin := w.r.Float64() < 0.5
	dev := int32(len(w.p.devices))
	for i, k := range order {
		s := session{at: d.sessions[k], device: dev, site: d.sites[k], user: i >= loginAt}
		if i >= clearAt {
			s.anon = 1
			if loginAt < clearAt {
				s.user = relogin && i >= clearAt+(n-clearAt)/2
			}
		}
		w.p.sessions = append(w.p.sessions, s)
	}
	w.p.devices = append(w.p.devices, d.synthDevice)
	w.p.Devices++
	if d.deviceKey != "" {
		w.p.Truth[d.deviceKey] = pe.id
		return
	}
	for _, k := range d.anonKeys {
		w.p.Truth[k] = pe.id
	}
}

// homeAt returns the person's home address at time at.
func (pe *synthPerson) homeAt(at int64) int32 {
	if pe.renumber != 0 && at >= pe.renumber {
		return pe.home[1]
	}
	return pe.home[0]
}

// where picks the address a device uses in one session of a day: the place's network,
// or the phone's carrier.
func (w *world) where(pe *synthPerson, d *deviceLife, day int, spot int32, at int64) int32 {
	phone := d.kind == kindPhone
	switch day {
	case dayHome:
		if phone && w.r.Float64() < 0.15 {
			return w.mobile(pe, pe.city)
		}
		return pe.homeAt(at)
	case dayOffice:
		if phone && w.r.Float64() < 0.5 {
			return w.mobile(pe, pe.city)
		}
		return pe.office.addrs[w.r.IntN(len(pe.office.addrs))]
	case dayCafe:
		if phone && w.r.Float64() < 0.5 {
			return w.mobile(pe, pe.city)
		}
		return spot
	case dayTrip:
		if phone && w.r.Float64() < 0.5 {
			return w.mobile(pe, pe.tripCity)
		}
		return spot
	}
	return w.mobile(pe, pe.city)
}

// mobile returns a fresh carrier NAT address: any host of any of the carrier's networks.
func (w *world) mobile(pe *synthPerson, c int) int32 {
	net := pe.carrier[w.r.IntN(len(pe.carrier))]
	return w.siteAt(fmt.Sprintf("%s.%d", net, 1+w.r.IntN(254)), c, false)
}

// hotspot returns one of city c's public Wi-Fi addresses.
func (w *world) hotspot(c int) int32 {
	return w.hotspots[c][w.r.IntN(len(w.hotspots[c]))]
}

// homeAddress returns a new residential address in city c. A residential network holds
// a few of the population's homes, as ISPs fill their blocks with neighbours.
func (w *world) homeAddress(c int) int32 {
	if w.homeRoom[c] == 0 {
		w.homeNet[c] = w.newNet()
		w.homeRoom[c] = 1 + w.r.IntN(3)
	}
	w.homeRoom[c]--
	return w.site(w.homeNet[c], c)
}

// office returns an office in city c with room for one more; offices range from a few
// people to a few hundred, the large ones with several egress addresses.
func (w *world) office(c int) *office {
	list := w.offices[c]
	if n := len(list); n > 0 && list[n-1].room > 0 {
		list[n-1].room--
		return list[n-1]
	}
	var size int
	switch pick(w.r, []int{60, 30, 10}) {
	case 0:
		size = 2 + w.r.IntN(9)
	case 1:
		size = 10 + w.r.IntN(41)
	default:
		size = 50 + w.r.IntN(251)
	}
	w.workplaces++
	o := &office{id: w.workplaces, room: size - 1}
	net := w.newNet()
	for range 1 + size/50 {
		o.addrs = append(o.addrs, w.site(net, c))
	}
	w.offices[c] = append(list, o)
	return o
}

// ecosystem draws a platform vendor preference.
func (w *world) ecosystem() int {
	return pick(w.r, []int{35, 55, 4, 6})
}

// newNet allocates a fresh /24 network, as "a.b.c".
func (w *world) newNet() string {
	w.nets++
	n := w.nets
	return fmt.Sprintf("%d.%d.%d", 11+n>>16%200, n>>8&255, n&255)
}

// netOf returns the network of a site's address.
func (w *world) netOf(s int32) string {
	return w.siteNet[s]
}

// site returns a new address in network net, located in city c.
func (w *world) site(net string, c int) int32 {
	for {
		ip := fmt.Sprintf("%s.%d", net, 1+w.r.IntN(254))
		if _, taken := w.siteOf[ip]; !taken {
			return w.siteAt(ip, c, true)
		}
	}
}

// siteAt returns the site of address ip, making it if new. Fixed-line addresses
// geolocate to a point near the city centre; carrier addresses only to the city.
func (w *world) siteAt(ip string, c int, fixed bool) int32 {
	if s, ok := w.siteOf[ip]; ok {
		return s
	}
	s := site{keys: w.h.Keys(ip), city: c, lat: synthCities[c].lat, lon: synthCities[c].lon}
	if fixed {
		s.lat += (w.r.Float64() - 0.5) * 0.1
		s.lon += (w.r.Float64() - 0.5) * 0.1
	}
	n := int32(len(w.p.sites))
	w.p.sites = append(w.p.sites, s)
	w.siteNet = append(w.siteNet, ip[:strings.LastIndexByte(ip, '.')])
	w.siteOf[ip] = n
	return n
}

// pick draws an index with probability proportional to weights.
func pick(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	x := r.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// Observations yields one observation per session, in time order.
func (p *Population) Observations() iter.Seq[Observation] {
	return func(yield func(Observation) bool) {
		for _, s := range p.sessions {
			d := &p.devices[s.device]
			ids := make([]string, 0, 3)
			if d.deviceKey != "" {
				ids = append(ids, d.deviceKey)
			}
			ids = append(ids, d.anonKeys[s.anon])
			if s.user {
				ids = append(ids, d.userKey)
			}
			st := &p.sites[s.site]
			c := &p.cities[st.city]
			obs := Observation{
				IDs:       ids,
				At:        time.Unix(0, s.at).UTC(),
				IP:        st.keys,
				UserAgent: d.agent,
				Geo:       events.Geo{Country: c.country, Region: c.region, City: c.name, Latitude: st.lat, Longitude: st.lon},
			}
			if !yield(obs) {
				return
			}
		}
	}
}

// Quality measures probabilistic links against a population's truth.
type Quality struct {
	// Links counts the probabilistic links, CorrectLinks those joining two devices of one
	// person.
	Links, CorrectLinks int
	// TargetPairs counts the pairs of one person's devices that deterministic links leave
	// apart — what matching could find — and FoundPairs those the links bring together.
	TargetPairs, FoundPairs int
	// MergedPairs counts the pairs of devices the links bring together (directly or
	// through other links), CorrectMergedPairs those that are one person.
	MergedPairs, CorrectMergedPairs int
}

// Precision is the share of probabilistic links that are right.
func (q Quality) Precision() float64 { return ratio(q.CorrectLinks, q.Links) }

// Recall is the share of the pairs matching could find that it found.
func (q Quality) Recall() float64 { return ratio(q.FoundPairs, q.TargetPairs) }

// PairPrecision is the share of device pairs brought together that are one person; it
// counts the pairs a link joins indirectly, which Precision does not.
func (q Quality) PairPrecision() float64 { return ratio(q.CorrectMergedPairs, q.MergedPairs) }

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// Evaluate measures links, made by Match over g, against the truth. g is not changed:
// the people links would form are worked out on the side.
func (p *Population) Evaluate(g *Graph, links []Link) Quality {
	var q Quality
	keys := make([]string, 0, len(p.Truth))
	for k := range p.Truth {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	// Number the deterministic persons, then join them along the links.
	det := make(map[string]int32)
	var joined unionFind
	number := func(key string) int32 {
		canon := g.DeterministicPerson(key)
		n, ok := det[canon]
		if !ok {
			n = joined.add()
			det[canon] = n
		}
		return n
	}
	keep := func(x, y int32) bool { return false }
	for _, l := range links {
		joined.union(number(l.A), number(l.B), keep)
		ta, okA := p.Truth[l.A]
		tb, okB := p.Truth[l.B]
		q.Links++
		if okA && okB && ta == tb {
			q.CorrectLinks++
		}
	}

	type device struct {
		det, final int32
		truth      int
	}
	byTruth := make(map[int][]device)
	byFinal := make(map[int32][]device)
	for _, k := range keys {
		n := number(k)
		d := device{det: n, final: joined.find(n), truth: p.Truth[k]}
		byTruth[d.truth] = append(byTruth[d.truth], d)
		byFinal[d.final] = append(byFinal[d.final], d)
	}
	for _, ds := range byTruth {
		for i, a := range ds {
			for _, b := range ds[i+1:] {
				if a.det != b.det {
					q.TargetPairs++
					if a.final == b.final {
						q.FoundPairs++
					}
				}
			}
		}
	}
	for _, ds := range byFinal {
		for i, a := range ds {
			for _, b := range ds[i+1:] {
				if a.det != b.det {
					q.MergedPairs++
					if a.truth == b.truth {
						q.CorrectMergedPairs++
					}
				}
			}
		}
	}
	return q
}
