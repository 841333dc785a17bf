"""The soak's report: the "## Soak" section of RELIABILITY.md, replaced in
place, so that the file's other sections stay as they were. A subsection
"### Found and fixed" written by hand in the section is kept across runs."""

import datetime
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
HEADING = "## Soak"
KEPT = "### Found and fixed"


def command(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        memory = int(f.readline().split()[1]) / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB memory"


def commit(paths=("src", "sql", "policy", "chain", "tests/soak")):
    """HEAD, and whether the paths measured differ from it."""
    head = command("git", "-C", ROOT, "rev-parse", "--short", "HEAD")
    dirty = command("git", "-C", ROOT, "status", "--porcelain", "--", *paths)
    return head + (" with uncommitted changes" if dirty and dirty != "?" else "")


def ms(seconds):
    if seconds is None:
        return "–"
    return f"{1000 * seconds:.1f}" if seconds < 0.1 else f"{1000 * seconds:.0f}"


def render(results, settings, outcome, cluster):
    fig = results["figures"]
    checks = results["checks"]
    failed = [c for c in checks if not c["passed"]]
    s, p = settings["seconds"], settings["phases"]
    postgres = command(os.path.join(settings["bindir"], "postgres"), "--version")
    bouncer = command("pgbouncer", "--version").splitlines()[0] if command("pgbouncer", "--version") else "?"
    out = [HEADING, ""]
    out.append(f"Measured by `make soak` on {datetime.date.today().isoformat()}, commit {commit()}: {machine()},"
               f" {postgres}, {bouncer}.")
    out.append("")
    out.append(
        f"{s} s (`SOAK_SECONDS`); {settings['clients']} clients across {settings['tenants']} tenants, each"
        f" transaction for a tenant drawn at random, through pgbouncer in transaction pooling mode with"
        f" {settings['pool_size']} server connections per login role; a trusted server publishing or activating"
        " a tenant policy version every second, the operator changing the platform policy every 10 s, calling"
        " `sentinel_scan()` every 10 s (5 s windows) and `seal_receipts()` every 5 s. Phases: warm-up to"
        f" {p['warmup_end']:.0f} s, steady to {p['faults_start']:.0f} s (memory watched), faults to"
        f" {p['faults_end']:.0f} s ({', '.join(settings['faults']) or 'none'}), calm to the end. Seed"
        f" {settings['seed']}. Server settings: " + "; ".join(f"`{x}`" for x in settings["server_settings"]) + ".")
    out.append("")
    if failed:
        out.append(f"**{len(failed)} of {len(checks)} checks failed:** "
                   + "; ".join(c["name"] for c in failed) + ".")
    else:
        out.append(f"**All {len(checks)} checks passed.**")
    out.append("")
    out.append("| check | | figures |")
    out.append("|---|---|---|")
    for c in checks:
        out.append(f"| {c['name']} | {'passed' if c['passed'] else '**FAILED**'} | {c['figures']} |")
    out.append("")
    for c in failed:
        if c["details"]:
            out.append(f"Details of \"{c['name']}\":")
            out.append("")
            out += [f"- `{d}`" for d in c["details"][:10]]
            out.append("")

    out.append("### Throughput and latency")
    out.append("")
    out.append("| phase | seconds | decisions/s | transactions/s | committed/s |")
    out.append("|---|---:|---:|---:|---:|")
    for name, label in (("steady", "steady (after the warm-up, before the faults)"), ("whole", "whole run")):
        f = fig[name]
        sec = f["seconds"] or 1
        out.append(f"| {label} | {f['seconds']:.0f} | {f['decisions'] / sec:,.0f} | {f['transactions'] / sec:,.0f}"
                   f" | {f['committed'] / sec:,.0f} |")
    out.append("")
    out.append("Latency of each call as its client saw it through pgbouncer (queueing for a server connection"
               " included), in the steady phase:")
    out.append("")
    out.append("| call | calls | p50 ms | p99 ms |")
    out.append("|---|---:|---:|---:|")
    for function, l in fig["latency"].items():
        out.append(f"| `{function}` | {l['calls']:,} | {ms(l['p50'])} | {ms(l['p99'])} |")
    out.append("")
    r = fig["receipts"]
    cache = fig["cache"] or {}
    out.append(f"At the end: {r['receipts']:,} receipts of {r['tenants']} tenants ({r['committed']:,} committed),"
               f" {fig['alerts']} Sentinel alerts. Policy cache of a backend, the largest sampled: "
               f"{cache.get('entries')} entries, {(cache.get('bytes') or 0) / 1024:,.0f} KiB estimated,"
               f" {cache.get('compiles')} compiles, {cache.get('evictions')} evictions.")
    out.append("")

    if fig["faults"]:
        out.append("### Faults")
        out.append("")
        out.append("| # | fault | backend | answering again after | connection errors | transactions cut |"
                   " COMMIT unanswered |")
        out.append("|---:|---|---|---:|---:|---:|---:|")
        names = {"terminate": "`pg_terminate_backend()`", "kill": "`kill -9`", "bouncer": "pgbouncer restarted",
                 "immediate": "`pg_ctl stop -m immediate`, start"}
        for f in fig["faults"]:
            backend = "" if f["pid"] is None else (
                f"{f['pid']} ({f['role']})" + (" in a transaction" if f["in_transaction"] else ", idle"))
            out.append(f"| {f['i'] + 1} | {names[f['kind']]} | {backend} | {f['down']:.1f} s | {f['errors']} |"
                       f" {f['cut']} | {f['in_doubt']} |")
        out.append("")
        out.append("Connection errors, cut transactions and unanswered COMMITs are counted from a second before"
                   " the fault to 10 s after the server answered again through pgbouncer. Each fault is followed"
                   " by a probe of every tenant's versions through the pooler (`check()`), judged with the"
                   " decisions by the freshness check.")
        out.append("")

    out.append("### Memory")
    out.append("")
    mem = next(c for c in checks if c["name"].startswith("no backend's memory"))
    out.append("RssAnon (private memory) of each server backend behind pgbouncer between the warm-up and the"
               " faults, the most it held in each half of that window. VmRSS also counts the shared buffers a"
               " backend has touched, which grows with the tables it reads, so it is shown but not judged.")
    out.append("")
    out.append("| backend | role | RssAnon kB, first half | second half | growth | VmRSS kB, first half |"
               " second half |")
    out.append("|---:|---|---:|---:|---:|---:|---:|")
    for b in mem["details"]:
        if not (b["early_samples"] and b["late_samples"]):
            continue
        growth = b["late_anon"] / b["early_anon"] - 1
        out.append(f"| {b['pid']} | {b['usename']} | {b['early_anon']:,} | {b['late_anon']:,} | {100 * growth:+.1f} % |"
                   f" {b['early_rss']:,} | {b['late_rss']:,} |")
    out.append("")
    out.append("### Method")
    out.append("")
    out.append(
        "Each client records every decision it makes (its client and number are also in the decision's args,"
        " and so in its receipt), the backend its transaction ran on, and how the transaction ended as far as"
        " it knows: committed (COMMIT returned), rolled back (ROLLBACK or ROLLBACK TO SAVEPOINT returned), cut"
        " by a fault before COMMIT, or COMMIT unanswered. Each transaction also writes a row of its own to a"
        " ledger table just before its COMMIT or ROLLBACK, which settles the unanswered ones. The trusted server"
        " and the operator record each policy change, with when its COMMIT was sent and when it returned, and"
        " write it to a table in the same transaction. After the run every record is loaded into the database"
        " and compared with the receipts, the approvals, the policies, the chains and the server log. A"
        " rolled-back decision's receipt waits in its backend until that backend's next commit or its exit;"
        " it is excused only if a crash or an immediate shutdown came before either. The freshness check"
        " allows a decision the versions of the last change whose COMMIT had returned before its statement"
        " was sent, and of later changes whose COMMIT was sent before the statement returned. `make test` runs"
        " the same soak for 60 s with a debug build, where memory is shown but not judged: a backend's heap"
        " takes a minute or two to settle, and the memory check needs a warm-up of 90 s and 120 s after it.")
    out.append("")
    return "\n".join(out)


def write(path, section, heading=HEADING):
    """Replaces the section under heading (the soak's by default) of the file
    at path (or adds it), keeping the rest and the hand-written findings."""
    lines = open(path).read().splitlines() if os.path.exists(path) else ["# Reliability", ""]
    start = next((i for i, line in enumerate(lines) if line == heading), None)
    kept = []
    if start is not None:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        old = lines[start:end]
        k = next((i for i, line in enumerate(old) if line == KEPT), None)
        if k is not None:
            k_end = next((i for i in range(k + 1, len(old)) if re.match(r"^#{2,3} ", old[i])), len(old))
            kept = old[k:k_end]
        lines = lines[:start] + lines[end:]
    else:
        if lines and lines[-1]:
            lines.append("")
        start = len(lines)
    new = section.splitlines()
    if kept:
        method = next((i for i, line in enumerate(new) if line == "### Method"), len(new))
        new = new[:method] + kept + ([""] if kept[-1] else []) + new[method:]
    lines = lines[:start] + new + lines[start:]
    with open(path, "w") as out:
        out.write("\n".join(lines).rstrip("\n") + "\n")
