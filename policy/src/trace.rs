//! Explanations: a decision, and for each layer consulted every rule the
//! evaluation visited, in order, with whether its tool matched and each
//! operator its condition evaluated.
//!
//! The explanation is recorded by the evaluation itself: [`decide()`]
//! (crate::decide()) runs the same code with a [`Tracer`] that does nothing,
//! [`NoTrace`], which compiles away, and [`explain()`] with one that records.
//! An explanation can therefore never disagree with a decision.

use std::cell::RefCell;
use std::fmt::Write as _;

use crate::action::Action;
use crate::condition::{Op, Operand};
use crate::decide::{Decision, Layer, decide_traced};
use crate::path::{Field, FieldPath};
use crate::policy::Policy;
use crate::rate::RateLimit;
use crate::request::Request;
use crate::rule::Rule;
use crate::template::{Rendered, Template};
use crate::value::Value;

/// What an evaluation tells as it goes.
pub(crate) trait Tracer: Copy {
    /// A layer is about to be evaluated.
    fn layer(self, layer: Layer, policy: &Policy);
    /// The evaluation visits `rule`, whose tool did or did not match.
    fn rule(self, rule: &Rule, tool_matched: bool);
    /// The rule last visited matched, or did not.
    fn rule_matched(self, matched: bool);
    /// What is told of the operators on the field at `path`.
    type OnField<'p>: FieldTracer;
    fn on_field(self, path: &FieldPath) -> Self::OnField<'_>;
}

/// What an evaluation tells of the operators on one field.
pub(crate) trait FieldTracer: Copy {
    /// An operator was evaluated on `field` (`None`: missing).
    fn check(self, op: &Op, field: Option<Field>, request: &Request, held: bool);
}

/// The tracer of every decision: tells nothing.
#[derive(Clone, Copy)]
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    #[inline(always)]
    fn layer(self, _layer: Layer, _policy: &Policy) {}

    #[inline(always)]
    fn rule(self, _rule: &Rule, _tool_matched: bool) {}

    #[inline(always)]
    fn rule_matched(self, _matched: bool) {}

    type OnField<'p> = NoTrace;

    #[inline(always)]
    fn on_field(self, _path: &FieldPath) -> NoTrace {
        NoTrace
    }
}

impl FieldTracer for NoTrace {
    #[inline(always)]
    fn check(self, _: &Op, _: Option<Field>, _: &Request, _held: bool) {}
}

/// A decision and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub decision: Decision,
    /// The layers consulted, platform first; the tenant policy is not
    /// consulted after a platform block, nor is a missing policy.
    pub layers: Vec<LayerTrace>,
}

/// One layer's evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTrace {
    pub layer: Layer,
    /// All the rules of the policy; those not in `visited` come after the
    /// deciding rule or have tool patterns that cannot match the tool.
    pub rule_count: usize,
    pub default: Option<Action>,
    pub visited: Vec<RuleTrace>,
}

/// One rule the evaluation visited.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTrace {
    pub id: String,
    pub action: Action,
    pub tool_matched: bool,
    /// The operators of its condition that were evaluated, in order. Each
    /// `all`, `any` and `not` stops at the first part that settles it, so
    /// the last one settled the condition: when the rule did not match, it
    /// is the condition that failed.
    pub checks: Vec<Check>,
    /// Whether the rule matched: its tool, and its condition if it has one.
    pub matched: bool,
}

/// One operator evaluated on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The field path, such as `args.to`.
    pub path: String,
    /// The operator, such as `endsWith`.
    pub operator: &'static str,
    /// The operand as written, as JSON (`"@${context.tenantId}.com"`).
    pub operand: String,
    /// The operand with its placeholders filled in, when it has any: as JSON,
    /// or `None` inside when a placeholder could not be filled in.
    pub interpolated: Option<Option<String>>,
    pub field: FieldState,
    /// The field's value as JSON (long values cut short), when present. It
    /// comes from the call: a host may withhold it (see the extension's
    /// explain()).
    pub value: Option<String>,
    /// Whether the operator held (before any `not` around it).
    pub held: bool,
}

