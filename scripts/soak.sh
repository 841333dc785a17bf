#!/usr/bin/env bash
# `make soak`: the release build in a private copy of the PostgreSQL that
# PG_CONFIG names (the Makefile's, by PG; Debian's 15 by default), as
# `make bench` does, then tests/soak/run.sh for SOAK_SECONDS (600 by
# default) with its cluster on AUTHENSOR_SOAK_PORT (54340) and pgbouncer on
# the port after it. Writes the "Soak" section of RELIABILITY.md (for
# another major than 15, of target/soak-pgN/RELIABILITY.md). Exits non-zero
# if a check failed; the report says which.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
out=$(scripts/scratch-dir.sh)/soak
report=$root/RELIABILITY.md
if [[ $major != 15 ]]; then
    out+=-pg$major
    report=$out/RELIABILITY.md
fi
mkdir -p "$out"
echo "==> release build in a private PostgreSQL $major installation"
bindir=$(private_postgres "$pg_config" "$out")
echo "==> soak for ${SOAK_SECONDS:-600} s"
PG_BINDIR=$bindir PATH=$bindir:$PATH SOAK_SECONDS=${SOAK_SECONDS:-600} \
    SOAK_PORT=${AUTHENSOR_SOAK_PORT:-54340} SOAK_REPORT=$report \
    tests/soak/run.sh "$out" 0
echo "==> $report"
