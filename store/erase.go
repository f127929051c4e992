package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PersonalData finds and erases one data subject's rows in the tables that hold
// identifiers and are not covered by their own store's eraser (Archive and Journeys
// erase their own). Aggregates hold no identifiers and are never touched.
type PersonalData struct{ DB *pgxpool.Pool }

// ConversionEventIDs returns the event ids of the subjects' conversions: the keys of
// their conversion-level attribution results.
func (p PersonalData) ConversionEventIDs(ctx context.Context, tenant string, subjects []string) ([]string, error) {
	rows, err := p.DB.Query(ctx, `SELECT DISTINCT u.event_id FROM journey_conversions t,
			unnest(t.event_ids, t.customer_ids, t.device_ids, t.anonymous_ids, t.user_ids) AS u(event_id, c, d, a, s)
		WHERE t.tenant_id = $1
			AND (t.customer_ids && $2 OR t.device_ids && $2 OR t.anonymous_ids && $2 OR t.user_ids && $2)
			AND (u.c = ANY($2) OR u.d = ANY($2) OR u.a = ANY($2) OR u.s = ANY($2))
		ORDER BY 1`, tenant, subjects)
	if err != nil {
		return nil, fmt.Errorf("store: conversions of subject: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: conversions of subject: %w", err)
	}
	return ids, nil
}

// EraseCredits removes the attribution results of the given conversions, in every
// model. Channel and campaign reports lose the subject's share of credit, which is
// what erasing their conversion means.
func (p PersonalData) EraseCredits(ctx context.Context, tenant string, conversionIDs []string) (int64, error) {
	tag, err := p.DB.Exec(ctx, `DELETE FROM attribution_credits WHERE tenant_id = $1 AND conversion_event_id = ANY($2)`,
		tenant, conversionIDs)
	if err != nil {
		return 0, fmt.Errorf("store: erase attribution credits: %w", err)
	}
	return tag.RowsAffected(), nil
}

// EraseLinks removes every identity-graph link touching one of the namespaced ids.
func (p PersonalData) EraseLinks(ctx context.Context, tenant string, namespaced []string) (int64, error) {
	tag, err := p.DB.Exec(ctx, `DELETE FROM identity_links WHERE tenant_id = $1 AND (id_a = ANY($2) OR id_b = ANY($2))`,
		tenant, namespaced)
	if err != nil {
		return 0, fmt.Errorf("store: erase identity links: %w", err)
	}
	return tag.RowsAffected(), nil
}

// EraseProfiles removes the customers' profiles and their CDP id mappings (the
// subject may be known there by a CDP id too).
func (p PersonalData) EraseProfiles(ctx context.Context, tenant string, ids []string) (int64, error) {
	var n int64
	for _, q := range []string{
		`DELETE FROM customer_profiles WHERE tenant_id = $1 AND customer_id = ANY($2)`,
		`DELETE FROM cdp_identities WHERE tenant_id = $1 AND (customer_id = ANY($2) OR external_id = ANY($2))`,
		`DELETE FROM profile_summaries WHERE tenant_id = $1 AND customer_id = ANY($2)`,
		`DELETE FROM segment_members WHERE tenant_id = $1 AND customer_id = ANY($2)`,
	} {
		tag, err := p.DB.Exec(ctx, q, tenant, ids)
		if err != nil {
			return n, fmt.Errorf("store: erase profiles: %w", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// residueQuery counts what still names a subject in one table; arg picks its
// second parameter from the subject's plain ids, namespaced ids, archive index keys
// and conversion ids.
type residueQuery struct {
	table, sql string
	arg        func(plain, namespaced, keys, conversions []string) []string
}

func plainArg(p, _, _, _ []string) []string      { return p }
func namespacedArg(_, n, _, _ []string) []string { return n }

var residueQueries = []residueQuery{
	{"event_archive", `SELECT count(*) FROM event_archive WHERE $1 <> '' AND subjects && $2`,
		func(_, _, k, _ []string) []string { return k }},
	{"journey_touchpoints", `SELECT count(*) FROM journey_touchpoints WHERE tenant_id = $1 AND (customer_ids && $2 OR device_ids && $2 OR anonymous_ids && $2 OR user_ids && $2)`, plainArg},
	{"journey_conversions", `SELECT count(*) FROM journey_conversions WHERE tenant_id = $1 AND (customer_ids && $2 OR device_ids && $2 OR anonymous_ids && $2 OR user_ids && $2)`, plainArg},
	{"identity_links", `SELECT count(*) FROM identity_links WHERE tenant_id = $1 AND (id_a = ANY($2) OR id_b = ANY($2))`, namespacedArg},
	{"customer_profiles", `SELECT count(*) FROM customer_profiles WHERE tenant_id = $1 AND (customer_id = ANY($2)
		OR traits::text LIKE ANY (SELECT '%' || x || '%' FROM unnest($2::text[]) x))`, plainArg},
	{"cdp_identities", `SELECT count(*) FROM cdp_identities WHERE tenant_id = $1 AND (customer_id = ANY($2) OR external_id = ANY($2))`, plainArg},
	{"profile_summaries", `SELECT count(*) FROM profile_summaries WHERE tenant_id = $1 AND customer_id = ANY($2)`, plainArg},
	{"segment_members", `SELECT count(*) FROM segment_members WHERE tenant_id = $1 AND customer_id = ANY($2)`, plainArg},
	{"attribution_credits", `SELECT count(*) FROM attribution_credits WHERE tenant_id = $1 AND conversion_event_id = ANY($2)`,
		func(_, _, _, c []string) []string { return c }},
}

// Residue counts, per table, the rows that still hold one of the subject's
// identifiers (or results of their conversions). Zero everywhere means erased.
func (p PersonalData) Residue(ctx context.Context, tenant string, ids, namespaced, conversionIDs []string) (map[string]int64, error) {
	keys := make([]string, len(ids))
	for i, s := range ids {
		keys[i] = tenant + ":" + s
	}
	out := map[string]int64{}
	for _, q := range residueQueries {
		var n int64
		if err := p.DB.QueryRow(ctx, q.sql, tenant, q.arg(ids, namespaced, keys, conversionIDs)).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: search %s for the subject: %w", q.table, err)
		}
		if n > 0 {
			out[q.table] = n
		}
	}
	return out, nil
}

// LinksOf returns the tenant's links touching any of the namespaced ids.
func (s Identity) LinksOf(ctx context.Context, tenant string, ids []string) ([]IdentityLink, error) {
	rows, err := s.DB.Query(ctx, `SELECT id_a, id_b, method, confidence, first_seen, last_seen
		FROM identity_links WHERE tenant_id = $1 AND (id_a = ANY($2) OR id_b = ANY($2)) ORDER BY id_a, id_b`, tenant, ids)
	if err != nil {
		return nil, fmt.Errorf("identity links of subject: %w", err)
	}
	var out []IdentityLink
	var l IdentityLink
	if _, err := pgx.ForEachRow(rows, []any{&l.A, &l.B, &l.Method, &l.Confidence, &l.FirstSeen, &l.LastSeen}, func() error {
		out = append(out, l)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("identity links of subject: %w", err)
	}
	return out, nil
}
