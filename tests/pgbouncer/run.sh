#!/usr/bin/env bash
# Tenant isolation behind Debian's pgbouncer in transaction pooling mode: two
# tenants' agents, several clients each, share two server connections while
# authenticating, deciding and reading receipts. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
bouncer_port=${PGBOUNCER_PORT:-$((port + 100))}
work=$socket_dir/pgbouncer
transactions=${PGBOUNCER_TRANSACTIONS:-300}
mkdir -p "$work"
chown postgres: "$work"

psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_pgbouncer"
"${psql[@]}" -d authensor_pgbouncer <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pooled_agent') THEN
        CREATE ROLE pooled_agent LOGIN;   -- untrusted: authenticates with keys
    END IF;
END $$;
-- Only the commit-time invalidation can make its server connections see a
-- policy change within this test (below).
ALTER ROLE pooled_agent SET authensor.cache_ttl = '1h';
SELECT authensor.publish_platform_policy('rules: [{tool: "system.*", action: block}]');
SET authensor.tenant_id = 'tenant-x';
SELECT authensor.publish_policy('rules: [{id: x-probe, tool: "probe.*", action: allow}]');
SET authensor.tenant_id = 'tenant-y';
SELECT authensor.publish_policy('rules: [{id: y-probe, tool: "probe.*", action: block}]');
SQL
key_x=$("${psql[@]}" -d authensor_pgbouncer -Atc "SELECT authensor.create_api_key('tenant-x')")
key_y=$("${psql[@]}" -d authensor_pgbouncer -Atc "SELECT authensor.create_api_key('tenant-y')")

. "$here/pgbouncer.sh"
start_pgbouncer "$work" "$socket_dir" "$port" "$bouncer_port" authensor_pgbouncer pooled_agent

# 8 clients (each transaction for one tenant or the other at random) over 2 server
# connections. Extended protocol with unnamed statements: named prepared
# statements do not survive transaction pooling in this pgbouncer.
pgbench -n -M extended -c 8 -j 2 -t "$transactions" \
    -h 127.0.0.1 -p "$bouncer_port" -U pooled_agent \
    -D key_x="$key_x" -D key_y="$key_y" \
    -f "$here/agent.sql" authensor_pgbouncer >"$work/pgbench.log" 2>&1 ||
    { cat "$work/pgbench.log"; echo "pgbouncer isolation: pgbench failed" >&2; exit 1; }

# Every receipt belongs to the tenant whose agent wrote it, decided by that
# tenant's policy; and every transaction left exactly one.
read -r total crossed tenants < <("${psql[@]}" -d authensor_pgbouncer -At -F ' ' -c "
    SELECT count(*),
           count(*) FILTER (WHERE tenant_id <> 'tenant-' || (args->>'client')
                               OR action <> CASE args->>'client' WHEN 'x' THEN 'allow' ELSE 'block' END),
           count(DISTINCT tenant_id)
      FROM authensor.receipts")
grep -E "number of transactions actually processed|number of failed" "$work/pgbench.log" || true
echo "pgbouncer isolation: $total receipts from 2 tenants over 2 server connections, $crossed crossed tenants"
[[ $total == $((8 * transactions)) && $crossed == 0 && $tenants == 2 ]]

# A shadow version committed outside the pooler is evaluated by the next
# decision on every server connection, whichever client it serves; the
# answers stay the active version's (agent.sql checks them).
shadow=$("${psql[@]}" -d authensor_pgbouncer -At -c "SET authensor.tenant_id = 'tenant-x'" \
    -c "SELECT authensor.publish_policy('rules: [{id: x-shadow, tool: \"probe.*\", action: escalate}]', shadow => true)")
pgbench -n -M extended -c 8 -j 2 -t 20 \
    -h 127.0.0.1 -p "$bouncer_port" -U pooled_agent \
    -D key_x="$key_x" -D key_y="$key_y" \
    -f "$here/agent.sql" authensor_pgbouncer >"$work/pgbench-shadow.log" 2>&1 ||
    { cat "$work/pgbench-shadow.log"; echo "pgbouncer isolation: pgbench under a shadow failed" >&2; exit 1; }
read -r shadowed missed < <("${psql[@]}" -d authensor_pgbouncer -At -F ' ' -c "
    SELECT count(*) FILTER (WHERE tenant_id = 'tenant-x'),
           count(*) FILTER (WHERE (tenant_id = 'tenant-x') <> (shadow_tenant_version IS NOT DISTINCT FROM $shadow
                                                                AND shadow_action IS NOT DISTINCT FROM 'escalate'
                                                                AND shadow_rule_id IS NOT DISTINCT FROM 'x-shadow'))
      FROM authensor.receipts
     WHERE recorded_at > (SELECT shadowed_at FROM authensor.shadow_policies WHERE tenant_id = 'tenant-x')")
echo "pgbouncer isolation: $shadowed receipts of tenant-x under its shadow version $shadow, $missed without it or of another tenant with it"
[[ $shadowed -gt 0 && $missed == 0 ]]
