package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/touchpoint/touchpoint"
)

type ctxKey int

const tenantKey ctxKey = 0

// tenantOf returns the tenant the request's API key belongs to.
func tenantOf(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey).(string)
	return t
}

// apiKey reads the key from "Authorization: Bearer <key>" or "X-API-Key: <key>".
func apiKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if k, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

func (s *Server) requireTenant(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := apiKey(r)
		if key == "" {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnauthorized, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		tenant, err := s.auth.authenticate(r.Context(), key)
		if err != nil {
			writeError(w, r, err)
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), tenantKey, tenant)))
	}
}

func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte(s.opts.AdminKey))
	return func(w http.ResponseWriter, r *http.Request) {
		if s.opts.AdminKey == "" {
			writeError(w, r, touchpoint.Errorf(touchpoint.EForbidden, "admin API disabled: set TOUCHPOINT_ADMIN_KEY"))
			return
		}
		key := apiKey(r)
		if key == "" {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnauthorized, "missing admin key: send Authorization: Bearer <key>"))
			return
		}
		got := sha256.Sum256([]byte(key))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnauthorized, "wrong admin key"))
			return
		}
		h(w, r)
	}
}

// authCache keeps recent key lookups in memory so ingest does not query Postgres on
// every request. A revoked key stops working within ttl.
type authCache struct {
	tenants Tenants
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	tenant  string
	err     error
	expires time.Time
}

const maxAuthEntries = 10000

func newAuthCache(t Tenants, ttl time.Duration) *authCache {
	return &authCache{tenants: t, ttl: ttl, entries: make(map[[32]byte]authEntry)}
}

func (c *authCache) authenticate(ctx context.Context, key string) (string, error) {
	h := sha256.Sum256([]byte(key))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[h]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.tenant, e.err
	}
	tenant, err := c.tenants.Authenticate(ctx, key)
	if err != nil && touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		return "", err // a database failure is not cached
	}
	c.mu.Lock()
	if len(c.entries) >= maxAuthEntries {
		clear(c.entries) // bounded: a flood of random keys cannot grow memory
	}
	c.entries[h] = authEntry{tenant: tenant, err: err, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return tenant, err
}
