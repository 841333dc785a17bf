#!/usr/bin/env bash
# ALTER EXTENSION authensor UPDATE with data in place: the previous release's
# SQL (kept here as authensor--<version>.sql) is installed and filled with
# policies, keys, receipts, approvals, alert routes and Sentinel baselines;
# after the update every row is intact, every function works, and the
# catalogue of the updated extension is that of a fresh installation.
# Usage: run.sh SOCKET_DIR PORT [PREVIOUS]; without PREVIOUS, from every
# release kept here in turn.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
if (($# == 2)); then
    for script in "$here"/authensor--*.sql; do
        version=${script##*/authensor--}
        "$0" "$socket_dir" "$port" "${version%.sql}"
    done
    exit
fi
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
previous=$3
current=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -1)
upgraded=authensor_upgrade_${previous//./_} fresh=authensor_fresh_${previous//./_}
ext_dir=$("$pg_config" --sharedir)/extension
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)

# The previous release's script is installed for this test only.
cp "$here/authensor--$previous.sql" "$ext_dir/"
trap 'rm -f "$ext_dir/authensor--$previous.sql"' EXIT

"${psql[@]}" -d postgres -c "CREATE DATABASE $upgraded" -c "CREATE DATABASE $fresh"
"${psql[@]}" -d "$fresh" -c "CREATE EXTENSION authensor"
secret=$(printf 'ab%.0s' $(seq 32))
# The data is written as the previous release stored it, with plain INSERTs:
# this release's library serves the previous release's SQL only until the
# update, and some of its functions need objects that only the update makes.
"${psql[@]}" -d "$upgraded" -v secret="$secret" -v platform="$(cat "$here/../fixtures/no-shell.yaml")" \
    -v tenant_a="$(cat "$here/../fixtures/mail-and-reads.yaml")" >/dev/null <<SQL
CREATE EXTENSION authensor VERSION '$previous';
INSERT INTO authensor.policies (layer, tenant_id, version, source, digest, created_by)
SELECT layer, tenant, 1, source, sha256(convert_to(source, 'UTF8')), 'postgres'
  FROM (VALUES ('platform', NULL, :'platform'),
               ('tenant', 'tenant-a', :'tenant_a'),
               ('tenant', 'tenant-b', 'default: allow')) AS p(layer, tenant, source);
INSERT INTO authensor.active_policies (layer, tenant_id, version, activated_by)
VALUES ('platform', NULL, 1, 'postgres'), ('tenant', 'tenant-a', 1, 'postgres'), ('tenant', 'tenant-b', 1, 'postgres');
INSERT INTO authensor.receipts (id, tenant_id, tool, args, context, action, reason, layer, rule_id, platform_version, tenant_version)
VALUES ('00000000-0000-7000-8000-000000000001', 'tenant-a', 'email.send', '{"to": "x@gmail.com", "amount": 10.50}',
        '{"tenantId": "tenant-a"}', 'escalate', 'rule "mail" matched', 'tenant', 'mail', 1, 1),
       ('00000000-0000-7000-8000-000000000002', 'tenant-a', 'email.send', '{"to": "y@gmail.com"}',
        '{"tenantId": "tenant-a"}', 'escalate', 'rule "mail" matched', 'tenant', 'mail', 1, 1),
       ('00000000-0000-7000-8000-000000000003', 'tenant-a', 'file.read', '{"path": "/a"}',
        '{"tenantId": "tenant-a"}', 'allow', 'rule "reads" matched', 'tenant', 'reads', 1, 1),
       ('00000000-0000-7000-8000-000000000004', 'tenant-b', 'file.read', '{}',
        '{"tenantId": "tenant-b"}', 'allow', 'no rule matched; the policy default is allow', 'tenant', NULL, 1, 1);
INSERT INTO authensor.approval_requests (receipt_id, tenant_id, tool, request_hash, status, expires_at, decided_at, decided_by, note)
SELECT r.id, r.tenant_id, r.tool, authensor.request_hash(r.tenant_id, r.tool, r.args), a.status,
       clock_timestamp() + interval '1 day', a.decided_at, a.decided_by, a.note
  FROM authensor.receipts r
  JOIN (VALUES ('00000000-0000-7000-8000-000000000001'::uuid, 'approved', clock_timestamp(), 'postgres', 'ok'),
               ('00000000-0000-7000-8000-000000000002'::uuid, 'pending', NULL, NULL, NULL))
       AS a(id, status, decided_at, decided_by, note) ON a.id = r.id;
INSERT INTO authensor.tenant_settings (tenant_id, alert_channel, updated_by) VALUES ('tenant-b', 'tenant_b_alerts', 'postgres');
-- A key as the previous release stored it: a row and the hash of its secret.
INSERT INTO authensor.api_keys (id, tenant_id, label, created_by)
VALUES ('00000000-0000-4000-8000-0000000000a1', 'tenant-a', 'issued by $previous', 'postgres');
INSERT INTO authensor.api_key_hashes VALUES ('00000000-0000-4000-8000-0000000000a1', sha256(convert_to(:'secret', 'UTF8')));
SELECT authensor.sentinel_scan_windows(clock_timestamp() + interval '2 minutes', 60, 0.3, 3, 10, 0.3, 5, 60);
-- An operator granted the platform's publishing keeps it across the update,
-- which replaces the function (0.5.0 adds its shadow argument), and may clear
-- the platform shadow it can now publish.
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upgrade_operator') THEN
        CREATE ROLE upgrade_operator;
    END IF;
END \$\$;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text) TO upgrade_operator;
-- Every row as it was, to compare with after the update.
CREATE SCHEMA kept;
DO \$\$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['policies', 'active_policies', 'receipts', 'api_keys', 'api_key_hashes',
                             'tenant_settings', 'approval_requests', 'sentinel_baselines', 'alerts'] LOOP
        EXECUTE format('CREATE TABLE kept.%I AS SELECT * FROM authensor.%I', t, t);
    END LOOP;
END
\$\$;
SQL

# A decision rolled back before the update, while the table cannot yet say
# so, is written after it, as rolled back.
"${psql[@]}" -d "$upgraded" -At <<'SQL'
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT action FROM authensor.evaluate('before.update');
ROLLBACK;
SELECT 'a commit before the update leaves it waiting';
ALTER EXTENSION authensor UPDATE;
SQL

out=$("${psql[@]}" -d "$upgraded" -At -v ON_ERROR_STOP=0 -v key="ak_000000000000400080000000000000a1_$secret" 2>&1 <<'SQL'
SELECT 'version ' || extversion FROM pg_extension WHERE extname = 'authensor';
-- The one value a query returns (a temporary function: it leaves nothing in the
-- database, and needs no libxml, which not every PostgreSQL build has).
CREATE FUNCTION pg_temp.value_of(query text) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE result text;
BEGIN
    EXECUTE query INTO result;
    RETURN result;
END
$f$;
-- Every row kept: the same rows in the columns the previous release had
-- (and, in receipts, the one the update's commit wrote: see above).
SELECT 'changed rows in ' || k.relname || ': ' ||
       pg_temp.value_of(format(
           'SELECT count(*) FROM ((SELECT * FROM kept.%1$I EXCEPT ALL SELECT %2$s FROM authensor.%1$I %3$s)
                                  UNION ALL (SELECT %2$s FROM authensor.%1$I %3$s EXCEPT ALL SELECT * FROM kept.%1$I)) AS d',
           k.relname, (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
                         WHERE attrelid = k.oid AND attnum > 0 AND NOT attisdropped),
           CASE k.relname WHEN 'receipts' THEN 'WHERE tool <> ''before.update''' ELSE '' END))
  FROM pg_class k WHERE k.relnamespace = 'kept'::regnamespace AND k.relkind = 'r' ORDER BY k.relname;
SELECT 'operator may publish ' || has_function_privilege('upgrade_operator', 'authensor.publish_platform_policy(text, boolean)', 'EXECUTE')
       || ', may clear ' || has_function_privilege('upgrade_operator', 'authensor.clear_platform_shadow_policy()', 'EXECUTE');
REVOKE EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean) FROM upgrade_operator;
REVOKE EXECUTE ON FUNCTION authensor.clear_platform_shadow_policy() FROM upgrade_operator;
SELECT 'keys issued before are ' || string_agg(DISTINCT scope, ',') FROM authensor.api_keys;
-- Every function works on the data of the previous release.
SET authensor.tenant_id = 'tenant-a';
SELECT 'check ' || action || ' ' || rule_id FROM authensor.check('email.send', '{"to": "z@gmail.com"}');
SELECT 'published v' || authensor.publish_policy('rules: [{id: mail, tool: email.send, action: escalate}, {id: reads, tool: file.read, action: allow}, {id: calendar, tool: calendar.read, action: allow}]');
-- A shadow version: decisions after the update record it, and the chain
-- verifies receipts written with shadow columns beside the old ones.
SELECT 'shadow v' || authensor.publish_policy('default: block', shadow => true);
SELECT 'approval ' || authensor.approve((SELECT receipt_id FROM authensor.approvals WHERE status = 'pending' LIMIT 1));
SELECT 'agent key ' || left(authensor.create_agent_key('after update'), 3);
SELECT 'channel ' || (authensor.alert_route() LIKE 'authensor\_%');
SELECT 'sentinel ' || authensor.sentinel_scan();
RESET authensor.tenant_id;
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'upgrade_agent') AS make_role \gset
\if :make_role
CREATE ROLE upgrade_agent LOGIN;
\endif
SET ROLE upgrade_agent;
BEGIN;
SELECT 'authenticated ' || authensor.authenticate(:'key');
SELECT 'decision ' || action || ' ' || layer || ' v' || tenant_version FROM authensor.evaluate('calendar.read');
SELECT 'shadow recorded ' || shadow_tenant_version || ' ' || shadow_action FROM authensor.receipts WHERE tool = 'calendar.read';
SELECT 'consumed ' || authensor.consume_approval(
    (SELECT receipt_id FROM authensor.approvals WHERE status = 'approved' ORDER BY requested_at LIMIT 1),
    'email.send', '{"amount": 10.5, "to": "x@gmail.com"}');
