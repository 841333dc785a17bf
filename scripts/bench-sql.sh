#!/usr/bin/env bash
# `make bench-sql`: the cost of statement decisions alone, a short run of the
# four sql_select_* scenarios of `make bench` (a prepared SELECT as a role
# without the library, with it loaded, as an agent, and deciding for itself
# with evaluate()). Writes the "Agents that run SQL" section of
# BENCHMARKS.md and leaves the rest as it was.
#
# Timing is never asserted. BENCH_RUNS (default 5), BENCH_SECONDS (8) and
# BENCH_CLIENTS (4) as for `make bench`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
dedicated_run bench-sql 54334
trap stop_cluster EXIT

define_scenarios sql_select_plain sql_select_loaded sql_select_agent sql_select_evaluate

run_rounds
results_of "$work" >"$work/results"

# The same SELECT in a PL/pgSQL loop in one backend, as the role without the
# library and as the role that loads it, alternately.
echo "==> 200,000 SELECTs in one backend, $runs rounds"
for round in $(seq "$runs"); do
    for role in plain loaded; do
        seconds_taken=$("${psql[@]}" -d bench -U "bench_sql_$role" -f bench/sql_hook_loop.sql 2>&1 |
            sed -n 's/.*loop_seconds=\([0-9.]*\).*/\1/p')
        echo "$seconds_taken" >>"$work/loop_$role"
        printf '  round %s  %-28s %8.3f s\n' "$round" "loop_$role" "$seconds_taken"
    done
done
{
    echo "loop_plain=$(paste -sd' ' "$work/loop_plain")"
    echo "loop_loaded=$(paste -sd' ' "$work/loop_loaded")"
    echo "clients=$clients"
    echo "seconds=$seconds"
    echo "runs=$runs"
    echo "commit=$(commit)"
} >"$work/meta"
scripts/bench-report.py --sql "$root/BENCHMARKS.md" "$work/meta" "$work/results" "$bindir"
