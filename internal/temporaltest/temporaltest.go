// Package temporaltest starts a real Temporal dev server (the official CLI's
// `temporal server start-dev`) for integration tests, one per test package.
package temporaltest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

var (
	once    sync.Once
	addr    string
	initErr error
)

// Address returns the address of a dev server shared by the package's tests. It uses
// TEST_TEMPORAL_ADDRESS when set, and otherwise starts one that lives as long as the
// test binary (the OS reaps it with the process group's parent).
func Address(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if a := os.Getenv("TEST_TEMPORAL_ADDRESS"); a != "" {
			addr = a
			return
		}
		addr, initErr = start()
	})
	if initErr != nil {
		t.Fatalf("temporaltest: %v", initErr)
	}
	return addr
}

// Client returns a client on the test server's default namespace.
func Client(t testing.TB) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: Address(t), Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("temporaltest: dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func binary() (string, error) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		p := filepath.Join(filepath.SplitList(string(trim(out)))[0], "bin", "temporal")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("the temporal CLI is not installed: run `make tools` (go install github.com/temporalio/cli/cmd/temporal@v1.5.1)")
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func start() (string, error) {
	bin, err := binary()
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	args := []string{"server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", fmt.Sprint(port),
		"--log-level", "error", "--namespace", "default",
		"--search-attribute", "TouchpointTenant=Keyword",
		"--search-attribute", "TouchpointPlatform=Keyword",
		"--search-attribute", "TouchpointKind=Keyword"}
	cmd := exec.Command(bin, args...)
	// Pdeathsig ends the server when the test binary exits, however it exits.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	a := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := client.DialContext(ctx, client.Options{HostPort: a, Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
		}
		cancel()
		if err == nil {
			return a, nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", fmt.Errorf("temporal dev server on %s did not become ready in 60s", a)
}
