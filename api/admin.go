package api

import (
	"encoding/json"
	"net/http"

	"github.com/touchpoint/touchpoint"
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

func (s *Server) handleListTenants(w http.ResponseWriter, r *http.Request) {
	ts, err := s.tenants.List(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
}

type createKeyRequest struct {
	Name string `json:"name"`
}

type createKeyResponse struct {
	KeyID    string `json:"key_id"`
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	// Key is the secret; it is shown only here.
	Key string `json:"key"`
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
	}
	k, secret, err := s.tenants.CreateKey(r.Context(), r.PathValue("tenant"), req.Name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createKeyResponse{KeyID: k.ID, TenantID: k.TenantID, Name: k.Name, Key: secret})
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	if err := s.tenants.RevokeKey(r.Context(), r.PathValue("tenant"), r.PathValue("key")); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
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
