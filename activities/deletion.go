package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint/deletion"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// ErrTypeResidue is the non-retryable failure of a deletion's verification: data of
// the subject is still stored somewhere after erasure.
const ErrTypeResidue = "DeletionResidue"

// ErrTypeDeletionGone fails a deletion whose request row is missing or already done.
const ErrTypeDeletionGone = "DeletionRequestGone"

// DeletionRef names a deletion request. It is all a DataSubjectDeletion workflow
// carries, so no identifier of the subject enters Temporal's history: activities
// read the identifiers from the (sealed) request row.
type DeletionRef struct {
	Tenant    string
	RequestID string
}

// Deletion holds what a data subject's deletion reads and erases.
type Deletion struct {
	Requests    store.Deletions
	Privacy     store.Privacy
	Keys        store.SubjectKeys
	Archive     store.Archive
	Journeys    store.Journeys
	Identity    store.Identity
	Personal    store.PersonalData
	Audit       store.Audit
	Redis       *redis.Client // nil: no Redis keys to search
	Codec       *events.Codec // decodes archived records to find the subject's
	Connections store.Connections
	// Erasers builds the client that propagates a deletion to a connection's
	// platform; nil, or returning (nil, nil), means the platform takes none.
	Erasers EraserFactory
}

// StepResult is what one step did, for the workflow's status query. It never holds
// identifiers, only counts.
type StepResult struct {
	Step   string
	Counts map[string]int64 `json:",omitempty"`
	Note   string           `json:",omitempty"`
}

func (d *Deletion) identifiers(ctx context.Context, ref DeletionRef) (store.SubjectIDs, error) {
	ids, err := d.Requests.Identifiers(ctx, ref.Tenant, ref.RequestID)
	if errors.Is(err, store.ErrDeletionNotFound) || errors.Is(err, store.ErrIdentifiersGone) {
		return ids, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeDeletionGone, err)
	}
	return ids, err
}

// record audits a step and appends it to the request's history; detail holds counts
// only.
func (d *Deletion) record(ctx context.Context, ref DeletionRef, ids store.SubjectIDs, res StepResult, stepErr error) error {
	detail := map[string]any{"request_id": ref.RequestID}
	for k, v := range res.Counts {
		detail[k] = v
	}
	if res.Note != "" {
		detail["note"] = res.Note
	}
	outcome := store.OutcomeOf(stepErr)
	if _, err := d.Audit.Append(ctx, store.AuditEntry{
		TenantID: ref.Tenant, Actor: "workflow:" + DeletionWorkflowIDOf(ref), Action: "deletion." + res.Step,
		Subjects: ids.All(), Detail: detail, Outcome: outcome,
	}); err != nil {
		return err
	}
	status := store.DeletionRunning
	if stepErr != nil {
		status = store.DeletionFailed
	}
	return d.Requests.RecordStep(ctx, ref.Tenant, ref.RequestID, status, store.DeletionStep{
		Name: res.Step, At: time.Now().UTC(), Outcome: outcome, Detail: detail,
	})
}

// DeletionWorkflowIDOf is the workflow id of a deletion: one per subject and tenant.
func DeletionWorkflowIDOf(ref DeletionRef) string {
	return "deletion/" + ref.Tenant + "/" + ref.RequestID
}

// SuppressSubject puts every identifier of the request on the suppression list (Postgres
// and Redis), so consumers drop the subject's events from their next poll, including
// events already in Kafka.
func (d *Deletion) SuppressSubject(ctx context.Context, ref DeletionRef) (StepResult, error) {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return StepResult{}, err
	}
	all := ids.All()
	if err := d.Privacy.Suppress(ctx, ref.Tenant, all, "deletion:"+ref.RequestID); err != nil {
		return StepResult{}, err
	}
	res := StepResult{Step: "suppressed", Counts: map[string]int64{"identifiers": int64(len(all))}}
	return res, d.record(ctx, ref, ids, res, nil)
}

// maxResolveRounds bounds identity resolution; each round follows one more hop.
const maxResolveRounds = 8

// ResolveSubject extends the request with the subject's other identifiers from the identity
// graph (see deletion.Resolve for why it is conservative) and suppresses those too.
func (d *Deletion) ResolveSubject(ctx context.Context, ref DeletionRef) (StepResult, error) {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return StepResult{}, err
	}
	before := len(ids.All())
	skipped := 0
	for range maxResolveRounds {
		links, err := d.twoHops(ctx, ref.Tenant, deletion.Namespaced(ids))
		if err != nil {
			return StepResult{}, err
		}
		r := deletion.Resolve(ids, links)
		skipped = r.Skipped
		if len(r.Added.All()) == 0 {
			break
		}
		if ids, err = d.Requests.AddIdentifiers(ctx, ref.Tenant, ref.RequestID, r.Added); err != nil {
			return StepResult{}, err
		}
	}
	if err := d.Privacy.Suppress(ctx, ref.Tenant, ids.All(), "deletion:"+ref.RequestID); err != nil {
		return StepResult{}, err
	}
	res := StepResult{Step: "resolved", Counts: map[string]int64{
		"identifiers": int64(len(ids.All())), "added": int64(len(ids.All()) - before), "shared_devices_kept": int64(skipped),
	}}
	return res, d.record(ctx, ref, ids, res, nil)
}

