package activities

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint/attribution"
	"github.com/touchpoint/touchpoint/identity"
	"github.com/touchpoint/touchpoint/store"
)

// Attribution recomputes the attribution models' credits from the stored touchpoints
// and conversions.
type Attribution struct {
	Journeys store.Journeys
	Credits  store.Attribution
	// Links, when its DB is set, is the persisted identity graph (deterministic and
	// probabilistic links) the recompute starts from; the chunk's own events add their
	// deterministic links on top.
	Links store.Identity
}

// ConversionTenants returns the tenants with conversions in [from, to), for a sweep
// to recompute.
func (a *Attribution) ConversionTenants(ctx context.Context, from, to time.Time) ([]string, error) {
	return a.Journeys.ConversionTenants(ctx, from, to)
}

// RecomputeChunkInput is one chunk of a recompute: the conversions of one tenant in
// [From, To), credited under Models (empty: every rule-based model and every
// data-driven kind with an active version) to the touches at most Lookback (zero:
// attribution.DefaultLookback) before them.
type RecomputeChunkInput struct {
	Tenant   string
	From, To time.Time
	Lookback time.Duration
	Models   []string
	// Versions, when set, are the data-driven versions to credit with, by kind (an
	// earlier chunk's RecomputeChunkResult.Versions); unset, the active ones.
	Versions map[string]int64
}

// RecomputeChunkResult says what a chunk did, over all its attempts.
type RecomputeChunkResult struct {
	Days        int
	Conversions int
	Credits     int
	// ResumedFrom is the day the last attempt resumed at after an earlier one
	// died, zero when it started from the beginning.
	ResumedFrom time.Time
	// Versions are the data-driven model versions credited with, by kind.
	Versions map[string]int64
}

// chunkProgress is the heartbeat of RecomputeChunk: the days before Next are written.
type chunkProgress struct {
	Next   time.Time
	Result RecomputeChunkResult
}

// ModelNames are the model names a recompute accepts: the rule-based models' and the
// data-driven kinds (credited with a trained version).
func ModelNames() []string {
	var names []string
	for _, m := range attribution.Heuristics() {
		names = append(names, m.Name)
	}
	return append(names, ModelKinds...)
}

// AttributionModels returns the rule-based models with the given names, in the
// order of attribution.Heuristics; no names means all of them. The names of the
// data-driven kinds are accepted and left out: RecomputeChunk loads those.
func AttributionModels(names []string) ([]attribution.NamedModel, error) {
	all := attribution.Heuristics()
	if len(names) == 0 {
		return all, nil
	}
	var out []attribution.NamedModel
	for _, m := range all {
		if slices.Contains(names, m.Name) {
			out = append(out, m)
		}
	}
	known := ModelNames()
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown attribution model %q: one of %v", n, known)
		}
	}
	return out, nil
}

// dataDrivenModels loads the data-driven models the chunk credits with: the versions
// given by kind, or else the active version of each kind asked for (every kind with
// an active version when no model is named). A kind asked for by name without an
// active version is a non-retryable "NoActiveModel" error.
func (a *Attribution) dataDrivenModels(ctx context.Context, in RecomputeChunkInput) ([]attribution.NamedModel, map[string]int64, error) {
	models := store.Models{DB: a.Credits.DB}
	versions := make(map[string]int64)
	var out []attribution.NamedModel
	for _, kind := range ModelKinds {
		var v store.ModelVersion
		var err error
		if in.Versions != nil {
			version, ok := in.Versions[kind]
			if !ok {
				continue
			}
			v, err = models.Get(ctx, in.Tenant, version)
		} else {
			if len(in.Models) > 0 && !slices.Contains(in.Models, kind) {
				continue
			}
			v, err = models.Active(ctx, in.Tenant, kind)
			if errors.Is(err, store.ErrNoModel) {
				if len(in.Models) == 0 {
					continue
				}
				msg := fmt.Sprintf("no active %s model for tenant %s: train one first", kind, in.Tenant)
				return nil, nil, temporal.NewNonRetryableApplicationError(msg, "NoActiveModel", err)
			}
		}
		if errors.Is(err, store.ErrNoModel) {
			msg := fmt.Sprintf("%s model version %d of tenant %s not found", kind, in.Versions[kind], in.Tenant)
			return nil, nil, temporal.NewNonRetryableApplicationError(msg, "NoActiveModel", err)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("recompute %s: %w", in.Tenant, err)
		}
		m, err := rebuildModel(v)
		if err != nil {
			return nil, nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidModel", err)
		}
		out = append(out, m)
		versions[kind] = v.Version
	}
	return out, versions, nil
}

