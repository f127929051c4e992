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

// ProfileScores stores what the profile models compute: the customers' RFM and
// behaviour summaries, their scores, the BG/NBD + Gamma-Gamma model versions, the
// dynamic segments and their members.
type ProfileScores struct{ DB *pgxpool.Pool }

// RFM is one customer's purchase summary over a calibration period, in the units of
// clv.Customer: X repeat purchase days, Tx and T in weeks since the first purchase,
// MeanSpend per repeat purchase in currency units. HoldoutX counts purchase days in
// the holdout period after the calibration.
type RFM struct {
	CustomerID       string
	X, Tx, T         float64
	MeanSpend        float64
	HoldoutX         float64
	Conversions      int     // conversion events (not days) in the calibration
	Revenue          float64 // their value, in currency units
	LastConversionAt time.Time
}

// rfmSQL aggregates journey_conversions into per-customer RFM summaries: $1 tenant,
// $2 first day, $3 calibration end (exclusive day), $4 end of the holdout (exclusive
// day). Purchases are counted per day, as clv.Summarise does, because the models
// count purchase occasions, not order lines. Values of different currencies are
// summed as they are: a tenant reports in one currency.
const rfmSQL = `
WITH conv AS (
	SELECT u.customer_id, (u.occurred_at AT TIME ZONE 'UTC')::date AS day,
		sum(u.value_micros) AS micros, count(*) AS n, max(u.occurred_at) AS last_at
	FROM journey_conversions c,
		unnest(c.customer_ids, c.occurred_at, c.value_micros) AS u(customer_id, occurred_at, value_micros)
	WHERE c.tenant_id = $1 AND c.max_occurred_at >= $2::date AND c.min_occurred_at < $4::date
		AND u.customer_id <> '' AND u.occurred_at >= $2::date AND u.occurred_at < $4::date
	GROUP BY 1, 2
), firsts AS (
	SELECT customer_id, min(day) AS first FROM conv GROUP BY 1
)
SELECT c.customer_id,
	count(*) FILTER (WHERE c.day > f.first AND c.day < $3::date)::float8 AS x,
	(max(c.day) FILTER (WHERE c.day < $3::date) - f.first) / 7.0::float8 AS t_x,
	($3::date - f.first) / 7.0::float8 AS t_weeks,
	coalesce(sum(c.micros) FILTER (WHERE c.day > f.first AND c.day < $3::date)::float8
		/ nullif(count(*) FILTER (WHERE c.day > f.first AND c.day < $3::date), 0), 0) / 1e6 AS mean_spend,
	count(*) FILTER (WHERE c.day >= $3::date)::float8 AS holdout_x,
	coalesce(sum(c.n) FILTER (WHERE c.day < $3::date), 0)::int AS conversions,
	coalesce(sum(c.micros) FILTER (WHERE c.day < $3::date), 0)::float8 / 1e6 AS revenue,
	max(c.last_at) FILTER (WHERE c.day < $3::date) AS last_conversion_at
FROM conv c JOIN firsts f USING (customer_id)
WHERE f.first < $3::date
GROUP BY c.customer_id, f.first`

// RFMSummaries returns, by customer id, the RFM summary of every customer whose first
// conversion falls in [from, calibrationEnd), with the holdout purchases in
// [calibrationEnd, end). Days are UTC days; the aggregation runs in Postgres.
func (s ProfileScores) RFMSummaries(ctx context.Context, tenant string, from, calibrationEnd, end time.Time) ([]RFM, error) {
	rows, err := s.DB.Query(ctx, rfmSQL+` ORDER BY c.customer_id`, tenant, day(from), day(calibrationEnd), day(end))
	if err != nil {
		return nil, fmt.Errorf("store: rfm summaries of %s: %w", tenant, err)
	}
	var out []RFM
	var r RFM
	var last *time.Time
	_, err = pgx.ForEachRow(rows, []any{&r.CustomerID, &r.X, &r.Tx, &r.T, &r.MeanSpend, &r.HoldoutX, &r.Conversions, &r.Revenue, &last}, func() error {
		r.LastConversionAt = utcOrZero(last)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: rfm summaries of %s: %w", tenant, err)
	}
	return out, nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-infinity"
	}
	return t.UTC().Format(time.DateOnly)
}