SELECT 'receipts seen ' || count(*) FROM authensor.receipts;
SAVEPOINT s;
SELECT authensor.publish_policy('default: allow');
ROLLBACK TO SAVEPOINT s;
COMMIT;
RESET ROLE;
-- A decision rolled back is recorded; the seal takes the receipts of the
-- previous release with the rest, and the chain verifies.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.evaluate('shell.exec');
ROLLBACK;
SELECT 'the next transaction writes it';
SELECT 'rolled back decisions recorded ' || count(*) FROM authensor.receipts WHERE NOT committed;
SELECT 'rolled back before the update ' || string_agg(committed::text, ',') FROM authensor.receipts WHERE tool = 'before.update';
SELECT 'sealed ' || authensor.seal_receipts();
SET authensor.tenant_id = 'tenant-a';
SELECT 'verified ' || checked || ' problems ' || problems || ' unsealed ' || unsealed FROM authensor.verify_receipts();
RESET authensor.tenant_id;
BEGIN;
DROP EXTENSION authensor CASCADE;
ROLLBACK;
SQL
)
echo "$out"
grep -q "^version $current\$" <<<"$out"
! grep -E '^changed rows in .*: [1-9]' <<<"$out"
[[ $(grep -c '^changed rows in .*: 0$' <<<"$out") == 9 ]]
grep -q '^operator may publish true, may clear true$' <<<"$out"
grep -q '^keys issued before are agent$' <<<"$out"
grep -q '^check escalate mail$' <<<"$out"
grep -q '^published v2$' <<<"$out"
grep -q '^approval approved$' <<<"$out"
grep -q '^agent key ak_$' <<<"$out"
grep -q '^channel true$' <<<"$out"
grep -q '^authenticated tenant-a$' <<<"$out"
grep -q '^shadow v3$' <<<"$out"
grep -q '^decision allow tenant v2$' <<<"$out"
grep -q '^shadow recorded 3 block$' <<<"$out"
grep -q '^consumed true$' <<<"$out"
grep -q 'may not be called with an agent key' <<<"$out"
grep -q 'authensor holds receipts' <<<"$out"
grep -q '^rolled back decisions recorded 2$' <<<"$out"
grep -q '^rolled back before the update false$' <<<"$out"
# Seven decisions' receipts and the consumed approval's run.
grep -q '^sealed 8$' <<<"$out"
grep -q '^verified 6 problems 0 unsealed 0$' <<<"$out"