// rebuildModel rebuilds a stored data-driven version from its parameters, named by
// its kind.
func rebuildModel(v store.ModelVersion) (attribution.NamedModel, error) {
	switch v.Kind {
	case KindMarkov:
		var p attribution.MarkovParams
		if err := json.Unmarshal(v.Model, &p); err != nil {
			return attribution.NamedModel{}, fmt.Errorf("markov model version %d: %w", v.Version, err)
		}
		m, err := attribution.MarkovFromParams(p)
		if err != nil {
			return attribution.NamedModel{}, fmt.Errorf("markov model version %d: %w", v.Version, err)
		}
		return attribution.NamedModel{Name: KindMarkov, Attribute: m.Attribute}, nil
	case KindShapley:
		var p attribution.ShapleyParams
		if err := json.Unmarshal(v.Model, &p); err != nil {
			return attribution.NamedModel{}, fmt.Errorf("shapley model version %d: %w", v.Version, err)
		}
		s, err := attribution.ShapleyFromParams(p)
		if err != nil {
			return attribution.NamedModel{}, fmt.Errorf("shapley model version %d: %w", v.Version, err)
		}
		return attribution.NamedModel{Name: KindShapley, Attribute: s.Attribute}, nil
	}
	return attribution.NamedModel{}, fmt.Errorf("model version %d: unknown kind %q", v.Version, v.Kind)
}

