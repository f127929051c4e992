package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func TestAuditVerifyCommand(t *testing.T) {
	ctx := context.Background()
	url := storetest.DatabaseURL(t)
	pool, err := store.OpenPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	const secret = "audit-cmd-test-secrets-key"
	audit := store.Audit{DB: pool, Hasher: store.NewSubjectHasher(store.SecretsKey(secret))}
	for _, action := range []string{"apikey.create", "deletion.requested", "consent.set"} {
		if _, err := audit.Append(ctx, store.AuditEntry{TenantID: "acme", Actor: "admin", Action: action,
			Subjects: []string{"alice@example.com"}, Detail: map[string]any{"action": action}}); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"DATABASE_URL=" + url, "TOUCHPOINT_SECRETS_KEY=" + secret}

	stdout, stderr, err := runBin(t, env, "", "audit", "verify")
	if err != nil || !strings.Contains(stdout, "audit chain intact: 3 entries") {
		t.Fatalf("intact chain: err %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}

	stdout, stderr, err = runBin(t, env, "", "audit", "list", "-tenant", "acme", "-subject", "alice@example.com", "-limit", "2")
	if err != nil {
		t.Fatalf("list: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var newest store.AuditRecord
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &newest) != nil || newest.Seq != 3 || newest.Action != "consent.set" {
		t.Fatalf("list output:\n%s", stdout)
	}
	if strings.Contains(stdout, "alice@example.com") {
		t.Fatalf("list prints the plaintext subject:\n%s", stdout)
	}

	// An attacker with database rights edits entry 2.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete;
			UPDATE audit_log SET outcome = 'error: never happened' WHERE seq = 2;
			ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err = runBin(t, env, "", "audit", "verify")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("tampered chain: err %v, want exit 1\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "entry 2") || strings.Contains(stdout, "intact") {
		t.Fatalf("tampered chain not reported at entry 2:\nstdout %s\nstderr %s", stdout, stderr)
	}
}
