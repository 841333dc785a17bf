//! Authensor rules, scopes and conditions, in this language's terms.

use std::collections::HashSet;

use serde_json::{Map, Value as Json, json};

use super::refuse;
use crate::error::PolicyError;
use crate::glob::Glob;
use crate::rate;

/// `effect` (or `defaultEffect`) as an action.
pub(super) fn action(effect: &Json, path: &str) -> Result<&'static str, PolicyError> {
    match effect.as_str() {
        Some("allow") => Ok("allow"),
        Some("deny") => Ok("block"),
        Some("require_approval") => Ok("escalate"),
        _ => Err(refuse(
            path,
            format!("expected allow, deny or require_approval, found {effect}"),
        )),
    }
}

const SCOPE_FIELDS: &[&str] = &["actionTypes", "principalTypes", "environments"];

/// A policy's `scope`: tool globs, and conditions on the call's context.
pub(super) struct Scope {
    globs: Option<Vec<String>>,
    conditions: Vec<Json>,
}

impl Scope {
    pub(super) fn read(
        scope: Option<&Json>,
        notes: &mut Vec<String>,
    ) -> Result<Scope, PolicyError> {
        let mut out = Scope {
            globs: None,
            conditions: Vec::new(),
        };
        let scope = match scope {
            None | Some(Json::Null) => return Ok(out),
            Some(Json::Object(scope)) => scope,
            Some(_) => return Err(refuse("scope", "expected a scope object")),
        };
        if let Some(other) = scope
            .keys()
            .find(|key| !SCOPE_FIELDS.contains(&key.as_str()))
        {
            return Err(refuse(
                &format!("scope.{other}"),
                format!("unknown scope field {other:?}"),
            ));
        }
        // In a fixed order, whatever the order of the source's keys.
        for key in SCOPE_FIELDS {
            let Some(value) = scope.get(*key) else {
                continue;
            };
            let path = format!("scope.{key}");
            let list = strings(value, &path)?;
            if list.is_empty() {
                continue;
            }
            match *key {
                "actionTypes" => {
                    for (index, glob) in list.iter().enumerate() {
                        check_glob(glob, &format!("{path}[{index}]"))?;
                    }
                    out.globs = Some(list);
                }
                "principalTypes" => {
                    notes.push("scope.principalTypes is checked against context.principal.type: pass the principal in the call's context".to_owned());
                    out.conditions
                        .push(json!({"context.principal.type": {"in": list}}));
                }
                "environments" => {
                    notes.push("scope.environments is checked against context.environment (a call without one passes, as in Authensor)".to_owned());
                    out.conditions.push(
                        json!({"context.environment": {"any": [{"exists": false}, {"in": list}]}}),
                    );
                }
                _ => unreachable!("SCOPE_FIELDS holds the fields matched above"),
            }
        }
        Ok(out)
    }

    /// Whether the policy applies to every call.
    pub(super) fn is_everything(&self) -> bool {
        self.globs.is_none() && self.conditions.is_empty()
    }

    /// A rule `id` that matches exactly the calls in scope.
    pub(super) fn guard(&self, id: String) -> Map<String, Json> {
        let mut rule = Map::new();
        rule.insert("id".to_owned(), json!(id));
        if let Some(globs) = &self.globs {
            rule.insert("tool".to_owned(), json!(globs));
        }
        if !self.conditions.is_empty() {
            rule.insert("when".to_owned(), json!({"all": self.conditions}));
        }
        rule
    }

    /// Whether the literal tool name `tool` is in scope.
    fn admits(&self, tool: &str) -> bool {
        self.globs.as_ref().is_none_or(|globs| {
            globs
                .iter()
                .any(|glob| Glob::parse(glob).is_ok_and(|glob| glob.matches(tool)))
        })
    }
}

fn strings(value: &Json, path: &str) -> Result<Vec<String>, PolicyError> {
    let Json::Array(items) = value else {
        return Err(refuse(path, "expected a list of strings"));
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| refuse(&format!("{path}[{index}]"), "expected a string"))
        })
        .collect()
}

