"""The differential oracle's report: the "## Differential oracle" section of
RELIABILITY.md, replaced in place as the soak's report replaces its own
(tests/soak/report.py), keeping a hand-written "### Found and fixed".

Usage: report.py RELIABILITY.md RUN.json CORE.json EXPORT.json DATABASE.json
RUN.json holds the settings scripts/oracle.sh ran with; the others are what
the core test, oracle_export and tests/oracle/check.py wrote.
"""

import datetime
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("soak_report", os.path.join(HERE, "..", "soak", "report.py"))
soak_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(soak_report)

HEADING = "## Differential oracle"
DECIDERS = ["platform rule", "platform default", "tenant rule", "tenant default", "fail-closed"]
VERDICTS = ["rule", "default", "no opinion", "no policy"]


def load(path):
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def share(count, total):
    return f"{100 * count / total:.1f} %" if total else "–"


def render(run, core, export, database):
    postgres = soak_report.command(os.path.join(run["bindir"], "postgres"), "--version")
    disagreements = database["check_disagreements"] + database["baseline_disagreements"]
    out = [HEADING, ""]
    out.append(f"Measured by `make oracle` on {datetime.date.today().isoformat()}, commit"
               f" {soak_report.commit(('src', 'sql', 'policy', 'chain', 'tests/oracle'))}: {soak_report.machine()}, {postgres}.")
    out.append("")
    out.append(
        f"Core: {core['cases']:,} policy pairs (platform and tenant), each with 1 to 8 requests, seed"
        f" {core['seed']} (`AUTHENSOR_ORACLE_SEED`): {core['decisions']:,} decisions by the engine and by the"
        f" reference evaluator, release build, {core['seconds']:.0f} s. Database: {export['cases']:,} further"
        f" policy pairs, seed {run['db_seed']}, and the minimal cases of `tests/oracle/regressions.jsonl`:"
        f" {database['decisions']:,} decisions through `authensor.check()` (the tests' debug build) and"
        f" {database['baseline_decisions']:,} of them through the PL/pgSQL baseline, {database['seconds']:.0f} s."
        f" Whole run {run['seconds']} s.")
    out.append("")
    if disagreements:
        out.append(f"**{database['check_disagreements']} decisions of check() and"
                   f" {database['baseline_disagreements']} of the baseline disagree with the reference.**")
    else:
        out.append("**Every decision agreed: the engine, check() and the baseline with the reference evaluator,"
                   " in action, layer, rule_id and reason.**")
    out.append("")
    out.append("How the core's decisions were made (a rule deciding is the case the generator aims at):")
    out.append("")
    out.append("| decided by | decisions | share |")
    out.append("|---|---|---|")
    for name in DECIDERS:
        count = core["decided_by"][name]
        out.append(f"| {name} | {count:,} | {share(count, core['decisions'])} |")
    out.append("")
    out.append("Each layer's own verdict on the same requests (the platform's is counted even when it blocks):")
    out.append("")
    out.append("| layer | " + " | ".join(VERDICTS) + " |")
    out.append("|---|" + "---|" * len(VERDICTS))
    for layer in ("platform", "tenant"):
        counts = core[f"{layer}_verdicts"]
        out.append(f"| {layer} | " + " | ".join(share(counts[v], core["decisions"]) for v in VERDICTS) + " |")
    out.append("")
    out.append("### Method")
    out.append("")
    out.append(
        "`policy/tests/differential_oracle.rs` draws policy pairs and requests with proptest"
        " (`policy/tests/oracle/generate.rs`) from small shared pools, so that patterns match tools, paths exist"
        " and operands equal values often: segment globs and `**`, numbers such as `1`, `1.0`, `10.50` and"
        " `1e400`, unicode, empty strings, deep paths, arrays, numeric segments such as `01`, args"
        " with a key written twice (the last value counts), and `${context.…}` placeholders alone and amid"
        " text. Each pair is rendered as a policy document for the"
        " engine (`compile()`, then `decide()`), and interpreted directly by `policy/tests/oracle/reference.rs`,"
        " written from docs/language.md with no index and no precompiled glob. proptest shrinks a disagreement"
        " to a minimal case and keeps its seed; the minimal cases of the disagreements found become tests"
        " (`tests/oracle/regressions.jsonl` for the database leg, run before the new cases). The database leg publishes each pair as the"
        " operator and as a trusted application server, neither a superuser, and decides with `check()`; the"
        " baseline decides the cases whose semantics it shares (no `matches`, which it reads in PostgreSQL's"
        " dialect, and no path segment such as `01`, which PostgreSQL's `#>` reads as an array index)."
        " `make test` runs 2,000 policy pairs in the core and 80 in the database leg, each with a fresh seed.")
    out.append("")
    return "\n".join(out)


def main():
    path, run, core, export, database = sys.argv[1:6]
    soak_report.write(path, render(load(run), load(core), load(export), load(database)), heading=HEADING)


if __name__ == "__main__":
    main()
