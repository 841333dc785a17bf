//! Compiling an input and deciding with the result, under the checks on the
//! documented limits: a compiled policy's `approx_bytes` and the heap it
//! really holds (its regexes' caches grown by deciding included) stay within
//! `Limits::max_compiled_bytes`, and the heap it holds stays within its
//! `approx_bytes`, which counts the most those caches may grow to.

use std::sync::OnceLock;

use authensor_policy::{Limits, Policy, Request, Value, compile_with_limits, decide};

use crate::harness::{finding, live_bytes, measure, peak_above, reset_peak};
use crate::seeds;

/// The default limits, or tight ones that a small input can reach (chosen by
/// `choice`), so that the limits' edges are fuzzed too.
pub fn limits(choice: u8) -> Limits {
    if choice.is_multiple_of(2) {
        Limits::default()
    } else {
        Limits {
            max_source_bytes: 2_048,
            max_rules: 8,
            max_depth: 6,
            max_compiled_bytes: 512 << 10,
            max_conditions: 32,
            max_interpolations: 8,
        }
    }
}

/// What the transient heap of a compile may reach: at most a few times the
/// compiled size allowed, and the YAML read, of at most `max_source_bytes`
/// nodes after aliases. No limit documents this; it is the fuzzer's bound
/// for "an alias bomb or a pathological regex does not blow up the heap".
pub fn compile_peak_bound(limits: &Limits) -> usize {
    4 * limits.max_compiled_bytes + 512 * limits.max_source_bytes
}

/// Requests to decide: the language examples' calls, and values made to
/// reach deep, long and odd cases (first).
fn requests() -> &'static [(String, Value, Value)] {
    static REQUESTS: OnceLock<Vec<(String, Value, Value)>> = OnceLock::new();
    REQUESTS.get_or_init(|| {
        let json = |text: &str| Value::from_json(text).unwrap_or_default();
        let mut requests = Vec::new();
        let long = "a".repeat(1_000);
        let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
        for (tool, args, context) in [
            (
                "email.send",
                format!(r#"{{"to": "x@{long}", "body": "{long}"}}"#),
                r#"{"user": {"id": "u", "role": "admin"}}"#.to_string(),
            ),
            (
                "shell.execute",
                format!(r#"{{"a": {deep}, "x": 1e400, "n": -0.0}}"#),
                format!(r#"{{"a": {deep}}}"#),
            ),
            (
                "",
                r#"{"x": "\u00e9\ud83d\ude00\u0000", "": {"": []}}"#.to_string(),
                r#"{"tenantId": "other"}"#.to_string(),
            ),
            (
                "a.b.c.d.e.f",
                r#"{"x": 123456789012345678901234567890.5, "y": [true, null, {}]}"#.to_string(),
                "{}".to_string(),
            ),
        ] {
            requests.push((tool.to_string(), json(&args), json(&context)));
        }
        requests.extend(
            seeds::calls()
                .iter()
                .map(|(tool, args, context)| (tool.clone(), json(args), json(context))),
        );
        requests
    })
}

/// Compiles and decides with every seed policy, before fuzzing.
pub fn warm_up() {
    for source in seeds::policies() {
        compile_and_decide(source, &Limits::default());
    }
}

/// The odd requests, and this many of the examples' calls, chosen by the
/// source's length.
const CALLS_PER_POLICY: usize = 4;
const ODD_REQUESTS: usize = 4;

/// Compiles `source` under `limits`, checks the policy against them, and
/// decides a few requests with it in either layer.
pub fn compile_and_decide(source: &str, limits: &Limits) {
    static PRINT: OnceLock<bool> = OnceLock::new();
    if *PRINT.get_or_init(|| std::env::var_os("AUTHENSOR_FUZZ_PRINT").is_some()) {
        // To turn a finding into a test: the source, and how long it took.
        eprintln!("--- source ({} bytes), {limits:?}:\n{source}", source.len());
        let started = std::time::Instant::now();
        let result = compile_with_limits(source, limits).map(|policy| policy.approx_bytes());
        eprintln!("--- {result:?} in {:?}", started.elapsed());
    }
    let requests = requests();
    let before = reset_peak();
    let compiled = compile_with_limits(source, limits);
    // Taken before anything else allocates (recording a figure does).
    let peak = peak_above(before);
    let held = live_bytes().saturating_sub(before);
    let tight = limits.max_compiled_bytes < Limits::default().max_compiled_bytes;
    measure(
        if tight {
            "compile peak bytes, tight limits"
        } else {
            "compile peak bytes, default limits"
        },
        peak as f64,
    );
    if peak > compile_peak_bound(limits) {
        finding(
            "compile's transient heap over its bound",
            format_args!("{peak} bytes > {}", compile_peak_bound(limits)),
        );
    }
    let Ok(policy) = compiled else { return };
    check_held(&policy, limits, held, "compiled");
    let before = live_bytes().saturating_sub(held);
    let calls = requests.len() - ODD_REQUESTS;
    let chosen = (0..ODD_REQUESTS)
        .chain((0..CALLS_PER_POLICY).map(|n| ODD_REQUESTS + (source.len() + 37 * n) % calls));
    for (tool, args, context) in chosen.map(|n| &requests[n]) {
        let request = Request {
            tool,
            args,
            context,
            tenant_id: "tenant-a",
        };
        let _ = decide(Some(&policy), None, &request);
        let _ = decide(None, Some(&policy), &request);
    }
    let held = live_bytes().saturating_sub(before);
    check_held(&policy, limits, held, "after deciding");
}

/// Checks `held`, the heap the policy holds, and its `approx_bytes`.
fn check_held(policy: &Policy, limits: &Limits, held: usize, when: &str) {
    let approx = policy.approx_bytes();
    measure("policy heap / approx_bytes", held as f64 / approx as f64);
    if approx > limits.max_compiled_bytes {
        finding(
            "approx_bytes over max_compiled_bytes",
            format_args!("{approx} > {}", limits.max_compiled_bytes),
        );
    }
    if held > limits.max_compiled_bytes {
        finding(
            "policy heap over max_compiled_bytes",
            format_args!("{when}: {held} > {}", limits.max_compiled_bytes),
        );
    }
    // An estimate, within 30 % of the heap for policies without regexes as
    // policy/tests/footprint.rs requires, and a bound with them.
    if held > approx + approx * 3 / 10 {
        finding(
            "policy heap over approx_bytes + 30 %",
            format_args!("{when}: {held} > {approx}"),
        );
    }
}
