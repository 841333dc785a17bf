# authensor — see README.md. Every target runs as root on Debian 12 with
# PostgreSQL 15 and installs what it needs first.

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
SCRATCH := $(shell scripts/scratch-dir.sh)
PGRX_TEST_DATA := $(SCRATCH)/pgrx-test-data
export USER ?= root

.PHONY: deps install install-dev demo test lint test-core test-pg test-sql bench

deps:
	@scripts/install-deps.sh

## Release build, installed into the machine's PostgreSQL 15.
install: deps
	cargo pgrx install --release --pg-config $(PG_CONFIG)

## Debug build for the SQL-level tests (faster to build).
install-dev: deps
	cargo pgrx install --pg-config $(PG_CONFIG)

## The multi-tenant scenario in a scratch cluster.
demo: install
	@scripts/demo.sh

## Every test tier; exits non-zero on any failure.
test: deps lint test-core test-pg test-sql

## Formatting, and clippy with every unsafe block's SAFETY comment required.
lint:
	cargo fmt --all --check
	cargo clippy -p authensor-policy --all-targets -- -D warnings
	cargo clippy -p authensor --features pg15 --no-deps -- -D warnings -W clippy::undocumented_unsafe_blocks

## Tier 1: the pure policy core.
test-core:
	cargo test -p authensor-policy

## Tier 2: #[pg_test]s inside a real PostgreSQL (initdb'd fresh each run).
test-pg: deps
	rm -rf $(PGRX_TEST_DATA)
	mkdir -p $(PGRX_TEST_DATA) && chown postgres: $(PGRX_TEST_DATA)
	cargo pgrx test pg15 --runas postgres --pgdata $(PGRX_TEST_DATA)

## Tier 3: SQL scenarios and multi-session specs over real client connections.
test-sql: install-dev
	tests/run-sql-tests.sh

bench: deps
	@scripts/bench.sh
