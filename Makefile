# authensor — see README.md. Every target runs as root on Debian 12 with
# PostgreSQL 15 and installs what it needs first.
#
# PG=16 or PG=18 builds and tests against that PostgreSQL major instead, from
# a build that scripts/install-pg-major.sh unpacks under target/ (e.g.
# `make test PG=18`). PG=15, the default, is Debian's.
#
# `make test` never writes into the machine's PostgreSQL: with PG=15 its tiers
# install into a private copy of it (scripts/private-pg.sh), and it ends by
# checking that the machine's authensor files are those it started with.

PG ?= 15
SCRATCH := $(shell scripts/scratch-dir.sh)
ifeq ($(PG),15)
PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
PG_FEATURES :=
# Where scripts/private-pg.sh puts the tests' copy, and cargo-pgrx's config
# that names it.
TEST_PG_CONFIG := $(SCRATCH)/pg15$(shell $(PG_CONFIG) --bindir 2>/dev/null)/pg_config
TEST_ENV := PGRX_HOME=$(SCRATCH)/pg15/pgrx
else
# Where scripts/install-pg-major.sh puts it.
PG_CONFIG ?= $(SCRATCH)/pg$(PG)/pgserver/pginstall/bin/pg_config
PG_FEATURES := --no-default-features --features pg$(PG)
# Already private to this checkout.
TEST_PG_CONFIG := $(PG_CONFIG)
TEST_ENV :=
endif
# The installation `make test` must leave as it was: the machine's.
SYSTEM_PG_CONFIG := $(if $(filter 15,$(PG)),$(PG_CONFIG),/usr/lib/postgresql/15/bin/pg_config)
PGRX_TEST_DATA := $(SCRATCH)/pgrx-test-data-pg$(PG)
export PG PG_CONFIG
export USER ?= root

.PHONY: deps install install-dev test-postgres demo test system-pg-before lint test-core test-fuzz test-pg test-sql bench bench-majors bench-sql bench-shadow soak fuzz oracle

deps:
	@scripts/install-deps.sh

## Release build, installed into the PostgreSQL of PG (15: the machine's).
install: deps
	cargo pgrx install --release --pg-config $(PG_CONFIG) $(PG_FEATURES)

## The PostgreSQL the tests install into: with PG=15 a private copy of the
## machine's, under target/pg15.
test-postgres: deps
ifeq ($(PG),15)
	@scripts/private-pg.sh $(PG_CONFIG) >/dev/null
endif

## Debug build for the SQL-level tests (faster to build), into the tests'
## PostgreSQL.
install-dev: test-postgres
	$(TEST_ENV) cargo pgrx install --pg-config $(TEST_PG_CONFIG) $(PG_FEATURES)

## The multi-tenant scenario in a scratch cluster.
demo: install
	@scripts/demo.sh

## Every test tier; exits non-zero on any failure, or if the machine's
## PostgreSQL does not end with the authensor files it started with.
test: deps system-pg-before lint test-core test-fuzz test-pg test-sql
	@scripts/system-pg-unchanged.sh check $(SCRATCH)/system-pg.sha256 $(SYSTEM_PG_CONFIG)

system-pg-before:
	@scripts/system-pg-unchanged.sh record $(SCRATCH)/system-pg.sha256 $(SYSTEM_PG_CONFIG)

## Formatting, and clippy with every unsafe block's SAFETY comment required.
lint:
	cargo fmt --all --check
	cargo fmt --manifest-path fuzz/Cargo.toml --check
	cargo clippy -p authensor-policy -p authensor-chain -p authensor-cli --all-targets -- -D warnings
	cargo clippy -p authensor $(or $(PG_FEATURES),--features pg15) --no-deps -- -D warnings -W clippy::undocumented_unsafe_blocks

## Tier 1: the pure crates, the policy core, the receipts' chain and the
## command-line tool, which uses the policy core alone (the
## same on every PostgreSQL major).
test-core:
	cargo test -p authensor-policy -p authensor-chain -p authensor-cli

## The fuzz targets for 60 s (see `fuzz`), leaving fuzz/corpus and
## RELIABILITY.md as they are; fails on any finding.
test-fuzz: test-core deps
	FUZZ_SECONDS=60 FUZZ_UPDATE_CORPUS=0 FUZZ_REPORT= scripts/fuzz.sh

## Tier 2: #[pg_test]s inside a real PostgreSQL (initdb'd fresh each run).
test-pg: test-postgres
	rm -rf $(PGRX_TEST_DATA)
	mkdir -p $(PGRX_TEST_DATA) && chown postgres: $(PGRX_TEST_DATA)
	$(TEST_ENV) cargo pgrx test pg$(PG) --runas postgres --pgdata $(PGRX_TEST_DATA)

## Tier 3: SQL scenarios and multi-session specs over real client connections.
test-sql: install-dev
	PG_CONFIG=$(TEST_PG_CONFIG) tests/run-sql-tests.sh

## Benchmarks of PG's major: BENCHMARKS.md for 15, target/bench-pg16/ or
## target/bench-pg18/ for the others.
bench: deps
	@scripts/bench.sh

## P1 and P2 on PostgreSQL 15, 16 and 18 side by side: the "Per PostgreSQL
## major" section of BENCHMARKS.md.
bench-majors: deps
	@scripts/bench-majors.sh

## The cost of statement decisions alone (agents that run SQL): the
## "Agents that run SQL" section of BENCHMARKS.md.
bench-sql: deps
	@scripts/bench-sql.sh

## What a shadow version costs evaluate(): P2 with none, a tenant one, and
## a platform and a tenant one: the "Shadow versions" section of
## BENCHMARKS.md.
bench-shadow: deps
	@scripts/bench-shadow.sh

## The soak of tests/soak: 16 clients, policy changes, Sentinel scans, seals
## and faults through pgbouncer for SOAK_SECONDS (600) on a release build,
## checked against what the clients recorded; writes the "Soak" section of
## RELIABILITY.md. `make test` runs it for 60 s.
soak: deps
	@scripts/soak.sh

## The differential oracle at full size: 10^6 policy pairs through the policy
## engine and a reference evaluator written from docs/language.md, then 2,500
## more (about 11,000 decisions) through check() and the PL/pgSQL baseline;
## writes the "Differential oracle" section of RELIABILITY.md. `make test`
## runs 2,000 and 80.
oracle: install-dev
	PG_CONFIG=$(TEST_PG_CONFIG) scripts/oracle.sh

## Coverage-guided fuzzing of the policy core (fuzz/) for FUZZ_SECONDS (600):
## the YAML parser and compiler on arbitrary bytes and on mutated policies,
## and decide() on arbitrary args and context, checked for panics, hangs and
## memory over the limits. Keeps the corpus it ends with in fuzz/corpus and
## writes the "Fuzzing" section of RELIABILITY.md.
fuzz: install-dev
	@scripts/fuzz.sh
	PG_CONFIG=$(TEST_PG_CONFIG) scripts/oracle.sh