# The updated extension's objects, grants and settings are a fresh one's.
catalogue() {
    "${psql[@]}" -d "$1" -At <<'SQL'
SELECT 'function ' || p.oid::regprocedure || ' owner=' || pg_get_userbyid(p.proowner) || ' secdef=' || p.prosecdef
       || ' volatile=' || p.provolatile::text || ' strict=' || p.proisstrict || ' config=' || coalesce(p.proconfig::text, '')
       || ' acl=' || coalesce(p.proacl::text, '') || ' args=' || pg_get_function_arguments(p.oid)
       || ' body=' || md5(p.prosrc)
  FROM pg_proc p WHERE p.pronamespace = 'authensor'::regnamespace
UNION ALL
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'authensor'::regnamespace
UNION ALL
SELECT 'relation ' || c.relname || ' kind=' || c.relkind::text || ' rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
       || ' acl=' || coalesce(c.relacl::text, '')
  FROM pg_class c WHERE c.relnamespace = 'authensor'::regnamespace
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'authensor'::regnamespace
UNION ALL
SELECT 'policy ' || tablename || '.' || policyname || ' ' || cmd || ' ' || roles::text || ' ' || coalesce(qual, '') || ' ' || coalesce(with_check, '')
  FROM pg_policies WHERE schemaname = 'authensor'
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
  FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'authensor'::regnamespace)
