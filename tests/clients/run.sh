#!/usr/bin/env bash
# Client-level tests with a driver that sends bind parameters (psycopg 3,
# installed by scripts/install-deps.sh). Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_clients"
"${psql[@]}" -d authensor_clients <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shared_login') THEN
        CREATE ROLE shared_login LOGIN;   -- one login role for several tenants' agents
    END IF;
END $$;
SQL
key=$("${psql[@]}" -d authensor_clients -Atc "SELECT authensor.create_api_key('tenant-secret')")
python3 "$here/key_secrecy.py" "$socket_dir" "$port" authensor_clients shared_login "$key"
