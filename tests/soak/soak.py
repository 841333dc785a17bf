"""The soak: a scratch cluster of its own and Debian's pgbouncer in
transaction pooling mode, then for SECONDS (workers.py):

- 16 clients across 20 tenants: agents deciding with their API keys
  (evaluate() and guard()), trusted application servers, approvals
  (escalate, approve or reject by an admin key or a trusted role, consume),
  commits, rollbacks, errors and savepoint rollbacks;
- a trusted server publishing or activating a tenant policy version every
  second, and the operator changing the platform policy every 10 s;
- the operator's sentinel_scan() every 10 s and seal_receipts() every 5 s.

The run has phases, as fractions of SECONDS: a warm-up (the first quarter),
a steady phase (to 60 %) in which each server backend's memory is watched
(and judged if the run is long enough: checks.memory), then faults (to
90 %): pg_terminate_backend() and kill -9 of backends in the middle of a
transaction, a pgbouncer restart and a `pg_ctl stop -m immediate` and
restart, each followed by a probe of every tenant's policy versions through
the pooler; then a calm end in which every client must commit again.

Afterwards checks.py compares what the workers recorded with the database
and the server log, and report.py writes the findings. Exits 1 if a check
failed.

Usage: soak.py --work DIR --port PORT --bouncer-port PORT --seconds N
              [--report FILE] [--seed SEED] [--faults off]
(PG_BINDIR: the server's programs; run as root, the servers as `postgres`.)
"""

import argparse
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg

import checks
import report
import workers
from workers import now

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DBNAME = "soak"
CLIENTS = 16
TENANTS = [f"tenant-{i:02d}" for i in range(1, 21)]
# Server connections per (database, role) pool: the 16 agents' clients share
# 6, so tenants meet on the same backends.
POOL_SIZE = 6
SETTINGS = [
    "max_connections = 60",
    "shared_buffers = 128MB",
    "log_line_prefix = '%m [%p] %e '",
    "restart_after_crash = on",
    "log_timezone = 'UTC'",
    # Room for the 21 policies in force and 11 superseded versions: each
    # backend's cache is full within the warm-up and evicts from then on, so
    # the memory watched after it is the cache's bound, not its filling.
    # With the default (256) it would still be filling after four minutes.
    "authensor.cache_size = 32",
]


def as_postgres(*command, **kwargs):
    return subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, **kwargs)