/// Authensor globs are regexes in which `*` is `[^.]*` and `**` is `.*`.
/// Those whose `**` is a whole segment and that use no other regex syntax
/// mean the same here.
fn check_glob(glob: &str, path: &str) -> Result<(), PolicyError> {
    if let Some(c) = glob.chars().find(|c| "?+()[]{}|^$\\".contains(*c)) {
        return Err(refuse(
            path,
            format!("the pattern {glob:?} uses {c:?}, which Authensor reads as regex syntax"),
        )
        .with_hint("only `*` (within a segment) and `**` (whole segments) translate"));
    }
    if glob
        .split('.')
        .any(|segment| segment.contains("**") && segment != "**")
    {
        return Err(refuse(
            path,
            format!("the pattern {glob:?} uses `**` inside a segment"),
        )
        .with_hint("`**` translates only as a whole segment, as in `email.**`"));
    }
    Ok(())
}

pub(super) struct Translator<'n> {
    pub(super) notes: &'n mut Vec<String>,
    /// The ids of the source's rules and of those made for it.
    pub(super) taken: HashSet<String>,
}

impl Translator<'_> {
    /// `base`, or `base` followed by as many `_` as it takes to name no
    /// other rule, as the id of a rule the import adds.
    pub(super) fn free_id(&mut self, base: &str) -> String {
        let mut id = base.to_owned();
        while self.taken.contains(&id) {
            id.push('_');
        }
        self.taken.insert(id.clone());
        id
    }

    /// The rules one Authensor rule becomes: none when its action type lies
    /// outside the scope, two when it has a `rateLimit` (see [`RateLimit`]),
    /// else one.
    pub(super) fn rule(
        &mut self,
        rule: &Json,
        path: &str,
        scope: &Scope,
    ) -> Result<Vec<Json>, PolicyError> {
        let Json::Object(rule) = rule else {
            return Err(refuse(path, "expected a rule object"));
        };
        for key in rule.keys() {
            let field = format!("{path}.{key}");
            match key.as_str() {
                "id" | "effect" | "name" | "description" | "condition" | "approvalConfig"
                | "rateLimit" => {}
                "constraints" | "costBudget" => {
                    return Err(refuse(
                        &field,
                        format!("{key} cannot be expressed in the policy language"),
                    ));
                }
                other => return Err(refuse(&field, format!("unknown rule field {other:?}"))),
            }
        }
        let id = rule
            .get("id")
            .and_then(Json::as_str)
            .ok_or_else(|| refuse(&format!("{path}.id"), "the rule needs a string id"))?;
        let effect = rule
            .get("effect")
            .ok_or_else(|| refuse(&format!("{path}.effect"), "the rule needs an effect"))?;
        let action = action(effect, &format!("{path}.effect"))?;
        let mut out = Map::new();
        out.insert("id".to_owned(), json!(id));
        out.insert("action".to_owned(), json!(action));
        if let Some(reason) = rule.get("description").and_then(Json::as_str) {
            out.insert("reason".to_owned(), json!(reason));
        }
        if rule.contains_key("name") {
            self.notes
                .push(format!("{path}.name is not carried (the id is)"));
        }
        let condition_path = format!("{path}.condition");
        let (tools, condition) = self.lift_action_type(rule.get("condition"), &condition_path)?;
        match tools {
            Some(tools) => {
                let admitted: Vec<&String> =
                    tools.iter().filter(|tool| scope.admits(tool)).collect();
                if admitted.is_empty() {
                    self.notes.push(format!(
                        "{path} tests an action.type outside scope.actionTypes: it never matches, and is left out"
                    ));
                    return Ok(Vec::new());
                }
                out.insert("tool".to_owned(), json!(admitted));
            }
            None => {
                if let Some(globs) = &scope.globs {
                    out.insert("tool".to_owned(), json!(globs));
                }
            }
        }
        let mut when: Vec<Json> = scope.conditions.clone();
        if let Some(condition) = condition {
            when.push(self.condition(condition, &condition_path)?);
        }
        if let Some(config) = rule.get("approvalConfig") {
            let approval = approval(config, &format!("{path}.approvalConfig"), action)?;
            out.insert("approval".to_owned(), approval);
        }
        let Some(limit) = rule.get("rateLimit") else {
            insert_when(&mut out, when);
            return Ok(vec![Json::Object(out)]);
        };
        let limit_path = format!("{path}.rateLimit");
        let limit = RateLimit::read(limit, &limit_path, action, out.get("tool"))?;
        if action == "block" {
            // Blocked either way: the limit changes only the reason.
            self.notes.push(format!(
                "{limit_path} is not carried: a deny rule blocks whether or not its limit is reached"
            ));
            insert_when(&mut out, when);
            return Ok(vec![Json::Object(out)]);
        }
        let mut limited = Map::new();
        limited.insert(
            "id".to_owned(),
            json!(self.free_id(&format!("{id}.rate-limited"))),
        );
        if let Some(tool) = out.get("tool") {
            limited.insert("tool".to_owned(), tool.clone());
        }
        limited.insert("action".to_owned(), json!("block"));
        limited.insert("reason".to_owned(), json!(limit.reason()));
        insert_when(&mut limited, when.clone());
        when.push(json!({"not": {"rate": limit.condition()}}));
        insert_when(&mut out, when);
        Ok(vec![Json::Object(out), Json::Object(limited)])
    }

    /// Takes a test of `action.type` from the top of a rule's condition (the
    /// condition itself, or an item of its top-level `all`) as the rule's
    /// tool names; returns them and what is left of the condition.
    fn lift_action_type<'c>(
        &mut self,
        condition: Option<&'c Json>,
        path: &str,
    ) -> Result<(Option<Vec<String>>, Option<LeftOver<'c>>), PolicyError> {
        let Some(condition) = condition else {
            return Ok((None, None));
        };
        if is_action_type(condition) {
            return Ok((Some(tool_names(condition, path)?), None));
        }
        let Some(Json::Array(items)) = condition.get("all") else {
            return Ok((None, Some(LeftOver::Whole(condition))));
        };
        let mut tools = None;
        let mut rest = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if is_action_type(item) && tools.is_none() {
                tools = Some(tool_names(item, &format!("{path}.all[{index}]"))?);
            } else {
                rest.push((index, item));
            }
        }
        Ok((tools, Some(LeftOver::All(rest))))
    }

    fn condition(&mut self, condition: LeftOver, path: &str) -> Result<Json, PolicyError> {
        match condition {
            LeftOver::Whole(condition) => self.translate(condition, path),
            LeftOver::All(items) => {
                let mut all = Vec::new();
                for (index, item) in items {
                    all.push(self.translate(item, &format!("{path}.all[{index}]"))?);
                }
                Ok(json!({ "all": all }))
            }
        }
    }

    /// Authensor reads `all`, else `any`, else `not`, else a field test; a
    /// condition with none of them holds.
    fn translate(&mut self, condition: &Json, path: &str) -> Result<Json, PolicyError> {
        let condition = match condition {
            Json::Null => return Ok(json!({})),
            Json::Object(condition) => condition,
            _ => return Err(refuse(path, "expected a condition object")),
        };
        for (combinator, key) in [("all", "all"), ("any", "any")] {
            if let Some(items) = condition.get(key) {
                let Json::Array(items) = items else {
                    return Err(refuse(
                        &format!("{path}.{key}"),
                        "expected a list of conditions",
                    ));
                };
                let mut out = Vec::new();
                for (index, item) in items.iter().enumerate() {
                    out.push(self.translate(item, &format!("{path}.{key}[{index}]"))?);
                }
                return Ok(json!({ combinator: out }));
            }
        }
        if let Some(inner) = condition.get("not") {
            return Ok(json!({"not": self.translate(inner, &format!("{path}.not"))?}));
        }
        let (Some(field), Some(operator)) = (condition.get("field"), condition.get("operator"))
        else {
            self.notes.push(format!(
                "{path} has no field and operator: it always holds, as in Authensor"
            ));
            return Ok(json!({}));
        };
        let field = field
            .as_str()
            .ok_or_else(|| refuse(&format!("{path}.field"), "expected a string"))?;
        let operator = operator
            .as_str()
            .ok_or_else(|| refuse(&format!("{path}.operator"), "expected a string"))?;
        let target = self.field(field, path)?;
        let test = test(operator, condition.get("value"), path)?;
        Ok(json!({ target: test }))
    }

    /// The path an envelope field is read from here.
    fn field(&mut self, field: &str, path: &str) -> Result<String, PolicyError> {
        if field == "action.type" {
            return Err(refuse(
                &format!("{path}.field"),
                "action.type can be tested only at the top of a rule's condition, or in its top-level all, with eq or in",
            ));
        }
        if let Some(key) = field
            .split('.')
            .skip(1)
            .find(|key| JS_INHERITED_KEYS.contains(key))
        {
            return Err(refuse(
                &format!("{path}.field"),
                format!(
                    "the field {field:?} reads {key:?}, which JavaScript finds on every array or object (an array's length, a method) where this language finds nothing"
                ),
            )
            .with_hint("test the value itself; a list's length has no equivalent here"));
        }
        if field == "action.parameters" {
            return Ok("args".to_owned());
        }
        if let Some(rest) = field.strip_prefix("action.parameters.") {
            return Ok(format!("args.{rest}"));
        }
        if field == "context" || field.starts_with("context.") {
            return Ok(field.to_owned());
        }
        let carried = format!("context.{field}");
        let note = format!("{field} is read from {carried}: pass it in the call's context");
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
        Ok(carried)
    }
}

