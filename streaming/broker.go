package streaming

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is the embedded Kafka-protocol broker of the dev stack (franz-go's kfake),
// listening on a fixed TCP port so any Kafka client (kcat, another language's SDK)
// can use it, and keeping its log on disk so events survive a restart.
type Broker struct {
	cluster *kfake.Cluster
	stop    context.CancelFunc
	done    chan struct{}
}

// StartBroker starts the embedded broker on 127.0.0.1:port with its data in dataDir.
func StartBroker(port int, dataDir string) (*Broker, error) {
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(dataDir),
		kfake.ClusterID("touchpoint-dev"),
	)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka on port %d: %w (is another broker running there?)", port, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{cluster: c, stop: cancel, done: make(chan struct{})}
	go b.enforceRetention(ctx)
	return b, nil
}

// Addrs are the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Close stops the broker and flushes its log to disk.
func (b *Broker) Close() {
	b.stop()
	<-b.done
	b.cluster.Close()
}

// enforceRetention drops segments past each topic's retention.ms; a real broker does
// this on its own, kfake does it when asked.
func (b *Broker) enforceRetention(ctx context.Context) {
	defer close(b.done)
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.cluster.ApplyRetention()
			slog.Debug("embedded kafka: retention applied")
		}
	}
}
