package store

import (
	"crypto/hmac"
	"crypto/sha256"
)

// DeriveKey derives a 32-byte key for one purpose from the secrets key (see
// SecretsKey), so one configured secret yields independent keys: a leak of one
// derived key reveals neither the others nor the secret.
func DeriveKey(secretsKey []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secretsKey)
	m.Write([]byte("touchpoint/" + purpose))
	return m.Sum(nil)
}

// SubjectHasher turns a data subject's identifier into a keyed hash. Stores that
// must recognise a subject without holding its identifier (the suppression list,
// the audit log, the key store of crypto-shredding) keep only this hash: without the
// key it cannot be reversed by hashing guessed e-mails or ids.
type SubjectHasher struct{ key []byte }

// NewSubjectHasher derives the hasher's key from the secrets key.
func NewSubjectHasher(secretsKey []byte) SubjectHasher {
	return SubjectHasher{key: DeriveKey(secretsKey, "subject-hash/v1")}
}

// Hash is HMAC-SHA256(key, tenant ‖ 0 ‖ subject): the same subject in two tenants
// hashes differently.
func (h SubjectHasher) Hash(tenant, subject string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(tenant))
	m.Write([]byte{0})
	m.Write([]byte(subject))
	return m.Sum(nil)
}

// Valid reports whether the hasher has a key (the zero value has none).
func (h SubjectHasher) Valid() bool { return len(h.key) == 32 }
