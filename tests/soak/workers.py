"""The soak's workers, each a process of its own with its own connections
through pgbouncer: the agents' clients, the trusted server that publishes
tenant policies, the operator that changes the platform policy, and the
operator's Sentinel scans and seals.

Every worker records what it did and what the server answered, as the ground
truth the checks compare the database with (checks.py): one row per decision
(its client and number are also in the decision's args, and so in its
receipt), one row per transaction with how it ended as far as the client
knows, one row per policy change, every error, and the latency of each call.
Times are time.monotonic(), one clock for every process of the machine.
"""

import json
import os
import random
import time
import traceback
from array import array

import psycopg
from psycopg.types.json import Jsonb

now = time.monotonic

# The login roles, as setup() in soak.py makes them.
AGENT_ROLE = "soak_agent"        # untrusted: binds a tenant with an API key
TRUSTED_ROLE = "soak_app"        # member of authensor_trusted: SET LOCAL authensor.tenant_id
OPERATOR_ROLE = "soak_operator"  # granted the operator's functions

EVALUATE = ("SELECT action, reason, layer, rule_id, tenant_id, platform_version, tenant_version,"
            " receipt_id, approval_id FROM authensor.evaluate(%s, %s)")
GUARD = "SELECT authensor.guard(%s, %s)"
# What a tenant can read, each capped: every row must be the tenant's own.
READ_OWN_ROWS = """
SELECT 'receipts', tenant_id FROM (SELECT tenant_id FROM authensor.receipts ORDER BY id DESC LIMIT 30) r
UNION ALL SELECT 'approvals', tenant_id
            FROM (SELECT tenant_id FROM authensor.approvals ORDER BY requested_at DESC LIMIT 10) a
UNION ALL SELECT 'policies', tenant_id FROM authensor.policy_versions WHERE layer = 'tenant'
UNION ALL SELECT 'api_keys', tenant_id FROM authensor.api_keys
UNION ALL SELECT 'alerts', tenant_id
            FROM (SELECT tenant_id FROM authensor.alerts ORDER BY created_at DESC LIMIT 10) l
UNION ALL SELECT 'baselines', tenant_id FROM authensor.sentinel_baselines
"""


class Stopped(Exception):
    """The run is over: leave the loop."""


def connection_error(error):
    """Whether an error is the connection's (lost, refused, terminated, the
    server restarting, pgbouncer unable to reach it): the kind the faults
    cause. Anything else is the statement's own."""
    state = getattr(error, "sqlstate", None)
    if state is None:
        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


def tenant_policy(tenant, gen):
    """Generation `gen` of a tenant's policy. Every generation decides the
    same actions; its rule ids and reasons name the tenant and the
    generation, so a receipt shows which source decided it."""
    tag = f"{tenant} gen {gen}"
    return f"""
rules:
  - id: read-{gen}
    tool: file.read
    action: allow
    reason: "{tag}: reads"
  - id: write-etc-{gen}
    tool: file.write
    action: block
    reason: "{tag}: system files"
    when:
      args.path:
        startsWith: /etc/
  - id: write-{gen}
    tool: file.write
    action: allow
    reason: "{tag}: writes"
  - id: mail-own-{gen}
    tool: email.send
    action: allow
    reason: "{tag}: own domain"
    when:
      args.to:
        endsWith: "@${{context.tenantId}}.example"
  - id: mail-{gen}
    tool: email.send
    action: escalate
    reason: "{tag}: external mail"
  - id: query-drop-{gen}
    tool: "db.*"
    action: block
    reason: "{tag}: destructive query"
    when:
      any:
        - args.query: {{matches: "(?i)\\\\b(drop|truncate)\\\\s+table\\\\b"}}
        - args.rows: {{gt: 10000}}
  - id: query-{gen}
    tool: "db.*"
    action: allow
    reason: "{tag}: queries"
    when:
      not:
        args.query: {{exists: false}}
  - id: net-{gen}
    tool: "net.**"
    action: allow
    reason: "{tag}: network"
"""


def platform_policy(gen):
    tag = f"platform gen {gen}"
    return f"""
rules:
  - id: shell-{gen}
    tool: "shell.*"
    action: block
    reason: "{tag}: no shell"
  - id: net-{gen}
    tool: "net.**"
    action: escalate
    reason: "{tag}: outside network"
    when:
      args.host:
        notIn: [internal.example, "127.0.0.1"]
"""