// twoHops returns the links touching ids and those touching their neighbours: what
// deletion.Resolve needs to see that a neighbouring device also belongs to someone
// else.
func (d *Deletion) twoHops(ctx context.Context, tenant string, ids []string) ([]store.IdentityLink, error) {
	first, err := d.Identity.LinksOf(ctx, tenant, ids)
	if err != nil {
		return nil, err
	}
	var next []string
	for _, l := range first {
		next = append(next, l.A, l.B)
	}
	second, err := d.Identity.LinksOf(ctx, tenant, next)
	if err != nil {
		return nil, err
	}
	return second, nil // second includes first: every first link touches a neighbour
}

// eraseProgress is Erase's heartbeat: the parts done, so a retried attempt goes on
// from the next (every part is idempotent anyway).
type eraseProgress struct {
	Done   []string
	Counts map[string]int64
}

type erasePart struct {
	name string
	run  func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error)
}

// EraseSubjectData removes every personal row and key of the subject: attribution results of
// their conversions, raw events, touchpoints and conversions, identity links,
// profiles and CDP ids, consents, cached Redis keys, and last their sealing keys
// (crypto-shredding what Kafka and backups still hold). Aggregates stay.
func (d *Deletion) EraseSubjectData(ctx context.Context, ref DeletionRef) (StepResult, error) {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return StepResult{}, err
	}
	p := eraseProgress{Counts: map[string]int64{}}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &p)
	}
	for _, part := range d.eraseParts() {
		if slices.Contains(p.Done, part.name) {
			continue
		}
		n, err := part.run(ctx, ref, &ids)
		if err != nil {
			return StepResult{}, fmt.Errorf("erase %s: %w", part.name, err)
		}
		p.Done, p.Counts[part.name] = append(p.Done, part.name), n
		activity.RecordHeartbeat(ctx, p)
	}
	res := StepResult{Step: "erased", Counts: p.Counts}
	return res, d.record(ctx, ref, ids, res, nil)
}

// eraseParts are in dependency order: conversion ids are read before the journeys
// holding them go, and keys are destroyed after the archive was read with them.
func (d *Deletion) eraseParts() []erasePart {
	return []erasePart{
		{"attribution_credits", d.eraseCredits},
		{"event_archive", d.eraseArchive},
		{"journeys", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			return sumOver(ids.All(), func(s string) (int64, error) { return d.Journeys.EraseSubject(ctx, ref.Tenant, s) })
		}},
		{"identity_links", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			return d.Personal.EraseLinks(ctx, ref.Tenant, deletion.Namespaced(*ids))
		}},
		{"profiles", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			return d.Personal.EraseProfiles(ctx, ref.Tenant, ids.All())
		}},
		{"consent", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			n, err := d.Privacy.EraseConsent(ctx, ref.Tenant, ids.All())
			return int64(n), err
		}},
		{"redis", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			keys, err := d.redisKeys(ctx, ids.All())
			if err != nil || len(keys) == 0 {
				return 0, err
			}
			return d.Redis.Del(ctx, keys...).Result()
		}},
		{"subject_keys", func(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
			n, err := d.Keys.Destroy(ctx, ref.Tenant, ids.All())
			return int64(n), err
		}},
	}
}

func (d *Deletion) eraseCredits(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
	conv, err := d.Personal.ConversionEventIDs(ctx, ref.Tenant, ids.All())
	if err != nil {
		return 0, err
	}
	// Kept (sealed, in the request) so verification can check their credits went.
	if *ids, err = d.Requests.AddIdentifiers(ctx, ref.Tenant, ref.RequestID, store.SubjectIDs{ConversionIDs: conv}); err != nil {
		return 0, err
	}
	return d.Personal.EraseCredits(ctx, ref.Tenant, ids.ConversionIDs)
}

