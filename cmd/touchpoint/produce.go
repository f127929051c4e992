package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/time/rate"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/generator"
	"github.com/touchpoint/touchpoint/seal"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
)

type produceFlags struct {
	file      string
	generate  bool
	count     int64
	rate      float64
	seed      uint64
	tenants   int
	campaigns int
	customers int
	raw       bool
	quiet     bool
	// seal: seal personal fields under per-subject keys, as the API does. On by
	// default for JSON lines (real events, perhaps real people); off for -generate
	// unless asked, so that generated load and `touchpoint bench` stay comparable.
	seal bool
}

func parseProduceFlags(args []string) (produceFlags, error) {
	var f produceFlags
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.StringVar(&f.file, "file", "-", "JSON-lines file to read events from (- for stdin)")
	fs.BoolVar(&f.generate, "generate", false, "produce synthetic events from the seeded generator instead of a file")
	fs.Int64Var(&f.count, "count", 0, "stop after this many events (0: the whole file, or 100000 generated)")
	fs.Float64Var(&f.rate, "rate", 0, "target events per second (0: as fast as the broker takes them)")
	fs.Uint64Var(&f.seed, "seed", 1, "generator seed; the same seed gives the same events")
	fs.IntVar(&f.tenants, "tenants", 3, "generator: number of tenants")
	fs.IntVar(&f.campaigns, "campaigns", 12, "generator: campaigns per tenant")
	fs.IntVar(&f.customers, "customers", 500, "generator: customers per tenant")
	fs.BoolVar(&f.raw, "raw", false, "send each line as it is (JSON, unvalidated), e.g. to exercise the dead-letter topic")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&f.seal, "seal", true, "seal personal fields under per-subject keys as the API does (needs Postgres and the secrets key); default on for JSON lines, off for -generate and -raw")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	sealSet := false
	fs.Visit(func(fl *flag.Flag) { sealSet = sealSet || fl.Name == "seal" })
	if f.raw || f.generate && !sealSet {
		f.seal = false // raw lines go out untouched; generated ones only when asked
	}
	if f.generate && f.count == 0 {
		f.count = 100000
	}
	if f.rate < 0 || f.count < 0 {
		return f, errors.New("produce: -rate and -count must not be negative")
	}
	return f, nil
}

// source yields the next record to send; ok is false at the end.
type source func() (rec *kgo.Record, ok bool, err error)

func runProduce(ctx context.Context, cfg config.Config, args []string) error {
	f, err := parseProduceFlags(args)
	if err != nil {
		return err
	}
	if err := checkKafka(ctx, cfg); err != nil {
		return err
	}
	if err := streaming.EnsureTopics(ctx, cfg.KafkaBrokers, topics(cfg)); err != nil {
		return err
	}
	codec, err := newCodec(ctx, cfg)
	if err != nil {
		return err
	}
	p, err := streaming.NewProducer(cfg.KafkaBrokers, cfg.EventsTopic, codec, streaming.ProducerOptions{Linger: 5 * time.Millisecond})
	if err != nil {
		return err
	}
	defer p.Close()

	var evs eventSource
	if f.generate {
		evs = generatedEvents(f)
	} else {
		in, closeIn, err := openInput(f.file)
		if err != nil {
			return err
		}
		defer closeIn()
		if f.raw {
			return pump(ctx, p, rawLines(in, cfg.EventsTopic), f)
		}
		evs = lineEvents(in, events.Rules{Retention: cfg.Retention, MaxClockSkew: cfg.MaxClockSkew})
	}
	next := encoded(p, evs)
	if f.seal {
		sealer, closeSealer, err := produceSealer(ctx, cfg)
		if err != nil {
			return err
		}
		defer closeSealer()
		next = sealedSource(ctx, p, evs, sealer)
	}
	return pump(ctx, p, next, f)
}

// produceSealer connects to the key store the API uses.
func produceSealer(ctx context.Context, cfg config.Config) (*seal.Edge, func(), error) {
	key, err := secretsKey(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("produce -seal: %w (or pass -seal=false)", err)
	}
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("produce -seal needs the key store in Postgres (or pass -seal=false): %w", err)
	}
	return api.NewSealer(store.SubjectKeys{DB: pool, SecretsKey: key}), pool.Close, nil
}

// sealBatch is how many events sealedSource reads ahead, so that keys are fetched
// with one query per batch and tenant instead of one per event.
const sealBatch = 500

// eventSource yields the next event to send; ok is false at the end.
type eventSource func() (e events.Event, ok bool, err error)

