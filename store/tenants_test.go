package store_test

import (
	"context"
	"slices"
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
	if _, _, err := s.CreateKey(ctx, "nobody", "", nil); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("key for missing tenant: got %v, want not_found", err)
	}
	key, secret, err := s.CreateKey(ctx, "acme", "ingest", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.TenantID != "acme" || got.KeyID != key.ID || !slices.Equal(got.Scopes, store.DefaultScopes) {
		t.Fatalf("authenticate: %+v, %v (want acme, %s, the default scopes)", got, err, key.ID)
	}
	if _, err := s.Authenticate(ctx, secret+"x"); touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		t.Fatalf("wrong key: got %v, want unauthorized", err)
	}
	if _, err := s.RevokeKey(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); touchpoint.KindOf(err) != touchpoint.EUnauthorized {
		t.Fatalf("revoked key: got %v, want unauthorized", err)
	}
	if _, err := s.RevokeKey(ctx, "acme", key.ID); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("second revoke: got %v, want not_found", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "acme" {
		t.Fatalf("list: %+v, %v", list, err)
	}
}

func TestKeyScopes(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	s := store.Tenants{DB: pool}
	for _, id := range []string{"acme", "globex"} {
		if _, err := s.Create(ctx, id, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range [][]string{{}, {"write"}, {"read", "Admin"}} {
		if _, _, err := s.CreateKey(ctx, "acme", "bad", bad); touchpoint.KindOf(err) != touchpoint.EInvalid {
			t.Errorf("scopes %q: got %v, want invalid", bad, err)
		}
	}
	k, secret, err := s.CreateKey(ctx, "acme", "ops", []string{"admin", "read", "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"read", "admin"}; !slices.Equal(k.Scopes, want) {
		t.Fatalf("created scopes %q, want %q (deduplicated, canonical order)", k.Scopes, want)
	}
	info, err := s.Authenticate(ctx, secret)
	if err != nil || !info.Has(store.ScopeAdmin) || info.Has(store.ScopeIngest) {
		t.Fatalf("authenticate: %+v, %v", info, err)
	}
	if _, _, err := s.CreateKey(ctx, "globex", "g", store.AllScopes); err != nil {
		t.Fatal(err)
	}
	keys, err := s.ListKeys(ctx, "acme")
	if err != nil || len(keys) != 1 || keys[0].ID != k.ID || !slices.Equal(keys[0].Scopes, k.Scopes) {
		t.Fatalf("acme's keys: %+v, %v (want only %s)", keys, err, k.ID)
	}
	if _, err := s.RevokeKey(ctx, "globex", k.ID); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("revoking acme's key as globex: %v, want not_found", err)
	}
	// The column's CHECK holds even for writes that bypass the store.
	if _, err := pool.Exec(ctx, `UPDATE api_keys SET scopes = '{superuser}' WHERE key_id = $1`, k.ID); err == nil {
		t.Fatal("an unknown scope was stored")
	}
}
