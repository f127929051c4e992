package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/streaming"
	"github.com/touchpoint/touchpoint/worker"
)

func runWorker(ctx context.Context, cfg config.Config, _ []string) error {
	pool, err := connectPostgres(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	tc, err := connectTemporal(ctx, cfg)
	if err != nil {
		return err
	}
	defer tc.Close()
	// Deletions suppress subjects in Redis too, and remove any cached key naming them.
	rdb, err := connectRedis(ctx, cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return serveWorker(ctx, cfg, deps{pool: pool, temporal: tc, rdb: rdb})
}

// serveWorker runs the Temporal worker until ctx ends, after making sure the
// recurring schedules exist.
func serveWorker(ctx context.Context, cfg config.Config, d deps) error {
	codec := d.codec
	if codec == nil {
		var err error
		if codec, err = newCodec(ctx, cfg); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	secret, err := identitySecret(cfg)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	key, err := secretsKey(cfg)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	privacy := newPrivacyStores(d, key)
	audit := privacy.audit
	// Segment updates (and campaign events) go to the events topic like any other.
	publisher, closePublisher, err := workerPublisher(ctx, cfg, codec, d, key)
	if err != nil {
		return err
	}
	defer closePublisher()
	w := worker.NewWithOptions(d.temporal, worker.Deps{
		Archive:     &activities.Archive{Store: store.Archive{DB: d.pool}, Aggregates: store.Aggregates{DB: d.pool}, Audit: &audit},
		Retention:   &activities.Retention{Store: store.Retention{DB: d.pool}, Audit: audit},
		Attribution: &activities.Attribution{Journeys: store.Journeys{DB: d.pool}, Credits: store.Attribution{DB: d.pool}, Links: store.Identity{DB: d.pool}},
		Identity: &activities.Identity{Archive: store.Archive{DB: d.pool}, Links: store.Identity{DB: d.pool}, Codec: codec,
			Secret: secret, Match: identity.DefaultMatchConfig(), Keys: privacy.keys},
		Deletion: newDeletion(cfg, d, codec, key, privacy),
		ProfileSync: &activities.ProfileSync{Connections: store.Connections{DB: d.pool, Key: key}, Profiles: store.Profiles{DB: d.pool},
			Privacy: privacy.privacy},
		Sync:     d.fakes.sync(&activities.Sync{Connections: store.Connections{DB: d.pool, Key: key}}),
		Profiles: &activities.Profiles{Store: store.ProfileScores{DB: d.pool}, Publisher: publisher},
		Campaigns: &activities.Campaigns{Aggregates: store.Aggregates{DB: d.pool}, Store: store.Campaigns{DB: d.pool},
			Publisher: publisher, Rules: events.Rules{Retention: cfg.Retention, MaxClockSkew: cfg.MaxClockSkew}},
	}, sdkworker.Options{WorkerStopTimeout: worker.GracefulStop})
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start: %w", err)
	}
	defer w.Stop()
	if err := worker.EnsureSchedules(ctx, d.temporal, cfg.Retention, cfg.WindowRetention); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	slog.Info("worker running", "task_queue", "touchpoint")
	<-ctx.Done()
	return nil
}

// identitySecret is the key of the IP hashes identity matching compares: the
// TOUCHPOINT_IDENTITY_SECRET environment variable, or else one generated once and kept
// in the data dir (as `touchpoint dev` does for the admin key). Set it in production,
// the same on every worker: changing it unlinks every stored IP key.
func identitySecret(cfg config.Config) ([]byte, error) {
	if s := cfg.IdentitySecret; s != "" {
		if len(s) < identity.MinSecretLen {
			return nil, fmt.Errorf("TOUCHPOINT_IDENTITY_SECRET must be at least %d characters", identity.MinSecretLen)
		}
		return []byte(s), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("identity secret: %w", err)
	}
	s, err := persistentSecret(filepath.Join(cfg.DataDir, "identity-secret"), "")
	if err != nil {
		return nil, fmt.Errorf("identity secret: %w\n  set TOUCHPOINT_IDENTITY_SECRET", err)
	}
	return []byte(s), nil
}

// secretsKey is the key connection credentials are encrypted under: derived from the
// TOUCHPOINT_SECRETS_KEY environment variable, or else from one generated once and
// kept in the data dir. Set it in production, the same on the API and every worker.
func secretsKey(cfg config.Config) ([]byte, error) {
	if s := cfg.SecretsKey; s != "" {
		if len(s) < 16 {
			return nil, fmt.Errorf("TOUCHPOINT_SECRETS_KEY must be at least 16 characters")
		}
		return store.SecretsKey(s), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets key: %w\n  set TOUCHPOINT_SECRETS_KEY", err)
	}
	path := filepath.Join(cfg.DataDir, "secrets-key")
	// The API and the worker of `touchpoint dev` may race to create it: the file is
	// created exclusively and whoever loses reads the winner's key.
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		_, werr := f.WriteString(secret + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("secrets key: %w", werr)
		}
		return store.SecretsKey(secret), nil
	}
	for range 50 {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return store.SecretsKey(strings.TrimSpace(string(b))), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("secrets key: cannot read %s\n  set TOUCHPOINT_SECRETS_KEY", path)
}

// newDeletion is the data-subject deletion's activities over this process's stores.
func newDeletion(cfg config.Config, d deps, codec *events.Codec, key []byte, p privacyStores) *activities.Deletion {
	return &activities.Deletion{
		Requests: p.deletions, Privacy: p.privacy, Keys: p.keys, Audit: p.audit,
		Archive: store.Archive{DB: d.pool}, Journeys: store.Journeys{DB: d.pool}, Identity: store.Identity{DB: d.pool},
		Personal: store.PersonalData{DB: d.pool}, Redis: d.rdb, Codec: codec,
		Connections: store.Connections{DB: d.pool, Key: key},
		Erasers:     activities.NewEraserFactory(activities.ErasersConfig{LiveRampDir: cfg.LiveRampDropDir}),
	}
}

// workerPublisher is how activities emit events (campaign lifecycle, segment
// updates): the same topic, producer and sealing as the API, so a worker's events
// are consumed, deduplicated and shredded like any other. Call close when done.
func workerPublisher(ctx context.Context, cfg config.Config, codec *events.Codec, d deps, key []byte) (api.Publisher, func(), error) {
	if err := checkKafka(ctx, cfg); err != nil {
		return nil, nil, err
	}
	p, err := streaming.NewProducer(cfg.KafkaBrokers, cfg.EventsTopic, codec, streaming.ProducerOptions{Linger: time.Millisecond})
	if err != nil {
		return nil, nil, fmt.Errorf("worker: producer: %w", err)
	}
	return api.SealingPublisher{Next: p, Sealer: api.NewSealer(store.SubjectKeys{DB: d.pool, SecretsKey: key})}, p.Close, nil
}
