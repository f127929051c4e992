package deploy_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/touchpoint/touchpoint/config"
)

const testAdminKey = "test-admin-key-0123456789abcdef"

// touchpointServices run the repository's own image.
var touchpointServices = []string{"migrate", "api", "worker", "consumer"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// loadProject loads ../docker-compose.yml with interpolation, using only env
// (never the process environment or a .env file).
func loadProject(t *testing.T, env []string) (*types.Project, error) {
	t.Helper()
	root := repoRoot(t)
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(env),
		cli.WithInterpolation(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return opts.LoadProject(ctx)
}

func project(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadProject(t, []string{"TOUCHPOINT_ADMIN_KEY=" + testAdminKey, "TOUCHPOINT_IDENTITY_SECRET=" + testAdminKey, "TOUCHPOINT_SECRETS_KEY=" + testAdminKey})
	if err != nil {
		t.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %q: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestServicesExist(t *testing.T) {
	p := project(t)
	want := []string{
		"kafka", "schema-registry", "postgres", "redis", "temporal", "temporal-setup",
		"temporal-ui", "migrate", "api", "worker", "consumer",
	}
	for _, name := range want {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("missing service %q (have %v)", name, p.ServiceNames())
		}
	}
	if p.Name != "touchpoint" {
		t.Errorf("project name = %q, want touchpoint", p.Name)
	}
}

func TestPublishedPorts(t *testing.T) {
	p := project(t)
	want := map[string]struct {
		published string
		target    uint32
	}{
		"api":             {"8080", 8080},
		"schema-registry": {"8081", 8081},
		"temporal":        {"7233", 7233},
		"temporal-ui":     {"8233", 8080},
		"kafka":           {"29092", 29092},
	}
	for name, w := range want {
		s := service(t, p, name)
		found := false
		for _, port := range s.Ports {
			if port.Published == w.published && port.Target == w.target {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no port %s:%d in %+v", name, w.published, w.target, s.Ports)
		}
	}
	// Internal services are reached over the compose network only.
	for _, name := range []string{"postgres", "redis", "worker", "consumer", "migrate"} {
		if ports := service(t, p, name).Ports; len(ports) != 0 {
			t.Errorf("%s publishes %+v; it should not", name, ports)
		}
	}
}

func TestTouchpointServicesBuildTheRepository(t *testing.T) {
	p := project(t)
	root := repoRoot(t)
	for _, name := range touchpointServices {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s: no build section", name)
			continue
		}
		if filepath.Clean(s.Build.Context) != root {
			t.Errorf("%s: build context %q, want %q", name, s.Build.Context, root)
		}
		if df := s.Build.Dockerfile; df != "Dockerfile" && df != filepath.Join(root, "Dockerfile") {
			t.Errorf("%s: dockerfile %q, want the repository's Dockerfile", name, df)
		}
		if s.Image != "touchpoint:latest" {
			t.Errorf("%s: image %q, want touchpoint:latest", name, s.Image)
		}
		if want := (types.ShellCommand{name}); !slices.Equal(s.Command, want) {
			t.Errorf("%s: command %q, want %q", name, s.Command, want)
		}
		if len(s.Entrypoint) != 0 {
			t.Errorf("%s: entrypoint %q overrides the image's /touchpoint", name, s.Entrypoint)
		}
	}
	if got := env(service(t, p, "api"), "TOUCHPOINT_HTTP_ADDR"); got != "0.0.0.0:8080" {
		t.Errorf("api TOUCHPOINT_HTTP_ADDR = %q, want 0.0.0.0:8080", got)
	}
}

func TestTouchpointEnvironment(t *testing.T) {
	p := project(t)
	for _, name := range touchpointServices {
		s := service(t, p, name)
		db, err := url.Parse(env(s, "DATABASE_URL"))
		if err != nil || db.Scheme != "postgres" || db.Hostname() != "postgres" || db.Port() != "5432" || db.Path != "/touchpoint" {
			t.Errorf("%s: DATABASE_URL = %q (%v), want postgres://…@postgres:5432/touchpoint", name, env(s, "DATABASE_URL"), err)
		}
		if db != nil && db.Query().Get("sslmode") != "disable" {
			t.Errorf("%s: DATABASE_URL without sslmode=disable", name)
		}
		rd, err := url.Parse(env(s, "REDIS_URL"))
		if err != nil || rd.Scheme != "redis" || rd.Hostname() != "redis" || rd.Port() != "6379" {
			t.Errorf("%s: REDIS_URL = %q, want redis://redis:6379/…", name, env(s, "REDIS_URL"))
		}
		for k, want := range map[string]string{
			"KAFKA_BROKERS":        "kafka:9092",
			"SCHEMA_REGISTRY_URL":  "http://schema-registry:8081",
			"TEMPORAL_ADDRESS":     "temporal:7233",
			"TOUCHPOINT_ADMIN_KEY": testAdminKey,
		} {
			if got := env(s, k); got != want {
				t.Errorf("%s: %s = %q, want %q", name, k, got, want)
			}
		}
	}
}

// TestEnvironmentIsValidConfig feeds each service's environment to config.FromEnv.
func TestEnvironmentIsValidConfig(t *testing.T) {
	p := project(t)
	for _, name := range touchpointServices {
		t.Run(name, func(t *testing.T) {
			for k, v := range service(t, p, name).Environment {
				if v == nil {
					t.Fatalf("%s has no value", k)
				}
				t.Setenv(k, *v)
			}
			if _, err := config.FromEnv(); err != nil {
				t.Errorf("config.FromEnv: %v", err)
			}
		})
	}
}

// TestEnvironmentNamesAreKnown fails when compose sets a variable config.go never reads.
func TestEnvironmentNamesAreKnown(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\b(?:str|num)\("([A-Z][A-Z0-9_]*)"|\blookup\("([A-Z][A-Z0-9_]*)"\)`)
	known := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		known[m[1]+m[2]] = true
	}
	for _, must := range []string{"DATABASE_URL", "KAFKA_BROKERS", "TOUCHPOINT_ADMIN_KEY"} {
		if !known[must] {
			t.Fatalf("parsing config.go found %v, not %s: has its style changed?", keys(known), must)
		}
	}
	p := project(t)
	for _, name := range touchpointServices {
		for k := range service(t, p, name).Environment {
			if !known[k] {
				t.Errorf("%s sets %s, which config/config.go does not read", name, k)
			}
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestDependsOn(t *testing.T) {
	p := project(t)
	want := map[string]map[string]string{
		"migrate": {
			"postgres": types.ServiceConditionHealthy,
		},
		"api": {
			"migrate":         types.ServiceConditionCompletedSuccessfully,
			"kafka":           types.ServiceConditionHealthy,
			"schema-registry": types.ServiceConditionHealthy,
			"redis":           types.ServiceConditionHealthy,
			"temporal-setup":  types.ServiceConditionCompletedSuccessfully,
		},
		"worker": {
			"migrate":        types.ServiceConditionCompletedSuccessfully,
			"redis":          types.ServiceConditionHealthy,
			"temporal-setup": types.ServiceConditionCompletedSuccessfully,
		},
		"consumer": {
			"migrate":         types.ServiceConditionCompletedSuccessfully,
			"kafka":           types.ServiceConditionHealthy,
			"schema-registry": types.ServiceConditionHealthy,
			"redis":           types.ServiceConditionHealthy,
		},
		"schema-registry": {"kafka": types.ServiceConditionHealthy},
		"temporal-setup":  {"temporal": types.ServiceConditionStarted},
		"temporal-ui":     {"temporal": types.ServiceConditionStarted},
	}
	for name, deps := range want {
		s := service(t, p, name)
		for dep, cond := range deps {
			got, ok := s.DependsOn[dep]
			if !ok {
				t.Errorf("%s does not depend on %s", name, dep)
			} else if got.Condition != cond {
				t.Errorf("%s depends on %s with %q, want %q", name, dep, got.Condition, cond)
			}
		}
	}
	// Temporal's database: whichever Postgres service POSTGRES_SEEDS names must be healthy first.
	temporal := service(t, p, "temporal")
	seed := env(temporal, "POSTGRES_SEEDS")
	if _, err := p.GetService(seed); err != nil {
		t.Errorf("temporal POSTGRES_SEEDS=%q is not a service", seed)
	} else if temporal.DependsOn[seed].Condition != types.ServiceConditionHealthy {
		t.Errorf("temporal does not wait for %s to be healthy", seed)
	}
	if env(temporal, "DB") != "postgres12" {
		t.Errorf("temporal DB = %q, want postgres12", env(temporal, "DB"))
	}
}

func TestKafka(t *testing.T) {
	p := project(t)
	k := service(t, p, "kafka")
	hours, err := strconv.Atoi(env(k, "KAFKA_LOG_RETENTION_HOURS"))
	if err != nil || hours != 90*24 {
		t.Errorf("KAFKA_LOG_RETENTION_HOURS = %q, want 2160 (90 days)", env(k, "KAFKA_LOG_RETENTION_HOURS"))
	}
	// Kafka must keep raw events at least as long as Touchpoint accepts late ones.
	if got := time.Duration(hours) * time.Hour; got < config.Defaults().Retention {
		t.Errorf("Kafka retention %v is shorter than Touchpoint's %v", got, config.Defaults().Retention)
	}
	for k2, want := range map[string]string{
		"KAFKA_PROCESS_ROLES":             "broker,controller",
		"KAFKA_NUM_PARTITIONS":            "6",
		"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
	} {
		if got := env(k, k2); got != want {
			t.Errorf("kafka %s = %q, want %q", k2, got, want)
		}
	}
	if adv := env(k, "KAFKA_ADVERTISED_LISTENERS"); !strings.Contains(adv, "://kafka:9092") || !strings.Contains(adv, "://localhost:29092") {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS = %q, want kafka:9092 and localhost:29092", adv)
	}
	if !strings.Contains(env(k, "KAFKA_LISTENERS"), "CONTROLLER://") {
		t.Errorf("KAFKA_LISTENERS has no CONTROLLER listener")
	}
	if len(k.Volumes) == 0 || k.Volumes[0].Type != types.VolumeTypeVolume {
		t.Errorf("kafka has no named volume: %+v", k.Volumes)
	}
	if got := env(service(t, p, "schema-registry"), "SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"); !strings.HasSuffix(got, "kafka:9092") {
		t.Errorf("schema registry bootstrap = %q, want kafka:9092", got)
	}
}

func TestScaleOutAndHealthchecks(t *testing.T) {
	p := project(t)
	c := service(t, p, "consumer")
	if c.Deploy == nil || c.Deploy.Replicas == nil {
		t.Error("consumer has no deploy.replicas")
	} else if *c.Deploy.Replicas != 2 {
		t.Errorf("consumer deploy.replicas = %d, want 2", *c.Deploy.Replicas)
	}
	for _, name := range []string{"kafka", "postgres", "redis", "schema-registry"} {
		h := service(t, p, name).HealthCheck
		if h == nil || h.Disable || len(h.Test) == 0 {
			t.Errorf("%s has no healthcheck", name)
		}
	}
}

func TestTemporalSetupRegistersSearchAttributes(t *testing.T) {
	p := project(t)
	s := service(t, p, "temporal-setup")
	script := strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
	if !strings.Contains(script, "search-attribute create") || !strings.Contains(script, "--type Keyword") ||
		!strings.Contains(script, "temporal:7233") || !strings.Contains(script, "already exists") {
		t.Errorf("temporal-setup does not create Keyword search attributes idempotently:\n%s", script)
	}
	for _, sa := range []string{"TouchpointTenant", "TouchpointPlatform", "TouchpointKind"} {
		if !strings.Contains(script, sa) {
			t.Errorf("temporal-setup does not register %s", sa)
		}
	}
	if env(service(t, p, "temporal-ui"), "TEMPORAL_ADDRESS") != "temporal:7233" {
		t.Errorf("temporal-ui TEMPORAL_ADDRESS is not temporal:7233")
	}
}

func TestAdminKeyIsRequired(t *testing.T) {
	for _, e := range [][]string{nil, {"TOUCHPOINT_ADMIN_KEY="}} {
		_, err := loadProject(t, e)
		if err == nil {
			t.Fatalf("loading with env %q succeeded; want an error about TOUCHPOINT_ADMIN_KEY", e)
		}
		t.Logf("env %q: %v", e, err)
		if !strings.Contains(err.Error(), "TOUCHPOINT_ADMIN_KEY") {
			t.Errorf("error %q does not mention TOUCHPOINT_ADMIN_KEY", err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), "${TOUCHPOINT_ADMIN_KEY:?") {
		t.Error("docker-compose.yml must take TOUCHPOINT_ADMIN_KEY from the user's environment (${TOUCHPOINT_ADMIN_KEY:?…})")
	}
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.EqualFold(f[0], "FROM") {
			from = append(from, f[1])
		}
	}
	if len(from) != 2 || !strings.HasPrefix(from[0], "golang:1.26") || !strings.HasPrefix(from[1], "gcr.io/distroless/static") {
		t.Errorf("FROM stages = %q, want golang:1.26… then gcr.io/distroless/static…", from)
	}
	for _, want := range []string{"./cmd/touchpoint", "CGO_ENABLED=0", "go mod download", `ENTRYPOINT ["/touchpoint"]`, "EXPOSE 8080"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, ".dockerignore")); err != nil {
		t.Error(err)
	}
}
