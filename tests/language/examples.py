"""Runs the language reference's examples through authensor.check().

Each example publishes its platform and tenant policies (`rules: []`, a
policy without an opinion, for an absent one) and checks each call's
decision: action, layer, rule_id and reason. An example that expects an
error checks the SQLSTATE, message and hint that publishing raises. The
operator publishes the platform layer; a trusted application server, for
tenant-a, publishes the tenant layer and decides. Neither is a superuser.

Usage: examples.py HOST PORT DBNAME FIXTURE
"""

import sys

import psycopg
import yaml

host, port, dbname, fixture = sys.argv[1:5]
TENANT = "tenant-a"
NO_POLICY = "rules: []\n"


def connect(role):
    conninfo = f"host={host} port={port} dbname={dbname} user={role}"
    return psycopg.connect(conninfo, autocommit=True)


operator = connect("language_operator")
app = connect("language_app")
for connection in (operator, app):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert cursor.fetchone() == (False,), "the examples run as non-superusers"


def as_tenant(cursor):
    cursor.execute("SELECT set_config('authensor.tenant_id', %s, true)", (TENANT,))


def publish(layer, source):
    if layer == "platform":
        with operator.cursor() as cursor:
            cursor.execute("SELECT authensor.publish_platform_policy(%s)", (source,))
    else:
        with app.transaction(), app.cursor() as cursor:
            as_tenant(cursor)
            cursor.execute("SELECT authensor.publish_policy(%s)", (source,))


def decide(call):
    with app.transaction(), app.cursor() as cursor:
        as_tenant(cursor)
        cursor.execute(
            "SELECT action, layer, rule_id, reason FROM authensor.check(%s, %s::jsonb, %s::jsonb)",
            (call["tool"], call.get("args", "{}"), call.get("context", "{}")),
        )
        return cursor.fetchone()


def text(value, what):
    """A string of the file; PyYAML reads YAML 1.1, so check what it made."""
    if not isinstance(value, str):
        raise TypeError(f"{what} should be a string, PyYAML read {value!r}")
    return value


def problems_of(example):
    problems = []
    refusal = example.get("error")
    if refusal is not None:
        layer = "platform" if "platform" in example else "tenant"
        try:
            publish(layer, text(example[layer], layer))
            return ["publishing succeeded"]
        except psycopg.Error as error:
            got = (error.sqlstate, error.diag.message_primary, error.diag.message_hint)
            expected = (
                text(refusal["sqlstate"], "sqlstate"),
                "invalid policy: " + text(refusal["message"], "message"),
                refusal.get("hint"),
            )
            if got != expected:
                problems.append(f"expected {expected}, got {got}")
        return problems
    for layer in ("platform", "tenant"):
        publish(layer, text(example.get(layer, NO_POLICY), layer))
    for call in example["calls"]:
        expected = (
            text(call["action"], "action"),
            text(call["layer"], "layer"),
            call["rule"],
            text(call["reason"], "reason"),
        )
        try:
            got = decide(call)
        except psycopg.Error as error:
            got = f"ERROR {error.sqlstate}: {error.diag.message_primary}"
        if got != expected:
            problems.append(f"{call['tool']!r} {call.get('args', '{}')}: expected {expected}, got {got}")
    return problems


with open(fixture, encoding="utf-8") as file:
    examples = yaml.safe_load(file)
passed = failed = 0
for example in examples:
    number, title = example["example"], example["title"]
    try:
        problems = problems_of(example)
    except (psycopg.Error, TypeError, KeyError) as error:
        problems = [f"{type(error).__name__}: {error}"]
    if problems:
        failed += 1
        print(f"not ok {number} - {title}")
        for problem in problems:
            print(f"    {problem}")
    else:
        passed += 1
        print(f"ok {number} - {title}")
print(f"language examples: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
