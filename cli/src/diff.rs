//! `authensor diff OLD NEW`: the calls whose decision changes from one
//! version of a policy to the next: the `tests:` of both, and the sample
//! requests of `--requests` (JSON lines of `{"tool", "args", "context",
//! "tenant"}`, such as receipts exported from the database).

use std::collections::HashSet;

use authensor_policy::{CompiledDocument, Decision, Request, Value, decide};

use crate::args::Args;
use crate::source::{compile_file, platform, read};
use crate::{Outcome, Trouble};

/// A call both versions decide, and where it comes from.
struct Call {
    origin: String,
    tool: String,
    args: Value,
    context: Value,
    tenant: Option<String>,
}

pub fn run(arguments: Vec<String>) -> Result<Outcome, Trouble> {
    let args = Args::parse(arguments, &["--platform", "--tenant", "--requests"], &[])?;
    let [old_path, new_path] = args.positional.as_slice() else {
        return Err(Trouble("diff needs two files, OLD and NEW".to_owned()));
    };
    let platform = platform(args.option("--platform"))?;
    let tenant = args.tenant()?;
    let (Some(old), Some(new)) = (compile_file(old_path)?, compile_file(new_path)?) else {
        return Ok(Outcome::Findings);
    };
    let mut calls = Calls::default();
    for (path, document) in [(old_path, &old), (new_path, &new)] {
        for case in &document.tests {
            calls.push_new(Call {
                origin: format!("{path} tests[{}]", case.index),
                tool: case.tool.clone(),
                args: case.args.clone(),
                context: case.context.clone(),
                tenant: case.tenant.clone(),
            });
        }
    }
    if let Some(path) = args.option("--requests") {
        for call in requests(path)? {
            calls.push_new(call);
        }
    }
    let platform = platform.as_ref().map(|platform| &platform.policy);
    let decide_with = |document: &CompiledDocument, call: &Call| {
        let request = Request {
            tool: &call.tool,
            args: &call.args,
            context: &call.context,
            tenant_id: call.tenant.as_deref().unwrap_or(tenant),
        };
        decide(platform, Some(&document.policy), &request)
    };
    let mut changed = 0;
    for call in &calls.list {
        let (before, after) = (decide_with(&old, call), decide_with(&new, call));
        if (before.action, before.layer, &before.rule_id)
            != (after.action, after.layer, &after.rule_id)
        {
            changed += 1;
            outln!(
                "{} (tool {:?}): {} -> {}",
                call.origin,
                call.tool,
                describe(&before),
                describe(&after)
            );
        }
    }
    outln!("{changed} of {} calls change decision", calls.list.len());
    Ok(if changed > 0 {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// The calls to decide, each once, in the order first seen.
#[derive(Default)]
struct Calls {
    list: Vec<Call>,
    /// Tool, args, context and tenant of those in `list`: an export of
    /// receipts holds many thousands of calls, too many to compare each
    /// with every earlier one.
    seen: HashSet<(String, Value, Value, Option<String>)>,
}

impl Calls {
    /// Adds `call` unless the same call is already there.
    fn push_new(&mut self, call: Call) {
        let key = (
            call.tool.clone(),
            call.args.clone(),
            call.context.clone(),
            call.tenant.clone(),
        );
        if self.seen.insert(key) {
            self.list.push(call);
        }
    }
}

fn describe(decision: &Decision) -> String {
    format!("{} by {}", decision.action, decision.decided_by())
}

/// The calls of a JSON-lines file; blank lines are skipped.
fn requests(path: &str) -> Result<Vec<Call>, Trouble> {
    let text = read(path)?;
    let mut calls = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{path}:{}", number + 1);
        let value = Value::from_json(line).map_err(|error| Trouble(format!("{at}: {error}")))?;
        let object = value
            .as_object()
            .ok_or_else(|| Trouble(format!("{at}: a request is a JSON object")))?;
        let text_of = |key: &str| -> Result<Option<String>, Trouble> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(Trouble(format!("{at}: {key} must be a string"))),
            }
        };
        let object_of = |key: &str| -> Result<Value, Trouble> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(Value::empty_object()),
                Some(value @ Value::Object(_)) => Ok(value.clone()),
                Some(_) => Err(Trouble(format!("{at}: {key} must be an object"))),
            }
        };
        calls.push(Call {
            tool: text_of("tool")?
                .ok_or_else(|| Trouble(format!("{at}: a request needs a tool")))?,
            args: object_of("args")?,
            context: object_of("context")?,
            tenant: text_of("tenant")?,
            origin: at,
        });
    }
    Ok(calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &str) -> Call {
        Call {
            origin: String::new(),
            tool: "email.send".into(),
            args: Value::from_json(args).unwrap(),
            context: Value::empty_object(),
            tenant: None,
        }
    }

    #[test]
    fn the_same_call_is_decided_once_however_its_json_is_written() {
        let mut calls = Calls::default();
        for args in [
            r#"{"n": 1, "to": "a"}"#,
            r#"{"to": "a", "n": 1.0}"#,
            r#"{"to": "a", "n": 10e-1}"#,
            r#"{"to": "a", "n": 2}"#,
        ] {
            calls.push_new(call(args));
        }
        assert_eq!(calls.list.len(), 2);
    }
}