UNION ALL
SELECT 'event trigger ' || evtname || ' ' || evtevent || ' ' || evtfoid::regproc || ' ' || coalesce(evttags::text, '')
  FROM pg_event_trigger
UNION ALL
SELECT 'dumped ' || t.oid::regclass FROM pg_extension e, unnest(e.extconfig) AS t(oid) WHERE e.extname = 'authensor'
UNION ALL
SELECT 'comment ' || obj_description(p.oid, 'pg_proc') FROM pg_proc p WHERE p.pronamespace = 'authensor'::regnamespace
 ORDER BY 1;
SQL
}
catalogue "$fresh" >"$socket_dir/catalogue-fresh.txt"
catalogue "$upgraded" >"$socket_dir/catalogue-updated.txt"
diff "$socket_dir/catalogue-fresh.txt" "$socket_dir/catalogue-updated.txt"
# Then the rows of the tables the update made into default partitions move
# to monthly ones (partitions the operator makes, not the extension), and
# the chains still verify.
out=$("${psql[@]}" -d "$upgraded" -At <<'SQL'
-- The rows of the tables the update made into default partitions move to
-- monthly ones, and the chains still verify.
SELECT 'partitioned ' || (authensor.add_receipt_partitions(0) > 0);
SELECT 'left in default ' || (SELECT count(*) FROM authensor.receipts_default)
                          + (SELECT count(*) FROM authensor.receipt_links_default);
SELECT 'verified after partitioning ' || sum(checked) || ' problems ' || sum(problems) || ' unsealed ' || sum(unsealed)
  FROM authensor.verify_all_receipts();
SQL
)
echo "$out"
grep -q '^partitioned true$' <<<"$out"
grep -q '^left in default 0$' <<<"$out"
grep -q '^verified after partitioning 8 problems 0 unsealed 0$' <<<"$out"
echo "updated from $previous: every row kept, every function works, the catalogue of a fresh installation"
