//! Helpers shared by the integration tests.
#![allow(dead_code)]

use authensor_policy::{Action, ErrorKind, Policy, PolicyError, Request, Value, compile};
use serde_json::json;

/// `json!`, as a request value.
#[allow(unused_macros)]
macro_rules! value {
    ($($json:tt)+) => {
        $crate::common::value(serde_json::json!($($json)+))
    };
}

/// A request value from serde_json's `json!`, whose floats are read as the
/// shortest decimal that reads back as them.
pub fn value(json: serde_json::Value) -> Value {
    Value::from(json)
}

/// A request value from JSON text, numbers exact.
pub fn json_text(text: &str) -> Value {
    Value::from_json(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

pub fn policy(source: &str) -> Policy {
    compile(source).unwrap_or_else(|error| panic!("policy should compile: {error}\n{source}"))
}

pub fn compile_error(source: &str) -> PolicyError {
    match compile(source) {
        Ok(_) => panic!("policy should not compile:\n{source}"),
        Err(error) => error,
    }
}

pub fn invalid(source: &str) -> PolicyError {
    let error = compile_error(source);
    assert_eq!(error.kind, ErrorKind::Invalid, "{error}");
    error
}

pub fn request<'a>(
    tool: &'a str,
    args: &'a Value,
    context: &'a Value,
    tenant_id: &'a str,
) -> Request<'a> {
    Request {
        tool,
        args,
        context,
        tenant_id,
    }
}

/// The action and rule id `policy` gives for a call to `tool`.
pub fn verdict(
    policy: &Policy,
    tool: &str,
    args: serde_json::Value,
) -> Option<(Action, Option<String>)> {
    let (args, context) = (value(args), value(json!({})));
    policy
        .evaluate(&request(tool, &args, &context, "tenant-a"))
        .map(|verdict| (verdict.action, verdict.rule_id.map(str::to_owned)))
}

/// Whether a `when` condition (YAML flow mapping) holds.
pub fn when_holds(when: &str, args: serde_json::Value, context: serde_json::Value) -> bool {
    when_holds_on(when, &value(args), &value(context))
}

/// [`when_holds`] on request values.
pub fn when_holds_on(when: &str, args: &Value, context: &Value) -> bool {
    let source = format!("rules:\n  - action: allow\n    when: {when}\n");
    let policy = policy(&source);
    policy
        .evaluate(&request("t", args, context, "tenant-a"))
        .is_some()
}

/// Whether an operator map (YAML flow mapping) holds for `args.x`, where `x` is
/// `value`, or missing when `value` is `None`.
pub fn op_holds(operators: &str, value: Option<serde_json::Value>) -> bool {
    let args = match value {
        Some(value) => json!({ "x": value }),
        None => json!({}),
    };
    when_holds(&format!("{{args.x: {operators}}}"), args, json!({}))
}

/// [`op_holds`] with `args.x` given as JSON text, numbers exact.
pub fn op_holds_json(operators: &str, x: &str) -> bool {
    let args = json_text(&format!("{{\"x\": {x}}}"));
    when_holds_on(&format!("{{args.x: {operators}}}"), &args, &json_text("{}"))
}

/// A hundred rules of the kinds people write: tool globs, argument checks,
/// allow-lists, tenant placeholders and a few regular expressions.
pub fn typical_policy() -> String {
    let mut source = String::from("default: block\nrules:\n");
    for n in 0..100 {
        let rule = match n % 20 {
            0 => format!(
                "  - id: no-secrets-{n}\n    tool: \"**\"\n    action: block\n    reason: Arguments look like a credential\n    when:\n      args.body:\n        matches: '(?i)(api[_-]?key|secret|password)\\s*[:=]\\s*\\S{{{}}}'\n",
                8 + n / 20
            ),
            1..=5 => format!(
                "  - id: external-email-{n}\n    tool: email.send\n    action: escalate\n    reason: External emails need approval\n    when:\n      args.to:\n        not:\n          endsWith: \"@${{context.tenantId}}.com\"\n"
            ),
            6..=10 => format!(
                "  - id: crm-{n}\n    tool: [\"crm.read_*\", crm.search]\n    action: allow\n    when:\n      all:\n        - context.user.role: {{in: [sales, support, admin]}}\n        - args.limit: {{lte: 500}}\n"
            ),
            11..=15 => format!(
                "  - id: files-{n}\n    tool: \"files.**\"\n    action: escalate\n    reason: File access outside the workspace\n    when:\n      args.path:\n        not:\n          startsWith: \"/workspace/${{context.tenantId}}/\"\n"
            ),
            _ => format!(
                "  - id: payments-{n}\n    tool: payments.transfer\n    action: escalate\n    when:\n      any:\n        - args.amount: {{gt: {}}}\n        - args.currency: {{notIn: [USD, EUR]}}\n",
                1_000 * n
            ),
        };
        source.push_str(&rule);
    }
    source
}