/// The field an operator was applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldState {
    Missing,
    /// Present, of a type the operator reads (named).
    Present(&'static str),
    /// Present, of a type the operator does not read, which makes it false.
    OtherType(&'static str),
    /// A `rate` condition, which reads no field: `value` tells what it
    /// counted.
    Counted,
}

/// Decides as [`decide()`](crate::decide()) does, recording how.
pub fn explain(
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    request: &Request,
) -> Explanation {
    let recorder = RefCell::new(Vec::new());
    let decision = decide_traced(platform, tenant, request, &recorder);
    Explanation {
        decision,
        layers: recorder.into_inner(),
    }
}

impl Tracer for &RefCell<Vec<LayerTrace>> {
    fn layer(self, layer: Layer, policy: &Policy) {
        self.borrow_mut().push(LayerTrace {
            layer,
            rule_count: policy.rule_count(),
            default: policy.default_action(),
            visited: Vec::new(),
        });
    }

    fn rule(self, rule: &Rule, tool_matched: bool) {
        if let Some(layer) = self.borrow_mut().last_mut() {
            layer.visited.push(RuleTrace {
                id: rule.label.id().to_owned(),
                action: rule.action,
                tool_matched,
                checks: Vec::new(),
                matched: false,
            });
        }
    }

    fn rule_matched(self, matched: bool) {
        if let Some(rule) = self
            .borrow_mut()
            .last_mut()
            .and_then(|layer| layer.visited.last_mut())
        {
            rule.matched = matched;
        }
    }

    type OnField<'p> = (Self, &'p FieldPath);

    fn on_field(self, path: &FieldPath) -> (Self, &FieldPath) {
        (self, path)
    }
}

impl FieldTracer for (&RefCell<Vec<LayerTrace>>, &FieldPath) {
    fn check(self, op: &Op, field: Option<Field>, request: &Request, held: bool) {
        let (recorder, path) = self;
        let check = Check {
            path: path.to_string(),
            operator: op.name(),
            operand: operand_text(op),
            interpolated: interpolated(op, request),
            field: field_state(op, field),
            value: match op {
                Op::Rate(limit) => Some(rate_count(limit, request)),
                _ => field.map(|field| field_json(field)),
            },
            held,
        };
        if let Some(rule) = recorder
            .borrow_mut()
            .last_mut()
            .and_then(|layer| layer.visited.last_mut())
        {
            rule.checks.push(check);
        }
    }
}

/// Longest text of a value or operand an explanation shows, in bytes.
const SHOWN_BYTES: usize = 200;

/// Deepest nesting of a value an explanation shows.
const SHOWN_DEPTH: usize = 16;

fn operand_text(op: &Op) -> String {
    match op {
        Op::Equals(operand) | Op::NotEquals(operand) | Op::Contains(operand) => {
            operand_json(operand)
        }
        Op::In(choices) | Op::NotIn(choices) => {
            list_text(choices.options().iter().map(operand_json))
        }
        Op::StartsWith(template) | Op::EndsWith(template) => json_string(&template.to_string()),
        Op::Matches(regex) => json_string(regex.pattern()),
        Op::Compare(_, bound) => number_json(bound),
        Op::Exists(expected) => expected.to_string(),
        Op::Rate(limit) => limit.describe(),
    }
}

/// What a `rate` condition counted, as its value: the count (stopped at the
/// limit), or that there is nothing to count from.
fn rate_count(limit: &RateLimit, request: &Request) -> String {
    match limit.count(request) {
        Some(count) => format!("{count} of {} calls in the window", limit.max()),
        None => "unknown here (no record of calls), taken as 0".to_owned(),
    }
}

fn operand_json(operand: &Operand) -> String {
    match operand {
        Operand::Number(number) => number_json(number),
        Operand::Json(value) => value_json(value),
        Operand::Text(template) => json_string(&template.to_string()),
    }
}

/// The operand with its placeholders filled in, when it has any.
fn interpolated(op: &Op, request: &Request) -> Option<Option<String>> {
    let fill = |operand: &Operand| match operand {
        Operand::Text(template) if template.placeholder_count() > 0 => {
            Some(fill_template(template, request))
        }
        _ => None,
    };
    match op {
        Op::Equals(operand) | Op::NotEquals(operand) | Op::Contains(operand) => fill(operand),
        Op::In(choices) | Op::NotIn(choices) => {
            let options = choices.options();
            options
                .iter()
                .any(|option| fill(option).is_some())
                .then(|| {
                    Some(list_text(options.iter().map(|option| match fill(option) {
                        Some(Some(text)) => text,
                        Some(None) => "(unresolved)".to_owned(),
                        None => operand_json(option),
                    })))
                })
        }
        Op::StartsWith(template) | Op::EndsWith(template) => {
            (template.placeholder_count() > 0).then(|| fill_template(template, request))
        }
        Op::Matches(_) | Op::Compare(..) | Op::Exists(_) | Op::Rate(_) => None,
    }
}

