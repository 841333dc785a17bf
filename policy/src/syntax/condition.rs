//! Condition maps (`when:` and the items of `all`/`any`) and operator maps.

use std::collections::HashSet;

use serde::de::{self, MapAccess};

use super::Reader;
use super::operand::OperandShape;
use super::shape::{ListOf, Node, Shape};
use crate::condition::{Condition, FieldTest, Test};
use crate::error::PolicyError;
use crate::path::FieldPath;

/// A condition map: every entry must hold.
#[derive(Clone, Copy)]
pub(super) struct ConditionShape {
    pub(super) depth: usize,
}

enum ConditionKey {
    All,
    Any,
    Not,
    Path(FieldPath),
}

impl<'de> Shape<'de> for ConditionShape {
    type Value = Condition;

    fn expected(&self) -> &'static str {
        "a condition mapping (field paths, all, any, not)"
    }

    fn mapping<A: MapAccess<'de>>(
        self,
        reader: &Reader,
        mut map: A,
    ) -> Result<Condition, A::Error> {
        reader.enter(self.depth).map_err(PolicyError::into_yaml)?;
        let inner = ConditionShape {
            depth: self.depth + 1,
        };
        let list = ListOf {
            item: inner,
            expected: "a list of condition mappings",
        };
        let mut seen = HashSet::new();
        let mut parts = Vec::new();
        while let Some(key) =
            map.next_key_seed(Node::new(reader, ConditionKeyShape { seen: &mut seen }))?
        {
            parts.push(match key {
                ConditionKey::All => {
                    Condition::All(map.next_value_seed(Node::new(reader, list))?.into())
                }
                ConditionKey::Any => {
                    Condition::Any(map.next_value_seed(Node::new(reader, list))?.into())
                }
                ConditionKey::Not => {
                    Condition::Not(Box::new(map.next_value_seed(Node::new(reader, inner))?))
                }
                ConditionKey::Path(path) => {
                    let test = TestShape {
                        depth: self.depth + 1,
                    };
                    Condition::Leaf(FieldTest {
                        path,
                        test: map.next_value_seed(Node::new(reader, test))?,
                    })
                }
            });
        }
        Ok(Condition::all(parts))
    }
}

struct ConditionKeyShape<'s> {
    seen: &'s mut HashSet<String>,
}

impl<'de> Shape<'de> for ConditionKeyShape<'_> {
    type Value = ConditionKey;

    fn expected(&self) -> &'static str {
        "a field path or all, any, not"
    }

    fn string<E: de::Error>(self, _reader: &Reader, key: &str) -> Result<ConditionKey, E> {
        if !self.seen.insert(key.to_owned()) {
            return Err(PolicyError::invalid(format!("duplicate key {key:?}")).into_yaml());
        }
        match key {
            "all" => Ok(ConditionKey::All),
            "any" => Ok(ConditionKey::Any),
            "not" => Ok(ConditionKey::Not),
            path => FieldPath::parse(path)
                .map(ConditionKey::Path)
                .map_err(PolicyError::into_yaml),
        }
    }
}

/// An operator map: every operator must hold for the field's value.
#[derive(Clone, Copy)]
struct TestShape {
    depth: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperatorKey {
    All,
    Any,
    Not,
    Operator(OpKind),
}

/// The operators, before their operands are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpKind {
    Equals,
    NotEquals,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
}

/// Operator names, aliases included.
const OPERATORS: &[(&str, OpKind)] = &[
    ("equals", OpKind::Equals),
    ("eq", OpKind::Equals),
    ("notEquals", OpKind::NotEquals),
    ("neq", OpKind::NotEquals),
    ("in", OpKind::In),
    ("notIn", OpKind::NotIn),
    ("contains", OpKind::Contains),
    ("startsWith", OpKind::StartsWith),
    ("endsWith", OpKind::EndsWith),
    ("matches", OpKind::Matches),
    ("gt", OpKind::Gt),
    ("gte", OpKind::Gte),
    ("lt", OpKind::Lt),
    ("lte", OpKind::Lte),
    ("exists", OpKind::Exists),
];

const OPERATOR_HINT: &str = "valid operators: equals (eq), notEquals (neq), in, notIn, contains, startsWith, endsWith, matches, gt, gte, lt, lte, exists; combine them with all, any, not";

impl OpKind {
    pub(super) fn name(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, kind)| *kind == self)
            .map_or("operator", |(name, _)| name)
    }
}

impl<'de> Shape<'de> for TestShape {
    type Value = Test;

    fn expected(&self) -> &'static str {
        "an operator mapping such as `equals: value`"
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, mut map: A) -> Result<Test, A::Error> {
        reader.enter(self.depth).map_err(PolicyError::into_yaml)?;
        let inner = TestShape {
            depth: self.depth + 1,
        };
        let list = ListOf {
            item: inner,
            expected: "a list of operator mappings",
        };
        let mut seen = Vec::new();
        let mut parts = Vec::new();
        while let Some(key) =
            map.next_key_seed(Node::new(reader, OperatorKeyShape { seen: &mut seen }))?
        {
            parts.push(match key {
                OperatorKey::All => Test::All(map.next_value_seed(Node::new(reader, list))?.into()),
                OperatorKey::Any => Test::Any(map.next_value_seed(Node::new(reader, list))?.into()),
                OperatorKey::Not => {
                    Test::Not(Box::new(map.next_value_seed(Node::new(reader, inner))?))
                }
                OperatorKey::Operator(kind) => {
                    reader
                        .tally
                        .spend_condition()
                        .map_err(PolicyError::into_yaml)?;
                    Test::Leaf(map.next_value_seed(Node::new(reader, OperandShape(kind)))?)
                }
            });
        }
        if parts.is_empty() {
            return Err(PolicyError::invalid("the operator mapping is empty")
                .with_hint(OPERATOR_HINT)
                .into_yaml());
        }
        Ok(Test::all(parts))
    }
}

struct OperatorKeyShape<'s> {
    seen: &'s mut Vec<OperatorKey>,
}

impl<'de> Shape<'de> for OperatorKeyShape<'_> {
    type Value = OperatorKey;

    fn expected(&self) -> &'static str {
        "an operator name"
    }

    fn string<E: de::Error>(self, _reader: &Reader, name: &str) -> Result<OperatorKey, E> {
        let key = match name {
            "all" => OperatorKey::All,
            "any" => OperatorKey::Any,
            "not" => OperatorKey::Not,
            _ => match OPERATORS.iter().find(|(known, _)| *known == name) {
                Some((_, kind)) => OperatorKey::Operator(*kind),
                None => {
                    return Err(PolicyError::invalid(format!("unknown operator {name:?}"))
                        .with_hint(OPERATOR_HINT)
                        .into_yaml());
                }
            },
        };
        if self.seen.contains(&key) {
            return Err(PolicyError::invalid(format!("duplicate operator {name:?}")).into_yaml());
        }
        self.seen.push(key);
        Ok(key)
    }
}
