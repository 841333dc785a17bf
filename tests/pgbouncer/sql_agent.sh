#!/usr/bin/env bash
# Agents that run SQL behind Debian's pgbouncer in transaction pooling mode:
# an agent role (a member of authensor_agent with session_preload_libraries)
# for two tenants, several clients each over two server connections. Every
# statement is decided for the tenant of its own transaction and leaves its
# receipt; row-level security keeps each tenant to its rows; a refused
# statement's receipt is written by the next commit on its server
# connection, whoever's transaction that is. Usage: sql_agent.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
bouncer_port=$((port + 101))
work=$socket_dir/pgbouncer-sql
transactions=${PGBOUNCER_TRANSACTIONS:-300}
mkdir -p "$work"
chown postgres: "$work"

psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_pgbouncer_sql"
"${psql[@]}" -d authensor_pgbouncer_sql <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pooled_sql_agent') THEN
        CREATE ROLE pooled_sql_agent LOGIN IN ROLE authensor_agent;
    END IF;
END $$;
ALTER ROLE pooled_sql_agent SET session_preload_libraries = 'authensor';
CREATE SCHEMA pooled;
CREATE TABLE pooled.items (id int PRIMARY KEY, tenant_id text NOT NULL);
CREATE SEQUENCE pooled.item_ids START 3;
INSERT INTO pooled.items VALUES (1, 'tenant-x'), (2, 'tenant-y');
SELECT authensor.protect_table('pooled.items', 'tenant_id');
GRANT USAGE ON SCHEMA pooled TO pooled_sql_agent;
GRANT SELECT, INSERT, DELETE ON pooled.items TO pooled_sql_agent;
GRANT USAGE ON SEQUENCE pooled.item_ids TO pooled_sql_agent;
SET authensor.tenant_id = 'tenant-x';
SELECT authensor.publish_policy('{rules: [{id: x-delete-all, tool: sql.delete, action: block, when: {args.has_where: {equals: false}}}], default: allow}');
SET authensor.tenant_id = 'tenant-y';
SELECT authensor.publish_policy('default: allow');
SQL
key_x=$("${psql[@]}" -d authensor_pgbouncer_sql -Atc "SELECT authensor.create_api_key('tenant-x')")
key_y=$("${psql[@]}" -d authensor_pgbouncer_sql -Atc "SELECT authensor.create_api_key('tenant-y')")

. "$here/pgbouncer.sh"
start_pgbouncer "$work" "$socket_dir" "$port" "$bouncer_port" authensor_pgbouncer_sql pooled_sql_agent
bouncer=(psql -X -q -h 127.0.0.1 -p "$bouncer_port" -U pooled_sql_agent -d authensor_pgbouncer_sql)

# A refused statement first: its transaction rolls back, and its receipt
# waits in its server connection for the next commit there.
refused=$("${bouncer[@]}" -v key="$key_x" 2>&1 <<'SQL' || true
BEGIN;
SELECT authensor.authenticate(:'key');
DELETE FROM pooled.items;
ROLLBACK;
SQL
)
grep -q 'authensor blocked this statement (sql.delete)' <<<"$refused" ||
    { echo "$refused"; echo "pgbouncer sql agent: DELETE without WHERE was not refused" >&2; exit 1; }

# 8 clients over 2 server connections (extended protocol, unnamed statements).
pgbench -n -M extended -c 8 -j 2 -t "$transactions" \
    -h 127.0.0.1 -p "$bouncer_port" -U pooled_sql_agent \
    -D key_x="$key_x" -D key_y="$key_y" \
    -f "$here/sql_agent.sql" authensor_pgbouncer_sql >"$work/pgbench.log" 2>&1 ||
    { cat "$work/pgbench.log"; echo "pgbouncer sql agent: pgbench failed" >&2; exit 1; }

# Each transaction left two receipts (its SELECT and its INSERT), each for
# the tenant whose row it inserted; and the refused DELETE left its own.
read -r selects inserts crossed refused_receipts < <("${psql[@]}" -d authensor_pgbouncer_sql -At -F ' ' -c "
    SELECT (SELECT count(*) FROM authensor.receipts WHERE tool = 'sql.select' AND committed),
           (SELECT count(*) FROM authensor.receipts WHERE tool = 'sql.insert' AND committed),
           (SELECT count(*) FROM (SELECT tenant_id, count(*) FROM authensor.receipts
                                   WHERE tool = 'sql.insert' AND committed GROUP BY 1
                                  EXCEPT
                                  SELECT tenant_id, count(*) - 1 FROM pooled.items GROUP BY 1) AS differ),
           (SELECT count(*) FROM authensor.receipts WHERE tool = 'sql.delete' AND action = 'block'
                                                      AND NOT committed AND tenant_id = 'tenant-x')")
grep -E "number of transactions actually processed|number of failed" "$work/pgbench.log" || true
echo "pgbouncer sql agent: $selects SELECT and $inserts INSERT receipts over 2 server connections, $crossed tenants whose receipts and rows differ, $refused_receipts receipt of the refused DELETE"
[[ $selects == $((8 * transactions)) && $inserts == $((8 * transactions)) && $crossed == 0 && $refused_receipts == 1 ]]
