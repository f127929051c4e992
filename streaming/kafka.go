// Package streaming is Touchpoint's Kafka hot path: the embedded dev broker, topic
// setup, the producer the API and `touchpoint produce` write with, and the consumer
// that turns events into windowed aggregates.
package streaming

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics names the topics Touchpoint uses and how it creates them.
type Topics struct {
	Events     string
	DLQ        string
	Partitions int32
	Retention  time.Duration
}

// EnsureTopics creates the events and dead-letter topics if they are missing. Existing
// topics are left as they are, so an operator's own settings win.
func EnsureTopics(ctx context.Context, brokers []string, t Topics) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	configs := map[string]*string{
		"retention.ms":   ptr(strconv.FormatInt(t.Retention.Milliseconds(), 10)),
		"cleanup.policy": ptr("delete"),
	}
	for _, name := range []string{t.Events, t.DLQ} {
		resp, err := adm.CreateTopic(ctx, t.Partitions, -1, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("kafka at %v: create topic %s: %w", brokers, name, err)
		}
	}
	return nil
}

// Ping checks that a broker answers, for start-up checks and readiness.
func Ping(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("kafka at %v: %w", brokers, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
