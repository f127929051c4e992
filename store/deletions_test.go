package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func deletionsStore(t *testing.T) store.Deletions {
	pool := storetest.Postgres(t)
	key := store.SecretsKey("test-secrets-key-0123456789")
	return store.Deletions{DB: pool, SecretsKey: key, Hasher: store.NewSubjectHasher(key)}
}

// TestDeletionRequestsKeepIdentifiersSealedAndDropThemAtCompletion: the request row
// holds no identifier in clear, the same subject maps to the same request, and
// completion leaves only hashes.
func TestDeletionRequestsKeepIdentifiersSealedAndDropThemAtCompletion(t *testing.T) {
	ctx := context.Background()
	d := deletionsStore(t)
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	ids := store.SubjectIDs{CustomerIDs: []string{" cust-secret-1 "}, DeviceIDs: []string{"dev-secret-9", "dev-secret-9"}}
	if err := ids.Normalize(); err != nil {
		t.Fatal(err)
	}
	req, created, err := d.Create(ctx, "acme", "GDPR", "tenant:acme", ids, now)
	if err != nil || !created {
		t.Fatalf("create: %v created=%v", err, created)
	}
	if !req.Deadline.Equal(now.AddDate(0, 0, 30)) || req.Identifiers != 2 || req.Status != store.DeletionReceived {
		t.Fatalf("request %+v", req)
	}
	var row string
	if err := d.DB.QueryRow(ctx, `SELECT d::text FROM deletion_requests d`).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(row, "secret") {
		t.Fatalf("identifier stored in clear: %s", row)
	}
	// Same subject, a new identifier: the running request is returned, merged.
	again, created, err := d.Create(ctx, "acme", "GDPR", "tenant:acme", store.SubjectIDs{CustomerIDs: []string{"cust-secret-1"}, AnonymousIDs: []string{"anon-secret"}}, now)
	if err != nil || created || again.RequestID != req.RequestID || again.Identifiers != 3 {
		t.Fatalf("second create: %+v created=%v err=%v", again, created, err)
	}
	// Another tenant's request for the same id is another request.
	other, _, err := d.Create(ctx, "globex", "CCPA", "tenant:globex", ids, now)
	if err != nil || other.RequestID == req.RequestID || !other.Deadline.Equal(now.AddDate(0, 0, 45)) {
		t.Fatalf("other tenant: %+v %v", other, err)
	}
	if _, err := d.Get(ctx, "globex", req.RequestID); !errors.Is(err, store.ErrDeletionNotFound) {
		t.Fatalf("cross-tenant get: %v", err)
	}
	got, err := d.Identifiers(ctx, "acme", req.RequestID)
	if err != nil || len(got.All()) != 3 {
		t.Fatalf("identifiers %+v %v", got, err)
	}
	if err := d.RecordStep(ctx, "acme", req.RequestID, store.DeletionRunning, store.DeletionStep{Name: "suppressed", At: now, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	done, err := d.Complete(ctx, "acme", req.RequestID, now.AddDate(0, 0, 2))
	if err != nil || done.Status != store.DeletionCompleted || done.OnTime == nil || !*done.OnTime || len(done.Steps) != 1 {
		t.Fatalf("complete: %+v %v", done, err)
	}
	if _, err := d.Identifiers(ctx, "acme", req.RequestID); !errors.Is(err, store.ErrIdentifiersGone) {
		t.Fatalf("identifiers after completion: %v", err)
	}
	// A new request for a completed subject reopens it.
	re, created, err := d.Create(ctx, "acme", "GDPR", "tenant:acme", ids, now.AddDate(0, 1, 0))
	if err != nil || !created || re.Status != store.DeletionReceived || re.CompletedAt != nil {
		t.Fatalf("reopen: %+v created=%v %v", re, created, err)
	}
}

func TestSubjectIDsNormalize(t *testing.T) {
	for _, bad := range []store.SubjectIDs{{}, {CustomerIDs: []string{"  "}}, {EmailSHA256: []string{"not-hex"}}} {
		if err := bad.Normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	ok := store.SubjectIDs{EmailSHA256: []string{strings.Repeat("AB", 32)}}
	if err := ok.Normalize(); err != nil || ok.EmailSHA256[0] != strings.Repeat("ab", 32) {
		t.Fatalf("%+v %v", ok, err)
	}
}
