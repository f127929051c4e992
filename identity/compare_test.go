package identity

import (
	"testing"
	"time"
)

// compareIn returns how run r compares devices a and b of observations.
func compareIn(t *testing.T, cfg MatchConfig, a, b string, observations ...Observation) Comparison {
	t.Helper()
	g, d := NewGraph(Config{}), NewDevices(Config{})
	for _, o := range observations {
		g.Observe(o)
		d.Observe(o)
	}
	r := newRun(g, d, cfg.withDefaults())
	ia, okA := d.index[a]
	ib, okB := d.index[b]
	if !okA || !okB {
		t.Fatalf("devices %s, %s not observed", a, b)
	}
	return r.compare(ia, ib)
}

func TestCompareAddresses(t *testing.T) {
	hour := func(d, h int) time.Time { return day(d).Add(time.Duration(h) * time.Hour) }
	home, office, neighbour := "198.51.100.1", "203.0.113.5", "198.51.100.77"
	phone := func(at time.Time, ip string) Observation { return seen(at, ip, iPhone, berlin, "device:phone") }
	laptop := func(at time.Time, ip string) Observation { return seen(at, ip, mac, berlin, "device:laptop") }
	other := func(id string, at time.Time, ip string) Observation { return seen(at, ip, android, berlin, id) }
	tests := []struct {
		name string
		rare int
		obs  []Observation
		want Level
	}{
		{"alone at home", 0, []Observation{phone(hour(0, 20), home), laptop(hour(1, 20), home)}, IPExclusive},
		{"housemate", 0, []Observation{
			phone(hour(0, 20), home), laptop(hour(1, 20), home), other("device:mate", hour(2, 20), home),
		}, IPRare},
		{"crowded", 1, []Observation{
			phone(hour(0, 20), home), laptop(hour(1, 20), home),
			other("device:x", hour(2, 20), home), other("device:y", hour(2, 20), home),
		}, IPCommon},
		// Evenings at home over the same days, and one day at the office.
		{"home and office together", 0, []Observation{
			phone(hour(0, 20), home), phone(hour(2, 20), home), laptop(hour(1, 20), home),
			phone(hour(3, 10), office), laptop(hour(3, 15), office),
		}, IPMultiSite},
		{"office weeks apart", 0, []Observation{
			phone(hour(0, 20), home), phone(hour(2, 20), home), laptop(hour(1, 20), home),
			phone(hour(3, 10), office), laptop(hour(20, 10), office),
		}, IPExclusive},
		{"home on separate days", 0, []Observation{
			phone(hour(0, 20), home), laptop(hour(2, 20), home),
			phone(hour(3, 10), office), laptop(hour(3, 15), office),
		}, IPExclusive},
		{"office only", 0, []Observation{
			phone(hour(3, 10), office), laptop(hour(3, 15), office),
			phone(hour(4, 10), neighbour), laptop(hour(4, 15), home),
		}, IPExclusive},
		{"neighbours", 0, []Observation{phone(hour(0, 20), home), laptop(hour(1, 20), neighbour)}, IPNetwork},
	}
	for _, tt := range tests {
		c := compareIn(t, MatchConfig{RareAddress: tt.rare}, "device:phone", "device:laptop", tt.obs...)
		if c[FieldIP] != tt.want {
			t.Errorf("%s: IP level %s, want %s", tt.name, levelNames[FieldIP][c[FieldIP]], levelNames[FieldIP][tt.want])
		}
		if c[FieldNetwork] != NetworkHome {
			t.Errorf("%s: network level %s, want home", tt.name, levelNames[FieldNetwork][c[FieldNetwork]])
		}
	}
}

func TestCompareNetworksByCrowd(t *testing.T) {
	var obs []Observation
	for i := range smallNetwork {
		obs = append(obs, seen(day(0), "198.51.100.9", android, berlin, ID(KindDevice, string(rune('A'+i%26))+string(rune('a'+i/26)))))
	}
	pair := []Observation{seen(day(0), "198.51.100.1", iPhone, berlin, "device:p"), seen(day(0), "198.51.100.2", mac, berlin, "device:q")}
	if c := compareIn(t, MatchConfig{MaxBlock: 1000}, "device:p", "device:q", append(pair, obs[:homeNetwork-2]...)...); c[FieldNetwork] != NetworkHome {
		t.Errorf("%d persons: %s, want home", homeNetwork, levelNames[FieldNetwork][c[FieldNetwork]])
	}
	if c := compareIn(t, MatchConfig{MaxBlock: 1000}, "device:p", "device:q", append(pair, obs[:homeNetwork-1]...)...); c[FieldNetwork] != NetworkSmall {
		t.Errorf("%d persons: %s, want small", homeNetwork+1, levelNames[FieldNetwork][c[FieldNetwork]])
	}
	if c := compareIn(t, MatchConfig{MaxBlock: 1000}, "device:p", "device:q", append(pair, obs...)...); c[FieldNetwork] != NetworkLarge {
		t.Errorf("%d persons: %s, want large", smallNetwork+2, levelNames[FieldNetwork][c[FieldNetwork]])
	}
}

func TestCompareClasses(t *testing.T) {
	home := "198.51.100.1"
	base := []Observation{
		seen(day(0), home, android, berlin, "device:stray"),
		seen(day(0), home, windows, berlin, "device:pc", "user:u"),
	}
	if c := compareIn(t, MatchConfig{}, "device:stray", "device:pc", base...); c[FieldDeviceClass] != ClassNew {
		t.Errorf("phone against an account with a computer: %d, want new class", c[FieldDeviceClass])
	}
	withPhone := append(base, seen(day(0), home, iPhone, berlin, "device:own-phone", "user:u"))
	if c := compareIn(t, MatchConfig{}, "device:stray", "device:pc", withPhone...); c[FieldDeviceClass] != ClassOwned {
		t.Errorf("phone against an account with a phone: %d, want class owned", c[FieldDeviceClass])
	}
	bot := append(base, seen(day(0), home, "curl/8.5.0", berlin, "device:bot"))
	if c := compareIn(t, MatchConfig{}, "device:bot", "device:pc", bot...); c[FieldDeviceClass] != Missing || c[FieldUserAgent] != UADifferent {
		t.Errorf("bot: class %d, agent %d; want missing class", c[FieldDeviceClass], c[FieldUserAgent])
	}
}
