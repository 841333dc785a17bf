//! Condition maps (`when:` and the items of `all`/`any`) and operator maps.
//!
//! Both are boolean maps: every entry must hold, and besides `all`, `any` and
//! `not` they hold their own [`Leaves`], field paths or operators. One
//! [`BoolMapShape`] reads both.

use std::collections::HashSet;
use std::marker::PhantomData;

use serde::de::{self, MapAccess};

use super::Reader;
use super::operand::{JsonShape, OperandShape};
use super::shape::{ListOf, Node, Shape};
use crate::condition::{FieldTest, Op};
use crate::error::PolicyError;
use crate::path::FieldPath;
use crate::rate::RateLimit;
use crate::tree::BoolTree;

/// The entries of a boolean map other than `all`, `any` and `not`.
pub(super) trait Leaves: Copy {
    type Key;
    type Leaf;
    /// The keys read so far, to reject a repeated one.
    type Seen: Default;
    /// What the map should be, as in "expected a condition mapping".
    const EXPECTED: &'static str;
    /// What `all` and `any` should be.
    const LIST: &'static str;
    /// What a key should be.
    const KEY: &'static str;

    /// Reads a key, `all`, `any` and `not` included (see [`BoolKey::combinator`]).
    fn key(seen: &mut Self::Seen, name: &str) -> Result<BoolKey<Self::Key>, PolicyError>;

    /// Reads the value of a leaf key, in a map nested `depth` levels deep.
    fn leaf<'de, A: MapAccess<'de>>(
        reader: &Reader,
        key: Self::Key,
        depth: usize,
        map: &mut A,
    ) -> Result<Self::Leaf, A::Error>;

    /// The error for a map without entries, unless it is allowed (and holds).
    fn empty() -> Option<PolicyError> {
        None
    }
}

/// A key of a boolean map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BoolKey<K> {
    All,
    Any,
    Not,
    Leaf(K),
}

impl<K> BoolKey<K> {
    fn combinator(name: &str) -> Option<Self> {
        match name {
            "all" => Some(BoolKey::All),
            "any" => Some(BoolKey::Any),
            "not" => Some(BoolKey::Not),
            _ => None,
        }
    }
}

/// A boolean map nested `depth` levels deep, its entries combined with `all`.
#[derive(Clone, Copy)]
pub(super) struct BoolMapShape<L> {
    depth: usize,
    leaves: PhantomData<L>,
}

/// A condition map: field paths and their operator maps.
pub(super) type ConditionShape = BoolMapShape<FieldTests>;

impl<L> BoolMapShape<L> {
    pub(super) fn at_depth(depth: usize) -> Self {
        BoolMapShape {
            depth,
            leaves: PhantomData,
        }
    }
}

impl<'de, L: Leaves> Shape<'de> for BoolMapShape<L> {
    type Value = BoolTree<L::Leaf>;

    fn expected(&self) -> &'static str {
        L::EXPECTED
    }

    fn mapping<A: MapAccess<'de>>(
        self,
        reader: &Reader,
        mut map: A,
    ) -> Result<Self::Value, A::Error> {
        reader.enter(self.depth).map_err(PolicyError::into_yaml)?;
        let inner = Self::at_depth(self.depth + 1);
        let list = ListOf {
            item: inner,
            expected: L::LIST,
        };
        let mut seen = L::Seen::default();
        let mut parts = Vec::new();
        while let Some(key) =
            map.next_key_seed(Node::new(reader, BoolKeyShape::<L> { seen: &mut seen }))?
        {
            parts.push(match key {
                BoolKey::All => BoolTree::All(map.next_value_seed(Node::new(reader, list))?.into()),
                BoolKey::Any => BoolTree::Any(map.next_value_seed(Node::new(reader, list))?.into()),
                BoolKey::Not => {
                    BoolTree::Not(Box::new(map.next_value_seed(Node::new(reader, inner))?))
                }
                BoolKey::Leaf(key) => BoolTree::Leaf(L::leaf(reader, key, self.depth, &mut map)?),
            });
        }
        if parts.is_empty()
            && let Some(error) = L::empty()
        {
            return Err(error.into_yaml());
        }
        Ok(BoolTree::all(parts))
    }
}

