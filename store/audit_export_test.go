package store

import "time"

// AuditDigest exposes the entry hash to store_test, which plays an attacker who
// rewrites an entry and recomputes its hash.
func AuditDigest(seq int64, at time.Time, tenant, actor, action string, subjects [][]byte, detail, outcome string, prev []byte) []byte {
	return auditRow{seq: seq, at: at, tenant: tenant, actor: actor, action: action,
		subjects: subjects, detail: detail, outcome: outcome, prev: prev}.digest()
}

// CanonicalJSON exposes canonicalJSON to store_test.
func CanonicalJSON(doc string) ([]byte, error) { return canonicalJSON(doc) }
