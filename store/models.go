package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ModelMetrics are a trained model's scores on held-out journeys.
type ModelMetrics struct {
	AUC             float64 `json:"auc"`
	LogLoss         float64 `json:"log_loss"`
	BaseRateLogLoss float64 `json:"base_rate_log_loss"`
}

// ModelVersion is one trained version of a data-driven attribution model.
type ModelVersion struct {
	Tenant  string `json:"tenant"`
	Version int64  `json:"version"`
	Kind    string `json:"kind"`
	// TrainingID names the training run that stored it; one run stores one version
	// per kind.
	TrainingID string          `json:"training_id"`
	TrainedAt  time.Time       `json:"trained_at"`
	From       time.Time       `json:"from"`
	To         time.Time       `json:"to"`
	Journeys   int             `json:"journeys"`
	Metrics    ModelMetrics    `json:"metrics"`
	Model      json.RawMessage `json:"model,omitempty"`
	Active     bool            `json:"active"`
}

// ErrNoModel is returned when a tenant has no model version of the kind asked for.
var ErrNoModel = errors.New("no such attribution model version")

// Models stores the versions of the data-driven attribution models.
type Models struct{ DB *pgxpool.Pool }

// Save stores v as a new, inactive version and returns its number. Saving again with
// the same tenant, kind and training id returns the version already stored: a retried
// save adds nothing.
func (m Models) Save(ctx context.Context, v ModelVersion) (int64, error) {
	metrics, err := json.Marshal(v.Metrics)
	if err != nil {
		return 0, err
	}
	var version int64
	err = m.DB.QueryRow(ctx, `INSERT INTO attribution_models (tenant_id, kind, training_id, range_from, range_to, journeys, metrics, model)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (tenant_id, kind, training_id) DO UPDATE SET training_id = EXCLUDED.training_id
		RETURNING version`, v.Tenant, v.Kind, v.TrainingID, v.From, v.To, v.Journeys, metrics, []byte(v.Model)).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("save %s model of %s: %w", v.Kind, v.Tenant, err)
	}
	return version, nil
}

const modelColumns = `tenant_id, version, kind, training_id, trained_at, range_from, range_to, journeys, metrics, model, active`

func scanModel(row pgx.Row) (ModelVersion, error) {
	var v ModelVersion
	var metrics, model []byte
	err := row.Scan(&v.Tenant, &v.Version, &v.Kind, &v.TrainingID, &v.TrainedAt, &v.From, &v.To, &v.Journeys, &metrics, &model, &v.Active)
	if err != nil {
		return v, err
	}
	v.Model = model
	return v, json.Unmarshal(metrics, &v.Metrics)
}

// List returns tenant's versions, newest first, without their parameters.
func (m Models) List(ctx context.Context, tenant string) ([]ModelVersion, error) {
	rows, err := m.DB.Query(ctx, `SELECT `+modelColumns+` FROM attribution_models WHERE tenant_id = $1 ORDER BY version DESC`, tenant)
	if err != nil {
		return nil, fmt.Errorf("list models of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []ModelVersion
	for rows.Next() {
		v, err := scanModel(rows)
		if err != nil {
			return nil, fmt.Errorf("list models of %s: %w", tenant, err)
		}
		v.Model = nil
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list models of %s: %w", tenant, err)
	}
	return out, nil
}

// Get returns one version with its parameters; ErrNoModel if there is none.
func (m Models) Get(ctx context.Context, tenant string, version int64) (ModelVersion, error) {
	v, err := scanModel(m.DB.QueryRow(ctx, `SELECT `+modelColumns+` FROM attribution_models WHERE tenant_id = $1 AND version = $2`, tenant, version))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, ErrNoModel
	}
	if err != nil {
		return v, fmt.Errorf("model %d of %s: %w", version, tenant, err)
	}
	return v, nil
}

// Active returns tenant's active version of kind with its parameters; ErrNoModel if
// none is active.
func (m Models) Active(ctx context.Context, tenant, kind string) (ModelVersion, error) {
	v, err := scanModel(m.DB.QueryRow(ctx, `SELECT `+modelColumns+` FROM attribution_models WHERE tenant_id = $1 AND kind = $2 AND active`, tenant, kind))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, ErrNoModel
	}
	if err != nil {
		return v, fmt.Errorf("active %s model of %s: %w", kind, tenant, err)
	}
	return v, nil
}

// Promote makes version the active one of its kind for tenant, and the version
// active before it inactive, in one transaction: readers see one active version of a
// kind, never none in between or two.
func (m Models) Promote(ctx context.Context, tenant string, version int64) error {
	tx, err := m.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var kind string
	err = tx.QueryRow(ctx, `SELECT kind FROM attribution_models WHERE tenant_id = $1 AND version = $2 FOR UPDATE`, tenant, version).Scan(&kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNoModel
	}
	if err != nil {
		return fmt.Errorf("promote model %d of %s: %w", version, tenant, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE attribution_models SET active = false WHERE tenant_id = $1 AND kind = $2 AND active AND version <> $3`, tenant, kind, version); err != nil {
		return fmt.Errorf("promote model %d of %s: %w", version, tenant, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE attribution_models SET active = true WHERE tenant_id = $1 AND version = $2`, tenant, version); err != nil {
		return fmt.Errorf("promote model %d of %s: %w", version, tenant, err)
	}
	return tx.Commit(ctx)
}
