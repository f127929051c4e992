package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

const demoTenant = "demo"

// devPorts are where the embedded services listen. The defaults are fixed, so kcat,
// the Web UI and scripts always know where to look; flags move them (tests do).
type devPorts struct {
	kafka, temporal, temporalUI int
	registry                    string
}

// runDev starts the whole stack in one process: each embedded service (Kafka broker,
// schema registry, Temporal dev server) unless its address is configured, then
// migrations, the API, the worker and the consumer. Ctrl-C stops it all in order.
func runDev(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	var ports devPorts
	fs.IntVar(&ports.kafka, "kafka-port", 9092, "port of the embedded Kafka broker")
	fs.StringVar(&ports.registry, "registry-addr", "127.0.0.1:8081", "address of the embedded schema registry")
	fs.IntVar(&ports.temporal, "temporal-port", 7233, "gRPC port of the Temporal dev server")
	fs.IntVar(&ports.temporalUI, "temporal-ui-port", 8233, "port of the Temporal Web UI")
	fakes := fs.Bool("fake-platforms", false, "serve fake Google Ads, Meta, LinkedIn, GA4 and PostHog APIs on local ports and sync connections against them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("dev: data dir: %w", err)
	}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	var err error
	if cfg, stops, err = startEmbedded(ctx, cfg, ports, stops); err != nil {
		return err
	}
	if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return fmt.Errorf("%w\n  Postgres is needed (DATABASE_URL)", err)
	}
	if err := migrate(ctx, cfg); err != nil {
		return err
	}
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return err
	}
	if cfg.AdminKey, err = persistentSecret(filepath.Join(cfg.DataDir, "admin-key"), cfg.AdminKey); err != nil {
		return err
	}
	d, err := connectAll(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer d.close()
	d.registry = api.NewRegistry()
	if *fakes {
		var stop func()
		if d.fakes, stop, err = startFakePlatforms(); err != nil {
			return err
		}
		defer stop()
	}
	demoKey, err := demoAPIKey(ctx, cfg, store.Tenants{DB: d.pool})
	if err != nil {
		return err
	}
	return runServices(ctx, cfg, d, func(apiAddr string) { printBanner(cfg, ports, apiAddr, demoKey, d.fakes) })
}

// startEmbedded starts the dev services whose addresses are not configured and points
// cfg at them.
func startEmbedded(ctx context.Context, cfg config.Config, ports devPorts, stops []func()) (config.Config, []func(), error) {
	if _, set := os.LookupEnv("KAFKA_BROKERS"); !set {
		b, err := streaming.StartBroker(ports.kafka, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return cfg, stops, err
		}
		stops = append(stops, b.Close)
		cfg.KafkaBrokers = b.Addrs()
		slog.Info("embedded kafka broker", "addrs", cfg.KafkaBrokers, "data", filepath.Join(cfg.DataDir, "kafka"))
	}
	if cfg.SchemaRegistryURL == "" {
		hs, err := serveRegistry(ports.registry)
		if err != nil {
			return cfg, stops, err
		}
		stops = append(stops, func() { hs.Close() })
		cfg.SchemaRegistryURL = "http://" + ports.registry
	}
	if _, set := os.LookupEnv("TEMPORAL_ADDRESS"); !set {
		bin, err := findOrInstallTemporal(ctx)
		if err != nil {
			return cfg, stops, err
		}
		ts, err := startTemporal(ctx, bin, cfg.DataDir, "127.0.0.1", ports.temporal, ports.temporalUI)
		if err != nil {
			return cfg, stops, err
		}
		stops = append(stops, ts.stop)
		cfg.TemporalAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports.temporal))
	}
	return cfg, stops, nil
}

// runServices runs API, worker and consumer until ctx ends or one of them fails.
func runServices(ctx context.Context, cfg config.Config, d deps, apiReady func(string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for name, run := range map[string]func(context.Context) error{
		"api":      func(ctx context.Context) error { return serveAPI(ctx, cfg, d, apiReady) },
		"worker":   func(ctx context.Context) error { return serveWorker(ctx, cfg, d) },
		"consumer": func(ctx context.Context) error { return serveConsumer(ctx, cfg, d) },
	} {
		wg.Go(func() {
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	slog.Info("dev stack stopped")
	return <-errs
}

// persistentSecret returns configured if set, else the secret kept in path, creating
// it on first use.
func persistentSecret(path, configured string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := "tpa_" + base64.RawURLEncoding.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: save %s: %w", path, err)
	}
	return secret, nil
}

// demoAPIKey makes sure the demo tenant exists and returns a working key for it
// with every scope (the demo exercises every endpoint), reusing the one saved in the
// data dir unless it lacks a scope (a key made before scopes existed).
func demoAPIKey(ctx context.Context, cfg config.Config, tenants store.Tenants) (string, error) {
	if _, err := tenants.Create(ctx, demoTenant, "Demo tenant"); err != nil && touchpoint.KindOf(err) != touchpoint.EConflict {
		return "", err
	}
	path := filepath.Join(cfg.DataDir, "demo-api-key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if k, err := tenants.Authenticate(ctx, key); err == nil && k.TenantID == demoTenant && hasScopes(k, store.AllScopes) {
			return key, nil
		}
	}
	_, key, err := tenants.CreateKey(ctx, demoTenant, "dev", store.AllScopes)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("dev: save %s: %w", path, err)
	}
	return key, nil
}

func hasScopes(k store.KeyInfo, scopes []string) bool {
	for _, sc := range scopes {
		if !k.Has(sc) {
			return false
		}
	}
	return true
}

func printBanner(cfg config.Config, ports devPorts, apiAddr, demoKey string, fakes fakePlatforms) {
	fmt.Fprintf(os.Stderr, `
Touchpoint dev stack is up.
  API              http://%s   (POST /v1/events, /healthz, /readyz)
  Metrics          http://%s/metrics
  Temporal Web UI  http://127.0.0.1:%d   (gRPC %s)
  Kafka            %s   topic %s, dead letters %s
  Schema registry  %s
  Demo tenant      %s
  Demo API key     %s
  Admin key        %s
Data lives in %s. Press Ctrl-C to stop.

`, apiAddr, apiAddr, ports.temporalUI, cfg.TemporalAddress, strings.Join(cfg.KafkaBrokers, ","), cfg.EventsTopic, cfg.DLQTopic,
		cfg.SchemaRegistryURL, demoTenant, demoKey, cfg.AdminKey, cfg.DataDir)
	if fakes.googleAds != "" {
		fmt.Fprint(os.Stderr, fakes.banner(apiAddr, demoKey))
	}
}
