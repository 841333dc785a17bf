//! A reference evaluator written from docs/language.md alone: it interprets
//! the oracle's syntax tree directly, with no index, no precompiled glob and
//! nothing of the engine but the shape of its answer.

use super::decimal::Decimal;
use super::model::{Act, Compare, Cond, CondEntry, Json, Op, PolicyAst, Req, Test, TestEntry};

pub const FAIL_CLOSED: &str =
    "no rule matched in the platform or tenant policy and neither sets a default (fail-closed)";

/// One policy's verdict (section 8.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Act,
    pub rule_id: Option<String>,
    pub reason: String,
}

/// The decision (section 1): layer is `platform`, `tenant` or `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Act,
    pub layer: &'static str,
    pub rule_id: Option<String>,
    pub reason: String,
}

/// What a request looks like to conditions: the context with its `tenantId`
/// set to the session's tenant (section 5).
pub struct Call<'a> {
    tool: &'a str,
    args: &'a Json,
    context: Json,
}

impl<'a> Call<'a> {
    pub fn new(request: &'a Req, tenant_id: &str) -> Call<'a> {
        let Json::Obj(entries) = &request.context else {
            panic!("context is an object")
        };
        let mut context: Vec<(String, Json)> = entries
            .iter()
            .filter(|(key, _)| key != "tenantId")
            .cloned()
            .collect();
        context.push(("tenantId".to_string(), Json::Str(tenant_id.to_string())));
        Call {
            tool: &request.tool,
            args: &request.args,
            context: Json::Obj(context),
        }
    }
}

/// Section 8.2.
pub fn decide(platform: Option<&PolicyAst>, tenant: Option<&PolicyAst>, call: &Call) -> Decision {
    let chosen = |verdict: Verdict, layer| Decision {
        action: verdict.action,
        layer,
        rule_id: verdict.rule_id,
        reason: verdict.reason,
    };
    let platform_verdict = platform.and_then(|policy| verdict(policy, call));
    if let Some(p) = &platform_verdict
        && p.action == Act::Block
    {
        return chosen(p.clone(), "platform");
    }
    let tenant_verdict = tenant.and_then(|policy| verdict(policy, call));
    match (platform_verdict, tenant_verdict) {
        (Some(p), Some(t)) if t.action > p.action => chosen(t, "tenant"),
        (Some(p), _) => chosen(p, "platform"),
        (None, Some(t)) => chosen(t, "tenant"),
        (None, None) => Decision {
            action: Act::Block,
            layer: "default",
            rule_id: None,
            reason: FAIL_CLOSED.to_string(),
        },
    }
}

/// Section 8.1: the first rule that matches, else the default, else none.
pub fn verdict(policy: &PolicyAst, call: &Call) -> Option<Verdict> {
    for (position, rule) in policy.rules.iter().enumerate() {
        let tool_matches = match &rule.tools {
            None => true,
            Some(patterns) => patterns
                .iter()
                .any(|pattern| pattern_matches(pattern, call.tool)),
        };
        if tool_matches && rule.when.as_ref().is_none_or(|when| cond_holds(when, call)) {
            let id = rule
                .id
                .clone()
                .unwrap_or_else(|| format!("rules[{position}]"));
            let reason = rule
                .reason
                .clone()
                .unwrap_or_else(|| format!("rule \"{id}\" matched"));
            return Some(Verdict {
                action: rule.action,
                rule_id: Some(id),
                reason,
            });
        }
    }
    policy.default.map(|action| Verdict {
        action,
        rule_id: None,
        reason: format!("no rule matched; the policy default is {}", action.name()),
    })
}

/// Section 3: segments in order, none of the name's left over.
pub fn pattern_matches(pattern: &str, tool: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let name: Vec<&str> = tool.split('.').collect();
    segments_match(&pattern, &name)
}

fn segments_match(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((&"**", rest)) => (1..=name.len()).any(|taken| segments_match(rest, &name[taken..])),
        Some((segment, rest)) => {
            !name.is_empty()
                && segment_matches(segment, name[0])
                && segments_match(rest, &name[1..])
        }
    }
}

fn segment_matches(segment: &str, name: &str) -> bool {
    let segment: Vec<char> = segment.chars().collect();
    let name: Vec<char> = name.chars().collect();
    stars_match(&segment, &name)
}

/// `*` is any run of characters, everything else itself.
fn stars_match(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skipped| stars_match(rest, &text[skipped..])),
        Some((c, rest)) => text.first() == Some(c) && stars_match(rest, &text[1..]),
    }
}

/// Section 5: the value at a path, `None` when missing.
fn value_at(path: &str, call: &Call) -> Option<Json> {
    let mut segments = path.split('.');
    let root = segments.next().expect("a path has a root");
    let mut value = match root {
        "tool" => return Some(Json::Str(call.tool.to_string())),
        "args" => call.args.clone(),
        "context" => call.context.clone(),
        other => panic!("the generator wrote the unknown root {other}"),
    };
    for key in segments {
        value = step(&value, key)?;
    }
    Some(value)
}

fn step(value: &Json, key: &str) -> Option<Json> {
    match value {
        Json::Obj(entries) => entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone()),
        Json::Arr(items) => {
            let bytes = key.as_bytes();
            let is_index = key == "0"
                || (matches!(bytes.first(), Some(b'1'..=b'9'))
                    && bytes.iter().all(u8::is_ascii_digit));
            if !is_index {
                return None;
            }
            key.parse::<usize>()
                .ok()
                .and_then(|n| items.get(n))
                .cloned()
        }
        _ => None,
    }
}