# The requests the agents make, with the decision every generation of the
# policies above gives: (tool, args for tenant t, action, layer).
def requests(tenant, rng):
    return [
        ("file.read", {"path": f"/data/{rng.randint(1, 99)}.csv"}, "allow", "tenant"),
        ("file.write", {"path": "/etc/passwd"}, "block", "tenant"),
        ("file.write", {"path": f"/tmp/out-{rng.randint(1, 9)}.txt", "bytes": rng.randint(0, 9999)}, "allow", "tenant"),
        ("email.send", {"to": f"ops@{tenant}.example", "subject": "rapport été ✓"}, "allow", "tenant"),
        ("email.send", {"to": "someone@external.example", "body": "x" * rng.randint(0, 300)}, "escalate", "tenant"),
        ("db.query", {"query": "DROP TABLE orders"}, "block", "tenant"),
        ("db.query", {"query": "SELECT * FROM orders", "rows": 10001}, "block", "tenant"),
        ("db.query", {"query": "SELECT * FROM orders WHERE id = 1", "rows": 1.0}, "allow", "tenant"),
        ("db.export", {}, "block", "default"),
        ("net.fetch", {"host": "api.external.example", "path": [1, "two", {"3": None}]}, "escalate", "platform"),
        ("net.fetch.stream", {"host": "internal.example"}, "allow", "tenant"),
        ("shell.exec", {"cmd": "ls -la"}, "block", "platform"),
        ("robot.arm.move", {"x": -1e-3}, "block", "default"),
    ]


def copy_text(value):
    """A field in COPY's text format."""
    return str(value).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")


class Recorder:
    """A worker's logs, in LOGS/NAME.*: tab-separated rows per table, errors
    as JSON lines, latencies as (start, seconds) pairs of doubles."""

    def __init__(self, logs, name):
        self.logs, self.name = logs, name
        self.files = {}
        self.latencies = {}
        self.stats = {}

    def row(self, table, *fields):
        out = self.files.get(table)
        if out is None:
            out = self.files[table] = open(os.path.join(self.logs, f"{self.name}.{table}.tsv"), "w")
        out.write("\t".join(r"\N" if f is None else copy_text(f) for f in fields) + "\n")

    def latency(self, function, start, seconds):
        self.latencies.setdefault(function, array("d")).extend((start, seconds))

    def count(self, name, n=1):
        self.stats[name] = self.stats.get(name, 0) + n

    def error(self, where, error, tenant=None):
        """An error a call raised. Whether it was expected is judged later,
        against the faults' times."""
        self.row("errors", now(), self.name, where, tenant, getattr(error, "sqlstate", None),
                 connection_error(error), type(error).__name__,
                 json.dumps(str(error).strip()[:500]))

    def violation(self, where, what, tenant=None):
        """Something the server answered that it must never answer."""
        self.row("errors", now(), self.name, where, tenant, "violation", False, "Violation", json.dumps(what[:500]))

    def close(self):
        for out in self.files.values():
            out.close()
        for function, values in self.latencies.items():
            with open(os.path.join(self.logs, f"{self.name}.{function}.latency"), "wb") as out:
                values.tofile(out)
        with open(os.path.join(self.logs, f"{self.name}.stats.json"), "w") as out:
            json.dump(self.stats, out)


class Worker:
    """A process with its connections through pgbouncer, reconnecting after
    every connection error until the run stops."""

    def __init__(self, config, name, stop):
        self.config, self.name, self.stop = config, name, stop
        self.rec = Recorder(config["logs"], name)
        self.conns = {}
        self.rng = random.Random(f"{config['seed']}:{name}")

    def stopped(self):
        return self.stop.is_set()

    def conn(self, role):
        conn = self.conns.get(role)
        if conn is not None and not conn.closed:
            return conn
        first = role not in self.conns
        while not self.stopped():
            try:
                conn = psycopg.connect(host="127.0.0.1", port=self.config["bouncer_port"],
                                       dbname=self.config["dbname"], user=role, autocommit=True,
                                       prepare_threshold=None, connect_timeout=10,
                                       application_name=self.name)
                self.conns[role] = conn
                if not first:
                    self.rec.count("reconnects")
                return conn
            except psycopg.Error as error:
                self.rec.error("connect", error)
                time.sleep(0.2 + self.rng.random() * 0.3)
        raise Stopped

    def drop(self, role):
        conn = self.conns.get(role)
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass
            self.conns[role] = None

    def call(self, conn, function, sql, params=None):
        """One statement; its latency is recorded under `function`."""
        start = now()
        cursor = conn.execute(sql, params)
        if function:
            self.rec.latency(function, start, now() - start)
        return cursor

    def close(self):
        for role in list(self.conns):
            self.drop(role)
        self.rec.close()


