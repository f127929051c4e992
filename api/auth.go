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
	"github.com/touchpoint/touchpoint/store"
)

type ctxKey int

const keyInfoKey ctxKey = 0

// tenantOf returns the tenant the request's API key belongs to. Handlers take the
// tenant only from here, never from the path or the body: that is what keeps one
// tenant's key away from another tenant's data.
func tenantOf(ctx context.Context) string { return keyOf(ctx).TenantID }

// keyOf returns the authenticated API key of the request (zero for admin and public
// routes).
func keyOf(ctx context.Context) store.KeyInfo {
	k, _ := ctx.Value(keyInfoKey).(store.KeyInfo)
	return k
}

// actorOf names who made a request, for the audit trail: the tenant API key by id,
// or the global admin key.
func actorOf(ctx context.Context) string {
	if k := keyOf(ctx); k.KeyID != "" {
		return "key:" + k.KeyID
	}
	return "admin"
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

// requireScope lets the request through only with a tenant API key that holds
// scope: 401 without a valid key, 403 naming the scope when the key lacks it.
func (s *Server) requireScope(scope string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := apiKey(r)
		if key == "" {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnauthorized, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		info, err := s.auth.authenticate(r.Context(), key)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if !info.Has(scope) {
			writeError(w, r, touchpoint.Errorf(touchpoint.EForbidden,
				"this API key lacks the %q scope (it has %s)", scope, strings.Join(info.Scopes, ", ")))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), keyInfoKey, info)))
	}
}

// requireAdmin checks the global admin key. Both sides are hashed first so the
// constant-time comparison also hides the key's length.
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
// every request. A revoked key, or a key's changed scopes, take effect within ttl.
// Entries are keyed by the secret's hash, so the cache holds no secret either.
type authCache struct {
	tenants Tenants
	ttl     time.Duration
	mu      sync.Mutex
	entries map[[32]byte]authEntry
}

type authEntry struct {
	info    store.KeyInfo
	err     error
	expires time.Time
}

const maxAuthEntries = 10000

func newAuthCache(t Tenants, ttl time.Duration) *authCache {
	return &authCache{tenants: t, ttl: ttl, entries: make(map[[32]byte]authEntry)}
}

func (c *authCache) authenticate(ctx context.Context, key string) (store.KeyInfo, error) {
	h := sha256.Sum256([]byte(key))
	now := time.Now()
	c.mu.Lock()
	e, ok := c.entries[h]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.info, e.err
	}
	info, err := c.tenants.Authenticate(ctx, key)
	if err != nil && touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		return store.KeyInfo{}, err // a database failure is not cached
	}
	c.mu.Lock()
	if len(c.entries) >= maxAuthEntries {
		clear(c.entries) // bounded: a flood of random keys cannot grow memory
	}
	c.entries[h] = authEntry{info: info, err: err, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return info, err
}

// forget drops every cached lookup of a revoked key on this instance, so a
// revocation through this API takes effect here at once (other instances within
// the cache's ttl).
func (c *authCache) forget(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, e := range c.entries {
		if e.info.KeyID == keyID {
			delete(c.entries, h)
		}
	}
}
