#!/usr/bin/env bash
# `make bench`: the policy core under criterion (alone and against Cedar), then
# the extension under pgbench against its baselines, all in one run on one
# machine. Prints the report and writes it to BENCHMARKS.md.
#
# Timing is never asserted: these are measurements. Every pgbench figure is the
# median of BENCH_RUNS runs, taken in rounds that visit every scenario once so
# that drift on a noisy machine spreads over all of them, and compared as a
# ratio with its baseline from the same run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# The baselines and BENCHMARKS.md are of Debian's PostgreSQL 15, whose
# installation is copied below; other majors are tested, not benchmarked.
if [[ ${PG:-15} != 15 ]]; then
    echo "make bench: benchmarks run on PostgreSQL 15 only (PG=$PG given)" >&2
    exit 2
fi
port=${AUTHENSOR_BENCH_PORT:-54330}
runs=${BENCH_RUNS:-3}
seconds=${BENCH_SECONDS:-8}
clients=${BENCH_CLIENTS:-4}
threads=$((clients < 2 ? clients : 2))
receipts=${BENCH_RECEIPTS:-10000000}
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
out=$root/target/bench
work=$out/work
cluster=$out/cluster

# Runs a command with its output in $out/NAME.log, shown only if it fails.
logged() {
    local log=$out/$1.log
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
}

mkdir -p "$out"
echo "==> policy core and Cedar (criterion)"
rm -rf "$root/target/criterion"
logged criterion cargo bench -p authensor-policy --bench policy --bench cedar -- --warm-up-time 1 --measurement-time 3
awk '/^[a-z]/ { name = $1 } /time:/ { print "  " name " " substr($0, index($0, "[")) }' "$out/criterion.log"

# The release build in a private copy of the PostgreSQL installation (which
# finds its lib and share directories relative to its binaries), so that an
# install of another build elsewhere cannot swap the library mid-run.
echo "==> release build in a private PostgreSQL installation"
rm -rf "$out/package" "$out/postgresql"
logged package cargo pgrx package --pg-config "$pg_config" --out-dir "$out/package"
for dir in "$("$pg_config" --bindir)" "$("$pg_config" --pkglibdir)" "$("$pg_config" --sharedir)"; do
    mkdir -p "$out/postgresql$(dirname "$dir")"
    cp -a "$dir" "$out/postgresql$dir"
done
cp -a "$out/package/." "$out/postgresql/"
bindir=$out/postgresql$("$pg_config" --bindir)

PG_BINDIR=$bindir scripts/cluster.sh start "$cluster" "$port" \
    "max_connections = 50" "shared_buffers = 256MB" "max_wal_size = 2GB" "autovacuum = off"
trap 'PG_BINDIR=$bindir scripts/cluster.sh stop "$cluster"; rm -rf "$cluster"' EXIT
rm -rf "$work" && mkdir -p "$work/tps"
psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$cluster" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE bench" -c "CREATE DATABASE bench_rls"
"${psql[@]}" -d bench -f bench/setup.sql >/dev/null
echo "==> $receipts receipts for the row-level security scenario"
"${psql[@]}" -d bench_rls -v rows="$receipts" -f bench/receipts_dataset.sql

# scenario NAME DATABASE ROLE PGOPTIONS SCRIPT [VARIABLE=VALUE ...]
names=()
scenario() {
    printf '%s\n' "${@:2}" >"$work/$1.scenario"
    names+=("$1")
}

run() {
    local spec variables=() log=$work/$1.log tps
    mapfile -t spec <"$work/$1.scenario"
    for variable in "${spec[@]:4}"; do variables+=(-D "$variable"); done
    PGOPTIONS=${spec[2]} "$bindir/pgbench" -n -M prepared -c "$clients" -j "$threads" -T "$seconds" \
        -h "$cluster" -p "$port" -U "${spec[1]}" "${variables[@]}" -f "bench/pgbench/${spec[3]}" "${spec[0]}" >"$log" 2>&1 || true
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log")
    if [[ -z "$tps" ]] || grep -q 'error:' "$log"; then
        echo "pgbench failed in scenario $1:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "$tps" >>"$work/tps/$1"
}

