package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store/storetest"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDevStackComesUpServesAndStopsCleanly runs `touchpoint dev` as a user would
// (on free ports, with its own data dir and database): the whole stack comes up,
// accepts an event, is ready on every dependency, the Temporal Web UI answers and the
// maintenance workflow ran; Ctrl-C stops it all, the Temporal dev server included.
func TestDevStackComesUpServesAndStopsCleanly(t *testing.T) {
	kafka, registry, temporal, ui, apiPort := freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
	dataDir := t.TempDir()
	var env []string
	for _, kv := range os.Environ() { // embedded services must not be replaced by the caller's
		if k, _, _ := strings.Cut(kv, "="); k != "KAFKA_BROKERS" && k != "TEMPORAL_ADDRESS" && k != "SCHEMA_REGISTRY_URL" {
			env = append(env, kv)
		}
	}
	env = append(env,
		"DATABASE_URL="+storetest.DatabaseURL(t),
		"REDIS_URL=redis://127.0.0.1:6379/15", // a Redis database of its own: the dev tenant is "demo"
		"TOUCHPOINT_DATA_DIR="+dataDir,
		fmt.Sprintf("TOUCHPOINT_HTTP_ADDR=127.0.0.1:%d", apiPort),
	)
	cmd := exec.Command(binPath, "dev", "-kafka-port", fmt.Sprint(kafka), "-registry-addr", fmt.Sprintf("127.0.0.1:%d", registry),
		"-temporal-port", fmt.Sprint(temporal), "-temporal-ui-port", fmt.Sprint(ui))
	cmd.Env = env
	var out procOutput
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// done is closed once the process has exited; waitErr is its result then.
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("pid %d: not reaped 10s after SIGKILL", cmd.Process.Pid)
			}
		}
	})
	waitForOutput(t, &out, done, "Touchpoint dev stack is up.", 3*time.Minute)

	t.Log("stack is up")
	client := &http.Client{Timeout: 10 * time.Second}
	api := fmt.Sprintf("http://127.0.0.1:%d", apiPort)
	key, err := os.ReadFile(filepath.Join(dataDir, "demo-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := jsonOf(events.Example(events.ConversionEvent, "demo", time.Now().UTC()))
	req, _ := http.NewRequest("POST", api+"/v1/events", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(key)))
	req.Header.Set("Content-Type", "application/json")
	if res, err := client.Do(req); err != nil || res.StatusCode != 202 {
		t.Fatalf("ingest: %v %v\n%s", res, err, out.String())
	}
	if res, err := client.Get(api + "/readyz"); err != nil || res.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", res, err)
	}
	if res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", ui)); err != nil || res.StatusCode != 200 {
		t.Fatalf("Temporal Web UI: %v %v", res, err)
	}
	temporalCLI, err := findTemporalCLI()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _ := exec.Command(temporalCLI, "workflow", "list", "--address", fmt.Sprintf("127.0.0.1:%d", temporal)).CombinedOutput()
		if bytes.Contains(list, []byte("Maintenance")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Maintenance workflow in `temporal workflow list`:\n%s", list)
		}
		time.Sleep(500 * time.Millisecond)
	}

	t.Log("stopping")
	if err := cmd.Process.Signal(os.Interrupt); err != nil { // Ctrl-C, to the pid we started
		t.Fatal(err)
	}
	select {
	case <-done:
		if waitErr != nil {
			t.Fatalf("dev exited with %v\n%s", waitErr, out.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("dev did not stop within 60s of Ctrl-C\n%s", out.String())
	}
	for _, port := range []int{kafka, registry, temporal, ui, apiPort} {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still answers after Ctrl-C", port)
		}
	}
}

func findTemporalCLI() (string, error) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	gobin, err := goBin(context.Background())
	if err != nil {
		return "", err
	}
	return filepath.Join(gobin, "temporal"), nil
}

func waitForOutput(t *testing.T, out *procOutput, done <-chan struct{}, want string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(out.String(), want) {
		select {
		case <-done:
			t.Fatalf("exited before %q:\n%s", want, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v:\n%s", want, limit, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
