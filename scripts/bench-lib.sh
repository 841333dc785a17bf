# Sourced by scripts/bench.sh and scripts/bench-majors.sh: the private
# installation, the scratch cluster and the pgbench scenarios they share.
#
# The scenario being run is on the cluster these name: bindir (its programs),
# cluster (its directory, where its socket is) and port; run() writes into
# results. clients, threads and seconds are pgbench's.

# logged LOG COMMAND...: runs COMMAND with its output in LOG, shown only if it fails.
logged() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
}

# private_postgres PG_CONFIG DIR: the release build, packaged with
# `cargo pgrx package`, in a private copy of PG_CONFIG's PostgreSQL
# installation under DIR (PostgreSQL finds its lib and share directories
# relative to its binaries), so that an install of another build elsewhere
# cannot swap the library mid-run. Prints the copy's bindir.
private_postgres() {
    local pg_config=$1 dir=$2 major features=() copy=() path
    major=$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
    if [[ $major == 15 ]]; then
        copy=("$("$pg_config" --bindir)" "$("$pg_config" --pkglibdir)" "$("$pg_config" --sharedir)")
    else
        features=(--no-default-features --features "pg$major")
        # A build of scripts/install-pg-major.sh: the whole unpacked wheel,
        # whose programs find libpq in <wheel>.libs/ beside pgserver/.
        copy=("$(cd "$("$pg_config" --bindir)/../../.." && pwd)")
    fi
    rm -rf "$dir/package" "$dir/postgresql"
    mkdir -p "$dir"
    logged "$dir/package.log" cargo pgrx package --pg-config "$pg_config" "${features[@]}" --out-dir "$dir/package"
    for path in "${copy[@]}"; do
        mkdir -p "$dir/postgresql$(dirname "$path")"
        cp -a "$path" "$dir/postgresql$path"
    done
    cp -a "$dir/package/." "$dir/postgresql/"
    echo "$dir/postgresql$("$pg_config" --bindir)"
}

# start_cluster: a fresh scratch cluster with the benchmark's settings, and its
# database `bench` (bench/setup.sql).
start_cluster() {
    PG_BINDIR=$bindir scripts/cluster.sh start "$cluster" "$port" \
        "max_connections = 50" "shared_buffers = 256MB" "max_wal_size = 2GB" "autovacuum = off"
    psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$cluster" -p "$port" -U postgres)
    "${psql[@]}" -d postgres -c "CREATE DATABASE bench"
    "${psql[@]}" -d bench -f bench/setup.sql >/dev/null
}

stop_cluster() {
    PG_BINDIR=$bindir scripts/cluster.sh stop "$cluster"
    rm -rf "$cluster"
}

# dedicated_run NAME DEFAULT_PORT: the settings of a short dedicated run
# (`make bench-sql`, `make bench-shadow`) from BENCH_RUNS (5), BENCH_SECONDS
# (8), BENCH_CLIENTS (4) and AUTHENSOR_BENCH_PORT, its release build under
# target/NAME and its scratch cluster, started (stop_cluster stops it).
dedicated_run() {
    pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
    port=${AUTHENSOR_BENCH_PORT:-$2}
    runs=${BENCH_RUNS:-5}
    seconds=${BENCH_SECONDS:-8}
    clients=${BENCH_CLIENTS:-4}
    threads=$((clients < 2 ? clients : 2))
    out=$root/target/$1
    work=$out/work
    cluster=$out/cluster
    specs=$work results=$work
    echo "==> release build in a private PostgreSQL installation"
    bindir=$(private_postgres "$pg_config" "$out")
    rm -rf "$work" && mkdir -p "$work/tps"
    start_cluster
}

