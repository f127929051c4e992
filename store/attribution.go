package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Credit is one stored attribution credit: the part of one conversion a model gives
// to one (channel, campaign) pair.
type Credit struct {
	Model             string    `json:"model"`
	ConversionEventID string    `json:"conversion_event_id"`
	ConvertedAt       time.Time `json:"converted_at"`
	Channel           string    `json:"channel"`
	CampaignID        string    `json:"campaign_id"`
	Currency          string    `json:"currency"`
	ValueMicros       int64     `json:"value_micros"`
	Share             float64   `json:"share"`
}

// Attribution stores the credits of the attribution models and reports on them.
type Attribution struct{ DB *pgxpool.Pool }

var creditColumns = []string{"tenant_id", "model", "conversion_event_id", "converted_at", "channel", "campaign_id", "currency", "value_micros", "share"}

// ReplaceCredits makes credits the only credits of the given models for tenant's
// conversions in [from, to): in one transaction it deletes what is stored there and
// copies the new rows in, so rerunning a recompute replaces its results and a reader
// never sees a half-written range. Every credit must be of one of models and convert
// within the range.
func (a Attribution) ReplaceCredits(ctx context.Context, tenant string, from, to time.Time, models []string, credits []Credit) error {
	for _, c := range credits {
		if c.ConvertedAt.Before(from) || !c.ConvertedAt.Before(to) {
			return fmt.Errorf("replace credits of %s: conversion %s at %s outside [%s, %s)", tenant, c.ConversionEventID, c.ConvertedAt, from, to)
		}
	}
	tx, err := a.DB.Begin(ctx)
	if err != nil {
		return fmt.Errorf("replace credits of %s: %w", tenant, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM attribution_credits
		WHERE tenant_id = $1 AND model = ANY($2) AND converted_at >= $3 AND converted_at < $4`, tenant, models, from, to); err != nil {
		return fmt.Errorf("replace credits of %s: delete: %w", tenant, err)
	}
	rows := pgx.CopyFromSlice(len(credits), func(i int) ([]any, error) {
		c := credits[i]
		return []any{tenant, c.Model, c.ConversionEventID, c.ConvertedAt, c.Channel, c.CampaignID, c.Currency, c.ValueMicros, c.Share}, nil
	})
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"attribution_credits"}, creditColumns, rows); err != nil {
		return fmt.Errorf("replace credits of %s: copy %d rows: %w", tenant, len(credits), err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("replace credits of %s: commit: %w", tenant, err)
	}
	return nil
}

// Report groupings.
const (
	GroupByChannel  = "channel"
	GroupByCampaign = "campaign"
)

// ReportRow is the credit one channel or campaign earned in one currency. Conversions
// is the sum of the shares: how many conversions the group is credited with.
type ReportRow struct {
	Key         string  `json:"key"`
	Currency    string  `json:"currency"`
	ValueMicros int64   `json:"value_micros"`
	Conversions float64 `json:"conversions"`
}

// Report sums one model's credits of tenant's conversions in [from, to) per channel
// or campaign (groupBy) and currency, largest value first. Values of different
// currencies are never added up.
func (a Attribution) Report(ctx context.Context, tenant, model string, from, to time.Time, groupBy string) ([]ReportRow, error) {
	key, err := groupColumn(groupBy)
	if err != nil {
		return nil, err
	}
	rows, err := a.DB.Query(ctx, fmt.Sprintf(`SELECT %s, currency, sum(value_micros)::bigint, sum(share)
		FROM attribution_credits WHERE tenant_id = $1 AND model = $2 AND converted_at >= $3 AND converted_at < $4
		GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2`, key), tenant, model, from, to)
	if err != nil {
		return nil, fmt.Errorf("attribution report of %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ReportRow, error) {
		var x ReportRow
		err := r.Scan(&x.Key, &x.Currency, &x.ValueMicros, &x.Conversions)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("attribution report of %s: %w", tenant, err)
	}
	return out, nil
}

func groupColumn(groupBy string) (string, error) {
	switch groupBy {
	case GroupByChannel:
		return "channel", nil
	case GroupByCampaign:
		return "campaign_id", nil
	}
	return "", fmt.Errorf("attribution report: group by %q: want %s or %s", groupBy, GroupByChannel, GroupByCampaign)
}

// ModelFigures is what one model credits a channel with.
type ModelFigures struct {
	ValueMicros int64   `json:"value_micros"`
	Conversions float64 `json:"conversions"`
}

// CompareRow is one channel's credit in one currency under every stored model.
type CompareRow struct {
	Channel  string                  `json:"channel"`
	Currency string                  `json:"currency"`
	Models   map[string]ModelFigures `json:"models"`
}

// Compare puts the models side by side: per channel and currency, what each model
// credits it with for tenant's conversions in [from, to), ordered by channel.
func (a Attribution) Compare(ctx context.Context, tenant string, from, to time.Time) ([]CompareRow, error) {
	rows, err := a.DB.Query(ctx, `SELECT channel, currency, model, sum(value_micros)::bigint, sum(share)
		FROM attribution_credits WHERE tenant_id = $1 AND converted_at >= $2 AND converted_at < $3
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, tenant, from, to)
	if err != nil {
		return nil, fmt.Errorf("attribution comparison of %s: %w", tenant, err)
	}
	var out []CompareRow
	var channel, currency, model string
	var f ModelFigures
	_, err = pgx.ForEachRow(rows, []any{&channel, &currency, &model, &f.ValueMicros, &f.Conversions}, func() error {
		// Rows come ordered by channel and currency, so a group's rows are adjacent.
		if n := len(out); n == 0 || out[n-1].Channel != channel || out[n-1].Currency != currency {
			out = append(out, CompareRow{Channel: channel, Currency: currency, Models: map[string]ModelFigures{}})
		}
		out[len(out)-1].Models[model] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attribution comparison of %s: %w", tenant, err)
	}
	return out, nil
}
