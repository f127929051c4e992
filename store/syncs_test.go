package store_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/connectors"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestConnectionCredentialsEncrypted(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	s := store.Connections{DB: pool, Key: store.SecretsKey("test-secret")}
	secret := []byte(`{"refresh_token":"very-secret-refresh-token"}`)
	c, err := s.Create(ctx, store.Connection{TenantID: "acme", ConnectionID: "c1", Platform: "googleads", AccountID: "123", Credentials: secret})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != "active" {
		t.Fatalf("status %q", c.Status)
	}
	if _, err := s.Create(ctx, store.Connection{TenantID: "acme", ConnectionID: "c1", Platform: "googleads", AccountID: "123", Credentials: secret}); !errors.Is(err, store.ErrConnectionExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.Get(ctx, "acme", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Credentials, secret) {
		t.Fatalf("round trip: %q", got.Credentials)
	}
	var raw []byte
	if err := pool.QueryRow(ctx, `SELECT credentials FROM connections WHERE connection_id = 'c1'`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("very-secret")) {
		t.Fatal("credentials stored in plain text")
	}
	if _, err := (store.Connections{DB: pool, Key: store.SecretsKey("other")}).Get(ctx, "acme", "c1"); err == nil {
		t.Fatal("decrypted under the wrong key")
	}
	list, err := s.List(ctx, "acme")
	if err != nil || len(list) != 1 || list[0].Credentials != nil {
		t.Fatalf("list: %v %+v", err, list)
	}
	if err := s.SetStatus(ctx, "acme", "c1", "needs_reauth"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "acme", "c1"); got.Status != "needs_reauth" {
		t.Fatalf("status %q", got.Status)
	}
	if err := s.Delete(ctx, "acme", "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "acme", "c1"); !errors.Is(err, store.ErrConnectionNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestCampaignDaysUpsertReplaces(t *testing.T) {
	ctx := context.Background()
	s := store.Connections{DB: storetest.Postgres(t), Key: store.SecretsKey("k")}
	d0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	row := func(day time.Time, clicks int64) connectors.CampaignDay {
		return connectors.CampaignDay{Platform: "google_ads", AccountID: "123", CampaignID: "9", CampaignName: "Brand",
			Date: day, Impressions: 100, Clicks: clicks, Conversions: 1.5, CostMicros: 1_230_000, RevenueMicros: 4_000_000, Currency: "EUR"}
	}
	if err := s.UpsertCampaignDays(ctx, "acme", "c1", "campaign_days", []connectors.CampaignDay{row(d0, 5), row(d0.AddDate(0, 0, 1), 6)}, d0.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	restated := []connectors.CampaignDay{row(d0, 5), row(d0.AddDate(0, 0, 1), 9)}
	if err := s.UpsertCampaignDays(ctx, "acme", "c1", "campaign_days", restated, d0); err != nil {
		t.Fatal(err)
	}
	got, err := s.CampaignDays(ctx, "acme", "c1", d0, d0.AddDate(0, 0, 5))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, restated) {
		t.Fatalf("got %+v\nwant %+v", got, restated)
	}
	cur, ok, err := s.Cursor(ctx, "acme", "c1", "campaign_days")
	if err != nil || !ok || !cur.Equal(d0.AddDate(0, 0, 1)) {
		t.Fatalf("cursor %v %v %v (must not move backwards)", cur, ok, err)
	}
}
