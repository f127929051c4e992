-- +goose Up
-- The trained versions of the data-driven attribution models: what each was trained
-- on, how it scored on held-out journeys and the fitted parameters that rebuild it.
-- At most one version per tenant and kind is active (the partial unique index); a
-- training run names its versions by training_id so that a retried save returns the
-- version already stored instead of adding another.
CREATE TABLE attribution_models (
    tenant_id     text        NOT NULL,
    version       bigint      GENERATED ALWAYS AS IDENTITY,
    kind          text        NOT NULL CHECK (kind IN ('markov', 'shapley')),
    training_id   text        NOT NULL,
    trained_at    timestamptz NOT NULL DEFAULT now(),
    range_from    timestamptz NOT NULL,
    range_to      timestamptz NOT NULL,
    journeys      int         NOT NULL,
    metrics       jsonb       NOT NULL,
    model         jsonb       NOT NULL,
    active        boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, version),
    UNIQUE (tenant_id, kind, training_id)
);
CREATE UNIQUE INDEX attribution_models_one_active ON attribution_models (tenant_id, kind) WHERE active;

-- +goose Down
DROP TABLE attribution_models;
