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

# A backend that exits after a rollback writes the receipt (exit callbacks
# are registered by each backend: the postmaster's are not inherited) and
# takes its entry off the list, so the call counts once, not twice: with a
# limit of 2, the next call passes and the one after is blocked.
psql=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$preload_port" -U postgres -d authensor_preload)
"${psql[@]}" >/dev/null <<'SQL'
SET authensor.tenant_id = 'rate-exit';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 2, per: 1h}\n') IS NOT NULL;
SQL
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-exit'" -c "BEGIN" \
    -c "SELECT action FROM authensor.evaluate('mail.send')" -c "ROLLBACK" >/dev/null
got=$("${psql[@]}" <<'SQL'
SET authensor.tenant_id = 'rate-exit';
SELECT string_agg(committed::text, ',' ORDER BY committed) FROM authensor.receipts WHERE tenant_id = 'rate-exit';
SELECT action FROM authensor.evaluate('mail.send');
SELECT action FROM authensor.evaluate('mail.send');
SQL
)
expected=$'false\nallow\nblock'
if [[ $got != "$expected" ]]; then
    echo "after a backend exited with a rolled-back call: got $(tr '\n' ' ' <<<"$got"), expected $(tr '\n' ' ' <<<"$expected")"
    status=1
else
    echo "a backend's exit writes its rolled-back call and takes it off the list: counted once"
fi
exit $status
