-- +goose Up
-- A campaign launched through the API and run by its CampaignLifecycle workflow
-- (id campaign/{tenant}/{campaign_id}). config is the launch configuration as the API
-- took it; state is the workflow's latest saved state (what its query answers while
-- it runs, and the record once it ended).
CREATE TABLE campaigns (
    tenant_id     text        NOT NULL,
    campaign_id   text        NOT NULL,
    config        jsonb       NOT NULL,
    status        text        NOT NULL DEFAULT 'launching',
    state         jsonb,
    launched_by   text        NOT NULL DEFAULT '',
    launched_at   timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    end_reason    text        NOT NULL DEFAULT '',
    final_metrics jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, campaign_id)
);

-- Every optimization decision of a campaign, append-only: the workflow keeps only
-- the last few in its state to keep its history small. seq numbers a campaign's
-- decisions, so a retried write of the same decision is a no-op.
CREATE TABLE campaign_decisions (
    tenant_id   text        NOT NULL,
    campaign_id text        NOT NULL,
    seq         int         NOT NULL,
    decided_at  timestamptz NOT NULL,
    trigger     text        NOT NULL,
    decision    jsonb       NOT NULL,
    applied     jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (tenant_id, campaign_id, seq),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns ON DELETE CASCADE
);

-- +goose Down
DROP TABLE campaign_decisions;
DROP TABLE campaigns;
