#!/usr/bin/env bash
# SQL-level tests against a real PostgreSQL 15 cluster with the installed
# extension: pg_regress scenarios (tests/pg_regress) and multi-session
# pg_isolation_regress specs (tests/isolation), tenant isolation behind
# pgbouncer in transaction pooling mode (tests/pgbouncer), and the Sentinel's
# alerts over real windows with pg_cron (tests/sentinel), a hot standby
# (tests/standby), a driver that binds parameters (tests/clients) and
# pg_dump/pg_restore round trips (tests/dump) and ALTER EXTENSION UPDATE from
# the previous release with data in place (tests/upgrade). Usage:
#   tests/run-sql-tests.sh              every test
#   tests/run-sql-tests.sh seed_scenario only the named pg_regress tests
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bindir=/usr/lib/postgresql/15/bin
pgxs=$(dirname "$(dirname "$(dirname "$("$bindir/pg_config" --pgxs)")")")
dir=$("$root/scripts/scratch-dir.sh")/sql-tests
port=${AUTHENSOR_TEST_PORT:-54329}

# pg_cron, for the Sentinel's scheduled scan (tests/sentinel).
# RUST_BACKTRACE is set so that an error that let a Rust backtrace reach the
# client would show in the expected output.
RUST_BACKTRACE=1 "$root/scripts/cluster.sh" start "$dir" "$port" \
    "shared_preload_libraries = 'pg_cron'" "cron.database_name = 'postgres'"
trap '"$root/scripts/cluster.sh" stop "$dir"' EXIT

common=(--bindir="$bindir" --host="$dir" --port="$port" --user=postgres --load-extension=authensor)

if (($#)); then
    regress_tests=("$@")
    isolation_tests=()
else
    regress_tests=($(sed -e 's/#.*//' "$root/tests/pg_regress/schedule"))
    isolation_tests=($(cd "$root/tests/isolation/specs" && ls *.spec | sed 's/\.spec$//'))
fi

log=$dir/summary.log
: >"$log"
status=0
"$pgxs/src/test/regress/pg_regress" "${common[@]}" \
    --inputdir="$root/tests/pg_regress" --outputdir="$dir/regress" \
    --dbname=authensor_regress "${regress_tests[@]}" | tee -a "$log" || status=1
[[ $status == 0 ]] || cat "$dir/regress/regression.diffs" 2>/dev/null || true

if ((${#isolation_tests[@]})); then
    "$pgxs/src/test/isolation/pg_isolation_regress" "${common[@]}" \
        --inputdir="$root/tests/isolation" --outputdir="$dir/isolation" \
        --dbname=authensor_isolation "${isolation_tests[@]}" | tee -a "$log" || status=1
    [[ $status == 0 ]] || cat "$dir/isolation/regression.diffs" 2>/dev/null || true
fi

# Tests that drive the cluster from a script: name, then the script.
script_tests=(
    pgbouncer_isolation pgbouncer/run.sh
    sentinel_alerts sentinel/run.sh
    hot_standby standby/run.sh
    key_secrecy clients/run.sh
    dump_restore dump/run.sh
    upgrade_from_0.1.0 upgrade/run.sh
)
if ((! $#)); then
    for ((i = 0; i < ${#script_tests[@]}; i += 2)); do
        name=${script_tests[i]} script=${script_tests[i + 1]}
        if "$root/tests/$script" "$dir" "$port" >"$dir/$name.out" 2>&1; then
            printf 'test %-28s ... ok\n' "$name" | tee -a "$log"
        else
            printf 'test %-28s ... FAILED\n' "$name" | tee -a "$log"
            status=1
        fi
        cat "$dir/$name.out"
    done
fi

passed=$(grep -cE '^(ok|test) .*\.\.\. ok' "$log" || true)
failed=$(grep -cE '\.\.\. FAILED' "$log" || true)
echo "sql tests: $passed passed, $failed failed"
[[ $failed == 0 ]] || status=1
exit $status
