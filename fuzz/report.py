"""The fuzzing report of scripts/fuzz.sh: sums what each target's processes
wrote (fuzz/src/harness.rs) and libFuzzer logged, prints it, and writes the
"## Fuzzing" section of RELIABILITY.md in place (a "### Found and fixed"
subsection written by hand is kept). Exits 1 if anything was found.

usage: report.py RUN_DIR SETTINGS_JSON [REPORT_PATH]"""

import datetime
import glob
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The soak's report: the machine, the commit, and a section of RELIABILITY.md
# replaced in place.
_spec = importlib.util.spec_from_file_location("soak_report", os.path.join(HERE, "..", "tests", "soak", "report.py"))
soak_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(soak_report)
command, commit, machine, write = soak_report.command, soak_report.commit, soak_report.machine, soak_report.write

HEADING = "## Fuzzing"
TARGET_EXECUTIONS = 10**7
# libFuzzer's own reports, when a process dies: a signal (stack overflow,
# abort), a timeout past -timeout, or memory past -rss_limit_mb.
LIBFUZZER_ARTIFACTS = ("crash-", "timeout-", "oom-", "leak-", "slow-unit-")


def size(n):
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def coverage(log):
    """libFuzzer's coverage (cov: edges, ft: features) when its corpus was
    loaded, and at its last report."""
    first = last = None
    for line in log.splitlines():
        m = re.match(r"#\d+\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)", line)
        if m:
            figures = (int(m.group(2)), int(m.group(3)))
            if m.group(1) == "INITED" and first is None:
                first = figures
            last = figures
    return first, last


def target_figures(run, target):
    processes = []
    for path in glob.glob(os.path.join(run, "findings", target, "figures-*.json")):
        with open(path) as f:
            processes.append(json.load(f))
    findings = {}
    for p in processes:
        for finding in p["findings"]:
            known = findings.setdefault(finding["key"], dict(finding, count=0))
            known["count"] += finding["count"]
    for path in sorted(glob.glob(os.path.join(run, "findings", target, "*"))):
        name = os.path.basename(path)
        if name.startswith(LIBFUZZER_ARTIFACTS):
            findings[f"libFuzzer {name.split('-')[0]}"] = {"count": 1, "file": name, "detail": ""}
    log = ""
    if os.path.exists(os.path.join(run, f"{target}.log")):
        with open(os.path.join(run, f"{target}.log"), errors="replace") as f:
            log = f.read()
    slowest = max(processes, key=lambda p: p["slowest_seconds"], default=None)
    peak = max(processes, key=lambda p: p["peak_bytes"], default=None)
    maxima = {}
    for p in processes:
        for name, value in p["maxima"].items():
            maxima[name] = max(value, maxima.get(name, value))
    return {
        "executions": sum(p["executions"] for p in processes),
        "processes": len(processes),
        "slowest": (slowest["slowest_seconds"], slowest["slowest_len"]) if slowest else (0, 0),
        "peak": (peak["peak_bytes"], peak["peak_len"]) if peak else (0, 0),
        "maxima": maxima,
        "findings": findings,
        "coverage": coverage(log),
    }


def corpus(directory):
    files = [os.path.join(directory, f) for f in os.listdir(directory)] if os.path.isdir(directory) else []
    return len(files), sum(os.path.getsize(f) for f in files)


