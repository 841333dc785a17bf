//! Operator operands, type-checked where they stand.

use serde::de::{self, MapAccess, SeqAccess};

use super::Reader;
use super::condition::OpKind;
use super::shape::{ListOf, Node, Shape};
use crate::condition::{Choices, Comparison, Op, Operand};
use crate::error::PolicyError;
use crate::number::Number;
use crate::template::Template;
use crate::value::{Object, Value};

/// The operand of one operator.
#[derive(Clone, Copy)]
pub(super) struct OperandShape(pub(super) OpKind);

/// A scalar operand as read from YAML.
enum Scalar<'a> {
    Text(&'a str),
    Bool(bool),
    Number(Number),
    Null,
}

impl OperandShape {
    fn build(self, reader: &Reader, scalar: Scalar) -> Result<Op, PolicyError> {
        let kind = self.0;
        Ok(match (kind, scalar) {
            (OpKind::Equals, scalar) => Op::Equals(operand(reader, scalar)?),
            (OpKind::NotEquals, scalar) => Op::NotEquals(operand(reader, scalar)?),
            (OpKind::Contains, scalar) => Op::Contains(operand(reader, scalar)?),
            (OpKind::StartsWith, Scalar::Text(text)) => Op::StartsWith(template(reader, text)?),
            (OpKind::EndsWith, Scalar::Text(text)) => Op::EndsWith(template(reader, text)?),
            (OpKind::Matches, Scalar::Text(pattern)) => Op::Matches(reader.regex(pattern)?),
            (OpKind::Gt, Scalar::Number(bound)) => Op::Compare(Comparison::Greater, bound),
            (OpKind::Gte, Scalar::Number(bound)) => Op::Compare(Comparison::GreaterOrEqual, bound),
            (OpKind::Lt, Scalar::Number(bound)) => Op::Compare(Comparison::Less, bound),
            (OpKind::Lte, Scalar::Number(bound)) => Op::Compare(Comparison::LessOrEqual, bound),
            (OpKind::Exists, Scalar::Bool(expected)) => Op::Exists(expected),
            (_, scalar) => return Err(self.wrong(scalar.kind())),
        })
    }

    fn wrong(self, found: &str) -> PolicyError {
        let kind = self.0;
        let error = PolicyError::invalid(format!(
            "{} expects {}, found {found}",
            kind.name(),
            Shape::expected(&self)
        ));
        match kind {
            OpKind::In | OpKind::NotIn => {
                error.with_hint(format!("write `{}: [a, b]`", kind.name()))
            }
            _ => error,
        }
    }
}

fn operand(reader: &Reader, scalar: Scalar) -> Result<Operand, PolicyError> {
    Ok(match scalar {
        Scalar::Text(text) => Operand::Text(template(reader, text)?),
        Scalar::Bool(flag) => Operand::json(Value::Bool(flag)),
        Scalar::Number(number) => Operand::Number(number),
        Scalar::Null => Operand::json(Value::Null),
    })
}

/// A string operand, its placeholders counted against the limit.
fn template(reader: &Reader, text: &str) -> Result<Template, PolicyError> {
    let template = Template::parse(text)?;
    reader
        .tally
        .spend_interpolations(template.placeholder_count())?;
    Ok(template)
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Text(_) => "a string",
            Scalar::Bool(_) => "a boolean",
            Scalar::Number(_) => "a number",
            Scalar::Null => "null",
        }
    }
}

impl<'de> Shape<'de> for OperandShape {
    type Value = Op;

