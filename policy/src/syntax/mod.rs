//! Reading policy YAML.
//!
//! Every check runs inside a `Deserialize` visitor, while serde_yaml still knows
//! where the node is, so that errors carry a path, line and column. Visitors are
//! written as [`Shape`](shape::Shape)s, which name the kinds of node they accept.

mod approval;
mod condition;
mod document;
mod format;
mod operand;
mod shape;
mod yaml;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Deserialize;
use serde::de;

use crate::action::Action;
use crate::error::{ErrorKind, PolicyError};
use crate::interrupt;
use crate::limits::{Limits, Tally};
use crate::regex::Regex;
use crate::rule::Rule;
use crate::testing::TestCase;
pub use format::format;
use shape::Node;

/// A lower estimate of the heap one YAML node takes once compiled, besides its
/// text, charged until the rule it is part of is complete and can be measured.
const NODE_BYTES: usize = 16;

/// A policy document, read and compiled.
#[derive(Debug, Default)]
pub(crate) struct Document {
    pub(crate) default: Option<Action>,
    pub(crate) rules: Vec<Rule>,
    /// The document's own test cases, which compiling leaves aside.
    pub(crate) tests: Vec<TestCase>,
    /// The estimated heap of the rules, within `Limits::max_compiled_bytes`.
    pub(crate) approx_bytes: usize,
}

pub(crate) fn parse(source: &str, limits: &Limits) -> Result<Document, PolicyError> {
    let stream = yaml::load(source).map_err(|error| match error {
        yaml::LoadError::TooDeep(error) => error,
        yaml::LoadError::Syntax => syntax_error(source)
            .unwrap_or_else(|| PolicyError::new(ErrorKind::Syntax, "malformed YAML")),
    })?;
    let reader = Reader::new(*limits);
    let document = yaml::read(&stream.first, Node::new(&reader, document::PolicyShape))?;
    if stream.documents > 1 {
        return Err(
            PolicyError::invalid("a policy must be a single YAML document")
                .with_hint("remove the `---` separators"),
        );
    }
    Ok(Document {
        approx_bytes: reader.tally.bytes(),
        ..document
    })
}

/// The first YAML scanner or parser error in `source`, if any, in the words
/// of serde_yaml (which reads with the same libyaml as [`yaml::load`]).
fn syntax_error(source: &str) -> Option<PolicyError> {
    serde_yaml::Deserializer::from_str(source)
        .find_map(|document| de::IgnoredAny::deserialize(document).err())
        .map(|error| PolicyError::from_syntax(&error))
}

/// State shared by every visitor while one policy is read.
struct Reader {
    tally: Tally,
    /// Compiled regexes by pattern, so that a repeated pattern compiles once.
    regexes: RefCell<HashMap<String, Regex>>,
}

impl Reader {
    fn new(limits: Limits) -> Self {
        Reader {
            tally: Tally::new(limits),
            regexes: RefCell::default(),
        }
    }

    fn limits(&self) -> &Limits {
        self.tally.limits()
    }

    /// Counts a node against the node budget and, provisionally, the byte budget.
    fn spend_node(&self) -> Result<(), PolicyError> {
        self.tally.spend_node()?;
        self.tally.spend_unsettled_bytes(NODE_BYTES)
    }

    /// Counts a string node's text, provisionally, against the byte budget.
    fn spend_text(&self, text: &str) -> Result<(), PolicyError> {
        self.tally.spend_unsettled_bytes(text.len())
    }

    /// Checks the nesting depth of a condition or operator map.
    fn enter(&self, depth: usize) -> Result<(), PolicyError> {
        if depth > self.limits().max_depth {
            return Err(PolicyError::too_large(format!(
                "conditions are nested more than {} levels deep",
                self.limits().max_depth
            ))
            .with_hint("flatten the condition"));
        }
        Ok(())
    }

    fn regex(&self, pattern: &str) -> Result<Regex, PolicyError> {
        if let Some(regex) = self.regexes.borrow().get(pattern) {
            return Ok(regex.clone());
        }
        interrupt::check();
        let regex = Regex::new(pattern)?;
        self.tally.spend_bytes(regex.approx_bytes())?;
        self.regexes
            .borrow_mut()
            .insert(pattern.to_owned(), regex.clone());
        Ok(regex)
    }
}