def render(run, settings, figures):
    seconds = settings["seconds"]
    total = sum(f["executions"] for f in figures.values())
    found = sum(len(f["findings"]) for f in figures.values())
    out = [HEADING, ""]
    out.append(f"Measured by `make fuzz` on {datetime.date.today().isoformat()}, commit"
               f" {commit(('policy', 'fuzz', ':(exclude)fuzz/corpus'))}: {machine()}, {command('rustc', '--version')} (stable),"
               f" libFuzzer of libfuzzer-sys {settings['libfuzzer_sys']}. Load average"
               f" {settings['load_before']} before the run and {settings['load_after']} after it (the"
               " three targets alone make about 3 on the two cores; more means other work shared them).")
    out.append("")
    out.append(
        f"{seconds} s (`FUZZ_SECONDS`), the {len(figures)} targets side by side ({settings['placement_short']}), each"
        " restarted with the time left if libFuzzer stops. Built with `--cfg fuzzing`, edge coverage"
        " (`" + settings["rustflags"] + "`) in `" + settings["covered"] + "`, comparison tracing in `"
        + settings["traced"] + "` and"
        " debug assertions and overflow checks in the policy core and the harness (see the Method). libFuzzer"
        f" `{settings['libfuzzer_flags']}`; compile_bytes with the dictionary fuzz/policy.dict."
        " Each run starts from the corpus in fuzz/corpus and the seeds the targets write (the fixtures"
        " and the language reference's examples); `make fuzz` merges the corpus it ends with back into"
        " fuzz/corpus, minimised.")
    out.append("")
    reached = "reached" if total >= TARGET_EXECUTIONS else "**not reached**"
    verdict = "**Nothing found.**" if not found else f"**{found} distinct findings.**"
    out.append(f"{verdict} {total:,} executions in all ({total / max(seconds, 1):,.0f}/s; the goal of"
               f" {TARGET_EXECUTIONS:,} in 10 minutes {reached}).")
    out.append("")
    out.append("| target | executions | per second | coverage (edges / features), from the corpus → end |"
               " corpus files (size), start → end | slowest input, CPU time | most heap of an input | findings |")
    out.append("|---|---:|---:|---|---|---|---|---:|")
    for target, f in figures.items():
        start, end = f["coverage"]
        cov = f"{start[0]:,} / {start[1]:,} → {end[0]:,} / {end[1]:,}" if start and end else "?"
        c0, c1 = settings["corpus_start"][target], settings["corpus_end"][target]
        slow_s, slow_len = f["slowest"]
        peak, peak_len = f["peak"]
        restarts = f" (libFuzzer restarted {f['processes'] - 1} times)" if f["processes"] > 1 else ""
        out.append(f"| {target} | {f['executions']:,}{restarts} | {f['executions'] / max(seconds, 1):,.0f} | {cov} |"
                   f" {c0[0]:,} ({size(c0[1])}) → {c1[0]:,} ({size(c1[1])}) |"
                   f" {1000 * slow_s:.1f} ms ({slow_len} bytes) | {size(peak)} ({peak_len} bytes) |"
                   f" {len(f['findings'])} |")
    out.append("")
    out.append("The most heap an input had live at once counts everything the target did for it (building"
               " the request values, the mutated source, compiling, deciding). The limits' figures, the"
               " largest over the run:")
    out.append("")
    out.append("| measure | largest | checked against |")
    out.append("|---|---:|---|")
    bounds = {
        "compile peak bytes, default limits":
            ("transient heap of one compile, default `Limits`", size, "4 × `max_compiled_bytes` + 512 × `max_source_bytes` (576 MiB)"),
        "compile peak bytes, tight limits":
            ("transient heap of one compile, the tight `Limits`", size, "the same with 512 KiB and 2,048 bytes (3.0 MiB)"),
        "policy heap / approx_bytes":
            ("heap a compiled policy holds, after deciding, ÷ its `approx_bytes`", lambda v: f"{v:.2f}", "≤ 1.3, and ≤ `max_compiled_bytes`"),
        "decide peak bytes":
            ("transient heap of one `decide()`", size, "64 KiB + 8 × the request's JSON"),
        "fixed policies' heap / approx_bytes":
            ("decide_values' policies: heap held, regex caches grown, ÷ their `approx_bytes`", lambda v: f"{v:.2f}", "≤ 1 (+ 64 KiB of the fuzzer's own)"),
    }
    for name, (label, fmt, bound) in bounds.items():
        values = [f["maxima"][name] for f in figures.values() if name in f["maxima"]]
        if values:
            out.append(f"| {label} | {fmt(max(values))} | {bound} |")
    out.append("")
    if found:
        out.append("| target | finding | times | first input (under target/fuzz/run/findings) | figures |")
        out.append("|---|---|---:|---|---|")
        for target, f in figures.items():
            for key, finding in f["findings"].items():
                out.append(f"| {target} | {key} | {finding['count']:,} | `{target}/{finding['file']}` |"
                           f" {finding['detail'][:200]} |")
        out.append("")
    out.append("### Method")
    out.append("")
    out.append(
        "Three targets (fuzz/fuzz_targets), coverage-guided by libFuzzer on stable Rust (the instrumentation"
        " is rustc's `sancov-module` pass, no nightly flag): **compile_bytes** reads the input as policy"
        " source, **mutate_policy** takes a seed policy and applies up to 24 structural changes the input"
        " chooses (operators, keys, paths, globs, values and placeholders swapped; nodes nested, copied,"
        " deleted and repeated; anchors and aliases, ladders of them and aliases inside their own anchor),"
        " written back as YAML; both compile under the default `Limits` or tight ones (by the first byte)"
        " and decide a few requests with what compiles, in either layer. **decide_values** decides with"
        " fixed compiled policies (the fixtures, the examples, a generated 300-rule one) on args and"
        " context given as JSON text or built from the input (4,000 levels deep, 2,000 wide, strings of"
        " 20,000 characters of any Unicode, numbers of 300 digits and exponents in the millions). Around"
        " every input the harness (fuzz/src/harness.rs) catches a panic and records it by its location"
        " (fuzzing goes on), times the input in its thread's CPU time, on the instrumented build (over 1 s"
        " is a hang; CPU time, so that other processes on the cores do not make one) and counts the heap with a counting"
        " global allocator (the most live at once). A finding is a panic, a hang, a libFuzzer crash,"
        " timeout or out-of-memory, or a failed check: a compiled policy's `approx_bytes` or the heap it"
        " holds (its regexes' caches grown by deciding) over `max_compiled_bytes`; that heap over its"
        " `approx_bytes` by more than the 30 % policy/tests/footprint.rs allows; a compile's or a"
        " decision's transient heap over the bounds in the table above (no limit documents them; they"
        " catch a blow-up, such as an alias bomb read before it is counted); `Value::from_json`"
        " refusing a JSON object serde_json reads; a decision differing when repeated, or not the most"
        " restrictive of the two layers' opinions (a platform block final). Edges are counted, and so"
        " steer the fuzzer, in the code under test (the policy core and the YAML reader it uses:"
        " serde_yaml, unsafe_libyaml) and the harness; comparisons are traced (so that libFuzzer solves"
        " the keywords, operators and values the code compares the input with) in the policy core only;"
        " debug assertions and overflow checks are on in it and the harness only. The other"
        " dependencies, regex compilation above all, run for every input but do not steer: with their"
        " edges counted the fuzzer dwelt on inputs that explore regex-syntax itself (Unicode case"
        " folding of `(?i)` classes took 40 % of compile_bytes' time, at about 3,000 executions a second"
        " of one core against about 19,000 without), and traced comparisons and debug assertions in"
        " them took about a third of each execution. A panic, hang or heap blow-up in a dependency is"
        " still caught and recorded like any other. The harness's own work per input is kept small"
        " without checking less: the CPU clock is read a second time only when the input's wall time"
        " reaches the hang limit or the slowest input so far (a thread's CPU time is at most its wall"
        " time), the counting allocator uses plain loads and stores (the targets allocate on one"
        " thread), and mutate_policy undoes a change that grows the tree past 4,000 nodes by applying"
        " the kept ones to the seed again rather than copying the tree before every change; libFuzzer"
        " does not reread the corpus directory every second (`-reload=0`: each target's is its own)."
        " " + settings["placement"] + " `make test` runs the same"
" for 60 s without touching fuzz/corpus or this section.")
    out.append("")
    return "\n".join(out)


def main():
    run, settings_path = sys.argv[1], sys.argv[2]
    report = sys.argv[3] if len(sys.argv) > 3 else None
    with open(settings_path) as f:
        settings = json.load(f)
    figures = {t: target_figures(run, t) for t in settings["targets"]}
    settings["corpus_end"] = {t: corpus(os.path.join(settings["corpus_dir"], t)) for t in settings["targets"]}
    section = render(run, settings, figures)
    for target, f in figures.items():
        print(f"{target}: {f['executions']:,} executions, slowest {1000 * f['slowest'][0]:.1f} ms,"
              f" most heap {size(f['peak'][0])}, findings {len(f['findings'])}")
        for key, finding in f["findings"].items():
            print(f"  FINDING {key} ({finding['count']} times): {finding['detail'][:300]}"
                  f" -> {os.path.join(run, 'findings', target, finding['file'])}")
    if report:
        write(report, section, HEADING)
        print(f"==> {report}")
    return 1 if any(f["findings"] for f in figures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
