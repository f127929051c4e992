-- +goose Up
-- Predictive and behavioural scores on the customer profile, written by the
-- ProfileRefresh workflow. NULL until a refresh scored the customer (and the
-- predictive ones while the tenant has no promoted model). model_version names the
-- profile_models version ltv, churn_probability, p_alive and expected_purchases_90d
-- came from.
ALTER TABLE customer_profiles
    ADD COLUMN ltv                    float8,
    ADD COLUMN churn_probability      float8,
    ADD COLUMN p_alive                float8,
    ADD COLUMN expected_purchases_90d float8,
    ADD COLUMN engagement_score       float8,
    ADD COLUMN scored_at              timestamptz,
    ADD COLUMN model_version          bigint;

-- Per-customer behaviour summary a refresh scores from: the RFM summary of the
-- conversions (x repeat purchase days, t_x and T in weeks since the first purchase,
-- mean repeat spend in currency units) and the touchpoint counts engagement needs.
-- Rebuilt per tenant at the start of each refresh by one aggregation in SQL, then
-- read in customer-id order, chunk by chunk, so a resumed refresh reads the same
-- snapshot.
CREATE TABLE profile_summaries (
    tenant_id       text        NOT NULL,
    customer_id     text        NOT NULL,
    x               float8      NOT NULL DEFAULT 0,
    t_x             float8      NOT NULL DEFAULT 0,
    t_weeks         float8      NOT NULL DEFAULT 0,
    mean_spend      float8      NOT NULL DEFAULT 0,
    conversions     int         NOT NULL DEFAULT 0,
    revenue         float8      NOT NULL DEFAULT 0,
    last_seen       timestamptz,
    touchpoints_30d int         NOT NULL DEFAULT 0,
    touchpoints_90d int         NOT NULL DEFAULT 0,
    channels        int         NOT NULL DEFAULT 0,
    as_of           timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

-- BG/NBD + Gamma-Gamma fits per tenant. metrics holds the calibration
-- log-likelihood and the holdout errors (MAE per customer and relative error of the
-- total, predicted vs actual repeat purchases). At most one version per tenant is
-- promoted: the one refreshes score with.
CREATE TABLE profile_models (
    tenant_id   text        NOT NULL,
    version     bigserial   NOT NULL,
    training_id text        NOT NULL,
    params      jsonb       NOT NULL,
    metrics     jsonb       NOT NULL,
    trained_at  timestamptz NOT NULL DEFAULT now(),
    promoted    boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, version),
    UNIQUE (tenant_id, training_id)
);
CREATE UNIQUE INDEX profile_models_promoted ON profile_models (tenant_id) WHERE promoted;

-- Dynamic segments: rule is the canonical text (segments.Rule.String), compiled
-- again against segments.ProfileSchema when a refresh loads it.
CREATE TABLE segments (
    tenant_id  text        NOT NULL,
    segment_id text        NOT NULL,
    name       text        NOT NULL,
    rule       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, segment_id)
);

CREATE TABLE segment_members (
    tenant_id   text        NOT NULL,
    segment_id  text        NOT NULL,
    customer_id text        NOT NULL,
    since       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, segment_id, customer_id)
);
-- A refresh reads the memberships of a range of customers.
CREATE INDEX segment_members_customer ON segment_members (tenant_id, customer_id);

-- +goose Down
DROP TABLE segment_members;
DROP TABLE segments;
DROP TABLE profile_models;
DROP TABLE profile_summaries;
ALTER TABLE customer_profiles
    DROP COLUMN ltv, DROP COLUMN churn_probability, DROP COLUMN p_alive,
    DROP COLUMN expected_purchases_90d, DROP COLUMN engagement_score,
    DROP COLUMN scored_at, DROP COLUMN model_version;
