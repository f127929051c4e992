package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Who identifies the person and device behind a touchpoint or conversion.
type Who struct {
	CustomerID  string `json:"customer_id"`
	JourneyID   string `json:"journey_id"`
	DeviceID    string `json:"device_id,omitempty"`
	AnonymousID string `json:"anonymous_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
}

// Touchpoint is one interaction of a journey, as attribution reads it.
type Touchpoint struct {
	EventID         string    `json:"event_id"`
	OccurredAt      time.Time `json:"occurred_at"`
	Who             Who       `json:"who"`
	Channel         string    `json:"channel"`
	InteractionType string    `json:"interaction_type"`
	CampaignID      string    `json:"campaign_id,omitempty"`
}

// Conversion is one conversion, as attribution reads it.
type Conversion struct {
	EventID           string    `json:"event_id"`
	OccurredAt        time.Time `json:"occurred_at"`
	Who               Who       `json:"who"`
	Channel           string    `json:"channel"`
	ValueMicros       int64     `json:"value_micros"`
	Currency          string    `json:"currency"`
	AttributionWeight float64   `json:"attribution_weight"`
}

// JourneyRows are one batch's touchpoints and conversions of one tenant, in the
// column-per-field shape they are stored in.
type JourneyRows struct {
	Touchpoints []Touchpoint
	Conversions []Conversion
}

type whoColumns struct{ customers, journeys, devices, anonymous, users []string }

// newWhoColumns returns columns with room for n rows: they are filled per batch,
// thousands of rows at a time.
func newWhoColumns(n int) whoColumns {
	return whoColumns{make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)}
}

func (w *whoColumns) add(x Who) {
	w.customers = append(w.customers, x.CustomerID)
	w.journeys = append(w.journeys, x.JourneyID)
	w.devices = append(w.devices, x.DeviceID)
	w.anonymous = append(w.anonymous, x.AnonymousID)
	w.users = append(w.users, x.UserID)
}

func (w whoColumns) at(i int) Who {
	return Who{CustomerID: w.customers[i], JourneyID: w.journeys[i], DeviceID: w.devices[i], AnonymousID: w.anonymous[i], UserID: w.users[i]}
}

func timeRange(ts []time.Time) (time.Time, time.Time) {
	lo, hi := ts[0], ts[0]
	for _, t := range ts[1:] {
		lo, hi = minTime(lo, t), maxTime(hi, t)
	}
	return lo, hi
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// writeJourneys stores one partition batch's journey rows per tenant within tx.
func writeJourneys(ctx context.Context, tx pgx.Tx, day time.Time, pb PartitionBatch) error {
	for tenant, rows := range pb.Journeys {
		if err := writeTouchpoints(ctx, tx, tenant, day, pb, rows.Touchpoints); err != nil {
			return fmt.Errorf("touchpoints of %s: %w", tenant, err)
		}
		if err := writeConversions(ctx, tx, tenant, day, pb, rows.Conversions); err != nil {
			return fmt.Errorf("conversions of %s: %w", tenant, err)
		}
	}
	return nil
}

func writeTouchpoints(ctx context.Context, tx pgx.Tx, tenant string, day time.Time, pb PartitionBatch, tps []Touchpoint) error {
	if len(tps) == 0 {
		return nil
	}
	n := len(tps)
	ids, channels, kinds, campaigns := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	at, who := make([]time.Time, 0, n), newWhoColumns(n)
	for _, tp := range tps {
		ids, at = append(ids, tp.EventID), append(at, tp.OccurredAt)
		channels, kinds, campaigns = append(channels, tp.Channel), append(kinds, tp.InteractionType), append(campaigns, tp.CampaignID)
		who.add(tp.Who)
	}
	lo, hi := timeRange(at)
	_, err := tx.Exec(ctx, `INSERT INTO journey_touchpoints (tenant_id, day, topic, partition, first_offset,
		event_ids, occurred_at, customer_ids, journey_ids, device_ids, anonymous_ids, user_ids,
		channels, interaction_types, campaign_ids, min_occurred_at, max_occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		tenant, day, pb.Topic, pb.Partition, pb.FirstOffset, ids, at, who.customers, who.journeys, who.devices,
		who.anonymous, who.users, channels, kinds, campaigns, lo, hi)
	return err
}