class Tx:
    """One transaction of a client, as the client knows it."""

    def __init__(self, number, kind, tenant, via):
        self.number, self.kind, self.tenant, self.via = number, kind, tenant, via
        self.decisions = []
        self.savepoints = []
        self.pid = None
        self.phase = "body"
        self.outcome = None
        self.t_begin = now()
        self.t_end = None


class Client(Worker):
    """An agent's client (via its API key, untrusted login role) or, for
    some transactions, a trusted application server acting for a tenant.
    Each transaction picks a tenant at random."""

    def __init__(self, config, index, stop):
        super().__init__(config, f"client{index:02d}", stop)
        self.index = index
        self.decision_number = 0
        self.tx_number = 0

    # -- the transaction frame ------------------------------------------------

    def transaction(self, kind, tenant, via, body, bind=True):
        """Runs body(tx, conn) between BEGIN and COMMIT or ROLLBACK (body's
        answer), and records how it ended."""
        self.tx_number += 1
        tx = Tx(self.tx_number, kind, tenant, via)
        role = AGENT_ROLE if via == "key" else TRUSTED_ROLE
        conn = self.conn(role)
        try:
            self.call(conn, None, "BEGIN")
            tx.pid, leftover = self.call(conn, None, "SELECT pg_backend_pid(), authensor.current_tenant()").fetchone()
            self.rec.count("fresh_transaction_checks")
            if leftover is not None:
                self.rec.violation(kind, f"a new transaction already had tenant {leftover}", tenant)
            if bind:
                self.bind(tx, conn)
            intent = body(tx, conn)
            if intent != "aborted":
                # The transaction's own row, committed with it or not at all.
                self.call(conn, None, "INSERT INTO soak.ledger VALUES (%s, %s)", (self.index, tx.number))
            if intent == "commit":
                tx.phase = "commit"
                status = self.call(conn, "commit", "COMMIT").statusmessage
                tx.outcome = "committed" if status == "COMMIT" else "rolled_back"
                if status != "COMMIT":
                    self.rec.violation(kind, f"COMMIT answered {status}", tenant)
            else:
                tx.phase = "rollback"
                self.call(conn, "rollback", "ROLLBACK")
                tx.outcome = "rolled_back"
        except Stopped:
            raise
        except psycopg.Error as error:
            self.rec.error(kind, error, tenant)
            if connection_error(error) or conn.closed:
                # Whether the server committed is unknown if COMMIT was sent.
                tx.outcome = "in_doubt" if tx.phase == "commit" else "failed"
                self.drop(role)
                # pgbouncer refuses at once while the server is down: wait a
                # little before the next attempt.
                time.sleep(0.2 + self.rng.random() * 0.3)
            else:
                # The statement's own error (COMMIT's too): the transaction
                # is aborted, and rolls back.
                tx.outcome = "failed"
                try:
                    conn.execute("ROLLBACK")
                    tx.outcome = "rolled_back"
                except psycopg.Error:
                    self.drop(role)
        except Exception:
            self.rec.violation(kind, traceback.format_exc(), tenant)
            tx.outcome = "in_doubt" if tx.phase == "commit" else "failed"
            self.drop(role)
        tx.t_end = now()
        self.record(tx)
        return tx

    def bind(self, tx, conn):
        if tx.via == "key":
            key = self.config["keys"][tx.tenant]["agent"]
            (bound,) = self.call(conn, "authenticate", "SELECT authensor.authenticate(%s)", (key,)).fetchone()
            if bound != tx.tenant:
                self.rec.violation(tx.kind, f"authenticate() bound {bound}", tx.tenant)
        else:
            self.call(conn, None, "SELECT set_config('authensor.tenant_id', %s, true)", (tx.tenant,))

    def record(self, tx):
        self.rec.row("transactions", self.index, tx.number, tx.kind, tx.via, tx.tenant, tx.pid,
                     tx.t_begin, tx.t_end, tx.outcome)
        for d in tx.decisions:
            fate, t_fate = d.get("fate"), d.get("t_fate")
            if fate is None:
                fate, t_fate = tx.outcome, tx.t_end
            self.rec.row("decisions", self.index, d["n"], tx.number, d["function"], tx.via, tx.tenant,
                         d["tool"], d["t_start"], d.get("t_end"), d.get("receipt_id"), d.get("action"),
                         d.get("layer"), d.get("rule"), d.get("platform_version"), d.get("tenant_version"),
                         fate, t_fate, tx.pid)
        self.rec.count("transactions_" + (tx.outcome or "unknown"))

    # -- statements ----------------------------------------------------------

    def decide(self, tx, conn, tool=None, function=None):
        """One decision (evaluate() or guard()) on a request with a known
        answer; returns its record and the args it sent."""
        requests_ = requests(tx.tenant, self.rng)
        if tool is None:
            tool, args, action, layer = self.rng.choice(requests_)
        else:
            tool, args, action, layer = next(r for r in requests_ if r[0] == tool and r[2] == "escalate")
        function = function or self.rng.choice(("evaluate", "guard"))
        self.decision_number += 1
        args = dict(args, c=self.index, n=self.decision_number)
        d = {"n": self.decision_number, "function": function, "tool": tool, "t_start": now()}
        tx.decisions.append(d)
        if tx.savepoints:
            tx.savepoints[-1].append(d)
        if function == "evaluate":
            row = self.call(conn, "evaluate", EVALUATE, (tool, Jsonb(args))).fetchone()
            d["t_end"] = now()
            (d["action"], reason, d["layer"], d["rule"], tenant, d["platform_version"], d["tenant_version"],
             receipt_id, approval_id) = row
        else:
            (g,) = self.call(conn, "guard", GUARD, (tool, Jsonb(args))).fetchone()
            d["t_end"] = now()
            d["action"], reason, d["layer"], d["rule"] = g["action"], g["reason"], g["layer"], g["rule"]
            tenant, d["platform_version"], d["tenant_version"] = g["tenantId"], g["platformVersion"], g["tenantVersion"]
            receipt = g.get("receipt") or {}
            receipt_id = receipt.get("id")
            approval_id = (g.get("approval") or {}).get("id")
            if receipt.get("tenantId") != tenant or receipt.get("tool") != tool:
                self.rec.violation(tx.kind, f"guard() receipt {receipt} for {tenant} {tool}", tx.tenant)
        d["receipt_id"] = None if receipt_id is None else str(receipt_id)
        if tenant != tx.tenant:
            self.rec.violation(tx.kind, f"a decision for tenant {tenant}", tx.tenant)
        if (d["action"], d["layer"]) != (action, layer):
            self.rec.violation(tx.kind, f"{tool} {args}: {d['action']} by {d['layer']} ({reason}),"
                                        f" not {action} by {layer}", tx.tenant)
        if receipt_id is None or (approval_id is None) != (d["action"] != "escalate"):
            self.rec.violation(tx.kind, f"receipt {receipt_id}, approval {approval_id} for {d['action']}", tx.tenant)
        self.rec.count("decisions")
        return d, args

    def savepoint(self, tx, conn, name):
        self.call(conn, None, f"SAVEPOINT {name}")
        tx.savepoints.append([])

    def rollback_to(self, tx, conn, name):
        self.call(conn, "rollback_to_savepoint", f"ROLLBACK TO SAVEPOINT {name}")
        t = now()
        for d in tx.savepoints.pop():
            d["fate"], d["t_fate"] = "rolled_back", t

    def release(self, tx, conn, name):
        self.call(conn, None, f"RELEASE SAVEPOINT {name}")
        kept = tx.savepoints.pop()
        if tx.savepoints:
            tx.savepoints[-1].extend(kept)

    def read_own_rows(self, tx, conn):
        rows = self.call(conn, "read_own_rows", READ_OWN_ROWS).fetchall()
        self.rec.count("rows_read", len(rows))
        for source, tenant in rows:
            if tenant != tx.tenant:
                self.rec.count("foreign_rows")
                self.rec.violation(tx.kind, f"{source}: a row of tenant {tenant}", tx.tenant)

    def sample_cache(self, tx, conn):
        (stats,) = self.call(conn, None, "SELECT authensor.cache_stats()").fetchone()
        self.rec.row("cache", now(), tx.pid, stats.get("entries"), stats.get("bytes"), stats.get("compiles"),
                     stats.get("invalidations"), stats.get("evictions"))

    # -- the kinds of transaction ---------------------------------------------

    def run(self):
        tenants = self.config["tenants"]
        kinds = [("commit", 30), ("rollback", 10), ("error", 5), ("savepoint", 15), ("rebind", 5),
                 ("read", 10), ("approval", 15), ("trusted", 10)]
        names, weights = zip(*kinds)
        try:
            while not self.stopped():
                kind = self.rng.choices(names, weights)[0]
                tenant = self.rng.choice(tenants)
                getattr(self, "kind_" + kind)(tenant)
        except Stopped:
            pass
        finally:
            self.close()

    def kind_commit(self, tenant, via="key"):
        def body(tx, conn):
            for _ in range(self.rng.randint(1, 3)):
                self.decide(tx, conn)
            if self.rng.random() < 0.3:
                self.read_own_rows(tx, conn)
            if self.rng.random() < 0.05:
                self.sample_cache(tx, conn)
            return "commit"
        self.transaction("commit", tenant, via, body)

    def kind_rollback(self, tenant, via="key"):
        def body(tx, conn):
            for _ in range(self.rng.randint(1, 2)):
                self.decide(tx, conn)
            return "rollback"
        self.transaction("rollback", tenant, via, body)

    def kind_error(self, tenant):
        """A decision, then an error that aborts the transaction."""
        def body(tx, conn):
            self.decide(tx, conn)
            try:
                self.call(conn, None, "SELECT 1 / 0")
            except psycopg.errors.DivisionByZero:
                self.rec.count("errors_on_purpose")
                return "aborted"
            self.rec.violation("error", "1 / 0 raised no error", tenant)
            return "rollback"
        self.transaction("error", tenant, "key", body)

    def kind_savepoint(self, tenant, via="key"):
        """Decisions kept, rolled back to a savepoint, and released."""
        def body(tx, conn):
            self.decide(tx, conn)
            self.savepoint(tx, conn, "a")
            self.decide(tx, conn)
            if self.rng.random() < 0.5:
                self.savepoint(tx, conn, "b")
                self.decide(tx, conn)
                self.release(tx, conn, "b")
            self.rollback_to(tx, conn, "a")
            self.savepoint(tx, conn, "c")
            self.decide(tx, conn)
            self.release(tx, conn, "c")
            (still,) = self.call(conn, None, "SELECT authensor.current_tenant()").fetchone()
            if still != tenant:
                self.rec.violation("savepoint", f"after ROLLBACK TO SAVEPOINT the tenant is {still}", tenant)
            return "commit"
        self.transaction("savepoint", tenant, via, body)

    def kind_rebind(self, tenant):
        """A key bound after a savepoint, rolled back with it: the tenant is
        unbound until the key is presented again."""
        def body(tx, conn):
            self.savepoint(tx, conn, "a")
            self.bind(tx, conn)
            self.decide(tx, conn)
            self.rollback_to(tx, conn, "a")
            (left,) = self.call(conn, None, "SELECT authensor.current_tenant()").fetchone()
            if left is not None:
                self.rec.violation("rebind", f"ROLLBACK TO SAVEPOINT left tenant {left} bound", tenant)
            self.bind(tx, conn)
            self.decide(tx, conn)
            return "commit"
        self.transaction("rebind", tenant, "key", body, bind=False)

    def kind_read(self, tenant):
        def body(tx, conn):
            self.read_own_rows(tx, conn)
            return "commit"
        self.transaction("read", tenant, self.rng.choice(("key", "trusted")), body)

    def kind_trusted(self, tenant):
        """A trusted application server deciding for the tenant."""
        self.rng.choice((self.kind_commit, self.kind_rollback, self.kind_savepoint))(tenant, via="trusted")

    def kind_approval(self, tenant):
        """An escalation, approved (or rejected) by an admin key or a trusted
        role, then consumed by the agent: once, and again after a consume
        that rolled back."""
        escalated = {}

        def escalate(tx, conn):
            d, args = self.decide(tx, conn, tool=self.rng.choice(("email.send", "net.fetch")))
            escalated.update(d=d, args=args)
            return "commit"
        tx = self.transaction("escalate", tenant, "key", escalate)
        if tx.outcome != "committed":
            return
        receipt_id, tool, args = escalated["d"]["receipt_id"], escalated["d"]["tool"], escalated["args"]
        verdict = "approve" if self.rng.random() < 0.8 else "reject"
        approver = self.rng.choice(("key", "trusted"))

        def decide_approval(tx, conn):
            if approver == "key":
                key = self.config["keys"][tenant]["admin"]
                (bound,) = self.call(conn, "authenticate", "SELECT authensor.authenticate(%s)", (key,)).fetchone()
                if bound != tenant:
                    self.rec.violation("approve", f"the admin key bound {bound}", tenant)
            (status,) = self.call(conn, verdict, f"SELECT authensor.{verdict}(%s, %s)",
                                  (receipt_id, f"soak {self.name}")).fetchone()
            (seen,) = self.call(conn, None, "SELECT status FROM authensor.approvals WHERE receipt_id = %s",
                                (receipt_id,)).fetchone()
            expected = "approved" if verdict == "approve" else "rejected"
            if seen != expected:
                self.rec.violation(verdict, f"{verdict}() answered {status}, the approval reads {seen}", tenant)
            return "commit"
        # The admin key is bound in the body; a trusted role names the tenant.
        tx = self.transaction(verdict, tenant, approver, decide_approval, bind=approver == "trusted")
        if tx.outcome != "committed":
            return
        approved = verdict == "approve"

        def consume(expect_first, intent):
            def body(tx, conn):
                wrong = dict(args, extra=True)
                (other,) = self.call(conn, "consume_approval", "SELECT authensor.consume_approval(%s, %s, %s)",
                                     (receipt_id, tool, Jsonb(wrong))).fetchone()
                (first,) = self.call(conn, "consume_approval", "SELECT authensor.consume_approval(%s, %s, %s)",
                                     (receipt_id, tool, Jsonb(args))).fetchone()
                (second,) = self.call(conn, "consume_approval", "SELECT authensor.consume_approval(%s, %s, %s)",
                                      (receipt_id, tool, Jsonb(args))).fetchone()
                if (other, second) != (False, False) or expect_first not in (None, first):
                    self.rec.violation("consume", f"consume_approval() answered {other}, {first}, {second}"
                                                  f" (approved: {approved})", tenant)
                self.rec.count("consumed" if first else "consume_refused")
                return intent
            return self.transaction("consume", tenant, "key", body)
        if approved and self.rng.random() < 0.3:
            # Consumed, then rolled back: spent all the same once the run's
            # receipt is written again (its connection's next commit); until
            # then another connection (pgbouncer may give this one another)
            # can still consume it. Either answer is right here.
            if consume(True, "rollback").outcome != "rolled_back":
                return
            consume(None, "commit")
            return
        consume(approved, "commit")