// Engagement windows of the summaries' touchpoint counts, as Postgres intervals.
const (
	recentWindow = "30 days"
	olderWindow  = "90 days"
)

// BuildSummaries rebuilds the tenant's profile_summaries as of asOf, in one
// transaction and one aggregation: the RFM summary of every customer's conversions up
// to asOf's day (included), the touchpoints of the last 90 days (last seen, counts of
// 30 and 90 days, distinct channels) and, with zeros, every customer that only has a
// CDP profile. It returns the number of customers summarised.
func (s ProfileScores) BuildSummaries(ctx context.Context, tenant string, asOf time.Time) (int64, error) {
	asOf = asOf.UTC()
	end := asOf.Truncate(24 * time.Hour).Add(24 * time.Hour)
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: build summaries of %s: %w", tenant, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM profile_summaries WHERE tenant_id = $1`, tenant); err != nil {
		return 0, fmt.Errorf("store: build summaries of %s: clear: %w", tenant, err)
	}
	tag, err := tx.Exec(ctx, `
	WITH rfm AS (`+rfmSQL+`),
	tp AS (
		SELECT u.customer_id, max(u.occurred_at) AS last_seen,
			count(*) FILTER (WHERE u.occurred_at >= $5::timestamptz - $7::interval) AS n30, count(*) AS n90,
			count(DISTINCT u.channel) AS channels
		FROM journey_touchpoints t,
			unnest(t.customer_ids, t.occurred_at, t.channels) AS u(customer_id, occurred_at, channel)
		WHERE t.tenant_id = $1 AND t.max_occurred_at >= $5::timestamptz - $6::interval AND u.customer_id <> ''
			AND u.occurred_at >= $5::timestamptz - $6::interval AND u.occurred_at <= $5::timestamptz
		GROUP BY 1
	),
	cdp AS (SELECT customer_id FROM customer_profiles WHERE tenant_id = $1)
	INSERT INTO profile_summaries (tenant_id, customer_id, x, t_x, t_weeks, mean_spend, conversions, revenue,
		last_seen, touchpoints_30d, touchpoints_90d, channels, as_of)
	SELECT $1, customer_id, coalesce(x, 0), coalesce(t_x, 0), coalesce(t_weeks, 0), coalesce(mean_spend, 0),
		coalesce(conversions, 0), coalesce(revenue, 0),
		nullif(greatest(coalesce(last_seen, '-infinity'), coalesce(last_conversion_at, '-infinity')), '-infinity'),
		coalesce(n30, 0), coalesce(n90, 0), coalesce(channels, 0), $5
	FROM rfm FULL JOIN tp USING (customer_id) FULL JOIN cdp USING (customer_id)`,
		tenant, "-infinity", day(end), day(end), asOf, olderWindow, recentWindow)
	if err != nil {
		return 0, fmt.Errorf("store: build summaries of %s: %w", tenant, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("store: build summaries of %s: %w", tenant, err)
	}
	// Fresh statistics, so the chunked reads that follow are planned on the table
	// as it now is, not as it was before a tenant's million rows arrived.
	if _, err := s.DB.Exec(ctx, `ANALYZE profile_summaries`); err != nil {
		return 0, fmt.Errorf("store: analyze summaries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ProfileSummary is one customer's row of profile_summaries with the CDP profile
// fields segment rules read (Traits nil when the customer has no CDP profile).
type ProfileSummary struct {
	RFM
	LastSeen                       time.Time
	Touchpoints30d, Touchpoints90d int
	Channels                       int
	// From customer_profiles, zero when the customer has no row there yet.
	Traits           map[string]any
	GDPR, CCPA       bool
	RampID           string
	Sources          []string
	SourceTimestamp  time.Time
	ConsentTimestamp time.Time
	UpdatedAt        time.Time
}

// Summaries returns up to limit summaries of customers after `after`, in customer-id
// order: one chunk of a refresh.
func (s ProfileScores) Summaries(ctx context.Context, tenant, after string, limit int) ([]ProfileSummary, error) {
	// The chunk is taken first, in primary-key order, and each row's profile looked
	// up by primary key (LATERAL): a plain join let the planner, misled by a
	// customer_profiles that the refresh itself is filling, scan it per row.
	rows, err := s.DB.Query(ctx, `WITH chunk AS MATERIALIZED (
			SELECT * FROM profile_summaries WHERE tenant_id = $1 AND customer_id > $2 ORDER BY customer_id LIMIT $3)
		SELECT s.customer_id, s.x, s.t_x, s.t_weeks, s.mean_spend, s.conversions, s.revenue,
			s.last_seen, s.touchpoints_30d, s.touchpoints_90d, s.channels,
			p.traits, coalesce(p.gdpr, false), coalesce(p.ccpa, false), p.ramp_id, p.sources, p.source_timestamp,
			p.consent_timestamp, p.updated_at
		FROM chunk s LEFT JOIN LATERAL (SELECT * FROM customer_profiles cp
			WHERE cp.tenant_id = $1 AND cp.customer_id = s.customer_id) p ON true
		ORDER BY s.customer_id`, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: profile summaries of %s: %w", tenant, err)
	}
	out := make([]ProfileSummary, 0, limit)
	var p ProfileSummary
	var traits []byte
	var lastSeen, src, consent, updated *time.Time
	var ramp *string
	_, err = pgx.ForEachRow(rows, []any{&p.CustomerID, &p.X, &p.Tx, &p.T, &p.MeanSpend, &p.Conversions, &p.Revenue,
		&lastSeen, &p.Touchpoints30d, &p.Touchpoints90d, &p.Channels, &traits, &p.GDPR, &p.CCPA, &ramp, &p.Sources, &src, &consent, &updated}, func() error {
		p.Traits = nil
		if traits != nil {
			if err := decodeTraits(traits, &p.Traits); err != nil {
				return fmt.Errorf("profile %s traits: %w", p.CustomerID, err)
			}
		}
		p.LastSeen, p.SourceTimestamp, p.ConsentTimestamp, p.UpdatedAt = utcOrZero(lastSeen), utcOrZero(src), utcOrZero(consent), utcOrZero(updated)
		p.RampID = ""
		if ramp != nil {
			p.RampID = *ramp
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: profile summaries of %s: %w", tenant, err)
	}
	return out, nil
}

// Scores are one customer's computed scores. The predictive ones are nil while the
// tenant has no promoted model.
type Scores struct {
	CustomerID           string    `json:"-"`
	LTV                  *float64  `json:"ltv"`
	ChurnProbability     *float64  `json:"churn_probability"`
	PAlive               *float64  `json:"p_alive"`
	ExpectedPurchases90d *float64  `json:"expected_purchases_90d"`
	EngagementScore      *float64  `json:"engagement_score"`
	ScoredAt             time.Time `json:"scored_at"`
	ModelVersion         int64     `json:"model_version,omitempty"`
}

// WriteScores writes the scores of many customers: COPY into a temporary table, then
// one upsert into customer_profiles, which creates the profile of a customer known so
// far only from events. Only the score columns of existing profiles change.
func (s ProfileScores) WriteScores(ctx context.Context, tenant string, scores []Scores) error {
	if len(scores) == 0 {
		return nil
	}
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: write scores of %s: %w", tenant, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE profile_scores_in (customer_id text, ltv float8, churn_probability float8,
		p_alive float8, expected_purchases_90d float8, engagement_score float8, scored_at timestamptz, model_version bigint) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("store: write scores of %s: %w", tenant, err)
	}
	cols := []string{"customer_id", "ltv", "churn_probability", "p_alive", "expected_purchases_90d", "engagement_score", "scored_at", "model_version"}
	src := pgx.CopyFromSlice(len(scores), func(i int) ([]any, error) {
		sc := scores[i]
		var version any
		if sc.ModelVersion != 0 {
			version = sc.ModelVersion
		}
		return []any{sc.CustomerID, sc.LTV, sc.ChurnProbability, sc.PAlive, sc.ExpectedPurchases90d, sc.EngagementScore, sc.ScoredAt.UTC(), version}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"profile_scores_in"}, cols, src); err != nil {
		return fmt.Errorf("store: write scores of %s: copy: %w", tenant, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO customer_profiles (tenant_id, customer_id, ltv, churn_probability, p_alive,
			expected_purchases_90d, engagement_score, scored_at, model_version)
		SELECT $1, customer_id, ltv, churn_probability, p_alive, expected_purchases_90d, engagement_score, scored_at, model_version
		FROM profile_scores_in
		ON CONFLICT (tenant_id, customer_id) DO UPDATE SET ltv = EXCLUDED.ltv, churn_probability = EXCLUDED.churn_probability,
			p_alive = EXCLUDED.p_alive, expected_purchases_90d = EXCLUDED.expected_purchases_90d,
			engagement_score = EXCLUDED.engagement_score, scored_at = EXCLUDED.scored_at, model_version = EXCLUDED.model_version`, tenant); err != nil {
		return fmt.Errorf("store: write scores of %s: upsert: %w", tenant, err)
	}
	return tx.Commit(ctx)
}

// ScoresOf returns one customer's scores; ErrProfileNotFound when it has no profile.
func (s ProfileScores) ScoresOf(ctx context.Context, tenant, customerID string) (Scores, error) {
	sc := Scores{CustomerID: customerID}
	var at *time.Time
	var version *int64
	err := s.DB.QueryRow(ctx, `SELECT ltv, churn_probability, p_alive, expected_purchases_90d, engagement_score, scored_at, model_version
		FROM customer_profiles WHERE tenant_id = $1 AND customer_id = $2`, tenant, customerID).
		Scan(&sc.LTV, &sc.ChurnProbability, &sc.PAlive, &sc.ExpectedPurchases90d, &sc.EngagementScore, &at, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return sc, ErrProfileNotFound
	}
	if err != nil {
		return sc, fmt.Errorf("store: scores of %s/%s: %w", tenant, customerID, err)
	}
	sc.ScoredAt = utcOrZero(at)
	if version != nil {
		sc.ModelVersion = *version
	}
	return sc, nil
}

// ProfileModelMetrics are a fit's calibration log-likelihood and its errors on the
// holdout period: the mean absolute error per customer and the relative error of the
// total, predicted vs actual repeat purchases.
type ProfileModelMetrics struct {
	CalibrationLogLik float64 `json:"calibration_log_lik"`
	HoldoutMAE        float64 `json:"holdout_mae"`
	HoldoutRelError   float64 `json:"holdout_relative_error"`
	HoldoutPredicted  float64 `json:"holdout_predicted"`
	HoldoutActual     float64 `json:"holdout_actual"`
	Customers         int     `json:"customers"`
	HoldoutWeeks      float64 `json:"holdout_weeks"`
}

// ProfileModel is one stored version of a tenant's BG/NBD + Gamma-Gamma fit.
type ProfileModel struct {
	Tenant     string              `json:"tenant"`
	Version    int64               `json:"version"`
	TrainingID string              `json:"training_id"`
	Params     json.RawMessage     `json:"params"`
	Metrics    ProfileModelMetrics `json:"metrics"`
	TrainedAt  time.Time           `json:"trained_at"`
	Promoted   bool                `json:"promoted"`
}

// ErrNoProfileModel is returned when a tenant has no (promoted) profile model.
var ErrNoProfileModel = errors.New("no such profile model version")

// SaveModel stores m as a new, unpromoted version and returns its number; saving
// again with the same training id returns the stored version (a retry adds nothing).
func (s ProfileScores) SaveModel(ctx context.Context, m ProfileModel) (int64, error) {
	metrics, err := json.Marshal(m.Metrics)
	if err != nil {
		return 0, err
	}
	var v int64
	err = s.DB.QueryRow(ctx, `INSERT INTO profile_models (tenant_id, training_id, params, metrics) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, training_id) DO UPDATE SET training_id = EXCLUDED.training_id RETURNING version`,
		m.Tenant, m.TrainingID, []byte(m.Params), metrics).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: save profile model of %s: %w", m.Tenant, err)
	}
	return v, nil
}

// PromoteModel makes version the tenant's promoted model, unpromoting the previous one
// in the same transaction.
func (s ProfileScores) PromoteModel(ctx context.Context, tenant string, version int64) error {
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: promote profile model: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE profile_models SET promoted = false WHERE tenant_id = $1 AND promoted AND version <> $2`, tenant, version); err != nil {
		return fmt.Errorf("store: promote profile model: %w", err)
	}
	tag, err := tx.Exec(ctx, `UPDATE profile_models SET promoted = true WHERE tenant_id = $1 AND version = $2`, tenant, version)
	if err != nil {
		return fmt.Errorf("store: promote profile model: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNoProfileModel
	}
	return tx.Commit(ctx)
}

const profileModelColumns = `tenant_id, version, training_id, params, metrics, trained_at, promoted`

func scanProfileModel(row pgx.Row) (ProfileModel, error) {
	var m ProfileModel
	var params, metrics []byte
	if err := row.Scan(&m.Tenant, &m.Version, &m.TrainingID, &params, &metrics, &m.TrainedAt, &m.Promoted); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return m, ErrNoProfileModel
		}
		return m, err
	}
	m.Params, m.TrainedAt = params, m.TrainedAt.UTC()
	return m, json.Unmarshal(metrics, &m.Metrics)
}

// ActiveModel returns the tenant's promoted model; ErrNoProfileModel when none is.
func (s ProfileScores) ActiveModel(ctx context.Context, tenant string) (ProfileModel, error) {
	return scanProfileModel(s.DB.QueryRow(ctx, `SELECT `+profileModelColumns+` FROM profile_models WHERE tenant_id = $1 AND promoted`, tenant))
}

// Model returns one version of the tenant's models.
func (s ProfileScores) Model(ctx context.Context, tenant string, version int64) (ProfileModel, error) {
	return scanProfileModel(s.DB.QueryRow(ctx, `SELECT `+profileModelColumns+` FROM profile_models WHERE tenant_id = $1 AND version = $2`, tenant, version))
}

// ProfileTenants returns, sorted, the tenants a profile refresh has work for: those
// with conversions since `since`, with CDP profiles or with segments.
func (s ProfileScores) ProfileTenants(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT tenant_id FROM journey_conversions WHERE max_occurred_at >= $1
		UNION SELECT DISTINCT tenant_id FROM customer_profiles UNION SELECT tenant_id FROM segments ORDER BY 1`, since)
	if err != nil {
		return nil, fmt.Errorf("store: profile tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: profile tenants: %w", err)
	}
	return out, nil
}

// SegmentDef is a saved segment; Rule is its canonical text.
type SegmentDef struct {
	SegmentID string    `json:"segment_id"`
	Name      string    `json:"name"`
	Rule      string    `json:"rule"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SaveSegment creates or replaces a segment (the rule must be compiled and
// canonical already) and says whether it was created.
func (s ProfileScores) SaveSegment(ctx context.Context, tenant string, d SegmentDef) (SegmentDef, bool, error) {
	var created bool
	err := s.DB.QueryRow(ctx, `INSERT INTO segments (tenant_id, segment_id, name, rule) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tenant_id, segment_id) DO UPDATE SET name = EXCLUDED.name, rule = EXCLUDED.rule, updated_at = now()
		RETURNING created_at, updated_at, xmax = 0`, tenant, d.SegmentID, d.Name, d.Rule).Scan(&d.CreatedAt, &d.UpdatedAt, &created)
	if err != nil {
		return d, false, fmt.Errorf("store: save segment %s of %s: %w", d.SegmentID, tenant, err)
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return d, created, nil
}

// Segments returns the tenant's segments by id.
func (s ProfileScores) Segments(ctx context.Context, tenant string) ([]SegmentDef, error) {
	rows, err := s.DB.Query(ctx, `SELECT segment_id, name, rule, created_at, updated_at FROM segments WHERE tenant_id = $1 ORDER BY segment_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: segments of %s: %w", tenant, err)
	}
	out := []SegmentDef{}
	var d SegmentDef
	_, err = pgx.ForEachRow(rows, []any{&d.SegmentID, &d.Name, &d.Rule, &d.CreatedAt, &d.UpdatedAt}, func() error {
		d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: segments of %s: %w", tenant, err)
	}
	return out, nil
}

// DeleteSegment deletes a segment; ENotFound for an unknown one. Its members stay
// until the next refresh, which emits their exits and removes them.
func (s ProfileScores) DeleteSegment(ctx context.Context, tenant, id string) error {
	tag, err := s.DB.Exec(ctx, `DELETE FROM segments WHERE tenant_id = $1 AND segment_id = $2`, tenant, id)
	if err != nil {
		return fmt.Errorf("store: delete segment %s of %s: %w", id, tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return touchpoint.Errorf(touchpoint.ENotFound, "no segment %q", id)
	}
	return nil
}

// SegmentMember is one customer's membership of a segment.
type SegmentMember struct {
	CustomerID string    `json:"customer_id"`
	Since      time.Time `json:"since"`
}

// Members returns up to limit members of a segment after `after`, by customer id;
// ENotFound for an unknown segment.
func (s ProfileScores) Members(ctx context.Context, tenant, segmentID, after string, limit int) ([]SegmentMember, error) {
	var exists bool
	if err := s.DB.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM segments WHERE tenant_id = $1 AND segment_id = $2)`, tenant, segmentID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("store: members of %s: %w", segmentID, err)
	}
	if !exists {
		return nil, touchpoint.Errorf(touchpoint.ENotFound, "no segment %q", segmentID)
	}
	rows, err := s.DB.Query(ctx, `SELECT customer_id, since FROM segment_members WHERE tenant_id = $1 AND segment_id = $2 AND customer_id > $3
		ORDER BY customer_id LIMIT $4`, tenant, segmentID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: members of %s: %w", segmentID, err)
	}
	out := []SegmentMember{}
	var m SegmentMember
	_, err = pgx.ForEachRow(rows, []any{&m.CustomerID, &m.Since}, func() error {
		m.Since = m.Since.UTC()
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: members of %s: %w", segmentID, err)
	}
	return out, nil
}

// SegmentsOf returns the ids of the segments a customer is a member of, sorted.
func (s ProfileScores) SegmentsOf(ctx context.Context, tenant, customerID string) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT segment_id FROM segment_members WHERE tenant_id = $1 AND customer_id = $2 ORDER BY 1`, tenant, customerID)
	if err != nil {
		return nil, fmt.Errorf("store: segments of %s: %w", customerID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: segments of %s: %w", customerID, err)
	}
	return out, nil
}

// MembershipsIn returns the memberships of the customers in (after, last], by
// customer: a refresh chunk's previous memberships.
func (s ProfileScores) MembershipsIn(ctx context.Context, tenant, after, last string) (map[string]map[string]bool, error) {
	rows, err := s.DB.Query(ctx, `SELECT customer_id, segment_id FROM segment_members
		WHERE tenant_id = $1 AND customer_id > $2 AND customer_id <= $3`, tenant, after, last)
	if err != nil {
		return nil, fmt.Errorf("store: memberships of %s: %w", tenant, err)
	}
	out := map[string]map[string]bool{}
	var cid, sid string
	_, err = pgx.ForEachRow(rows, []any{&cid, &sid}, func() error {
		if out[cid] == nil {
			out[cid] = map[string]bool{}
		}
		out[cid][sid] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: memberships of %s: %w", tenant, err)
	}
	return out, nil
}

// MemberChange is one customer entering (Enter) or leaving a segment.
type MemberChange struct {
	SegmentID, CustomerID string
	Enter                 bool
}

// ApplyMembers applies membership changes in one transaction: entries are inserted
// with since = at (an existing membership is kept), exits deleted. Applying the same
// changes again changes nothing.
func (s ProfileScores) ApplyMembers(ctx context.Context, tenant string, changes []MemberChange, at time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	var inSeg, inCust, outSeg, outCust []string
	for _, c := range changes {
		if c.Enter {
			inSeg, inCust = append(inSeg, c.SegmentID), append(inCust, c.CustomerID)
		} else {
			outSeg, outCust = append(outSeg, c.SegmentID), append(outCust, c.CustomerID)
		}
	}
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: apply members: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO segment_members (tenant_id, segment_id, customer_id, since)
		SELECT $1, s, c, $4 FROM unnest($2::text[], $3::text[]) AS u(s, c) ON CONFLICT DO NOTHING`, tenant, inSeg, inCust, at.UTC()); err != nil {
		return fmt.Errorf("store: apply members: enter: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM segment_members m USING unnest($2::text[], $3::text[]) AS u(s, c)
		WHERE m.tenant_id = $1 AND m.segment_id = u.s AND m.customer_id = u.c`, tenant, outSeg, outCust); err != nil {
		return fmt.Errorf("store: apply members: exit: %w", err)
	}
	return tx.Commit(ctx)
}
