#!/usr/bin/env bash
# The soak (tests/soak/soak.py): clients, policy changes, Sentinel scans and
# seals through pgbouncer in transaction pooling mode, with faults, checked
# against what the clients recorded. In a cluster of its own on PORT + 400,
# pgbouncer on the port after it, for SOAK_SECONDS (60 by default, as in
# `make test`). `make soak` (scripts/soak.sh) runs it for 10 minutes on a
# release build and sets SOAK_PORT and SOAK_REPORT (the RELIABILITY.md to
# write). Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$1/soak
port=${SOAK_PORT:-$(($2 + 400))}
seconds=${SOAK_SECONDS:-60}
rm -rf "$work"
mkdir -p "$work"
cleanup() {
    if [[ -f $work/pgbouncer/pgbouncer.pid ]]; then
        kill "$(cat "$work/pgbouncer/pgbouncer.pid")" 2>/dev/null || true
    fi
    "$root/scripts/cluster.sh" stop "$work/cluster" 2>/dev/null || true
}
trap cleanup EXIT
PYTHONDONTWRITEBYTECODE=1 python3 "$here/soak.py" --work "$work" --port "$port" --bouncer-port "$((port + 1))" --seconds "$seconds" \
    ${SOAK_REPORT:+--report "$SOAK_REPORT"} ${SOAK_SEED:+--seed "$SOAK_SEED"}
