package streaming_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// startPrivate runs a consumer whose periodic reload from Postgres never comes during
// the test: a change can only reach it through the Redis version.
func (r *rig) startPrivate(t *testing.T) (*prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := streaming.NewConsumer(streaming.ConsumerConfig{
		Brokers: r.brokers, Topic: topic, DLQTopic: dlqTopic, Group: group,
		Rules: events.DefaultRules(), MaxPollRecords: 3000, PrivacyRefresh: time.Hour,
	}, r.codec, r.stores(nil), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return reg, stop
}

func dropped(t *testing.T, reg *prometheus.Registry, reason string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "touchpoint_consumer_dropped_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

// eventsOf returns one touchpoint event per customer, stamped now.
func eventsOf(tenant string, customers ...string) []events.Event {
	now := time.Now().UTC()
	out := make([]events.Event, 0, len(customers))
	for _, c := range customers {
		e := events.Example(events.TouchpointInteraction, tenant, now)
		e.CustomerID, e.Device.AnonymousID, e.Device.UserID, e.Device.DeviceID = c, "anon-"+c, "", ""
		out = append(out, e)
	}
	return out
}

func (r *rig) cleanPrivacy(t *testing.T, tenant string) {
	t.Cleanup(func() { r.rdb.Del(context.Background(), store.PrivacyBlockedSetKey(tenant)) })
}

// TestConsentWithdrawalAppliesAtOnce: once SetConsent returns, the subject's next
// events are dropped (counted as "consent") while other subjects flow, although the
// consumer's periodic reload is an hour away; restored consent lets them through again.
func TestConsentWithdrawalAppliesAtOnce(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tenant := r.prefix + "consent"
	r.cleanPrivacy(t, tenant)
	p := r.stores(nil).Privacy
	reg, _ := r.startPrivate(t)

	r.publish(t, eventsOf(tenant, "alice", "bob"))
	r.waitCaughtUp(t)
	if n := r.postgresTotals(t).Events(); n != 2 {
		t.Fatalf("%d events before the withdrawal, want 2", n)
	}

	if applied, err := p.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: "alice", Analytics: false, Personalization: true, Advertising: true}); err != nil || !applied {
		t.Fatalf("withdraw: %v %v", applied, err)
	}
	r.publish(t, eventsOf(tenant, "alice", "bob", "alice"))
	r.waitCaughtUp(t)
	if n := r.postgresTotals(t).Events(); n != 3 {
		t.Fatalf("%d events after the withdrawal, want 3 (bob's only)", n)
	}
	if n := dropped(t, reg, store.ReasonConsent); n != 2 {
		t.Fatalf("%d dropped for consent, want 2", n)
	}

	if _, err := p.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: "alice", Analytics: true}); err != nil {
		t.Fatal(err)
	}
	r.publish(t, eventsOf(tenant, "alice"))
	r.waitCaughtUp(t)
	if n := r.postgresTotals(t).Events(); n != 4 {
		t.Fatalf("%d events after consent came back, want 4 (dropped: consent %d, duplicate %d)", n, dropped(t, reg, store.ReasonConsent), dropped(t, reg, "duplicate"))
	}
}

// TestSuppressionDropsEventsAlreadyInKafka: events written before the suppression but
// not consumed yet are dropped (counted as "suppressed"), by any of the identifiers
// they carry; the other subjects' events are applied.
func TestSuppressionDropsEventsAlreadyInKafka(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tenant := r.prefix + "suppress"
	r.cleanPrivacy(t, tenant)
	p := r.stores(nil).Privacy
	_, stop := r.startPrivate(t)
	r.publish(t, eventsOf(tenant, "warmup"))
	r.waitCaughtUp(t) // the consumer has loaded its (empty) set and runs
	stop()

	backlog := eventsOf(tenant, "gone", "stays", "gone", "stays")
	backlog[3].Device.AnonymousID = "anon-gone" // known by another identifier only
	r.publish(t, backlog)
	if err := p.Suppress(ctx, tenant, []string{"gone", "anon-gone"}, "gdpr deletion"); err != nil {
		t.Fatal(err)
	}
	reg, _ := r.startPrivate(t)
	r.waitCaughtUp(t)
	if n := r.postgresTotals(t).Events(); n != 2 {
		t.Fatalf("%d events, want 2 (warmup and one of stays)", n)
	}
	if n := dropped(t, reg, store.ReasonSuppressed); n != 3 {
		t.Fatalf("%d dropped as suppressed, want 3", n)
	}
}