class Cluster:
    def __init__(self, work, port, bindir):
        self.dir, self.port, self.bindir = os.path.join(work, "cluster"), port, bindir
        self.data, self.log = os.path.join(self.dir, "data"), os.path.join(self.dir, "server.log")

    def start_fresh(self):
        subprocess.run([os.path.join(ROOT, "scripts", "cluster.sh"), "start", self.dir, str(self.port), *SETTINGS],
                       check=True, env=dict(os.environ, PG_BINDIR=self.bindir))

    def pg_ctl(self, *args):
        as_postgres(os.path.join(self.bindir, "pg_ctl"), "-D", self.data, *args, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([os.path.join(ROOT, "scripts", "cluster.sh"), "stop", self.dir],
                       check=False, env=dict(os.environ, PG_BINDIR=self.bindir))

    def connect(self, dbname=DBNAME, **kwargs):
        return psycopg.connect(host=self.dir, port=self.port, dbname=dbname, user="postgres",
                               autocommit=True, connect_timeout=5, **kwargs)


class Bouncer:
    def __init__(self, work, port, cluster):
        self.dir, self.port = os.path.join(work, "pgbouncer"), port
        self.ini, self.pidfile = os.path.join(self.dir, "pgbouncer.ini"), os.path.join(self.dir, "pgbouncer.pid")
        os.makedirs(self.dir, exist_ok=True)
        with open(self.ini, "w") as out:
            out.write(f"""[databases]
{DBNAME} = host={cluster.dir} port={cluster.port} dbname={DBNAME}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/users.txt
pool_mode = transaction
default_pool_size = {POOL_SIZE}
max_client_conn = 200
query_wait_timeout = 60
server_login_retry = 1
server_connect_timeout = 5
logfile = {self.dir}/pgbouncer.log
pidfile = {self.pidfile}
""")
        with open(os.path.join(self.dir, "users.txt"), "w") as out:
            for role in (workers.AGENT_ROLE, workers.TRUSTED_ROLE, workers.OPERATOR_ROLE):
                out.write(f'"{role}" ""\n')
        subprocess.run(["chown", "-R", "postgres:", self.dir], check=True)

    def start(self):
        as_postgres("pgbouncer", "-d", self.ini)

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(300):
            if not os.path.exists(f"/proc/{pid}"):
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


def setup(cluster):
    """The database, the roles, a key of each scope per tenant, generation 0
    of every policy, and the tables the workers write their ground truth to."""
    with cluster.connect("postgres") as conn:
        conn.execute(f"CREATE DATABASE {DBNAME}")
        conn.execute(f"ALTER DATABASE {DBNAME} SET authensor.sentinel_window = '5s'")
    keys = {}
    with cluster.connect() as conn:
        conn.execute("""
CREATE EXTENSION authensor;
SELECT authensor.add_receipt_partitions();
CREATE ROLE soak_agent LOGIN;                          -- untrusted: API keys
CREATE ROLE soak_app LOGIN IN ROLE authensor_trusted;  -- trusted application server
CREATE ROLE soak_operator LOGIN;
GRANT EXECUTE ON FUNCTION authensor.publish_platform_policy(text, boolean), authensor.activate_platform_policy(integer),
                          authensor.sentinel_scan(), authensor.seal_receipts() TO soak_operator;
CREATE SCHEMA soak;
GRANT USAGE ON SCHEMA soak TO soak_agent, soak_app, soak_operator;
-- One row per client transaction, written just before its COMMIT or ROLLBACK:
-- present if and only if the transaction committed.
CREATE TABLE soak.ledger (client integer, tx bigint, PRIMARY KEY (client, tx));
GRANT INSERT ON soak.ledger TO soak_agent, soak_app;
-- One row per policy change, written in the change's transaction.
CREATE TABLE soak.policy_changes (layer text, tenant text, seq integer, version integer, gen integer,
                                  PRIMARY KEY (layer, tenant, seq));
GRANT INSERT, SELECT ON soak.policy_changes TO soak_app, soak_operator;
""")
        (version,) = conn.execute("SELECT authensor.publish_platform_policy(%s)",
                                  (workers.platform_policy(0),)).fetchone()
        conn.execute("INSERT INTO soak.policy_changes VALUES ('platform', '', 0, %s, 0)", (version,))
        for tenant in TENANTS:
            with conn.transaction():
                conn.execute("SELECT set_config('authensor.tenant_id', %s, true)", (tenant,))
                (version,) = conn.execute("SELECT authensor.publish_policy(%s)",
                                          (workers.tenant_policy(tenant, 0),)).fetchone()
                conn.execute("INSERT INTO soak.policy_changes VALUES ('tenant', %s, 0, %s, 0)", (tenant, version))
            keys[tenant] = {
                scope: conn.execute("SELECT authensor.create_api_key(%s, %s, %s)",
                                    (tenant, f"soak {scope}", scope)).fetchone()[0]
                for scope in ("agent", "admin")
            }
    return keys


class Sampler(threading.Thread):
    """Every second, the memory of each server backend of the pools
    (/proc/PID/status: VmRSS and RssAnon, in kB)."""

    def __init__(self, cluster, out):
        super().__init__(daemon=True)
        self.cluster, self.out = cluster, open(out, "w")
        self.done = threading.Event()
        self.conn = None

    def run(self):
        while not self.done.wait(1.0):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self.cluster.connect()
                rows = self.conn.execute(
                    "SELECT pid, usename, extract(epoch FROM backend_start) FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend' AND usename LIKE 'soak\\_%'").fetchall()
            except psycopg.Error:
                self.conn = None
                continue
            t = now()
            for pid, user, started in rows:
                fields = {}
                try:
                    with open(f"/proc/{pid}/status") as status:
                        for line in status:
                            key, _, value = line.partition(":")
                            if key in ("VmRSS", "RssAnon"):
                                fields[key] = int(value.split()[0])
                except OSError:
                    continue
                if len(fields) == 2:
                    self.out.write(f"{t}\t{pid}\t{user}\t{started}\t{fields['VmRSS']}\t{fields['RssAnon']}\n")
            self.out.flush()
        if self.conn is not None:
            self.conn.close()
        self.out.close()


class Faults:
    """The faults, each recorded with when it began, the backend it hit, and
    when the server answered again through pgbouncer."""

    def __init__(self, cluster, bouncer, log, probes, rng):
        self.cluster, self.bouncer, self.rng = cluster, bouncer, rng
        self.log, self.probes = log, probes
        self.events = []

    def backend_in_transaction(self):
        """A random backend of the pools (the agents', the trusted server's or
        the operator's) in the middle of a transaction, if one is found within
        a second."""
        with self.cluster.connect() as conn:
            for _ in range(50):
                backends = conn.execute(
                    "SELECT pid, usename FROM pg_stat_activity WHERE usename LIKE 'soak\\_%'"
                    " AND backend_type = 'client backend' AND xact_start IS NOT NULL"
                    " AND state IN ('active', 'idle in transaction')").fetchall()
                if backends:
                    return (*self.rng.choice(backends), True)
                time.sleep(0.02)
            backends = conn.execute("SELECT pid, usename FROM pg_stat_activity WHERE usename LIKE 'soak\\_%'"
                                    " AND backend_type = 'client backend'").fetchall()
            return (*(self.rng.choice(backends) if backends else (None, None)), False)

    def inject(self, kind):
        pid, role, in_transaction = None, None, None
        if kind in ("terminate", "kill"):
            pid, role, in_transaction = self.backend_in_transaction()
        t_start = now()
        if kind == "terminate" and pid:
            with self.cluster.connect() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        elif kind == "kill" and pid:
            os.kill(pid, signal.SIGKILL)
        elif kind == "bouncer":
            self.bouncer.stop()
            self.bouncer.start()
        elif kind == "immediate":
            self.cluster.pg_ctl("-m", "immediate", "-w", "stop")
            self.cluster.pg_ctl("-l", self.cluster.log, "-w", "start")
        t_recovered = self.wait_recovered()
        self.probe(len(self.events))
        self.events.append({"kind": kind, "t_start": t_start, "t_recovered": t_recovered, "t_end": now(),
                            "pid": pid, "role": role, "in_transaction": in_transaction})
        print(f"  fault {len(self.events)}: {kind}" + (f" of backend {pid} ({role})" if pid else "")
              + ("" if in_transaction in (None, True) else " (not in a transaction)")
              + f", answered again after {t_recovered - t_start:.1f} s", flush=True)

    def wait_recovered(self):
        """Until the server answers directly and through pgbouncer."""
        deadline = now() + 180
        while now() < deadline:
            try:
                with self.cluster.connect() as conn:
                    conn.execute("SELECT 1")
                with psycopg.connect(host="127.0.0.1", port=self.bouncer.port, dbname=DBNAME,
                                     user=workers.AGENT_ROLE, autocommit=True, connect_timeout=5,
                                     prepare_threshold=None) as conn:
                    conn.execute("SELECT 1")
                return now()
            except psycopg.Error:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer again within 180 s")

    def probe(self, fault):
        """Right after the fault, each tenant's versions as check() sees them
        through the pooler, for the freshness check."""
        try:
            with psycopg.connect(host="127.0.0.1", port=self.bouncer.port, dbname=DBNAME,
                                 user=workers.TRUSTED_ROLE, autocommit=True, connect_timeout=5,
                                 prepare_threshold=None) as conn:
                for tenant in TENANTS:
                    with conn.transaction():
                        conn.execute("SELECT set_config('authensor.tenant_id', %s, true)", (tenant,))
                        t_start = now()
                        pv, tv = conn.execute("SELECT platform_version, tenant_version"
                                              " FROM authensor.check('file.read')").fetchone()
                        fields = (fault, tenant, pv, tv, t_start, now())
                        self.probes.write("\t".join(r"\N" if f is None else str(f) for f in fields) + "\n")
        except psycopg.Error as error:
            self.log.error("probe", error)
        self.probes.flush()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bouncer-port", type=int, required=True)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--report")
    parser.add_argument("--seed", default=str(random.randrange(1 << 30)))
    parser.add_argument("--faults", default="on", choices=("on", "off"))
    options = parser.parse_args()
    bindir = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
    work, seconds = options.work, options.seconds
    logs = os.path.join(work, "logs")
    os.makedirs(logs, exist_ok=True)

    cluster = Cluster(work, options.port, bindir)
    bouncer = Bouncer(work, options.bouncer_port, cluster)
    print(f"soak: {seconds} s, {CLIENTS} clients, {len(TENANTS)} tenants, seed {options.seed},"
          f" cluster on port {options.port}, pgbouncer on {options.bouncer_port}", flush=True)
    cluster.start_fresh()
    try:
        keys = setup(cluster)
        bouncer.start()
        config = {"bouncer_port": options.bouncer_port, "dbname": DBNAME, "tenants": TENANTS, "keys": keys,
                  "logs": logs, "seed": options.seed}
        phases = {"warmup_end": 0.25 * seconds, "faults_start": 0.6 * seconds, "faults_end": 0.9 * seconds,
                  "seconds": seconds}
        if seconds >= 300:
            kinds = ["terminate", "kill", "terminate", "bouncer", "terminate", "kill", "immediate",
                     "terminate", "bouncer", "kill", "terminate"]
        else:
            kinds = ["terminate", "kill", "bouncer", "terminate", "immediate"]
        if options.faults == "off":
            kinds = []
        outcome = run(cluster, bouncer, config, phases, kinds, options.seed, work)
        print("soak: checking", flush=True)
        results = checks.run(cluster, work, outcome)
        settings = {"seconds": seconds, "clients": CLIENTS, "tenants": len(TENANTS), "pool_size": POOL_SIZE,
                    "seed": options.seed, "bindir": bindir, "phases": phases, "faults": kinds,
                    "server_settings": SETTINGS}
        text = report.render(results, settings, outcome, cluster)
        print(text, flush=True)
        if options.report:
            report.write(options.report, text)
        failed = [r for r in results["checks"] if not r["passed"]]
        for r in failed:
            print(f"soak: FAILED: {r['name']}: {r['figures']}", flush=True)
        sys.exit(1 if failed else 0)
    finally:
        bouncer.stop()
        cluster.stop()