// RecomputeChunk replaces the credits of the chunk's conversions, one day at a time.
// Each day is written in one transaction and then recorded in a heartbeat, so an
// attempt that follows a worker crash resumes at the first day not written; a day
// written twice is replaced, never duplicated.
//
// People are resolved from the persisted identity graph (deterministic and
// probabilistic links, when Links is set) plus the deterministic links among the
// identifiers seen together in the chunk's events, the lookback included. Without an
// identity update in between, a resumed attempt credits exactly as an uninterrupted one.
func (a *Attribution) RecomputeChunk(ctx context.Context, in RecomputeChunkInput) (RecomputeChunkResult, error) {
	models, err := AttributionModels(in.Models)
	if err != nil {
		return RecomputeChunkResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidModel", err)
	}
	if in.Lookback <= 0 {
		in.Lookback = attribution.DefaultLookback
	}
	progress := chunkProgress{Next: in.From}
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err != nil {
			return RecomputeChunkResult{}, fmt.Errorf("recompute %s: read heartbeat: %w", in.Tenant, err)
		}
		progress.Result.ResumedFrom = progress.Next
		// A resumed attempt credits with the versions the first one chose.
		if progress.Result.Versions != nil {
			in.Versions = progress.Result.Versions
		}
	}
	if !progress.Next.Before(in.To) {
		return progress.Result, nil
	}
	dataDriven, versions, err := a.dataDrivenModels(ctx, in)
	if err != nil {
		return progress.Result, err
	}
	models = append(models, dataDriven...)
	progress.Result.Versions = versions
	journeys, err := a.stitch(ctx, in, func() { activity.RecordHeartbeat(ctx, progress) })
	if err != nil {
		return progress.Result, err
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	for day := progress.Next; day.Before(in.To); day = progress.Next {
		end := minTime(day.Add(24*time.Hour), in.To)
		n, credits := creditsOf(journeys, day, end, models, in.Lookback)
		if err := a.Credits.ReplaceCredits(ctx, in.Tenant, day, end, names, credits); err != nil {
			return progress.Result, fmt.Errorf("recompute %s: %w", in.Tenant, err)
		}
		progress.Next = end
		progress.Result.Days++
		progress.Result.Conversions += n
		progress.Result.Credits += len(credits)
		activity.RecordHeartbeat(ctx, progress)
	}
	return progress.Result, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// aliveEvery is how many rows stitch reads between two calls of its alive callback.
const aliveEvery = 50_000

// stitch reads the chunk's conversions and the touchpoints that may lead to them,
// resolves people and returns the conversions' journeys ordered by conversion time.
// Reading a large chunk takes longer than the heartbeat timeout, so it calls alive
// every aliveEvery rows: without that, the server would time the attempt out and
// start it again from scratch, forever.
func (a *Attribution) stitch(ctx context.Context, in RecomputeChunkInput, alive func()) ([]attribution.StitchedJourney, error) {
	touches, conversions, err := readPeople(ctx, a.Links, a.Journeys, in.Tenant, in.From.Add(-in.Lookback), in.From, in.To, alive)
	if err != nil {
		return nil, fmt.Errorf("recompute %s: %w", in.Tenant, err)
	}
	return attribution.Stitch(touches, conversions, in.Lookback), nil
}

// readPeople reads the tenant's touchpoints in [touchFrom, to) and conversions in
// [from, to), each conversion once, resolves the person of each through the stored
// identity graph (when links is set) extended with what the events show, drops the
// events that name no one and orders the conversions by time. It calls alive every
// aliveEvery rows of each kind and once at the end.
func readPeople(ctx context.Context, links store.Identity, journeys store.Journeys, tenant string, touchFrom, from, to time.Time, alive func()) ([]attribution.PersonTouch, []attribution.PersonConversion, error) {
	graph := identity.NewGraph(identity.Config{})
	if links.DB != nil {
		stored, err := links.Links(ctx, tenant)
		if err != nil {
			return nil, nil, err
		}
		if graph, err = identity.Restore(identity.Config{}, toIdentityLinks(stored)); err != nil {
			return nil, nil, err
		}
	}
	var touchIDs [][]string
	var touches []attribution.PersonTouch
	err := journeys.Touchpoints(ctx, tenant, touchFrom, to, func(tp store.Touchpoint) error {
		ids := identifiers(tp.Who)
		graph.Observe(identity.Observation{IDs: ids, At: tp.OccurredAt})
		touchIDs = append(touchIDs, ids)
		if len(touchIDs)%aliveEvery == 0 {
			alive()
		}
		touches = append(touches, attribution.PersonTouch{Touch: attribution.Touch{Channel: tp.Channel, CampaignID: tp.CampaignID, At: tp.OccurredAt}})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var convIDs [][]string
	var conversions []attribution.PersonConversion
	dup := make(map[string]bool)
	err = journeys.Conversions(ctx, tenant, from, to, func(c store.Conversion) error {
		ids := identifiers(c.Who)
		graph.Observe(identity.Observation{IDs: ids, At: c.OccurredAt})
		// A conversion replayed into the journey rows counts once.
		if dup[c.EventID] {
			return nil
		}
		dup[c.EventID] = true
		convIDs = append(convIDs, ids)
		if len(convIDs)%aliveEvery == 0 {
			alive()
		}
		conversions = append(conversions, attribution.PersonConversion{EventID: c.EventID, ValueMicros: c.ValueMicros, Currency: c.Currency, At: c.OccurredAt})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	alive()
	// People are named only once the graph has seen every event.
	touches = resolve(graph, touches, touchIDs, func(t *attribution.PersonTouch) *string { return &t.Person })
	conversions = resolve(graph, conversions, convIDs, func(c *attribution.PersonConversion) *string { return &c.Person })
	slices.SortFunc(conversions, func(x, y attribution.PersonConversion) int {
		return cmp.Or(x.At.Compare(y.At), cmp.Compare(x.EventID, y.EventID))
	})
	return touches, conversions, nil
}

// resolve names the person of every item and drops the items that name no one: an
// event without any identifier cannot be tied to a journey.
func resolve[T any](g *identity.Graph, items []T, ids [][]string, person func(*T) *string) []T {
	kept := items[:0]
	for i := range items {
		if len(ids[i]) == 0 {
			continue
		}
		*person(&items[i]) = g.Person(ids[i][0])
		kept = append(kept, items[i])
	}
	return kept
}

// identifiers are the namespaced ids of who, as the identity graph links them.
func identifiers(w store.Who) []string {
	var ids []string
	for _, id := range [...]string{
		identity.ID(identity.KindUser, w.UserID), identity.ID(identity.KindCustomer, w.CustomerID),
		identity.ID(identity.KindDevice, w.DeviceID), identity.ID(identity.KindAnonymous, w.AnonymousID),
	} {
		if id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// creditsOf runs the models over the journeys converting in [from, to) and returns
// how many there were and their credits.
func creditsOf(journeys []attribution.StitchedJourney, from, to time.Time, models []attribution.NamedModel, lookback time.Duration) (int, []store.Credit) {
	lo, _ := slices.BinarySearchFunc(journeys, from, func(j attribution.StitchedJourney, t time.Time) int { return j.ConvertedAt.Compare(t) })
	hi, _ := slices.BinarySearchFunc(journeys, to, func(j attribution.StitchedJourney, t time.Time) int { return j.ConvertedAt.Compare(t) })
	opts := attribution.Options{Lookback: lookback}
	var credits []store.Credit
	for _, j := range journeys[lo:hi] {
		for _, m := range models {
			for _, c := range m.Attribute(j.Journey, opts) {
				credits = append(credits, store.Credit{Model: m.Name, ConversionEventID: j.EventID, ConvertedAt: j.ConvertedAt,
					Channel: c.Channel, CampaignID: c.CampaignID, Currency: j.Currency, ValueMicros: c.ValueMicros, Share: c.Share})
			}
		}
	}
	return hi - lo, credits
}
