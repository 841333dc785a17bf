"""The soak's checks: what the workers recorded (workers.py), loaded into the
schema soak_truth of the soak's database, against the receipts, the ledger,
the policies, the chains and the server log.

Each check returns {"name", "passed", "figures", "details"}; figures say what
was counted, so that a check that passes on nothing shows it.
"""

import datetime
import glob
import json
import os
import re
from array import array

import psycopg

# The transactions a client knows the end of, and those it does not.
SCHEMA = r"""
DROP SCHEMA IF EXISTS soak_truth CASCADE;
CREATE SCHEMA soak_truth;
CREATE TABLE soak_truth.decisions (
    c int, n bigint, tx bigint, function text, via text, tenant text, tool text, t_start float8, t_end float8,
    receipt_id uuid, action text, layer text, rule text, pv int, tv int, fate text, t_fate float8, pid int);
CREATE TABLE soak_truth.transactions (
    c int, tx bigint, kind text, via text, tenant text, pid int, t_begin float8, t_end float8, outcome text);
CREATE TABLE soak_truth.changes (
    layer text, tenant text, seq int, kind text, version int, gen int, t_sent float8, t_commit float8,
    t_confirmed float8, outcome text);
CREATE TABLE soak_truth.errors (
    t float8, worker text, "where" text, tenant text, sqlstate text, connection boolean, type text, message text);
CREATE TABLE soak_truth.cache (t float8, pid int, entries int, bytes bigint, compiles bigint, invalidations bigint,
                               evictions bigint);
CREATE TABLE soak_truth.probes (fault int, tenant text, pv int, tv int, t_start float8, t_end float8);
CREATE TABLE soak_truth.memory (t float8, pid int, usename text, backend_start float8, vm_rss bigint,
                                rss_anon bigint);
CREATE TABLE soak_truth.faults (i int, kind text, t_start float8, t_recovered float8, t_end float8, pid int,
                                role text, in_transaction boolean);
"""

# After loading: the receipts by the client and number their args carry, and
# the per-decision summary the checks join with. A consumed approval's run
# (consume_approval() decides the call again: reason 'approved (<approval>): …') has the
# args of the escalation it ran; the approvals check counts those.
INDEX = r"""
INSERT INTO soak_truth.changes
SELECT layer, tenant, seq, 'setup', version, gen, '-infinity', '-infinity', '-infinity', 'committed'
  FROM soak.policy_changes WHERE seq = 0;
ALTER TABLE soak_truth.changes ADD committed boolean;
UPDATE soak_truth.changes SET committed = outcome IN ('committed', 'in_doubt_committed');
CREATE INDEX ON soak_truth.changes (layer, tenant, seq);
CREATE INDEX ON soak_truth.decisions (c, n);
CREATE INDEX ON soak_truth.transactions (pid, t_end);
CREATE TABLE soak_truth.receipts AS
SELECT id, tenant_id, (args->>'c')::int AS c, (args->>'n')::bigint AS n, action, layer, rule_id,
       regexp_replace(reason, '^approved \([0-9a-f-]{36}\): ', '') AS reason,
       platform_version AS pv, tenant_version AS tv, committed,
       reason ~ '^approved \([0-9a-f-]{36}\): ' AS approved_run
  FROM authensor.receipts;
CREATE TABLE soak_truth.per_decision AS
SELECT c, n, count(*) AS copies, count(*) FILTER (WHERE committed) AS committed_copies,
       (array_agg(id))[1] AS id, (array_agg(tenant_id))[1] AS tenant_id, (array_agg(action))[1] AS action,
       (array_agg(layer))[1] AS layer, (array_agg(rule_id))[1] AS rule_id, (array_agg(pv))[1] AS pv,
       (array_agg(tv))[1] AS tv
  FROM soak_truth.receipts WHERE NOT approved_run GROUP BY c, n;
CREATE UNIQUE INDEX ON soak_truth.per_decision (c, n);
ANALYZE soak_truth.decisions, soak_truth.transactions, soak_truth.changes, soak_truth.per_decision;
"""


def check(name, passed, figures, details=None):
    return {"name": name, "passed": bool(passed), "figures": figures, "details": details or []}


def load(conn, work, outcome):
    conn.execute(SCHEMA)
    logs = os.path.join(work, "logs")
    tables = {"decisions": "decisions", "transactions": "transactions", "changes": "changes",
              "errors": "errors", "cache": "cache"}
    for suffix, table in tables.items():
        for path in sorted(glob.glob(os.path.join(logs, f"*.{suffix}.tsv"))):
            copy_file(conn, table, path)
    copy_file(conn, "probes", os.path.join(work, "probes.tsv"))
    copy_file(conn, "memory", os.path.join(work, "memory.tsv"))
    with conn.cursor() as cursor:
        for i, f in enumerate(outcome["faults"]):
            cursor.execute("INSERT INTO soak_truth.faults VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                           (i, f["kind"], f["t_start"], f["t_recovered"], f["t_end"], f["pid"], f["role"],
                            f["in_transaction"]))
    conn.execute(INDEX)


def copy_file(conn, table, path):
    if not os.path.exists(path):
        return
    with conn.cursor() as cursor, open(path, "rb") as data:
        with cursor.copy(f"COPY soak_truth.{table} FROM STDIN") as copy:
            while chunk := data.read(1 << 20):
                copy.write(chunk)


