package identity

import (
	"math"
	"time"
)

// Field is one attribute two devices are compared on.
type Field int

// The compared fields.
const (
	// FieldNetwork grades the least crowded network the pair shares: a home network
	// holds a few households, a carrier's NAT network thousands of strangers.
	FieldNetwork Field = iota
	// FieldIP grades the addresses the pair shares.
	FieldIP
	FieldUserAgent
	FieldGeo
	// FieldDeviceClass asks whether the two persons already own, besides the pair, a
	// device of the class of either device. People rarely carry two phones; a household
	// often does, so a second phone at an account's home is more likely a housemate's.
	FieldDeviceClass
	numFields
)

// Level is how far a pair agrees on one field; lower levels are closer agreement.
type Level uint8

// Missing marks a field one device of the pair lacks. It is evidence neither way, so it
// contributes no weight and is left out of estimation.
const Missing Level = 255

// Network levels, by the number of deterministic persons seen in the network.
const (
	// NetworkHome: at most homeNetwork persons, a few households.
	NetworkHome Level = iota
	// NetworkSmall: at most smallNetwork persons, a small office or a busy block.
	NetworkSmall
	// NetworkLarge: more, a carrier's or a large organisation's.
	NetworkLarge
)

// Network crowd bounds. Every device never logged in counts as a person of its own, so
// a home network of a few households easily holds ten.
const (
	homeNetwork  = 10
	smallNetwork = 50
)

// IP agreement levels. Sharing an address is evidence in proportion to how few other
// people share it, so the levels grade shared addresses by their "others": the
// deterministic persons besides the pair's own seen on the address.
const (
	// IPMultiSite: a rare address shared, and the two devices together (see copresent)
	// in two networks (home, and work or a hotel, say): a housemate shares the home, a
	// colleague the office, rarely both.
	IPMultiSite Level = iota
	// IPExclusive: an address no one else is seen on.
	IPExclusive
	// IPRare: an address at most MatchConfig.RareAddress others are seen on.
	IPRare
	// IPCommon: only addresses many others share (an office, a hotel, carrier NAT).
	IPCommon
	// IPNetwork: the same /24 or /48 network but no common address. There is no level
	// below it because blocking compares only devices that share a network.
	IPNetwork
)

// User-agent agreement levels.
const (
	// UAIdentical: the same User-Agent string — for two devices, often evidence against,
	// since one person rarely owns two identical devices while a family often does.
	UAIdentical Level = iota
	// UASameBrowser: same browser family, OS and device class.
	UASameBrowser
	// UASameVendor: same platform vendor (an iPhone and a Mac).
	UASameVendor
	// UADifferent: nothing in common.
	UADifferent
)

// Geolocation agreement levels, from the devices' most frequent places.
const (
	// GeoNear: the same city, or within nearKm.
	GeoNear Level = iota
	// GeoRegion: the same region, or within regionKm.
	GeoRegion
	// GeoCountry: the same country.
	GeoCountry
	// GeoFar: none of these.
	GeoFar
)

// Device-class levels.
const (
	// ClassNew: neither device's class is already owned by the other's person.
	ClassNew Level = iota
	// ClassOwned: one of them is.
	ClassOwned
)

// Distances for the geolocation levels: IP geolocation is good to a city (tens of
// kilometres), so nearer than that is "the same place".
const (
	nearKm   = 25
	regionKm = 150
)

var fieldNames = [numFields]string{"network", "ip", "user_agent", "geo", "device_class"}

var levelNames = [numFields][]string{
	{"home", "small", "large"},
	{"multi_site", "exclusive", "rare", "common", "network"},
	{"identical", "same_browser", "same_vendor", "different"},
	{"near", "region", "country", "far"},
	{"new_class", "class_owned"},
}

// String returns the field's name.
func (f Field) String() string { return fieldNames[f] }

// Comparison is a pair's agreement level on every field, indexed by Field.
type Comparison [numFields]Level

// compareAgents compares two parsed user agents.
func compareAgents(a, b *agentInfo) Level {
	switch {
	case a.raw == b.raw:
		return UAIdentical
	case a.parsed == b.parsed:
		return UASameBrowser
	case a.parsed.Vendor() != "" && a.parsed.Vendor() == b.parsed.Vendor():
		return UASameVendor
	}
	return UADifferent
}