/// A template filled in as the operator compares it: a lone placeholder as
/// the context value itself, otherwise as text; `None` when a placeholder
/// cannot be filled in.
fn fill_template(template: &Template, request: &Request) -> Option<String> {
    if let Some(path) = template.lone_placeholder() {
        return path
            .resolve(request)
            .filter(|field| field.is_scalar())
            .map(field_json);
    }
    match template.render(request, SHOWN_BYTES)? {
        Rendered::Text(text) => Some(json_string(&text)),
        Rendered::TooLong => Some(format!("(text longer than {SHOWN_BYTES} bytes)")),
    }
}

fn field_state(op: &Op, field: Option<Field>) -> FieldState {
    if let Op::Rate(_) = op {
        return FieldState::Counted;
    }
    let Some(field) = field else {
        return FieldState::Missing;
    };
    let kind = field_type(field);
    let reads = match op {
        Op::StartsWith(_) | Op::EndsWith(_) | Op::Matches(_) => kind == "string",
        Op::Compare(..) => kind == "number",
        Op::Contains(_) => kind == "string" || kind == "array",
        _ => true,
    };
    if reads {
        FieldState::Present(kind)
    } else {
        FieldState::OtherType(kind)
    }
}

fn field_type(field: Field) -> &'static str {
    match field {
        Field::Text(_) => "string",
        Field::Context(..) => "object",
        Field::Json(value) => match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        },
    }
}

fn field_json(field: Field) -> String {
    match field {
        Field::Text(text) => json_string(text),
        Field::Json(value) => value_json(value),
        Field::Context(context, tenant_id) => {
            let mut out = String::from("{");
            let _ = write!(out, "\"tenantId\": {}", json_string(tenant_id));
            for (key, value) in context.into_iter().flat_map(|context| context.iter()) {
                if key != "tenantId" {
                    let _ = write!(out, ", {}: ", json_string(key));
                    write_value(&mut out, value, 1);
                }
            }
            out.push('}');
            cut(out)
        }
    }
}

fn value_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    cut(out)
}

/// JSON text of `value`, stopping once longer than [`SHOWN_BYTES`] or
/// deeper than [`SHOWN_DEPTH`] (`…` stands for what is left out).
fn write_value(out: &mut String, value: &Value, depth: usize) {
    if out.len() > SHOWN_BYTES || depth > SHOWN_DEPTH {
        out.push('…');
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number_json(number)),
        Value::String(text) => out.push_str(&json_string(text)),
        Value::Array(items) => {
            out.push('[');
            for (position, item) in items.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, depth + 1);
                if out.len() > SHOWN_BYTES {
                    break;
                }
            }
            out.push(']');
        }
        Value::Object(object) => {
            out.push('{');
            for (position, (key, item)) in object.iter().enumerate() {
                if position > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", json_string(key));
                write_value(out, item, depth + 1);
                if out.len() > SHOWN_BYTES {
                    break;
                }
            }
            out.push('}');
        }
    }
}

/// A number in plain decimal, or in scientific notation when that would be
/// long (`1e400` is not written out).
fn number_json(number: &crate::number::Number) -> String {
    if number.text_len() <= SHOWN_BYTES {
        number.to_text()
    } else {
        format!("{number:?}")
    }
}

