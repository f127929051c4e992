package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/touchpoint/touchpoint/api"
	"github.com/touchpoint/touchpoint/config"
	"github.com/touchpoint/touchpoint/workflows"
)

// The backfill and schedules commands are API clients: they go through the HTTP API,
// with a tenant key, so they see and may do exactly what the tenant may, and they
// work against any deployment without database or Temporal access.

// apiClient calls the Touchpoint API as one tenant.
type apiClient struct {
	base string
	key  string
	http *http.Client
}

// apiError is an answer outside 2xx, with the API's own reason.
type apiError struct {
	Method, Path string
	Status       int
	Kind         string
	Message      string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	if e.Status == http.StatusUnauthorized {
		msg += " (check -key or TOUCHPOINT_API_KEY)"
	}
	return msg
}

// transient says whether asking again may get another answer: a dependency down or
// restarting (5xx), or the API not reachable for a moment.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status >= 500
	}
	var ue *url.Error
	return errors.As(err, &ue) && !errors.Is(err, context.Canceled)
}

// addAPIFlags declares -api and -key with the configuration's values as defaults.
func addAPIFlags(fs *flag.FlagSet, cfg config.Config) (base, key *string) {
	base = fs.String("api", cfg.APIURL, "the Touchpoint API's URL (TOUCHPOINT_API_URL)")
	key = fs.String("key", cfg.APIKey, "the tenant's API key (TOUCHPOINT_API_KEY)")
	return base, key
}

func newAPIClient(base, key string) (*apiClient, error) {
	if key == "" {
		return nil, errors.New("an API key is needed: -key or TOUCHPOINT_API_KEY")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("-api (TOUCHPOINT_API_URL) %q: want an http:// or https:// URL", base)
	}
	return &apiClient{base: strings.TrimRight(base, "/"), key: key, http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends body (if any) as JSON and decodes a 2xx answer into out (if any).
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the API at %s (set -api or TOUCHPOINT_API_URL): %w", c.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return answerError(method, path, res.StatusCode, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
	}
	return nil
}

// answerError reads the API's {"error", "kind"} body; a proxy's answer has none, so
// its status text stands in.
func answerError(method, path string, status int, raw []byte) *apiError {
	e := &apiError{Method: method, Path: path, Status: status}
	var body struct{ Error, Kind string }
	if json.Unmarshal(raw, &body) == nil && body.Error != "" {
		e.Message, e.Kind = body.Error, body.Kind
	} else {
		e.Message = http.StatusText(status)
	}
	return e
}

// parseInterspersed parses fs's flags wherever they stand among the positional
// arguments, so `schedules pause ads -key K` works like `schedules -key K pause ads`.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// ---- backfill ----

type backfillFlags struct {
	connection string
	from, to   string
	chunkDays  int
	interval   time.Duration
	stall      time.Duration
	quiet      bool
}

func (f backfillFlags) validate() error {
	if f.connection == "" {
		return errors.New("backfill: -connection is required")
	}
	from, ferr := time.Parse(time.DateOnly, f.from)
	to, terr := time.Parse(time.DateOnly, f.to)
	if ferr != nil || terr != nil {
		return fmt.Errorf("backfill: -from and -to must be dates (YYYY-MM-DD), got %q and %q", f.from, f.to)
	}
	if to.Before(from) {
		return fmt.Errorf("backfill: -from %s is after -to %s", f.from, f.to)
	}
	if f.interval <= 0 {
		return errors.New("backfill: -interval must be positive")
	}
	return nil
}

// runBackfill starts a connection's backfill through the API and follows its
// progress until it is done. If one is already running it follows that one, so
// running the command again after an interruption picks the bar up again.
func runBackfill(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	base, key := addAPIFlags(fs, cfg)
	var f backfillFlags
	fs.StringVar(&f.connection, "connection", "", "the connection id")
	fs.StringVar(&f.from, "from", "", "first day (YYYY-MM-DD)")
	fs.StringVar(&f.to, "to", "", "last day (YYYY-MM-DD), inclusive")
	fs.IntVar(&f.chunkDays, "chunk-days", 0, "days per chunk (default: the worker's, 14)")
	fs.DurationVar(&f.interval, "interval", time.Second, "how often to ask for progress")
	// A chunk's activity may run an hour per attempt (and be retried), so only a long
	// silence says the backfill failed: its query answers with the last progress for
	// ever once the workflow has ended.
	fs.DurationVar(&f.stall, "stall", time.Hour, "give up (exit 1) after this long without progress; 0 waits for ever")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	c, err := newAPIClient(*base, *key)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	if err := c.startBackfill(ctx, f); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	p, err := c.followBackfill(ctx, f)
	if err != nil {
		return fmt.Errorf("backfill of connection %s: %w", f.connection, err)
	}
	fmt.Println(backfillSummary(f.connection, p))
	return nil
}

