//! The examples from the product's design notes, with their expected decisions.

#[macro_use]
mod common;

use authensor_policy::{Action, Decision, Layer, decide};
use common::{policy, request};

const PLATFORM: &str = r#"
rules:
  - tool: "system.*"
    action: block
    reason: "System tools are blocked for all tenants"
  - tool: "shell.execute"
    action: block
    reason: "Shell access is disabled"
"#;

const TENANT_A: &str = r#"
rules:
  - tool: "email.send"
    action: allow
    when:
      args.to:
        endsWith: "@tenant-a.com"
  - tool: "email.send"
    action: escalate
    reason: "External emails need approval"
  - tool: "database.query"
    action: block
    when:
      args.query:
        not:
          contains: "tenant_id = '${context.tenantId}'"
    reason: "Queries must include tenant_id filter"
"#;

fn decide_for(tenant_id: &str, tool: &str, args: authensor_policy::Value) -> Decision {
    let platform = policy(PLATFORM);
    let tenant = policy(TENANT_A);
    let context = value!({});
    decide(
        Some(&platform),
        Some(&tenant),
        &request(tool, &args, &context, tenant_id),
    )
}

fn summary(decision: &Decision) -> (Action, Layer, Option<&str>, &str) {
    (
        decision.action,
        decision.layer,
        decision.rule_id.as_deref(),
        decision.reason.as_str(),
    )
}

#[test]
fn internal_email_is_allowed_by_the_tenant() {
    let decision = decide_for("tenant-a", "email.send", value!({"to": "bob@tenant-a.com"}));
    assert_eq!(
        summary(&decision),
        (
            Action::Allow,
            Layer::Tenant,
            Some("rules[0]"),
            "rule \"rules[0]\" matched"
        )
    );
}

#[test]
fn external_email_is_escalated_by_the_tenant() {
    let decision = decide_for("tenant-a", "email.send", value!({"to": "x@gmail.com"}));
    assert_eq!(
        summary(&decision),
        (
            Action::Escalate,
            Layer::Tenant,
            Some("rules[1]"),
            "External emails need approval"
        )
    );
}

#[test]
fn system_and_shell_tools_are_blocked_by_the_platform() {
    let decision = decide_for("tenant-a", "system.exec", value!({}));
    assert_eq!(
        summary(&decision),
        (
            Action::Block,
            Layer::Platform,
            Some("rules[0]"),
            "System tools are blocked for all tenants"
        )
    );
    let decision = decide_for("tenant-a", "shell.execute", value!({"cmd": "ls"}));
    assert_eq!(
        summary(&decision),
        (
            Action::Block,
            Layer::Platform,
            Some("rules[1]"),
            "Shell access is disabled"
        )
    );
}

#[test]
fn a_query_with_the_callers_tenant_filter_gets_no_opinion_and_fails_closed() {
    // The tenant's block rule does not match, no other rule covers
    // database.query, and neither policy sets a default.
    let query = value!({"query": "SELECT * FROM orders WHERE tenant_id = 'tenant-a'"});
    let decision = decide_for("tenant-a", "database.query", query);
    assert_eq!(
        (decision.action, decision.layer, decision.rule_id.as_deref()),
        (Action::Block, Layer::Default, None)
    );
}

#[test]
fn the_same_query_from_another_tenant_is_blocked_by_the_tenant_rule() {
    let query = value!({"query": "SELECT * FROM orders WHERE tenant_id = 'tenant-a'"});
    let decision = decide_for("tenant-b", "database.query", query);
    assert_eq!(
        summary(&decision),
        (
            Action::Block,
            Layer::Tenant,
            Some("rules[2]"),
            "Queries must include tenant_id filter"
        )
    );
}

#[test]
fn an_uncovered_tool_fails_closed() {
    let decision = decide_for("tenant-a", "file.read", value!({"path": "/etc/passwd"}));
    assert_eq!(
        summary(&decision),
        (
            Action::Block,
            Layer::Default,
            None,
            "no rule matched in the platform or tenant policy and neither sets a default (fail-closed)"
        )
    );
}
