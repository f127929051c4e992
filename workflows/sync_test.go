package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestSyncIDsAndSchedules(t *testing.T) {
	if got := workflows.SyncWorkflowID("acme", "googleads", "ads"); got != "sync/acme/googleads/ads" {
		t.Errorf("id %q", got)
	}
	in := workflows.SyncInput{Tenant: "acme", Platform: "meta", ConnectionID: "fb"}
	opts := workflows.SyncScheduleOptions(in)
	if opts.Spec.Intervals[0].Every != 30*time.Minute {
		t.Errorf("meta every %v", opts.Spec.Intervals[0].Every)
	}
	in.Platform = "googleads"
	if every := workflows.SyncScheduleOptions(in).Spec.Intervals[0].Every; every != 15*time.Minute {
		t.Errorf("googleads every %v", every)
	}
	sa := workflows.SyncStartOptions(in).TypedSearchAttributes
	if v, _ := sa.GetKeyword(workflows.PlatformAttribute); v != "googleads" {
		t.Errorf("platform attribute %q", v)
	}
	if v, _ := sa.GetKeyword(workflows.KindAttribute); v != "sync" {
		t.Errorf("kind attribute %q", v)
	}
}

// TestBackfillChunksRetriesAndReports: 30 days in chunks of 14 run as three
// activities in order over inclusive ranges; the second fails once and its retry
// resumes; the progress query shows the chunks done midway and the totals at the end.
func TestBackfillChunksRetriesAndReports(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Sync{}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return from.AddDate(0, 0, n) }
	var mu sync.Mutex
	var calls []activities.SyncStreamInput
	env.OnActivity(a.SyncStream, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SyncStreamInput) (activities.SyncStreamResult, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, in)
			rows := 3 * (int(in.To.Sub(in.From).Hours()/24) + 1)
			if in.From.Equal(day(14)) && len(calls) == 2 {
				return activities.SyncStreamResult{}, errors.New("worker lost")
			}
			res := activities.SyncStreamResult{From: in.From, To: in.To, Rows: rows}
			if in.From.Equal(day(14)) {
				res.ResumedFrom = day(20)
			}
			return res, nil
		})
	var midway workflows.BackfillProgress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.ProgressQuery)
		if err == nil {
			err = v.Get(&midway)
		}
		if err != nil {
			t.Errorf("query: %v", err)
		}
	}, 500*time.Millisecond) // during the retry's back-off
	in := workflows.BackfillInput{SyncInput: workflows.SyncInput{Tenant: "acme", Platform: "googleads", ConnectionID: "ads"},
		From: day(0), To: day(29)}
	env.ExecuteWorkflow(workflows.Backfill, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var got workflows.BackfillProgress
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	want := workflows.BackfillProgress{ChunksDone: 3, ChunksTotal: 3, Rows: 90, SyncedTo: day(29), Resumed: 1, Done: true}
	if got != want {
		t.Errorf("progress %+v, want %+v", got, want)
	}
	if midway.ChunksDone != 1 || midway.Done {
		t.Errorf("midway progress %+v", midway)
	}
	if len(calls) != 4 || !calls[0].To.Equal(day(13)) || !calls[3].From.Equal(day(28)) || !calls[3].To.Equal(day(29)) {
		t.Errorf("calls %+v", calls)
	}
}

// TestPlatformSyncReauthorizeIsNotRetried: a refused grant fails the sync at once.
func TestPlatformSyncReauthorizeIsNotRetried(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Sync{}
	n := 0
	env.OnActivity(a.SyncStream, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SyncStreamInput) (activities.SyncStreamResult, error) {
			n++
			if !in.From.IsZero() || !in.To.IsZero() {
				t.Errorf("an incremental sync passes no range: %+v", in)
			}
			return activities.SyncStreamResult{}, temporal.NewNonRetryableApplicationError("revoked", activities.ErrTypeReauthorize, nil)
		})
	env.ExecuteWorkflow(workflows.PlatformSync, workflows.SyncInput{Tenant: "acme", Platform: "googleads", ConnectionID: "ads"})
	var ae *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &ae) || ae.Type() != activities.ErrTypeReauthorize {
		t.Fatalf("error %v", err)
	}
	if n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
}
