// Command touchpoint is Touchpoint's one binary: the dev stack, the API, the Temporal
// worker, the streaming consumer, migrations, and tools to produce and benchmark.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/touchpoint/touchpoint/config"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, cfg config.Config, args []string) error
}

func commands() []command {
	return []command{
		{"dev", "run the whole stack on this machine (Temporal dev server, embedded Kafka and schema registry, API, worker, consumer)", runDev},
		{"api", "serve the HTTP API", runAPI},
		{"worker", "run the Temporal worker", runWorker},
		{"consumer", "run the streaming consumer", runConsumer},
		{"migrate", "apply database migrations", runMigrate},
		{"audit", "verify the audit log's hash chain (audit verify) or list a tenant's entries (audit list)", runAudit},
		{"broker", "run only the embedded Kafka-protocol broker", runBroker},
		{"replay", "read the raw archive for a time range: print JSON lines or produce the records to a topic", runReplay},
		{"bench", "measure the real pipeline: throughput, end-to-end latency, exactness, raw consume ceiling", runBench},
		{"example", "print a valid example event of a type (or of every type) as JSON lines", runExample},
		{"produce", "stream events into Kafka from JSON lines or a synthetic generator", runProduce},
		{"backfill", "backfill a platform connection through the API and follow its progress", runBackfill},
		{"schedules", "list, pause, resume or trigger the connections' sync schedules through the API", runSchedules},
	}
}

func main() {
	tuneGC()
	if err := run(os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "touchpoint:", err)
		}
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return nil
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		cfg, err := config.FromEnv()
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		setupLogging(cfg.LogLevel)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return c.run(ctx, cfg, args[1:])
	}
	usage()
	return fmt.Errorf("unknown command %q", args[0])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: touchpoint <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nConfiguration comes from environment variables; see README.md.")
}

func setupLogging(level string) {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})))
}

// tuneGC trades memory for CPU: the hot path allocates a decoded event per record, and
// at the default GOGC=100 garbage collection takes a large share of two cores. A soft
// memory limit keeps the larger target bounded. GOGC and GOMEMLIMIT override both.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(3 << 30)
	}
}
