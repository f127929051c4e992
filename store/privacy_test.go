package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

// privacyRig is a Privacy on a fresh database and the shared Redis, with a tenant id
// no other test uses (the Redis keys are shared).
func privacyRig(t *testing.T) (store.Privacy, string) {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	tenant := "priv-" + hex.EncodeToString(b)
	p := store.Privacy{DB: storetest.Postgres(t), Redis: storetest.Redis(t), Hasher: store.NewSubjectHasher([]byte("privacy-test-secrets-key"))}
	t.Cleanup(func() { p.Redis.Del(context.Background(), store.PrivacyBlockedSetKey(tenant)) })
	return p, tenant
}

func redisVersion(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	v, err := rdb.Get(context.Background(), store.PrivacyVersionKey).Int64()
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	return v
}

func isMember(t *testing.T, p store.Privacy, tenant, subject string) bool {
	t.Helper()
	ok, err := p.Redis.SIsMember(context.Background(), store.PrivacyBlockedSetKey(tenant), p.Hasher.Hash(tenant, subject)).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// notifications counts the channel's messages for tenant until none came for 300 ms.
func notifications(sub *redis.PubSub, tenant string) int {
	n := 0
	for {
		select {
		case msg := <-sub.Channel():
			if msg.Payload == tenant {
				n++
			}
		case <-time.After(300 * time.Millisecond):
			return n
		}
	}
}

func TestSuppressionHoldsOnlyKeyedHashes(t *testing.T) {
	ctx := context.Background()
	p, tenant := privacyRig(t)
	subjects := []string{"alice@example.com", "device-alice-1", "alice@example.com"}
	v0 := redisVersion(t, p.Redis)
	if err := p.Suppress(ctx, tenant, subjects, "gdpr deletion"); err != nil {
		t.Fatal(err)
	}
	if err := p.Suppress(ctx, tenant, subjects, "gdpr deletion"); err != nil { // idempotent
		t.Fatalf("again: %v", err)
	}
	if v := redisVersion(t, p.Redis); v < v0+2 {
		t.Fatalf("version %d after two suppressions from %d", v, v0)
	}

	// Every column of every row, as text: no identifier in plaintext nor in hex.
	rows, err := p.DB.Query(ctx, `SELECT t::text FROM suppressed_subjects t WHERE tenant_id = $1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var dump []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		dump = append(dump, s)
	}
	if rows.Err() != nil || len(dump) != 2 {
		t.Fatalf("%d rows (%v), want 2 (duplicates collapse)", len(dump), rows.Err())
	}
	all := strings.Join(dump, "\n")
	for _, s := range []string{"alice", hex.EncodeToString([]byte("alice"))} {
		if strings.Contains(all, s) {
			t.Fatalf("suppressed_subjects holds %q: %s", s, all)
		}
	}
	members, err := p.Redis.SMembers(ctx, store.PrivacyBlockedSetKey(tenant)).Result()
	if err != nil || len(members) != 2 {
		t.Fatalf("Redis set: %d members, %v", len(members), err)
	}
	for _, m := range members {
		if strings.Contains(m, "alice") {
			t.Fatalf("Redis set holds %q", m)
		}
	}

	for subject, want := range map[string]bool{"alice@example.com": true, "device-alice-1": true, "bob@example.com": false} {
		if got, err := p.IsSuppressed(ctx, tenant, subject); err != nil || got != want {
			t.Fatalf("IsSuppressed(%s) = %v, %v", subject, got, err)
		}
		if isMember(t, p, tenant, subject) != want {
			t.Fatalf("Redis membership of %s is not %v", subject, want)
		}
	}
	if got, _ := p.IsSuppressed(ctx, tenant+"-other", "alice@example.com"); got {
		t.Fatal("a suppression leaks into another tenant")
	}
	blocked, err := p.Blocked(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := blocked[store.BlockedKey(p.Hasher.Hash(tenant, "alice@example.com"))]; !ok || len(blocked) != 2 {
		t.Fatalf("Blocked: %d keys, alice missing: %v", len(blocked), !ok)
	}
}

func TestConsentLatestWinsAndNotifies(t *testing.T) {
	ctx := context.Background()
	p, tenant := privacyRig(t)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	set := func(c store.Consent) bool {
		t.Helper()
		c.TenantID, c.SubjectID = tenant, "cust-1"
		applied, err := p.SetConsent(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		return applied
	}
	v := redisVersion(t, p.Redis)
	if !set(store.Consent{Analytics: false, Personalization: true, Source: "api", SourceTime: t0}) {
		t.Fatal("first write not applied")
	}
	if !isMember(t, p, tenant, "cust-1") || redisVersion(t, p.Redis) <= v {
		t.Fatal("a withdrawal did not reach Redis")
	}
	// A delayed CDP sync with an older choice loses.
	if set(store.Consent{Analytics: true, Personalization: true, Advertising: true, Source: "segment", SourceTime: t0.Add(-time.Hour)}) {
		t.Fatal("an older source_time was applied")
	}
	got, err := p.Consent(ctx, tenant, "cust-1")
	if err != nil || got.Analytics || got.Source != "api" || !got.SourceTime.Equal(t0) || got.SubjectID != "cust-1" {
		t.Fatalf("after the stale update: %+v %v", got, err)
	}
	// The same source time again (a retry) applies; a change of another purpose only
	// does not make consumers reload. (The version is shared with concurrent tests:
	// the tenant's notifications on the channel say whether this one bumped it.)
	sub := p.Redis.Subscribe(ctx, store.PrivacyChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	if !set(store.Consent{Analytics: false, Personalization: false, Source: "api", SourceTime: t0}) {
		t.Fatal("a retry with the same source_time was not applied")
	}
	v = redisVersion(t, p.Redis)
	if !set(store.Consent{Analytics: true, Source: "mparticle", SourceTime: t0.Add(time.Hour)}) {
		t.Fatal("a newer source_time was not applied")
	}
	if n := notifications(sub, tenant); n != 1 {
		t.Fatalf("%d notifications for the retry and the restore, want 1 (the restore's)", n)
	}
	if isMember(t, p, tenant, "cust-1") || redisVersion(t, p.Redis) <= v {
		t.Fatal("restored consent did not reach Redis")
	}
	if got, _ := p.Consent(ctx, tenant, "cust-1"); !got.Analytics || got.Personalization || got.Source != "mparticle" {
		t.Fatalf("after the newer update: %+v", got)
	}
	if _, err := p.Consent(ctx, tenant, "nobody"); touchpoint.KindOf(err) != touchpoint.ENotFound {
		t.Fatalf("missing consent: %v", err)
	}
}

func TestConsentOfASuppressedSubjectStaysBlocked(t *testing.T) {
	ctx := context.Background()
	p, tenant := privacyRig(t)
	if _, err := p.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: "cust-2", Analytics: false}); err != nil {
		t.Fatal(err)
	}
	list, err := p.BlockList(ctx)
	if err != nil || len(list) != 1 || list[0].Reason != store.ReasonConsent || list[0].TenantID != tenant {
		t.Fatalf("block list %+v %v", list, err)
	}
	if err := p.Suppress(ctx, tenant, []string{"cust-2"}, "gdpr"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SetConsent(ctx, store.Consent{TenantID: tenant, SubjectID: "cust-2", Analytics: true}); err != nil {
		t.Fatal(err)
	}
	if !isMember(t, p, tenant, "cust-2") {
		t.Fatal("restoring consent unblocked a suppressed subject in Redis")
	}
	list, err = p.BlockList(ctx)
	if err != nil || len(list) != 1 || list[0].Reason != store.ReasonSuppressed || !bytes.Equal(list[0].Hash, p.Hasher.Hash(tenant, "cust-2")) {
		t.Fatalf("block list %+v %v", list, err)
	}
}

func TestListAndEraseConsent(t *testing.T) {
	ctx := context.Background()
	p, tenant := privacyRig(t)
	for i := range 5 {
		c := store.Consent{TenantID: tenant, SubjectID: "cust-" + strconv.Itoa(i), Analytics: i%2 == 0}
		if _, err := p.SetConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.SetConsent(ctx, store.Consent{TenantID: tenant + "-other", SubjectID: "cust-9"}); err != nil {
		t.Fatal(err)
	}
	page, err := p.ListConsent(ctx, tenant, 3, "")
	if err != nil || len(page) != 3 || page[0].SubjectID != "cust-0" || page[2].SubjectID != "cust-2" {
		t.Fatalf("first page %+v %v", page, err)
	}
	page, err = p.ListConsent(ctx, tenant, 3, page[2].SubjectID)
	if err != nil || len(page) != 2 || page[1].SubjectID != "cust-4" {
		t.Fatalf("second page %+v %v", page, err)
	}
	if _, err := p.ListConsent(ctx, tenant, 0, ""); touchpoint.KindOf(err) != touchpoint.EInvalid {
		t.Fatalf("limit 0: %v", err)
	}
	if !isMember(t, p, tenant, "cust-1") {
		t.Fatal("refusal of cust-1 not in Redis")
	}
	n, err := p.EraseConsent(ctx, tenant, []string{"cust-1", "cust-2", "never-seen"})
	if err != nil || n != 2 {
		t.Fatalf("erased %d, %v", n, err)
	}
	if isMember(t, p, tenant, "cust-1") {
		t.Fatal("an erased refusal is still blocked in Redis")
	}
	var left int
	if err := p.DB.QueryRow(ctx, `SELECT count(*) FROM consent WHERE subject_id IN ('cust-1', 'cust-2')`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left, %v", left, err)
	}
}

func TestPrivacyWithoutRedis(t *testing.T) {
	ctx := context.Background()
	p, tenant := privacyRig(t)
	p.Redis = nil
	if err := p.Suppress(ctx, tenant, []string{"x"}, "test"); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.IsSuppressed(ctx, tenant, "x"); err != nil || !ok {
		t.Fatalf("IsSuppressed: %v %v", ok, err)
	}
	if err := (store.Privacy{DB: p.DB}).Suppress(ctx, tenant, []string{"x"}, ""); err == nil {
		t.Fatal("suppressed without a hasher")
	}
}