def one(conn, sql, params=None):
    """The first row of a query, as a dict."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(sql, params).fetchone()


def rows(conn, sql, params=None):
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return cursor.execute(sql, params).fetchall()


def stats(work):
    """The workers' counters, summed, and per worker."""
    total, per = {}, {}
    for path in glob.glob(os.path.join(work, "logs", "*.stats.json")):
        name = os.path.basename(path).split(".")[0]
        with open(path) as f:
            per[name] = json.load(f)
        for key, value in per[name].items():
            total[key] = total.get(key, 0) + value
    return total, per


def latencies(work, t_from, t_to):
    """Per function: the durations (s) of calls that started in [t_from, t_to)."""
    out = {}
    for path in glob.glob(os.path.join(work, "logs", "*.latency")):
        function = os.path.basename(path).split(".")[1]
        values = array("d")
        with open(path, "rb") as f:
            values.frombytes(f.read())
        durations = out.setdefault(function, [])
        durations.extend(values[i + 1] for i in range(0, len(values), 2) if t_from <= values[i] < t_to)
    return out


def quantile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# -- the checks ----------------------------------------------------------------

def committed_decisions(conn):
    r = one(conn, """
SELECT count(*) AS decisions,
       count(*) FILTER (WHERE p.copies IS NULL) AS missing,
       count(*) FILTER (WHERE p.copies > 1) AS duplicated,
       count(*) FILTER (WHERE p.copies = 1 AND p.committed_copies = 0) AS marked_rolled_back,
       count(*) FILTER (WHERE p.copies = 1 AND (p.id IS DISTINCT FROM d.receipt_id OR p.tenant_id <> d.tenant
                              OR p.action <> d.action OR p.layer <> d.layer OR p.rule_id IS DISTINCT FROM d.rule
                              OR p.pv IS DISTINCT FROM d.pv OR p.tv IS DISTINCT FROM d.tv)) AS differing
  FROM soak_truth.decisions d LEFT JOIN soak_truth.per_decision p USING (c, n)
 WHERE d.fate = 'committed'""")
    bad = r["missing"] + r["duplicated"] + r["marked_rolled_back"] + r["differing"]
    details = rows(conn, """
SELECT d.c, d.n, d.tx, d.tool, d.receipt_id, p.copies, p.committed_copies, p.id
  FROM soak_truth.decisions d LEFT JOIN soak_truth.per_decision p USING (c, n)
 WHERE d.fate = 'committed' AND (p.copies IS DISTINCT FROM 1 OR p.committed_copies <> 1
       OR p.id IS DISTINCT FROM d.receipt_id OR p.tenant_id <> d.tenant OR p.action <> d.action
       OR p.layer <> d.layer OR p.pv IS DISTINCT FROM d.pv OR p.tv IS DISTINCT FROM d.tv)
 LIMIT 5""") if bad else []
    return check("every committed decision has exactly one receipt, as the client was answered",
                 r["decisions"] > 0 and bad == 0,
                 f"{r['decisions']} committed decisions; missing {r['missing']}, duplicated {r['duplicated']},"
                 f" marked rolled back {r['marked_rolled_back']}, differing from the answer {r['differing']}",
                 details)


# A rolled-back decision's receipt waits in its backend until the next commit
# there, or the backend's exit. A crash (kill -9 restarts every backend) or an
# immediate shutdown loses it if it was still waiting: the first such fault
# not over when the rollback returned, with no commit confirmed on that
# backend between the rollback and the fault.
ROLLED_BACK = """
WITH rolled_back AS (
    SELECT d.*, p.copies, p.committed_copies,
           (SELECT min(f.t_start) FROM soak_truth.faults f
             WHERE f.kind IN ('kill', 'immediate') AND f.t_recovered > d.t_fate) AS crash
      FROM soak_truth.decisions d LEFT JOIN soak_truth.per_decision p USING (c, n)
     WHERE d.fate = 'rolled_back')
SELECT count(*) AS decisions,
       count(*) FILTER (WHERE copies = 1 AND committed_copies = 0) AS recorded,
       count(*) FILTER (WHERE committed_copies > 0) AS marked_committed,
       count(*) FILTER (WHERE copies > 1) AS duplicated,
       count(*) FILTER (WHERE copies IS NULL AND excused) AS lost_in_crash,
       count(*) FILTER (WHERE copies IS NULL AND NOT excused) AS missing
  FROM (SELECT r.*, r.crash IS NOT NULL AND NOT EXISTS (
                   SELECT FROM soak_truth.transactions t
                    WHERE t.pid = r.pid AND t.outcome = 'committed' AND t.t_end > r.t_fate AND t.t_end < r.crash)
                   AS excused
          FROM rolled_back r) s
"""