    fn expected(&self) -> &'static str {
        match self.0 {
            OpKind::Equals | OpKind::NotEquals => "a value",
            OpKind::In | OpKind::NotIn => "a list of values",
            OpKind::Contains => "a string, number, boolean or null",
            OpKind::StartsWith | OpKind::EndsWith => "a string",
            OpKind::Matches => "a regular expression string",
            OpKind::Gt | OpKind::Gte | OpKind::Lt | OpKind::Lte => "a number",
            OpKind::Exists => "true or false",
        }
    }

    fn string<E: de::Error>(self, reader: &Reader, text: &str) -> Result<Op, E> {
        self.build(reader, Scalar::Text(text))
            .map_err(PolicyError::into_yaml)
    }

    fn boolean<E: de::Error>(self, reader: &Reader, flag: bool) -> Result<Op, E> {
        self.build(reader, Scalar::Bool(flag))
            .map_err(PolicyError::into_yaml)
    }

    fn number<E: de::Error>(self, reader: &Reader, number: Number) -> Result<Op, E> {
        self.build(reader, Scalar::Number(number))
            .map_err(PolicyError::into_yaml)
    }

    fn null<E: de::Error>(self, reader: &Reader) -> Result<Op, E> {
        self.build(reader, Scalar::Null)
            .map_err(PolicyError::into_yaml)
    }

    fn sequence<A: SeqAccess<'de>>(self, reader: &Reader, seq: A) -> Result<Op, A::Error> {
        let wrap: fn(Value) -> Op = match self.0 {
            OpKind::In | OpKind::NotIn => {
                let list = ListOf {
                    item: ChoiceShape,
                    expected: "a list of values",
                };
                let choices = Choices::new(list.sequence(reader, seq)?);
                return Ok(if self.0 == OpKind::In {
                    Op::In(choices)
                } else {
                    Op::NotIn(choices)
                });
            }
            OpKind::Equals => |value| Op::Equals(Operand::json(value)),
            OpKind::NotEquals => |value| Op::NotEquals(Operand::json(value)),
            _ => return Err(self.wrong("a list").into_yaml()),
        };
        JsonShape.sequence(reader, seq).map(wrap)
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, map: A) -> Result<Op, A::Error> {
        let wrap: fn(Value) -> Op = match self.0 {
            OpKind::Equals => |value| Op::Equals(Operand::json(value)),
            OpKind::NotEquals => |value| Op::NotEquals(Operand::json(value)),
            _ => return Err(self.wrong("a mapping").into_yaml()),
        };
        JsonShape.mapping(reader, map).map(wrap)
    }
}

/// An item of an `in` list: strings may hold placeholders.
#[derive(Clone, Copy)]
struct ChoiceShape;

impl<'de> Shape<'de> for ChoiceShape {
    type Value = Operand;

    fn expected(&self) -> &'static str {
        "a value"
    }

    fn string<E: de::Error>(self, reader: &Reader, text: &str) -> Result<Operand, E> {
        operand(reader, Scalar::Text(text)).map_err(PolicyError::into_yaml)
    }

    fn boolean<E: de::Error>(self, reader: &Reader, flag: bool) -> Result<Operand, E> {
        operand(reader, Scalar::Bool(flag)).map_err(PolicyError::into_yaml)
    }

    fn number<E: de::Error>(self, reader: &Reader, number: Number) -> Result<Operand, E> {
        operand(reader, Scalar::Number(number)).map_err(PolicyError::into_yaml)
    }

    fn null<E: de::Error>(self, reader: &Reader) -> Result<Operand, E> {
        operand(reader, Scalar::Null).map_err(PolicyError::into_yaml)
    }

    fn sequence<A: SeqAccess<'de>>(self, reader: &Reader, seq: A) -> Result<Operand, A::Error> {
        JsonShape.sequence(reader, seq).map(Operand::json)
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, map: A) -> Result<Operand, A::Error> {
        JsonShape.mapping(reader, map).map(Operand::json)
    }
}

/// Any YAML value, as JSON. Strings are literal: placeholders are only filled in
/// top-level string operands and `in` items.
#[derive(Clone, Copy)]
pub(super) struct JsonShape;

impl<'de> Shape<'de> for JsonShape {
    type Value = Value;

    fn expected(&self) -> &'static str {
        "a value"
    }

    fn string<E: de::Error>(self, _reader: &Reader, text: &str) -> Result<Value, E> {
        Ok(Value::String(text.to_owned()))
    }

    fn boolean<E: de::Error>(self, _reader: &Reader, flag: bool) -> Result<Value, E> {
        Ok(Value::Bool(flag))
    }

    fn number<E: de::Error>(self, _reader: &Reader, number: Number) -> Result<Value, E> {
        Ok(Value::Number(number))
    }

    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn sequence<A: SeqAccess<'de>>(self, reader: &Reader, seq: A) -> Result<Value, A::Error> {
        let list = ListOf {
            item: JsonShape,
            expected: "a list",
        };
        list.sequence(reader, seq).map(Value::Array)
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        // Keys seen, in a set: a scan of the entries read so far would make a
        // mapping of n keys cost n² to read.
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        while let Some(key) = map.next_key_seed(Node::new(reader, JsonKeyShape))? {
            let value = map.next_value_seed(Node::new(reader, JsonShape))?;
            if !seen.insert(key.clone()) {
                return Err(PolicyError::invalid(format!("duplicate key {key:?}")).into_yaml());
            }
            entries.push((key, value));
        }
        Ok(Value::Object(Object::from_entries(entries)))
    }
}

struct JsonKeyShape;

impl<'de> Shape<'de> for JsonKeyShape {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a string key"
    }

    fn string<E: de::Error>(self, _reader: &Reader, key: &str) -> Result<String, E> {
        Ok(key.to_owned())
    }
}
