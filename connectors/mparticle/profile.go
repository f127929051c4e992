// Package mparticle syncs customer profiles with mParticle as a CDP: it uploads user
// identities, user attributes and consent state through the Events API
// (POST /v2/bulkevents, Basic auth with the input key and secret) and reads them back
// through the Profile API (Bearer token from the SSO client-credentials grant). It
// reuses segment's Profile, Schema and latest-wins Merge, mapping mParticle's
// customer id into its own customer-id namespace. It also holds a fake of both APIs.
package mparticle

import (
	"strings"

	"github.com/touchpoint/touchpoint/connectors/segment"
)

// Profile, Schema and SchemaError are segment's; UserID holds mParticle's
// customerid identity.
type (
	Profile     = segment.Profile
	Schema      = segment.Schema
	SchemaError = segment.SchemaError
)

// DefaultSchema is the attribute schema used when Config.Schema is nil.
var DefaultSchema = segment.DefaultSchema

const customerPrefix = "mparticle:"

// CustomerID maps an mParticle customerid to the internal customer id; it is
// idempotent and ignores surrounding white space.
func CustomerID(customerID string) string {
	id := strings.TrimSpace(customerID)
	if strings.HasPrefix(id, customerPrefix) {
		return id
	}
	return customerPrefix + id
}

// UserIDOf inverts CustomerID.
func UserIDOf(customerID string) string {
	return strings.TrimPrefix(strings.TrimSpace(customerID), customerPrefix)
}

// Merge is segment.Merge (per-attribute latest-wins by source timestamp,
// deterministic ties, later consent wins, restrictive on ties) with customer ids in
// mParticle's namespace.
func Merge(existing, incoming Profile) Profile {
	toSeg := func(p Profile) Profile {
		if p.UserID == "" {
			p.UserID = UserIDOf(p.CustomerID)
		}
		if p.CustomerID != "" {
			p.CustomerID = segment.CustomerID(UserIDOf(p.CustomerID))
		}
		return p
	}
	m := segment.Merge(toSeg(existing), toSeg(incoming))
	if m.CustomerID != "" {
		m.CustomerID = CustomerID(segment.UserIDOf(m.CustomerID))
	}
	return m
}
