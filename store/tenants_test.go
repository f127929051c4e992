package store_test

import (
	"context"
	"testing"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestTenantsAndKeys(t *testing.T) {
	ctx := context.Background()
	s := store.Tenants{DB: storetest.Postgres(t)}

	if _, err := s.Create(ctx, "Bad Tenant", ""); touchpoint.KindOf(err) != touchpoint.EInvalid {
		t.Fatalf("bad id: got %v, want invalid", err)
	}
	if _, err := s.Create(ctx, "acme", "Acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "acme", "Acme"); touchpoint.KindOf(err) != touchpoint.EConflict {
		t.Fatalf("duplicate: got %v, want conflict", err)
	}
	if _, _, err := s.CreateKey(ctx, "nobody", ""); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("key for missing tenant: got %v, want not_found", err)
	}
	key, secret, err := s.CreateKey(ctx, "acme", "ingest")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got != "acme" {
		t.Fatalf("authenticate: %q, %v", got, err)
	}
	if _, err := s.Authenticate(ctx, secret+"x"); touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		t.Fatalf("wrong key: got %v, want unauthorized", err)
	}
	if err := s.RevokeKey(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		t.Fatalf("revoked key: got %v, want unauthorized", err)
	}
	if err := s.RevokeKey(ctx, "acme", key.ID); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("second revoke: got %v, want not_found", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "acme" {
		t.Fatalf("list: %+v, %v", list, err)
	}
}
