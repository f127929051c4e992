package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/streaming"
)

// runBroker runs only the embedded Kafka-protocol broker (kfake) in its own process,
// for tools and benchmarks that want the broker's memory and CPU apart from theirs.
func runBroker(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	port := fs.Int("port", 9092, "port to listen on (127.0.0.1)")
	dir := fs.String("data", filepath.Join(cfg.DataDir, "kafka"), "directory of the broker's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := streaming.StartBroker(*port, *dir)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(os.Stderr, "kafka broker on %v, data in %s; Ctrl-C to stop\n", b.Addrs(), *dir)
	<-ctx.Done()
	return nil
}
