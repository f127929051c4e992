package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
)

// Key management and the audit trail of a tenant. The admin key manages any
// tenant's keys through /v1/admin/tenants/{tenant}/keys; a tenant key with the admin
// scope manages its own tenant's through /v1/keys. Both paths share createKey and
// revokeKey, so both are audited the same way.

type createKeyRequest struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"` // absent: store.DefaultScopes (ingest, read)
}

type createKeyResponse struct {
	KeyID    string   `json:"key_id"`
	TenantID string   `json:"tenant_id"`
	Name     string   `json:"name"`
	Scopes   []string `json:"scopes"`
	// Key is the secret; it is shown only here.
	Key string `json:"key"`
}

// createKey makes a key for tenant and answers 201 with its secret. The creation is
// audited as apikey.create; a key whose creation could not be audited is revoked
// at once and never handed out.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request, tenant string) {
	var req createKeyRequest
	if r.ContentLength != 0 {
		if err := decodeBody(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
	}
	scopes, err := store.NormalizeScopes(req.Scopes)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	k, secret, err := s.tenants.CreateKey(ctx, tenant, req.Name, scopes)
	detail := map[string]any{"key_id": k.ID, "name": req.Name, "scopes": scopes}
	if aerr := s.appendAudit(ctx, tenant, "apikey.create", detail, err); aerr != nil && err == nil {
		if _, rerr := s.tenants.RevokeKey(context.WithoutCancel(ctx), tenant, k.ID); rerr != nil {
			slog.Error("api: revoking an unaudited key failed", "tenant", tenant, "key_id", k.ID, "err", rerr)
		}
		err = aerr
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createKeyResponse{KeyID: k.ID, TenantID: k.TenantID, Name: k.Name, Scopes: k.Scopes, Key: secret})
}

// revokeKey revokes the path's key of tenant; another tenant's key is 404, as if it
// did not exist. The attempt is audited as apikey.revoke; a failed audit is logged
// but does not undo the revocation, which only ever takes access away.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, tenant string) {
	ctx, keyID := r.Context(), r.PathValue("key")
	k, err := s.tenants.RevokeKey(ctx, tenant, keyID)
	if err == nil {
		s.auth.forget(keyID)
	}
	detail := map[string]any{"key_id": keyID, "name": k.Name, "scopes": k.Scopes}
	if aerr := s.appendAudit(ctx, tenant, "apikey.revoke", detail, err); aerr != nil {
		slog.Error("api: audit of apikey.revoke failed", "tenant", tenant, "key_id", keyID, "err", aerr)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleCreateOwnKey(w http.ResponseWriter, r *http.Request) {
	s.createKey(w, r, tenantOf(r.Context()))
}

func (s *Server) handleRevokeOwnKey(w http.ResponseWriter, r *http.Request) {
	s.revokeKey(w, r, tenantOf(r.Context()))
}

// handleListOwnKeys lists the caller's tenant's keys, revoked ones included, without
// secrets or hashes.
func (s *Server) handleListOwnKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.tenants.ListKeys(r.Context(), tenantOf(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// appendAudit records a change made through the API, by the request's actor, with
// the outcome of opErr. Without an audit log (tests of other endpoints) it records
// nothing.
func (s *Server) appendAudit(ctx context.Context, tenant, action string, detail map[string]any, opErr error) error {
	if s.audit.DB == nil {
		return nil
	}
	_, err := s.audit.Append(ctx, store.AuditEntry{TenantID: tenant, Actor: actorOf(ctx), Action: action,
		Detail: detail, Outcome: store.OutcomeOf(opErr)})
	if err != nil {
		return errors.Join(touchpoint.Errorf(touchpoint.EUnavailable, "the audit trail is unavailable"), err)
	}
	return nil
}

func (s *Server) needAudit(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.audit.DB == nil {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "the audit trail is not served by this instance"))
			return
		}
		h(w, r)
	}
}

// handleListAudit pages through the caller's tenant's audit entries, newest first:
// action (exact, or a prefix ending in "." such as "apikey."), actor, limit
// (1..1000, default 100) and before (a seq: pass the returned next_before).
func (s *Server) handleListAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilterOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	entries, err := s.audit.List(r.Context(), tenantOf(r.Context()), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []store.AuditRecord{}
	}
	var next int64
	if len(entries) == f.Limit {
		next = entries[len(entries)-1].Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "next_before": next})
}

func auditFilterOf(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	limit, err := limitOf(r)
	if err != nil {
		return store.AuditFilter{}, err
	}
	f := store.AuditFilter{Action: q.Get("action"), Actor: q.Get("actor"), Limit: limit}
	if v := q.Get("before"); v != "" {
		if f.BeforeSeq, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeSeq < 1 {
			return f, touchpoint.Errorf(touchpoint.EInvalid, "before must be a positive entry seq")
		}
	}
	return f, nil
}
