package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestDevFakePlatformsSyncEndToEnd runs `touchpoint dev -fake-platforms`, creates a
// Google Ads connection against the fake through the API with the demo key, triggers
// a sync, and checks with the Temporal CLI that the connection's schedule exists and
// that a sync completed, found by its platform search attribute.
func TestDevFakePlatformsSyncEndToEnd(t *testing.T) {
	kafka, registry, temporal, ui, apiPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	dataDir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "KAFKA_BROKERS" && k != "TEMPORAL_ADDRESS" && k != "SCHEMA_REGISTRY_URL" {
			env = append(env, kv)
		}
	}
	env = append(env,
		"DATABASE_URL="+storetest.DatabaseURL(t),
		"REDIS_URL=redis://127.0.0.1:6379/15",
		"TOUCHPOINT_DATA_DIR="+dataDir,
		fmt.Sprintf("TOUCHPOINT_HTTP_ADDR=127.0.0.1:%d", apiPort),
	)
	cmd := exec.Command(binPath, "dev", "-fake-platforms", "-kafka-port", fmt.Sprint(kafka), "-registry-addr", fmt.Sprintf("127.0.0.1:%d", registry),
		"-temporal-port", fmt.Sprint(temporal), "-temporal-ui-port", fmt.Sprint(ui))
	cmd.Env = env
	var out procOutput
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		}
	})
	waitForOutput(t, &out, done, "Touchpoint dev stack is up.", 3*time.Minute)
	if !strings.Contains(out.String(), "Google Ads       http://127.0.0.1:") || !strings.Contains(out.String(), "/v1/connections") {
		t.Fatalf("banner lacks the fake platforms:\n%s", out.String())
	}

	client := &http.Client{Timeout: 10 * time.Second}
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	key, err := os.ReadFile(filepath.Join(dataDir, "demo-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	if code, body := post("/v1/connections", `{"connection_id":"gads-e2e","platform":"googleads","account_id":"1234567890",
		"credentials":{"developer_token":"fake-developer-token","client_id":"fake-client-id","client_secret":"fake-client-secret","refresh_token":"fake-refresh-token"}}`); code != http.StatusCreated {
		t.Fatalf("create connection: %d %s", code, body)
	}
	if code, body := post("/v1/connections/gads-e2e/sync", ""); code != http.StatusAccepted && code != http.StatusConflict {
		t.Fatalf("trigger sync: %d %s", code, body)
	}

	temporalCLI, err := findTemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", temporal)
	schedule := workflows.SyncScheduleID("demo", "googleads", "gads-e2e")
	if list, err := exec.Command(temporalCLI, "schedule", "list", "--address", addr).CombinedOutput(); err != nil || !bytes.Contains(list, []byte(schedule)) {
		t.Fatalf("`temporal schedule list` lacks %s: %v\n%s", schedule, err, list)
	}
	deadline := time.Now().Add(40 * time.Second)
	for {
		list, _ := exec.Command(temporalCLI, "workflow", "list", "--address", addr,
			"--query", "TouchpointPlatform='googleads' AND ExecutionStatus='Completed'").CombinedOutput()
		if bytes.Contains(list, []byte(workflows.SyncWorkflowID("demo", "googleads", "gads-e2e"))) {
			break
		}
		if time.Now().After(deadline) {
			all, _ := exec.Command(temporalCLI, "workflow", "list", "--address", addr, "--query", "TouchpointPlatform='googleads'").CombinedOutput()
			t.Fatalf("no completed googleads sync in `temporal workflow list`:\n%s\n%s", all, out.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
}
