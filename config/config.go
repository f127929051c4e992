// Package config reads Touchpoint's settings from environment variables.
// Every setting has a default that works with the local stack (`touchpoint dev`),
// so a fresh checkout runs without any configuration.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole runtime configuration of every subcommand.
type Config struct {
	HTTPAddr          string        // TOUCHPOINT_HTTP_ADDR
	MetricsAddr       string        // TOUCHPOINT_METRICS_ADDR, /metrics and /healthz of the consumer and worker
	ConsumerGroup     string        // KAFKA_CONSUMER_GROUP
	SessionTimeout    time.Duration // KAFKA_SESSION_TIMEOUT, how soon a dead consumer's partitions move
	InstanceID        string        // KAFKA_INSTANCE_ID, static group membership (e.g. the pod name)
	DedupWindow       time.Duration // TOUCHPOINT_DEDUP_WINDOW, how long a re-sent event is recognised
	WindowRetention   time.Duration // TOUCHPOINT_WINDOW_RETENTION, how long 5-second windows are kept
	DatabaseURL       string        // DATABASE_URL
	RedisURL          string        // REDIS_URL
	KafkaBrokers      []string      // KAFKA_BROKERS (comma separated)
	EventsTopic       string        // KAFKA_TOPIC
	DLQTopic          string        // KAFKA_DLQ_TOPIC
	TopicPartitions   int32         // KAFKA_TOPIC_PARTITIONS, used when Touchpoint creates the topics
	SchemaRegistryURL string        // SCHEMA_REGISTRY_URL; empty means the in-process registry
	TemporalAddress   string        // TEMPORAL_ADDRESS
	TemporalNamespace string        // TEMPORAL_NAMESPACE
	AdminKey          string        // TOUCHPOINT_ADMIN_KEY
	IdentitySecret    string        // TOUCHPOINT_IDENTITY_SECRET, key of the IP hashes identity matching compares
	SecretsKey        string        // TOUCHPOINT_SECRETS_KEY, encrypts platform credentials at rest
	DataDir           string        // TOUCHPOINT_DATA_DIR, state of the embedded dev services
	LiveRampDropDir   string        // TOUCHPOINT_LIVERAMP_DROP_DIR, mounted SFTP landing zone for LiveRamp deletion files
	MaxBodyBytes      int64         // TOUCHPOINT_MAX_BODY_BYTES
	MaxBatchEvents    int           // TOUCHPOINT_MAX_BATCH_EVENTS
	TenantRate        float64       // TOUCHPOINT_TENANT_RATE, events per second per tenant
	TenantBurst       int           // TOUCHPOINT_TENANT_BURST
	Retention         time.Duration // TOUCHPOINT_RETENTION, how old an event may be
	MaxClockSkew      time.Duration // TOUCHPOINT_MAX_CLOCK_SKEW, how far in the future an event may be
	LogLevel          string        // TOUCHPOINT_LOG_LEVEL
	// The CLI's API clients (touchpoint backfill, touchpoint schedules) read these; the
	// services never do.
	APIURL string // TOUCHPOINT_API_URL, the API those commands call; default: http:// + TOUCHPOINT_HTTP_ADDR
	APIKey string // TOUCHPOINT_API_KEY, the tenant API key they send
}

// Defaults are the values for the local stack.
func Defaults() Config {
	return Config{
		HTTPAddr:          "127.0.0.1:8080",
		MetricsAddr:       "127.0.0.1:9464",
		ConsumerGroup:     "touchpoint-aggregator",
		SessionTimeout:    10 * time.Second,
		DedupWindow:       2 * time.Minute,
		WindowRetention:   7 * 24 * time.Hour,
		DatabaseURL:       "postgres://postgres@127.0.0.1:5432/touchpoint?sslmode=disable",
		RedisURL:          "redis://127.0.0.1:6379/0",
		KafkaBrokers:      []string{"127.0.0.1:9092"},
		EventsTopic:       "marketing-events",
		DLQTopic:          "marketing-events-dlq",
		TopicPartitions:   6,
		TemporalAddress:   "127.0.0.1:7233",
		TemporalNamespace: "default",
		DataDir:           ".data",
		MaxBodyBytes:      5 << 20,
		MaxBatchEvents:    10000,
		TenantRate:        50000,
		TenantBurst:       100000,
		Retention:         90 * 24 * time.Hour,
		MaxClockSkew:      5 * time.Minute,
		LogLevel:          "info",
		APIURL:            "http://127.0.0.1:8080",
	}
}

// FromEnv returns Defaults overridden by the environment, validated.
func FromEnv() (Config, error) { return fromLookup(os.LookupEnv) }

func fromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := Defaults()
	var errs []error
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	num := func(name string, set func(string) error) {
		if v, ok := lookup(name); ok && v != "" {
			if err := set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, v, err))
			}
		}
	}
	str("TOUCHPOINT_HTTP_ADDR", &c.HTTPAddr)
	str("TOUCHPOINT_METRICS_ADDR", &c.MetricsAddr)
	// The CLI calls the API this environment would serve unless told otherwise, so a
	// moved TOUCHPOINT_HTTP_ADDR moves the default URL with it.
	c.APIURL = apiURLFor(c.HTTPAddr)
	str("TOUCHPOINT_API_URL", &c.APIURL)
	str("TOUCHPOINT_API_KEY", &c.APIKey)
	str("KAFKA_CONSUMER_GROUP", &c.ConsumerGroup)
	str("KAFKA_INSTANCE_ID", &c.InstanceID)
	num("KAFKA_SESSION_TIMEOUT", func(v string) (err error) { c.SessionTimeout, err = time.ParseDuration(v); return })
	str("DATABASE_URL", &c.DatabaseURL)
	str("REDIS_URL", &c.RedisURL)
	if v, ok := lookup("KAFKA_BROKERS"); ok && v != "" {
		c.KafkaBrokers = splitList(v)
	}
	str("KAFKA_TOPIC", &c.EventsTopic)
	str("KAFKA_DLQ_TOPIC", &c.DLQTopic)
	num("KAFKA_TOPIC_PARTITIONS", func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		c.TopicPartitions = int32(n)
		return err
	})
	str("SCHEMA_REGISTRY_URL", &c.SchemaRegistryURL)
	str("TEMPORAL_ADDRESS", &c.TemporalAddress)
	str("TEMPORAL_NAMESPACE", &c.TemporalNamespace)
	str("TOUCHPOINT_ADMIN_KEY", &c.AdminKey)
	str("TOUCHPOINT_IDENTITY_SECRET", &c.IdentitySecret)
	str("TOUCHPOINT_SECRETS_KEY", &c.SecretsKey)
	str("TOUCHPOINT_DATA_DIR", &c.DataDir)
	str("TOUCHPOINT_LIVERAMP_DROP_DIR", &c.LiveRampDropDir)
	str("TOUCHPOINT_LOG_LEVEL", &c.LogLevel)
	num("TOUCHPOINT_MAX_BODY_BYTES", func(v string) (err error) { c.MaxBodyBytes, err = strconv.ParseInt(v, 10, 64); return })
	num("TOUCHPOINT_MAX_BATCH_EVENTS", func(v string) (err error) { c.MaxBatchEvents, err = strconv.Atoi(v); return })
	num("TOUCHPOINT_TENANT_RATE", func(v string) (err error) { c.TenantRate, err = strconv.ParseFloat(v, 64); return })
	num("TOUCHPOINT_TENANT_BURST", func(v string) (err error) { c.TenantBurst, err = strconv.Atoi(v); return })
	num("TOUCHPOINT_RETENTION", func(v string) (err error) { c.Retention, err = time.ParseDuration(v); return })
	num("TOUCHPOINT_WINDOW_RETENTION", func(v string) (err error) { c.WindowRetention, err = time.ParseDuration(v); return })
	num("TOUCHPOINT_DEDUP_WINDOW", func(v string) (err error) { c.DedupWindow, err = time.ParseDuration(v); return })
	num("TOUCHPOINT_MAX_CLOCK_SKEW", func(v string) (err error) { c.MaxClockSkew, err = time.ParseDuration(v); return })
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// Validate checks values that no dependency would reject on its own.
func (c Config) Validate() error {
	var errs []error
	if len(c.KafkaBrokers) == 0 {
		errs = append(errs, errors.New("KAFKA_BROKERS is empty"))
	}
	if c.TopicPartitions < 1 {
		errs = append(errs, errors.New("KAFKA_TOPIC_PARTITIONS must be at least 1"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("TOUCHPOINT_MAX_BODY_BYTES must be at least 1024"))
	}
	if c.MaxBatchEvents < 1 {
		errs = append(errs, errors.New("TOUCHPOINT_MAX_BATCH_EVENTS must be at least 1"))
	}
	if c.TenantRate <= 0 || c.TenantBurst < 1 {
		errs = append(errs, errors.New("TOUCHPOINT_TENANT_RATE and TOUCHPOINT_TENANT_BURST must be positive"))
	}
	if c.Retention < time.Hour {
		errs = append(errs, errors.New("TOUCHPOINT_RETENTION must be at least 1h"))
	}
	if c.IdentitySecret != "" && len(c.IdentitySecret) < 16 {
		errs = append(errs, errors.New("TOUCHPOINT_IDENTITY_SECRET must be at least 16 characters"))
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		errs = append(errs, errors.New("TOUCHPOINT_ADMIN_KEY must be at least 16 characters"))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("TOUCHPOINT_LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	return errors.Join(errs...)
}

// apiURLFor is the URL a client on this host reaches a listen address at: an address
// on every interface (":8080", "0.0.0.0:8080") is reached on the loopback.
func apiURLFor(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
