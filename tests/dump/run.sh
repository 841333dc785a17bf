#!/usr/bin/env bash
# pg_dump and restore keep everything: a database with policies, keys,
# receipts, approvals, alert routes and Sentinel baselines is dumped in the
# custom format (restored with pg_restore) and as plain SQL (restored with
# psql -f). Each restored database must hold the same rows in every table,
# keep row-level security, the append-only triggers and the keys' secrecy,
# and go on deciding with the same versions and the same keys and channels.
# Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
fixtures=$(cd "$(dirname "$0")/../fixtures" && pwd)
socket_dir=$1 port=$2
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
work=$socket_dir/dump
mkdir -p "$work" && chown postgres: "$work"
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
as_postgres() { runuser -u postgres -- "$@"; }

"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_dump"
"${psql[@]}" -d authensor_dump -v platform="$(cat "$fixtures/no-shell.yaml")" \
    -v tenant_a="$(cat "$fixtures/mail-and-reads.yaml")" >/dev/null <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dump_app') THEN
        CREATE ROLE dump_app LOGIN IN ROLE authensor_trusted;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dump_agent') THEN
        CREATE ROLE dump_agent LOGIN;
    END IF;
END $$;
SELECT authensor.publish_platform_policy(:'platform');
SELECT authensor.publish_platform_policy('rules: [{id: no-shell-v2, tool: "shell.*", action: block}]');
SELECT authensor.activate_platform_policy(1);
SET authensor.tenant_id = 'tenant-a';
SELECT authensor.publish_policy(:'tenant_a');
SELECT authensor.evaluate('email.send', '{"to": "x@gmail.com", "amount": 10.50}');
SELECT authensor.evaluate('email.send', '{"to": "y@gmail.com"}');
SELECT authensor.evaluate('file.read', '{"path": "/a"}');
SELECT authensor.evaluate('shell.exec');
SELECT authensor.approve((SELECT receipt_id FROM authensor.approvals ORDER BY requested_at LIMIT 1), 'ok');
SET authensor.tenant_id = 'tenant-b';
SELECT authensor.publish_policy('default: allow');
-- A shadow version, kept by the dump, and a receipt that records it.
SELECT authensor.publish_policy('default: block', shadow => true);
SELECT authensor.set_alert_route('tenant_b_alerts');
SELECT authensor.evaluate('file.read');
RESET authensor.tenant_id;
SELECT authensor.sentinel_scan_windows(clock_timestamp() + interval '2 minutes', 60, 0.3, 3, 10, 0.3, 5, 60);
-- Two seals: a restore goes on from the last.
SELECT authensor.seal_receipts();
SELECT authensor.seal_receipts();
-- The months' partitions, made after installation, are dumped as tables of
-- their own, and receipts move there from the default partition.
SELECT authensor.add_receipt_partitions();
SQL
key_a=$("${psql[@]}" -d authensor_dump -Atc "SELECT authensor.create_api_key('tenant-a', 'dump agent')")
"${psql[@]}" -d authensor_dump -Atc "SELECT authensor.create_api_key('tenant-a', 'dump admin', 'admin')" >/dev/null

