#!/usr/bin/env bash
# `make bench-shadow`: what a shadow version costs evaluate(), a short run
# of four scenarios with the settings and release build of `make bench`: the
# bare INSERT of the receipt (P2's baseline), evaluate() with no shadow
# version, with a tenant shadow version, and with a platform and a tenant
# shadow version (bench/shadow.sql). Writes the "Shadow versions" section of
# BENCHMARKS.md and leaves the rest as it was.
#
# Timing is never asserted. BENCH_RUNS (default 5), BENCH_SECONDS (8) and
# BENCH_CLIENTS (4) as for `make bench`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
dedicated_run bench-shadow 54335
trap stop_cluster EXIT
# A platform shadow version applies to every tenant of its database: the
# scenario with both shadows has a copy of `bench` of its own.
"${psql[@]}" -d postgres -c "CREATE DATABASE bench_shadow TEMPLATE bench"
"${psql[@]}" -d bench -f bench/shadow.sql >/dev/null
"${psql[@]}" -d bench_shadow -v platform_shadow=on -f bench/shadow.sql >/dev/null

define_scenarios insert_receipt evaluate
define_shadow_scenarios

run_rounds
results_of "$work" >"$work/results"
{
    echo "clients=$clients"
    echo "seconds=$seconds"
    echo "runs=$runs"
    echo "commit=$(commit)"
} >"$work/meta"
scripts/bench-report.py --shadow "$root/BENCHMARKS.md" "$work/meta" "$work/results" "$bindir"
