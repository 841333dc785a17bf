#!/usr/bin/env bash
# `make demo`: the multi-tenant scenario in a scratch PostgreSQL cluster (15,
# or the major of PG_CONFIG).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
dir=$(scripts/scratch-dir.sh)/demo-cluster
port=${AUTHENSOR_DEMO_PORT:-54320}
pg_config=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
export PG_BINDIR=$("$pg_config" --bindir)
export PATH=$PG_BINDIR:$PATH

bold() { printf '\033[1m%s\033[0m\n' "$*"; }

bold "authensor demo: two tenants' AI agents, one platform policy"
echo "Starting a scratch $("$pg_config" --version) cluster on port $port (data in ${dir#$root/}) ..."
scripts/cluster.sh start "$dir" "$port"
trap 'scripts/cluster.sh stop "$dir" && echo && echo "Cluster stopped. Its data and log stay in ${dir#$root/}."' EXIT

psql=(psql -X -q -h "$dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE demo" >/dev/null
"${psql[@]}" -d demo -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION authensor;
CREATE ROLE authensor_operator LOGIN;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean), authensor.create_api_key(text, text, text)
   TO authensor_operator;
CREATE ROLE agent_app LOGIN IN ROLE authensor_trusted;
CREATE ROLE agent_sql LOGIN;
SQL
echo "Created the extension and three ordinary (non-superuser) roles: authensor_operator, owner of the"
echo "platform policy and API keys; agent_app, a trusted application server that names the tenant with"
echo "SET LOCAL; and agent_sql, an agent that runs its own SQL and must prove its tenant with an API key."
PSQLRC=/dev/null "${psql[@]}" -d demo -f demo/scenario.sql