func writeConversions(ctx context.Context, tx pgx.Tx, tenant string, day time.Time, pb PartitionBatch, cs []Conversion) error {
	if len(cs) == 0 {
		return nil
	}
	n := len(cs)
	ids, channels, currencies := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	at, values, weights, who := make([]time.Time, 0, n), make([]int64, 0, n), make([]float64, 0, n), newWhoColumns(n)
	for _, c := range cs {
		ids, at, channels = append(ids, c.EventID), append(at, c.OccurredAt), append(channels, c.Channel)
		values, currencies, weights = append(values, c.ValueMicros), append(currencies, c.Currency), append(weights, c.AttributionWeight)
		who.add(c.Who)
	}
	lo, hi := timeRange(at)
	_, err := tx.Exec(ctx, `INSERT INTO journey_conversions (tenant_id, day, topic, partition, first_offset,
		event_ids, occurred_at, customer_ids, journey_ids, device_ids, anonymous_ids, user_ids,
		channels, value_micros, currencies, attribution_weights, min_occurred_at, max_occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		tenant, day, pb.Topic, pb.Partition, pb.FirstOffset, ids, at, who.customers, who.journeys, who.devices,
		who.anonymous, who.users, channels, values, currencies, weights, lo, hi)
	return err
}

// Journeys reads the touchpoints and conversions attribution works from.
type Journeys struct{ DB *pgxpool.Pool }

// Touchpoints calls fn with every touchpoint of tenant that occurred in [from, to).
func (j Journeys) Touchpoints(ctx context.Context, tenant string, from, to time.Time, fn func(Touchpoint) error) error {
	rows, err := j.DB.Query(ctx, `SELECT event_ids, occurred_at, customer_ids, journey_ids, device_ids, anonymous_ids,
		user_ids, channels, interaction_types, campaign_ids FROM journey_touchpoints
		WHERE tenant_id = $1 AND max_occurred_at >= $2 AND min_occurred_at < $3`, tenant, from, to)
	if err != nil {
		return fmt.Errorf("read touchpoints of %s: %w", tenant, err)
	}
	var ids, channels, kinds, campaigns []string
	var at []time.Time
	var who whoColumns
	_, err = pgx.ForEachRow(rows, []any{&ids, &at, &who.customers, &who.journeys, &who.devices, &who.anonymous, &who.users, &channels, &kinds, &campaigns}, func() error {
		for i := range ids {
			if at[i].Before(from) || !at[i].Before(to) {
				continue
			}
			tp := Touchpoint{EventID: ids[i], OccurredAt: at[i], Who: who.at(i), Channel: channels[i], InteractionType: kinds[i], CampaignID: campaigns[i]}
			if err := fn(tp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read touchpoints of %s: %w", tenant, err)
	}
	return nil
}

// Conversions calls fn with every conversion of tenant that occurred in [from, to).
func (j Journeys) Conversions(ctx context.Context, tenant string, from, to time.Time, fn func(Conversion) error) error {
	rows, err := j.DB.Query(ctx, `SELECT event_ids, occurred_at, customer_ids, journey_ids, device_ids, anonymous_ids,
		user_ids, channels, value_micros, currencies, attribution_weights FROM journey_conversions
		WHERE tenant_id = $1 AND max_occurred_at >= $2 AND min_occurred_at < $3`, tenant, from, to)
	if err != nil {
		return fmt.Errorf("read conversions of %s: %w", tenant, err)
	}
	var ids, channels, currencies []string
	var at []time.Time
	var values []int64
	var weights []float64
	var who whoColumns
	_, err = pgx.ForEachRow(rows, []any{&ids, &at, &who.customers, &who.journeys, &who.devices, &who.anonymous, &who.users, &channels, &values, &currencies, &weights}, func() error {
		for i := range ids {
			if at[i].Before(from) || !at[i].Before(to) {
				continue
			}
			c := Conversion{EventID: ids[i], OccurredAt: at[i], Who: who.at(i), Channel: channels[i], ValueMicros: values[i], Currency: currencies[i], AttributionWeight: weights[i]}
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read conversions of %s: %w", tenant, err)
	}
	return nil
}

// eraseJourneySQL rewrites the arrays of every row that mentions the subject ($2)
// without the subject's elements, keeping them aligned (ordinality), and returns how
// many elements went. As in trimJourneysSQL, the rows' element counts are taken
// before the update from a locked read of the same rows, because RETURNING sees only
// the new values: only the rows that mention the subject are read, not the tenant's
// whole table. %[2]s lists the table's array columns, %[3]s their aggregates and
// %[4]s them qualified by t.
const eraseJourneySQL = `WITH old AS (
	SELECT tenant_id, day, topic, partition, first_offset, cardinality(event_ids) AS n FROM %[1]s
	WHERE tenant_id = $1 AND ($2 = ANY(customer_ids) OR $2 = ANY(device_ids) OR $2 = ANY(anonymous_ids) OR $2 = ANY(user_ids))
	FOR UPDATE),
erased AS (
	UPDATE %[1]s t SET (%[2]s) = (
		SELECT %[3]s FROM unnest(%[4]s) WITH ORDINALITY AS u(%[2]s, ord)
		WHERE $2 NOT IN (u.customer_ids, u.device_ids, u.anonymous_ids, u.user_ids))
	FROM old
	WHERE t.tenant_id = old.tenant_id AND t.day = old.day AND t.topic = old.topic
		AND t.partition = old.partition AND t.first_offset = old.first_offset
	RETURNING old.n - cardinality(t.event_ids) AS gone)
SELECT coalesce(sum(gone), 0) FROM erased`

var journeyArrays = map[string][]string{
	"journey_touchpoints": {"event_ids", "occurred_at", "customer_ids", "journey_ids", "device_ids", "anonymous_ids", "user_ids", "channels", "interaction_types", "campaign_ids"},
	"journey_conversions": {"event_ids", "occurred_at", "customer_ids", "journey_ids", "device_ids", "anonymous_ids", "user_ids", "channels", "value_micros", "currencies", "attribution_weights"},
}

// EraseSubject removes every touchpoint and conversion of one subject (by customer,
// device, anonymous or user id) and returns how many went.
func (j Journeys) EraseSubject(ctx context.Context, tenant, subject string) (int64, error) {
	var removed int64
	for _, table := range []string{"journey_touchpoints", "journey_conversions"} {
		n, err := j.eraseFrom(ctx, table, tenant, subject)
		if err != nil {
			return removed, fmt.Errorf("erase %s/%s from %s: %w", tenant, subject, table, err)
		}
		removed += n
	}
	return removed, nil
}

func (j Journeys) eraseFrom(ctx context.Context, table, tenant, subject string) (int64, error) {
	cols, aggs, tCols := journeyArraysSQL(table, "coalesce(array_agg(u.%[1]s ORDER BY ord), '{}')")
	var removed int64
	err := pgx.BeginFunc(ctx, j.DB, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, fmt.Sprintf(eraseJourneySQL, table, cols, aggs, tCols), tenant, subject).Scan(&removed); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE tenant_id = $1 AND cardinality(event_ids) = 0`, table), tenant)
		return err
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// journeyArraysSQL returns table's array columns as a list, each as the aggregate
// aggFormat makes of it (%[1]s is the column), and each qualified by t.
func journeyArraysSQL(table, aggFormat string) (cols, aggs, tCols string) {
	names := journeyArrays[table]
	a := make([]string, len(names))
	t := make([]string, len(names))
	for i, c := range names {
		a[i] = fmt.Sprintf(aggFormat, c)
		t[i] = "t." + c
	}
	return strings.Join(names, ", "), strings.Join(a, ", "), strings.Join(t, ", ")
}

// ConversionTenants returns, sorted, the tenants with conversions that occurred in
// [from, to).
func (j Journeys) ConversionTenants(ctx context.Context, from, to time.Time) ([]string, error) {
	rows, err := j.DB.Query(ctx, `SELECT DISTINCT tenant_id FROM journey_conversions
		WHERE max_occurred_at >= $1 AND min_occurred_at < $2 ORDER BY tenant_id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("tenants with conversions: %w", err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("tenants with conversions: %w", err)
	}
	return tenants, nil
}