def rolled_back_decisions(conn):
    r = one(conn, ROLLED_BACK)
    bad = r["marked_committed"] + r["duplicated"] + r["missing"]
    details = rows(conn, """
SELECT d.c, d.n, d.tx, d.pid, d.tool, d.receipt_id, d.t_fate FROM soak_truth.decisions d
  LEFT JOIN soak_truth.per_decision p USING (c, n)
 WHERE d.fate = 'rolled_back' AND (p.copies IS NULL OR p.copies > 1 OR p.committed_copies > 0) LIMIT 5""") if bad else []
    return check("every rolled-back decision is recorded once with committed = false",
                 r["decisions"] > 0 and bad == 0,
                 f"{r['decisions']} rolled-back decisions (ROLLBACK, an error, ROLLBACK TO SAVEPOINT); recorded"
                 f" {r['recorded']}; lost with the crash that followed before their backend committed again"
                 f" {r['lost_in_crash']}; missing otherwise {r['missing']}, marked committed"
                 f" {r['marked_committed']}, duplicated {r['duplicated']}",
                 details)


def in_flight_decisions(conn):
    """Decisions of transactions a fault cut: 'failed' ones (cut before
    COMMIT) never committed; 'in_doubt' ones (COMMIT unanswered) committed
    exactly when their ledger row did."""
    r = one(conn, """
SELECT count(*) FILTER (WHERE d.fate = 'failed') AS failed,
       count(*) FILTER (WHERE d.fate = 'failed' AND p.committed_copies > 0) AS failed_committed,
       count(*) FILTER (WHERE d.fate = 'failed' AND p.copies > 1) AS failed_duplicated,
       count(*) FILTER (WHERE d.fate = 'in_doubt') AS in_doubt,
       count(*) FILTER (WHERE d.fate = 'in_doubt' AND l.tx IS NOT NULL) AS in_doubt_committed,
       count(*) FILTER (WHERE d.fate = 'in_doubt' AND l.tx IS NOT NULL
                          AND (p.copies IS DISTINCT FROM 1 OR p.committed_copies <> 1)) AS committed_wrong,
       count(*) FILTER (WHERE d.fate = 'in_doubt' AND l.tx IS NULL AND p.committed_copies > 0) AS lost_committed
  FROM soak_truth.decisions d
  LEFT JOIN soak_truth.per_decision p USING (c, n)
  LEFT JOIN soak.ledger l ON l.client = d.c AND l.tx = d.tx
 WHERE d.fate IN ('failed', 'in_doubt')""")
    bad = r["failed_committed"] + r["failed_duplicated"] + r["committed_wrong"] + r["lost_committed"]
    return check("decisions in flight at a fault: committed with their transaction or not at all",
                 bad == 0,
                 f"{r['failed']} in transactions cut before COMMIT (receipt marked committed:"
                 f" {r['failed_committed']}, duplicated: {r['failed_duplicated']}); {r['in_doubt']} in transactions"
                 f" whose COMMIT went unanswered, {r['in_doubt_committed']} of them committed (without exactly one"
                 f" committed receipt: {r['committed_wrong']}; receipt committed without the transaction:"
                 f" {r['lost_committed']})")


def ledger(conn):
    r = one(conn, """
SELECT count(*) FILTER (WHERE t.outcome = 'committed') AS committed,
       count(*) FILTER (WHERE t.outcome = 'committed' AND l.tx IS NULL) AS committed_lost,
       count(*) FILTER (WHERE t.outcome IN ('rolled_back', 'failed')) AS not_committed,
       count(*) FILTER (WHERE t.outcome IN ('rolled_back', 'failed') AND l.tx IS NOT NULL) AS not_committed_kept,
       count(*) FILTER (WHERE t.outcome = 'in_doubt') AS in_doubt,
       count(*) FILTER (WHERE t.outcome = 'in_doubt' AND l.tx IS NOT NULL) AS in_doubt_committed,
       (SELECT count(*) FROM soak.ledger l2 WHERE NOT EXISTS (
            SELECT FROM soak_truth.transactions t2 WHERE t2.c = l2.client AND t2.tx = l2.tx)) AS unknown
  FROM soak_truth.transactions t LEFT JOIN soak.ledger l ON l.client = t.c AND l.tx = t.tx""")
    bad = r["committed_lost"] + r["not_committed_kept"] + r["unknown"]
    return check("the clients' own work: kept exactly when COMMIT returned (or was unanswered and took effect)",
                 r["committed"] > 0 and bad == 0,
                 f"{r['committed']} transactions committed, of which lost {r['committed_lost']};"
                 f" {r['not_committed']} rolled back or cut, of which kept {r['not_committed_kept']};"
                 f" {r['in_doubt']} with COMMIT unanswered, {r['in_doubt_committed']} of them committed;"
                 f" rows of no known transaction {r['unknown']}")


def accounted(conn):
    r = one(conn, """
SELECT (SELECT count(*) FROM soak_truth.receipts) AS receipts,
       (SELECT count(*) FROM soak_truth.receipts r WHERE NOT EXISTS (
            SELECT FROM soak_truth.decisions d WHERE d.c = r.c AND d.n = r.n)) AS unknown,
       (SELECT count(*) - count(DISTINCT id) FROM soak_truth.receipts) AS same_id,
       (SELECT count(*) FROM soak_truth.decisions d JOIN soak_truth.per_decision p USING (c, n)
         WHERE p.tenant_id <> d.tenant) AS other_tenant""")
    bad = r["unknown"] + r["same_id"] + r["other_tenant"]
    return check("every receipt is of a decision a client made, for that client's tenant",
                 r["receipts"] > 0 and bad == 0,
                 f"{r['receipts']} receipts; of no logged decision {r['unknown']}; sharing an id {r['same_id']};"
                 f" of another tenant than the client's {r['other_tenant']}")


