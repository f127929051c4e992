package identity

import (
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

var (
	iPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	mac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"
	android = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
	windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	berlin  = events.Geo{Country: "DE", Region: "BE", City: "Berlin", Latitude: 52.52, Longitude: 13.405}
	potsdam = events.Geo{Country: "DE", Region: "BB", City: "Potsdam", Latitude: 52.3906, Longitude: 13.0645}
	munich  = events.Geo{Country: "DE", Region: "BY", City: "Munich", Latitude: 48.1351, Longitude: 11.582}
)

// seen is one observation of a device with context.
func seen(at time.Time, ip, ua string, geo events.Geo, ids ...string) Observation {
	h, err := NewIPHasher(secret)
	if err != nil {
		panic(err)
	}
	return Observation{IDs: ids, At: at, IP: h.Keys(ip), UserAgent: ua, Geo: geo}
}

func TestDevicesKeepLatestAgentAndHome(t *testing.T) {
	d := NewDevices(Config{})
	d.Observe(seen(day(5), "198.51.100.1", windows, berlin, "device:a"))
	d.Observe(seen(day(1), "198.51.100.1", mac, munich, "device:a", "anon:x")) // arrives late
	d.Observe(seen(day(3), "198.51.100.2", "", berlin, "device:a"))
	if d.Len() != 1 {
		t.Fatalf("%d devices, want 1", d.Len())
	}
	p := &d.profiles[0]
	if got := d.agent[p.agent].raw; got != windows {
		t.Errorf("agent = %q, want the latest by time", got)
	}
	if h := p.home(); h.city != "Berlin" || h.n != 2 {
		t.Errorf("home = %+v, want Berlin seen twice", h)
	}
	if len(p.sightings) != 2 || p.first != day(1).UnixNano() || p.last != day(5).UnixNano() {
		t.Errorf("profile = %+v", p)
	}
	d.Observe(seen(day(2), "198.51.100.3", mac, berlin, "anon:only"))
	if d.Len() != 2 {
		t.Errorf("a cookie-only device was not kept under its anonymous id")
	}
}

func TestDevicesExpire(t *testing.T) {
	d := NewDevices(Config{LinkTTL: 10 * 24 * time.Hour})
	d.Observe(seen(day(0), "198.51.100.1", mac, berlin, "device:gone"))
	d.Observe(seen(day(0), "198.51.100.1", iPhone, berlin, "device:stays"))
	d.Observe(seen(day(8), "203.0.113.9", iPhone, berlin, "device:stays"))
	d.Expire(day(15))
	if d.Len() != 1 || d.profiles[0].key != "device:stays" {
		t.Fatalf("devices after expiry: %+v", d.profiles)
	}
	p := &d.profiles[0]
	if len(p.sightings) != 1 || d.ipKeys[p.sightings[0].ip] != ExactIPKey("203.0.113.9", secret) {
		t.Errorf("sightings after expiry: %+v", p.sightings)
	}
	if len(d.ipKeys) != 1 || len(d.nets) != 1 {
		t.Errorf("expired addresses still interned: %d addresses, %d networks", len(d.ipKeys), len(d.nets))
	}
	d.Observe(seen(day(16), "203.0.113.9", iPhone, berlin, "device:new"))
	if d.profiles[1].sightings[0].ip != p.sightings[0].ip {
		t.Error("an address seen after compaction got a second number")
	}
}

func TestComparePlaces(t *testing.T) {
	newark := events.Geo{Country: "US", Region: "NJ", City: "Newark", Latitude: 40.7357, Longitude: -74.1724}
	newYork := events.Geo{Country: "US", Region: "NY", City: "New York", Latitude: 40.7128, Longitude: -74.006}
	buffalo := events.Geo{Country: "US", Region: "NY", City: "Buffalo", Latitude: 42.8864, Longitude: -78.8784}
	noCoords := events.Geo{Country: "DE", Region: "BE", City: "Berlin"}
	place := func(g events.Geo) *place {
		return &place{country: g.Country, region: g.Region, city: g.City, lat: g.Latitude, lon: g.Longitude}
	}
	tests := []struct {
		a, b events.Geo
		want Level
	}{
		{berlin, berlin, GeoNear},
		{berlin, noCoords, GeoNear},    // by name
		{newark, newYork, GeoNear},     // 14 km across a state line
		{berlin, potsdam, GeoRegion},   // 27 km, another state
		{newYork, buffalo, GeoRegion},  // same state, 470 km
		{berlin, munich, GeoCountry},   // 500 km
		{newYork, berlin, GeoFar},      // another continent
		{noCoords, munich, GeoCountry}, // no distance, same country
	}
	for _, tt := range tests {
		if got := comparePlaces(place(tt.a), place(tt.b)); got != tt.want {
			t.Errorf("%s vs %s = %s, want %s", tt.a.City, tt.b.City, levelNames[FieldGeo][got], levelNames[FieldGeo][tt.want])
		}
	}
	if got := comparePlaces(nil, place(berlin)); got != Missing {
		t.Errorf("unlocated device compares as %d", got)
	}
}

func TestCompareAgents(t *testing.T) {
	info := func(raw string) *agentInfo { return &agentInfo{raw: raw, parsed: ParseUserAgent(raw)} }
	chrome130 := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
	tests := []struct {
		a, b string
		want Level
	}{
		{windows, windows, UAIdentical},
		{windows, chrome130, UASameBrowser},
		{iPhone, mac, UASameVendor},
		{android, windows, UADifferent},
	}
	for _, tt := range tests {
		if got := compareAgents(info(tt.a), info(tt.b)); got != tt.want {
			t.Errorf("%.40s vs %.40s = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