/// Keys that Authensor's field lookup (`value[key]` on any array or object)
/// reads from JavaScript's prototypes when the value has no such key of its
/// own: a test of them would hold there and never here, or the reverse.
const JS_INHERITED_KEYS: &[&str] = &[
    "length",
    "__proto__",
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// A rule's condition once its `action.type` test is taken out.
enum LeftOver<'c> {
    Whole(&'c Json),
    /// The remaining items of a top-level `all`, with their positions.
    All(Vec<(usize, &'c Json)>),
}

fn is_action_type(condition: &Json) -> bool {
    condition.get("all").is_none()
        && condition.get("any").is_none()
        && condition.get("not").is_none()
        && condition.get("field").and_then(Json::as_str) == Some("action.type")
}

/// The tool names an `action.type` test admits: `eq` one, `in` several.
fn tool_names(condition: &Json, path: &str) -> Result<Vec<String>, PolicyError> {
    let value = condition.get("value").unwrap_or(&Json::Null);
    let mut names = match condition.get("operator").and_then(Json::as_str) {
        Some("eq") => value.as_str().map(|name| vec![name.to_owned()]),
        Some("in") => strings(value, path).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        refuse(
            path,
            "action.type translates only with eq (a string) or in (a list of strings)",
        )
    })?;
    // Once each: `in: ["a", "a"]` is one action type.
    let mut seen = HashSet::new();
    names.retain(|name| seen.insert(name.clone()));
    if let Some(name) = names.iter().find(|name| name.contains('*')) {
        return Err(refuse(
            path,
            format!("the action type {name:?} contains `*`, which would be a pattern here"),
        ));
    }
    Ok(names)
}

/// One operator and its value as a test.
fn test(operator: &str, value: Option<&Json>, path: &str) -> Result<Json, PolicyError> {
    let value_path = format!("{path}.value");
    let bad = |what: &str| {
        refuse(
            &value_path,
            format!("{operator} needs {what}: with any other value Authensor's test never holds"),
        )
    };
    if operator == "exists" {
        return Ok(if truthy(value) {
            // Authensor counts null as absent.
            json!({"exists": true, "notEquals": null})
        } else {
            json!({"any": [{"exists": false}, {"equals": null}]})
        });
    }
    let value = value.ok_or_else(|| refuse(&value_path, format!("{operator} needs a value")))?;
    let literal = |text: &str| text.contains("${");
    Ok(match operator {
        "eq" | "neq" => {
            let test = match value {
                Json::Array(_) | Json::Object(_) => {
                    return Err(refuse(
                        &value_path,
                        "Authensor compares lists and objects by identity: this test never holds",
                    ));
                }
                Json::String(text) if literal(text) => {
                    json!({"matches": format!("^{}$", escape(text))})
                }
                _ => json!({"equals": value}),
            };
            if operator == "eq" {
                test
            } else {
                json!({"not": test})
            }
        }
        "gt" | "gte" | "lt" | "lte" => {
            if !value.is_number() {
                return Err(bad("a number"));
            }
            json!({ operator: value })
        }
        "in" | "notIn" => {
            let Json::Array(items) = value else {
                return Err(bad("a list"));
            };
            if items.iter().any(|item| {
                item.is_array() || item.is_object() || item.as_str().is_some_and(literal)
            }) {
                return Err(refuse(
                    &value_path,
                    "lists and objects never match in Authensor, and `${` cannot be written literally in an `in` list",
                ));
            }
            json!({ operator: items })
        }
        "contains" | "startsWith" | "endsWith" => {
            let text = value.as_str().ok_or_else(|| bad("a string"))?;
            if literal(text) {
                let pattern = match operator {
                    "contains" => escape(text),
                    "startsWith" => format!("^{}", escape(text)),
                    _ => format!("{}$", escape(text)),
                };
                json!({ "matches": pattern })
            } else if operator == "contains" {
                // Authensor's contains reads strings only, not lists.
                json!({"contains": text, "startsWith": ""})
            } else {
                json!({ operator: text })
            }
        }
        "matches" => {
            let pattern = value.as_str().ok_or_else(|| bad("a string"))?;
            json!({"matches": js_regex(pattern, &value_path)?})
        }
        other => {
            return Err(refuse(
                &format!("{path}.operator"),
                format!("unknown operator {other:?}"),
            ));
        }
    })
}

/// A JavaScript regular expression (no flags) as one of this language that
/// matches the same strings. JavaScript's `\\d`, `\\w` and `\\b` are ASCII,
/// its `.` stops at any line terminator, and escapes of other letters are
/// the letters; here classes are Unicode and `\\A`, `\\z`, `\\p`… mean
/// more. What would still read differently is refused.
fn js_regex(pattern: &str, path: &str) -> Result<String, PolicyError> {
    let differs = |what: &str| {
        refuse(
            path,
            format!("the pattern {pattern:?} uses {what}, which JavaScript reads otherwise than this language"),
        )
        .with_hint("rewrite the pattern without it")
    };
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    return Err(differs("a trailing backslash"));
                };
                match (escaped, in_class) {
                    ('d', false) => out.push_str("[0-9]"),
                    ('d', true) => out.push_str("0-9"),
                    ('w', false) => out.push_str("[0-9A-Za-z_]"),
                    ('w', true) => out.push_str("0-9A-Za-z_"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('W', false) => out.push_str("[^0-9A-Za-z_]"),
                    ('b', false) => out.push_str("(?-u:\\b)"),
                    ('B', false) => out.push_str("(?-u:\\B)"),
                    // In a class, JavaScript's \b is a backspace.
                    ('b', true) => out.push_str("\\x08"),
                    ('D' | 'W' | 'B', true) => {
                        return Err(differs(&format!("\\{escaped} in a class")));
                    }
                    // The same in both: whitespace, control escapes, code points.
                    ('s' | 'S' | 'f' | 'n' | 'r' | 't' | 'v' | 'x' | 'u', _) => {
                        out.push('\\');
                        out.push(escaped);
                    }
                    // JavaScript's identity escapes of other letters and digits
                    // (back-references, \c, \k) read otherwise or not at all here.
                    (letter, _) if letter.is_ascii_alphanumeric() => {
                        return Err(differs(&format!("\\{letter}")));
                    }
                    (other, _) => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                // JavaScript's [] matches nothing and [^] anything; here a
                // leading ] is a character of the class.
                if chars.peek() == Some(&']') {
                    return Err(differs("an empty class"));
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            // Here `[`, `&&`, `--` and `~~` in a class nest or combine classes.
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.peek() == Some(&'-') => {
                return Err(differs("`--` in a class"));
            }
            '.' if !in_class => out.push_str("[^\\n\\r\\u{2028}\\u{2029}]"),
            // (?i) and the like are flags here and a syntax error there.
            '(' if !in_class && chars.peek() == Some(&'?') => {
                out.push_str("(?");
                chars.next();
                match chars.peek() {
                    Some(':' | '=' | '!' | '<') => {}
                    _ => return Err(differs("`(?` with flags")),
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// JavaScript's truthiness of a JSON value (absent is false).
fn truthy(value: Option<&Json>) -> bool {
    match value {
        None | Some(Json::Null) => false,
        Some(Json::Bool(flag)) => *flag,
        Some(Json::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Json::String(text)) => !text.is_empty(),
        Some(_) => true,
    }
}

/// `text` as a regular expression matching it literally.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Sets a rule's `when` from the conditions that must all hold.
fn insert_when(rule: &mut Map<String, Json>, mut when: Vec<Json>) {
    match when.len() {
        0 => {}
        1 => {
            rule.insert("when".to_owned(), when.remove(0));
        }
        _ => {
            rule.insert("when".to_owned(), json!({ "all": when }));
        }
    }
}

/// A JSON number with no fraction, as JavaScript reads `1e3` or `5.0`: a
/// whole number (saturated past `u128`), or `None`.
fn whole_number(value: Option<&Json>) -> Option<u128> {
    let number = value?.as_number()?;
    number.as_u64().map(u128::from).or_else(|| {
        number
            .as_f64()
            .filter(|number| number.fract() == 0.0 && *number >= 0.0)
            .map(|number| number as u128)
    })
}

/// A rule's `rateLimit {requests, window, scope}`. Authensor keys its count
/// by the rule (`global`), the rule and the action type (`action`), or the
/// rule and the principal (`principal`, the default), and denies a call the
/// rule matches once the count reaches `requests`. Here an allow rule `r`
/// with a limit becomes `r` holding `not: {rate: {…, scope: rule}}`, which
/// counts the calls `r` allowed, followed by `r.rate-limited`, which blocks
/// the calls `r` matches once that count is reached. Counting by rule is
/// Authensor's `global`, and its `action` for a rule of one action type; a
/// count per principal has no equivalent.
struct RateLimit {
    requests: u64,
    window: String,
}

const RATE_LIMIT_HINT: &str = "write for example `\"rateLimit\": {\"requests\": 20, \"window\": \"1m\", \"scope\": \"global\"}`: requests a whole number from 1, window digits then s, m, h or d (1s to 366d), scope global, or action for a rule of one action type";

impl RateLimit {
    fn read(
        limit: &Json,
        path: &str,
        action: &str,
        tool: Option<&Json>,
    ) -> Result<RateLimit, PolicyError> {
        let Json::Object(limit) = limit else {
            return Err(refuse(path, "expected a rateLimit object").with_hint(RATE_LIMIT_HINT));
        };
        if let Some(other) = limit
            .keys()
            .find(|key| !["requests", "window", "scope"].contains(&key.as_str()))
        {
            return Err(refuse(
                &format!("{path}.{other}"),
                format!("unknown rateLimit field {other:?}"),
            )
            .with_hint(RATE_LIMIT_HINT));
        }
        let requests = whole_number(limit.get("requests"))
            .filter(|requests| *requests >= 1)
            .ok_or_else(|| {
                refuse(
                    &format!("{path}.requests"),
                    "rateLimit needs requests, a whole number from 1",
                )
                .with_hint(RATE_LIMIT_HINT)
            })?;
        // What a `rate` condition's max can be; no count comes near it.
        let requests = u64::try_from(requests)
            .ok()
            .filter(|requests| i64::try_from(*requests).is_ok())
            .ok_or_else(|| {
                refuse(
                    &format!("{path}.requests"),
                    format!(
                        "rateLimit requests is more than {}, the largest limit",
                        i64::MAX
                    ),
                )
                .with_hint("no count reaches such a limit: leave rateLimit out")
            })?;
        let window = limit
            .get("window")
            .and_then(Json::as_str)
            .filter(|window| rate::parse_window(window).is_some())
            .ok_or_else(|| {
                refuse(
                    &format!("{path}.window"),
                    "rateLimit needs a window of 1s to 366d, such as 1m, 1h or 7d",
                )
                .with_hint(RATE_LIMIT_HINT)
            })?;
        let scope_path = format!("{path}.scope");
        let scope = match limit.get("scope") {
            None => "principal",
            Some(Json::String(scope))
                if ["principal", "action", "global"].contains(&scope.as_str()) =>
            {
                scope
            }
            Some(_) => {
                return Err(refuse(&scope_path, "expected principal, action or global")
                    .with_hint(RATE_LIMIT_HINT));
            }
        };
        match scope {
            // A deny rule blocks either way: its scope does not matter.
            _ if action == "block" => {}
            "global" => {}
            "action" => {
                let one_type = tool.and_then(Json::as_array).is_some_and(|tools| {
                    tools.len() == 1 && !tools[0].as_str().is_some_and(|t| t.contains('*'))
                });
                if !one_type {
                    return Err(refuse(
                        &scope_path,
                        "a limit per action type translates only for a rule of one action type",
                    )
                    .with_hint("test action.type with eq in the rule's condition, or use scope global for one limit across the rule's action types"));
                }
            }
            _ => {
                return Err(refuse(
                    &scope_path,
                    "a limit per principal (Authensor's default scope) cannot be expressed: rate limits count the tenant's calls",
                )
                .with_hint("set scope to global for one limit on the rule's calls across principals"));
            }
        }
        if action == "escalate" {
            return Err(refuse(
                path,
                "a limit on a require_approval rule cannot be expressed: rate limits count allowed calls, and escalated ones are not",
            ));
        }
        Ok(RateLimit {
            requests,
            window: window.to_owned(),
        })
    }

    /// The `rate` condition that holds once the limit is reached.
    fn condition(&self) -> Json {
        json!({"max": self.requests, "per": self.window, "scope": "rule"})
    }

    /// Authensor's reason for a call over the limit.
    fn reason(&self) -> String {
        format!(
            "Rate limit exceeded: {} requests per {}",
            self.requests, self.window
        )
    }
}

/// A rule's `approvalConfig` as its `approval` block.
fn approval(config: &Json, path: &str, action: &str) -> Result<Json, PolicyError> {
    let Json::Object(config) = config else {
        return Err(refuse(path, "expected an object"));
    };
    if action != "escalate" {
        return Err(refuse(
            path,
            "approvalConfig belongs on a require_approval rule",
        ));
    }
    for (key, value) in config {
        let field = format!("{path}.{key}");
        match key.as_str() {
            "requiredApprovals" | "expiresIn" => {}
            "approvers" if value.as_array().is_none_or(Vec::is_empty) => {}
            "approvers" => {
                return Err(refuse(&field, "named approvers cannot be expressed: any admin key or trusted member of the tenant approves")
                    .with_hint("remove approvers; requiredApprovals sets how many distinct approvers are needed"));
            }
            other => {
                return Err(refuse(
                    &field,
                    format!("unknown approvalConfig field {other:?}"),
                ));
            }
        }
    }
    // In the order the formatter keeps (it leaves this mapping's order as
    // it is), whatever the order of the source's keys or of the JSON map.
    let mut out = Map::new();
    for (from, to) in [("expiresIn", "expires"), ("requiredApprovals", "required")] {
        if let Some(value) = config.get(from) {
            out.insert(to.to_owned(), value.clone());
        }
    }
    Ok(Json::Object(out))
}