# Every decision's versions, and the probes'. For a statement that started at
# t_start and ended at t_end, the allowed versions of a layer are those of
# the last change confirmed committed before t_start and of the changes
# after it whose COMMIT was sent before t_end.
FRESHNESS = """
CREATE TEMPORARY TABLE seen AS
WITH decided AS (
    SELECT d.tenant, coalesce(d.pv, p.pv) AS pv, coalesce(d.tv, p.tv) AS tv, d.t_start,
           coalesce(d.t_end, 'infinity') AS t_end, 'decision' AS source
      FROM soak_truth.decisions d LEFT JOIN soak_truth.per_decision p USING (c, n)
     WHERE d.t_end IS NOT NULL OR p.copies IS NOT NULL
    UNION ALL
    SELECT tenant, pv, tv, t_start, t_end, 'probe' FROM soak_truth.probes)
SELECT 'tenant' AS layer, tenant AS scope, tv AS version, t_start, t_end, source FROM decided
UNION ALL
SELECT 'platform', '', pv, t_start, t_end, source FROM decided;
CREATE TEMPORARY TABLE judged AS
SELECT s.*, req.seq AS required_seq, req.version AS required_version,
       EXISTS (SELECT FROM soak_truth.changes c
                WHERE c.layer = s.layer AND c.tenant = s.scope AND c.committed AND c.version = s.version
                  AND c.seq >= req.seq AND c.t_commit < s.t_end) AS allowed,
       EXISTS (SELECT FROM soak_truth.changes c
                WHERE c.layer = s.layer AND c.tenant = s.scope AND c.committed AND c.version = s.version
                  AND c.seq < req.seq) AS older
  FROM seen s
  LEFT JOIN LATERAL (SELECT c.seq, c.version FROM soak_truth.changes c
                      WHERE c.layer = s.layer AND c.tenant = s.scope AND c.committed AND c.t_confirmed < s.t_start
                      ORDER BY c.seq DESC LIMIT 1) req ON true;
"""


def freshness(conn):
    conn.execute(FRESHNESS)
    r = one(conn, """
SELECT count(*) AS checked, count(*) FILTER (WHERE source = 'probe') AS probes,
       count(*) FILTER (WHERE version IS NULL) AS without,
       count(*) FILTER (WHERE version IS NOT NULL AND NOT allowed AND older) AS stale,
       count(*) FILTER (WHERE version IS NOT NULL AND NOT allowed AND NOT older) AS premature,
       count(*) FILTER (WHERE version IS NOT NULL AND allowed AND version <> required_version) AS newer
  FROM judged""")
    changes = one(conn, """
SELECT count(*) FILTER (WHERE layer = 'tenant' AND committed AND seq > 0) AS tenant,
       count(*) FILTER (WHERE layer = 'platform' AND committed AND seq > 0) AS platform,
       count(*) FILTER (WHERE kind = 'activate' AND committed) AS activations,
       count(*) FILTER (WHERE outcome LIKE 'in_doubt%%') AS in_doubt
  FROM soak_truth.changes""")
    bad = r["without"] + r["stale"] + r["premature"]
    details = rows(conn, """
SELECT layer, scope, version, required_version, t_start, t_end, source FROM judged
 WHERE version IS NULL OR NOT allowed LIMIT 5""") if bad else []
    return check("no decision used a policy version older than the one committed before its statement started",
                 r["checked"] > 0 and changes["tenant"] > 0 and changes["platform"] > 0 and bad == 0,
                 f"{r['checked']} layer decisions checked ({r['probes']} of them the probes right after each fault)"
                 f" against {changes['tenant']} tenant and {changes['platform']} platform changes"
                 f" ({changes['activations']} activations of an earlier version, {changes['in_doubt']} with COMMIT"
                 f" unanswered); older than required {r['stale']}; a version not yet committed {r['premature']};"
                 f" no version {r['without']}; a change committing meanwhile already seen {r['newer']}",
                 details)


def decided_by_recorded_version(conn):
    """The rule and reason of each receipt are in the policy source of the
    version it records: it was decided by that version, not another."""
    r = one(conn, """
WITH kinds AS (
    SELECT layer, CASE layer WHEN 'tenant' THEN tenant_id END AS tenant_id,
           CASE layer WHEN 'tenant' THEN tv ELSE pv END AS version, rule_id, reason, count(*) AS receipts
      FROM soak_truth.receipts WHERE layer IN ('tenant', 'platform') GROUP BY 1, 2, 3, 4, 5)
SELECT coalesce(sum(receipts), 0) AS checked,
       coalesce(sum(receipts) FILTER (WHERE NOT EXISTS (
           SELECT FROM authensor.policies p
            WHERE p.layer = k.layer AND p.tenant_id IS NOT DISTINCT FROM k.tenant_id AND p.version = k.version
              AND strpos(p.source, 'id: ' || k.rule_id || E'\n') > 0
              AND strpos(p.source, 'reason: "' || k.reason || '"') > 0)), 0) AS mismatched
  FROM kinds k""")
    return check("every receipt's rule and reason come from the policy version it records",
                 r["checked"] > 0 and r["mismatched"] == 0,
                 f"{r['checked']} receipts decided by a rule; from another source than their recorded version"
                 f" {r['mismatched']}")


