package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// The pinned Temporal CLI: newer tags do not `go install` because of replace directives.
const temporalCLI = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

// Search attributes Touchpoint's workflows set, registered on the dev server.
var searchAttributes = []string{"TouchpointTenant=Keyword", "TouchpointPlatform=Keyword", "TouchpointKind=Keyword"}

// findOrInstallTemporal returns the temporal binary, installing the pinned CLI with
// `go install` the first time.
func findOrInstallTemporal(ctx context.Context) (string, error) {
	if p, err := exec.LookPath("temporal"); err == nil {
		return p, nil
	}
	gobin, err := goBin(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(gobin, "temporal")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	slog.Info("installing the Temporal CLI (once, about 5 minutes)", "module", temporalCLI)
	cmd := exec.CommandContext(ctx, "go", "install", temporalCLI)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("install Temporal CLI (%s): %w", temporalCLI, err)
	}
	return bin, nil
}

func goBin(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w (the Go toolchain is needed to install the Temporal CLI)", err)
	}
	lines := strings.Split(string(out), "\n")
	if gobin := strings.TrimSpace(lines[0]); gobin != "" {
		return gobin, nil
	}
	if len(lines) < 2 || strings.TrimSpace(lines[1]) == "" {
		return "", errors.New("go env: neither GOBIN nor GOPATH is set")
	}
	return filepath.Join(filepath.SplitList(strings.TrimSpace(lines[1]))[0], "bin"), nil
}

// quietTemporalLogger drops the SDK's own logs during readiness polling.
func quietTemporalLogger() tlog.Logger {
	return tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
}

// temporalServer is a `temporal server start-dev` child process.
type temporalServer struct {
	cmd  *exec.Cmd
	done chan error
}

// startTemporal starts the dev server with its database in dataDir and waits until it
// answers on addr.
func startTemporal(ctx context.Context, bin, dataDir, host string, port, uiPort int) (*temporalServer, error) {
	args := []string{"server", "start-dev",
		"--ip", host, "--port", fmt.Sprint(port), "--ui-port", fmt.Sprint(uiPort),
		"--db-filename", filepath.Join(dataDir, "temporal.db"),
		"--namespace", "default", "--log-level", "warn",
	}
	for _, sa := range searchAttributes {
		args = append(args, "--search-attribute", sa)
	}
	logf, err := os.Create(filepath.Join(dataDir, "temporal.log"))
	if err != nil {
		return nil, fmt.Errorf("temporal log: %w", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: Ctrl-C reaches us, and we stop it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start temporal dev server: %w", err)
	}
	t := &temporalServer{cmd: cmd, done: make(chan error, 1)}
	go func() { t.done <- cmd.Wait(); logf.Close() }()
	addr := net.JoinHostPort(host, fmt.Sprint(port))
	if err := t.waitReady(ctx, addr, 90*time.Second); err != nil {
		t.stop()
		return nil, fmt.Errorf("temporal dev server on %s: %w (log: %s)", addr, err, logf.Name())
	}
	return t, nil
}

func (t *temporalServer) waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-t.done:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Logger: quietTemporalLogger()})
		if err == nil {
			_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// stop asks the server to shut down by its pid and waits for it.
func (t *temporalServer) stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(15 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

// serveRegistry serves the in-process schema registry on addr so outside clients
// (kcat -s, other SDKs) can use the same schemas.
func serveRegistry(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("schema registry: listen on %s: %w", addr, err)
	}
	reg := srfake.NewRegistry()
	hs := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("schema registry stopped", "err", err)
		}
	}()
	return hs, nil
}
