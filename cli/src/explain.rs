//! `authensor explain FILE --tool NAME`: the decision on one call, and for
//! each layer every rule the evaluation visited, with the operator that
//! settled each rule's condition.

use authensor_policy::{Check, FieldState, MAX_TOOL_BYTES, Request, Value, explain};

use crate::args::Args;
use crate::source::{compile_file, platform};
use crate::{Outcome, Trouble};

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(
        arguments,
        &["--tool", "--args", "--context", "--tenant", "--platform"],
        &[],
    )?;
    let [path] = args.positional.as_slice() else {
        return Err(Trouble("explain needs one FILE".to_owned()));
    };
    let tool = args
        .option("--tool")
        .ok_or_else(|| Trouble("explain needs --tool".to_owned()))?;
    if tool.len() > MAX_TOOL_BYTES {
        return Err(Trouble(format!(
            "--tool: a tool name is at most {MAX_TOOL_BYTES} bytes"
        )));
    }
    let call_args = json_object("--args", args.option("--args"))?;
    let context = json_object("--context", args.option("--context"))?;
    let platform = platform(args.option("--platform"))?;
    let Some(tenant) = compile_file(path)? else {
        return Ok(Outcome::Findings);
    };
    let request = Request {
        tool,
        args: &call_args,
        context: &context,
        tenant_id: args.tenant()?,
    };
    let explanation = explain(
        platform.as_ref().map(|platform| &platform.policy),
        Some(&tenant.policy),
        &request,
    );
    let decision = &explanation.decision;
    outln!("{} by {}", decision.action, decision.decided_by());
    outln!("  reason: {}", decision.reason);
    for layer in &explanation.layers {
        let default = layer.default.map_or("no default".to_owned(), |action| {
            format!("default {action}")
        });
        outln!(
            "{} policy: {} rules, {default}; visited {}",
            layer.layer,
            layer.rule_count,
            layer.visited.len()
        );
        for rule in &layer.visited {
            let outcome = match (rule.tool_matched, rule.matched) {
                (false, _) => "tool does not match",
                (true, true) => "matches",
                (true, false) => "condition fails",
            };
            outln!("  rule {:?} ({}): {outcome}", rule.id, rule.action);
            for check in &rule.checks {
                outln!("    {}", describe(check));
            }
        }
    }
    if explanation.layers.len() == 1 && platform.is_some() {
        outln!("tenant policy: not consulted after a platform block");
    }
    Ok(Outcome::Clean)
}

/// `args.to endsWith "@${context.tenantId}.com" (filled in: "@t.com") on "x@y.com": false`
fn describe(check: &Check) -> String {
    if check.field == FieldState::Counted {
        let counted = check.value.as_deref().unwrap_or("unknown");
        return format!(
            "rate {}, calls counted: {counted}: {}",
            check.operand, check.held
        );
    }
    let mut text = format!("{} {} {}", check.path, check.operator, check.operand);
    match &check.interpolated {
        Some(Some(filled)) => text.push_str(&format!(" (filled in: {filled})")),
        Some(None) => text.push_str(" (a placeholder has no value: matches nothing)"),
        None => {}
    }
    let on = match (check.field, &check.value) {
        (FieldState::Missing, _) => "a missing field".to_owned(),
        (FieldState::OtherType(kind), Some(value)) => {
            format!("{value}, a {kind}, which {} does not read", check.operator)
        }
        (_, Some(value)) => value.clone(),
        (_, None) => "the field".to_owned(),
    };
    format!("{text} on {on}: {}", check.held)
}

fn json_object(option: &str, text: Option<&str>) -> Result<Value, Trouble> {
    let Some(text) = text else {
        return Ok(Value::empty_object());
    };
    match Value::from_json(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(Trouble(format!("{option} must be a JSON object"))),
        Err(error) => Err(Trouble(format!("{option}: {error}"))),
    }
}
