package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
)

// ConsentDeps serve /v1/consent; a zero Privacy.DB answers 503. A zero Audit.DB
// leaves consent changes unaudited (tests of other endpoints).
type ConsentDeps struct {
	Privacy store.Privacy
	Audit   store.Audit
}

func (s *Server) consentReady(w http.ResponseWriter, r *http.Request) bool {
	if s.consent.Privacy.DB == nil {
		writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "consent is not served by this instance"))
		return false
	}
	return true
}

// consentBody is a subject's choice per purpose. The purposes are pointers so a body
// that forgets one is refused rather than read as a refusal.
type consentBody struct {
	Analytics       *bool      `json:"analytics"`
	Personalization *bool      `json:"personalization"`
	Advertising     *bool      `json:"advertising"`
	SourceTime      *time.Time `json:"source_time"` // RFC 3339; default: now
}

// maxSourceSkew is how far in the future a source_time may be: one further ahead
// would win over every real update until then.
const maxSourceSkew = 5 * time.Minute

func (b consentBody) consent(tenant, subject string, now time.Time) (store.Consent, error) {
	if b.Analytics == nil || b.Personalization == nil || b.Advertising == nil {
		return store.Consent{}, touchpoint.Errorf(touchpoint.EInvalid, "analytics, personalization and advertising are all required (true or false)")
	}
	c := store.Consent{TenantID: tenant, SubjectID: subject, Analytics: *b.Analytics, Personalization: *b.Personalization,
		Advertising: *b.Advertising, Source: "api", SourceTime: now}
	if b.SourceTime != nil {
		if b.SourceTime.After(now.Add(maxSourceSkew)) {
			return store.Consent{}, touchpoint.Errorf(touchpoint.EInvalid, "source_time is more than %s in the future", maxSourceSkew)
		}
		c.SourceTime = *b.SourceTime
	}
	return c, nil
}

func subjectOf(r *http.Request) (string, error) {
	s := r.PathValue("subject")
	if s == "" || len(s) > 1024 {
		return "", touchpoint.Errorf(touchpoint.EInvalid, "subject must be 1 to 1024 bytes")
	}
	return s, nil
}

// handleSetConsent stores the choice unless a newer one (by source_time) is stored:
// then it answers 409 with the stored record and "applied": false. Consumers drop the
// subject's events from their next batch once analytics is refused.
func (s *Server) handleSetConsent(w http.ResponseWriter, r *http.Request) {
	if !s.consentReady(w, r) {
		return
	}
	subject, err := subjectOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var b consentBody
	if err := decodeBody(w, r, &b); err != nil {
		writeError(w, r, err)
		return
	}
	ctx, tenant := r.Context(), tenantOf(r.Context())
	c, err := b.consent(tenant, subject, s.opts.Now().UTC())
	if err != nil {
		writeError(w, r, err)
		return
	}
	applied, err := s.consent.Privacy.SetConsent(ctx, c)
	s.auditConsent(r, c, applied, err)
	if err != nil {
		writeError(w, r, err)
		return
	}
	stored, err := s.consent.Privacy.Consent(ctx, tenant, subject)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if !applied {
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]any{"applied": applied, "consent": stored})
}

// auditConsent records the change attempt. The change is already stored, so an audit
// failure is logged, not returned: the caller retrying would not undo it.
func (s *Server) auditConsent(r *http.Request, c store.Consent, applied bool, err error) {
	if s.consent.Audit.DB == nil {
		return
	}
	ctx := r.Context()
	_, aerr := s.consent.Audit.Append(ctx, store.AuditEntry{TenantID: c.TenantID, Actor: actorOf(ctx), Action: "consent.set",
		Subjects: []string{c.SubjectID},
		Detail: map[string]any{"analytics": c.Analytics, "personalization": c.Personalization, "advertising": c.Advertising,
			"source": c.Source, "source_time": c.SourceTime.UTC().Format(time.RFC3339Nano), "applied": applied},
		Outcome: store.OutcomeOf(err)})
	if aerr != nil {
		slog.Error("api: audit of consent.set failed", "tenant", c.TenantID, "err", aerr)
	}
}

func (s *Server) handleGetConsent(w http.ResponseWriter, r *http.Request) {
	if !s.consentReady(w, r) {
		return
	}
	subject, err := subjectOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.consent.Privacy.Consent(r.Context(), tenantOf(r.Context()), subject)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"consent": c})
}

// handleListConsent pages through the tenant's consents by subject id: pass the
// returned "next" as after for the following page ("" when there is none).
func (s *Server) handleListConsent(w http.ResponseWriter, r *http.Request) {
	if !s.consentReady(w, r) {
		return
	}
	limit, err := limitOf(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := s.consent.Privacy.ListConsent(r.Context(), tenantOf(r.Context()), limit, r.URL.Query().Get("after"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	next := ""
	if len(list) == limit {
		next = list[len(list)-1].SubjectID
	}
	writeJSON(w, http.StatusOK, map[string]any{"consents": list, "next": next})
}

func limitOf(r *http.Request) (int, error) {
	n, ok := queryLimit(r)
	if !ok {
		return 0, touchpoint.Errorf(touchpoint.EInvalid, "limit must be an integer between 1 and 1000")
	}
	return n, nil
}

// queryLimit reads the page size parameter limit: 1 to 1000, 100 when absent; ok is
// false for anything else (each endpoint words its own 400).
func queryLimit(r *http.Request) (n int, ok bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 1 && n <= 1000
}
