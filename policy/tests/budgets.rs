//! What a policy may cost: its compiled size, its conditions and placeholders
//! counted after YAML aliases expand, and the interrupt hook that lets a host
//! stop a long compile or decision.

#[macro_use]
mod common;

use std::cell::Cell;
use std::fmt::Write;
use std::panic::{self, AssertUnwindSafe};

use authensor_policy::Value;
use authensor_policy::bench_support::generated_policy;
use authensor_policy::{
    Action, ErrorKind, Limits, Policy, PolicyError, compile, compile_with_limits, decide,
    set_interrupt_check,
};
use common::{compile_error, policy, request};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The least a regex adds to `approx_bytes`: two 96 KiB lazy DFA caches.
const REGEX_FLOOR: usize = 192 * KIB;

fn too_large(source: &str, limits: &Limits) -> PolicyError {
    match compile_with_limits(source, limits) {
        Ok(_) => panic!("policy should be too large:\n{source}"),
        Err(error) => {
            assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
            error
        }
    }
}

/// `count` rules, each matching a different regular expression.
fn regex_rules(count: usize) -> String {
    let mut source = String::from("rules:\n");
    for n in 0..count {
        let _ = writeln!(
            source,
            "  - action: block\n    when: {{args.text: {{matches: '(?i)secret-{n}\\s+\\w+'}}}}"
        );
    }
    source
}

// The compiled-size budget.

#[test]
fn a_thousand_regexes_are_refused_long_before_the_last() {
    let source = regex_rules(1_000);
    let error = too_large(&source, &Limits::default());
    assert!(error.message.contains("max_compiled_bytes"), "{error}");
    assert!(error.message.contains("16.0 MiB"), "{error}");
    assert!(error.hint.unwrap().contains("regular expression"));
    // Each rule takes two lines: compiling stopped within the first hundred.
    let line = error.line.expect("the error has a position");
    assert!(line < 200, "refused at line {line}");
}

#[test]
fn a_few_dozen_regexes_fit_the_default_budget() {
    let policy = policy(&regex_rules(40));
    assert!(policy.approx_bytes() > 40 * REGEX_FLOOR);
    assert!(policy.approx_bytes() <= Limits::default().max_compiled_bytes);
    let args = value!({"text": "SECRET-39  token"});
    let verdict = policy.evaluate(&request("t", &args, &value!({}), "tenant-a"));
    assert_eq!(verdict.map(|v| v.rule_id), Some(Some("rules[39]")));
}

#[test]
fn the_budget_is_a_limit() {
    let small = Limits {
        max_compiled_bytes: MIB,
        ..Limits::default()
    };
    let error = too_large(&regex_rules(5), &small);
    assert!(error.message.contains("the limit of 1.0 MiB"), "{error}");
    let large = Limits {
        max_compiled_bytes: 64 * MIB,
        ..Limits::default()
    };
    assert_eq!(
        compile_with_limits(&regex_rules(100), &large).map(|p| p.rule_count()),
        Ok(100)
    );
}

#[test]
fn plain_rules_are_measured_too() {
    let source = generated_policy(1_000);
    let error = too_large(
        &source,
        &Limits {
            max_compiled_bytes: 100 * KIB,
            ..Limits::default()
        },
    );
    assert!(error.message.contains("max_compiled_bytes"), "{error}");
}

#[test]
fn each_regex_counts_its_search_caches_once() {
    let with = |operator: &str, rules: usize| {
        let rule = format!("  - action: block\n    when: {{args.x: {{{operator}: 'a+b'}}}}\n");
        policy(&format!("rules:\n{}", rule.repeat(rules))).approx_bytes()
    };
    let one_regex = with("matches", 1) - with("equals", 1);
    assert!(one_regex >= REGEX_FLOOR, "{one_regex}");
    assert!(one_regex < REGEX_FLOOR + 64 * KIB, "{one_regex}");
    // The same pattern fifty times compiles, and counts, once.
    let repeated = with("matches", 50) - with("equals", 50);
    assert!(
        repeated.abs_diff(one_regex) < 8 * KIB,
        "{repeated} vs {one_regex}"
    );
}

#[test]
fn approx_bytes_grows_with_the_policy() {
    let sizes: Vec<usize> = [10, 100, 1_000]
        .iter()
        .map(|&rules| policy(&generated_policy(rules)).approx_bytes())
        .collect();
    println!("approx_bytes of generated policies of 10, 100, 1000 rules: {sizes:?}");
    assert!(sizes[0] < sizes[1] && sizes[1] < sizes[2], "{sizes:?}");
    // Roughly in proportion to the rules.
    assert!(
        sizes[2] > 8 * sizes[1] && sizes[2] < 12 * sizes[1],
        "{sizes:?}"
    );
}

