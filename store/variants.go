package store

import (
	"context"
	"fmt"
	"time"
)

// VariantTotal is one content variant's counts summed over a query's range.
type VariantTotal struct {
	VariantID        string `json:"variant_id"`
	Views            int64  `json:"views"`
	Clicks           int64  `json:"clicks"`
	Conversions      int64  `json:"conversions"`
	EngagementMicros int64  `json:"engagement_micros"`
	EngagementCount  int64  `json:"engagement_count"`
}

const variantTotalsSQL = `SELECT variant_id, sum(views)::bigint, sum(clicks)::bigint, sum(conversions)::bigint,
       sum(engagement_micros)::bigint, sum(engagement_count)::bigint, max(updated_at)
FROM agg_variant
WHERE tenant_id = $1 AND level = $2 AND bucket >= $3 AND bucket < $4 AND ($5 = '' OR variant_id = $5)
GROUP BY variant_id
ORDER BY variant_id`

// VariantTotals returns, per variant, the sums of the rows q selects (filter:
// VariantID), ordered by variant, and when the latest of them last changed. The
// personalization report compares variants over a whole range, so it sums in the
// database rather than fetch every bucket.
func (a Aggregates) VariantTotals(ctx context.Context, q Query) ([]VariantTotal, time.Time, error) {
	if err := q.check(byVariant); err != nil {
		return nil, time.Time{}, err
	}
	var out []VariantTotal
	var r VariantTotal
	fresh, err := scanRows(ctx, a.DB, variantTotalsSQL, q.args(q.VariantID),
		[]any{&r.VariantID, &r.Views, &r.Clicks, &r.Conversions, &r.EngagementMicros, &r.EngagementCount},
		func() { out = append(out, r) })
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("variant totals of %s: %w", q.Tenant, err)
	}
	return out, fresh, nil
}