// comparePlaces compares two places by name, and by distance when both have coordinates,
// taking whichever says they are closer: names catch places without coordinates, and
// distance catches neighbouring cities across a regional border.
func comparePlaces(a, b *place) Level {
	if a == nil || b == nil {
		return Missing
	}
	km := math.Inf(1)
	if (a.lat != 0 || a.lon != 0) && (b.lat != 0 || b.lon != 0) {
		km = haversineKm(a.lat, a.lon, b.lat, b.lon)
	}
	sameCountry := a.country != "" && a.country == b.country
	sameRegion := sameCountry && a.region != "" && a.region == b.region
	switch {
	case km <= nearKm || sameRegion && a.city != "" && a.city == b.city:
		return GeoNear
	case km <= regionKm || sameRegion:
		return GeoRegion
	case sameCountry:
		return GeoCountry
	}
	return GeoFar
}

// haversineKm returns the great-circle distance between two points in kilometres.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const earthRadiusKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(min(1, h)))
}

// compareClasses reports whether either person of the pair owns, besides the pair
// itself, a device of the class of a or b.
func (r *run) compareClasses(a, b int32) Level {
	ca, cb := r.class[a], r.class[b]
	if ca < 0 || cb < 0 {
		return Missing
	}
	pa, pb := r.person[a], r.person[b]
	owns := func(p int32, c int8) bool {
		n := r.owned[p][c]
		// Neither device of the pair counts as already owned.
		if pa == p && ca == c {
			n--
		}
		if pb == p && cb == c {
			n--
		}
		return n > 0
	}
	if owns(pb, ca) || owns(pa, cb) {
		return ClassOwned
	}
	return ClassNew
}

// compare returns the agreement levels of devices a and b.
func (r *run) compare(a, b int32) Comparison {
	pa, pb := &r.d.profiles[a], &r.d.profiles[b]
	c := Comparison{FieldNetwork: r.compareNetworks(a, b), FieldIP: r.compareAddresses(a, b), FieldUserAgent: Missing}
	if pa.agent >= 0 && pb.agent >= 0 {
		c[FieldUserAgent] = compareAgents(&r.d.agent[pa.agent], &r.d.agent[pb.agent])
	}
	c[FieldGeo] = comparePlaces(pa.home(), pb.home())
	c[FieldDeviceClass] = r.compareClasses(a, b)
	return c
}

// compareNetworks grades the least crowded network devices a and b share.
func (r *run) compareNetworks(a, b int32) Level {
	least := int32(math.MaxInt32)
	x, y := r.allNets[a], r.allNets[b]
	for i, j := 0, 0; i < len(x) && j < len(y); {
		switch {
		case x[i] < y[j]:
			i++
		case x[i] > y[j]:
			j++
		default:
			least = min(least, r.netCrowd[x[i]])
			i++
			j++
		}
	}
	switch {
	case least <= homeNetwork:
		return NetworkHome
	case least <= smallNetwork:
		return NetworkSmall
	}
	return NetworkLarge
}

// compareAddresses grades the addresses devices a and b share by how many other persons
// share them, and by whether they were together in more than one network. The pair is
// known to share a network, so IPNetwork is the floor.
func (r *run) compareAddresses(a, b int32) Level {
	own := int32(2)
	if r.person[a] == r.person[b] {
		own = 1
	}
	sa, sb := r.d.profiles[a].sightings, r.d.profiles[b].sightings
	level := IPNetwork
	lastNet := int32(-1)
	sites := 0 // networks with an address the pair was together on, up to two
	for i, j := 0, 0; i < len(sa) && j < len(sb); {
		switch {
		case sa[i].ip < sb[j].ip:
			i++
			continue
		case sa[i].ip > sb[j].ip:
			j++
			continue
		}
		ip, together := sa[i].ip, copresent(sa[i], sb[j])
		i++
		j++
		if net := r.d.ipPrefix[ip]; together && net != lastNet {
			lastNet = net
			sites = min(sites+1, 2)
		}
		switch others := r.crowd[ip] - own; {
		case others == 0:
			level = min(level, IPExclusive)
		case others <= int32(r.cfg.RareAddress):
			level = min(level, IPRare)
		default:
			level = min(level, IPCommon)
		}
	}
	if sites > 1 && level <= IPRare {
		return IPMultiSite
	}
	return level
}

// copresenceSlack is how far apart two devices' stays on an address may be and still
// count as being there together: within the same day.
const copresenceSlack = int64(12 * time.Hour)

// copresent reports whether two devices' stays on one address overlap, give or take
// copresenceSlack. Two phones that drew the same carrier NAT address weeks apart were
// not together; a phone and a laptop used in the same office over a month were.
func copresent(a, b sighting) bool {
	return a.first-copresenceSlack <= b.last && b.first-copresenceSlack <= a.last
}