#[test]
fn a_typical_hundred_rule_policy_needs_about_a_megabyte() {
    let policy = policy(&common::typical_policy());
    assert_eq!(policy.rule_count(), 100);
    let bytes = policy.approx_bytes();
    println!("approx_bytes of a typical 100-rule policy with 5 regexes: {bytes} bytes");
    assert!(bytes > 5 * REGEX_FLOOR, "{bytes}");
    assert!(bytes < 2 * MIB, "{bytes}");
}

// Conditions and placeholders, counted after aliases expand.

/// A document whose `when` expands, through nested aliases, to `10^levels`
/// copies of twenty `leaf` conditions. (The twenty make the document long
/// enough for serde_yaml's own cap on alias expansions, proportional to the
/// length, not to stop it first.)
fn alias_fan_out(leaf: &str, levels: usize) -> String {
    let leaves = vec![leaf; 20].join(", ");
    let mut source = format!("description:\n  l0: &l0 {{all: [{leaves}]}}\n");
    for level in 1..=levels {
        let refs = vec![format!("*l{}", level - 1); 10].join(", ");
        let _ = writeln!(source, "  l{level}: &l{level} {{all: [{refs}]}}");
    }
    let _ = write!(source, "rules:\n  - action: allow\n    when: *l{levels}\n");
    source
}

#[test]
fn a_billion_conditions_through_aliases_are_refused_by_max_conditions() {
    let source = alias_fan_out("{args.x: {equals: 1}}", 9);
    let error = compile_error(&source);
    assert_eq!(error.kind, ErrorKind::TooLarge);
    assert_eq!(
        error.message,
        "the policy has more than 50000 conditions (max_conditions)"
    );
    assert!(error.hint.unwrap().contains("alias"));
}

#[test]
fn conditions_are_counted_while_reading() {
    // Were the tree built first, this would run into the node budget (or
    // memory) instead of failing on the eleventh condition.
    let source = alias_fan_out("{args.x: {equals: 1}}", 9);
    let limits = Limits {
        max_conditions: 10,
        ..Limits::default()
    };
    let error = too_large(&source, &limits);
    assert_eq!(
        error.message,
        "the policy has more than 10 conditions (max_conditions)"
    );
}

#[test]
fn a_fan_out_of_placeholders_is_refused_by_max_interpolations() {
    let leaf = "{args.x: {endsWith: '${context.a}-${context.b}'}}";
    let error = compile_error(&alias_fan_out(leaf, 6));
    assert_eq!(error.kind, ErrorKind::TooLarge);
    assert_eq!(
        error.message,
        "the policy has more than 10000 ${context...} placeholders (max_interpolations)"
    );
}

#[test]
fn every_operator_and_placeholder_counts_once_per_expansion() {
    // Two operators and three placeholders, written once and used three times.
    let source = "rules:
  - tool: a
    action: allow
    when: &check {args.x: {startsWith: '${context.a}', endsWith: '${context.b}${context.c}'}}
  - {tool: b, action: allow, when: *check}
  - {tool: c, action: allow, when: *check}
";
    let limits = |conditions, interpolations| Limits {
        max_conditions: conditions,
        max_interpolations: interpolations,
        ..Limits::default()
    };
    assert!(compile_with_limits(source, &limits(6, 9)).is_ok());
    assert!(
        too_large(source, &limits(5, 9))
            .message
            .contains("max_conditions")
    );
    assert!(
        too_large(source, &limits(6, 8))
            .message
            .contains("max_interpolations")
    );
    // `in` items and `equals` operands count too; `matches` is never interpolated.
    let source = "rules:
  - action: allow
    when:
      args.x: {in: ['${context.a}', '${context.b}', plain], equals: '${context.c}', matches: '\\$\\{context'}
";
    assert!(compile_with_limits(source, &limits(3, 3)).is_ok());
    assert!(
        too_large(source, &limits(3, 2))
            .message
            .contains("max_interpolations")
    );
    assert!(
        too_large(source, &limits(2, 3))
            .message
            .contains("max_conditions")
    );
}

// The interrupt hook.