struct BoolKeyShape<'s, L: Leaves> {
    seen: &'s mut L::Seen,
}

impl<'de, L: Leaves> Shape<'de> for BoolKeyShape<'_, L> {
    type Value = BoolKey<L::Key>;

    fn expected(&self) -> &'static str {
        L::KEY
    }

    fn string<E: de::Error>(self, _reader: &Reader, name: &str) -> Result<Self::Value, E> {
        L::key(self.seen, name).map_err(PolicyError::into_yaml)
    }
}

/// The leaves of a condition map: field paths, each with an operator map.
#[derive(Clone, Copy)]
pub(super) struct FieldTests;

impl Leaves for FieldTests {
    type Key = FieldPath;
    type Leaf = FieldTest;
    type Seen = HashSet<String>;
    const EXPECTED: &'static str = "a condition mapping (field paths, all, any, not)";
    const LIST: &'static str = "a list of condition mappings";
    const KEY: &'static str = "a field path, rate, or all, any, not";

    fn key(seen: &mut HashSet<String>, name: &str) -> Result<BoolKey<FieldPath>, PolicyError> {
        if !seen.insert(name.to_owned()) {
            return Err(PolicyError::invalid(format!("duplicate key {name:?}")));
        }
        match BoolKey::combinator(name) {
            Some(key) => Ok(key),
            None if name == "rate" => Ok(BoolKey::Leaf(FieldPath::rate())),
            None => FieldPath::parse(name).map(BoolKey::Leaf),
        }
    }

    fn leaf<'de, A: MapAccess<'de>>(
        reader: &Reader,
        path: FieldPath,
        depth: usize,
        map: &mut A,
    ) -> Result<FieldTest, A::Error> {
        if path == FieldPath::rate() {
            reader
                .tally
                .spend_condition()
                .map_err(PolicyError::into_yaml)?;
            let value = map.next_value_seed(Node::new(reader, JsonShape))?;
            let limit = RateLimit::from_value(&value).map_err(PolicyError::into_yaml)?;
            return Ok(FieldTest {
                path,
                test: BoolTree::Leaf(Op::Rate(Box::new(limit))),
            });
        }
        let test = BoolMapShape::<Operators>::at_depth(depth + 1);
        Ok(FieldTest {
            path,
            test: map.next_value_seed(Node::new(reader, test))?,
        })
    }
}

/// The leaves of an operator map: operators, applied to the field's value.
#[derive(Clone, Copy)]
struct Operators;

impl Leaves for Operators {
    type Key = OpKind;
    type Leaf = Op;
    type Seen = Vec<BoolKey<OpKind>>;
    const EXPECTED: &'static str = "an operator mapping such as `equals: value`";
    const LIST: &'static str = "a list of operator mappings";
    const KEY: &'static str = "an operator name";

    fn key(seen: &mut Vec<BoolKey<OpKind>>, name: &str) -> Result<BoolKey<OpKind>, PolicyError> {
        let known = BoolKey::combinator(name).or_else(|| {
            OPERATORS
                .iter()
                .find(|(known, _)| *known == name)
                .map(|(_, kind)| BoolKey::Leaf(*kind))
        });
        let Some(key) = known else {
            return Err(
                PolicyError::invalid(format!("unknown operator {name:?}")).with_hint(OPERATOR_HINT)
            );
        };
        if seen.contains(&key) {
            return Err(PolicyError::invalid(format!("duplicate operator {name:?}")));
        }
        seen.push(key);
        Ok(key)
    }

    fn leaf<'de, A: MapAccess<'de>>(
        reader: &Reader,
        kind: OpKind,
        _depth: usize,
        map: &mut A,
    ) -> Result<Op, A::Error> {
        reader
            .tally
            .spend_condition()
            .map_err(PolicyError::into_yaml)?;
        map.next_value_seed(Node::new(reader, OperandShape(kind)))
    }

    fn empty() -> Option<PolicyError> {
        Some(PolicyError::invalid("the operator mapping is empty").with_hint(OPERATOR_HINT))
    }
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