tenant() { echo "-c authensor.tenant_id=$1"; }
scoped_query='{"query": "SELECT * FROM orders WHERE tenant_id = '\''bench-10'\''"}'

scenario select_1 bench bench_app "$(tenant bench-10)" select_1.sql
scenario args_only bench bench_app "$(tenant bench-10)" args_only.sql tool=database.query "args=$scoped_query"
scenario check bench bench_app "$(tenant bench-10)" check.sql tool=database.query "args=$scoped_query"
scenario check_action bench bench_app "$(tenant bench-10)" check_action.sql tool=database.query "args=$scoped_query"
scenario plpgsql_check bench bench_app "$(tenant bench-10)" plpgsql_check.sql tool=database.query "args=$scoped_query"
scenario insert_receipt bench bench_app "$(tenant bench-10)" insert_receipt.sql tool=database.query "args=$scoped_query" \
    tenant=bench-10 'context={"tenantId": "bench-10"}'
scenario evaluate bench bench_app "$(tenant bench-10)" evaluate.sql tool=database.query "args=$scoped_query"
scenario plpgsql_evaluate bench bench_app "$(tenant bench-10)" plpgsql_evaluate.sql tool=database.query "args=$scoped_query"
for n in 10 1000 10000; do
    scenario "check_hit_$n" bench bench_app "$(tenant "bench-$n")" check.sql "tool=tool.$n.run" "args={\"n\": $n}"
done
for n in 10 10000; do
    scenario "evaluate_hit_$n" bench bench_app "$(tenant "bench-$n")" evaluate.sql "tool=tool.$n.run" "args={\"n\": $n}"
done
# Room for one compiled policy (bench_cold's authensor.cache_size, a
# superuser-only setting) and two tenants whose policies differ, so every
# check re-reads the active versions, fetches the source and compiles it.
for n in 10 1000 10000; do
    scenario "check_cold_$n" bench bench_cold "$(tenant "cold-a-$n")" check_cold.sql \
        "tenant_a=cold-a-$n" "tenant_b=cold-b-$n" "tool=tool.$n.run" "args={\"n\": $n}"
done
scenario newest_receipts_rls bench_rls bench_app "$(tenant tenant-42)" newest_receipts_rls.sql
scenario newest_receipts_one_tenant bench_rls bench_app "$(tenant tenant-42)" newest_receipts_one_tenant.sql tenant=tenant-42

echo "==> pgbench -M prepared: ${#names[@]} scenarios, $clients clients, ${seconds}s, $runs rounds"
for round in $(seq "$runs"); do
    for name in "${names[@]}"; do
        run "$name"
        printf '  round %s  %-28s %10.0f tps\n' "$round" "$name" "$(tail -n 1 "$work/tps/$name")"
    done
done

for name in "${names[@]}"; do
    echo "$name $(tr '\n' ' ' <"$work/tps/$name")"
done >"$work/results"

echo "==> memory of 1,000 cached 100-rule policies in one backend"
{
    # One session: its pid gives its /proc status file.
    echo "SELECT '/proc/' || pg_backend_pid() || '/status' AS status \\gset"
    cat bench/cache_memory.sql
} | "${psql[@]}" -d bench -At -f - | tee "$work/memory"
{
    echo "clients=$clients"
    echo "seconds=$seconds"
    echo "runs=$runs"
    echo "receipts=$receipts"
    cat "$work/memory"
    echo "commit=$(git rev-parse --short HEAD)$([[ -z "$(git status --porcelain -- src sql policy/src)" ]] || echo ' with uncommitted changes')"
} >"$work/meta"
scripts/bench-report.py "$work/results" "$work/meta" "$root/target/criterion" "$bindir" | tee "$root/BENCHMARKS.md"
echo "==> wrote BENCHMARKS.md"
