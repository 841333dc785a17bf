#!/usr/bin/env bash
# Receipts through crashes, in a cluster of its own:
# 1. kill -9 of a backend whose transaction decided, and of one holding the
#    receipt of a rolled-back decision: both are lost (as the README says),
#    the second leaves its LOG line, and nothing else is touched;
# 2. pg_ctl stop -m immediate while clients decide and seals run.
# After each restart: every committed decision has its receipt and every
# receipt its committed work (a ledger row written in the same transaction),
# the seal goes on, and every chain verifies. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
socket_dir=$1
port=$(($2 + 300))
dir=$socket_dir/faults
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
"$root/scripts/cluster.sh" start "$dir" "$port"
trap '"$root/scripts/cluster.sh" stop "$dir"' EXIT
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres)
as_postgres() { runuser -u postgres -- "$@"; }

"${psql[@]}" <<'SQL'
CREATE EXTENSION authensor;
CREATE ROLE fault_app LOGIN IN ROLE authensor_trusted;
SELECT authensor.publish_platform_policy('rules: [{id: no-shell, tool: "shell.*", action: block}]');
-- The caller's own work, committed with its decisions.
CREATE TABLE ledger (receipt_id uuid PRIMARY KEY);
GRANT INSERT, SELECT ON ledger TO fault_app;
SQL

wait_ready() {
    for _ in $(seq 300); do
        psql -X -h "$dir" -p "$port" -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "the server did not come back" >&2
    exit 1
}

# Sessions that decide, then wait: one inside its transaction, one after
# rolling back (its receipt waits for the next commit, which never comes).
app=(psql -X -q -h "$dir" -p "$port" -U fault_app -d postgres)
"${app[@]}" -At >"$dir/open.out" 2>&1 <<'SQL' &
SET authensor.tenant_id = 'tenant-1';
BEGIN;
INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('victim.open', '{}') RETURNING receipt_id;
SELECT pg_sleep(60);
SQL
"${app[@]}" -At >"$dir/waiting.out" 2>&1 <<'SQL' &
SET authensor.tenant_id = 'tenant-1';
BEGIN;
SELECT receipt_id FROM authensor.evaluate('victim.rolled_back', '{}');
ROLLBACK;
SELECT pg_sleep(60);
SQL
for _ in $(seq 100); do
    sleeping=$("${psql[@]}" -Atc "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' AND state = 'active'")
    [[ $sleeping == 2 ]] && break
    sleep 0.1
done
[[ $sleeping == 2 ]]
# A committed decision before the crash.
"${app[@]}" -Atc "SET authensor.tenant_id = 'tenant-1'; INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('kept.tool', '{}')"
lost_id=$(head -1 "$dir/waiting.out")
victim=$("${psql[@]}" -Atc "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(60)%' LIMIT 1")
kill -9 "$victim"
wait || true
wait_ready
out=$("${psql[@]}" -At <<SQL
SELECT 'open decision kept ' || count(*) FROM authensor.receipts WHERE tool = 'victim.open';
SELECT 'rolled-back decision kept ' || count(*) FROM authensor.receipts WHERE id = '$lost_id';
SELECT 'committed decision kept ' || count(*) FROM authensor.receipts WHERE tool = 'kept.tool';
SQL
)
echo "$out"
grep -q '^open decision kept 0$' <<<"$out"
grep -q '^rolled-back decision kept 0$' <<<"$out"
grep -q '^committed decision kept 1$' <<<"$out"
grep -q "authensor: decision rolled back: .*$lost_id" "$dir/server.log"
echo "kill -9: the open and the waiting decision are lost, the waiting one's LOG line is written, the rest kept"

# A session whose transactions are read-only by default: a decision it
# rolls back is written when it disconnects, in a read-write transaction.
"${app[@]}" -At >"$dir/read_only.out" 2>&1 <<'SQL'
SET default_transaction_read_only = on;
SET authensor.tenant_id = 'tenant-1';
BEGIN READ WRITE;
SELECT receipt_id FROM authensor.evaluate('read_only.rolled_back', '{}');
ROLLBACK;
SELECT 'read-only transactions do not write it';
SQL
read_only_id=$(head -1 "$dir/read_only.out")
for _ in $(seq 50); do
    written=$("${psql[@]}" -Atc "SELECT count(*) FROM authensor.receipts WHERE id = '$read_only_id' AND NOT committed")
    [[ $written == 1 ]] && break
    sleep 0.1
done
[[ $written == 1 ]]
echo "a read-only session's rolled-back decision is written as it disconnects"

# Clients committing and rolling back, seals every 100 ms, then an
# immediate shutdown.
cat >"$dir/commit.sql" <<'SQL'
\set t random(1, 2)
BEGIN;
SELECT set_config('authensor.tenant_id', 'tenant-' || :t, true);
INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('load.tool', '{"n": 1}');
COMMIT;
SQL
cat >"$dir/rollback.sql" <<'SQL'
\set t random(1, 2)
BEGIN;
SELECT set_config('authensor.tenant_id', 'tenant-' || :t, true);
SELECT action FROM authensor.evaluate('load.rolled_back', '{}');
ROLLBACK;
SQL
pgbench -n -c 4 -j 2 -T 30 -h "$dir" -p "$port" -U fault_app \
    -f "$dir/commit.sql@3" -f "$dir/rollback.sql@1" postgres >"$dir/pgbench.log" 2>&1 &
load=$!
(
    while kill -0 "$load" 2>/dev/null; do
        psql -X -h "$dir" -p "$port" -U postgres -d postgres -Atc "SELECT authensor.seal_receipts()" >/dev/null 2>&1 || true
        sleep 0.1
    done
) &
sealer=$!
sleep 5
as_postgres "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
wait "$load" || true
wait "$sealer" || true
as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
wait_ready
"${psql[@]}" -Atc "SELECT authensor.seal_receipts()" >/dev/null
out=$("${psql[@]}" -At <<'SQL'
SELECT 'decisions before the stop ' || (count(*) > 0) FROM authensor.receipts WHERE tool = 'load.tool';
-- Each committed decision with its ledger row, and each ledger row with its
-- committed receipt: nothing committed lost, nothing half-written.
SELECT 'receipts without their work ' || count(*)
  FROM authensor.receipts r WHERE r.tool IN ('load.tool', 'kept.tool') AND r.committed
   AND NOT EXISTS (SELECT FROM ledger l WHERE l.receipt_id = r.id);
SELECT 'work without its receipt ' || count(*)
  FROM ledger l WHERE NOT EXISTS (SELECT FROM authensor.receipts r WHERE r.id = l.receipt_id AND r.committed);
SELECT 'chains ' || count(*) || ' problems ' || sum(problems) || ' unsealed ' || sum(unsealed)
  FROM authensor.verify_all_receipts();
SQL
)
echo "$out"
grep -q '^decisions before the stop true$' <<<"$out"
grep -q '^receipts without their work 0$' <<<"$out"
grep -q '^work without its receipt 0$' <<<"$out"
grep -qE '^chains [12] problems 0 unsealed 0$' <<<"$out"
echo "immediate shutdown under load: nothing committed lost, nothing half-written, every chain verifies"