class Publisher(Worker):
    """The trusted server: every second, a new version of a tenant's policy,
    or an earlier one activated again. Each change writes its row in
    soak.policy_changes in the same transaction, so a change whose COMMIT
    got no answer is settled by reading that table."""

    def __init__(self, config, stop, name, layer, role, interval):
        super().__init__(config, name, stop)
        self.layer, self.role, self.interval = layer, role, interval
        # Per tenant ('' for the platform): the versions published (version ->
        # generation), the active one, and the number of the next change.
        self.versions = {t: {1: 0} for t in self.scopes()}
        self.active = {t: 1 for t in self.scopes()}
        self.seq = {t: 1 for t in self.scopes()}
        self.pending = None

    def scopes(self):
        return self.config["tenants"] if self.layer == "tenant" else [""]

    def run(self):
        try:
            next_at = now()
            while not self.stopped():
                next_at += self.interval
                self.change(self.rng.choice(self.scopes()))
                time.sleep(max(0.0, next_at - now()))
        except Stopped:
            pass
        finally:
            self.close()

    def change(self, scope):
        conn = self.conn(self.role)
        if self.pending is not None:
            self.settle(conn)
            return
        seq = self.seq[scope]
        self.seq[scope] += 1
        choices = [v for v in self.versions[scope] if v != self.active[scope]]
        activate = bool(choices) and self.rng.random() < 0.3
        gen = None if activate else max(self.versions[scope].values()) + 1
        platform = self.layer == "platform"
        t_sent = now()
        t_commit = None
        function = "change"
        try:
            self.call(conn, None, "BEGIN")
            if not platform:
                self.call(conn, None, "SELECT set_config('authensor.tenant_id', %s, true)", (scope,))
            if activate:
                target = self.rng.choice(choices)
                function = "activate_platform_policy" if platform else "activate_policy"
                (version,) = self.call(conn, function, f"SELECT authensor.{function}(%s)", (target,)).fetchone()
                gen = self.versions[scope][target]
                if version != target:
                    self.rec.violation(function, f"activated {version}, not {target}", scope)
            else:
                function = "publish_platform_policy" if platform else "publish_policy"
                source = platform_policy(gen) if platform else tenant_policy(scope, gen)
                (version,) = self.call(conn, function, f"SELECT authensor.{function}(%s)", (source,)).fetchone()
            self.call(conn, None, "INSERT INTO soak.policy_changes VALUES (%s, %s, %s, %s, %s)",
                      (self.layer, scope, seq, version, gen))
            t_commit = now()
            self.call(conn, "commit", "COMMIT")
            self.applied(scope, version, gen)
            self.log(scope, seq, "activate" if activate else "publish", version, gen, t_sent, t_commit, now(),
                     "committed")
        except psycopg.Error as error:
            self.rec.error(function, error, scope)
            if t_commit is not None:
                # No answer to COMMIT: settled once the server answers again.
                self.pending = (scope, seq, "activate" if activate else "publish", gen, t_sent, t_commit)
            else:
                self.log(scope, seq, "activate" if activate else "publish", None, gen, t_sent, None, None, "failed")
            if connection_error(error) or conn.closed:
                self.drop(self.role)
            else:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    self.drop(self.role)

    def settle(self, conn):
        scope, seq, kind, gen, t_sent, t_commit = self.pending
        try:
            row = self.call(conn, None, "SELECT version FROM soak.policy_changes"
                                        " WHERE layer = %s AND tenant = %s AND seq = %s",
                            (self.layer, scope, seq)).fetchone()
        except psycopg.Error as error:
            self.rec.error("settle", error, scope)
            self.drop(self.role)
            return
        self.pending = None
        if row is None:
            self.log(scope, seq, kind, None, gen, t_sent, t_commit, None, "in_doubt_lost")
        else:
            self.applied(scope, row[0], gen)
            # Committed at some moment before now: from now on it must be seen.
            self.log(scope, seq, kind, row[0], gen, t_sent, t_commit, now(), "in_doubt_committed")

    def applied(self, scope, version, gen):
        self.versions[scope][version] = gen
        self.active[scope] = version

    def log(self, scope, seq, kind, version, gen, t_sent, t_commit, t_confirmed, outcome):
        self.rec.row("changes", self.layer, scope, seq, kind, version, gen, t_sent, t_commit, t_confirmed, outcome)
        self.rec.count("changes_" + outcome)


