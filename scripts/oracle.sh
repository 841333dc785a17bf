#!/usr/bin/env bash
# `make oracle`: the differential oracle at full size. ORACLE_CASES
# (1,000,000) policy pairs through the engine and the reference evaluator
# (policy/tests/differential_oracle.rs, release build), then ORACLE_DB_PAIRS
# (2,500, about 11,000 decisions) more through authensor.check() and the
# PL/pgSQL baseline (tests/oracle/run.sh) in a scratch cluster on
# AUTHENSOR_ORACLE_PORT (54342) of the PostgreSQL PG_CONFIG names, where
# `make install-dev` has installed the extension. ORACLE_SEED fixes the
# seeds. Writes the "Differential oracle" section of RELIABILITY.md; exits
# non-zero at the first disagreement, which it shows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
pg_config=${PG_CONFIG:-$(scripts/private-pg.sh)}
bindir=$("$pg_config" --bindir)
port=${AUTHENSOR_ORACLE_PORT:-54342}
out=$(scripts/scratch-dir.sh)/oracle
rm -rf "$out"
mkdir -p "$out"
seed=${ORACLE_SEED:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}
db_seed=$((seed + 1))
started=$SECONDS

echo "==> ${ORACLE_CASES:-1000000} policy pairs through the engine and the reference, seed $seed"
AUTHENSOR_ORACLE_CASES=${ORACLE_CASES:-1000000} AUTHENSOR_ORACLE_SEED=$seed \
    AUTHENSOR_ORACLE_STATS=$out/core.json \
    cargo test --release -p authensor-policy --test differential_oracle -- --nocapture

echo "==> ${ORACLE_DB_PAIRS:-2500} policy pairs through check() and the baseline, seed $db_seed"
cargo run --release -q -p authensor-policy --example oracle_export -- \
    "${ORACLE_DB_PAIRS:-2500}" "$db_seed" "$out/cases.jsonl" >"$out/export.json"
PG_BINDIR=$bindir scripts/cluster.sh start "$out/cluster" "$port"
trap 'PG_BINDIR=$bindir scripts/cluster.sh stop "$out/cluster"' EXIT
PATH=$bindir:$PATH tests/oracle/run.sh "$out/cluster" "$port" "$out/cases.jsonl" "$out/database.json"

printf '{"bindir": "%s", "db_seed": %s, "seconds": %s}\n' "$bindir" "$db_seed" $((SECONDS - started)) >"$out/run.json"
python3 tests/oracle/report.py RELIABILITY.md "$out/run.json" "$out/core.json" "$out/export.json" "$out/database.json"
echo "==> RELIABILITY.md"
