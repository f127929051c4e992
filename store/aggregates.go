package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint"
	"github.com/touchpoint/touchpoint/aggregate"
)

// Aggregates reads the aggregate tables: bucket rows for the API, and totals and
// recent windows to rebuild the Redis view from. The consumer writes them with
// WriteDeltas, inside its batch transaction.
type Aggregates struct{ DB *pgxpool.Pool }

// WriteDeltas adds d to the aggregate tables within tx, the consumer's batch
// transaction, so aggregates change exactly when the batch's offsets advance.
//
// Each table takes one INSERT … ON CONFLICT over column arrays, whatever the number of
// rows. Rows are locked in one global order — tables in a fixed order, each table's
// rows sorted by primary key — so two transactions writing overlapping rows (two
// consumers during a rebalance) wait for each other instead of deadlocking. The order
// holds within one call: a transaction should make one, with its batch's merged deltas.
func WriteDeltas(ctx context.Context, tx pgx.Tx, d *aggregate.Deltas) error {
	return PrepareDeltas(d).Write(ctx, tx)
}

// PreparedDeltas are Deltas as the column arrays of their upserts: sorting and
// splitting tens of thousands of rows is CPU work the consumer does before its
// transaction, not inside it.
type PreparedDeltas struct {
	upserts []preparedUpsert
}

type preparedUpsert struct {
	t    *table
	rows int
	args []any
}

// PrepareDeltas sorts d's rows and lays them out as WriteDeltas writes them.
func PrepareDeltas(d *aggregate.Deltas) *PreparedDeltas {
	p := &PreparedDeltas{}
	for _, t := range tables {
		if rows := t.rows(d); len(rows) > 0 {
			p.upserts = append(p.upserts, preparedUpsert{t, len(rows), t.columns(rows)})
		}
	}
	return p
}

// Write upserts the prepared rows in tx, table by table in the global lock order.
func (p *PreparedDeltas) Write(ctx context.Context, tx pgx.Tx) error {
	for _, u := range p.upserts {
		if _, err := tx.Exec(ctx, u.t.upsert, u.args...); err != nil {
			return fmt.Errorf("upsert %d rows into %s: %w", u.rows, u.t.name, err)
		}
	}
	return nil
}

// Totals returns all of tenant's aggregates summed over time: the week rows summed
// over their buckets, with keys at level Week and bucket 0. The tables are read in one
// snapshot, so the figures are those of a single point between batches.
func (a Aggregates) Totals(ctx context.Context, tenant string) (*aggregate.Deltas, error) {
	d, err := a.readDeltas(ctx, func(t *table) (string, []any) {
		return t.totals, []any{tenant, string(aggregate.Week)}
	})
	if err != nil {
		return nil, fmt.Errorf("aggregate totals of %s: %w", tenant, err)
	}
	return d, nil
}

// Recent returns tenant's 5-second windows starting at or after since, read in one
// snapshot.
func (a Aggregates) Recent(ctx context.Context, tenant string, since time.Time) (*aggregate.Deltas, error) {
	d, err := a.readDeltas(ctx, func(t *table) (string, []any) {
		return t.recent, []any{tenant, string(aggregate.Window), since}
	})
	if err != nil {
		return nil, fmt.Errorf("recent windows of %s: %w", tenant, err)
	}
	return d, nil
}

// readDeltas reads every table with the statement query picks, in one read-only
// snapshot: a batch committing between two tables would otherwise show in one family
// and not in another.
func (a Aggregates) readDeltas(ctx context.Context, query func(*table) (string, []any)) (*aggregate.Deltas, error) {
	d := aggregate.New()
	err := a.snapshot(ctx, func(tx pgx.Tx) error {
		for _, t := range tables {
			sql, args := query(t)
			if err := t.read(ctx, tx, d, sql, args); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		return nil
	})
	return d, err
}

func (a Aggregates) snapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	return pgx.BeginTxFunc(ctx, a.DB, opts, fn)
}

// row is one aggregate row in the shape all tables share: its slot, its text columns
// (the primary key's after the slot, then the replaced ones) and its sums, in the
// order of its table's column lists.
type row struct {
	tenant string
	level  aggregate.Level
	bucket aggregate.Bucket
	texts  []string
	sums   []int64
}

