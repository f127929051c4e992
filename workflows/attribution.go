package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/touchpoint/touchpoint/activities"
)

// ProgressQuery is the query that returns an AttributionRecompute's progress.
const ProgressQuery = "progress"

// DefaultChunkDays is how many days of conversions one activity recomputes when the
// input does not say: small enough that a retried chunk redoes little, large enough
// that the lookback's touchpoints are read once for several days.
const DefaultChunkDays = 7

// Search attributes Touchpoint's workflows carry, registered on the server by
// `touchpoint dev` (and internal/temporaltest), so operators can list a tenant's runs.
var (
	TenantAttribute = temporal.NewSearchAttributeKeyKeyword("TouchpointTenant")
	KindAttribute   = temporal.NewSearchAttributeKeyKeyword("TouchpointKind")
)

// AttributionRecomputeInput is a recompute of one tenant's conversions in [From, To).
type AttributionRecomputeInput struct {
	Tenant    string
	From, To  time.Time
	Models    []string      // empty: every rule-based model and every data-driven kind with an active version
	ChunkDays int           // zero: DefaultChunkDays
	Lookback  time.Duration // zero: attribution.DefaultLookback
}

// AttributionProgress is how far a recompute got; the progress query returns it and
// the workflow returns its final value.
type AttributionProgress struct {
	ChunksDone  int `json:"chunks_done"`
	ChunksTotal int `json:"chunks_total"`
	Conversions int `json:"conversions"`
	Credits     int `json:"credits"`
	// Resumed counts the chunks whose activity resumed from a heartbeat after an
	// attempt died part-way.
	Resumed int  `json:"resumed"`
	Done    bool `json:"done"`
	// MarkovVersion and ShapleyVersion are the data-driven model versions credited
	// with, 0 for a kind not credited.
	MarkovVersion  int64 `json:"markov_version,omitempty"`
	ShapleyVersion int64 `json:"shapley_version,omitempty"`
}

// timeID formats a bound of a recompute's range for its workflow id.
const timeID = "20060102T150405Z"

// AttributionWorkflowID is the id of the recompute of tenant's conversions in [from,
// to): the idempotency key that makes a second request for the same range join the
// running recompute rather than start another.
func AttributionWorkflowID(tenant string, from, to time.Time) string {
	return fmt.Sprintf("attribution/%s/%s-%s", tenant, from.UTC().Format(timeID), to.UTC().Format(timeID))
}

// AttributionStartOptions are the options to start in with: its idempotency key as
// id, joining a running recompute of the same range but allowing a new one once it
// closed (the data may have changed since), and the search attributes.
func AttributionStartOptions(in AttributionRecomputeInput) client.StartWorkflowOptions {
	return joiningStartOptions(AttributionWorkflowID(in.Tenant, in.From, in.To), in.Tenant, "attribution")
}

// joiningStartOptions start the workflow id on the task queue, joining the open run
// of it if there is one and starting anew once it closed, with the tenant and kind
// search attributes.
func joiningStartOptions(id, tenant, kind string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    temporal.NewSearchAttributes(TenantAttribute.ValueSet(tenant), KindAttribute.ValueSet(kind)),
	}
}

// chunks splits [from, to) into consecutive ranges of at most days days.
func chunks(from, to time.Time, days int) [][2]time.Time {
	var out [][2]time.Time
	for start := from; start.Before(to); {
		end := start.AddDate(0, 0, days)
		if end.After(to) {
			end = to
		}
		out = append(out, [2]time.Time{start, end})
		start = end
	}
	return out
}

// AttributionRecompute recomputes the credits of a tenant's conversions in a range,
// one chunk of days after another. Each chunk's activity heartbeats the days it has
// written and a retry resumes after them, so a worker crash costs at most the day in
// progress; days are replaced in Postgres, so nothing is ever counted twice. The
// chunks run one at a time to keep one tenant's recompute from taking every worker
// slot and Postgres connection.
func AttributionRecompute(ctx workflow.Context, in AttributionRecomputeInput) (AttributionProgress, error) {
	if err := validateRecompute(in); err != nil {
		return AttributionProgress{}, err
	}
	days := in.ChunkDays
	if days <= 0 {
		days = DefaultChunkDays
	}
	parts := chunks(in.From, in.To, days)
	progress := AttributionProgress{ChunksTotal: len(parts)}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (AttributionProgress, error) { return progress, nil }); err != nil {
		return progress, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		// A dead worker is noticed within the heartbeat timeout, and the retry
		// resumes from the last heartbeat.
		HeartbeatTimeout: 15 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute,
			MaximumAttempts: 20, NonRetryableErrorTypes: []string{"InvalidModel"}},
	})
	var a *activities.Attribution
	// The first chunk picks the active data-driven versions; the others credit with
	// the same ones, even if another version is promoted meanwhile.
	var versions map[string]int64
	for _, p := range parts {
		var res activities.RecomputeChunkResult
		chunk := activities.RecomputeChunkInput{Tenant: in.Tenant, From: p[0], To: p[1], Lookback: in.Lookback, Models: in.Models, Versions: versions}
		if err := workflow.ExecuteActivity(ctx, a.RecomputeChunk, chunk).Get(ctx, &res); err != nil {
			return progress, fmt.Errorf("chunk %s–%s: %w", p[0].Format(time.RFC3339), p[1].Format(time.RFC3339), err)
		}
		if versions == nil {
			versions = res.Versions
			progress.MarkovVersion, progress.ShapleyVersion = versions[activities.KindMarkov], versions[activities.KindShapley]
		}
		progress.ChunksDone++
		progress.Conversions += res.Conversions
		progress.Credits += res.Credits
		if !res.ResumedFrom.IsZero() {
			progress.Resumed++
		}
	}
	progress.Done = true
	return progress, nil
}

// validateRecompute rejects inputs no retry can fix.
func validateRecompute(in AttributionRecomputeInput) error {
	if in.Tenant == "" || !in.From.Before(in.To) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("recompute needs a tenant and from < to, got %q [%s, %s)", in.Tenant, in.From, in.To), "InvalidInput", nil)
	}
	if _, err := activities.AttributionModels(in.Models); err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidModel", err)
	}
	return nil
}
