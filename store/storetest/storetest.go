// Package storetest gives tests a real, freshly migrated Postgres database of their own
// and a real Redis client. Tests never share a database, so they can run in parallel
// packages without cleaning up after each other.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/touchpoint/touchpoint/migrations"
	"github.com/touchpoint/touchpoint/store"
)

// ServerURL is the Postgres server tests create their databases on.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisURL is the Redis tests use.
func RedisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// DatabaseURL creates a new migrated database, drops it when the test ends, and
// returns its URL (for tests that start Touchpoint as a separate process).
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tp_test_" + hex.EncodeToString(b)
	admin, err := pgx.ConnectConfig(ctx, server)
	if err != nil {
		t.Fatalf("storetest: Postgres is needed at %s: %v", ServerURL(), err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("storetest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.ConnectConfig(ctx, server)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	dbURL := urlWithDatabase(t, ServerURL(), name)
	pool, err := store.OpenPostgres(ctx, dbURL)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return dbURL
}

func urlWithDatabase(t testing.TB, server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		t.Fatalf("storetest: TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Postgres returns a pool on a new migrated database, closed and dropped at the end.
func Postgres(t testing.TB) *pgxpool.Pool {
	t.Helper()
	url := DatabaseURL(t)
	pool, err := store.OpenPostgres(context.Background(), url)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Redis returns a client on the test Redis. Tests keep apart by using their own
// tenant ids, which every key contains.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	rdb, err := store.OpenRedis(context.Background(), RedisURL())
	if err != nil {
		t.Fatalf("storetest: Redis is needed: %v", err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}
