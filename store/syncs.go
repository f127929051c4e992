package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/touchpoint/touchpoint/connectors"
)

// Connection is a tenant's link to one ad account on a platform. Credentials are
// only ever held decrypted in memory; the API never returns them.
type Connection struct {
	TenantID     string    `json:"tenant_id"`
	ConnectionID string    `json:"connection_id"`
	Platform     string    `json:"platform"` // "googleads" or "meta"
	AccountID    string    `json:"account_id"`
	Status       string    `json:"status"` // "active" or "needs_reauth"
	CreatedAt    time.Time `json:"created_at"`
	Credentials  []byte    `json:"-"` // the platform's credentials (JSON), decrypted
}

// ErrConnectionNotFound is returned for an unknown (tenant, connection).
var ErrConnectionNotFound = errors.New("connection not found")

// ErrConnectionExists is returned when creating a connection id already in use.
var ErrConnectionExists = errors.New("connection already exists")

// SecretsKey derives the 32-byte AES-256 key from the configured secret.
func SecretsKey(secret string) []byte {
	k := sha256.Sum256([]byte(secret))
	return k[:]
}

// Connections stores connections with their credentials sealed by AES-GCM under Key
// (32 bytes, see SecretsKey), sync cursors and the synced campaign days.
type Connections struct {
	DB  *pgxpool.Pool
	Key []byte
}

// additional data binding a sealed credential to its row, so it cannot be moved.
func credAD(tenant, connection string) []byte { return []byte(tenant + "\x00" + connection) }

func (s Connections) seal(tenant, connection string, plain []byte) ([]byte, error) {
	return seal(s.Key, plain, credAD(tenant, connection))
}

func (s Connections) open(tenant, connection string, sealed []byte) ([]byte, error) {
	plain, err := open(s.Key, sealed, credAD(tenant, connection))
	if err != nil {
		return nil, fmt.Errorf("store: credentials: %w", err)
	}
	return plain, nil
}

// Create stores c with its credentials encrypted.
func (s Connections) Create(ctx context.Context, c Connection) (Connection, error) {
	sealed, err := s.seal(c.TenantID, c.ConnectionID, c.Credentials)
	if err != nil {
		return Connection{}, err
	}
	err = s.DB.QueryRow(ctx, `INSERT INTO connections (tenant_id, connection_id, platform, account_id, credentials)
		VALUES ($1, $2, $3, $4, $5) RETURNING status, created_at`,
		c.TenantID, c.ConnectionID, c.Platform, c.AccountID, sealed).Scan(&c.Status, &c.CreatedAt)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return Connection{}, ErrConnectionExists
	}
	if err != nil {
		return Connection{}, fmt.Errorf("store: create connection: %w", err)
	}
	return c, nil
}

// Get returns one connection with its credentials decrypted.
func (s Connections) Get(ctx context.Context, tenant, id string) (Connection, error) {
	var c Connection
	var sealed []byte
	err := s.DB.QueryRow(ctx, `SELECT tenant_id, connection_id, platform, account_id, status, created_at, credentials
		FROM connections WHERE tenant_id = $1 AND connection_id = $2`, tenant, id).
		Scan(&c.TenantID, &c.ConnectionID, &c.Platform, &c.AccountID, &c.Status, &c.CreatedAt, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Connection{}, ErrConnectionNotFound
	}
	if err != nil {
		return Connection{}, fmt.Errorf("store: get connection: %w", err)
	}
	if c.Credentials, err = s.open(c.TenantID, c.ConnectionID, sealed); err != nil {
		return Connection{}, err
	}
	return c, nil
}

