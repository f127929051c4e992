package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
)

// Tenant is one customer of Touchpoint; all data is scoped to a tenant.
type Tenant struct {
	ID        string    `json:"tenant_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// APIKey describes a key without its secret (nor its hash: neither ever leaves the
// store).
type APIKey struct {
	ID        string     `json:"key_id"`
	TenantID  string     `json:"tenant_id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Scopes an API key may hold: what it may do within its own tenant.
const (
	ScopeIngest = "ingest" // send events
	ScopeRead   = "read"   // read metrics, attribution, connections, consent, deletions
	ScopeAdmin  = "admin"  // change connections, syncs, consent, deletions; manage keys; read the audit trail
)

// AllScopes lists every scope, in canonical order.
var AllScopes = []string{ScopeIngest, ScopeRead, ScopeAdmin}

// DefaultScopes are a key's scopes when none are asked for (the column's default
// too): admin is only ever granted explicitly.
var DefaultScopes = []string{ScopeIngest, ScopeRead}

// NormalizeScopes checks scopes and returns them deduplicated in canonical order;
// nil means DefaultScopes. An unknown scope or an empty list is EInvalid.
func NormalizeScopes(scopes []string) ([]string, error) {
	if scopes == nil {
		return slices.Clone(DefaultScopes), nil
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes, sc) {
			return nil, touchpoint.Errorf(touchpoint.EInvalid, "unknown scope %q: scopes are %s", sc, strings.Join(AllScopes, ", "))
		}
	}
	out := make([]string, 0, len(AllScopes))
	for _, sc := range AllScopes {
		if slices.Contains(scopes, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, touchpoint.Errorf(touchpoint.EInvalid, "a key needs at least one scope (%s)", strings.Join(AllScopes, ", "))
	}
	return out, nil
}

// KeyInfo is what authenticating a key tells: which key, whose, allowed to do what.
type KeyInfo struct {
	KeyID    string
	TenantID string
	Scopes   []string
}

// Has reports whether the key holds scope.
func (k KeyInfo) Has(scope string) bool { return slices.Contains(k.Scopes, scope) }

// keyPrefix marks Touchpoint keys so secret scanners and people can recognise them.
const keyPrefix = "tpk_"

var tenantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Tenants stores tenants and their API keys.
type Tenants struct{ DB *pgxpool.Pool }

// Create adds a tenant.
func (s Tenants) Create(ctx context.Context, id, name string) (Tenant, error) {
	if !tenantIDPattern.MatchString(id) {
		return Tenant{}, touchpoint.Errorf(touchpoint.EInvalid, "tenant_id must match %s", tenantIDPattern)
	}
	if name == "" {
		name = id
	}
	t := Tenant{ID: id, Name: name}
	err := s.DB.QueryRow(ctx,
		`INSERT INTO tenants (tenant_id, name) VALUES ($1, $2) RETURNING created_at`, id, name).Scan(&t.CreatedAt)
	if isUniqueViolation(err) {
		return Tenant{}, touchpoint.Errorf(touchpoint.EConflict, "tenant %q already exists", id)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("create tenant %s: %w", id, err)
	}
	return t, nil
}

// List returns every tenant, oldest first.
func (s Tenants) List(ctx context.Context) ([]Tenant, error) {
	rows, err := s.DB.Query(ctx, `SELECT tenant_id, name, created_at FROM tenants ORDER BY created_at, tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) {
		var t Tenant
		return t, r.Scan(&t.ID, &t.Name, &t.CreatedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// CreateKey makes a new API key for a tenant with the given scopes (nil: the
// defaults, see NormalizeScopes) and returns its secret, which is shown once and
// stored only as a hash.
func (s Tenants) CreateKey(ctx context.Context, tenantID, name string, scopes []string) (APIKey, string, error) {
	scopes, err := NormalizeScopes(scopes)
	if err != nil {
		return APIKey{}, "", err
	}
	secret, err := newSecret()
	if err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: "key_" + secret[len(keyPrefix):len(keyPrefix)+12], TenantID: tenantID, Name: name, Scopes: scopes}
	err = s.DB.QueryRow(ctx,
		`INSERT INTO api_keys (key_id, tenant_id, key_hash, name, scopes) VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
		k.ID, tenantID, hashKey(secret), name, scopes).Scan(&k.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return APIKey{}, "", touchpoint.Errorf(touchpoint.ENotFound, "tenant %q does not exist", tenantID)
	}
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create key for %s: %w", tenantID, err)
	}
	return k, secret, nil
}

// ListKeys returns a tenant's keys, revoked ones included, oldest first; never their
// secrets or hashes.
func (s Tenants) ListKeys(ctx context.Context, tenantID string) ([]APIKey, error) {
	rows, err := s.DB.Query(ctx, `
		SELECT key_id, tenant_id, name, scopes, created_at, revoked_at
		FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", tenantID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		return k, r.Scan(&k.ID, &k.TenantID, &k.Name, &k.Scopes, &k.CreatedAt, &k.RevokedAt)
	})
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", tenantID, err)
	}
	return out, nil
}

// RevokeKey stops a tenant's key from authenticating and returns it as it was. A
// key of another tenant, like an unknown or already revoked one, is ENotFound.
func (s Tenants) RevokeKey(ctx context.Context, tenantID, keyID string) (APIKey, error) {
	k := APIKey{ID: keyID, TenantID: tenantID}
	err := s.DB.QueryRow(ctx, `
		UPDATE api_keys SET revoked_at = now()
		WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL
		RETURNING name, scopes, created_at, revoked_at`,
		tenantID, keyID).Scan(&k.Name, &k.Scopes, &k.CreatedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return APIKey{}, touchpoint.Errorf(touchpoint.ENotFound, "no active key %q for tenant %q", keyID, tenantID)
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	return k, nil
}

// Authenticate returns the key a secret belongs to: its id, tenant and scopes. An
// unknown or revoked key is an EUnauthorized error.
//
// The lookup is by the secret's SHA-256, never by the secret: the comparison the
// index makes is between hashes, so its timing can reveal at most a prefix of the
// hash of a guess, which says nothing about any stored secret (finding a secret
// with a given hash prefix is a preimage search). That is why no constant-time
// comparison is needed here; the admin key, compared in memory, uses one.
func (s Tenants) Authenticate(ctx context.Context, secret string) (KeyInfo, error) {
	var k KeyInfo
	err := s.DB.QueryRow(ctx,
		`SELECT key_id, tenant_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
		hashKey(secret)).Scan(&k.KeyID, &k.TenantID, &k.Scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return KeyInfo{}, touchpoint.Errorf(touchpoint.EUnauthorized, "unknown or revoked API key")
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("authenticate: %w", err)
	}
	return k, nil
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	return keyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func hashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
