package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/touchpoint/touchpoint/attribution"
	"github.com/touchpoint/touchpoint/store"
)

// Model kinds of the data-driven attribution models.
const (
	KindMarkov  = "markov"
	KindShapley = "shapley"
)

// ModelKinds are the kinds a training run trains, in order.
var ModelKinds = []string{KindMarkov, KindShapley}

// HeldOutPercent is the share of people whose journeys are held out of training to
// evaluate the model on.
const HeldOutPercent = 20

// Training trains the data-driven attribution models and keeps their versions.
type Training struct {
	Journeys store.Journeys
	Models   store.Models
	// Links, when its DB is set, is the persisted identity graph people are resolved
	// with, as in the recompute.
	Links store.Identity
}

// TrainingFor returns the training activities over the same Postgres as a's; nil
// for nil.
func TrainingFor(a *Attribution) *Training {
	if a == nil {
		return nil
	}
	return &Training{Journeys: a.Journeys, Models: store.Models{DB: a.Credits.DB}, Links: a.Links}
}

// TrainModelInput is the training of one kind of model on one tenant's journeys in
// [From, To); TrainingID names the run so that a retried save stores nothing twice.
type TrainModelInput struct {
	Tenant     string
	From, To   time.Time
	Kind       string
	TrainingID string
}

// TrainModelResult is the version a TrainModel stored.
type TrainModelResult struct {
	Version   int64
	Kind      string
	Train     int // journeys trained on
	HeldOut   int // journeys evaluated on
	Converted int // converting journeys of both
	Metrics   store.ModelMetrics
}

// TrainModel builds the training set, trains one kind of model on the journeys of the
// people not held out, evaluates it on the held-out ones and stores it as a new,
// inactive version with its metrics. It heartbeats while it reads and trains.
func (t *Training) TrainModel(ctx context.Context, in TrainModelInput) (TrainModelResult, error) {
	alive := func() { activity.RecordHeartbeat(ctx, nil) }
	res := TrainModelResult{Kind: in.Kind}
	if !slices.Contains(ModelKinds, in.Kind) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown model kind %q", in.Kind), "InvalidModel", nil)
	}
	train, heldOut, err := t.trainingSet(ctx, in.Tenant, in.From, in.To, alive)
	if err != nil {
		return res, err
	}
	res.Train, res.HeldOut = len(train), len(heldOut)
	for _, j := range append(slices.Clip(train), heldOut...) {
		if j.Converted {
			res.Converted++
		}
	}
	alive()
	var m attribution.PathModel
	var params any
	switch in.Kind {
	case KindMarkov:
		mk, err := attribution.TrainMarkov(train)
		if err != nil {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), "NotTrainable", err)
		}
		m, params = mk, mk.Params()
	case KindShapley:
		sh, err := attribution.TrainShapley(train)
		if err != nil {
			return res, temporal.NewNonRetryableApplicationError(err.Error(), "NotTrainable", err)
		}
		m, params = sh, sh.Params()
	}
	alive()
	metrics := attribution.Evaluate(m, heldOut)
	res.Metrics = store.ModelMetrics{AUC: finite(metrics.AUC), LogLoss: finite(metrics.LogLoss), BaseRateLogLoss: finite(metrics.BaseRateLogLoss)}
	blob, err := json.Marshal(params)
	if err != nil {
		return res, err
	}
	res.Version, err = t.Models.Save(ctx, store.ModelVersion{Tenant: in.Tenant, Kind: in.Kind, TrainingID: in.TrainingID,
		From: in.From, To: in.To, Journeys: len(train) + len(heldOut), Metrics: res.Metrics, Model: blob})
	return res, err
}

// finite stores NaN (no held-out journeys of one outcome) as 0: JSON has no NaN, and
// an AUC of 0 never beats an active model.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// PromoteInput asks to promote a stored version if it beats the active one.
type PromoteInput struct {
	Tenant  string
	Version int64
}

// PromoteResult says whether the version was promoted and over what.
type PromoteResult struct {
	Promoted bool
	// Previous is the version that was active before, 0 for none, and PreviousAUC
	// its held-out AUC.
	Previous    int64
	PreviousAUC float64
}

// PromoteIfBetter makes the version active when no version of its kind is active or
// its held-out AUC beats the active one's. Run again after it promoted, it finds the
// version itself active and reports it promoted.
func (t *Training) PromoteIfBetter(ctx context.Context, in PromoteInput) (PromoteResult, error) {
	v, err := t.Models.Get(ctx, in.Tenant, in.Version)
	if err != nil {
		return PromoteResult{}, err
	}
	active, err := t.Models.Active(ctx, in.Tenant, v.Kind)
	switch {
	case errors.Is(err, store.ErrNoModel):
	case err != nil:
		return PromoteResult{}, err
	case active.Version == v.Version:
		return PromoteResult{Promoted: true}, nil
	default:
		if !(v.Metrics.AUC > active.Metrics.AUC) {
			return PromoteResult{Previous: active.Version, PreviousAUC: active.Metrics.AUC}, nil
		}
	}
	if err := t.Models.Promote(ctx, in.Tenant, v.Version); err != nil {
		return PromoteResult{}, err
	}
	return PromoteResult{Promoted: true, Previous: active.Version, PreviousAUC: active.Metrics.AUC}, nil
}

// trainingSet reads tenant's journeys in [from, to): one converting journey per
// conversion in the range (its touches up to the default lookback before it, across
// the person's devices) and one non-converting path per person with touches in the
// range and no conversion. It splits them by a hash of the person into the journeys
// to train on and the held-out ones, so a person's journeys stay on one side and the
// split is the same on every run.
func (t *Training) trainingSet(ctx context.Context, tenant string, from, to time.Time, alive func()) (train, heldOut []attribution.Journey, err error) {
	lookback := attribution.DefaultLookback
	touches, conversions, err := readPeople(ctx, t.Links, t.Journeys, tenant, from.Add(-lookback), from, to, alive)
	if err != nil {
		return nil, nil, fmt.Errorf("training set of %s: %w", tenant, err)
	}
	add := func(person string, j attribution.Journey) {
		if len(j.Touches) == 0 && !j.Converted {
			return
		}
		if heldOutPerson(person) {
			heldOut = append(heldOut, j)
		} else {
			train = append(train, j)
		}
	}
	for i, j := range attribution.Stitch(touches, conversions, lookback) {
		add(conversions[i].Person, j.Journey)
	}
	for _, p := range attribution.NonConverting(touches, conversions, from, to) {
		add(p.Person, p.Journey)
	}
	return train, heldOut, nil
}

func heldOutPerson(person string) bool {
	h := fnv.New32a()
	h.Write([]byte(person))
	return h.Sum32()%100 < HeldOutPercent
}
