package campaign

import (
	"time"

	"github.com/touchpoint/touchpoint/events"
)

// Status is where a campaign is in its lifecycle.
type Status string

// The statuses a campaign goes through. Launching is the API's: the row exists and
// the workflow is being started.
const (
	Launching Status = "launching"
	Running   Status = "running"
	Paused    Status = "paused"
	Ended     Status = "ended"
)

// Why a campaign ended.
const (
	EndDuration   = "duration_elapsed"
	EndBudget     = "budget_exhausted"
	EndTerminated = "terminated"
)

// Sources of a campaign's performance. Platform-synced numbers win when a platform
// reports the campaign: they are what the platform bills.
const (
	SourceStreamed = "streamed"
	SourcePlatform = "platform"
)

// CreativeStats is one creative's delivery since launch.
type CreativeStats struct {
	ID          string `json:"id"`
	Impressions int64  `json:"impressions"`
	Clicks      int64  `json:"clicks"`
	Conversions int64  `json:"conversions"`
}

// Performance is what the campaign delivered since launch: totals and, where the
// stream reports them, per-creative counts.
type Performance struct {
	Source    string                 `json:"source"`
	Totals    events.CampaignMetrics `json:"totals"`
	Creatives []CreativeStats        `json:"creatives,omitempty"`
}

// Decision is one optimization: why, and what it changes.
type Decision struct {
	Seq     int                        `json:"seq"` // 1, 2, … over the campaign's life
	At      time.Time                  `json:"at"`
	Trigger events.OptimizationTrigger `json:"trigger"`
	Reasons []string                   `json:"reasons"`
	Changes events.Changes             `json:"changes"`
}

// State is everything a CampaignLifecycle carries, across ContinueAsNew too, and what
// its state query answers.
type State struct {
	Tenant     string    `json:"tenant"`
	Config     Config    `json:"config"`
	Status     Status    `json:"status"`
	LaunchedAt time.Time `json:"launched_at"`
	EndsAt     time.Time `json:"ends_at"`
	NextEvalAt time.Time `json:"next_evaluation_at"`
	EndedAt    time.Time `json:"ended_at,omitzero"`
	EndReason  string    `json:"end_reason,omitempty"`

	Spend     float64                `json:"spend"`
	Metrics   events.CampaignMetrics `json:"metrics"` // totals since launch
	Source    string                 `json:"source,omitempty"`
	Creatives []CreativeStats        `json:"creatives,omitempty"`
	// Reported is the part of Metrics the campaign's own events carried (see
	// unreported).
	Reported events.CampaignMetrics `json:"reported"`

	// What the decisions so far have set.
	Active        []string           `json:"active_creatives"`
	Allocation    map[string]float64 `json:"allocation"`
	BidAdjustment float64            `json:"bid_adjustment"` // cumulative relative change
	Audience      string             `json:"audience"`

	Evaluations   int        `json:"evaluations"`
	Skipped       int        `json:"skipped_while_paused"`
	DecisionCount int        `json:"decision_count"`
	Decisions     []Decision `json:"decisions"` // the last HistoryLimit; Postgres keeps all
	EventSeq      int        `json:"event_seq"`
	Runs          int        `json:"runs"` // ContinueAsNew generations before this one
}

// HistoryLimit is how many decisions the workflow keeps: its history (and the state
// it carries into ContinueAsNew) stays small, Postgres keeps every decision.
const HistoryLimit = 20

// NewState is a campaign's state at launch: every creative in rotation with an equal
// share of the budget.
func NewState(tenant string, c Config, now time.Time) State {
	st := State{Tenant: tenant, Config: c, Status: Running, LaunchedAt: now, EndsAt: now.Add(c.Length()),
		NextEvalAt: now.Add(c.Interval()), Active: append([]string(nil), c.CreativeIDs...), Audience: c.TargetAudience,
		Allocation: map[string]float64{}}
	for _, id := range c.CreativeIDs {
		st.Allocation[id] = round4(1 / float64(len(c.CreativeIDs)))
	}
	return st
}

// Observe takes in the performance read at an evaluation, after Evaluate judged it
// against the previous one.
func (st *State) Observe(p Performance) {
	st.Metrics, st.Source, st.Creatives = p.Totals, p.Source, p.Creatives
	st.Spend = p.Totals.Cost
	st.Evaluations++
}

// BudgetExhausted is whether the spend reached the budget.
func (st *State) BudgetExhausted() bool { return st.Spend >= st.Config.Budget }

// Record numbers a decision, applies its changes to the state and keeps it in the
// bounded history. It returns the numbered decision.
func (st *State) Record(d Decision, at time.Time) Decision {
	st.DecisionCount++
	d.Seq, d.At = st.DecisionCount, at
	st.apply(d.Changes)
	st.Decisions = append(st.Decisions, d)
	if n := len(st.Decisions); n > HistoryLimit {
		st.Decisions = append([]Decision(nil), st.Decisions[n-HistoryLimit:]...)
	}
	return d
}

func (st *State) apply(c events.Changes) {
	if c.BidAdjustment != nil {
		// Relative changes compound: +10% then -10% is -1%.
		st.BidAdjustment = round4((1+st.BidAdjustment)*(1+*c.BidAdjustment) - 1)
	}
	if c.AudienceTargeting != "" {
		st.Audience = c.AudienceTargeting
	}
	if len(c.CreativeRotation) > 0 {
		st.Active = append([]string(nil), c.CreativeRotation...)
		st.Allocation = renormalize(st.Allocation, st.Active)
	}
	if len(c.BudgetAllocation) > 0 {
		st.Allocation = map[string]float64{}
		for k, v := range c.BudgetAllocation {
			st.Allocation[k] = v
		}
	}
}

// renormalize keeps the shares of the creatives still active, scaled to sum to 1.
func renormalize(alloc map[string]float64, active []string) map[string]float64 {
	out := map[string]float64{}
	var sum float64
	for _, id := range active {
		sum += alloc[id]
	}
	for _, id := range active {
		if sum > 0 {
			out[id] = round4(alloc[id] / sum)
		} else {
			out[id] = round4(1 / float64(len(active)))
		}
	}
	return out
}

// NextEventSeq numbers the campaign's next event: with the workflow id it makes the
// event id, so a retried emit carries the same id and the consumer drops the copy.
func (st *State) NextEventSeq() int {
	st.EventSeq++
	return st.EventSeq
}
