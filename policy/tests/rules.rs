#[macro_use]
mod common;

use authensor_policy::Action;
use common::{invalid, policy, verdict};
use serde_json::json;

fn tools_matched(pattern: &str, tools: &[&str]) -> Vec<bool> {
    let policy = policy(&format!("rules:\n  - tool: {pattern}\n    action: block\n"));
    tools
        .iter()
        .map(|tool| verdict(&policy, tool, json!({})).is_some())
        .collect()
}

#[test]
fn single_star_matches_one_segment() {
    assert_eq!(
        tools_matched(
            "'system.*'",
            &["system.exec", "system.a.b", "system", "systems.exec"]
        ),
        [true, false, false, false]
    );
}

#[test]
fn double_star_matches_one_or_more_segments() {
    assert_eq!(
        tools_matched("'system.**'", &["system.exec", "system.a.b", "system"]),
        [true, true, false]
    );
    assert_eq!(
        tools_matched("'**'", &["a", "a.b", "a.b.c"]),
        [true, true, true]
    );
    assert_eq!(
        tools_matched(
            "'**.delete'",
            &["files.delete", "a.b.delete", "delete", "files.delete.x"]
        ),
        [true, true, false, false]
    );
}

#[test]
fn star_within_a_segment() {
    assert_eq!(
        tools_matched(
            "'email.send_*'",
            &[
                "email.send_bulk",
                "email.send",
                "email.send_x.y",
                "email.resend_x"
            ]
        ),
        [true, false, false, false]
    );
}

#[test]
fn a_list_of_globs_matches_if_any_does() {
    assert_eq!(
        tools_matched(
            "['shell.*', db.drop, '**.delete']",
            &["shell.run", "db.drop", "a.delete", "db.query"]
        ),
        [true, true, true, false]
    );
}

#[test]
fn absent_tool_matches_every_tool() {
    let policy = policy("rules:\n  - action: escalate\n");
    for tool in ["a", "a.b.c", ""] {
        assert_eq!(
            verdict(&policy, tool, json!({})).map(|v| v.0),
            Some(Action::Escalate)
        );
    }
}

#[test]
fn invalid_globs_are_rejected() {
    for glob in [
        "''",
        "'a..b'",
        "'.a'",
        "'a.'",
        "'a**b'",
        "'x.**y'",
        "[]",
        "['a', '']",
        "5",
        "{a: b}",
    ] {
        let error = invalid(&format!("rules:\n  - tool: {glob}\n    action: block\n"));
        assert_eq!(
            error
                .path
                .as_deref()
                .map(|p| p.starts_with("rules[0].tool")),
            Some(true),
            "{glob}: {error}"
        );
    }
}

#[test]
fn first_matching_rule_wins() {
    let policy = policy(
        "rules:
  - id: big
    tool: payments.send
    action: escalate
    when: {args.amount: {gt: 100}}
  - id: any-payment
    tool: 'payments.*'
    action: allow
  - id: everything
    action: block
",
    );
    let amount = |n: i64| json!({ "amount": n });
    assert_eq!(
        verdict(&policy, "payments.send", amount(500)),
        Some((Action::Escalate, Some("big".into())))
    );
    assert_eq!(
        verdict(&policy, "payments.send", amount(5)),
        Some((Action::Allow, Some("any-payment".into())))
    );
    assert_eq!(
        verdict(&policy, "payments.refund", amount(500)),
        Some((Action::Allow, Some("any-payment".into())))
    );
    assert_eq!(
        verdict(&policy, "other", amount(5)),
        Some((Action::Block, Some("everything".into())))
    );
}

#[test]
fn the_default_applies_when_no_rule_matches() {
    let policy = policy("default: escalate\nrules:\n  - tool: a\n    action: allow\n");
    assert_eq!(policy.default_action(), Some(Action::Escalate));
    let args = value!({});
    let context = value!({});
    let verdict = policy
        .evaluate(&common::request("b", &args, &context, "t"))
        .unwrap();
    assert_eq!(verdict.action, Action::Escalate);
    assert_eq!(verdict.rule_id, None);
    assert_eq!(
        verdict.reason,
        "no rule matched; the policy default is escalate"
    );
}

#[test]
fn without_a_match_or_default_the_policy_has_no_opinion() {
    let policy = policy("rules:\n  - tool: a\n    action: allow\n");
    assert_eq!(policy.default_action(), None);
    assert_eq!(verdict(&policy, "b", json!({})), None);
    for empty in ["rules: []", "rules:", "description: nothing yet", "{}"] {
        let policy = common::policy(empty);
        assert_eq!(policy.rule_count(), 0);
        assert_eq!(verdict(&policy, "a", json!({})), None);
    }
}

#[test]
fn only_a_default() {
    for (source, action) in [
        ("default: allow", Action::Allow),
        ("default: block", Action::Block),
    ] {
        assert_eq!(
            verdict(&policy(source), "x", json!({})),
            Some((action, None))
        );
    }
}

#[test]
fn rule_ids_default_to_their_position_and_reasons_to_the_id() {
    let policy = policy(
        "rules:
  - tool: a
    action: allow
  - id: named
    tool: b
    action: block
  - tool: c
    action: escalate
    reason: Needs a look
",
    );
    let args = value!({});
    let context = value!({});
    let check = |tool: &str, id: &str, reason: &str| {
        let verdict = policy
            .evaluate(&common::request(tool, &args, &context, "t"))
            .unwrap();
        assert_eq!(verdict.rule_id, Some(id));
        assert_eq!(verdict.reason, reason);
    };
    check("a", "rules[0]", "rule \"rules[0]\" matched");
    check("b", "named", "rule \"named\" matched");
    check("c", "rules[2]", "Needs a look");
}

#[test]
fn duplicate_rule_ids_are_rejected() {
    let error = invalid("rules:\n  - id: x\n    action: allow\n  - id: x\n    action: block\n");
    assert_eq!(error.path.as_deref(), Some("rules[1].id"));
    assert_eq!((error.line, error.column), (Some(4), Some(9)));
    assert!(error.message.contains("\"x\""), "{error}");

    // An explicit id may not take the name of a rule without one, and vice versa.
    let error = invalid("rules:\n  - action: allow\n  - id: rules[0]\n    action: block\n");
    assert_eq!(error.path.as_deref(), Some("rules[1].id"));
    let error = invalid("rules:\n  - id: rules[1]\n    action: allow\n  - action: block\n");
    assert_eq!(error.path.as_deref(), Some("rules[1]"));
}

#[test]
fn policies_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<authensor_policy::Policy>();
    let policy = std::sync::Arc::new(policy("rules:\n  - tool: a\n    action: block\n"));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let policy = policy.clone();
            std::thread::spawn(move || verdict(&policy, "a", json!({})).map(|v| v.0))
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap(), Some(Action::Block));
    }
}
