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
# The sleeping session that holds rolled-back decisions listed: waited for,
# then cancelled (its next commit would write them).
until_asleep() {
    until [[ $("${psql[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == 1 ]]; do
        sleep 0.1
    done
}
wake_the_sleeper() {
    "${psql[@]}" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" >/dev/null
    wait $sleeper || true
}
# The list serves every database of the server; tenant ids are each
# database's own: a call rolled back by tenant rate-db in one database counts
# there at once, and not for the tenant of that id in another database. The
# call is held listed by a session that sleeps after its rollback (its next
# commit would write it), until it is cancelled.
other=(psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$preload_port" -U postgres -d authensor_preload_other)
"${psql[@]}" -c "CREATE DATABASE authensor_preload_other"
"${other[@]}" -c "CREATE EXTENSION authensor"
publish_limit_of_one() {
    "$@" >/dev/null <<'SQL'
SET authensor.tenant_id = 'rate-db';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 1, per: 1h}\n') IS NOT NULL;
SQL
}
publish_limit_of_one "${psql[@]}"
publish_limit_of_one "${other[@]}"
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-db'" -c "BEGIN" \
    -c "SELECT action FROM authensor.evaluate('mail.send')" -c "ROLLBACK" \
    -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
sleeper=$!
until_asleep
decide="SELECT action FROM authensor.evaluate('mail.send')"
got="$("${other[@]}" -c "SET authensor.tenant_id = 'rate-db'" -c "$decide") $("${psql[@]}" -c "SET authensor.tenant_id = 'rate-db'" -c "$decide")"
wake_the_sleeper
if [[ $got != "allow block" ]]; then
    echo "a rolled-back call of a tenant in another database: got $got, expected allow (the other database) block (its own)"
    status=1
else
    echo "a rolled-back call counts in its own database only"
fi

# Held listed the same way by a sleeping session: (1) a consumption of an
# approval that rolled back is spent for every other session too, and (2) a
# tenant that rolls back more allowed calls than its share of the list (256)
# has its limits held as reached in other sessions, while another tenant's
# are not touched.
"${psql[@]}" >/dev/null <<'SQL'
SET authensor.tenant_id = 'rate-fill';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - {id: ask, tool: pay.send, action: escalate}\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 5, per: 1h, scope: tool}\n') IS NOT NULL;
SET authensor.tenant_id = 'rate-calm';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 5, per: 1h, scope: tool}\n') IS NOT NULL;
SQL
approval=$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-fill'" \
    -c "SELECT receipt_id FROM authensor.evaluate('pay.send', '{\"n\": 1}')")
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-fill'" -c "SELECT authensor.approve('$approval')" >/dev/null
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-fill'" -c "BEGIN" \
    -c "SELECT authensor.consume_approval('$approval', 'pay.send', '{\"n\": 1}')" \
    -c "SELECT count(*) FROM generate_series(1, 300) n, LATERAL authensor.evaluate('noise.tool', jsonb_build_object('n', n))" \
    -c "ROLLBACK" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
sleeper=$!
until_asleep
got="$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-fill'" \
    -c "SELECT authensor.consume_approval('$approval', 'pay.send', '{\"n\": 1}')") \
$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-fill'" -c "$decide") \
$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-calm'" -c "$decide")"
wake_the_sleeper
if [[ $got != "f block allow" ]]; then
    echo "a spent approval and a tenant over its share: got $got, expected f (spent) block (over its share) allow (another tenant)"
    status=1
else
    echo "a rolled-back consumption is spent everywhere; a tenant over its share of the list is held at its limits, others are not"
fi

# (3) A consumption rolled back to a savepoint is spent for other sessions at
# once, while its transaction goes on (a tenant without rate limits: nothing
# else makes the other session wait); (4) the runs of approvals count
# towards a tenant's share too: one that rolls back 300 of them is held past
# its share, its other approvals read as spent elsewhere, and a tenant whose
# limits are untouched still decides.
"${psql[@]}" >/dev/null <<'SQL'
SET authensor.tenant_id = 'rate-spend';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - {id: ask, tool: pay.send, action: escalate}\n') IS NOT NULL;
SELECT authensor.approve(receipt_id) FROM authensor.evaluate('pay.send', '{"n": 1}');
SET authensor.tenant_id = 'rate-hog';
SELECT authensor.publish_policy(E'default: allow\nrules:\n  - {id: ask, tool: pay.send, action: escalate}\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 5, per: 1h, scope: tool}\n') IS NOT NULL;
SELECT count(authensor.approve(e.receipt_id))
  FROM generate_series(1, 302) n, LATERAL authensor.evaluate('pay.send', jsonb_build_object('n', n)) e;
SQL
receipt_of() { "${psql[@]}" -c "SELECT id FROM authensor.receipts WHERE tenant_id = '$1' AND tool = 'pay.send' AND args->>'n' = '$2'"; }
first=$(receipt_of rate-spend 1) last=$(receipt_of rate-hog 302)
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-spend'" -c "BEGIN" -c "SAVEPOINT s" \
    -c "SELECT authensor.consume_approval('$first', 'pay.send', '{\"n\": 1}')" \
    -c "ROLLBACK TO SAVEPOINT s" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
sleeper=$!
until_asleep
got=$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-spend'" \
    -c "SELECT authensor.consume_approval('$first', 'pay.send', '{\"n\": 1}')")
wake_the_sleeper
"${psql[@]}" -c "SET authensor.tenant_id = 'rate-hog'" -c "BEGIN" \
    -c "SELECT count(*) FILTER (WHERE authensor.consume_approval(r.id, 'pay.send', r.args)) FROM authensor.receipts r WHERE r.tenant_id = 'rate-hog' AND r.tool = 'pay.send' AND r.action = 'escalate' AND (r.args->>'n')::int BETWEEN 2 AND 301" \
    -c "ROLLBACK" -c "SELECT pg_sleep(600)" >/dev/null 2>&1 &
sleeper=$!
until_asleep
got="$got $("${psql[@]}" -c "SET authensor.tenant_id = 'rate-hog'" \
    -c "SELECT authensor.consume_approval('$last', 'pay.send', '{\"n\": 302}')") \
$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-hog'" -c "$decide") \
$("${psql[@]}" -c "SET authensor.tenant_id = 'rate-calm'" -c "$decide")"
wake_the_sleeper
if [[ $got != "f f block allow" ]]; then
    echo "approvals rolled back to a savepoint and past a tenant's share: got $got, expected f (spent) f (over its share) block allow"
    status=1
else
    echo "a consumption rolled back to a savepoint is spent at once; approval runs count towards a tenant's share"
fi
exit $status