/// Section 4.2.
pub fn equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Null, Json::Null) => true,
        (Json::Bool(x), Json::Bool(y)) => x == y,
        (Json::Num(x), Json::Num(y)) => Decimal::parse(x) == Decimal::parse(y),
        (Json::Str(x), Json::Str(y)) => x == y,
        (Json::Arr(x), Json::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| equal(p, q))
        }
        (Json::Obj(x), Json::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, p)| y.iter().any(|(k, q)| k == key && equal(p, q)))
        }
        _ => false,
    }
}

fn cond_holds(cond: &Cond, call: &Call) -> bool {
    cond.0.iter().all(|entry| match entry {
        CondEntry::Path(path, test) => test_holds(test, value_at(path, call).as_ref(), call),
        CondEntry::All(items) => items.iter().all(|item| cond_holds(item, call)),
        CondEntry::Any(items) => items.iter().any(|item| cond_holds(item, call)),
        CondEntry::Not(inner) => !cond_holds(inner, call),
    })
}

fn test_holds(test: &Test, value: Option<&Json>, call: &Call) -> bool {
    test.0.iter().all(|entry| match entry {
        TestEntry::Op(op) => op_holds(op, value, call),
        TestEntry::All(items) => items.iter().all(|item| test_holds(item, value, call)),
        TestEntry::Any(items) => items.iter().any(|item| test_holds(item, value, call)),
        TestEntry::Not(inner) => !test_holds(inner, value, call),
    })
}

/// Section 6, with operands resolved as section 7 says.
fn op_holds(op: &Op, value: Option<&Json>, call: &Call) -> bool {
    match op {
        Op::Equals { operand, .. } => equals(value, operand, call),
        Op::NotEquals { operand, .. } => !equals(value, operand, call),
        Op::In(items) => items.iter().any(|item| equals(value, item, call)),
        Op::NotIn(items) => !items.iter().any(|item| equals(value, item, call)),
        Op::Contains(operand) => match value {
            Some(Json::Str(text)) => match operand {
                Json::Str(needle) => {
                    as_text(needle, call).is_some_and(|needle| text.contains(&needle))
                }
                _ => false,
            },
            Some(Json::Arr(items)) => as_value(operand, call)
                .is_some_and(|needle| items.iter().any(|item| equal(item, &needle))),
            _ => false,
        },
        Op::StartsWith(prefix) => match value {
            Some(Json::Str(text)) => {
                as_text(prefix, call).is_some_and(|prefix| text.starts_with(&prefix))
            }
            _ => false,
        },
        Op::EndsWith(suffix) => match value {
            Some(Json::Str(text)) => {
                as_text(suffix, call).is_some_and(|suffix| text.ends_with(&suffix))
            }
            _ => false,
        },
        Op::Matches(pattern) => match value {
            Some(Json::Str(text)) => regex::Regex::new(pattern)
                .expect("a valid pattern")
                .is_match(text),
            _ => false,
        },
        Op::Compare(compare, bound) => match value {
            Some(Json::Num(number)) => {
                let (number, bound) = (Decimal::parse(number), Decimal::parse(bound));
                match compare {
                    Compare::Gt => number > bound,
                    Compare::Gte => number >= bound,
                    Compare::Lt => number < bound,
                    Compare::Lte => number <= bound,
                }
            }
            _ => false,
        },
        Op::Exists(wanted) => value.is_some() == *wanted,
    }
}

fn equals(value: Option<&Json>, operand: &Json, call: &Call) -> bool {
    match (value, as_value(operand, call)) {
        (Some(value), Some(operand)) => equal(value, &operand),
        _ => false,
    }
}

/// The pieces of a string operand: text, and placeholders' paths
/// (`context.…`). A placeholder ends at the first `}` after its `${`.
enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn pieces(operand: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = operand;
    while let Some(open) = rest.find("${") {
        let close = open
            + rest[open..]
                .find('}')
                .expect("the generator closes every ${");
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        pieces.push(Piece::Placeholder(&rest[open + 2..close]));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    pieces
}

/// A placeholder's value when it resolves: a string, number or boolean.
fn placeholder_value(path: &str, call: &Call) -> Option<Json> {
    assert!(
        path.starts_with("context."),
        "the generator names fields under context only"
    );
    value_at(path, call)
        .filter(|value| matches!(value, Json::Str(_) | Json::Num(_) | Json::Bool(_)))
}

/// An operand used as a value: a string that is one placeholder alone is
/// that placeholder's value; other strings are text; anything else (nested
/// strings included) is literal. `None`: it does not resolve.
fn as_value(operand: &Json, call: &Call) -> Option<Json> {
    match operand {
        Json::Str(text) => match pieces(text).as_slice() {
            [Piece::Placeholder(path)] => placeholder_value(path, call),
            _ => as_text(text, call).map(Json::Str),
        },
        other => Some(other.clone()),
    }
}

/// A string operand as text: each placeholder replaced by its value's text.
fn as_text(operand: &str, call: &Call) -> Option<String> {
    let mut text = String::new();
    for piece in pieces(operand) {
        match piece {
            Piece::Text(part) => text.push_str(part),
            Piece::Placeholder(path) => match placeholder_value(path, call)? {
                Json::Str(value) => text.push_str(&value),
                Json::Num(number) => text.push_str(&Decimal::parse(&number).text()),
                Json::Bool(flag) => text.push_str(if flag { "true" } else { "false" }),
                _ => unreachable!("placeholder_value keeps scalars only"),
            },
        }
    }
    Some(text)
}
