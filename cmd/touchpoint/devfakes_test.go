package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/workflows"
)

// TestDevFakePlatformsSyncEndToEnd runs `touchpoint dev -fake-platforms`, creates the
// connections the banner prints (one per platform's fake) through the API with the
// demo key, triggers their syncs, and checks with the Temporal CLI that the Google
// Ads connection's schedule exists and that a sync of every platform but Meta
// completed, found by its platform search attribute.
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
	waitForOutput(t, &out, done, "/v1/connections/posthog-demo/sync", 10*time.Second) // the banner's last line
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
	// Every connection the banner prints is created and synced as printed. Meta's is
	// only created: its fake's async reports take seconds per chunk to complete.
	synced := map[string]string{} // platform → connection id
	for _, body := range bannerConnections(out.String()) {
		var c struct {
			ID       string `json:"connection_id"`
			Platform string `json:"platform"`
		}
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatalf("banner connection %s: %v", body, err)
		}
		if code, resp := post("/v1/connections", body); code != http.StatusCreated {
			t.Fatalf("create %s connection as the banner says: %d %s", c.Platform, code, resp)
		}
		if c.Platform == "meta" {
			continue
		}
		if code, resp := post("/v1/connections/"+c.ID+"/sync", ""); code != http.StatusAccepted && code != http.StatusConflict {
			t.Fatalf("trigger %s sync: %d %s", c.Platform, code, resp)
		}
		synced[c.Platform] = c.ID
	}
	if len(synced) != 4 {
		t.Fatalf("the banner's connections cover %v, want googleads, linkedin, ga4 and posthog:\n%s", synced, out.String())
	}

	temporalCLI, err := findTemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", temporal)
	schedule := workflows.SyncScheduleID("demo", "googleads", synced["googleads"])
	if list, err := exec.Command(temporalCLI, "schedule", "list", "--address", addr).CombinedOutput(); err != nil || !bytes.Contains(list, []byte(schedule)) {
		t.Fatalf("`temporal schedule list` lacks %s: %v\n%s", schedule, err, list)
	}
	deadline := time.Now().Add(60 * time.Second)
	for platform, id := range synced {
		for {
			list, _ := exec.Command(temporalCLI, "workflow", "list", "--address", addr,
				"--query", "TouchpointPlatform='"+platform+"' AND ExecutionStatus='Completed'").CombinedOutput()
			if bytes.Contains(list, []byte(workflows.SyncWorkflowID("demo", platform, id))) {
				break
			}
			if time.Now().After(deadline) {
				all, _ := exec.Command(temporalCLI, "workflow", "list", "--address", addr, "--query", "TouchpointPlatform='"+platform+"'").CombinedOutput()
				t.Fatalf("no completed %s sync in `temporal workflow list`:\n%s\n%s", platform, all, out.String())
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// bannerConnections returns the POST /v1/connections bodies of the banner's curl lines.
func bannerConnections(banner string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`-d '(\{[^']*\})' http://\S+/v1/connections\n`).FindAllStringSubmatch(banner, -1) {
		out = append(out, m[1])
	}
	return out
}