# scenario NAME DATABASE ROLE PGOPTIONS SCRIPT [VARIABLE=VALUE ...], into
# $specs/NAME.scenario, if NAME is among those define_scenarios was asked for.
names=()
wanted=()
scenario() {
    if ((${#wanted[@]})) && [[ " ${wanted[*]} " != *" $1 "* ]]; then return; fi
    printf '%s\n' "${@:2}" >"$specs/$1.scenario"
    names+=("$1")
}

# run NAME: one pgbench run of the scenario, its tps appended to $results/tps/NAME.
run() {
    local spec variables=() log=$results/$1.log tps
    mapfile -t spec <"$specs/$1.scenario"
    for variable in "${spec[@]:4}"; do variables+=(-D "$variable"); done
    mkdir -p "$results/tps"
    PGOPTIONS=${spec[2]} "$bindir/pgbench" -n -M prepared -c "$clients" -j "$threads" -T "$seconds" \
        -h "$cluster" -p "$port" -U "${spec[1]}" "${variables[@]}" -f "bench/pgbench/${spec[3]}" "${spec[0]}" >"$log" 2>&1 || true
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log")
    if [[ -z "$tps" ]] || grep -q 'error:' "$log"; then
        echo "pgbench failed in scenario $1:" >&2
        cat "$log" >&2
        exit 1
    fi
    echo "$tps" >>"$results/tps/$1"
}

# run_rounds: every scenario once per round, $runs rounds, each run's tps
# printed as it comes.
run_rounds() {
    local round name
    echo "==> pgbench -M prepared: ${#names[@]} scenarios, $clients clients, ${seconds}s, $runs rounds"
    for round in $(seq "$runs"); do
        for name in "${names[@]}"; do
            run "$name"
            printf '  round %s  %-28s %10.0f tps\n' "$round" "$name" "$(tail -n 1 "$results/tps/$name")"
        done
    done
}

# results_of DIR: one line per scenario, its name then the tps of every round.
results_of() {
    local name
    for name in "${names[@]}"; do
        echo "$name $(tr '\n' ' ' <"$1/tps/$name")"
    done
}

tenant() { echo "-c authensor.tenant_id=$1"; }

# define_scenarios [NAME ...]: every scenario of `make bench` in its fixed
# order, or only those named.
define_scenarios() {
    wanted=("$@")
    mkdir -p "$specs"
    local scoped_query='{"query": "SELECT * FROM orders WHERE tenant_id = '\''bench-10'\''"}' n
    scenario select_1 bench bench_app "$(tenant bench-10)" select_1.sql
    scenario args_only bench bench_app "$(tenant bench-10)" args_only.sql tool=database.query "args=$scoped_query"
    scenario check bench bench_app "$(tenant bench-10)" check.sql tool=database.query "args=$scoped_query"
    scenario check_rate bench bench_app "$(tenant bench-rate)" check.sql tool=database.query \
        'args={"query": "SELECT * FROM orders WHERE tenant_id = '\''bench-rate'\''"}'
    scenario check_action bench bench_app "$(tenant bench-10)" check_action.sql tool=database.query "args=$scoped_query"
    scenario plpgsql_check bench bench_app "$(tenant bench-10)" plpgsql_check.sql tool=database.query "args=$scoped_query"
    scenario insert_receipt bench bench_app "$(tenant bench-10)" insert_receipt.sql tool=database.query "args=$scoped_query" \
        tenant=bench-10 'context={"tenantId": "bench-10"}'
    scenario evaluate bench bench_app "$(tenant bench-10)" evaluate.sql tool=database.query "args=$scoped_query"
    scenario evaluate_rate bench bench_app "$(tenant bench-rate-evaluate)" evaluate.sql tool=database.query \
        'args={"query": "SELECT * FROM orders WHERE tenant_id = '\''bench-rate-evaluate'\''"}'
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
    for role in plain loaded agent; do
        scenario "sql_select_$role" bench "bench_sql_$role" "$(tenant bench-sql)" sql_select.sql
    done
    scenario sql_select_evaluate bench bench_app "$(tenant bench-sql)" sql_select_evaluate.sql
    scenario newest_receipts_rls bench_rls bench_app "$(tenant tenant-42)" newest_receipts_rls.sql
    scenario newest_receipts_one_tenant bench_rls bench_app "$(tenant tenant-42)" newest_receipts_one_tenant.sql tenant=tenant-42
}

# define_shadow_scenarios: evaluate() of bench-10's request for tenant
# bench-shadow (bench/shadow.sql), under a tenant shadow version in database
# bench and under a platform and a tenant shadow version in bench_shadow.
define_shadow_scenarios() {
    wanted=()
    local query='{"query": "SELECT * FROM orders WHERE tenant_id = '\''bench-shadow'\''"}'
    scenario evaluate_shadow bench bench_app "$(tenant bench-shadow)" evaluate.sql tool=database.query "args=$query"
    scenario evaluate_shadow_both bench_shadow bench_app "$(tenant bench-shadow)" evaluate.sql \
        tool=database.query "args=$query"
}

# The commit measured, and whether the extension's sources differ from it.
commit() {
    echo "$(git rev-parse --short HEAD)$([[ -z "$(git status --porcelain -- src sql policy/src)" ]] || echo ' with uncommitted changes')"
}
