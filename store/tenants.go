package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
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

// APIKey describes a key without its secret.
type APIKey struct {
	ID        string     `json:"key_id"`
	TenantID  string     `json:"tenant_id"`
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

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

// CreateKey makes a new API key for a tenant and returns its secret, which is shown
// once and stored only as a hash.
func (s Tenants) CreateKey(ctx context.Context, tenantID, name string) (APIKey, string, error) {
	secret, err := newSecret()
	if err != nil {
		return APIKey{}, "", err
	}
	k := APIKey{ID: "key_" + secret[len(keyPrefix):len(keyPrefix)+12], TenantID: tenantID, Name: name}
	err = s.DB.QueryRow(ctx,
		`INSERT INTO api_keys (key_id, tenant_id, key_hash, name) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		k.ID, tenantID, hashKey(secret), name).Scan(&k.CreatedAt)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation
		return APIKey{}, "", touchpoint.Errorf(touchpoint.ENotFound, "tenant %q does not exist", tenantID)
	}
	if err != nil {
		return APIKey{}, "", fmt.Errorf("create key for %s: %w", tenantID, err)
	}
	return k, secret, nil
}

// RevokeKey stops a key from authenticating.
func (s Tenants) RevokeKey(ctx context.Context, tenantID, keyID string) error {
	tag, err := s.DB.Exec(ctx,
		`UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND key_id = $2 AND revoked_at IS NULL`,
		tenantID, keyID)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", keyID, err)
	}
	if tag.RowsAffected() == 0 {
		return touchpoint.Errorf(touchpoint.ENotFound, "no active key %q for tenant %q", keyID, tenantID)
	}
	return nil
}

// Authenticate returns the tenant a key belongs to. An unknown or revoked key is an
// EUnauthorized error.
func (s Tenants) Authenticate(ctx context.Context, secret string) (string, error) {
	var tenant string
	err := s.DB.QueryRow(ctx,
		`SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hashKey(secret)).Scan(&tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", touchpoint.Errorf(touchpoint.EUnauthorized, "unknown or revoked API key")
	}
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	return tenant, nil
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
