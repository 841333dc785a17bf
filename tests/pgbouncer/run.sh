#!/usr/bin/env bash
# Tenant isolation behind Debian's pgbouncer in transaction pooling mode: two
# tenants' agents, several clients each, share two server connections while
# authenticating, deciding and reading receipts. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
bouncer_port=$((port + 100))
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
