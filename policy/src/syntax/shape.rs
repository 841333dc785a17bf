//! The visitor framework: a [`Shape`] names the kinds of YAML node it accepts,
//! and [`Node`] turns it into a serde visitor that rejects every other kind in
//! the policy's own words.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::Reader;
use crate::error::PolicyError;
use crate::number::{Number, NumberError};

/// The error for a node of the wrong kind.
fn mismatch(expected: &str, found: &str) -> PolicyError {
    PolicyError::invalid(format!("expected {expected}, found {found}"))
}

/// A visitor for one kind of policy node. Each method handles one kind of YAML
/// node; those left out reject it.
pub(super) trait Shape<'de>: Sized {
    type Value;

    /// What the node should be, as in "expected a list of rules".
    fn expected(&self) -> &'static str;

    fn string<E: de::Error>(self, _reader: &Reader, _text: &str) -> Result<Self::Value, E> {
        Err(mismatch(self.expected(), "a string").into_yaml())
    }

    fn boolean<E: de::Error>(self, _reader: &Reader, _flag: bool) -> Result<Self::Value, E> {
        Err(mismatch(self.expected(), "a boolean").into_yaml())
    }

    fn number<E: de::Error>(self, _reader: &Reader, _number: Number) -> Result<Self::Value, E> {
        Err(mismatch(self.expected(), "a number").into_yaml())
    }

    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Self::Value, E> {
        Err(mismatch(self.expected(), "null").into_yaml())
    }

    fn sequence<A: SeqAccess<'de>>(
        self,
        _reader: &Reader,
        _seq: A,
    ) -> Result<Self::Value, A::Error> {
        Err(mismatch(self.expected(), "a list").into_yaml())
    }

    fn mapping<A: MapAccess<'de>>(
        self,
        _reader: &Reader,
        _map: A,
    ) -> Result<Self::Value, A::Error> {
        Err(mismatch(self.expected(), "a mapping").into_yaml())
    }
}

/// Reads one node as a [`Shape`], counting it against the node budget.
pub(super) struct Node<'r, S> {
    reader: &'r Reader,
    shape: S,
}

impl<'r, S> Node<'r, S> {
    pub(super) fn new(reader: &'r Reader, shape: S) -> Self {
        Node { reader, shape }
    }
}

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Node<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.reader.spend_node().map_err(PolicyError::into_yaml)?;
        // `deserialize_any` lets every kind of node reach the shape, which
        // reports the wrong ones in its own words.
        deserializer.deserialize_any(self)
    }
}

impl<'de, S: Shape<'de>> Visitor<'de> for Node<'_, S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.shape.expected())
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<S::Value, E> {
        self.shape.boolean(self.reader, flag)
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<S::Value, E> {
        self.shape.number(self.reader, number.into())
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<S::Value, E> {
        self.shape.number(self.reader, number.into())
    }

    fn visit_i128<E: de::Error>(self, number: i128) -> Result<S::Value, E> {
        self.shape.number(self.reader, number.into())
    }

    fn visit_u128<E: de::Error>(self, number: u128) -> Result<S::Value, E> {
        self.shape.number(self.reader, number.into())
    }

    /// Only `.inf` and `.nan` arrive as floats: the reader passes every other
    /// number as its text (see `visit_bytes`).
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<S::Value, E> {
        match Number::parse(&number.to_string()) {
            Ok(number) => self.shape.number(self.reader, number),
            _ => Err(PolicyError::invalid("numbers must be finite").into_yaml()),
        }
    }

    /// A number as written in the source: the reader resolves a plain scalar
    /// to a number and hands over its text, which is read here exactly.
    fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<S::Value, E> {
        let text = std::str::from_utf8(text).unwrap_or_default();
        self.reader
            .spend_text(text)
            .map_err(PolicyError::into_yaml)?;
        match Number::parse(text) {
            Ok(number) => self.shape.number(self.reader, number),
            Err(NumberError::OutOfRange) => Err(PolicyError::invalid(format!(
                "the number {text:.40} is out of range"
            ))
            .with_hint("a number's magnitude must lie between 10^-1000000000 and 10^1000000000")
            .into_yaml()),
            Err(NumberError::Syntax) => {
                Err(PolicyError::invalid(format!("{text:.40} is not a number")).into_yaml())
            }
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<S::Value, E> {
        self.reader
            .spend_text(text)
            .map_err(PolicyError::into_yaml)?;
        self.shape.string(self.reader, text)
    }

    fn visit_unit<E: de::Error>(self) -> Result<S::Value, E> {
        self.shape.null(self.reader)
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Value, E> {
        self.shape.null(self.reader)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Value, A::Error> {
        self.shape.sequence(self.reader, seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Value, A::Error> {
        self.shape.mapping(self.reader, map)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _data: A) -> Result<S::Value, A::Error> {
        Err(PolicyError::invalid("YAML tags are not supported")
            .with_hint("remove the `!tag`")
            .into_yaml())
    }
}

/// A list whose items all have the same shape.
#[derive(Clone, Copy)]
pub(super) struct ListOf<S> {
    pub(super) item: S,
    pub(super) expected: &'static str,
}

impl<'de, S: Shape<'de> + Copy> Shape<'de> for ListOf<S> {
    type Value = Vec<S::Value>;

    fn expected(&self) -> &'static str {
        self.expected
    }

    fn sequence<A: SeqAccess<'de>>(
        self,
        reader: &Reader,
        mut seq: A,
    ) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Node::new(reader, self.item))? {
            items.push(item);
        }
        Ok(items)
    }
}

/// The fixed set of keys of a mapping such as a rule.
pub(super) trait Fields: Copy + PartialEq + 'static {
    const ALL: &'static [Self];
    /// What has these keys, as in "unknown key in a rule".
    const OWNER: &'static str;

    fn name(self) -> &'static str;
}

/// A key of a [`Fields`] mapping, rejected where it stands if unknown or repeated.
pub(super) struct FieldKey<'s, F> {
    seen: &'s mut Vec<F>,
}

impl<'s, F> FieldKey<'s, F> {
    pub(super) fn new(seen: &'s mut Vec<F>) -> Self {
        FieldKey { seen }
    }
}

impl<'de, F: Fields> Shape<'de> for FieldKey<'_, F> {
    type Value = F;

    fn expected(&self) -> &'static str {
        "a key name"
    }

    fn string<E: de::Error>(self, _reader: &Reader, key: &str) -> Result<F, E> {
        let Some(field) = F::ALL.iter().copied().find(|field| field.name() == key) else {
            let valid: Vec<&str> = F::ALL.iter().map(|field| field.name()).collect();
            return Err(
                PolicyError::invalid(format!("unknown key {key:?} in {}", F::OWNER))
                    .with_hint(format!("valid keys: {}", valid.join(", ")))
                    .into_yaml(),
            );
        };
        if self.seen.contains(&field) {
            return Err(PolicyError::invalid(format!("duplicate key {key:?}")).into_yaml());
        }
        self.seen.push(field);
        Ok(field)
    }
}
