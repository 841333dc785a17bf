#!/usr/bin/env bash
# The receipts' chain under concurrency: 8 clients decide for 2 tenants
# (10,000 transactions each, about 30 s here),
# committing, rolling back and rolling back to savepoints, while seals run
# every 200 ms. Afterwards: every committed decision has exactly one receipt,
# every rolled-back one a receipt marked committed = false, every receipt is
# sealed exactly once, each tenant's chain has no fork or gap, and it
# verifies, in the database and off line (authensor-chain verify), which
# also refuses an export edited, cut or extended. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
socket_dir=$1 port=$2
transactions=${CHAIN_TRANSACTIONS:-10000}
work=$socket_dir/chain
mkdir -p "$work"
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)

"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_chain"
"${psql[@]}" -d authensor_chain <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'chain_app') THEN
        CREATE ROLE chain_app LOGIN IN ROLE authensor_trusted;
    END IF;
END $$;
SELECT authensor.publish_platform_policy('rules: [{id: no-shell, tool: "shell.*", action: block}]');
-- What the clients did, as the server saw it: the receipt of every committed
-- decision, written with it, and a count of rolled-back decisions (a
-- sequence, which a rollback does not undo).
CREATE TABLE ledger (receipt_id uuid PRIMARY KEY);
CREATE SEQUENCE rolled_back_decisions;
GRANT INSERT ON ledger TO chain_app;
GRANT USAGE ON SEQUENCE rolled_back_decisions TO chain_app;
SQL

# Three kinds of transaction, each for one of the two tenants at random.
# commit: two decisions committed. rollback: one decision rolled back.
# savepoint: one committed, one rolled back to a savepoint.
cat >"$work/commit.sql" <<'SQL'
\set t random(1, 2)
BEGIN;
SELECT set_config('authensor.tenant_id', 'tenant-' || :t, true);
INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('file.read', '{"path": "/a"}');
INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('shell.run', '{"cmd": "ls"}');
COMMIT;
SQL
cat >"$work/rollback.sql" <<'SQL'
\set t random(1, 2)
BEGIN;
SELECT set_config('authensor.tenant_id', 'tenant-' || :t, true);
SELECT nextval('rolled_back_decisions'), action FROM authensor.evaluate('email.send', '{"to": "x@example.com"}');
ROLLBACK;
SQL
cat >"$work/savepoint.sql" <<'SQL'
\set t random(1, 2)
BEGIN;
SELECT set_config('authensor.tenant_id', 'tenant-' || :t, true);
INSERT INTO ledger SELECT receipt_id FROM authensor.evaluate('file.read', '{"path": "/b"}');
SAVEPOINT s;
SELECT nextval('rolled_back_decisions'), action FROM authensor.evaluate('file.write', '{"path": "/b"}');
ROLLBACK TO SAVEPOINT s;
COMMIT;
SQL

# Seals while the clients run.
(
    while [[ ! -e $work/done ]]; do
        "${psql[@]}" -d authensor_chain -Atc "SELECT authensor.seal_receipts()" >>"$work/seals.log"
        sleep 0.2
    done
) &
sealer=$!
pgbench -n -c 8 -j 2 -t "$transactions" -h "$socket_dir" -p "$port" -U chain_app \
    -f "$work/commit.sql@2" -f "$work/rollback.sql@1" -f "$work/savepoint.sql@1" \
    authensor_chain >"$work/pgbench.log" 2>&1 || { cat "$work/pgbench.log"; exit 1; }
touch "$work/done"
wait "$sealer"

processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.log")
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.log")
echo "transactions: $processed; failed ${failed:-0}; seals run: $(wc -l <"$work/seals.log")"
[[ $processed == $((8 * transactions)) && ${failed:-0} == 0 ]]

