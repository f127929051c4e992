-- +goose Up
-- GIN indexes on the customers of the journey rows, so one customer's touchpoints and
-- conversions (GET /v1/profiles/{customer_id}: live behaviour and implicit
-- preferences) are found with customer_ids @> ARRAY[id] instead of a scan of the
-- tenant's rows. On the partitioned parents, so every day partition, existing and
-- future, gets its own. fastupdate (the default) keeps the consumer's insert cost low:
-- new entries go to the pending list and are merged in bulk.
CREATE INDEX journey_touchpoints_customers ON journey_touchpoints USING gin (customer_ids);
CREATE INDEX journey_conversions_customers ON journey_conversions USING gin (customer_ids);

-- +goose Down
DROP INDEX journey_conversions_customers;
DROP INDEX journey_touchpoints_customers;
