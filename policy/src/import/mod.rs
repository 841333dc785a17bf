//! Authensor JSON policies, turned into this policy language.
//!
//! An Authensor policy (`{id, name, version, scope, rules, defaultEffect}`,
//! rules `{id, effect, description, condition, approvalConfig}`) becomes a
//! policy document that decides as the Authensor engine would for the one
//! policy: rules in order, first match wins, then `defaultEffect`, and no
//! opinion (so fail-closed) when the scope does not apply or nothing matched.
//! What this language cannot say is refused with an error naming the field;
//! what it can only say through the call's context is carried there and
//! listed in the notes. The result is laid out by [`crate::format`], which
//! compiles it.

mod condition;

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value as Json, json};

use crate::error::PolicyError;
use crate::limits::Limits;
use crate::syntax::format;
use condition::{Scope, Translator};

/// An imported policy: its YAML, and what a reader should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub yaml: String,
    /// Fields carried into context conditions, or without effect.
    pub notes: Vec<String>,
}

/// How many times larger than the policy size limit a source may be.
const SOURCE_SIZE_FACTOR: usize = 4;

/// The import formats there are.
pub const IMPORT_FORMATS: &[&str] = &["authensor"];

/// Turns the Authensor policy `source` (JSON text: one policy, or a list of
/// exactly one) into a policy document.
pub fn import_authensor(source: &str) -> Result<Imported, PolicyError> {
    // Checked before reading, which no one can interrupt: the document made
    // is refused past max_source_bytes anyway, and only what is dropped
    // (metadata, names) can make the source much larger than it.
    let limit = SOURCE_SIZE_FACTOR * Limits::default().max_source_bytes;
    if source.len() > limit {
        return Err(PolicyError::too_large(format!(
            "the source is {} bytes, more than the limit of {limit}",
            source.len()
        )));
    }
    let document: Json = serde_json::from_str(source)
        .map_err(|error| PolicyError::invalid(format!("the source is not JSON: {error}")))?;
    let policy = match document {
        Json::Object(policy) => policy,
        Json::Array(mut policies) if policies.len() == 1 => match policies.pop() {
            Some(Json::Object(policy)) => policy,
            _ => return Err(refuse("[0]", "expected a policy object")),
        },
        Json::Array(policies) if policies.len() > 1 => {
            return Err(refuse(
                "",
                "several policies cannot be imported as one: their `priority` and fall-through order have no equivalent",
            )
            .with_hint("import each policy on its own, as its own tenant or platform policy"));
        }
        _ => return Err(refuse("", "expected an Authensor policy object")),
    };
    Importer::default().policy(&policy)
}

pub(super) fn refuse(path: &str, message: impl Into<String>) -> PolicyError {
    let mut error = PolicyError::invalid(message);
    if !path.is_empty() {
        error.path = Some(path.to_owned());
    }
    error
}

#[derive(Default)]
struct Importer {
    notes: Vec<String>,
}

impl Importer {
    fn policy(mut self, policy: &Map<String, Json>) -> Result<Imported, PolicyError> {
        for (key, value) in policy {
            match key.as_str() {
                "id" | "name" | "version" | "description" | "rules" | "defaultEffect" | "scope" => {
                }
                "enabled" => match value {
                    Json::Bool(true) => {}
                    Json::Bool(false) => {
                        return Err(refuse(
                            "enabled",
                            "the policy is disabled: Authensor would never consult it",
                        ));
                    }
                    _ => return Err(refuse("enabled", "expected true or false")),
                },
                "priority" | "metadata" => {}
                "sessionRules" => {
                    return Err(refuse(
                        "sessionRules",
                        "session rules (sequences, counts and risk across a session) cannot be expressed",
                    ));
                }
                other => return Err(refuse(other, format!("unknown policy field {other:?}"))),
            }
        }
        // Notes in a fixed order, whatever the order of the source's keys.
        if let Some(priority) = policy.get("priority") {
            self.notes.push(format!(
                "priority {priority} orders several policies; alone, the policy is unaffected"
            ));
        }
        if policy.contains_key("metadata") {
            self.notes
                .push("metadata is descriptive and not carried".to_owned());
        }
        let scope = Scope::read(policy.get("scope"), &mut self.notes)?;
        let Some(Json::Array(rules)) = policy.get("rules") else {
            return Err(refuse("rules", "the policy needs a list of rules"));
        };
        let mut translator = Translator {
            notes: &mut self.notes,
            taken: rule_ids(rules)?,
        };
        let mut out = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let path = format!("rules[{index}]");
            out.extend(translator.rule(rule, &path, &scope)?);
        }
        let mut document = Map::new();
        document.insert("description".to_owned(), json!(describe(policy)));
        match policy.get("defaultEffect") {
            None | Some(Json::Null) => {}
            Some(effect) => {
                let action = condition::action(effect, "defaultEffect")?;
                if scope.is_everything() {
                    document.insert("default".to_owned(), json!(action));
                } else {
                    // The default applies only within the scope, as a last rule.
                    let mut rule = scope.guard(translator.free_id("default-effect"));
                    rule.insert("action".to_owned(), json!(action));
                    rule.insert(
                        "reason".to_owned(),
                        json!(format!(
                            "Default policy effect: {}",
                            effect.as_str().unwrap_or("")
                        )),
                    );
                    out.push(Json::Object(rule));
                }
            }
        }
        document.insert("rules".to_owned(), Json::Array(out));
        // The line and column would be those of an internal text; the path
        // names the field of the document.
        let yaml = format(&Json::Object(document).to_string()).map_err(|mut error| {
            (error.line, error.column) = (None, None);
            error
        })?;
        Ok(Imported {
            yaml,
            notes: self.notes,
        })
    }
}

/// `Name (id, version): description`, from what the policy has of them.
fn describe(policy: &Map<String, Json>) -> String {
    let text = |key: &str| policy.get(key).and_then(Json::as_str).unwrap_or("");
    let mut out = format!("Imported from the Authensor policy {:?}", text("id"));
    if !text("version").is_empty() {
        out += &format!(" version {}", text("version"));
    }
    for key in ["name", "description"] {
        if !text(key).is_empty() {
            out += &format!(". {}", text(key));
        }
    }
    out
}

/// The ids of the source's rules, each once and none empty: ids name one
/// rule here, and the document's own error would name a rule by its
/// position there, where the rules a rate limit adds shift it.
fn rule_ids(rules: &[Json]) -> Result<HashSet<String>, PolicyError> {
    let mut first = HashMap::new();
    for (index, rule) in rules.iter().enumerate() {
        let Some(id) = rule.get("id").and_then(Json::as_str) else {
            continue;
        };
        if id.is_empty() {
            return Err(refuse(
                &format!("rules[{index}].id"),
                "the rule id is empty: here each rule needs an id of its own",
            )
            .with_hint("give the rule a name"));
        }
        if let Some(earlier) = first.insert(id, index) {
            return Err(refuse(
                &format!("rules[{index}].id"),
                format!("the rule id {id:?} is also that of rules[{earlier}]: here each rule needs an id of its own"),
            )
            .with_hint("rename one of the two rules"));
        }
    }
    Ok(first.into_keys().map(str::to_owned).collect())
}
