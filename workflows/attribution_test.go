package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/touchpoint/touchpoint/activities"
	"github.com/touchpoint/touchpoint/workflows"
)

func TestAttributionWorkflowID(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	got := workflows.AttributionWorkflowID("acme", from, from.AddDate(0, 0, 7))
	if want := "attribution/acme/20260228T230000Z-20260307T230000Z"; got != want {
		t.Errorf("id %q, want %q", got, want)
	}
}

// TestAttributionRecomputeChunksRetriesAndReports: ten days in chunks of four run as
// three activities in order; the second fails once and its retry resumes; the
// progress query shows the chunks done while the retry waits and the totals at the end.
func TestAttributionRecomputeChunksRetriesAndReports(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Attribution{}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return from.AddDate(0, 0, n) }

	var mu sync.Mutex
	var calls []activities.RecomputeChunkInput
	env.OnActivity(a.RecomputeChunk, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecomputeChunkInput) (activities.RecomputeChunkResult, error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, in)
			days := int(in.To.Sub(in.From) / (24 * time.Hour))
			if in.From.Equal(day(4)) {
				if len(calls) == 2 {
					return activities.RecomputeChunkResult{}, errors.New("worker lost")
				}
				return activities.RecomputeChunkResult{Days: days, Conversions: 10 * days, Credits: 50 * days, ResumedFrom: day(6)}, nil
			}
			return activities.RecomputeChunkResult{Days: days, Conversions: 10 * days, Credits: 50 * days}, nil
		})
	var midway workflows.AttributionProgress
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(workflows.ProgressQuery)
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		if err := v.Get(&midway); err != nil {
			t.Errorf("query result: %v", err)
		}
	}, 500*time.Millisecond) // while the failed chunk waits its 1 s retry interval

	env.ExecuteWorkflow(workflows.AttributionRecompute, workflows.AttributionRecomputeInput{
		Tenant: "acme", From: from, To: day(10), ChunkDays: 4, Models: []string{"linear"}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var got workflows.AttributionProgress
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	want := workflows.AttributionProgress{ChunksDone: 3, ChunksTotal: 3, Conversions: 100, Credits: 500, Resumed: 1, Done: true}
	if got != want {
		t.Errorf("result %+v, want %+v", got, want)
	}
	if want := (workflows.AttributionProgress{ChunksDone: 1, ChunksTotal: 3, Conversions: 40, Credits: 200}); midway != want {
		t.Errorf("progress while retrying %+v, want %+v", midway, want)
	}
	var ranges [][2]time.Time
	for _, c := range calls {
		if c.Tenant != "acme" || !slices.Equal(c.Models, []string{"linear"}) {
			t.Errorf("chunk input %+v", c)
		}
		ranges = append(ranges, [2]time.Time{c.From, c.To})
	}
	wantRanges := [][2]time.Time{{day(0), day(4)}, {day(4), day(8)}, {day(4), day(8)}, {day(8), day(10)}}
	if !slices.Equal(ranges, wantRanges) {
		t.Errorf("chunks %v, want %v", ranges, wantRanges)
	}
}

func TestAttributionRecomputeRejectsBadInput(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for name, in := range map[string]workflows.AttributionRecomputeInput{
		"unknown model": {Tenant: "acme", From: from, To: from.AddDate(0, 0, 1), Models: []string{"magic"}},
		"empty range":   {Tenant: "acme", From: from, To: from},
		"no tenant":     {From: from, To: from.AddDate(0, 0, 1)},
	} {
		t.Run(name, func(t *testing.T) {
			var s testsuite.WorkflowTestSuite
			env := s.NewTestWorkflowEnvironment()
			a := &activities.Attribution{}
			env.OnActivity(a.RecomputeChunk, mock.Anything, mock.Anything).Return(activities.RecomputeChunkResult{}, nil).Maybe()
			env.ExecuteWorkflow(workflows.AttributionRecompute, in)
			err := env.GetWorkflowError()
			if err == nil || !strings.Contains(err.Error(), "recompute needs") && !strings.Contains(err.Error(), "unknown attribution model") {
				t.Fatalf("error %v, want a validation error", err)
			}
			env.AssertNotCalled(t, "RecomputeChunk", mock.Anything, mock.Anything)
		})
	}
}
