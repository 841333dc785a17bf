//! Reading policy YAML.
//!
//! Every check runs inside a `Deserialize` visitor, while serde_yaml still knows
//! where the node is, so that errors carry a path, line and column. Visitors are
//! written as [`Shape`](shape::Shape)s, which name the kinds of node they accept.

mod condition;
mod document;
mod nesting;
mod operand;
mod shape;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed};

use crate::action::Action;
use crate::compile::Limits;
use crate::error::PolicyError;
use crate::rule::Rule;
use shape::Node;

/// Compiled regexes may use at most this much memory each.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A policy document, read and compiled.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub(crate) default: Option<Action>,
    pub(crate) rules: Vec<Rule>,
}

pub(crate) fn parse(source: &str, limits: &Limits) -> Result<Document, PolicyError> {
    nesting::check(source)?;
    let reader = Reader::new(*limits);
    let mut documents = serde_yaml::Deserializer::from_str(source);
    let Some(first) = documents.next() else {
        return Err(document::empty());
    };
    let document = Node::new(&reader, document::PolicyShape)
        .deserialize(first)
        .map_err(|error| syntax_error(source).unwrap_or_else(|| PolicyError::from_yaml(&error)))?;
    if documents.next().is_some() {
        return Err(syntax_error(source).unwrap_or_else(|| {
            PolicyError::invalid("a policy must be a single YAML document")
                .with_hint("remove the `---` separators")
        }));
    }
    Ok(document)
}

/// The first YAML scanner or parser error in `source`, if any. Used once reading
/// has failed, to tell malformed YAML from an invalid policy.
fn syntax_error(source: &str) -> Option<PolicyError> {
    serde_yaml::Deserializer::from_str(source)
        .find_map(|document| de::IgnoredAny::deserialize(document).err())
        .map(|error| PolicyError::from_syntax(&error))
}

/// State shared by every visitor while one policy is read.
struct Reader {
    limits: Limits,
    /// Nodes that may still be read; bounds what YAML aliases can expand to.
    nodes_left: Cell<usize>,
    /// Compiled regexes by pattern, so that a repeated pattern compiles once.
    regexes: RefCell<HashMap<String, Regex>>,
}

impl Reader {
    fn new(limits: Limits) -> Self {
        Reader {
            limits,
            nodes_left: Cell::new(limits.max_source_bytes),
            regexes: RefCell::default(),
        }
    }

    fn spend_node(&self) -> Result<(), PolicyError> {
        let left = self.nodes_left.get().checked_sub(1).ok_or_else(|| {
            PolicyError::too_large(format!(
                "the policy expands to more than {} YAML nodes",
                self.limits.max_source_bytes
            ))
            .with_hint("YAML aliases repeat what they refer to; repeat less")
        })?;
        self.nodes_left.set(left);
        Ok(())
    }

    /// Checks the nesting depth of a condition or operator map.
    fn enter(&self, depth: usize) -> Result<(), PolicyError> {
        if depth > self.limits.max_depth {
            return Err(PolicyError::too_large(format!(
                "conditions are nested more than {} levels deep",
                self.limits.max_depth
            ))
            .with_hint("flatten the condition"));
        }
        Ok(())
    }

    fn regex(&self, pattern: &str) -> Result<Regex, PolicyError> {
        if let Some(regex) = self.regexes.borrow().get(pattern) {
            return Ok(regex.clone());
        }
        let regex = RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(regex_error)?;
        self.regexes
            .borrow_mut()
            .insert(pattern.to_owned(), regex.clone());
        Ok(regex)
    }
}

fn regex_error(error: regex::Error) -> PolicyError {
    match error {
        regex::Error::CompiledTooBig(limit) => PolicyError::invalid(format!(
            "the regular expression is too large once compiled (limit {limit} bytes)"
        ))
        .with_hint("simplify it, e.g. use smaller repetition counts"),
        other => {
            let detail = other.to_string();
            let problem = detail
                .lines()
                .rev()
                .find_map(|line| line.strip_prefix("error: "))
                .unwrap_or("syntax error")
                .to_owned();
            PolicyError::invalid(format!("invalid regular expression: {problem}")).with_hint(detail)
        }
    }
}
