"""Replays the differential oracle's cases through authensor.check().

Each line of CASES holds a platform and a tenant policy (null: none, published
as `rules: []`, a policy without an opinion), the session's tenant, and
requests with the reference evaluator's decision. The operator publishes the
platform layer; a trusted application server publishes the tenant layer for
the case's tenant and decides every request with check(), in one transaction
that also asks the PL/pgSQL baseline (bench/plpgsql_baseline.sql) when the
case is one whose semantics the baseline shares. action, layer, rule_id and
reason must equal the reference's. Neither role is a superuser; the
baseline's own publishing, benchmark-only code, runs as the superuser.

Usage: check.py HOST PORT DBNAME SUMMARY CASES...
"""

import json
import sys
import time

import psycopg

host, port, dbname, summary_path = sys.argv[1:5]
case_paths = sys.argv[5:]
NO_POLICY = "rules: []\n"
NO_POLICY_JSON = '{"rules": []}'
SHOWN = 10


def connect(role):
    return psycopg.connect(f"host={host} port={port} dbname={dbname} user={role}", autocommit=True)


owner, operator, app = connect("postgres"), connect("oracle_operator"), connect("oracle_app")
for connection in (operator, app):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,), "the cases are decided as non-superusers"


def publish(case):
    with operator.cursor() as cursor:
        cursor.execute("SELECT authensor.publish_platform_policy(%s)", (case["platform"] or NO_POLICY,))
    with app.transaction(), app.cursor() as cursor:
        cursor.execute("SELECT set_config('authensor.tenant_id', %s, true)", (case["tenant_id"],))
        cursor.execute("SELECT authensor.publish_policy(%s)", (case["tenant"] or NO_POLICY,))
    if case["baseline"]:
        with owner.cursor() as cursor:
            cursor.execute(
                "SELECT baseline.publish('platform', '', %s::jsonb), baseline.publish('tenant', %s, %s::jsonb)",
                (case["platform"] or NO_POLICY_JSON, case["tenant_id"], case["tenant"] or NO_POLICY_JSON),
            )


def decide(cursor, function, request, tenant_id):
    try:
        with app.transaction():
            cursor.execute("SELECT set_config('authensor.tenant_id', %s, true)", (tenant_id,))
            cursor.execute(
                f"SELECT action, layer, rule_id, reason FROM {function}(%s, %s::jsonb, %s::jsonb)",
                (request["tool"], request["args"], request["context"]),
            )
            return list(cursor.fetchone())
    except psycopg.Error as error:
        return f"ERROR {error.sqlstate}: {error.diag.message_primary}"


def describe(case, request, got, expected):
    return json.dumps({
        "platform": case["platform"],
        "tenant": case["tenant"],
        "tenant_id": case["tenant_id"],
        "tool": request["tool"],
        "args": request["args"],
        "context": request["context"],
        "got": got,
        "expected": expected,
    }, ensure_ascii=False)


counts = {"policy_pairs": 0, "decisions": 0, "check_disagreements": 0,
          "baseline_decisions": 0, "baseline_disagreements": 0}
shown = {"check": [], "baseline": []}
started = time.monotonic()

def cases():
    for path in case_paths:
        with open(path, encoding="utf-8") as lines:
            yield from map(json.loads, lines)


with app.cursor() as cursor:
    for case in cases():
        publish(case)
        counts["policy_pairs"] += 1
        for request in case["requests"]:
            e = request["expected"]
            expected = [e["action"], e["layer"], e["rule_id"], e["reason"]]
            counts["decisions"] += 1
            got = decide(cursor, "authensor.check", request, case["tenant_id"])
            if got != expected:
                counts["check_disagreements"] += 1
                shown["check"].append(describe(case, request, got, expected))
            if case["baseline"]:
                counts["baseline_decisions"] += 1
                got = decide(cursor, "baseline.check", request, case["tenant_id"])
                if got != expected:
                    counts["baseline_disagreements"] += 1
                    shown["baseline"].append(describe(case, request, got, expected))
counts["seconds"] = round(time.monotonic() - started, 1)
for leg, problems in shown.items():
    for problem in problems[:SHOWN]:
        print(f"{leg} disagrees: {problem}")
print("oracle database leg: " + json.dumps(counts))
with open(summary_path, "w", encoding="utf-8") as summary:
    json.dump(counts | {"baseline_examples": shown["baseline"][:SHOWN]}, summary)
sys.exit(1 if counts["check_disagreements"] or counts["baseline_disagreements"] or not counts["decisions"] else 0)