class Periodic(Worker):
    """The operator's periodic call: sentinel_scan() or seal_receipts()."""

    def __init__(self, config, stop, name, function, interval, offset):
        super().__init__(config, name, stop)
        self.function, self.interval, self.offset = function, interval, offset

    def run(self):
        try:
            next_at = now() + self.offset
            while not self.stopped():
                time.sleep(max(0.0, next_at - now()))
                next_at += self.interval
                if self.stopped():
                    break
                conn = self.conn(OPERATOR_ROLE)
                try:
                    (result,) = self.call(conn, self.function, f"SELECT authensor.{self.function}()").fetchone()
                    self.rec.count(f"{self.function}_calls")
                    self.rec.count(f"{self.function}_total", result)
                except psycopg.Error as error:
                    self.rec.error(self.function, error)
                    if connection_error(error) or conn.closed:
                        self.drop(OPERATOR_ROLE)
        except Stopped:
            pass
        finally:
            self.close()


def start(kind, config, stop, *args):
    """The entry point of a worker process."""
    if kind == "client":
        worker = Client(config, args[0], stop)
    elif kind == "tenant_publisher":
        worker = Publisher(config, stop, "publisher", "tenant", TRUSTED_ROLE, 1.0)
    elif kind == "platform_publisher":
        worker = Publisher(config, stop, "operator", "platform", OPERATOR_ROLE, 10.0)
    elif kind == "sentinel":
        worker = Periodic(config, stop, "sentinel", "sentinel_scan", 10.0, 5.0)
    elif kind == "sealer":
        worker = Periodic(config, stop, "sealer", "seal_receipts", 5.0, 2.5)
    else:
        raise ValueError(kind)
    worker.run()