def policy_changes(conn):
    r = one(conn, """
SELECT count(*) FILTER (WHERE c.committed) AS committed,
       count(*) FILTER (WHERE c.committed AND (l.version IS DISTINCT FROM c.version)) AS lost,
       count(*) FILTER (WHERE NOT c.committed AND l.seq IS NOT NULL) AS kept_uncommitted,
       count(*) FILTER (WHERE c.committed AND c.kind IN ('publish', 'setup') AND NOT EXISTS (
           SELECT FROM authensor.policies p WHERE p.layer = c.layer AND coalesce(p.tenant_id, '') = c.tenant
              AND p.version = c.version AND strpos(p.source, 'gen ' || c.gen || ':') > 0)) AS source_lost
  FROM soak_truth.changes c
  LEFT JOIN soak.policy_changes l ON l.layer = c.layer AND l.tenant = c.tenant AND l.seq = c.seq""")
    active = one(conn, """
SELECT count(*) AS scopes, count(*) FILTER (WHERE a.version IS DISTINCT FROM last.version) AS wrong
  FROM (SELECT DISTINCT ON (layer, tenant) layer, tenant, version FROM soak_truth.changes
         WHERE committed ORDER BY layer, tenant, seq DESC) last
  LEFT JOIN authensor.active_policies a ON a.layer = last.layer AND coalesce(a.tenant_id, '') = last.tenant""")
    bad = r["lost"] + r["kept_uncommitted"] + r["source_lost"] + active["wrong"]
    return check("every committed policy change is kept, and the last one of each layer is in force",
                 r["committed"] > 0 and bad == 0,
                 f"{r['committed']} changes committed; lost {r['lost']}, their source lost {r['source_lost']};"
                 f" kept though not committed {r['kept_uncommitted']}; {active['scopes']} policies, in force other"
                 f" than their last change {active['wrong']}")


def approvals(conn, total):
    r = one(conn, """
SELECT count(*) FILTER (WHERE r.action = 'escalate' AND r.committed) AS escalations,
       count(*) FILTER (WHERE r.action = 'escalate' AND r.committed AND a.n IS DISTINCT FROM 1) AS without_one,
       count(*) FILTER (WHERE r.action = 'escalate' AND NOT r.committed) AS rolled_back,
       count(*) FILTER (WHERE r.action = 'escalate' AND NOT r.committed AND a.n IS NOT NULL) AS rolled_back_open,
       (SELECT count(*) FROM authensor.approval_requests q WHERE NOT EXISTS (
            SELECT FROM soak_truth.receipts r2 WHERE r2.id = q.receipt_id AND r2.action = 'escalate'
               AND r2.committed)) AS orphans
  FROM soak_truth.receipts r
  LEFT JOIN (SELECT receipt_id, count(*) AS n FROM authensor.approval_requests GROUP BY 1) a ON a.receipt_id = r.id
 WHERE r.action = 'escalate' AND NOT r.approved_run""")
    # Each consumed approval ran: a receipt of its run, allowed, for the
    # escalation's client and number (rolled back if the consuming
    # transaction was, which spends it too), at most one committed; and no
    # run committed without its approval consumed.
    runs = one(conn, """
WITH consumed AS (
    SELECT e.c, e.n FROM authensor.approval_requests q
      JOIN soak_truth.receipts e ON e.id = q.receipt_id
     WHERE q.status = 'consumed'),
     run AS (
    SELECT c, n, count(*) AS n_runs, count(*) FILTER (WHERE committed) AS committed_runs,
           bool_and(action = 'allow') AS allowed
      FROM soak_truth.receipts WHERE approved_run GROUP BY c, n)
SELECT (SELECT count(*) FROM consumed) AS consumed,
       (SELECT count(*) FROM consumed k LEFT JOIN run USING (c, n)
         WHERE run.n_runs IS NULL OR run.committed_runs > 1 OR NOT run.allowed) AS consumed_without_one_run,
       (SELECT count(*) FROM run WHERE committed_runs > 0 AND NOT EXISTS (
            SELECT FROM consumed k WHERE k.c = run.c AND k.n = run.n)) AS runs_not_consumed""")
    statuses = rows(conn, "SELECT status, count(*) AS n FROM authensor.approval_requests GROUP BY 1 ORDER BY 1")
    bad = (r["without_one"] + r["rolled_back_open"] + r["orphans"] + runs["consumed_without_one_run"]
           + runs["runs_not_consumed"])
    return check("one approval per committed escalation, none for a rolled-back one; each consumed one ran once",
                 r["escalations"] > 0 and total.get("consumed", 0) > 0 and bad == 0,
                 f"{r['escalations']} committed escalations, without exactly one approval {r['without_one']};"
                 f" {r['rolled_back']} rolled back, with an approval {r['rolled_back_open']}; approvals of no"
                 f" committed escalation {r['orphans']}; consumed by the clients {total.get('consumed', 0)},"
                 f" each run, allowed, with a receipt of its own: {runs['consumed']} consumed, without"
                 f" exactly one {runs['consumed_without_one_run']}, runs of no consumed approval"
                 f" {runs['runs_not_consumed']};"
                 f" refused as rejected {total.get('consume_refused', 0)}; by status: "
                 + ", ".join(f"{s['status']} {s['n']}" for s in statuses))


