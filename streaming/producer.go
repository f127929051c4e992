package streaming

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
)

// Producer writes events to the events topic as Avro in the Confluent wire format,
// keyed by tenant so that one tenant's events stay in order on one partition. The
// client is idempotent (franz-go's default) and waits for all in-sync replicas, so an
// acknowledged event is durable and a retried batch is not duplicated by the broker.
type Producer struct {
	client *kgo.Client
	codec  *events.Codec
	topic  string
}

// ProducerOptions tune a Producer; zero values take franz-go's defaults.
type ProducerOptions struct {
	Linger         time.Duration // wait this long to fill batches (throughput over latency)
	MaxBufferedRec int           // records buffered before Produce blocks
}

// NewProducer connects a producer to brokers.
func NewProducer(brokers []string, topic string, codec *events.Codec, o ProducerOptions) (*Producer, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(4 << 20),
	}
	if o.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(o.Linger))
	}
	if o.MaxBufferedRec > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(o.MaxBufferedRec))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &Producer{client: cl, codec: codec, topic: topic}, nil
}

// Close flushes and closes the producer.
func (p *Producer) Close() { p.client.Close() }

// Record encodes one event as a Kafka record. Its timestamp is the capture time, which
// end-to-end latency is measured from.
func (p *Producer) Record(e *events.Event) (*kgo.Record, error) {
	value, err := p.codec.Encode(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	return &kgo.Record{Key: []byte(e.TenantID), Value: value, Timestamp: time.Now()}, nil
}

// Publish writes events and returns once the broker acknowledged every one of them.
func (p *Producer) Publish(ctx context.Context, evs []events.Event) error {
	recs := make([]*kgo.Record, 0, len(evs))
	for i := range evs {
		r, err := p.Record(&evs[i])
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if err := p.client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka produce to %s: %w", p.topic, err)
	}
	return nil
}

// PublishAsync writes one record without waiting; done is called once it is
// acknowledged or failed. It is what streaming producers (touchpoint produce) use
// to keep many records in flight.
func (p *Producer) PublishAsync(ctx context.Context, r *kgo.Record, done func(error)) {
	p.client.Produce(ctx, r, func(_ *kgo.Record, err error) { done(err) })
}

// Flush waits until every buffered record is acknowledged.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.client.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("kafka flush: %w", err)
	}
	return nil
}
