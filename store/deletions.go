package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SubjectIDs are a data subject's identifiers, as a deletion request names them and
// as identity resolution extends them.
type SubjectIDs struct {
	CustomerIDs  []string `json:"customer_ids,omitempty"`
	UserIDs      []string `json:"user_ids,omitempty"`
	EmailSHA256  []string `json:"email_sha256,omitempty"`
	DeviceIDs    []string `json:"device_ids,omitempty"`
	AnonymousIDs []string `json:"anonymous_ids,omitempty"`
	// ConversionIDs are the event ids of the subject's conversions, found while
	// erasing, so verification can check their attribution results went too. They
	// are not identifiers of the person and not part of All.
	ConversionIDs []string `json:"conversion_ids,omitempty"`
}

// Normalize trims, deduplicates and sorts every list, lower-cases e-mail hashes and
// checks the request names someone.
func (s *SubjectIDs) Normalize() error {
	for _, l := range s.lists() {
		clean := (*l)[:0]
		for _, v := range *l {
			if v = strings.TrimSpace(v); v != "" {
				clean = append(clean, v)
			}
		}
		slices.Sort(clean)
		*l = slices.Compact(clean)
	}
	for i, h := range s.EmailSHA256 {
		h = strings.ToLower(h)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			return fmt.Errorf("email_sha256 %q is not a hex SHA-256", h)
		}
		s.EmailSHA256[i] = h
	}
	for _, v := range s.All() {
		if len(v) > 256 {
			return fmt.Errorf("identifier longer than 256 bytes")
		}
	}
	if s.Primary() == "" {
		return errors.New("name at least one identifier: customer_id, user_id, email_sha256, device_id or anonymous_id")
	}
	return nil
}

func (s *SubjectIDs) lists() []*[]string {
	return []*[]string{&s.CustomerIDs, &s.UserIDs, &s.EmailSHA256, &s.DeviceIDs, &s.AnonymousIDs}
}

