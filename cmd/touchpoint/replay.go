package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

// runReplay reads the raw archive for a range of archive time and either prints the
// events as JSON lines or produces the original records to a topic.
func runReplay(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fromS := fs.String("from", "", "start of the range (RFC 3339), inclusive")
	toS := fs.String("to", "", "end of the range (RFC 3339), exclusive; default now")
	tenant := fs.String("tenant", "", "only this tenant's events")
	topic := fs.String("topic", "", "produce the original records to this topic instead of printing JSON lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	from, err := time.Parse(time.RFC3339, *fromS)
	if err != nil {
		return fmt.Errorf("replay: -from: %w", err)
	}
	to := time.Now()
	if *toS != "" {
		if to, err = time.Parse(time.RFC3339, *toS); err != nil {
			return fmt.Errorf("replay: -to: %w", err)
		}
	}
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	codec, err := newCodec(ctx, cfg)
	if err != nil {
		return err
	}
	out, closeOut, err := replaySink(ctx, cfg, *topic)
	if err != nil {
		return err
	}
	n := 0
	err = store.Archive{DB: pool}.Replay(ctx, from, to, func(value []byte) error {
		e, err := streaming.DecodeRecord(ctx, codec, value)
		if err != nil {
			return fmt.Errorf("replay: archived record: %w", err)
		}
		if *tenant != "" && e.TenantID != *tenant {
			return nil
		}
		n++
		return out(e.TenantID, value, e)
	})
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	fmt.Fprintf(os.Stderr, "replayed %d events\n", n)
	return err
}

// replaySink prints events or produces their records, and returns a function that
// flushes what is in flight.
func replaySink(ctx context.Context, cfg config.Config, topic string) (func(string, []byte, any) error, func() error, error) {
	if topic == "" {
		enc := json.NewEncoder(os.Stdout)
		return func(_ string, _ []byte, e any) error { return enc.Encode(e) }, func() error { return nil }, nil
	}
	if err := checkKafka(ctx, cfg); err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.KafkaBrokers...), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation())
	if err != nil {
		return nil, nil, fmt.Errorf("replay: %w", err)
	}
	var mu sync.Mutex
	var failed error
	send := func(tenant string, value []byte, _ any) error {
		cl.Produce(ctx, &kgo.Record{Key: []byte(tenant), Value: value}, func(_ *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
		})
		return nil
	}
	flush := func() error {
		defer cl.Close()
		err := cl.Flush(ctx)
		mu.Lock()
		defer mu.Unlock()
		return errors.Join(err, failed)
	}
	return send, flush, nil
}