def cross_tenant(total):
    read, foreign = total.get("rows_read", 0), total.get("foreign_rows", 0)
    fresh = total.get("fresh_transaction_checks", 0)
    return check("no client saw a row of another tenant",
                 read > 0 and foreign == 0,
                 f"{read} rows read by the clients (receipts, approvals, policies, keys, alerts, baselines), of"
                 f" another tenant {foreign}; {fresh} transactions began with no tenant left bound (any other"
                 " answer is counted among the unexpected errors)")


MEMORY_WARMUP, MEMORY_WINDOW = 90, 120


def memory(conn, t0, phases):
    """RssAnon (the backend's private memory) of each pool backend between
    the warm-up and the faults: the most it held in the second half of that
    window against the most it held in the first half. Highs, not single
    samples, since a seal or a scan holds more while it runs."""
    warm, steady_end = t0 + phases["warmup_end"], t0 + phases["faults_start"]
    middle = (warm + steady_end) / 2
    per = rows(conn, """
SELECT pid, usename,
       max(rss_anon) FILTER (WHERE t < %(middle)s) AS early_anon, max(rss_anon) FILTER (WHERE t >= %(middle)s) AS late_anon,
       max(vm_rss) FILTER (WHERE t < %(middle)s) AS early_rss, max(vm_rss) FILTER (WHERE t >= %(middle)s) AS late_rss,
       count(*) FILTER (WHERE t < %(middle)s) AS early_samples, count(*) FILTER (WHERE t >= %(middle)s) AS late_samples
  FROM soak_truth.memory WHERE t >= %(warm)s AND t < %(end)s
 GROUP BY pid, usename
 ORDER BY (max(rss_anon) FILTER (WHERE t >= %(middle)s))::float8 / max(rss_anon) FILTER (WHERE t < %(middle)s) DESC""",
               {"warm": warm, "middle": middle, "end": steady_end})
    measured = [p for p in per if p["early_samples"] and p["late_samples"]]
    worst = max((p["late_anon"] / p["early_anon"] - 1 for p in measured), default=None)
    over = [p for p in measured if p["late_anon"] > 1.10 * p["early_anon"]]
    figures = (f"{len(measured)} backends sampled every second from {phases['warmup_end']:.0f} s to"
               f" {phases['faults_start']:.0f} s; largest growth of RssAnon from the first half to the second"
               f" {'–' if worst is None else f'{100 * worst:+.1f} %'} (limit +10 %)")
    name = "no backend's memory grew by more than 10 % after the warm-up"
    if phases["warmup_end"] < MEMORY_WARMUP or phases["faults_start"] - phases["warmup_end"] < MEMORY_WINDOW:
        # A backend's heap takes a minute or two to settle, and a seal holds
        # more or less by the size of its batch: a shorter run measures
        # those, not a leak.
        return check(name, True, f"not judged in a run this short (it needs a warm-up of {MEMORY_WARMUP} s and"
                                 f" {MEMORY_WINDOW} s after it): {figures}", per)
    return check(name, measured and not over, figures, per)


FAULT_GRACE = 10.0


def errors(conn):
    """Connection errors are expected from a fault's start until 10 s after
    the server answered again; every other error, and every violation a
    client saw, is unexpected."""
    r = one(conn, """
SELECT count(*) AS errors,
       count(*) FILTER (WHERE expected) AS expected,
       count(*) FILTER (WHERE NOT expected) AS unexpected
  FROM (SELECT e.*, e.connection AND EXISTS (
               SELECT FROM soak_truth.faults f WHERE e.t BETWEEN f.t_start - 1 AND f.t_recovered + %s) AS expected
          FROM soak_truth.errors e) s""", (FAULT_GRACE,))
    unexpected = rows(conn, """
SELECT e.worker, e."where", e.sqlstate, e.type, e.message, count(*) AS n
  FROM soak_truth.errors e
 WHERE NOT (e.connection AND EXISTS (
               SELECT FROM soak_truth.faults f WHERE e.t BETWEEN f.t_start - 1 AND f.t_recovered + %s))
 GROUP BY 1, 2, 3, 4, 5 ORDER BY n DESC LIMIT 10""", (FAULT_GRACE,))
    return check("no unexpected error in the clients' logs",
                 r["unexpected"] == 0,
                 f"{r['errors']} errors; {r['expected']} of them the connection's, during a fault or within"
                 f" {FAULT_GRACE:.0f} s of the server answering again; unexpected {r['unexpected']}",
                 unexpected)


def recovery(conn, total, per):
    last = one(conn, "SELECT max(t_recovered) AS t FROM soak_truth.faults")["t"]
    if last is None:
        return check("clients recover by reconnecting after the faults", True, "no faults in this run")
    r = rows(conn, """
SELECT c, count(*) FILTER (WHERE outcome = 'committed' AND t_begin > %s) AS after
  FROM soak_truth.transactions GROUP BY c ORDER BY c""", (last,))
    stuck = [x["c"] for x in r if x["after"] == 0]
    workers_ = [w for w in per if w.startswith("client")]
    return check("clients recover by reconnecting after the faults",
                 len(r) == len(workers_) and not stuck,
                 f"{total.get('reconnects', 0)} reconnections; clients committing again after the last fault:"
                 f" {len(r) - len(stuck)} of {len(workers_)}")


