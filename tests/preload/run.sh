#!/usr/bin/env bash
# Rate limits with authensor in shared_preload_libraries, on a cluster of its
# own (the SQL tests' cluster loads the library per session): the isolation
# specs in tests/preload/specs. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
socket_dir=$1 port=$2
preload_port=$((port + 300))
pg_config=${PG_CONFIG:-$("$root/scripts/private-pg.sh")}
bindir=$("$pg_config" --bindir)
export PG_BINDIR=$bindir
dir=$socket_dir/preload
pgxs=$(dirname "$(dirname "$(dirname "$("$pg_config" --pgxs)")")")

"$root/scripts/cluster.sh" start "$dir" "$preload_port" "shared_preload_libraries = 'authensor'"
trap '"$root/scripts/cluster.sh" stop "$dir"' EXIT

specs=($(cd "$root/tests/preload/specs" && ls *.spec | sed 's/\.spec$//'))
status=0
"$pgxs/src/test/isolation/pg_isolation_regress" --bindir="$bindir" --host="$dir" \
    --port="$preload_port" --user=postgres --load-extension=authensor \
    --inputdir="$root/tests/preload" --outputdir="$dir/isolation" \
    --dbname=authensor_preload "${specs[@]}" || status=1
[[ $status == 0 ]] || cat "$dir/isolation/regression.diffs" 2>/dev/null || true
exit $status
