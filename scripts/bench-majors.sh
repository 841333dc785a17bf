#!/usr/bin/env bash
# `make bench-majors`: the two main ratios of `make bench` on PostgreSQL 15, 16
# and 18 side by side, in one run: P1, `check()` throughput ÷ `SELECT 1`, and
# P2, `evaluate()` throughput ÷ a bare INSERT of the same receipt. Each major
# runs the release build of its own feature in a private copy of its
# installation (Debian's 15; 16 and 18 from scripts/install-pg-major.sh) and a
# scratch cluster of its own with the same settings (ports 54331, 54332 and
# 54333). Each round runs the four scenarios on every major in turn, so that
# drift on a noisy machine spreads over all three. Writes the "Per PostgreSQL
# major" section of BENCHMARKS.md and leaves the rest of the file as it was.
#
# Timing is never asserted. BENCH_RUNS (default 5), BENCH_SECONDS (8) and
# BENCH_CLIENTS (4) as for `make bench`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
majors=(15 16 18)
base_port=${AUTHENSOR_BENCH_PORT:-54330}
runs=${BENCH_RUNS:-5}
seconds=${BENCH_SECONDS:-8}
clients=${BENCH_CLIENTS:-4}
threads=$((clients < 2 ? clients : 2))
out=$root/target/bench-majors
specs=$out/scenarios

# use MAJOR: that major's cluster is the one start_cluster and run() act on.
declare -A port_of
use() {
    bindir=$out/pg$1/postgresql$("$out/pg$1/pg_config" --bindir)
    cluster=$out/pg$1/cluster port=${port_of[$1]} results=$out/pg$1/work
}

rm -rf "$out"
mkdir -p "$out"
started=()
trap 'for major in "${started[@]}"; do use "$major"; stop_cluster; done' EXIT
for major in "${majors[@]}"; do
    if [[ $major == 15 ]]; then
        pg_config=/usr/lib/postgresql/15/bin/pg_config
    else
        pg_config=$(scripts/install-pg-major.sh "$major")
    fi
    echo "==> PostgreSQL $major: release build in a private installation"
    private_postgres "$pg_config" "$out/pg$major" >/dev/null
    ln -s "$pg_config" "$out/pg$major/pg_config"
    port_of[$major]=$((base_port + ${#started[@]} + 1))
    use "$major"
    start_cluster
    started+=("$major")
done

define_scenarios select_1 check insert_receipt evaluate

echo "==> pgbench -M prepared: ${#names[@]} scenarios on ${#majors[@]} majors, $clients clients, ${seconds}s, $runs rounds"
for round in $(seq "$runs"); do
    for major in "${majors[@]}"; do
        use "$major"
        for name in "${names[@]}"; do
            run "$name"
            printf '  round %s  PostgreSQL %s  %-16s %10.0f tps\n' "$round" "$major" "$name" "$(tail -n 1 "$results/tps/$name")"
        done
    done
done

report=()
for major in "${majors[@]}"; do
    use "$major"
    results_of "$results" >"$results/results"
    report+=("$major" "$results/results" "$bindir")
done
{
    echo "clients=$clients"
    echo "seconds=$seconds"
    echo "runs=$runs"
    echo "commit=$(commit)"
} >"$out/meta"
scripts/bench-report.py --majors "$root/BENCHMARKS.md" "$out/meta" "${report[@]}"
echo "==> wrote the per-major section of BENCHMARKS.md"