func connectionPath(id, rest string) string { return "/v1/connections/" + url.PathEscape(id) + rest }

// startBackfill starts the backfill; one already running is not an error, since
// following it is what the caller wants next.
func (c *apiClient) startBackfill(ctx context.Context, f backfillFlags) error {
	body := map[string]any{"from": f.from, "to": f.to}
	if f.chunkDays > 0 {
		body["chunk_days"] = f.chunkDays
	}
	var started struct {
		WorkflowID string `json:"workflow_id"`
	}
	err := c.do(ctx, "POST", connectionPath(f.connection, "/backfill"), body, &started)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		fmt.Fprintf(os.Stderr, "a backfill of connection %s is already running (with its own range); following it\n", f.connection)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "started backfill %s (%s to %s)\n", started.WorkflowID, f.from, f.to)
	return nil
}

type backfillProgress struct {
	WorkflowID string                     `json:"workflow_id"`
	Progress   workflows.BackfillProgress `json:"progress"`
}

// followBackfill polls the progress until done, drawing the bar once the number of
// chunks is known. It fails on an answer that polling cannot change (4xx), on a
// connection whose credentials were refused (that backfill has failed) and after
// f.stall without progress.
func (c *apiClient) followBackfill(ctx context.Context, f backfillFlags) (workflows.BackfillProgress, error) {
	var done, failed atomic.Int64
	var bar *progress
	defer func() {
		if bar != nil {
			bar.stop()
		}
	}()
	var last workflows.BackfillProgress
	var workflowID string
	lastChange := time.Now()
	tick := time.NewTicker(f.interval)
	defer tick.Stop()
	for {
		var got backfillProgress
		err := c.do(ctx, "GET", connectionPath(f.connection, "/backfill"), nil, &got)
		switch {
		case ctx.Err() != nil:
			return last, interrupted
		case err == nil:
			workflowID = got.WorkflowID
			if bar == nil {
				bar = newProgress(int64(got.Progress.ChunksTotal), &done, &failed, f.quiet)
			}
			done.Store(int64(got.Progress.ChunksDone))
			if got.Progress.Done {
				return got.Progress, nil
			}
			if st := got.Progress.Status; st != "" && st != "running" && st != "completed" {
				return got.Progress, fmt.Errorf("backfill %s %s: %s (see it in the Temporal UI)", got.WorkflowID, st, got.Progress.Failure)
			}
			if p := got.Progress; p.ChunksDone != last.ChunksDone || p.Rows != last.Rows || p.Resumed != last.Resumed {
				last, lastChange = got.Progress, time.Now()
			}
		case !transient(err):
			return last, err
		}
		if err := c.checkConnection(ctx, f.connection); err != nil {
			return last, err
		}
		if f.stall > 0 && time.Since(lastChange) > f.stall {
			return last, stalled(f.stall, workflowID, last, err)
		}
		select {
		case <-ctx.Done():
			return last, interrupted
		case <-tick.C:
		}
	}
}

var interrupted = errors.New("interrupted; the backfill goes on: run the command again to follow it")

func stalled(d time.Duration, workflowID string, p workflows.BackfillProgress, lastErr error) error {
	msg := fmt.Sprintf("no progress for %v (%d of %d chunks done): it may have failed or be retrying; "+
		"see workflow %q in the Temporal UI, or wait longer with -stall", d, p.ChunksDone, p.ChunksTotal, workflowID)
	if lastErr != nil {
		msg += "; last error: " + lastErr.Error()
	}
	return errors.New(msg)
}

