package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/seal"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// capture is a Publisher that keeps what it was given.
type capture struct {
	mu  sync.Mutex
	evs []events.Event
}

func (c *capture) Publish(_ context.Context, evs []events.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, evs...)
	return nil
}

func TestIngestSealsPersonalFields(t *testing.T) {
	ctx := context.Background()
	pool := storetest.Postgres(t)
	tenants := store.Tenants{DB: pool}
	if _, err := tenants.Create(ctx, "acme", ""); err != nil {
		t.Fatal(err)
	}
	_, apiKey, err := tenants.CreateKey(ctx, "acme", "test", store.AllScopes)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := events.InProcessRegistry()
	if err != nil {
		t.Fatal(err)
	}
	codec, err := events.NewCodec(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	keys := store.SubjectKeys{DB: pool, SecretsKey: store.SecretsKey("test-secret")}
	out := &capture{}
	srv := httptest.NewServer(api.New(api.Options{
		Rules: events.DefaultRules(), MaxBodyBytes: 1 << 20, MaxBatchEvents: 100, TenantRate: 1e6, TenantBurst: 1e6,
	}, api.Deps{Tenants: tenants, Codec: codec, Publisher: api.SealingPublisher{Next: out, Sealer: api.NewSealer(keys)}}))
	t.Cleanup(srv.Close)
	post := func(body any) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/events", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(res.Body)
		return res.StatusCode, buf.String()
	}

	now := time.Now().Add(-time.Minute)
	journey := events.Example(events.ConversionEvent, "acme", now)
	campaign := events.Example(events.CampaignOptimization, "acme", now)
	campaign.Device = nil
	if status, body := post([]events.Event{journey, campaign}); status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", status, body)
	}
	if len(out.evs) != 2 {
		t.Fatalf("%d events published, want 2", len(out.evs))
	}
	got := out.evs[0]
	if got.Sealed == nil || !strings.HasPrefix(got.CustomerID, seal.CustomerIDPrefix) || got.Device.DeviceID != "" || got.Device.IP != "" {
		t.Fatalf("journey event not sealed: %+v", got)
	}
	rec, err := codec.Encode(&got)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{journey.CustomerID, journey.Device.DeviceID, journey.Device.UserID, journey.Device.IP, journey.Device.Geo.City} {
		if bytes.Contains(rec, []byte(secret)) {
			t.Fatalf("the record for Kafka shows %q", secret)
		}
	}
	if out.evs[1].Sealed != nil {
		t.Fatal("an event without subject was sealed")
	}
	// The key store opens it back into the event that was posted.
	byToken, err := keys.ByTokens(ctx, []string{got.Sealed.Token})
	if err != nil {
		t.Fatal(err)
	}
	if err := seal.Open(&got, seal.Key(byToken[got.Sealed.Token])); err != nil {
		t.Fatal(err)
	}
	want := journey
	want.Normalize()
	if got.CustomerID != want.CustomerID || *withoutGeo(got.Device) != *withoutGeo(want.Device) || *got.Device.Geo != *want.Device.Geo {
		t.Fatalf("opened event: customer %q device %+v geo %+v; want %q %+v %+v",
			got.CustomerID, got.Device, got.Device.Geo, want.CustomerID, want.Device, want.Device.Geo)
	}

	// Producers cannot send a sealed identity of their own.
	forged := events.Example(events.ConversionEvent, "acme", now)
	forged.Sealed = &events.SealedIdentity{Token: "x", Nonce: []byte{1}, Ciphertext: []byte{2}}
	if status, body := post(forged); status != http.StatusBadRequest || !strings.Contains(body, "sealed") {
		t.Fatalf("POST with sealed: %d %s", status, body)
	}
}

func withoutGeo(d *events.Device) *events.Device {
	c := *d
	c.Geo = nil
	return &c
}