fn json_string(text: &str) -> String {
    let mut end = text.len().min(SHOWN_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let shown = serde_json::to_string(&text[..end]).unwrap_or_default();
    if end < text.len() {
        format!("{shown}…")
    } else {
        shown
    }
}

/// `[a, b, …]` of the items' texts, cut like a value: an `in` list may hold
/// thousands of items, each up to [`SHOWN_BYTES`].
fn list_text(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (position, item) in items.enumerate() {
        if out.len() > SHOWN_BYTES {
            out.push_str(", …");
            break;
        }
        if position > 0 {
            out.push_str(", ");
        }
        out.push_str(&item);
    }
    out.push(']');
    cut(out)
}

fn cut(mut text: String) -> String {
    if text.len() > SHOWN_BYTES + 8 {
        let mut end = SHOWN_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile;

    const PLATFORM: &str = "rules:\n  - {id: no-shell, tool: system.*, action: block}\n";
    const TENANT: &str = "default: escalate
rules:
  - id: big
    tool: payments.send
    action: block
    when: {args.amount: {gt: 1000}}
  - id: own-domain
    tool: email.*
    action: allow
    when:
      args.to: {endsWith: \"@${context.tenantId}.com\"}
      args.cc: {not: {exists: true}}
  - id: reads
    tool: file.read
    action: allow
";

    fn explained(tool: &str, args: &str) -> Explanation {
        let (platform, tenant) = (compile(PLATFORM).unwrap(), compile(TENANT).unwrap());
        let (args, context) = (Value::from_json(args).unwrap(), Value::empty_object());
        let request = Request {
            tool,
            args: &args,
            context: &context,
            tenant_id: "tenant-a",
        };
        let explanation = explain(Some(&platform), Some(&tenant), &request);
        assert_eq!(
            explanation.decision,
            crate::decide(Some(&platform), Some(&tenant), &request)
        );
        explanation
    }

    #[test]
    fn names_the_failed_condition_with_the_interpolated_operand() {
        let explanation = explained("email.send", r#"{"to": "eve@elsewhere.com"}"#);
        assert_eq!(explanation.decision.action, Action::Escalate);
        let [platform, tenant] = &explanation.layers[..] else {
            panic!("{explanation:?}")
        };
        assert_eq!((platform.layer, platform.rule_count), (Layer::Platform, 1));
        // The tool index offers no platform rule for email.send.
        assert!(platform.visited.is_empty());
        assert_eq!(
            (tenant.rule_count, tenant.default),
            (3, Some(Action::Escalate))
        );
        let [rule] = &tenant.visited[..] else {
            panic!("{tenant:?}")
        };
        assert_eq!(
            (rule.id.as_str(), rule.tool_matched, rule.matched),
            ("own-domain", true, false)
        );
        assert_eq!(
            rule.checks,
            [Check {
                path: "args.to".into(),
                operator: "endsWith",
                operand: r#""@${context.tenantId}.com""#.into(),
                interpolated: Some(Some(r#""@tenant-a.com""#.into())),
                field: FieldState::Present("string"),
                value: Some(r#""eve@elsewhere.com""#.into()),
                held: false,
            }]
        );
    }

    #[test]
    fn tells_a_missing_field_from_one_of_another_type() {
        let explanation = explained("payments.send", r#"{"amount": "lots"}"#);
        let check = &explanation.layers[1].visited[0].checks[0];
        assert_eq!(
            (
                check.operator,
                check.operand.as_str(),
                check.field,
                check.held
            ),
            ("gt", "1000", FieldState::OtherType("string"), false)
        );
        let explanation = explained("payments.send", "{}");
        let check = &explanation.layers[1].visited[0].checks[0];
        assert_eq!(
            (check.field, check.value.as_deref()),
            (FieldState::Missing, None)
        );
    }

    #[test]
    fn a_matching_rule_ends_the_layer_and_a_platform_block_the_decision() {
        let explanation = explained("email.send", r#"{"to": "bob@tenant-a.com"}"#);
        let rule = &explanation.layers[1].visited[0];
        assert!(rule.matched);
        // `not: {exists: true}` held because `exists` did not.
        assert_eq!(rule.checks.len(), 2);
        assert!(!rule.checks[1].held);

        let explanation = explained("system.exec", "{}");
        assert_eq!(explanation.layers.len(), 1, "the tenant is not consulted");
        assert!(explanation.layers[0].visited[0].matched);
    }

    #[test]
    fn long_and_deep_values_are_cut_short() {
        let long = format!(r#"{{"to": "{}"}}"#, "x".repeat(1000));
        let explanation = explained("email.send", &long);
        let value = explanation.layers[1].visited[0].checks[0]
            .value
            .clone()
            .unwrap();
        assert!(
            value.len() < SHOWN_BYTES + 8 && value.ends_with('…'),
            "{value}"
        );
        // So are the operand and its filled-in form of a long `in` list.
        let items: Vec<String> = (0..1000)
            .map(|i| format!("\"${{context.x}}-{i}\""))
            .collect();
        let policy = compile(&format!(
            "rules:\n  - {{action: allow, when: {{args.to: {{in: [{}]}}}}}}\n",
            items.join(", ")
        ))
        .unwrap();
        let (args, context) = (
            Value::from_json(r#"{"to": "y"}"#).unwrap(),
            Value::from_json(&format!(r#"{{"x": "{}"}}"#, "z".repeat(150))).unwrap(),
        );
        let request = Request {
            tool: "email.send",
            args: &args,
            context: &context,
            tenant_id: "tenant-a",
        };
        let explanation = explain(None, Some(&policy), &request);
        let check = &explanation.layers[0].visited[0].checks[0];
        let filled = check.interpolated.clone().unwrap().unwrap();
        for text in [&check.operand, &filled] {
            assert!(
                text.len() < SHOWN_BYTES + 8 && text.ends_with('…'),
                "{text}"
            );
        }
        let deep = format!(r#"{{"to": {}1{}}}"#, "[".repeat(100), "]".repeat(100));
        let explanation = explained("email.send", &deep);
        let value = explanation.layers[1].visited[0].checks[0]
            .value
            .clone()
            .unwrap();
        assert!(value.contains('…'), "{value}");
    }
}
