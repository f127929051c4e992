package identity

import (
	"slices"
	"strings"
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Identifier namespaces. Namespacing keeps a device "42" and a user "42" apart, and lets
// the graph prefer durable identifiers when it names a person.
const (
	KindUser      = "user"
	KindCustomer  = "customer"
	KindDevice    = "device"
	KindAnonymous = "anon"
)

// ID returns the namespaced identifier kind:value, or "" for an empty value so callers
// can pass optional fields straight through.
func ID(kind, value string) string {
	if value == "" {
		return ""
	}
	return kind + ":" + value
}

// Kind returns the namespace of a namespaced identifier, or "" if it has none.
func Kind(id string) string {
	kind, _, ok := strings.Cut(id, ":")
	if !ok {
		return ""
	}
	return kind
}

// rank orders namespaces for naming a person: an account (user, then customer) names the
// person best because it outlives devices; a device id outlives the cookies on it.
func rank(id string) int {
	switch Kind(id) {
	case KindUser:
		return 0
	case KindCustomer:
		return 1
	case KindDevice:
		return 2
	case KindAnonymous:
		return 3
	}
	return 4
}

// better reports whether a names a person better than b. It is a strict total order, so
// the canonical id of a set depends only on the set, never on the order of merges.
func better(a, b string) bool {
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	return a < b
}

// authenticated reports whether id is an account identifier. Two different accounts are
// taken to be two people, which is what the probabilistic matcher learns non-matches from.
func authenticated(id string) bool {
	return rank(id) <= 1
}

// Observation is what one event tells identity resolution: the identifiers seen together
// and the device context they were seen in. It holds no raw IP address.
type Observation struct {
	// IDs are namespaced identifiers (see ID) seen together in one event.
	IDs []string
	At  time.Time

	// Device context, used only by probabilistic matching; zero values mean unknown.
	IP        IPKeys
	UserAgent string
	Geo       events.Geo
}

// FromEvent returns the observation of one event. The customer id counts as an account
// identifier: the schema makes it the advertiser's id for the customer. h may be nil when
// IPs are not to be matched on at all.
func FromEvent(e *events.Event, h *IPHasher) Observation {
	obs := Observation{At: e.Timestamp}
	if e.CustomerID != "" {
		obs.IDs = append(obs.IDs, ID(KindCustomer, e.CustomerID))
	}
	d := e.Device
	if d == nil {
		return obs
	}
	for _, id := range [...]string{ID(KindUser, d.UserID), ID(KindDevice, d.DeviceID), ID(KindAnonymous, d.AnonymousID)} {
		if id != "" {
			obs.IDs = append(obs.IDs, id)
		}
	}
	if h != nil && d.IP != "" {
		obs.IP = h.Keys(d.IP)
	}
	obs.UserAgent = d.UserAgent
	if d.Geo != nil {
		obs.Geo = *d.Geo
	}
	return obs
}

// DeviceKey returns the identifier probabilistic matching treats as the device: its device
// id, or failing that its anonymous id, or "" when the event names no device.
func (o Observation) DeviceKey() string {
	if i := slices.IndexFunc(o.IDs, func(id string) bool { return Kind(id) == KindDevice }); i >= 0 {
		return o.IDs[i]
	}
	if i := slices.IndexFunc(o.IDs, func(id string) bool { return Kind(id) == KindAnonymous }); i >= 0 {
		return o.IDs[i]
	}
	return ""
}
