// Package segment syncs customer profiles with Segment as a CDP: it reads traits
// through the Profile API, sends identify and track calls through the Tracking API
// (/v1/batch), enforces a trait schema on the way in, merges profiles latest-wins by
// source timestamp, and carries GDPR/CCPA flags. It also holds a fake of both APIs.
package segment

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Profile is one customer as the CDP sync stores it.
type Profile struct {
	// CustomerID is the internal id, always in the form CustomerID(userID) returns.
	CustomerID string `json:"customer_id"`
	// UserID is Segment's user_id.
	UserID string         `json:"user_id"`
	Traits map[string]any `json:"traits"`
	// SourceTimestamp is when the source observed these traits; Merge uses it.
	SourceTimestamp time.Time `json:"source_timestamp"`
	// TraitTimes holds, per trait, the source timestamp of the value kept. Merge
	// fills it; a trait missing here counts as observed at SourceTimestamp.
	TraitTimes map[string]time.Time `json:"trait_times,omitempty"`
	// GDPR is set when the data subject restricted processing under GDPR (consent
	// withdrawn); CCPA when they opted out of sale/sharing under CCPA. Both must be
	// honoured by every downstream use of the profile.
	GDPR bool `json:"gdpr"`
	CCPA bool `json:"ccpa"`
	// ConsentTimestamp is the source time of the GDPR/CCPA flags.
	ConsentTimestamp time.Time `json:"consent_timestamp"`
}

// customerPrefix marks an internal customer id derived from a Segment user_id.
const customerPrefix = "segment:"

// CustomerID maps a Segment user_id to the internal customer id. The mapping is
// deterministic and idempotent: CustomerID(CustomerID(x)) == CustomerID(x), and
// surrounding white space does not create a second customer.
func CustomerID(userID string) string {
	id := strings.TrimSpace(userID)
	if strings.HasPrefix(id, customerPrefix) {
		return id
	}
	return customerPrefix + id
}

// UserIDOf inverts CustomerID.
func UserIDOf(customerID string) string {
	return strings.TrimPrefix(strings.TrimSpace(customerID), customerPrefix)
}

func (p Profile) traitTime(k string) time.Time {
	if t, ok := p.TraitTimes[k]; ok {
		return t
	}
	return p.SourceTimestamp
}

// Merge combines two observations of the same customer. Per trait the value with
// the later source timestamp wins; on equal timestamps the value whose JSON encoding
// sorts higher wins, so Merge is commutative, associative and idempotent
// (Merge(m, x) == m for any x already merged into m) and a replayed sync changes
// nothing. The consent flags are taken from the later ConsentTimestamp; on a tie a
// set flag wins (the restrictive choice). Merging profiles of different customers
// returns existing unchanged with incoming ignored; callers check with SameCustomer.
func Merge(existing, incoming Profile) Profile {
	if existing.CustomerID == "" && existing.UserID == "" {
		existing.CustomerID = CustomerID(incoming.UserID)
	}
	if !SameCustomer(existing, incoming) {
		return existing
	}
	out := Profile{
		CustomerID: CustomerID(firstNonEmpty(existing.UserID, incoming.UserID, UserIDOf(existing.CustomerID))),
		Traits:     map[string]any{},
		TraitTimes: map[string]time.Time{},
	}
	out.UserID = UserIDOf(out.CustomerID)
	keys := slices.Sorted(maps.Keys(existing.Traits))
	keys = append(keys, slices.Sorted(maps.Keys(incoming.Traits))...)
	for _, k := range keys {
		if _, done := out.Traits[k]; done {
			continue
		}
		ev, eok := existing.Traits[k]
		iv, iok := incoming.Traits[k]
		switch {
		case eok && !iok:
			out.Traits[k], out.TraitTimes[k] = ev, existing.traitTime(k)
		case iok && !eok:
			out.Traits[k], out.TraitTimes[k] = iv, incoming.traitTime(k)
		default:
			et, it := existing.traitTime(k), incoming.traitTime(k)
			if it.After(et) || (it.Equal(et) && encode(iv) > encode(ev)) {
				out.Traits[k], out.TraitTimes[k] = iv, it
			} else {
				out.Traits[k], out.TraitTimes[k] = ev, et
			}
		}
	}
	out.SourceTimestamp = latest(existing.SourceTimestamp, incoming.SourceTimestamp)
	switch {
	case incoming.ConsentTimestamp.After(existing.ConsentTimestamp):
		out.GDPR, out.CCPA, out.ConsentTimestamp = incoming.GDPR, incoming.CCPA, incoming.ConsentTimestamp
	case existing.ConsentTimestamp.After(incoming.ConsentTimestamp):
		out.GDPR, out.CCPA, out.ConsentTimestamp = existing.GDPR, existing.CCPA, existing.ConsentTimestamp
	default:
		out.GDPR, out.CCPA, out.ConsentTimestamp = existing.GDPR || incoming.GDPR, existing.CCPA || incoming.CCPA, existing.ConsentTimestamp
	}
	return out
}

// SameCustomer reports whether two profiles map to the same customer id.
func SameCustomer(a, b Profile) bool {
	return CustomerID(firstNonEmpty(a.UserID, UserIDOf(a.CustomerID))) == CustomerID(firstNonEmpty(b.UserID, UserIDOf(b.CustomerID)))
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TraitType is the type a schema allows for a trait.
type TraitType string

// Trait types.
const (
	String TraitType = "string"
	Number TraitType = "number"
	Bool   TraitType = "bool"
	Time   TraitType = "time" // RFC 3339 string
)

// Schema lists the allowed traits and their types; any other trait is rejected.
type Schema map[string]TraitType

// DefaultSchema is the trait schema used when Config.Schema is nil.
var DefaultSchema = Schema{
	"email":            String,
	"first_name":       String,
	"last_name":        String,
	"plan":             String,
	"lifetime_value":   Number,
	"orders":           Number,
	"newsletter":       Bool,
	"created_at":       Time,
	"updated_at":       Time,
	"gdpr_restricted":  Bool,
	"ccpa_do_not_sell": Bool,
}

// SchemaError lists every trait that broke the schema.
type SchemaError struct {
	UserID     string
	Violations []string // sorted, e.g. `trait "age": not in schema`
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("segment: profile %q violates the trait schema: %s", e.UserID, strings.Join(e.Violations, "; "))
}

// Validate checks traits against s and returns a *SchemaError naming each unknown
// trait and each value of the wrong type, or nil. A null value is allowed (it
// clears the trait).
func (s Schema) Validate(userID string, traits map[string]any) error {
	var v []string
	for _, k := range slices.Sorted(maps.Keys(traits)) {
		typ, ok := s[k]
		if !ok {
			v = append(v, fmt.Sprintf("trait %q: not in schema", k))
			continue
		}
		val := traits[k]
		if val == nil {
			continue
		}
		good := false
		switch typ {
		case String:
			_, good = val.(string)
		case Number:
			switch val.(type) {
			case float64, float32, int, int64, int32, json.Number:
				good = true
			}
		case Bool:
			_, good = val.(bool)
		case Time:
			if s, ok := val.(string); ok {
				_, err := time.Parse(time.RFC3339, s)
				good = err == nil
			}
		}
		if !good {
			v = append(v, fmt.Sprintf("trait %q: want %s, got %T %v", k, typ, val, val))
		}
	}
	if len(v) > 0 {
		return &SchemaError{UserID: userID, Violations: v}
	}
	return nil
}
