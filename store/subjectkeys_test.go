package store_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestSubjectKeysConcurrentEnsureAgreeOnOneKey(t *testing.T) {
	ctx := context.Background()
	k := store.SubjectKeys{DB: storetest.Postgres(t), SecretsKey: store.SecretsKey("test-secret")}
	subjects := make([]string, 50)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("cust-%d", i)
	}
	const callers = 8
	results := make([]map[string]store.SubjectKey, callers)
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			got, err := k.Ensure(ctx, "acme", append(subjects, "", subjects[0])) // empty and repeated subjects are ignored
			if err != nil {
				t.Error(err)
			}
			results[c] = got
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range subjects {
		first := results[0][s]
		if len(first.Key) != 32 || len(first.Token) != 22 {
			t.Fatalf("subject %s: key of %d bytes, token %q", s, len(first.Key), first.Token)
		}
		for c := 1; c < callers; c++ {
			if got := results[c][s]; got.Token != first.Token || !bytes.Equal(got.Key, first.Key) {
				t.Fatalf("subject %s: caller %d got token %s, caller 0 %s", s, c, got.Token, first.Token)
			}
		}
	}
	var rows int
	if err := k.DB.QueryRow(ctx, `SELECT count(*) FROM subject_keys`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(subjects) {
		t.Fatalf("%d key rows for %d subjects", rows, len(subjects))
	}
	// The same subject in another tenant has a key of its own.
	other, err := k.Ensure(ctx, "globex", subjects[:1])
	if err != nil {
		t.Fatal(err)
	}
	if other[subjects[0]].Token == results[0][subjects[0]].Token {
		t.Fatal("two tenants share a subject key")
	}
}

func TestSubjectKeysByTokensDestroyExists(t *testing.T) {
	ctx := context.Background()
	k := store.SubjectKeys{DB: storetest.Postgres(t), SecretsKey: store.SecretsKey("test-secret")}
	keys, err := k.Ensure(ctx, "acme", []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	byToken, err := k.ByTokens(ctx, []string{keys["alice"].Token, keys["bob"].Token, "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byToken) != 2 || !bytes.Equal(byToken[keys["alice"].Token].Key, keys["alice"].Key) {
		t.Fatalf("ByTokens: %d keys, alice's matches: %v", len(byToken), bytes.Equal(byToken[keys["alice"].Token].Key, keys["alice"].Key))
	}
	var raw []byte
	if err := k.DB.QueryRow(ctx, `SELECT key_sealed FROM subject_keys WHERE token = $1`, keys["alice"].Token).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, keys["alice"].Key) {
		t.Fatal("the key is stored in clear")
	}

	n, err := k.Destroy(ctx, "acme", []string{"alice", "carol"})
	if err != nil || n != 1 {
		t.Fatalf("Destroy: %d, %v; want 1 key destroyed", n, err)
	}
	exists, err := k.Exists(ctx, "acme", []string{"alice", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if exists["alice"] || !exists["bob"] {
		t.Fatalf("after Destroy: %v", exists)
	}
	byToken, err = k.ByTokens(ctx, []string{keys["alice"].Token, keys["bob"].Token})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := byToken[keys["alice"].Token]; ok || len(byToken) != 1 {
		t.Fatalf("destroyed key still found by token: %v", byToken)
	}
	// A new event of a destroyed subject gets a new key, never the old one back.
	again, err := k.Ensure(ctx, "acme", []string{"alice"})
	if err != nil {
		t.Fatal(err)
	}
	if again["alice"].Token == keys["alice"].Token || bytes.Equal(again["alice"].Key, keys["alice"].Key) {
		t.Fatal("a destroyed key came back")
	}
	// Another secrets key cannot unwrap the stored keys.
	wrong := store.SubjectKeys{DB: k.DB, SecretsKey: store.SecretsKey("other-secret")}
	if _, err := wrong.ByTokens(ctx, []string{keys["bob"].Token}); err == nil {
		t.Fatal("keys unwrapped under another secrets key")
	}
}