// compareRows orders rows by primary key. Any total order would do, as long as every
// writer uses the same one; the replaced texts never decide, since keys are unique.
func compareRows(a, b row) int {
	return cmp.Or(
		strings.Compare(a.tenant, b.tenant),
		strings.Compare(string(a.level), string(b.level)),
		cmp.Compare(a.bucket, b.bucket),
		slices.Compare(a.texts, b.texts),
	)
}

// table maps one family of aggregate.Deltas to its table.
type table struct {
	name     string
	keys     []string // primary key columns after (tenant_id, level, bucket)
	replaced []string // text columns that take the latest delta's value
	sums     []string // bigint columns that deltas add to
	// rows returns d's rows of this family, in any order.
	rows func(d *aggregate.Deltas) []row
	// put stores a row read from the table into d.
	put func(d *aggregate.Deltas, r row)
	// Statements built from the column lists.
	upsert, totals, recent string
}

func newTable(name string, keys, replaced, sums []string, rows func(*aggregate.Deltas) []row, put func(*aggregate.Deltas, row)) *table {
	t := &table{name: name, keys: keys, replaced: replaced, sums: sums, put: put}
	t.rows = func(d *aggregate.Deltas) []row {
		r := rows(d)
		slices.SortFunc(r, compareRows)
		return r
	}
	t.upsert = t.upsertSQL()
	t.totals = t.totalsSQL()
	t.recent = t.recentSQL()
	return t
}

