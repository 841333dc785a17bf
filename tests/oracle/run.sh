#!/usr/bin/env bash
# The differential oracle's database leg: cases of policy/tests/oracle
# (platform and tenant policies, requests and the reference evaluator's
# decisions) replayed through authensor.check() in a real cluster, published
# and decided as roles that are not superusers, and through the PL/pgSQL
# baseline (bench/plpgsql_baseline.sql) where its semantics match, after
# regressions.jsonl, the minimal cases of the disagreements found so far.
# Usage: run.sh SOCKET_DIR PORT [CASES.jsonl [SUMMARY.json]]
# Without CASES, exports ORACLE_DB_PAIRS (80) policy pairs with the seed
# ORACLE_DB_SEED, a fresh one by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
socket_dir=$1 port=$2
cases=${3:-} summary=${4:-/dev/null}
if [[ -z $cases ]]; then
    cases=$(mktemp --suffix=.jsonl)
    trap 'rm -f "$cases"' EXIT
    seed=${ORACLE_DB_SEED:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}
    echo "oracle cases: ${ORACLE_DB_PAIRS:-80} policy pairs, seed $seed"
    (cd "$root" && cargo run -q -p authensor-policy --example oracle_export -- "${ORACLE_DB_PAIRS:-80}" "$seed" "$cases")
fi
psql=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS authensor_oracle" -c "CREATE DATABASE authensor_oracle"
"${psql[@]}" -d authensor_oracle -f - <<SQL
SET client_min_messages = warning;
CREATE EXTENSION authensor;
\i $root/bench/plpgsql_baseline.sql
DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oracle_operator') THEN
        CREATE ROLE oracle_operator LOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oracle_app') THEN
        CREATE ROLE oracle_app LOGIN;
    END IF;
END \$\$;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean) TO oracle_operator;
GRANT authensor_trusted TO oracle_app;
GRANT USAGE ON SCHEMA baseline TO oracle_app;
SQL
# The minimal cases of every disagreement found so far, then the new ones.
python3 "$here/check.py" "$socket_dir" "$port" authensor_oracle "$summary" "$here/regressions.jsonl" "$cases"
