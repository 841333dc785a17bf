#!/usr/bin/env bash
# SQL-level tests against a real PostgreSQL cluster with the installed
# extension, of the build PG_CONFIG names: by default the tests' private copy
# of Debian's PostgreSQL 15 (scripts/private-pg.sh), where `make install-dev`
# installs, never the machine's own installation; `make test-sql PG=16` sets
# it to another major's, see scripts/install-pg-major.sh. pg_regress
# scenarios (tests/pg_regress) and multi-session pg_isolation_regress specs
# (tests/isolation), tenant isolation behind pgbouncer in transaction pooling
# mode (tests/pgbouncer, for agents that call the functions and for agents
# that run their own SQL), and the Sentinel's alerts over real windows with
# pg_cron (tests/sentinel), a hot standby (tests/standby), a driver that
# binds parameters (tests/clients) and pg_dump/pg_restore round trips
# (tests/dump) and ALTER EXTENSION UPDATE from the previous release with data
# in place (tests/upgrade), rate limits on a cluster with the library in
# shared_preload_libraries (tests/preload), a 60-second soak through pgbouncer with
# faults, checked against what its clients recorded (tests/soak), and the
# numbered examples of the language reference through check()
# (tests/language), and a few hundred cases of the differential oracle
# through check() and the PL/pgSQL baseline (tests/oracle). Usage:
#   tests/run-sql-tests.sh              every test
#   tests/run-sql-tests.sh seed_scenario isolation/rate_limit
#                                       only the named pg_regress tests and
#                                       isolation specs
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# Server, pg_regress, pg_isolation_regress and every client (psql, pg_dump,
# pgbench, ...) of one and the same build.
export PG_CONFIG=${PG_CONFIG:-$("$root/scripts/private-pg.sh")}
bindir=$("$PG_CONFIG" --bindir)
export PG_BINDIR=$bindir PATH=$bindir:$PATH
pgxs=$(dirname "$(dirname "$(dirname "$("$PG_CONFIG" --pgxs)")")")
major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
echo "sql tests on $("$PG_CONFIG" --version) ($bindir)"
dir=$("$root/scripts/scratch-dir.sh")/sql-tests
port=${AUTHENSOR_TEST_PORT:-54329}
# The policies the tests share, each in one file, for psql's \set `cat ...`
# in the scenarios and for the scripts.
export AUTHENSOR_FIXTURES=$root/tests/fixtures

# pg_cron, for the Sentinel's scheduled scan (tests/sentinel), where this
# build has it: Debian packages it for its PostgreSQL 15 only, the builds of
# other majors come without it, and tests/sentinel then skips that part.
settings=()
if [[ -f "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]]; then
    settings+=("shared_preload_libraries = '${AUTHENSOR_TEST_PRELOAD:+authensor, }pg_cron'" "cron.database_name = 'postgres'")
    export AUTHENSOR_TEST_PG_CRON=1
else
    export AUTHENSOR_TEST_PG_CRON=0
fi
# RUST_BACKTRACE is set so that an error that let a Rust backtrace reach the
# client would show in the expected output.
RUST_BACKTRACE=1 "$root/scripts/cluster.sh" start "$dir" "$port" "${settings[@]}"
trap '"$root/scripts/cluster.sh" stop "$dir"' EXIT

common=(--bindir="$bindir" --host="$dir" --port="$port" --user=postgres --load-extension=authensor)

if (($#)); then
    # Named tests: pg_regress scenarios, and isolation specs as isolation/NAME.
    regress_tests=()
    isolation_tests=()
    for t in "$@"; do
        case $t in
        isolation/*) isolation_tests+=("${t#isolation/}") ;;
        *) regress_tests+=("$t") ;;
        esac
    done
else
    regress_tests=($(sed -e 's/#.*//' "$root/tests/pg_regress/schedule"))
    isolation_tests=($(cd "$root/tests/isolation/specs" && ls *.spec | sed 's/\.spec$//'))
fi

log=$dir/summary.log
: >"$log"
status=0
# pg_regress counts a test without an expected output as neither passed nor
# failed: refuse to run one.
for t in "${regress_tests[@]}"; do
    [[ -f $root/tests/pg_regress/expected/$t.out ]] ||
        { echo "tests/pg_regress/expected/$t.out is missing" | tee -a "$log"; status=1; }
done
for t in "${isolation_tests[@]}"; do
    [[ -f $root/tests/isolation/expected/$t.out ]] ||
        { echo "tests/isolation/expected/$t.out is missing" | tee -a "$log"; status=1; }
done
if ((${#regress_tests[@]})); then
    "$pgxs/src/test/regress/pg_regress" "${common[@]}" \
        --inputdir="$root/tests/pg_regress" --outputdir="$dir/regress" \
        --dbname=authensor_regress "${regress_tests[@]}" | tee -a "$log" || status=1
    [[ $status == 0 ]] || cat "$dir/regress/regression.diffs" 2>/dev/null || true
fi

if ((${#isolation_tests[@]})); then
    "$pgxs/src/test/isolation/pg_isolation_regress" "${common[@]}" \
        --inputdir="$root/tests/isolation" --outputdir="$dir/isolation" \
        --dbname=authensor_isolation "${isolation_tests[@]}" | tee -a "$log" || status=1
    [[ $status == 0 ]] || cat "$dir/isolation/regression.diffs" 2>/dev/null || true
fi

# Tests that drive the cluster from a script: name, then the script.
script_tests=(
    pgbouncer_isolation pgbouncer/run.sh
    pgbouncer_sql_agent pgbouncer/sql_agent.sh
    sentinel_alerts sentinel/run.sh
    hot_standby standby/run.sh
    key_secrecy clients/run.sh
    dump_restore dump/run.sh
    receipt_chain_concurrency chain/run.sh
    receipt_faults faults/run.sh
    rate_limits_preloaded preload/run.sh
    upgrade_from_each_release upgrade/run.sh
    soak_60s soak/run.sh
    language_examples language/run.sh
    differential_oracle oracle/run.sh
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
    if [[ $AUTHENSOR_TEST_PG_CRON != 1 ]]; then
        printf 'test %-28s ... skipped (no pg_cron for PostgreSQL %s)\n' sentinel_pg_cron_schedule "$major" | tee -a "$log"
    fi
fi

# pg_regress prints "test NAME ... ok" up to 15 and TAP ("ok 1 - NAME") from 16.
passed=$(grep -cE '^(ok|test) .*\.\.\. ok|^ok [0-9]+ ' "$log" || true)
failed=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ ' "$log" || true)
skipped=$(grep -cE '\.\.\. skipped' "$log" || true)
summary="sql tests: $passed passed, $failed failed"
if ((skipped)); then summary+=", $skipped skipped"; fi
echo "$summary"
[[ $failed == 0 ]] || status=1
exit $status