# What each table holds, as a superuser sees it: row count and a digest.
fingerprint() {
    "${psql[@]}" -d "$1" -At <<'SQL'
-- The one value a query returns (a temporary function: it leaves nothing in the
-- database, and needs no libxml, which not every PostgreSQL build has).
CREATE FUNCTION pg_temp.value_of(query text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE result text;
BEGIN
    EXECUTE query INTO result;
    RETURN result;
END
$f$;
SELECT c.relname || ' ' || x.rows || ' ' || x.digest
  FROM pg_extension e
  CROSS JOIN LATERAL unnest(e.extconfig) AS t(oid)
  JOIN pg_class c ON c.oid = t.oid
  CROSS JOIN LATERAL (
      SELECT pg_temp.value_of(format('SELECT count(*) FROM %s', t.oid::regclass)) AS rows,
             pg_temp.value_of(format('SELECT md5(coalesce(string_agg(r::text, %L ORDER BY r::text), %L)) FROM %s r', '|', '', t.oid::regclass)) AS digest
  ) AS x
 WHERE e.extname = 'authensor' AND c.relname <> 'channel_secret'
UNION ALL
-- The months' partitions, which are not the extension's, come back too.
SELECT 'partition ' || p.partition::text
  FROM authensor.receipt_partitions('authensor.receipts') AS p
UNION ALL
SELECT 'partition ' || p.partition::text
  FROM authensor.receipt_partitions('authensor.receipt_links') AS p
UNION ALL
-- A restore keeps the original secret beside the one its CREATE EXTENSION
-- made; the oldest is the one in use.
SELECT 'channel secret ' || md5(authensor.channel_secret())
 ORDER BY 1;
SQL
}
# What a tenant sees and can do, in a restored database.
behaviour() {
    "${psql[@]}" -d "$1" -At -v key="$key_a" <<'SQL'
SELECT 'channel of tenant-a ' || authensor.alert_route() FROM (SELECT set_config('authensor.tenant_id', 'tenant-a', false)) AS s;
RESET authensor.tenant_id;
SET ROLE dump_agent;
BEGIN;
SELECT 'authenticated as ' || authensor.authenticate(:'key');
SELECT 'receipts seen ' || count(*) || ', of other tenants ' || count(*) FILTER (WHERE tenant_id <> 'tenant-a') FROM authensor.receipts;
SELECT 'decision ' || action || ' ' || layer || ' ' || rule_id || ' platform v' || platform_version || ' tenant v' || tenant_version
  FROM authensor.evaluate('shell.exec');
SELECT 'approvals ' || string_agg(status, ',' ORDER BY status) FROM authensor.approvals;
COMMIT;
RESET ROLE;
SELECT 'sealed ' || authensor.seal_receipts();
SELECT 'verified ' || tenant_id || ' ' || checked || ' problems ' || problems || ' unsealed ' || unsealed
  FROM authensor.verify_all_receipts() ORDER BY tenant_id;
SQL
    "${psql[@]}" -d "$1" -At -v ON_ERROR_STOP=0 2>&1 <<'SQL' | sed 's/^psql:[^E]*//'
SET ROLE dump_agent;
SELECT count(*) FROM authensor.api_key_hashes;
RESET ROLE;
UPDATE authensor.receipts SET reason = 'tampered';
DROP EXTENSION authensor;
SQL
}

fingerprint authensor_dump >"$work/before.txt"
cat "$work/before.txt"
grep -q "^receipts 5 " "$work/before.txt"
grep -q "^shadow_policies 1 " "$work/before.txt"
grep -q "^receipts_default 0 " "$work/before.txt"
grep -q "^partition authensor.receipts_[0-9_]* *$" "$work/before.txt"
grep -q "^sentinel_baselines [1-9]" "$work/before.txt"

as_postgres "$bindir/pg_dump" -h "$socket_dir" -p "$port" -U postgres -Fc -f "$work/authensor.dump" authensor_dump
as_postgres "$bindir/pg_dump" -h "$socket_dir" -p "$port" -U postgres -f "$work/authensor.sql" authensor_dump
"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_restored" -c "CREATE DATABASE authensor_plain" \
    -c "CREATE DATABASE authensor_parallel"
as_postgres "$bindir/pg_restore" -h "$socket_dir" -p "$port" -U postgres --exit-on-error -d authensor_restored "$work/authensor.dump"
# Tables' rows loaded by parallel workers, in no set order.
as_postgres "$bindir/pg_restore" -h "$socket_dir" -p "$port" -U postgres --exit-on-error -j 4 -d authensor_parallel "$work/authensor.dump"
"${psql[@]}" -d authensor_plain -f "$work/authensor.sql" >/dev/null

behaviour authensor_dump >"$work/behaviour-before.txt"
cat "$work/behaviour-before.txt"
for restored in authensor_restored authensor_plain authensor_parallel; do
    fingerprint "$restored" >"$work/$restored.txt"
    diff "$work/before.txt" "$work/$restored.txt"
    behaviour "$restored" >"$work/behaviour-$restored.txt"
    diff "$work/behaviour-before.txt" "$work/behaviour-$restored.txt"
    echo "$restored: every row kept, and it behaves the same"
done
grep -q "^decision block platform no-shell platform v1 tenant v1$" "$work/behaviour-before.txt"
grep -q "^receipts seen [0-9]*, of other tenants 0$" "$work/behaviour-before.txt"
grep -q "permission denied for table api_key_hashes" "$work/behaviour-before.txt"
grep -q "authensor.receipts is append-only" "$work/behaviour-before.txt"
grep -q "authensor holds receipts" "$work/behaviour-before.txt"
grep -q "^sealed 1$" "$work/behaviour-before.txt"
grep -q "^verified tenant-a 5 problems 0 unsealed 0$" "$work/behaviour-before.txt"
