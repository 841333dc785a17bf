//! Large policies: the tool index must keep first-match semantics.

mod common;

use std::fmt::Write;

use authensor_policy::Action;
use authensor_policy::bench_support::{generated_policy, tool_near_the_end};
use common::{policy, verdict};
use serde_json::json;

#[test]
fn ten_thousand_rules_compile_and_evaluate() {
    let policy = policy(&generated_policy(10_000));
    assert_eq!(policy.rule_count(), 10_000);
    let tool = tool_near_the_end(10_000);
    assert_eq!(tool, "tool.9995.run");
    assert_eq!(
        verdict(&policy, &tool, json!({"amount": 3})),
        Some((Action::Allow, Some("rules[9998]".into())))
    );
    assert_eq!(
        verdict(&policy, &tool, json!({"amount": 99_999})),
        Some((Action::Block, None))
    );
    assert_eq!(
        verdict(&policy, "admin.reset", json!({})),
        Some((Action::Block, Some("rules[0]".into())))
    );
    assert_eq!(
        verdict(&policy, "tool.5.delete", json!({})),
        Some((Action::Escalate, Some("rules[1]".into())))
    );
    assert_eq!(
        verdict(&policy, "crm.export_all", json!({})),
        Some((Action::Escalate, Some("rules[2]".into())))
    );
}

#[test]
fn a_wildcard_rule_before_a_literal_rule_for_the_same_tool_wins() {
    let mut source = String::from("rules:\n");
    for n in 0..4_999 {
        match n {
            2_000 => source
                .push_str("  - id: wild-first-segment\n    tool: 'svc.*'\n    action: escalate\n"),
            3_000 => {
                source.push_str("  - id: wild-anywhere\n    tool: '**.run'\n    action: block\n")
            }
            _ => {}
        }
        let _ = write!(
            source,
            "  - id: literal-{n}\n    tool: svc.{n}\n    action: allow\n"
        );
        let _ = write!(
            source,
            "  - id: run-{n}\n    tool: job.{n}.run\n    action: allow\n"
        );
    }
    let policy = policy(&source);
    assert_eq!(policy.rule_count(), 10_000);
    let id = |tool: &str| verdict(&policy, tool, json!({})).and_then(|v| v.1);
    assert_eq!(id("svc.1999").as_deref(), Some("literal-1999"));
    assert_eq!(id("svc.2000").as_deref(), Some("wild-first-segment"));
    assert_eq!(id("svc.4998").as_deref(), Some("wild-first-segment"));
    assert_eq!(id("job.2999.run").as_deref(), Some("run-2999"));
    assert_eq!(id("job.3000.run").as_deref(), Some("wild-anywhere"));
    assert_eq!(id("job.4998.run").as_deref(), Some("wild-anywhere"));
    assert_eq!(id("other.run").as_deref(), Some("wild-anywhere"));
    assert_eq!(id("svc.2000.x"), None);
}

#[test]
fn the_index_agrees_with_a_linear_scan() {
    let patterns = [
        "a.b", "a.*", "*.b", "**", "a.**", "a.b_*", "b", "**.c", "a.*.c", "x.y",
    ];
    let tools = ["a.b", "a.c", "b", "a.b.c", "a.b_x", "x.y", "c", "z.b", "a"];
    let mut source = String::from("rules:\n");
    for (i, pattern) in patterns.iter().enumerate() {
        let _ = write!(
            source,
            "  - id: r{i}\n    tool: '{pattern}'\n    action: allow\n"
        );
    }
    // Every suffix of the rule list, so that each pattern gets to be first.
    for start in 0..patterns.len() {
        let text: String = source
            .split("  - ")
            .skip(1 + start)
            .map(|rule| format!("  - {rule}"))
            .collect();
        let policy = policy(&format!("rules:\n{text}"));
        for tool in tools {
            let expected = patterns
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, pattern)| glob_matches_linear(pattern, tool))
                .map(|(i, _)| format!("r{i}"));
            assert_eq!(
                verdict(&policy, tool, json!({})).and_then(|v| v.1),
                expected,
                "{tool} from {start}"
            );
        }
    }
}

/// A straightforward recursive reference matcher for the glob rules.
fn glob_matches_linear(pattern: &str, tool: &str) -> bool {
    fn go(pattern: &[&str], tool: &[&str]) -> bool {
        match (pattern.split_first(), tool.split_first()) {
            (None, None) => true,
            (Some((&"**", rest)), Some(_)) => (1..=tool.len()).any(|n| go(rest, &tool[n..])),
            (Some((segment, rest)), Some((name, names))) => {
                segment_matches(segment, name) && go(rest, names)
            }
            _ => false,
        }
    }
    fn segment_matches(segment: &str, name: &str) -> bool {
        match segment.split_once('*') {
            None => segment == name,
            Some((prefix, suffix)) => {
                name.len() >= prefix.len() + suffix.len()
                    && name.starts_with(prefix)
                    && name.ends_with(suffix)
            }
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let tool: Vec<&str> = tool.split('.').collect();
    go(&pattern, &tool)
}
