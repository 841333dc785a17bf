#!/usr/bin/env bash
# The numbered examples of the language reference (docs/language.md), from
# tests/fixtures/language-examples.yaml, through authensor.check() in a real
# cluster: publishing as an operator and deciding as a trusted application
# server, neither of them a superuser. Usage: run.sh SOCKET_DIR PORT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
socket_dir=$1 port=$2
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE authensor_language"
"${psql[@]}" -d authensor_language <<'SQL'
CREATE EXTENSION authensor;
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'language_operator') THEN
        CREATE ROLE language_operator LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'language_app') THEN
        CREATE ROLE language_app LOGIN;
    END IF;
END $$;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean) TO language_operator;
GRANT authensor_trusted TO language_app;
SQL
python3 "$here/examples.py" "$socket_dir" "$port" authensor_language "$here/../fixtures/language-examples.yaml"
