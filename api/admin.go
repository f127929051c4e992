package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
)

type createTenantRequest struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
}

func (s *Server) handleCreateTenant(w http.ResponseWriter, r *http.Request) {
	var req createTenantRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	t, err := s.tenants.Create(r.Context(), req.TenantID, req.Name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

// tenantListing is a tenant as the admin listing shows it: with its retention
// policy when the tenant store keeps policies.
type tenantListing struct {
	store.Tenant
	RetentionDays int `json:"retention_days,omitempty"`
}

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.tenants.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	days := map[string]int{}
	if rp, ok := s.tenants.(retentionPolicies); ok {
		policies, err := rp.RetentionPolicies(r.Context())
		if err != nil {
			writeError(w, r, err)
			return
		}
		for _, p := range policies {
			days[p.TenantID] = p.Days
		}
	}
	out := make([]tenantListing, len(ts))
	for i, t := range ts {
		out[i] = tenantListing{Tenant: t, RetentionDays: days[t.ID]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": out})
}

// retentionPolicies is what a tenant store that keeps retention policies adds
// (store.Tenants does). It is asserted rather than part of Tenants so that a store
// without policies still serves everything else; the retention endpoint then
// answers 503.
type retentionPolicies interface {
	SetRetention(ctx context.Context, tenant string, days int) error
	RetentionPolicies(ctx context.Context) ([]store.TenantPolicy, error)
}

type setRetentionRequest struct {
	Days *int `json:"days"` // a pointer, so that a missing days is told from 0
}

// handleSetRetention sets how many days a tenant keeps personal data; the next
// daily maintenance run applies it.
func (s *Server) handleSetRetention(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.tenants.(retentionPolicies)
	if !ok {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "retention policies are not configured"))
		return
	}
	var req setRetentionRequest
	if err := decodeBody(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Days == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EInvalid, "days is required"))
		return
	}
	tenant := r.PathValue("tenant")
	if err := rp.SetRetention(r.Context(), tenant, *req.Days); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, store.TenantPolicy{TenantID: tenant, Days: *req.Days})
}

// handleCreateKey makes a key for the path's tenant (see createKey, keys.go).
func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	s.createKey(w, r, r.PathValue("tenant"))
}

// handleRevokeKey revokes a key of the path's tenant (see revokeKey, keys.go).
func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	s.revokeKey(w, r, r.PathValue("tenant"))
}

// decodeBody reads a small JSON request body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return touchpoint.Errorf(touchpoint.EInvalid, "request body: %v", err)
	}
	return nil
}
