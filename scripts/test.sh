#!/usr/bin/env bash
# Runs every Touchpoint test against real services: Postgres and Redis (expected
# running, see README), a kfake broker over TCP and a Temporal dev server that the
# tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:$(go env GOPATH)/bin"

check() { # name, host, port, how to start
  if ! (exec 3<>"/dev/tcp/$2/$3") 2>/dev/null; then
    echo "test: $1 is not reachable on $2:$3 — $4" >&2
    exit 1
  fi
}
check Postgres 127.0.0.1 5432 "start it (pg_ctlcluster <version> main start) or set TEST_DATABASE_URL"
check Redis 127.0.0.1 6379 "start it (redis-server --daemonize yes) or set TEST_REDIS_URL"
command -v temporal >/dev/null || { echo "test: the temporal CLI is missing — run make tools" >&2; exit 1; }

go vet ./...
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "test: not gofmt-formatted: $unformatted" >&2; exit 1; fi
go test -count=1 -timeout 20m "$@" ./...
