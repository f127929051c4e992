package generator

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/touchpoint/touchpoint/events"
)

// tenant is one tenant's slice of the simulated world.
type tenant struct {
	id       string
	currency string
	// campaigns are slots, each running one campaign at a time; a terminated campaign's
	// slot launches a fresh campaign on the same channel.
	campaigns []campaign
	// launched numbers campaigns so every launch gets a fresh id.
	launched int
	// journeys numbers journeys so every journey gets a fresh id.
	journeys  int
	customers []customer
}

// campaign is the state of one campaign slot.
type campaign struct {
	channel int // index into profiles
	id      string
	name    string
	active  bool
	// remaining is how many optimizations are left before the campaign terminates.
	remaining int
	creatives []string
}

type customer struct {
	id string
	// userID is the id the customer logs in with; it only appears on events once
	// loggedIn, which is what cross-device identity resolution keys on.
	userID   string
	loggedIn bool
	geo      events.Geo
	devices  []device
	journey  journey
	// segments is a bit set over the segments slice (so at most 32 of them), letting exits
	// follow only entries.
	segments uint32
}

type device struct {
	id, anonymousID, ip string
	kind                int // index into deviceKinds
	userAgent           string
}

// journey is a customer's journey in progress.
type journey struct {
	active  bool
	id      string
	stage   int // index into stages
	channel int // the channel the journey currently favours
	device  int // index into the customer's devices
}

func newTenant(r *rand.Rand, index int, cfg Config) tenant {
	t := tenant{
		id:        fmt.Sprintf("%stenant-%02d", cfg.TenantPrefix, index+1),
		currency:  currencies[index%len(currencies)],
		campaigns: make([]campaign, cfg.CampaignsPerTenant),
		customers: make([]customer, cfg.CustomersPerTenant),
	}
	for i := range t.campaigns {
		t.campaigns[i].channel = i % len(profiles)
	}
	cities := geos[t.currency]
	for i := range t.customers {
		t.customers[i] = newCustomer(r, i, cities)
	}
	return t
}

// returningShare is the share of customers who already have an account, and so are
// identified on every device from their first event.
const returningShare = 0.3

func newCustomer(r *rand.Rand, index int, cities []events.Geo) customer {
	n := strconv.Itoa(index + 1)
	c := customer{
		id:       "cust-" + n,
		userID:   "user-" + n,
		loggedIn: r.Float64() < returningShare,
		geo:      cities[r.IntN(len(cities))],
		devices:  make([]device, 1+r.IntN(3)),
	}
	for i := range c.devices {
		c.devices[i] = newDevice(r, c.id, i)
	}
	return c
}

// ipFirstOctets are the first octets of a few large ISP blocks, so addresses look public;
// only their validity matters downstream.
var ipFirstOctets = [...]int{24, 73, 81, 92, 176, 185}

func newDevice(r *rand.Rand, customerID string, index int) device {
	kind := r.IntN(len(deviceKinds))
	agents := deviceKinds[kind].userAgents
	return device{
		id:          fmt.Sprintf("dev-%s-%d", customerID, index+1),
		anonymousID: fmt.Sprintf("anon-%016x", r.Uint64()),
		ip:          fmt.Sprintf("%d.%d.%d.%d", ipFirstOctets[r.IntN(len(ipFirstOctets))], r.IntN(256), r.IntN(256), 1+r.IntN(254)),
		kind:        kind,
		userAgent:   agents[r.IntN(len(agents))],
	}
}

// eventDevice returns a fresh copy of the device as an event carries it: events must not
// share pointers, since a consumer may normalize or retain each one independently.
func (c *customer) eventDevice(d *device) *events.Device {
	// One allocation for both records keeps Next cheap.
	block := &struct {
		dev events.Device
		geo events.Geo
	}{geo: c.geo}
	block.dev = events.Device{
		DeviceID:    d.id,
		AnonymousID: d.anonymousID,
		IP:          d.ip,
		UserAgent:   d.userAgent,
		Geo:         &block.geo,
	}
	if c.loggedIn {
		block.dev.UserID = c.userID
	}
	return &block.dev
}
