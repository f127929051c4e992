package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/store"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestTrainingWorkflowID(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if got, want := workflows.TrainingWorkflowID("acme", from, from.AddDate(0, 0, 7)), "training/acme/20260301T000000Z-20260308T000000Z"; got != want {
		t.Errorf("id %q, want %q", got, want)
	}
}

// TestAttributionModelTraining: each kind is trained, then offered for promotion, in
// order and under one training id; a failed training attempt is retried; the result
// reports the versions, their metrics and which were promoted.
func TestAttributionModelTraining(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	tr := &activities.Training{}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var order []string
	var ids []string
	attempts := 0
	env.OnActivity(tr.TrainModel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TrainModelInput) (activities.TrainModelResult, error) {
			attempts++
			if attempts == 1 {
				return activities.TrainModelResult{}, context.DeadlineExceeded
			}
			order, ids = append(order, "train "+in.Kind), append(ids, in.TrainingID)
			v := map[string]int64{"markov": 7, "shapley": 8}[in.Kind]
			return activities.TrainModelResult{Version: v, Kind: in.Kind, Train: 80, HeldOut: 20,
				Metrics: store.ModelMetrics{AUC: 0.8 + float64(v)/100, LogLoss: 0.4, BaseRateLogLoss: 0.6}}, nil
		})
	env.OnActivity(tr.PromoteIfBetter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PromoteInput) (activities.PromoteResult, error) {
			order = append(order, "promote "+map[int64]string{7: "markov", 8: "shapley"}[in.Version])
			if in.Version == 8 {
				return activities.PromoteResult{Previous: 3, PreviousAUC: 0.95}, nil
			}
			return activities.PromoteResult{Promoted: true}, nil
		})
	env.ExecuteWorkflow(workflows.AttributionModelTraining, workflows.TrainingInput{Tenant: "acme", From: from, To: from.AddDate(0, 0, 7)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.TrainingResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if want := "train markov,promote markov,train shapley,promote shapley"; strings.Join(order, ",") != want {
		t.Errorf("activities %v, want %s", order, want)
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] == "" {
		t.Errorf("training ids %q: want one per run", ids)
	}
	if len(got.Models) != 2 || !got.Models[0].Promoted || got.Models[1].Promoted || got.Models[1].Previous != 3 ||
		got.Models[0].AUC < 0.869 || got.Models[1].HeldOut != 20 {
		t.Errorf("result %+v", got)
	}
}

func TestAttributionModelTrainingRejectsEmptyRange(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(workflows.AttributionModelTraining, workflows.TrainingInput{Tenant: "acme", From: from, To: from})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "from < to") {
		t.Errorf("error %v", err)
	}
}

// TestAttributionModelTrainingSkipsUntrainableKind: a kind whose training fails as
// NotTrainable is reported skipped, not promoted, and the other kind still trains.
func TestAttributionModelTrainingSkipsUntrainableKind(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	tr := &activities.Training{}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env.OnActivity(tr.TrainModel, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.TrainModelInput) (activities.TrainModelResult, error) {
			if in.Kind == "markov" {
				return activities.TrainModelResult{}, temporal.NewNonRetryableApplicationError("no converting path", "NotTrainable", nil)
			}
			return activities.TrainModelResult{Version: 5, Kind: in.Kind}, nil
		})
	var promoted []int64
	env.OnActivity(tr.PromoteIfBetter, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PromoteInput) (activities.PromoteResult, error) {
			promoted = append(promoted, in.Version)
			return activities.PromoteResult{Promoted: true}, nil
		})
	env.ExecuteWorkflow(workflows.AttributionModelTraining, workflows.TrainingInput{Tenant: "acme", From: from, To: from.AddDate(0, 0, 7)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.TrainingResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Models) != 2 || !strings.Contains(got.Models[0].Skipped, "no converting path") || got.Models[0].Promoted ||
		!got.Models[1].Promoted || len(promoted) != 1 || promoted[0] != 5 {
		t.Errorf("result %+v, promoted %v", got, promoted)
	}
}