def run(cluster, bouncer, config, phases, kinds, seed, work):
    """The workers for phases['seconds'], the faults in their phase; returns
    what the checks need to know of the run."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    processes = [context.Process(target=workers.start, args=("client", config, stop, i))
                 for i in range(CLIENTS)]
    for kind in ("tenant_publisher", "platform_publisher", "sentinel", "sealer"):
        processes.append(context.Process(target=workers.start, args=(kind, config, stop)))
    rng = random.Random(f"{seed}:faults")
    orchestrator = workers.Recorder(config["logs"], "orchestrator")
    probes = open(os.path.join(work, "probes.tsv"), "w")
    faults = Faults(cluster, bouncer, orchestrator, probes, rng)
    sampler = Sampler(cluster, os.path.join(work, "memory.tsv"))

    t0, t0_wall = now(), time.time()
    for p in processes:
        p.start()
    sampler.start()
    if kinds:
        spacing = (phases["faults_end"] - phases["faults_start"]) / len(kinds)
        for i, kind in enumerate(kinds):
            at = t0 + phases["faults_start"] + i * spacing
            time.sleep(max(0.0, at - now()))
            faults.inject(kind)
    time.sleep(max(0.0, t0 + phases["seconds"] - now()))
    t_stop = now()
    stop.set()
    for p in processes:
        p.join(120)
        if p.exitcode is None:
            orchestrator.violation("stop", f"a worker did not stop within 120 s (pid {p.pid})")
            p.kill()
            p.join()
        elif p.exitcode != 0:
            orchestrator.violation("stop", f"a worker exited with {p.exitcode}")
    sampler.done.set()
    sampler.join()
    probes.close()
    # The pooler's server connections close: each backend writes the
    # receipts of rolled-back decisions it still holds as it exits.
    bouncer.stop()
    with cluster.connect() as conn:
        for _ in range(600):
            (left,) = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename LIKE 'soak\\_%'").fetchone()
            if left == 0:
                break
            time.sleep(0.1)
        else:
            orchestrator.violation("stop", f"{left} backends of the pools still running 60 s after pgbouncer stopped")
    orchestrator.close()
    outcome = {"t0": t0, "t0_wall": t0_wall, "t_stop": t_stop, "phases": phases, "faults": faults.events}
    with open(os.path.join(work, "outcome.json"), "w") as out:
        json.dump(outcome, out)
    return outcome


if __name__ == "__main__":
    main()
