#!/usr/bin/env bash
# A hot standby of the SQL-test cluster: evaluate() and guard() refuse with a
# clear 25006 (a receipt cannot be written during recovery), check() still
# decides from the replicated policies. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
socket_dir=$1 port=$2
standby_port=$((port + 200))
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
standby=$socket_dir/standby
as_postgres() { runuser -u postgres -- "$@"; }

psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -U postgres)
"${psql[@]}" -p "$port" -d postgres -c "CREATE DATABASE authensor_standby"
"${psql[@]}" -p "$port" -d authensor_standby -v platform="$(cat "$root/tests/fixtures/no-shell.yaml")" <<'SQL'
CREATE EXTENSION authensor;
SELECT authensor.publish_platform_policy(:'platform');
SQL

rm -rf "$standby"
as_postgres "$bindir/pg_basebackup" -h "$socket_dir" -p "$port" -U postgres -D "$standby/data" -R -X stream -c fast
{
    echo "port = $standby_port"
    echo "hot_standby = on"
} >>"$standby/data/postgresql.conf"
as_postgres "$bindir/pg_ctl" -D "$standby/data" -l "$standby/server.log" -w start >/dev/null
trap 'as_postgres "$bindir/pg_ctl" -D "$standby/data" -m fast -w stop >/dev/null' EXIT

out=$("${psql[@]}" -p "$standby_port" -d authensor_standby -v ON_ERROR_STOP=0 2>&1 <<'SQL'
SELECT pg_is_in_recovery() AS in_recovery;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-standby';
SELECT action, layer FROM authensor.check('shell.exec');
SAVEPOINT s;
SELECT authensor.evaluate('shell.exec');
ROLLBACK TO SAVEPOINT s;
SELECT authensor.guard('shell.exec');
ROLLBACK;
SQL
)
echo "$out"
grep -q "block  | platform" <<<"$out"
grep -q "ERROR:  authensor.evaluate() cannot write its receipt during recovery" <<<"$out"
grep -q "ERROR:  authensor.guard() cannot write its receipt during recovery" <<<"$out"
! grep -qiE "server closed|terminated|XX000" <<<"$out"
echo "standby: check() decides, evaluate() and guard() refuse with 25006"
