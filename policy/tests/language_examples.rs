//! The numbered examples of the language reference (docs/language.md), from
//! tests/fixtures/language-examples.yaml: each decides, or fails to publish,
//! as the file says, and the reference shows each one exactly as the file
//! has it. The SQL tier runs the same file through authensor.check()
//! (tests/language/run.sh).
//!
//! `AUTHENSOR_PRINT_EXAMPLES=1 cargo test -p authensor-policy --test
//! language_examples -- --nocapture` prints the reference's text of every
//! example.

use std::path::PathBuf;

use authensor_policy::{
    Action, Decision, Layer, Policy, PolicyError, Request, Value, compile, decide, explain, format,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Example {
    example: usize,
    title: String,
    platform: Option<String>,
    tenant: Option<String>,
    #[serde(default)]
    calls: Vec<Call>,
    error: Option<Refusal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    tool: String,
    args: Option<String>,
    context: Option<String>,
    action: String,
    layer: String,
    rule: Option<String>,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Refusal {
    sqlstate: String,
    message: String,
    hint: Option<String>,
}

const TENANT: &str = "tenant-a";

fn repository_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn examples() -> Vec<Example> {
    let text = repository_file("tests/fixtures/language-examples.yaml");
    let examples: Vec<Example> = serde_yaml::from_str(&text).expect("the examples file reads");
    for (position, example) in examples.iter().enumerate() {
        assert_eq!(
            example.example,
            position + 1,
            "examples are numbered in order"
        );
        let policies =
            usize::from(example.platform.is_some()) + usize::from(example.tenant.is_some());
        match &example.error {
            Some(_) => assert!(
                example.calls.is_empty() && policies == 1,
                "example {}: a refusal has one policy and no calls",
                example.example
            ),
            None => assert!(
                !example.calls.is_empty(),
                "example {}: calls or an error",
                example.example
            ),
        }
    }
    examples
}

fn json(text: Option<&str>) -> Value {
    let text = text.unwrap_or("{}");
    Value::from_json(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn compiled(source: Option<&String>, example: &Example) -> Option<Policy> {
    source.map(|source| {
        compile(source).unwrap_or_else(|error| {
            panic!(
                "example {}: the policy should compile: {error}",
                example.example
            )
        })
    })
}

fn describe(decision: &Decision) -> (&'static str, &'static str, Option<&str>, &str) {
    (
        decision.action.as_str(),
        decision.layer.as_str(),
        decision.rule_id.as_deref(),
        decision.reason.as_str(),
    )
}

#[test]
fn every_example_decides_as_the_reference_says() {
    let nothing = compile("rules: []").expect("an empty policy compiles");
    let mut calls = 0;
    for example in examples().iter().filter(|example| example.error.is_none()) {
        let platform = compiled(example.platform.as_ref(), example);
        let tenant = compiled(example.tenant.as_ref(), example);
        for call in &example.calls {
            let (args, context) = (json(call.args.as_deref()), json(call.context.as_deref()));
            let request = Request {
                tool: &call.tool,
                args: &args,
                context: &context,
                tenant_id: TENANT,
            };
            let decision = decide(platform.as_ref(), tenant.as_ref(), &request);
            // An explanation is recorded by the same evaluation.
            assert_eq!(
                explain(platform.as_ref(), tenant.as_ref(), &request).decision,
                decision,
                "example {}",
                example.example
            );
            let expected = (
                call.action.as_str(),
                call.layer.as_str(),
                call.rule.as_deref(),
                call.reason.as_str(),
            );
            assert_eq!(
                describe(&decision),
                expected,
                "example {} ({}), call {call:?}",
                example.example,
                example.title
            );
            // A policy without an opinion is the same as none: the SQL tier
            // publishes `rules: []` for an absent layer.
            let published = decide(
                Some(platform.as_ref().unwrap_or(&nothing)),
                Some(tenant.as_ref().unwrap_or(&nothing)),
                &request,
            );
            assert_eq!(published, decision, "example {}", example.example);
            calls += 1;
        }
    }
    assert!(calls > 100, "{calls} calls");
}

/// `authensor fmt`'s layout changes no decision of any example, and a
/// formatted policy is already in the layout.
#[test]
fn formatting_changes_no_decision() {
    let mut formatted = 0;
    for example in examples().iter().filter(|example| example.error.is_none()) {
        let mut layout = |source: Option<&String>| {
            source.map(|source| {
                let once = format(source).unwrap_or_else(|error| {
                    panic!("example {}: {error}\n{source}", example.example)
                });
                assert_eq!(
                    format(&once).as_ref(),
                    Ok(&once),
                    "example {}",
                    example.example
                );
                formatted += 1;
                once
            })
        };
        let (platform_text, tenant_text) = (
            layout(example.platform.as_ref()),
            layout(example.tenant.as_ref()),
        );
        let (platform, tenant) = (
            compiled(example.platform.as_ref(), example),
            compiled(example.tenant.as_ref(), example),
        );
        let (platform_formatted, tenant_formatted) = (
            compiled(platform_text.as_ref(), example),
            compiled(tenant_text.as_ref(), example),
        );
        for call in &example.calls {
            let (args, context) = (json(call.args.as_deref()), json(call.context.as_deref()));
            let request = Request {
                tool: &call.tool,
                args: &args,
                context: &context,
                tenant_id: TENANT,
            };
            assert_eq!(
                decide(
                    platform_formatted.as_ref(),
                    tenant_formatted.as_ref(),
                    &request
                ),
                decide(platform.as_ref(), tenant.as_ref(), &request),
                "example {}, call {call:?}\n{platform_text:?}\n{tenant_text:?}",
                example.example
            );
        }
    }
    assert!(formatted > 40, "{formatted} policies formatted");
}

#[test]
fn every_refusal_is_the_documented_error() {
    let mut refusals = 0;
    for example in examples() {
        let Some(refusal) = &example.error else {
            continue;
        };
        let source = example
            .platform
            .as_ref()
            .or(example.tenant.as_ref())
            .unwrap();
        let error: PolicyError = match compile(source) {
            Ok(_) => panic!("example {}: the policy should not compile", example.example),
            Err(error) => error,
        };
        assert_eq!(
            (error.kind.sqlstate(), error.to_string(), error.hint.clone()),
            (
                refusal.sqlstate.as_str(),
                refusal.message.clone(),
                refusal.hint.clone()
            ),
            "example {} ({})",
            example.example,
            example.title
        );
        refusals += 1;
    }
    assert!(refusals >= 5, "{refusals} refusals");
}

/// A cell of a Markdown table.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The reference's text of one example.
fn markdown(example: &Example) -> String {
    let mut text = format!("##### Example {}: {}\n\n", example.example, example.title);
    for (layer, source) in [("Platform", &example.platform), ("Tenant", &example.tenant)] {
        if let Some(source) = source {
            text.push_str(&format!("{layer} policy:\n\n```yaml\n{source}```\n\n"));
        }
    }
    if let Some(refusal) = &example.error {
        text.push_str("Publishing it fails:\n\n```text\n");
        text.push_str(&format!("ERROR:  invalid policy: {}\n", refusal.message));
        if let Some(hint) = &refusal.hint {
            text.push_str(&format!("HINT:  {hint}\n"));
        }
        text.push_str(&format!("SQLSTATE: {}\n```\n", refusal.sqlstate));
        return text;
    }
    text.push_str("| tool | args | context | action | layer | rule_id | reason |\n");
    text.push_str("|---|---|---|---|---|---|---|\n");
    for call in &example.calls {
        let code = |text: &str| format!("`{}`", cell(text));
        let tool = serde_json::to_string(&call.tool).expect("a string");
        let rule = call.rule.as_deref().map_or("NULL".to_owned(), code);
        let reason = match call.reason.as_str() {
            "" => "*(empty)*".to_owned(),
            reason => cell(reason),
        };
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            code(&tool),
            code(call.args.as_deref().unwrap_or("{}")),
            code(call.context.as_deref().unwrap_or("{}")),
            call.action,
            call.layer,
            rule,
            reason
        ));
    }
    text
}

#[test]
fn the_reference_shows_every_example_as_the_file_has_it() {
    let reference = repository_file("docs/language.md");
    let examples = examples();
    let print = std::env::var_os("AUTHENSOR_PRINT_EXAMPLES").is_some();
    let missing: Vec<String> = examples
        .iter()
        .map(markdown)
        .inspect(|text| {
            if print {
                println!("{text}");
            }
        })
        .filter(|text| !reference.contains(text.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/language.md lacks these examples, or shows them otherwise:\n\n{}",
        missing.join("\n")
    );
    assert_eq!(
        reference.matches("##### Example ").count(),
        examples.len(),
        "the reference has an example the file has not"
    );
}

#[test]
fn the_layers_and_actions_named_are_real() {
    for example in examples() {
        for call in &example.calls {
            assert!(
                Action::ALL
                    .iter()
                    .any(|action| action.as_str() == call.action),
                "{}",
                call.action
            );
            assert!(
                [Layer::Platform, Layer::Tenant, Layer::Default]
                    .iter()
                    .any(|layer| layer.as_str() == call.layer),
                "{}",
                call.layer
            );
        }
    }
}
