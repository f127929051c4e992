# Touchpoint's two commands: `make run` (the whole stack on this machine) and
# `make test` (every test, integration included).
GO ?= go
TEMPORAL_CLI := github.com/temporalio/cli/cmd/temporal@v1.5.1
GOPATH_BIN := $(shell $(GO) env GOPATH)/bin

.PHONY: run test tools build vet fuzz

run: build
	./bin/touchpoint dev

test: tools
	./scripts/test.sh

build:
	$(GO) build -o bin/touchpoint ./cmd/touchpoint

# The Temporal CLI gives the dev server (`temporal server start-dev`) that `make run`
# and the integration tests use. v1.5.1 is pinned: newer tags do not `go install`.
# kcat is the standard Kafka client the end-to-end tests check the topic with (Debian's
# package, so this needs root or an existing install).
tools:
	@command -v temporal >/dev/null 2>&1 || test -x $(GOPATH_BIN)/temporal || \
		{ echo "installing the Temporal CLI (once, about 5 minutes)"; $(GO) install $(TEMPORAL_CLI); }
	@command -v kcat >/dev/null 2>&1 || \
		{ echo "installing kcat"; apt-get update -qq && apt-get install -y -qq kcat >/dev/null; }

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }

fuzz:
	$(GO) test ./events -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s
	$(GO) test ./events -run '^$$' -fuzz FuzzCodecDecode -fuzztime 30s
