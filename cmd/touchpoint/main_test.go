package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/touchpoint/touchpoint/events"
	"github.com/touchpoint/touchpoint/store/storetest"
	"github.com/touchpoint/touchpoint/streaming"
)

var binPath string

// TestMain builds the real binary once; the tests run it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "touchpoint-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "touchpoint")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runBin(t *testing.T, env []string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	// A data dir of its own, so no run leaves generated keys in the source tree;
	// env may override it.
	cmd.Env = append(append(os.Environ(), "TOUCHPOINT_DATA_DIR="+t.TempDir()), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func TestMissingDependencyIsOneClearLine(t *testing.T) {
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"api"}, []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/x?sslmode=disable"}, "Postgres is needed (DATABASE_URL)"},
		{[]string{"consumer"}, []string{"REDIS_URL=redis://127.0.0.1:1/0"}, "Redis is needed (REDIS_URL)"},
		{[]string{"consumer"}, []string{"KAFKA_BROKERS=127.0.0.1:1"}, "Kafka is needed (KAFKA_BROKERS)"},
		{[]string{"worker"}, []string{"TEMPORAL_ADDRESS=127.0.0.1:1"}, "Temporal is needed (TEMPORAL_ADDRESS)"},
		{[]string{"api"}, []string{"KAFKA_TOPIC_PARTITIONS=zero"}, "KAFKA_TOPIC_PARTITIONS"},
		{[]string{"nonsense"}, nil, `unknown command "nonsense"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " ")+" "+strings.Join(c.env, " "), func(t *testing.T) {
			env := append([]string{"DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}, c.env...)
			_, stderr, err := runBin(t, env, "", c.args...)
			if err == nil {
				t.Fatal("want a non-zero exit")
			}
			if !strings.Contains(stderr, c.want) {
				t.Fatalf("stderr does not say %q:\n%s", c.want, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Fatalf("stack trace on stderr:\n%s", stderr)
			}
		})
	}
}

func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := streaming.StartBroker(0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

func readTopic(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", len(out), n, topic)
		}
		out = append(out, f.Records()...)
	}
	return out
}

func TestProduceGeneratedEventsAreReadableByKcat(t *testing.T) {
	brokers := startBroker(t)
	_, stderr, err := runBin(t, []string{"KAFKA_BROKERS=" + brokers[0]}, "", "produce", "-generate", "-count", "5000", "-tenants", "2", "-quiet")
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "produced 5000 events (0 failed)") {
		t.Fatalf("summary missing:\n%s", stderr)
	}
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is needed (apt-get install kcat); make tools installs it")
	}
	out, err := exec.Command(kcat, "-C", "-b", brokers[0], "-t", "marketing-events", "-e", "-q", "-f", "%k\n").Output()
	if err != nil {
		t.Fatalf("kcat: %v", err)
	}
	keys := map[string]int{}
	for _, k := range strings.Fields(string(out)) {
		keys[k]++
	}
	if keys["tenant-01"]+keys["tenant-02"] != 5000 || len(keys) != 2 {
		t.Fatalf("kcat saw keys %v, want 5000 records keyed by two tenants", keys)
	}
}

func TestProduceFromJSONLines(t *testing.T) {
	brokers := startBroker(t)
	now := time.Now().UTC()
	var lines []string
	for _, typ := range []events.Type{events.CampaignLaunch, events.JourneyStart} {
		b, _ := jsonOf(events.Example(typ, "acme", now))
		lines = append(lines, b)
	}
	lines = append(lines[:1], append([]string{`{"event_type":"campaign_launch","tenant_id":"acme"}`}, lines[1:]...)...)
	// JSON lines are sealed like the API's events, with keys in Postgres.
	env := []string{"KAFKA_BROKERS=" + brokers[0], "DATABASE_URL=" + storetest.DatabaseURL(t), "TOUCHPOINT_SECRETS_KEY=produce-test-secrets-key"}
	_, stderr, err := runBin(t, env, strings.Join(lines, "\n")+"\n\n", "produce", "-quiet")
	if err != nil {
		t.Fatalf("produce: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "line 2 skipped") || !strings.Contains(stderr, "produced 2 events") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	recs := readTopic(t, brokers, "marketing-events", 2)
	for _, r := range recs {
		if string(r.Key) != "acme" || r.Value[0] != 0 {
			t.Fatalf("record key %q first byte %d: want tenant key and Avro wire format", r.Key, r.Value[0])
		}
		if bytes.Contains(r.Value, []byte("cust-")) {
			t.Fatalf("a produced record holds a customer id in clear: %q", r.Value)
		}
	}

	_, stderr, err = runBin(t, []string{"KAFKA_BROKERS=" + brokers[0]}, "garbage\n{\"x\":1}\n", "produce", "-raw", "-quiet")
	if err != nil || !strings.Contains(stderr, "produced 2 events") {
		t.Fatalf("raw produce: %v\n%s", err, stderr)
	}
}

func TestExamplePrintsEveryType(t *testing.T) {
	out, stderr, err := runBin(t, nil, "", "example")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(events.AllTypes) {
		t.Fatalf("%d lines, want %d", len(lines), len(events.AllTypes))
	}
	for _, l := range lines {
		e, err := events.DecodeJSON([]byte(l))
		if err == nil {
			err = events.DefaultRules().Validate(&e, time.Now())
		}
		if err != nil {
			t.Fatalf("example is not valid: %v\n%s", err, l)
		}
	}
	if _, _, err := runBin(t, nil, "", "example", "nope"); err == nil {
		t.Fatal("unknown type accepted")
	}
}

// TestBenchSmokeIsExact runs `touchpoint bench` briefly, as BENCHMARKS.md does at
// full rate: the pipeline must deliver exactly the generator's totals through the
// API (which also checks the bench's keys may read what it measures).
func TestBenchSmokeIsExact(t *testing.T) {
	stdout, stderr, err := runBin(t, nil, "", "bench", "-rate", "2000", "-duration", "3s", "-json")
	if err != nil {
		t.Fatalf("bench: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stdout, `"exact":true`) {
		t.Fatalf("bench not exact:\n%s", stdout)
	}
}