// tables lists every aggregate table in the order WriteDeltas locks them in.
var tables = []*table{
	newTable("agg_campaign",
		[]string{"campaign_id", "channel"}, []string{"currency"},
		[]string{"impressions", "clicks", "conversions", "cost_micros", "revenue_micros", "events"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.Campaigns, func(k aggregate.CampaignKey, v *aggregate.CampaignDelta) row {
				return row{k.Tenant, k.Level, k.Bucket,
					[]string{k.CampaignID, k.Channel, v.Currency},
					[]int64{v.Impressions, v.Clicks, v.Conversions, v.CostMicros, v.RevenueMicros, v.Events}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.Campaigns[aggregate.CampaignKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, CampaignID: r.texts[0], Channel: r.texts[1]}] =
				&aggregate.CampaignDelta{Currency: r.texts[2], Impressions: r.sums[0], Clicks: r.sums[1], Conversions: r.sums[2],
					CostMicros: r.sums[3], RevenueMicros: r.sums[4], Events: r.sums[5]}
		}),
	newTable("agg_channel",
		[]string{"channel"}, nil,
		[]string{"journeys_started", "stage_changes", "conversions"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.Channels, func(k aggregate.ChannelKey, v *aggregate.ChannelDelta) row {
				return row{k.Tenant, k.Level, k.Bucket, []string{k.Channel}, []int64{v.JourneysStarted, v.StageChanges, v.Conversions}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.Channels[aggregate.ChannelKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, Channel: r.texts[0]}] =
				&aggregate.ChannelDelta{JourneysStarted: r.sums[0], StageChanges: r.sums[1], Conversions: r.sums[2]}
		}),
	newTable("agg_conversion_value",
		[]string{"channel", "currency"}, nil, []string{"value_micros"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.ConversionValues, func(k aggregate.ConversionValueKey, v int64) row {
				return row{k.Tenant, k.Level, k.Bucket, []string{k.Channel, k.Currency}, []int64{v}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.ConversionValues[aggregate.ConversionValueKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, Channel: r.texts[0], Currency: r.texts[1]}] = r.sums[0]
		}),
	newTable("agg_interaction",
		[]string{"channel", "interaction_type"}, nil, []string{"interactions"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.Interactions, func(k aggregate.InteractionKey, v int64) row {
				return row{k.Tenant, k.Level, k.Bucket, []string{k.Channel, k.InteractionType}, []int64{v}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.Interactions[aggregate.InteractionKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, Channel: r.texts[0], InteractionType: r.texts[1]}] = r.sums[0]
		}),
	newTable("agg_variant",
		[]string{"variant_id"}, nil,
		[]string{"views", "clicks", "conversions", "engagement_micros", "engagement_count"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.Variants, func(k aggregate.VariantKey, v *aggregate.VariantDelta) row {
				return row{k.Tenant, k.Level, k.Bucket, []string{k.VariantID},
					[]int64{v.Views, v.Clicks, v.Conversions, v.EngagementMicros, v.EngagementCount}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.Variants[aggregate.VariantKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, VariantID: r.texts[0]}] =
				&aggregate.VariantDelta{Views: r.sums[0], Clicks: r.sums[1], Conversions: r.sums[2], EngagementMicros: r.sums[3], EngagementCount: r.sums[4]}
		}),
	newTable("agg_event_type",
		[]string{"event_type"}, nil, []string{"events"},
		func(d *aggregate.Deltas) []row {
			return toRows(d.EventTypes, func(k aggregate.EventTypeKey, v int64) row {
				return row{k.Tenant, k.Level, k.Bucket, []string{k.EventType}, []int64{v}}
			})
		},
		func(d *aggregate.Deltas, r row) {
			d.EventTypes[aggregate.EventTypeKey{Tenant: r.tenant, Level: r.level, Bucket: r.bucket, EventType: r.texts[0]}] = r.sums[0]
		}),
}

func toRows[K comparable, V any](m map[K]V, toRow func(K, V) row) []row {
	out := make([]row, 0, len(m))
	for k, v := range m {
		out = append(out, toRow(k, v))
	}
	return out
}

// slotColumns lead every aggregate table's primary key.
var slotColumns = []string{"tenant_id", "level", "bucket"}

func (t *table) texts() []string { return slices.Concat(t.keys, t.replaced) }

// upsertSQL inserts rows given as one array per column, in array order (so in the
// order the rows were sorted in), adding the sums to an existing row's.
func (t *table) upsertSQL() string {
	cols := slices.Concat(slotColumns, t.texts(), t.sums)
	params := make([]string, len(cols))
	for i := range cols {
		typ := "text"
		switch {
		case i == 2:
			typ = "timestamptz"
		case i >= len(cols)-len(t.sums):
			typ = "bigint"
		}
		params[i] = fmt.Sprintf("$%d::%s[]", i+1, typ)
	}
	var set []string
	for _, c := range t.sums {
		set = append(set, fmt.Sprintf("%s = a.%[1]s + excluded.%[1]s", c))
	}
	for _, c := range t.replaced {
		set = append(set, fmt.Sprintf("%s = excluded.%[1]s", c))
	}
	set = append(set, "updated_at = excluded.updated_at")
	list := strings.Join(cols, ", ")
	return fmt.Sprintf(`INSERT INTO %s AS a (%s, updated_at)
SELECT %s, now() FROM unnest(%s) WITH ORDINALITY AS r(%s, ord) ORDER BY ord
ON CONFLICT (%s) DO UPDATE SET %s`,
		t.name, list, list, strings.Join(params, ", "), list,
		strings.Join(slices.Concat(slotColumns, t.keys), ", "), strings.Join(set, ", "))
}

// totalsSQL sums one tenant's rows of a level over all buckets; a replaced column
// takes its latest bucket's value.
func (t *table) totalsSQL() string {
	sel := []string{"0::bigint"}
	sel = append(sel, t.keys...)
	for _, c := range t.replaced {
		sel = append(sel, fmt.Sprintf("(array_agg(%s ORDER BY bucket DESC))[1]", c))
	}
	for _, c := range t.sums {
		sel = append(sel, fmt.Sprintf("sum(%s)::bigint", c))
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE tenant_id = $1 AND level = $2 GROUP BY %s",
		strings.Join(sel, ", "), t.name, strings.Join(t.keys, ", "))
}

// recentSQL reads one tenant's rows of a level from a bucket on.
func (t *table) recentSQL() string {
	sel := slices.Concat([]string{"extract(epoch FROM bucket)::bigint"}, t.texts(), t.sums)
	return fmt.Sprintf("SELECT %s FROM %s WHERE tenant_id = $1 AND level = $2 AND bucket >= $3",
		strings.Join(sel, ", "), t.name)
}

// columns turns rows into the upsert's arguments, one array per column.
func (t *table) columns(rows []row) []any {
	tenants := make([]string, len(rows))
	levels := make([]string, len(rows))
	buckets := make([]time.Time, len(rows))
	texts := make([][]string, len(t.keys)+len(t.replaced))
	for i := range texts {
		texts[i] = make([]string, len(rows))
	}
	sums := make([][]int64, len(t.sums))
	for i := range sums {
		sums[i] = make([]int64, len(rows))
	}
	for i, r := range rows {
		tenants[i], levels[i], buckets[i] = r.tenant, string(r.level), aggregate.BucketTime(r.bucket)
		for j, v := range r.texts {
			texts[j][i] = v
		}
		for j, v := range r.sums {
			sums[j][i] = v
		}
	}
	args := []any{tenants, levels, buckets}
	for _, c := range texts {
		args = append(args, c)
	}
	for _, c := range sums {
		args = append(args, c)
	}
	return args
}

// read runs sql, which selects a bucket in Unix seconds, the texts and the sums, and
// puts each row into d under the level of args[1].
func (t *table) read(ctx context.Context, tx pgx.Tx, d *aggregate.Deltas, sql string, args []any) error {
	r := row{
		tenant: args[0].(string),
		level:  aggregate.Level(args[1].(string)),
		texts:  make([]string, len(t.keys)+len(t.replaced)),
		sums:   make([]int64, len(t.sums)),
	}
	dest := []any{&r.bucket}
	for i := range r.texts {
		dest = append(dest, &r.texts[i])
	}
	for i := range r.sums {
		dest = append(dest, &r.sums[i])
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, dest, func() error { t.put(d, r); return nil })
	return err
}

// Query selects the bucket rows of one tenant at one level. Empty filters select all.
type Query struct {
	Tenant string
	Level  aggregate.Level
	// From and To bound the buckets' start times: From <= start < To.
	From, To time.Time
	// CampaignID filters Campaigns.
	CampaignID string
	// Channel filters Campaigns and Channels.
	Channel string
	// VariantID filters Variants.
	VariantID string
}

// Filters a query method applies; Query.check rejects the others rather than ignore
// them, since an ignored filter would silently answer a different question.
const (
	byCampaign = 1 << iota
	byChannel
	byVariant
)

func (q Query) check(filters int) error {
	switch {
	case q.Tenant == "":
		return touchpoint.Errorf(touchpoint.EInvalid, "tenant is required")
	case !slices.Contains(aggregate.Levels, q.Level):
		return touchpoint.Errorf(touchpoint.EInvalid, "level must be one of %v, got %q", aggregate.Levels, q.Level)
	case !q.From.Before(q.To):
		return touchpoint.Errorf(touchpoint.EInvalid, "from (%s) must be before to (%s)", q.From, q.To)
	case q.CampaignID != "" && filters&byCampaign == 0:
		return touchpoint.Errorf(touchpoint.EInvalid, "campaign_id does not apply here")
	case q.Channel != "" && filters&byChannel == 0:
		return touchpoint.Errorf(touchpoint.EInvalid, "channel does not apply here")
	case q.VariantID != "" && filters&byVariant == 0:
		return touchpoint.Errorf(touchpoint.EInvalid, "variant_id does not apply here")
	}
	return nil
}

// args are the query's parameters: $1 tenant, $2 level, $3 from, $4 to, then filters.
func (q Query) args(filters ...string) []any {
	args := []any{q.Tenant, string(q.Level), q.From, q.To}
	for _, f := range filters {
		args = append(args, f)
	}
	return args
}

// The API's row types hold money and engagement scores in micro-units, as stored,
// so JSON clients get exact integers.

// CampaignRow is one campaign on one channel in one bucket.
type CampaignRow struct {
	Bucket        time.Time `json:"bucket,omitzero"`
	CampaignID    string    `json:"campaign_id"`
	Channel       string    `json:"channel"`
	Currency      string    `json:"currency,omitempty"`
	Impressions   int64     `json:"impressions"`
	Clicks        int64     `json:"clicks"`
	Conversions   int64     `json:"conversions"`
	CostMicros    int64     `json:"cost_micros"`
	RevenueMicros int64     `json:"revenue_micros"`
	Events        int64     `json:"events"`
}

// ChannelRow is one channel in one bucket. Journey events count under the channel of
// their last touchpoint; Interactions counts every touchpoint under its own channel.
type ChannelRow struct {
	Bucket          time.Time `json:"bucket,omitzero"`
	Channel         string    `json:"channel"`
	JourneysStarted int64     `json:"journeys_started"`
	StageChanges    int64     `json:"stage_changes"`
	Conversions     int64     `json:"conversions"`
	// ConversionValueMicros is the conversions' value by currency.
	ConversionValueMicros map[string]int64 `json:"conversion_value_micros,omitempty"`
	// Interactions counts touchpoints by interaction type.
	Interactions map[string]int64 `json:"interactions,omitempty"`
}

// VariantRow is one content variant in one bucket; its mean engagement score is
// EngagementMicros / EngagementCount / 1e6.
type VariantRow struct {
	Bucket           time.Time `json:"bucket,omitzero"`
	VariantID        string    `json:"variant_id"`
	Views            int64     `json:"views"`
	Clicks           int64     `json:"clicks"`
	Conversions      int64     `json:"conversions"`
	EngagementMicros int64     `json:"engagement_micros"`
	EngagementCount  int64     `json:"engagement_count"`
}

// EventTypeRow counts one event type in one bucket.
type EventTypeRow struct {
	Bucket    time.Time `json:"bucket,omitzero"`
	EventType string    `json:"event_type"`
	Events    int64     `json:"events"`
}

// Every API query selects updated_at last; scanRows reads it into the freshness.
const (
	campaignsSQL = `SELECT bucket, campaign_id, channel, currency, impressions, clicks, conversions,
	cost_micros, revenue_micros, events, updated_at
FROM agg_campaign
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4
	AND ($5 = '' OR campaign_id = $5) AND ($6 = '' OR channel = $6)
ORDER BY bucket, campaign_id, channel`

	channelsSQL = `SELECT bucket, channel, journeys_started, stage_changes, conversions, updated_at
FROM agg_channel
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4 AND ($5 = '' OR channel = $5)`

	conversionValuesSQL = `SELECT bucket, channel, currency, value_micros, updated_at
FROM agg_conversion_value
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4 AND ($5 = '' OR channel = $5)`

	interactionsSQL = `SELECT bucket, channel, interaction_type, interactions, updated_at
FROM agg_interaction
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4 AND ($5 = '' OR channel = $5)`

	variantsSQL = `SELECT bucket, variant_id, views, clicks, conversions, engagement_micros, engagement_count, updated_at
FROM agg_variant
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4 AND ($5 = '' OR variant_id = $5)
ORDER BY bucket, variant_id`

	eventTypesSQL = `SELECT bucket, event_type, events, updated_at
FROM agg_event_type
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4
ORDER BY bucket, event_type`
)

// Campaigns returns the campaign rows q selects (filters: CampaignID, Channel),
// ordered by bucket, campaign and channel, and when the latest of them last changed.
func (a Aggregates) Campaigns(ctx context.Context, q Query) ([]CampaignRow, time.Time, error) {
	if err := q.check(byCampaign | byChannel); err != nil {
		return nil, time.Time{}, err
	}
	var out []CampaignRow
	var r CampaignRow
	fresh, err := scanRows(ctx, a.DB, campaignsSQL, q.args(q.CampaignID, q.Channel),
		[]any{&r.Bucket, &r.CampaignID, &r.Channel, &r.Currency, &r.Impressions, &r.Clicks, &r.Conversions,
			&r.CostMicros, &r.RevenueMicros, &r.Events},
		func() { r.Bucket = r.Bucket.UTC(); out = append(out, r) })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("campaign aggregates of %s: %w", q.Tenant, err)
	}
	return out, fresh, nil
}

// Channels returns the channel rows q selects (filter: Channel), ordered by bucket and
// channel, and when the latest of them last changed. A row exists for every channel
// and bucket with journey counts, conversion value or touchpoints.
func (a Aggregates) Channels(ctx context.Context, q Query) ([]ChannelRow, time.Time, error) {
	if err := q.check(byChannel); err != nil {
		return nil, time.Time{}, err
	}
	type at struct {
		bucket  int64
		channel string
	}
	byAt := map[at]*ChannelRow{}
	get := func(bucket time.Time, channel string) *ChannelRow {
		k := at{bucket.Unix(), channel}
		r := byAt[k]
		if r == nil {
			r = &ChannelRow{Bucket: bucket.UTC(), Channel: channel}
			byAt[k] = r
		}
		return r
	}
	var fresh time.Time
	err := a.snapshot(ctx, func(tx pgx.Tx) error {
		var bucket time.Time
		var channel, key string
		var counts [3]int64
		f1, err := scanRows(ctx, tx, channelsSQL, q.args(q.Channel),
			[]any{&bucket, &channel, &counts[0], &counts[1], &counts[2]},
			func() {
				r := get(bucket, channel)
				r.JourneysStarted, r.StageChanges, r.Conversions = counts[0], counts[1], counts[2]
			})
		if err != nil {
			return err
		}
		f2, err := scanRows(ctx, tx, conversionValuesSQL, q.args(q.Channel),
			[]any{&bucket, &channel, &key, &counts[0]},
			func() { addTo(&get(bucket, channel).ConversionValueMicros, key, counts[0]) })
		if err != nil {
			return err
		}
		f3, err := scanRows(ctx, tx, interactionsSQL, q.args(q.Channel),
			[]any{&bucket, &channel, &key, &counts[0]},
			func() { addTo(&get(bucket, channel).Interactions, key, counts[0]) })
		fresh = slices.MaxFunc([]time.Time{f1, f2, f3}, time.Time.Compare)
		return err
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("channel aggregates of %s: %w", q.Tenant, err)
	}
	out := make([]ChannelRow, 0, len(byAt))
	for _, k := range slices.SortedFunc(maps.Keys(byAt), func(a, b at) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), strings.Compare(a.channel, b.channel))
	}) {
		out = append(out, *byAt[k])
	}
	return out, fresh, nil
}

// Variants returns the variant rows q selects (filter: VariantID), ordered by bucket
// and variant, and when the latest of them last changed.
func (a Aggregates) Variants(ctx context.Context, q Query) ([]VariantRow, time.Time, error) {
	if err := q.check(byVariant); err != nil {
		return nil, time.Time{}, err
	}
	var out []VariantRow
	var r VariantRow
	fresh, err := scanRows(ctx, a.DB, variantsSQL, q.args(q.VariantID),
		[]any{&r.Bucket, &r.VariantID, &r.Views, &r.Clicks, &r.Conversions, &r.EngagementMicros, &r.EngagementCount},
		func() { r.Bucket = r.Bucket.UTC(); out = append(out, r) })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("variant aggregates of %s: %w", q.Tenant, err)
	}
	return out, fresh, nil
}

// EventTypes returns the event counts q selects (no filters), ordered by bucket and
// type, and when the latest of them last changed.
func (a Aggregates) EventTypes(ctx context.Context, q Query) ([]EventTypeRow, time.Time, error) {
	if err := q.check(0); err != nil {
		return nil, time.Time{}, err
	}
	var out []EventTypeRow
	var r EventTypeRow
	fresh, err := scanRows(ctx, a.DB, eventTypesSQL, q.args(),
		[]any{&r.Bucket, &r.EventType, &r.Events},
		func() { r.Bucket = r.Bucket.UTC(); out = append(out, r) })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("event type aggregates of %s: %w", q.Tenant, err)
	}
	return out, fresh, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// scanRows runs sql, scans each row into dest plus a trailing updated_at, and calls
// each after every row. It returns the latest updated_at, zero if there were no rows.
func scanRows(ctx context.Context, db querier, sql string, args []any, dest []any, each func()) (time.Time, error) {
	var updated, latest time.Time
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return time.Time{}, err
	}
	_, err = pgx.ForEachRow(rows, append(dest, &updated), func() error {
		if updated.After(latest) {
			latest = updated
		}
		each()
		return nil
	})
	return latest.UTC(), err
}

func addTo(m *map[string]int64, key string, v int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += v
}

// PruneLevel deletes a level's rows older than before from every aggregate table and
// returns how many went. Maintenance uses it to keep 5-second windows for days, not
// for ever; coarser levels are small and kept.
func (a Aggregates) PruneLevel(ctx context.Context, l aggregate.Level, before time.Time) (int64, error) {
	var n int64
	for _, t := range tables {
		tag, err := a.DB.Exec(ctx, "DELETE FROM "+t.name+" WHERE level = $1 AND bucket < $2", string(l), before)
		if err != nil {
			return n, fmt.Errorf("prune %s rows of %s: %w", l, t.name, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}