# SQLSTATEs the clients cause on purpose.
SERVER_LOG_ALLOWED = {"22012"}
# Those of connections cut or refused (a client gone, a backend terminated,
# the server shutting down, restarting or recovering): only during a fault.
SERVER_LOG_FAULTS = ("08", "57P01", "57P02", "57P03")


def server_log(cluster, outcome):
    """The server log: no PANIC; backends ended by a signal only those
    killed; as many crash restarts and recoveries as the faults cause; no
    ERROR, FATAL or WARNING of an unexpected SQLSTATE, nor one of a cut
    connection outside the faults."""
    faults = outcome["faults"]
    # Log times (UTC, log_timezone) to the workers' clock.
    offset = outcome["t0_wall"] - outcome["t0"]
    windows = [(f["t_start"] - 1, f["t_recovered"] + FAULT_GRACE) for f in faults]
    killed = {f["pid"] for f in faults if f["kind"] == "kill"}
    kills = sum(1 for f in faults if f["kind"] == "kill")
    immediates = sum(1 for f in faults if f["kind"] == "immediate")
    line_re = re.compile(r"^(\S+ \S+) \S+ \[(\d+)\] (\S*) ?(LOG|WARNING|ERROR|FATAL|PANIC):\s+(.*)$")
    counts = {"PANIC": 0, "signals": 0, "reinitializing": 0, "recoveries": 0, "immediate": 0, "during_faults": 0}
    unexpected, levels, signalled = {}, {}, []
    with open(cluster.log, errors="replace") as log:
        for line in log:
            m = line_re.match(line.rstrip("\n"))
            if not m:
                continue
            stamp, _, state, level, message = m.groups()
            levels[level] = levels.get(level, 0) + 1
            if level == "PANIC":
                counts["PANIC"] += 1
            s = re.search(r"\(PID (\d+)\) was terminated by signal (\d+)", message)
            if "terminated by signal" in message:
                counts["signals"] += 1
                if not (s and s.group(2) == "9" and int(s.group(1)) in killed):
                    signalled.append(message)
            if "all server processes terminated; reinitializing" in message:
                counts["reinitializing"] += 1
            if "database system was not properly shut down; automatic recovery in progress" in message:
                counts["recoveries"] += 1
            if "received immediate shutdown request" in message:
                counts["immediate"] += 1
            if level not in ("ERROR", "FATAL", "PANIC", "WARNING") or state in SERVER_LOG_ALLOWED:
                continue
            if state.startswith(SERVER_LOG_FAULTS):
                t = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(
                    tzinfo=datetime.timezone.utc).timestamp() - offset
                if any(a <= t <= b for a, b in windows):
                    counts["during_faults"] += 1
                    continue
            key = f"{level} {state} {message[:120]}"
            unexpected[key] = unexpected.get(key, 0) + 1
    passed = (counts["PANIC"] == 0 and not signalled and counts["reinitializing"] == kills
              and counts["recoveries"] == kills + immediates and counts["immediate"] == immediates
              and not unexpected)
    details = [{"message": k, "n": v} for k, v in sorted(unexpected.items(), key=lambda kv: -kv[1])[:10]]
    details += [{"message": m, "n": 1} for m in signalled[:5]]
    return check("the server log has no PANIC, and no crash or restart but the faults'",
                 passed,
                 f"PANIC {counts['PANIC']}; ended by a signal {counts['signals']} (each a backend killed on"
                 f" purpose: {not signalled}); crash restarts {counts['reinitializing']} for {kills} kill -9;"
                 f" recoveries {counts['recoveries']} for {kills + immediates} crashes and immediate stops;"
                 f" connections cut or refused during the faults {counts['during_faults']}; any other ERROR,"
                 f" FATAL or WARNING but the clients' own division by zero {sum(unexpected.values())}; lines by"
                 " level: " + ", ".join(f"{k} {v}" for k, v in sorted(levels.items())),
                 details)


def chains(conn):
    conn.execute("SELECT authensor.seal_receipts()")
    r = one(conn, """
SELECT count(*) AS chains, sum(checked) AS checked, sum(problems) AS problems, sum(unsealed) AS unsealed
  FROM authensor.verify_all_receipts()""")
    links = one(conn, """
SELECT (SELECT count(*) FROM authensor.receipts) AS receipts, count(*) AS links,
       count(DISTINCT receipt_id) AS sealed
  FROM authensor.receipt_links""")
    return check("every chain verifies after a final seal, every receipt sealed once",
                 r["chains"] > 0 and r["problems"] == 0 and r["unsealed"] == 0
                 and links["links"] == links["sealed"] == links["receipts"],
                 f"{r['chains']} chains, {r['checked']} links checked, problems {r['problems']}, unsealed"
                 f" {r['unsealed']}; {links['receipts']} receipts, {links['links']} links of {links['sealed']}"
                 " distinct receipts")


