#!/usr/bin/env bash
# A scratch PostgreSQL cluster run by the `postgres` OS user, for the demo,
# the SQL-level tests and the benchmarks: Debian's PostgreSQL 15, or the build
# whose programs are in PG_BINDIR.
#   scripts/cluster.sh start DIR PORT [setting=value ...]   fresh initdb + start
#   scripts/cluster.sh stop DIR
set -euo pipefail

BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
command=$1 dir=$2

as_postgres() { runuser -u postgres -- "$@"; }

case "$command" in
start)
    port=$3
    shift 3
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_postgres "$BINDIR/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    chown postgres: "$dir"
    as_postgres "$BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    {
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = '$dir'"
        echo "fsync = off"
        for setting in "$@"; do echo "$setting"; done
    } >>"$dir/data/postgresql.conf"
    as_postgres "$BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
    ;;
stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_postgres "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "usage: $0 start DIR PORT [setting=value ...] | stop DIR" >&2
    exit 2
    ;;
esac
