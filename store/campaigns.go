package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
)

// Campaigns stores launched campaigns and their decision history. Config, state and
// decisions are JSON the campaign package defines; the store keeps them as given.
type Campaigns struct{ DB *pgxpool.Pool }

// Campaign is one launched campaign.
type Campaign struct {
	TenantID     string          `json:"-"`
	CampaignID   string          `json:"campaign_id"`
	Config       json.RawMessage `json:"config"`
	Status       string          `json:"status"`
	State        json.RawMessage `json:"state,omitempty"`
	LaunchedBy   string          `json:"launched_by"`
	LaunchedAt   time.Time       `json:"launched_at"`
	EndedAt      *time.Time      `json:"ended_at,omitempty"`
	EndReason    string          `json:"end_reason,omitempty"`
	FinalMetrics json.RawMessage `json:"final_metrics,omitempty"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// CampaignDecision is one stored optimization decision.
type CampaignDecision struct {
	Seq       int             `json:"seq"`
	DecidedAt time.Time       `json:"decided_at"`
	Trigger   string          `json:"trigger"`
	Decision  json.RawMessage `json:"decision"`
	Applied   json.RawMessage `json:"applied"`
}

// CampaignUpdate is the state a workflow saves.
type CampaignUpdate struct {
	Status       string
	State        json.RawMessage
	EndedAt      time.Time // zero while it runs
	EndReason    string
	FinalMetrics json.RawMessage // nil while it runs
}

// ErrCampaignNotFound is a campaign id the tenant never launched.
var ErrCampaignNotFound = touchpoint.Errorf(touchpoint.ENotFound, "campaign not found")

// Create records a launch in status "launching". It returns the existing row and
// false when the tenant already has a campaign with that id: campaign ids are not
// reused, since events, aggregates and the decision history are keyed by them.
func (c Campaigns) Create(ctx context.Context, tenant, id string, config json.RawMessage, by string, at time.Time) (Campaign, bool, error) {
	tag, err := c.DB.Exec(ctx, `INSERT INTO campaigns (tenant_id, campaign_id, config, launched_by, launched_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING`, tenant, id, config, by, at)
	if err != nil {
		return Campaign{}, false, fmt.Errorf("store: create campaign %s: %w", id, err)
	}
	row, err := c.Get(ctx, tenant, id)
	return row, tag.RowsAffected() == 1, err
}

// Save records the workflow's state; an ended campaign also gets its end and final
// metrics. Saves are idempotent: a retried one writes the same values.
func (c Campaigns) Save(ctx context.Context, tenant, id string, u CampaignUpdate) error {
	var ended *time.Time
	if !u.EndedAt.IsZero() {
		ended = &u.EndedAt
	}
	tag, err := c.DB.Exec(ctx, `UPDATE campaigns SET status = $3, state = $4, ended_at = $5, end_reason = $6,
	final_metrics = $7, updated_at = now() WHERE tenant_id = $1 AND campaign_id = $2`,
		tenant, id, u.Status, u.State, ended, u.EndReason, u.FinalMetrics)
	if err != nil {
		return fmt.Errorf("store: save campaign %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: save campaign %s: %w", id, ErrCampaignNotFound)
	}
	return nil
}

// AppendDecision adds a decision to the campaign's history; a decision already
// stored under its seq (a retried activity) is left as it is.
func (c Campaigns) AppendDecision(ctx context.Context, tenant, id string, d CampaignDecision) error {
	if d.Applied == nil {
		d.Applied = json.RawMessage(`{}`)
	}
	_, err := c.DB.Exec(ctx, `INSERT INTO campaign_decisions (tenant_id, campaign_id, seq, decided_at, trigger, decision, applied)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`, tenant, id, d.Seq, d.DecidedAt, d.Trigger, d.Decision, d.Applied)
	if err != nil {
		return fmt.Errorf("store: append decision %d of campaign %s: %w", d.Seq, id, err)
	}
	return nil
}

const campaignSelect = `SELECT tenant_id, campaign_id, config, status, state, launched_by, launched_at, ended_at,
	end_reason, final_metrics, updated_at FROM campaigns`

func scanCampaign(row pgx.CollectableRow) (Campaign, error) {
	var c Campaign
	err := row.Scan(&c.TenantID, &c.CampaignID, &c.Config, &c.Status, &c.State, &c.LaunchedBy, &c.LaunchedAt,
		&c.EndedAt, &c.EndReason, &c.FinalMetrics, &c.UpdatedAt)
	return c, err
}

// Get returns the tenant's campaign; another tenant's is ErrCampaignNotFound.
func (c Campaigns) Get(ctx context.Context, tenant, id string) (Campaign, error) {
	rows, _ := c.DB.Query(ctx, campaignSelect+` WHERE tenant_id = $1 AND campaign_id = $2`, tenant, id)
	row, err := pgx.CollectExactlyOneRow(rows, scanCampaign)
	if errors.Is(err, pgx.ErrNoRows) {
		return Campaign{}, ErrCampaignNotFound
	}
	if err != nil {
		return Campaign{}, fmt.Errorf("store: get campaign %s: %w", id, err)
	}
	return row, nil
}

// List returns the tenant's campaigns, latest launch first; status filters when set.
func (c Campaigns) List(ctx context.Context, tenant, status string, limit int) ([]Campaign, error) {
	rows, _ := c.DB.Query(ctx, campaignSelect+` WHERE tenant_id = $1 AND ($2 = '' OR status = $2)
ORDER BY launched_at DESC, campaign_id LIMIT $3`, tenant, status, limit)
	out, err := pgx.CollectRows(rows, scanCampaign)
	if err != nil {
		return nil, fmt.Errorf("store: list campaigns: %w", err)
	}
	if out == nil {
		out = []Campaign{}
	}
	return out, nil
}

// Decisions returns the campaign's last limit decisions, oldest first.
func (c Campaigns) Decisions(ctx context.Context, tenant, id string, limit int) ([]CampaignDecision, error) {
	rows, _ := c.DB.Query(ctx, `SELECT seq, decided_at, trigger, decision, applied FROM (
	SELECT * FROM campaign_decisions WHERE tenant_id = $1 AND campaign_id = $2 ORDER BY seq DESC LIMIT $3) d ORDER BY seq`,
		tenant, id, limit)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CampaignDecision, error) {
		var d CampaignDecision
		err := row.Scan(&d.Seq, &d.DecidedAt, &d.Trigger, &d.Decision, &d.Applied)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: decisions of campaign %s: %w", id, err)
	}
	if out == nil {
		out = []CampaignDecision{}
	}
	return out, nil
}