// checkConnection fails when the platform refused the connection's credentials: the
// sync activity marks it needs_reauth and fails without retry, so the backfill has
// failed and waiting cannot help.
func (c *apiClient) checkConnection(ctx context.Context, id string) error {
	var list struct {
		Connections []struct {
			ConnectionID string `json:"connection_id"`
			Status       string `json:"status"`
		} `json:"connections"`
	}
	if err := c.do(ctx, "GET", "/v1/connections", nil, &list); err != nil {
		if transient(err) {
			return nil
		}
		return err
	}
	for _, conn := range list.Connections {
		if conn.ConnectionID == id && conn.Status == "needs_reauth" {
			return errors.New("failed: the platform refused the connection's credentials (status needs_reauth); " +
				"create the connection again with fresh credentials")
		}
	}
	return nil
}

func backfillSummary(connection string, p workflows.BackfillProgress) string {
	s := fmt.Sprintf("backfill of connection %s done: %d/%d chunks, %d rows", connection, p.ChunksDone, p.ChunksTotal, p.Rows)
	if !p.SyncedTo.IsZero() {
		s += ", synced to " + p.SyncedTo.UTC().Format(time.DateOnly)
	}
	if p.Resumed > 0 {
		s += fmt.Sprintf(", %d chunks resumed after a retry", p.Resumed)
	}
	return s
}

// ---- schedules ----

const schedulesUsage = "usage: touchpoint schedules list | pause ID | resume ID | trigger ID [-api URL] [-key KEY] [-json]"

// runSchedules lists, pauses, resumes or triggers the tenant's connection sync
// schedules through /v1/schedules.
func runSchedules(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("schedules", flag.ContinueOnError)
	base, key := addAPIFlags(fs, cfg)
	asJSON := fs.Bool("json", false, "print the API's JSON instead of a table")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return errors.New(schedulesUsage)
	}
	action, ids := pos[0], pos[1:]
	switch {
	case action != "list" && action != "pause" && action != "resume" && action != "trigger":
		return fmt.Errorf("schedules: unknown action %q\n%s", action, schedulesUsage)
	case action == "list" && len(ids) != 0, action != "list" && len(ids) != 1:
		return fmt.Errorf("schedules %s: wrong arguments\n%s", action, schedulesUsage)
	}
	c, err := newAPIClient(*base, *key)
	if err != nil {
		return fmt.Errorf("schedules: %w", err)
	}
	switch action {
	case "list":
		err = c.listSchedules(ctx, *asJSON)
	case "pause", "resume":
		err = c.pauseSchedule(ctx, ids[0], action, *asJSON)
	case "trigger":
		err = c.triggerSchedule(ctx, ids[0])
	}
	if err != nil {
		return fmt.Errorf("schedules %s: %w", action, err)
	}
	return nil
}

func (c *apiClient) listSchedules(ctx context.Context, asJSON bool) error {
	var out struct {
		Schedules []api.ScheduleState `json:"schedules"`
	}
	if err := c.do(ctx, "GET", "/v1/schedules", nil, &out); err != nil {
		return err
	}
	if asJSON {
		return printJSON(out)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tPLATFORM\tSTATE\tNEXT RUN\tSCHEDULE")
	for _, s := range out.Schedules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Platform, scheduleState(s), nextRun(s), s.ScheduleID)
	}
	return tw.Flush()
}

func scheduleState(s api.ScheduleState) string {
	if s.Paused {
		return "paused"
	}
	return "active"
}

func nextRun(s api.ScheduleState) string {
	if s.NextRun == nil {
		return "-"
	}
	return s.NextRun.UTC().Format(time.RFC3339)
}

func (c *apiClient) pauseSchedule(ctx context.Context, id, action string, asJSON bool) error {
	var st api.ScheduleState
	if err := c.do(ctx, "POST", "/v1/schedules/"+url.PathEscape(id)+"/"+action, nil, &st); err != nil {
		return err
	}
	if asJSON {
		return printJSON(st)
	}
	fmt.Printf("schedule of connection %s (%s): %s, next run %s\n", st.ID, st.Platform, scheduleState(st), nextRun(st))
	return nil
}

func (c *apiClient) triggerSchedule(ctx context.Context, id string) error {
	if err := c.do(ctx, "POST", "/v1/schedules/"+url.PathEscape(id)+"/trigger", nil, nil); err != nil {
		return err
	}
	fmt.Printf("triggered a sync of connection %s\n", id)
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