// eraseArchive rewrites the archived batches that mention the subject without the
// subject's records. Sealed records are opened with the subject's key, which is why
// this runs before the keys are destroyed; a record whose key is already gone (a
// retried attempt) is unreadable and goes too.
func (d *Deletion) eraseArchive(ctx context.Context, ref DeletionRef, ids *store.SubjectIDs) (int64, error) {
	unsealer := streaming.NewUnsealer(d.Keys)
	return sumOver(ids.All(), func(s string) (int64, error) {
		n, err := d.Archive.EraseSubject(ctx, ref.Tenant, s, func(value []byte) (bool, error) {
			e, err := streaming.DecodeRecord(ctx, d.Codec, value)
			if err != nil {
				return false, fmt.Errorf("decode archived record: %w", err)
			}
			if err := unsealer.Open(ctx, &e); errors.Is(err, streaming.ErrShredded) {
				return e.TenantID == ref.Tenant, nil
			} else if err != nil {
				return false, err
			}
			return e.TenantID == ref.Tenant && streaming.HasSubject(&e, s), nil
		})
		activity.RecordHeartbeat(ctx)
		return int64(n), err
	})
}

func sumOver(ids []string, f func(string) (int64, error)) (int64, error) {
	var total int64
	for _, s := range ids {
		n, err := f(s)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// redisKeys finds keys whose names contain one of the identifiers. Touchpoint's own
// keys hold only aggregates and keyed hashes; this catches any cache that named a
// subject. SCAN walks the keyspace once per identifier: fine for deletions, which
// are rare.
func (d *Deletion) redisKeys(ctx context.Context, ids []string) ([]string, error) {
	if d.Redis == nil {
		return nil, nil
	}
	var out []string
	for _, s := range ids {
		iter := d.Redis.Scan(ctx, 0, "*"+globEscape(s)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			out = append(out, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return nil, fmt.Errorf("scan redis: %w", err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

// VerifyErasure searches every store for the subject's identifiers and fails, without
// retry, naming the stores and counts (never the identifiers) if anything remains.
func (d *Deletion) VerifyErasure(ctx context.Context, ref DeletionRef) (StepResult, error) {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return StepResult{}, err
	}
	residue, err := d.Personal.Residue(ctx, ref.Tenant, ids.All(), deletion.Namespaced(ids), ids.ConversionIDs)
	if err != nil {
		return StepResult{}, err
	}
	if err := d.residueElsewhere(ctx, ref, ids, residue); err != nil {
		return StepResult{}, err
	}
	res := StepResult{Step: "verified", Counts: residue}
	if len(residue) == 0 {
		return res, d.record(ctx, ref, ids, res, nil)
	}
	failure := fmt.Errorf("subject data remains after erasure: %v", residue)
	slog.Error("deletion: verification failed", "tenant", ref.Tenant, "request", ref.RequestID, "residue", residue)
	if err := d.record(ctx, ref, ids, res, failure); err != nil {
		return StepResult{}, err
	}
	return res, temporal.NewNonRetryableApplicationError(failure.Error(), ErrTypeResidue, nil)
}

// residueElsewhere adds what the SQL search cannot see: keys, consents, Redis.
func (d *Deletion) residueElsewhere(ctx context.Context, ref DeletionRef, ids store.SubjectIDs, residue map[string]int64) error {
	keys, err := d.Keys.Exists(ctx, ref.Tenant, ids.All())
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		residue["subject_keys"] = int64(len(keys))
	}
	for _, s := range ids.All() {
		if _, err := d.Privacy.Consent(ctx, ref.Tenant, s); err == nil {
			residue["consent"]++
		} else if !isNotFound(err) {
			return err
		}
	}
	rkeys, err := d.redisKeys(ctx, ids.All())
	if err != nil {
		return err
	}
	if len(rkeys) > 0 {
		residue["redis"] = int64(len(rkeys))
	}
	return nil
}

// CompleteDeletion records the request done against its regulation's deadline and drops the
// sealed identifiers: only their keyed hashes remain.
func (d *Deletion) CompleteDeletion(ctx context.Context, ref DeletionRef) (store.DeletionRequest, error) {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return store.DeletionRequest{}, err
	}
	req, err := d.Requests.Get(ctx, ref.Tenant, ref.RequestID)
	if err != nil {
		return store.DeletionRequest{}, err
	}
	now := time.Now().UTC()
	res := StepResult{Step: "completed", Counts: map[string]int64{"days_taken": int64(now.Sub(req.RequestedAt).Hours() / 24)}}
	res.Note = "on time"
	if now.After(req.Deadline) {
		res.Note = "late: past the " + req.Regulation + " deadline"
	}
	if err := d.record(ctx, ref, ids, res, nil); err != nil {
		return store.DeletionRequest{}, err
	}
	return d.Requests.Complete(ctx, ref.Tenant, ref.RequestID, now)
}

// FailDeletion records that the request cannot complete without a person (a platform refused
// the erasure) and why.
func (d *Deletion) FailDeletion(ctx context.Context, ref DeletionRef, reason string) error {
	ids, err := d.identifiers(ctx, ref)
	if err != nil {
		return err
	}
	return d.record(ctx, ref, ids, StepResult{Step: "failed", Note: reason}, errors.New(reason))
}