# The clients' connections are closed; their backends write what is left
# as they exit.
for _ in $(seq 100); do
    left=$("${psql[@]}" -d authensor_chain -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = 'chain_app'")
    [[ $left == 0 ]] && break
    sleep 0.1
done
"${psql[@]}" -d authensor_chain -Atc "SELECT authensor.seal_receipts()" >/dev/null

out=$("${psql[@]}" -d authensor_chain -At <<'SQL'
-- Every committed decision has its receipt and no other receipt is marked
-- committed; as many receipts are marked rolled back as decisions were.
SELECT 'committed without a receipt ' || count(*)
  FROM ledger l WHERE NOT EXISTS (SELECT FROM authensor.receipts r WHERE r.id = l.receipt_id AND r.committed);
SELECT 'receipts marked committed ' || count(*) FILTER (WHERE committed) || ' of ' || (SELECT count(*) FROM ledger)
       || ', rolled back ' || count(*) FILTER (WHERE NOT committed) || ' of '
       || (SELECT last_value FROM rolled_back_decisions)
  FROM authensor.receipts;
SELECT 'links ' || count(*) || ' distinct receipts ' || count(DISTINCT receipt_id)
       || ' unlinked ' || (SELECT count(*) FROM authensor.receipts r
                            WHERE NOT EXISTS (SELECT FROM authensor.receipt_links l WHERE l.receipt_id = r.id))
  FROM authensor.receipt_links;
-- No fork and no gap: each chain's positions are exactly 1..n.
SELECT 'chain ' || tenant_id || ' ' || (count(*) = max(seq) AND count(DISTINCT seq) = count(*) AND min(seq) = 1)
  FROM authensor.receipt_links GROUP BY tenant_id ORDER BY tenant_id;
SELECT 'verified ' || tenant_id || ' checked ' || checked || ' problems ' || problems || ' unsealed ' || unsealed
  FROM authensor.verify_all_receipts() ORDER BY tenant_id;
SQL
)
echo "$out"
grep -q '^committed without a receipt 0$' <<<"$out"
grep -qE '^receipts marked committed ([0-9]+) of \1, rolled back ([0-9]+) of \2$' <<<"$out"
total=$("${psql[@]}" -d authensor_chain -Atc "SELECT count(*) FROM authensor.receipts")
grep -q "^links $total distinct receipts $total unlinked 0\$" <<<"$out"
[[ $(grep -c '^chain tenant-[12] true$' <<<"$out") == 2 ]]
[[ $(grep -cE '^verified tenant-[12] checked [0-9]+ problems 0 unsealed 0$' <<<"$out") == 2 ]]
echo "under concurrency: every decision recorded once, every receipt sealed once, no fork, both chains verify"

# Off line: tenant-1's export verifies against its head, and no edit of it
# does.
cargo build -q --manifest-path "$root/Cargo.toml" -p authensor-chain
verifier=$root/target/debug/authensor-chain
"${psql[@]}" -d authensor_chain -At -o "$work/export.ndjson" \
    -c "SET authensor.tenant_id = 'tenant-1'" -c "SELECT authensor.export_receipts()"
head=$("${psql[@]}" -d authensor_chain -At -c "SET authensor.tenant_id = 'tenant-1'" -c "SELECT seq || ' ' || hash FROM authensor.chain_head()")
read -r head_seq head_hash <<<"$head"
refused() { # name, then the verifier's arguments: it must exit 1
    if [[ $2 != "$work/export.ndjson" ]] && cmp -s "$work/export.ndjson" "$2"; then
        echo "the edit for $1 changed nothing"; exit 1
    fi
    if "$verifier" verify "${@:2}" >"$work/$1.out" 2>&1; then
        echo "the verifier accepted $1"; cat "$work/$1.out"; exit 1
    elif [[ $? != 1 ]]; then
        echo "the verifier could not read $1"; cat "$work/$1.out"; exit 1
    fi
    echo "refused $1: $(grep -m1 FAILED "$work/$1.out")"
}
"$verifier" verify "$work/export.ndjson" --head "$head_hash" | tail -2
sed '2s/"reason": "/"reason": "edited: /' "$work/export.ndjson" >"$work/edited.ndjson"
refused edited "$work/edited.ndjson" --head "$head_hash"
sed 2d "$work/export.ndjson" >"$work/cut.ndjson"
refused cut "$work/cut.ndjson" --head "$head_hash"
tail -n +101 "$work/export.ndjson" >"$work/start_cut.ndjson"
refused start_cut "$work/start_cut.ndjson" --head "$head_hash"
anchor=$(sed -n 100p "$work/export.ndjson" | grep -o '"link": "[0-9a-f]*"' | cut -d'"' -f4)
"$verifier" verify "$work/start_cut.ndjson" --head "$head_hash" --after "100:$anchor" | tail -1
head -n "$((head_seq - 1))" "$work/export.ndjson" >"$work/short.ndjson"
refused short "$work/short.ndjson" --head "$head_hash"
earlier=$(sed -n "$((head_seq - 1))p" "$work/export.ndjson" | grep -o '"link": "[0-9a-f]*"' | cut -d'"' -f4)
refused past_head "$work/export.ndjson" --head "$earlier"
sed '3s/"prev": "[0-9a-f]*"/"prev": "'"$(printf '0%.0s' $(seq 64))"'"/' "$work/export.ndjson" >"$work/prev.ndjson"
refused prev "$work/prev.ndjson" --head "$head_hash"
unreadable() { # name, then the verifier's arguments: it must exit 2
    if cmp -s "$work/export.ndjson" "$2"; then
        echo "the edit for $1 changed nothing"; exit 1
    fi
    if "$verifier" verify "${@:2}" >"$work/$1.out" 2>&1 || [[ $? != 2 ]]; then
        echo "the verifier read $1"; cat "$work/$1.out"; exit 1
    fi
    echo "unreadable $1: $(cat "$work/$1.out")"
}
sed '3s/"created_at": "[^"]*"/"created_at": "2020-01-01T00:00:00.000000Z"/' "$work/export.ndjson" >"$work/retimed.ndjson"
unreadable retimed "$work/retimed.ndjson" --head "$head_hash"
sed '3s/^{/{"note": "approved", /' "$work/export.ndjson" >"$work/annotated.ndjson"
unreadable annotated "$work/annotated.ndjson" --head "$head_hash"
sed '3s/^{/{"committed": false, /' "$work/export.ndjson" >"$work/doubled.ndjson"
unreadable doubled "$work/doubled.ndjson" --head "$head_hash"
echo "off line: the export verifies; edited, cut, started late, short, past the head, re-linked, retimed, annotated and doubled exports do not"
