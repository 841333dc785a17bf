# authensor — see README.md. Every target runs as root on Debian 12 with
# PostgreSQL 15 and installs what it needs first.
#
# PG=16 or PG=18 builds and tests against that PostgreSQL major instead, from
# a build that scripts/install-pg-major.sh unpacks under target/ (e.g.
# `make test PG=18`). PG=15, the default, is Debian's.

PG ?= 15
SCRATCH := $(shell scripts/scratch-dir.sh)
ifeq ($(PG),15)
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PG_FEATURES :=
else
# Where scripts/install-pg-major.sh puts it.
PG_CONFIG ?= $(SCRATCH)/pg$(PG)/pgserver/pginstall/bin/pg_config
PG_FEATURES := --no-default-features --features pg$(PG)
endif
PGRX_TEST_DATA := $(SCRATCH)/pgrx-test-data-pg$(PG)
export PG PG_CONFIG
export USER ?= root

.PHONY: deps install install-dev demo test lint test-core test-pg test-sql bench

deps:
	@scripts/install-deps.sh

## Release build, installed into the PostgreSQL of PG (15: the machine's).
install: deps
	cargo pgrx install --release --pg-config $(PG_CONFIG) $(PG_FEATURES)

## Debug build for the SQL-level tests (faster to build).
install-dev: deps
	cargo pgrx install --pg-config $(PG_CONFIG) $(PG_FEATURES)

## The multi-tenant scenario in a scratch cluster.
demo: install
	@scripts/demo.sh

## Every test tier; exits non-zero on any failure.
test: deps lint test-core test-pg test-sql

## Formatting, and clippy with every unsafe block's SAFETY comment required.
lint:
	cargo fmt --all --check
	cargo clippy -p authensor-policy -p authensor-chain --all-targets -- -D warnings
	cargo clippy -p authensor $(or $(PG_FEATURES),--features pg15) --no-deps -- -D warnings -W clippy::undocumented_unsafe_blocks

## Tier 1: the pure crates, the policy core and the receipts' chain (the
## same on every PostgreSQL major).
test-core:
	cargo test -p authensor-policy -p authensor-chain

## Tier 2: #[pg_test]s inside a real PostgreSQL (initdb'd fresh each run).
test-pg: deps
	rm -rf $(PGRX_TEST_DATA)
	mkdir -p $(PGRX_TEST_DATA) && chown postgres: $(PGRX_TEST_DATA)
	cargo pgrx test pg$(PG) --runas postgres --pgdata $(PGRX_TEST_DATA)

## Tier 3: SQL scenarios and multi-session specs over real client connections.
test-sql: install-dev
	tests/run-sql-tests.sh

bench: deps
	@scripts/bench.sh