// All returns every identifier, each once.
func (s SubjectIDs) All() []string {
	var out []string
	for _, l := range s.lists() {
		out = append(out, *l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Primary is the identifier a request is known by: the most durable one named.
func (s SubjectIDs) Primary() string {
	for _, l := range s.lists() {
		if len(*l) > 0 {
			return (*l)[0]
		}
	}
	return ""
}

// Merge adds o's identifiers to s, keeping it normalised.
func (s *SubjectIDs) Merge(o SubjectIDs) {
	s.CustomerIDs = append(s.CustomerIDs, o.CustomerIDs...)
	s.UserIDs = append(s.UserIDs, o.UserIDs...)
	s.EmailSHA256 = append(s.EmailSHA256, o.EmailSHA256...)
	s.DeviceIDs = append(s.DeviceIDs, o.DeviceIDs...)
	s.AnonymousIDs = append(s.AnonymousIDs, o.AnonymousIDs...)
	s.ConversionIDs = append(s.ConversionIDs, o.ConversionIDs...)
	slices.Sort(s.ConversionIDs)
	s.ConversionIDs = slices.Compact(s.ConversionIDs)
	_ = s.Normalize() // merging valid sets stays valid
}

// DeletionStep is one audited step of a deletion, as its status shows it.
type DeletionStep struct {
	Name    string         `json:"name"`
	At      time.Time      `json:"at"`
	Outcome string         `json:"outcome"`
	Detail  map[string]any `json:"detail,omitempty"`
}

// Propagation is a deletion's progress on one connected platform.
type Propagation struct {
	ConnectionID string     `json:"connection_id"`
	Platform     string     `json:"platform"`
	ExternalID   string     `json:"external_id,omitempty"`
	State        string     `json:"state"`
	Detail       string     `json:"detail,omitempty"`
	Polls        int        `json:"polls"`
	SubmittedAt  time.Time  `json:"submitted_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
}

// DeletionRequest is a deletion as the API reports it: never with identifiers.
type DeletionRequest struct {
	TenantID     string         `json:"tenant_id"`
	RequestID    string         `json:"request_id"`
	Regulation   string         `json:"regulation"`
	Status       string         `json:"status"`
	Steps        []DeletionStep `json:"steps"`
	RequestedBy  string         `json:"requested_by"`
	RequestedAt  time.Time      `json:"requested_at"`
	Deadline     time.Time      `json:"deadline"`
	CompletedAt  *time.Time     `json:"completed_at,omitempty"`
	OnTime       *bool          `json:"completed_on_time,omitempty"`
	Identifiers  int            `json:"identifiers"`
	Propagations []Propagation  `json:"propagations"`
}

// Deletion statuses.
const (
	DeletionReceived  = "received"
	DeletionRunning   = "running"
	DeletionCompleted = "completed"
	DeletionFailed    = "failed"
)

// ErrDeletionNotFound is returned for an unknown (tenant, request).
var ErrDeletionNotFound = errors.New("deletion request not found")

// ErrIdentifiersGone means a completed request's identifiers were already dropped.
var ErrIdentifiersGone = errors.New("deletion request: identifiers already erased")

// Deadline is when a regulation requires a request received at to be complete:
// one month under GDPR (art. 12(3), taken as 30 days), 45 days under CCPA.
func Deadline(regulation string, at time.Time) time.Time {
	if regulation == "CCPA" {
		return at.AddDate(0, 0, 45)
	}
	return at.AddDate(0, 0, 30)
}

// Deletions stores deletion requests, their identifiers sealed under a key derived
// from the secrets key.
type Deletions struct {
	DB         *pgxpool.Pool
	SecretsKey []byte
	Hasher     SubjectHasher
}

// RequestID is the id of the deletion of the subject primary names: the same subject
// always maps to the same request (and so to the same workflow).
func (d Deletions) RequestID(tenant, primary string) string {
	return hex.EncodeToString(d.Hasher.Hash(tenant, primary)[:16])
}

func (d Deletions) sealIDs(tenant, id string, ids SubjectIDs) ([]byte, [][]byte, error) {
	plain, err := json.Marshal(ids)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := seal(DeriveKey(d.SecretsKey, "deletion-requests/v1"), plain, []byte(tenant+"\x00"+id))
	if err != nil {
		return nil, nil, err
	}
	var hashes [][]byte
	for _, v := range ids.All() {
		hashes = append(hashes, d.Hasher.Hash(tenant, v))
	}
	return sealed, hashes, nil
}

// Create records a new request for ids, or reopens a completed or failed one of the
// same subject (new data may have arrived since). created is false when a request
// for the subject is already under way: it is returned, with ids merged into it.
func (d Deletions) Create(ctx context.Context, tenant, regulation, requestedBy string, ids SubjectIDs, now time.Time) (req DeletionRequest, created bool, err error) {
	defer wrap(&err, "store: create deletion request")
	id := d.RequestID(tenant, ids.Primary())
	sealed, hashes, err := d.sealIDs(tenant, id, ids)
	if err != nil {
		return DeletionRequest{}, false, err
	}
	tag, err := d.DB.Exec(ctx, `INSERT INTO deletion_requests AS r (tenant_id, request_id, regulation, identifiers_sealed,
			identifier_hashes, requested_by, requested_at, deadline)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, request_id) DO UPDATE SET regulation = EXCLUDED.regulation,
			identifiers_sealed = EXCLUDED.identifiers_sealed, identifier_hashes = EXCLUDED.identifier_hashes,
			requested_by = EXCLUDED.requested_by, requested_at = EXCLUDED.requested_at, deadline = EXCLUDED.deadline,
			status = 'received', completed_at = NULL,
			steps = r.steps || jsonb_build_array(jsonb_build_object('name', 'reopened', 'at', EXCLUDED.requested_at, 'outcome', 'ok'))
		WHERE r.status IN ('completed', 'failed')`,
		tenant, id, regulation, sealed, hashes, requestedBy, now, Deadline(regulation, now))
	if err != nil {
		return DeletionRequest{}, false, err
	}
	if tag.RowsAffected() == 0 {
		if _, err := d.AddIdentifiers(ctx, tenant, id, ids); err != nil {
			return DeletionRequest{}, false, err
		}
	}
	req, err = d.Get(ctx, tenant, id)
	return req, tag.RowsAffected() > 0, err
}

// Get returns one request with its propagations.
func (d Deletions) Get(ctx context.Context, tenant, id string) (DeletionRequest, error) {
	rows, err := d.DB.Query(ctx, deletionSelect+` WHERE tenant_id = $1 AND request_id = $2`, tenant, id)
	if err != nil {
		return DeletionRequest{}, fmt.Errorf("store: get deletion: %w", err)
	}
	reqs, err := scanDeletions(rows)
	if err != nil {
		return DeletionRequest{}, fmt.Errorf("store: get deletion: %w", err)
	}
	if len(reqs) == 0 {
		return DeletionRequest{}, ErrDeletionNotFound
	}
	req := reqs[0]
	if req.Propagations, err = d.Propagations(ctx, tenant, id); err != nil {
		return DeletionRequest{}, err
	}
	return req, nil
}

// List returns a tenant's most recent requests (without propagations).
func (d Deletions) List(ctx context.Context, tenant string, limit int) ([]DeletionRequest, error) {
	rows, err := d.DB.Query(ctx, deletionSelect+` WHERE tenant_id = $1 ORDER BY requested_at DESC, request_id LIMIT $2`, tenant, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list deletions: %w", err)
	}
	reqs, err := scanDeletions(rows)
	if err != nil {
		return nil, fmt.Errorf("store: list deletions: %w", err)
	}
	return reqs, nil
}

const deletionSelect = `SELECT tenant_id, request_id, regulation, status, steps, requested_by, requested_at, deadline,
	completed_at, cardinality(identifier_hashes) FROM deletion_requests`

func scanDeletions(rows pgx.Rows) ([]DeletionRequest, error) {
	out := []DeletionRequest{}
	var r DeletionRequest
	var steps []byte
	_, err := pgx.ForEachRow(rows, []any{&r.TenantID, &r.RequestID, &r.Regulation, &r.Status, &steps, &r.RequestedBy,
		&r.RequestedAt, &r.Deadline, &r.CompletedAt, &r.Identifiers}, func() error {
		x := r
		x.Steps = nil
		if err := json.Unmarshal(steps, &x.Steps); err != nil {
			return err
		}
		if x.CompletedAt != nil {
			on := !x.CompletedAt.After(x.Deadline)
			x.OnTime = &on
		}
		x.Propagations = []Propagation{}
		out = append(out, x)
		return nil
	})
	return out, err
}

// Identifiers returns the request's identifiers, decrypted.
func (d Deletions) Identifiers(ctx context.Context, tenant, id string) (ids SubjectIDs, err error) {
	defer wrap(&err, "store: deletion identifiers")
	var sealed []byte
	err = d.DB.QueryRow(ctx, `SELECT identifiers_sealed FROM deletion_requests WHERE tenant_id = $1 AND request_id = $2`,
		tenant, id).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return SubjectIDs{}, ErrDeletionNotFound
	}
	if err != nil {
		return SubjectIDs{}, err
	}
	if sealed == nil {
		return SubjectIDs{}, ErrIdentifiersGone
	}
	plain, err := open(DeriveKey(d.SecretsKey, "deletion-requests/v1"), sealed, []byte(tenant+"\x00"+id))
	if err != nil {
		return SubjectIDs{}, err
	}
	return ids, json.Unmarshal(plain, &ids)
}

// AddIdentifiers merges more into the request's identifiers and returns the whole set.
func (d Deletions) AddIdentifiers(ctx context.Context, tenant, id string, more SubjectIDs) (SubjectIDs, error) {
	ids, err := d.Identifiers(ctx, tenant, id)
	if err != nil {
		return SubjectIDs{}, err
	}
	ids.Merge(more)
	sealed, hashes, err := d.sealIDs(tenant, id, ids)
	if err != nil {
		return SubjectIDs{}, err
	}
	if _, err := d.DB.Exec(ctx, `UPDATE deletion_requests SET identifiers_sealed = $3, identifier_hashes = $4
		WHERE tenant_id = $1 AND request_id = $2 AND identifiers_sealed IS NOT NULL`, tenant, id, sealed, hashes); err != nil {
		return SubjectIDs{}, fmt.Errorf("store: add deletion identifiers: %w", err)
	}
	return ids, nil
}

// RecordStep appends a step to the request's history and sets its status.
func (d Deletions) RecordStep(ctx context.Context, tenant, id, status string, step DeletionStep) error {
	b, err := json.Marshal([]DeletionStep{step})
	if err != nil {
		return err
	}
	_, err = d.DB.Exec(ctx, `UPDATE deletion_requests SET steps = steps || $3::jsonb, status = $4
		WHERE tenant_id = $1 AND request_id = $2`, tenant, id, b, status)
	if err != nil {
		return fmt.Errorf("store: record deletion step: %w", err)
	}
	return nil
}

// Complete marks the request done at and drops its sealed identifiers: from now on
// only their keyed hashes remain.
func (d Deletions) Complete(ctx context.Context, tenant, id string, at time.Time) (DeletionRequest, error) {
	_, err := d.DB.Exec(ctx, `UPDATE deletion_requests SET status = 'completed', completed_at = coalesce(completed_at, $3),
		identifiers_sealed = NULL WHERE tenant_id = $1 AND request_id = $2`, tenant, id, at)
	if err != nil {
		return DeletionRequest{}, fmt.Errorf("store: complete deletion: %w", err)
	}
	return d.Get(ctx, tenant, id)
}

// SavePropagation inserts or updates the request's propagation to one connection.
func (d Deletions) SavePropagation(ctx context.Context, tenant, id string, p Propagation) error {
	_, err := d.DB.Exec(ctx, `INSERT INTO deletion_propagations AS p (tenant_id, request_id, connection_id, platform,
			external_id, state, detail, polls, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (tenant_id, request_id, connection_id) DO UPDATE SET external_id = EXCLUDED.external_id,
			state = EXCLUDED.state, detail = EXCLUDED.detail, polls = EXCLUDED.polls, finished_at = EXCLUDED.finished_at`,
		tenant, id, p.ConnectionID, p.Platform, p.ExternalID, p.State, p.Detail, p.Polls, p.FinishedAt)
	if err != nil {
		return fmt.Errorf("store: save propagation: %w", err)
	}
	return nil
}

// Propagation returns the request's propagation to one connection; ok is false if
// none was submitted yet.
func (d Deletions) Propagation(ctx context.Context, tenant, id, connection string) (p Propagation, ok bool, err error) {
	all, err := d.Propagations(ctx, tenant, id)
	for _, x := range all {
		if x.ConnectionID == connection {
			return x, true, err
		}
	}
	return Propagation{}, false, err
}

// Propagations returns the request's propagations, by connection.
func (d Deletions) Propagations(ctx context.Context, tenant, id string) ([]Propagation, error) {
	rows, err := d.DB.Query(ctx, `SELECT connection_id, platform, external_id, state, detail, polls, submitted_at, finished_at
		FROM deletion_propagations WHERE tenant_id = $1 AND request_id = $2 ORDER BY connection_id`, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("store: propagations: %w", err)
	}
	out := []Propagation{}
	var p Propagation
	if _, err := pgx.ForEachRow(rows, []any{&p.ConnectionID, &p.Platform, &p.ExternalID, &p.State, &p.Detail, &p.Polls,
		&p.SubmittedAt, &p.FinishedAt}, func() error {
		out = append(out, p)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: propagations: %w", err)
	}
	return out, nil
}

func wrap(err *error, msg string) {
	if *err != nil && !errors.Is(*err, ErrDeletionNotFound) && !errors.Is(*err, ErrIdentifiersGone) {
		*err = fmt.Errorf("%s: %w", msg, *err)
	}
}
