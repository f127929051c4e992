package config

import (
	"strings"
	"testing"
	"time"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := fromLookup(lookup(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.EventsTopic != "marketing-events" || c.Retention != 90*24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestOverrides(t *testing.T) {
	c, err := fromLookup(lookup(map[string]string{
		"KAFKA_BROKERS":          "a:9092, b:9092,",
		"KAFKA_TOPIC_PARTITIONS": "12",
		"TOUCHPOINT_RETENTION":   "720h",
		"TOUCHPOINT_TENANT_RATE": "10.5",
		"TOUCHPOINT_ADMIN_KEY":   "0123456789abcdef",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.KafkaBrokers) != 2 || c.KafkaBrokers[1] != "b:9092" || c.TopicPartitions != 12 ||
		c.Retention != 720*time.Hour || c.TenantRate != 10.5 {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	_, err := fromLookup(lookup(map[string]string{
		"KAFKA_TOPIC_PARTITIONS": "many",
		"TOUCHPOINT_RETENTION":   "10m",
		"TOUCHPOINT_ADMIN_KEY":   "short",
		"TOUCHPOINT_LOG_LEVEL":   "loud",
	}))
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"KAFKA_TOPIC_PARTITIONS", "TOUCHPOINT_RETENTION", "TOUCHPOINT_ADMIN_KEY", "TOUCHPOINT_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
