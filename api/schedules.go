package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/workflows"
)

// Schedules controls the connections' recurring sync schedules. A Syncs that also
// implements it serves /v1/schedules (TemporalSyncs does); otherwise those answer 503.
type Schedules interface {
	// DescribeSchedule returns the connection's schedule; a missing one is ENotFound.
	DescribeSchedule(ctx context.Context, in workflows.SyncInput) (ScheduleState, error)
	// PauseSchedule pauses (pause) or resumes (!pause) it.
	PauseSchedule(ctx context.Context, in workflows.SyncInput, pause bool) error
	// TriggerSchedule runs its action now.
	TriggerSchedule(ctx context.Context, in workflows.SyncInput) error
}

// ScheduleState is a connection's sync schedule as GET /v1/schedules lists it.
type ScheduleState struct {
	ID           string     `json:"id"` // the connection id, as the paths take it
	ScheduleID   string     `json:"schedule_id"`
	ConnectionID string     `json:"connection_id"`
	Platform     string     `json:"platform"`
	Paused       bool       `json:"paused"`
	NextRun      *time.Time `json:"next_run,omitempty"`
}

func scheduleErr(in workflows.SyncInput, err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return touchpoint.Errorf(touchpoint.ENotFound, "no schedule for connection %s", in.ConnectionID)
	}
	return fmt.Errorf("schedule %s: %w", in.ConnectionID, err)
}

func (t TemporalSyncs) scheduleHandle(ctx context.Context, in workflows.SyncInput) client.ScheduleHandle {
	return t.Client.ScheduleClient().GetHandle(ctx, workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID))
}

// DescribeSchedule implements Schedules.
func (t TemporalSyncs) DescribeSchedule(ctx context.Context, in workflows.SyncInput) (ScheduleState, error) {
	st := ScheduleState{ID: in.ConnectionID, ScheduleID: workflows.SyncScheduleID(in.Tenant, in.Platform, in.ConnectionID),
		ConnectionID: in.ConnectionID, Platform: in.Platform}
	d, err := t.scheduleHandle(ctx, in).Describe(ctx)
	if err != nil {
		return st, scheduleErr(in, err)
	}
	if d.Schedule.State != nil {
		st.Paused = d.Schedule.State.Paused
	}
	if len(d.Info.NextActionTimes) > 0 && !st.Paused {
		next := d.Info.NextActionTimes[0].UTC()
		st.NextRun = &next
	}
	return st, nil
}

// PauseSchedule implements Schedules.
func (t TemporalSyncs) PauseSchedule(ctx context.Context, in workflows.SyncInput, pause bool) error {
	h := t.scheduleHandle(ctx, in)
	var err error
	if pause {
		err = h.Pause(ctx, client.SchedulePauseOptions{Note: "paused through the Touchpoint API"})
	} else {
		err = h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: "resumed through the Touchpoint API"})
	}
	if err != nil {
		return scheduleErr(in, err)
	}
	return nil
}

// TriggerSchedule implements Schedules.
func (t TemporalSyncs) TriggerSchedule(ctx context.Context, in workflows.SyncInput) error {
	if err := t.scheduleHandle(ctx, in).Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		return scheduleErr(in, err)
	}
	return nil
}

func (s *Server) needSchedules(h http.HandlerFunc) http.HandlerFunc {
	return s.needSyncs(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.syncs.(Schedules); !ok {
			writeError(w, r, touchpoint.Errorf(touchpoint.EUnavailable, "schedules are not configured"))
			return
		}
		h(w, r)
	})
}

func (s *Server) handleListSchedules(w http.ResponseWriter, r *http.Request) {
	sc := s.syncs.(Schedules)
	list, err := s.connections.List(r.Context(), tenantOf(r.Context()))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]ScheduleState, 0, len(list))
	for _, c := range list {
		st, err := sc.DescribeSchedule(r.Context(), syncInputOf(c))
		if touchpoint.KindOf(err) == touchpoint.ENotFound {
			continue
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		out = append(out, st)
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": out})
}

func (s *Server) handlePauseSchedule(pause bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.connection(w, r)
		if !ok {
			return
		}
		sc := s.syncs.(Schedules)
		in := syncInputOf(c)
		if err := sc.PauseSchedule(r.Context(), in, pause); err != nil {
			writeError(w, r, err)
			return
		}
		st, err := sc.DescribeSchedule(r.Context(), in)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	}
}

func (s *Server) handleTriggerSchedule(w http.ResponseWriter, r *http.Request) {
	c, ok := s.connection(w, r)
	if !ok {
		return
	}
	if err := s.syncs.(Schedules).TriggerSchedule(r.Context(), syncInputOf(c)); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