// List returns a tenant's connections, without credentials.
func (s Connections) List(ctx context.Context, tenant string) ([]Connection, error) {
	rows, err := s.DB.Query(ctx, `SELECT tenant_id, connection_id, platform, account_id, status, created_at
		FROM connections WHERE tenant_id = $1 ORDER BY connection_id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("store: list connections: %w", err)
	}
	out := []Connection{}
	for rows.Next() {
		var c Connection
		if err := rows.Scan(&c.TenantID, &c.ConnectionID, &c.Platform, &c.AccountID, &c.Status, &c.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delete removes a connection and its cursors (the synced rows stay).
func (s Connections) Delete(ctx context.Context, tenant, id string) error {
	tag, err := s.DB.Exec(ctx, `DELETE FROM connections WHERE tenant_id = $1 AND connection_id = $2`, tenant, id)
	if err != nil {
		return fmt.Errorf("store: delete connection: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrConnectionNotFound
	}
	_, err = s.DB.Exec(ctx, `DELETE FROM sync_cursors WHERE tenant_id = $1 AND connection_id = $2`, tenant, id)
	return err
}

// SetStatus sets a connection's status ("active", "needs_reauth").
func (s Connections) SetStatus(ctx context.Context, tenant, id, status string) error {
	_, err := s.DB.Exec(ctx, `UPDATE connections SET status = $3 WHERE tenant_id = $1 AND connection_id = $2`, tenant, id, status)
	if err != nil {
		return fmt.Errorf("store: set connection status: %w", err)
	}
	return nil
}

// Cursor returns the last completed day of a stream; ok is false before its first sync.
func (s Connections) Cursor(ctx context.Context, tenant, connection, stream string) (day time.Time, ok bool, err error) {
	err = s.DB.QueryRow(ctx, `SELECT cursor_date FROM sync_cursors WHERE tenant_id = $1 AND connection_id = $2 AND stream = $3`,
		tenant, connection, stream).Scan(&day)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: read cursor: %w", err)
	}
	return day.UTC(), true, nil
}

// UpsertCampaignDays writes days by natural key, replacing restated numbers, and
// advances the stream's cursor to cursor (never backwards) in the same transaction.
// A zero cursor leaves it alone.
func (s Connections) UpsertCampaignDays(ctx context.Context, tenant, connection, stream string, days []connectors.CampaignDay, cursor time.Time) error {
	tx, err := s.DB.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	b := &pgx.Batch{}
	for _, d := range days {
		b.Queue(`INSERT INTO platform_campaign_days (tenant_id, connection_id, platform, account_id, campaign_id, date,
				campaign_name, impressions, clicks, conversions, cost_micros, revenue_micros, currency, synced_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now())
			ON CONFLICT (tenant_id, platform, account_id, campaign_id, date) DO UPDATE SET
				connection_id = EXCLUDED.connection_id, campaign_name = EXCLUDED.campaign_name,
				impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks, conversions = EXCLUDED.conversions,
				cost_micros = EXCLUDED.cost_micros, revenue_micros = EXCLUDED.revenue_micros,
				currency = EXCLUDED.currency, synced_at = now()`,
			tenant, connection, d.Platform, d.AccountID, d.CampaignID, d.Date.UTC().Format(time.DateOnly),
			d.CampaignName, d.Impressions, d.Clicks, d.Conversions, d.CostMicros, d.RevenueMicros, d.Currency)
	}
	if !cursor.IsZero() {
		b.Queue(`INSERT INTO sync_cursors (tenant_id, connection_id, stream, cursor_date, updated_at)
			VALUES ($1, $2, $3, $4, now())
			ON CONFLICT (tenant_id, connection_id, stream) DO UPDATE SET
				cursor_date = GREATEST(sync_cursors.cursor_date, EXCLUDED.cursor_date), updated_at = now()`,
			tenant, connection, stream, cursor.UTC().Format(time.DateOnly))
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("store: upsert campaign days: %w", err)
	}
	return tx.Commit(ctx)
}

// CampaignDays returns a connection's stored campaign days in [from, to], ordered by
// account, campaign and date.
func (s Connections) CampaignDays(ctx context.Context, tenant, connection string, from, to time.Time) ([]connectors.CampaignDay, error) {
	rows, err := s.DB.Query(ctx, `SELECT platform, account_id, campaign_id, campaign_name, date, impressions, clicks,
			conversions, cost_micros, revenue_micros, currency
		FROM platform_campaign_days WHERE tenant_id = $1 AND connection_id = $2 AND date BETWEEN $3 AND $4
		ORDER BY account_id, campaign_id, date`, tenant, connection, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("store: read campaign days: %w", err)
	}
	defer rows.Close()
	out := []connectors.CampaignDay{}
	for rows.Next() {
		var d connectors.CampaignDay
		if err := rows.Scan(&d.Platform, &d.AccountID, &d.CampaignID, &d.CampaignName, &d.Date, &d.Impressions, &d.Clicks,
			&d.Conversions, &d.CostMicros, &d.RevenueMicros, &d.Currency); err != nil {
			return nil, err
		}
		d.Date = d.Date.UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
