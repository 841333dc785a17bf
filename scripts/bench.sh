#!/usr/bin/env bash
# `make bench`: the policy core under criterion (alone and against Cedar), then
# the extension under pgbench against its baselines, all in one run on one
# machine. Prints the report and writes it to BENCHMARKS.md (with PG=16 or
# PG=18, to target/bench-pg16/ or target/bench-pg18/).
#
# Timing is never asserted: these are measurements. Every pgbench figure is the
# median of BENCH_RUNS runs, taken in rounds that visit every scenario once so
# that drift on a noisy machine spreads over all of them, and compared as a
# ratio with its baseline from the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/bench-lib.sh
# PG=15 (Debian's) is the one BENCHMARKS.md reports; PG=16 and PG=18 run the
# same benchmark on the builds of scripts/install-pg-major.sh and write their
# report under target/ (`make bench-majors` puts the main ratios of all three
# side by side in BENCHMARKS.md).
major=${PG:-15}
case "$major" in
15)
    pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
    report=$root/BENCHMARKS.md
    ;;
16 | 18)
    pg_config=${PG_CONFIG:-$(scripts/install-pg-major.sh "$major")}
    report=$root/target/bench-pg$major/BENCHMARKS.md
    ;;
*)
    echo "make bench: PG=$major: authensor builds against PostgreSQL 15, 16 and 18" >&2
    exit 2
    ;;
esac
port=${AUTHENSOR_BENCH_PORT:-54330}
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-8}
clients=${BENCH_CLIENTS:-4}
threads=$((clients < 2 ? clients : 2))
receipts=${BENCH_RECEIPTS:-10000000}
chain_rows=${BENCH_CHAIN_RECEIPTS:-500000}
out=$root/target/bench$([[ $major == 15 ]] || echo "-pg$major")
work=$out/work
cluster=$out/cluster
specs=$work results=$work

mkdir -p "$out"
echo "==> policy core and Cedar (criterion)"
rm -rf "$root/target/criterion"
logged "$out/criterion.log" cargo bench -p authensor-policy --bench policy --bench cedar -- --warm-up-time 1 --measurement-time 3
awk '/^[a-z]/ { name = $1 } /time:/ { print "  " name " " substr($0, index($0, "[")) }' "$out/criterion.log"

echo "==> release build in a private PostgreSQL $major installation"
bindir=$(private_postgres "$pg_config" "$out")

rm -rf "$work" && mkdir -p "$work/tps"
start_cluster
trap stop_cluster EXIT
"${psql[@]}" -d postgres -c "CREATE DATABASE bench_rls"
echo "==> $receipts receipts for the row-level security scenario"
"${psql[@]}" -d bench_rls -v rows="$receipts" -f bench/receipts_dataset.sql

define_scenarios

run_rounds

results_of "$work" >"$work/results"

echo "==> memory of 1,000 cached 100-rule policies in one backend"
{
    # One session: its pid gives its /proc status file.
    echo "SELECT '/proc/' || pg_backend_pid() || '/status' AS status \\gset"
    cat bench/cache_memory.sql
} | "${psql[@]}" -d bench -At -f - | tee "$work/memory"
echo "==> retention over the $receipts receipts: seal, prune the oldest month, verify"
"${psql[@]}" -d bench_rls -At -f bench/retention.sql | tee "$work/retention"
echo "==> sealing and verifying $chain_rows receipts of 100 tenants"
"${psql[@]}" -d postgres -c "CREATE DATABASE bench_chain"
"${psql[@]}" -d bench_chain -c "CREATE EXTENSION authensor"
"${psql[@]}" -d bench_chain -At -v rows="$chain_rows" -f bench/chain.sql | tee "$work/chain"
{
    echo "clients=$clients"
    echo "seconds=$seconds"
    echo "runs=$runs"
    echo "receipts=$receipts"
    cat "$work/memory"
    cat "$work/chain"
    cat "$work/retention"
    echo "commit=$(commit)"
} >"$work/meta"
mkdir -p "$(dirname "$report")"
# The report keeps the per-major section of `make bench-majors`, a run of its own.
scripts/bench-report.py "$work/results" "$work/meta" "$root/target/criterion" "$bindir" "$report" >"$work/report.md"
tee "$report" <"$work/report.md"
echo "==> wrote ${report#"$root/"}"