// encoded sends the events of evs as they are.
func encoded(p *streaming.Producer, evs eventSource) source {
	return func() (*kgo.Record, bool, error) {
		e, ok, err := evs()
		if !ok || err != nil {
			return nil, false, err
		}
		r, err := p.Record(&e)
		return r, err == nil, err
	}
}

// sealedSource sends the events of evs sealed, reading sealBatch of them at a time.
func sealedSource(ctx context.Context, p *streaming.Producer, evs eventSource, sealer *seal.Edge) source {
	var ready []*kgo.Record
	return func() (*kgo.Record, bool, error) {
		if len(ready) == 0 {
			var err error
			if ready, err = nextSealed(ctx, p, evs, sealer); err != nil || len(ready) == 0 {
				return nil, false, err
			}
		}
		r := ready[0]
		ready = ready[1:]
		return r, true, nil
	}
}

// nextSealed reads up to sealBatch events, seals them and encodes them.
func nextSealed(ctx context.Context, p *streaming.Producer, next eventSource, sealer *seal.Edge) ([]*kgo.Record, error) {
	var evs []events.Event
	for len(evs) < sealBatch {
		e, ok, err := next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		evs = append(evs, e)
	}
	if err := sealer.SealAll(ctx, evs); err != nil {
		return nil, fmt.Errorf("produce -seal: %w", err)
	}
	out := make([]*kgo.Record, len(evs))
	for i := range evs {
		r, err := p.Record(&evs[i])
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

func generatedEvents(f produceFlags) eventSource {
	g := generator.New(generator.Config{
		Seed: f.seed, Tenants: f.tenants, CampaignsPerTenant: f.campaigns, CustomersPerTenant: f.customers,
		Clock: time.Now,
	})
	return func() (events.Event, bool, error) { return g.Next(), true, nil }
}

func openInput(name string) (io.Reader, func(), error) {
	if name == "-" {
		return os.Stdin, func() {}, nil
	}
	fh, err := os.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("produce: %w", err)
	}
	return fh, func() { fh.Close() }, nil
}

// rawLines sends each non-empty line as it is, unvalidated.
func rawLines(in io.Reader, topic string) source {
	sc := newLineScanner(in)
	return func() (*kgo.Record, bool, error) {
		for sc.Scan() {
			if text := strings.TrimSpace(sc.Text()); text != "" {
				return &kgo.Record{Topic: topic, Value: []byte(text), Timestamp: time.Now()}, true, nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, false, fmt.Errorf("produce: read: %w", err)
		}
		return nil, false, nil
	}
}

// lineEvents reads JSON lines. Invalid lines are reported with their line number and
// skipped.
func lineEvents(in io.Reader, rules events.Rules) eventSource {
	sc := newLineScanner(in)
	line := 0
	return func() (events.Event, bool, error) {
		for sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if text == "" {
				continue
			}
			e, err := events.DecodeJSON([]byte(text))
			if err == nil {
				if e.EventID == "" {
					e.EventID = events.NewEventID()
				}
				err = rules.Validate(&e, time.Now())
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "\nline %d skipped: %v\n", line, err)
				continue
			}
			return e, true, nil
		}
		if err := sc.Err(); err != nil {
			return events.Event{}, false, fmt.Errorf("produce: read line %d: %w", line+1, err)
		}
		return events.Event{}, false, nil
	}
}

func newLineScanner(in io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), events.MaxEventBytes*2)
	return sc
}

// pump sends records at the target rate with many in flight, showing progress.
func pump(ctx context.Context, p *streaming.Producer, next source, f produceFlags) error {
	var lim *rate.Limiter
	if f.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(f.rate), max(1, int(f.rate/100)))
	}
	var sent, acked, failed atomic.Int64
	var firstErr atomic.Value
	bar := newProgress(f.count, &acked, &failed, f.quiet)
	defer bar.stop()
	for f.count == 0 || sent.Load() < f.count {
		if lim != nil {
			if err := lim.Wait(ctx); err != nil {
				break
			}
		} else if ctx.Err() != nil {
			break
		}
		r, ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		sent.Add(1)
		p.PublishAsync(ctx, r, func(err error) {
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
				return
			}
			acked.Add(1)
		})
	}
	if err := p.Flush(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	bar.stop()
	fmt.Fprintf(os.Stderr, "produced %d events (%d failed) to %s\n", acked.Load(), failed.Load(), "Kafka")
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("produce: %d events failed, first: %w", failed.Load(), err)
	}
	return ctx.Err()
}