thread_local! {
    /// Calls to the hook on this thread since the count was last reset.
    static CHECKS: Cell<usize> = const { Cell::new(0) };
    /// The call on which the hook panics, if any.
    static PANIC_AT: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The hook every test here installs: tests run on parallel threads, so it
/// keeps its count per thread.
fn counting_hook() {
    let calls = CHECKS.get() + 1;
    CHECKS.set(calls);
    if PANIC_AT.get() == Some(calls) {
        panic!("interrupted by the test hook");
    }
}

/// What `work` returns, and how often it called the hook.
fn checks_during<T>(work: impl FnOnce() -> T) -> (T, usize) {
    set_interrupt_check(counting_hook);
    CHECKS.set(0);
    let result = work();
    (result, CHECKS.get())
}

/// Runs `work` with the hook panicking on its `call`th call; `None` if it did.
fn interrupted_at<T>(call: usize, work: impl FnOnce() -> T) -> Option<T> {
    set_interrupt_check(counting_hook);
    CHECKS.set(0);
    PANIC_AT.set(Some(call));
    let result = panic::catch_unwind(AssertUnwindSafe(work));
    PANIC_AT.set(None);
    result.ok()
}

#[test]
fn compiling_checks_for_interrupts_at_least_once_per_rule() {
    let (compiled, checks) = checks_during(|| compile(&generated_policy(500)));
    assert_eq!(compiled.map(|p| p.rule_count()), Ok(500));
    assert!(checks >= 500, "{checks} checks");
}

/// 200 rules for every tool, none of which matches `{"x": -1}`.
fn catch_all_policy() -> Policy {
    let mut source = String::from("rules:\n");
    for n in 0..200 {
        let _ = writeln!(
            source,
            "  - action: allow\n    when: {{args.x: {{equals: {n}}}, context.user: {{endsWith: '-${{context.a}}-${{context.b}}'}}}}"
        );
    }
    policy(&source)
}

#[test]
fn deciding_checks_for_interrupts_per_rule_and_condition() {
    let policy = catch_all_policy();
    let (args, context) = (value!({"x": -1}), value!({"user": "u-1-2", "a": 1, "b": 2}));
    let call = request("tool", &args, &context, "tenant-a");
    let (decision, checks) = checks_during(|| decide(None, Some(&policy), &call));
    assert_eq!(decision.action, Action::Block);
    // A rule and its first condition (`all` stops at the first false one).
    assert!(checks >= 400, "{checks} checks");
}

#[test]
fn filling_in_placeholders_checks_for_interrupts() {
    let placeholders = "${context.a}".repeat(50);
    let policy = policy(&format!(
        "rules:\n  - action: allow\n    when: {{args.x: {{equals: '{placeholders}'}}}}\n"
    ));
    let (args, context) = (value!({"x": "1".repeat(50)}), value!({"a": 1}));
    let call = request("tool", &args, &context, "tenant-a");
    let (decision, checks) = checks_during(|| decide(None, Some(&policy), &call));
    assert_eq!(decision.action, Action::Allow);
    assert!(checks >= 50, "{checks} checks");
}

#[test]
fn an_interrupted_compile_leaves_nothing_behind() {
    let mut source = regex_rules(5);
    source.push_str(&generated_policy(300).replace("default: block\nrules:\n", ""));
    let expected = compile(&source).expect("compiles").rule_count();
    let (_, checks) = checks_during(|| compile(&source));
    for call in [1, 2, 3, 5, 8, 50, checks / 2, checks] {
        assert!(
            interrupted_at(call, || compile(&source)).is_none(),
            "the hook's call {call} of {checks} did not stop the compile"
        );
        assert_eq!(compile(&source).map(|p| p.rule_count()), Ok(expected));
    }
    // In the scan for deep nesting, which runs first, too.
    let wide = format!("description: [{}]\n", vec!["[1]"; 10_000].join(", "));
    assert_eq!(compile(&wide).map(|p| p.rule_count()), Ok(0));
    assert!(interrupted_at(3, || compile(&wide)).is_none());
}

#[test]
fn an_interrupted_decision_leaves_the_policy_usable() {
    let mut source = regex_rules(3);
    source.push_str("  - tool: email.send\n    action: escalate\n    when: {args.to: {not: {endsWith: '@${context.tenantId}.com'}}}\n");
    let policy = policy(&source);
    let args = value!({"text": "nothing to see", "to": "x@elsewhere.com"});
    let context = Value::Null;
    let call = request("email.send", &args, &context, "tenant-a");
    let expected = decide(None, Some(&policy), &call);
    assert_eq!(expected.rule_id.as_deref(), Some("rules[3]"));
    let (_, checks) = checks_during(|| decide(None, Some(&policy), &call));
    assert!(checks >= 4, "{checks} checks");
    for at in 1..=checks {
        assert!(interrupted_at(at, || decide(None, Some(&policy), &call)).is_none());
        assert_eq!(decide(None, Some(&policy), &call), expected);
    }
}