def storage(conn):
    """amcheck over the heap and B-tree indexes of every table the soak
    wrote, where this build has amcheck: no half-written row or entry."""
    if one(conn, "SELECT count(*) AS n FROM pg_available_extensions WHERE name = 'amcheck'")["n"] == 0:
        return check("tables and indexes verify (amcheck)", True, "skipped: this build has no amcheck")
    conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    tables = rows(conn, """
SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('authensor', 'soak') AND c.relkind IN ('r', 't', 'm')""")
    indexes = rows(conn, """
SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_am a ON a.oid = c.relam
 WHERE n.nspname IN ('authensor', 'soak') AND c.relkind = 'i' AND a.amname = 'btree'""")
    corrupt = []
    for t in tables:
        n = one(conn, "SELECT count(*) AS n FROM verify_heapam(%s)", (t["name"],))["n"]
        if n:
            corrupt.append({"relation": t["name"], "problems": n})
    for i in indexes:
        try:
            conn.execute("SELECT bt_index_check(%s::regclass, true)", (i["name"],))
        except psycopg.Error as error:
            corrupt.append({"relation": i["name"], "problems": str(error)})
    return check("tables and indexes verify (amcheck)", not corrupt,
                 f"{len(tables)} tables (verify_heapam) and {len(indexes)} B-tree indexes (bt_index_check with"
                 f" heapallindexed); corrupt {len(corrupt)}", corrupt)


def figures(conn, work, outcome):
    """Throughput and latency, for the report."""
    t0, phases = outcome["t0"], outcome["phases"]
    steady = (t0 + phases["warmup_end"], t0 + phases["faults_start"])
    whole = (t0, outcome["t_stop"])
    out = {}
    for name, (a, b) in (("steady", steady), ("whole", whole)):
        r = one(conn, """
SELECT (SELECT count(*) FROM soak_truth.decisions WHERE t_start >= %(a)s AND t_start < %(b)s) AS decisions,
       (SELECT count(*) FROM soak_truth.transactions WHERE t_begin >= %(a)s AND t_begin < %(b)s) AS transactions,
       (SELECT count(*) FROM soak_truth.transactions
         WHERE t_begin >= %(a)s AND t_begin < %(b)s AND outcome = 'committed') AS committed""", {"a": a, "b": b})
        r["seconds"] = b - a
        out[name] = r
    lat = latencies(work, *steady)
    out["latency"] = {}
    for function, values in sorted(lat.items()):
        values.sort()
        out["latency"][function] = {"calls": len(values), "p50": quantile(values, 0.5), "p99": quantile(values, 0.99)}
    out["cache"] = one(conn, """
SELECT max(entries) AS entries, max(bytes) AS bytes, max(compiles) AS compiles, max(evictions) AS evictions
  FROM soak_truth.cache""")
    out["memory_end"] = rows(conn, """
SELECT usename, count(DISTINCT pid) AS backends, max(rss_anon) AS max_anon, max(vm_rss) AS max_rss
  FROM soak_truth.memory GROUP BY usename ORDER BY usename""")
    out["receipts"] = one(conn, """
SELECT count(*) AS receipts, count(*) FILTER (WHERE committed) AS committed, count(DISTINCT tenant_id) AS tenants
  FROM authensor.receipts""")
    out["alerts"] = one(conn, "SELECT count(*) AS n FROM authensor.alerts")["n"]
    # Each error and cut transaction counted with the latest fault whose
    # window holds it.
    out["faults"] = rows(conn, """
WITH events AS (
    SELECT t, 'error' AS what FROM soak_truth.errors WHERE connection
    UNION ALL SELECT t_end, outcome FROM soak_truth.transactions WHERE outcome IN ('failed', 'in_doubt')),
attributed AS (
    SELECT what, (SELECT max(f.i) FROM soak_truth.faults f
                   WHERE e.t BETWEEN f.t_start - 1 AND f.t_recovered + %s) AS i FROM events e)
SELECT f.i, f.kind, f.pid, f.role, f.in_transaction, f.t_recovered - f.t_start AS down,
       count(a.what) FILTER (WHERE a.what = 'error') AS errors,
       count(a.what) FILTER (WHERE a.what = 'in_doubt') AS in_doubt,
       count(a.what) FILTER (WHERE a.what = 'failed') AS cut
  FROM soak_truth.faults f LEFT JOIN attributed a USING (i)
 GROUP BY f.i, f.kind, f.pid, f.role, f.in_transaction, f.t_recovered, f.t_start ORDER BY f.i""", (FAULT_GRACE,))
    return out


def run(cluster, work, outcome):
    with cluster.connect() as conn:
        load(conn, work, outcome)
        total, per = stats(work)
        results = [
            committed_decisions(conn),
            rolled_back_decisions(conn),
            in_flight_decisions(conn),
            ledger(conn),
            accounted(conn),
            freshness(conn),
            decided_by_recorded_version(conn),
            policy_changes(conn),
            approvals(conn, total),
            cross_tenant(total),
            memory(conn, outcome["t0"], outcome["phases"]),
            errors(conn),
            recovery(conn, total, per),
            server_log(cluster, outcome),
            chains(conn),
            storage(conn),
        ]
        return {"checks": results, "figures": figures(conn, work, outcome), "stats": total}
