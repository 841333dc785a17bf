//! Compiled `when` conditions and their evaluation.
//!
//! A leaf on a missing path is false, except `notEquals`, `notIn` and
//! `exists: false`, which are true. A `${context...}` placeholder that cannot be
//! resolved (missing, null, array or object) makes its leaf behave as if the
//! field were missing. Type mismatches are false, never errors.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::heap::HeapSize;
use crate::interrupt;
use crate::json;
use crate::path::{Field, FieldPath};
use crate::regex::Regex;
use crate::request::Request;
use crate::template::{Rendered, Template};
use crate::tree::BoolTree;

/// A condition map: field tests combined with `all`, `any` and `not`.
pub(crate) type Condition = BoolTree<FieldTest>;

/// An operator map, applied to the value of one field.
pub(crate) type Test = BoolTree<Op>;

/// One entry of a condition map: a field path and its operator map.
#[derive(Debug, Clone)]
pub(crate) struct FieldTest {
    pub(crate) path: FieldPath,
    pub(crate) test: Test,
}

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Equals(Operand),
    NotEquals(Operand),
    In(Choices),
    NotIn(Choices),
    Contains(Operand),
    StartsWith(Template),
    EndsWith(Template),
    Matches(Regex),
    Compare(Comparison, Number),
    Exists(bool),
}

/// A value to compare a field with; strings may hold placeholders.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Number(Number),
    Text(Template),
    /// Null, a boolean, a list or a mapping: boxed, as a `Value` is several
    /// times the size of the common operands.
    Json(Box<Value>),
}

/// The operand of `in` and `notIn`.
#[derive(Debug, Clone)]
pub(crate) struct Choices {
    options: Box<[Operand]>,
    /// Whether any option has placeholders, all of which must then resolve.
    interpolated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// An operand with its placeholders filled in.
enum Resolved<'a> {
    Json(&'a Value),
    Number(&'a Number),
    Text(Cow<'a, str>),
    /// Text longer than any the field offers, which therefore equals, starts,
    /// ends and is contained in nothing there (see [`Template::render`]).
    TooLong,
}

impl Condition {
    pub(crate) fn holds(&self, request: &Request) -> bool {
        self.holds_if(|FieldTest { path, test }: &FieldTest| {
            test.holds(path.resolve(request), request)
        })
    }
}

impl Test {
    fn holds(&self, field: Option<Field>, request: &Request) -> bool {
        self.holds_if(|op: &Op| {
            interrupt::check();
            field
                .and_then(|field| op.holds(field, request))
                .unwrap_or_else(|| op.holds_when_missing())
        })
    }
}

impl Op {
    /// `None` when an operand placeholder cannot be resolved.
    fn holds(&self, field: Field, request: &Request) -> Option<bool> {
        Some(match self {
            Op::Equals(operand) => operand
                .resolve(request, text_len(field))?
                .equals_field(field),
            Op::NotEquals(operand) => !operand
                .resolve(request, text_len(field))?
                .equals_field(field),
            Op::In(choices) => choices.include(field, request)?,
            Op::NotIn(choices) => !choices.include(field, request)?,
            Op::Contains(needle) => contains(field, &needle.resolve(request, longest_text(field))?),
            Op::StartsWith(prefix) => match prefix.render(request, text_len(field))? {
                Rendered::Text(prefix) => field
                    .as_str()
                    .is_some_and(|text| text.starts_with(&*prefix)),
                Rendered::TooLong => false,
            },
            Op::EndsWith(suffix) => match suffix.render(request, text_len(field))? {
                Rendered::Text(suffix) => {
                    field.as_str().is_some_and(|text| text.ends_with(&*suffix))
                }
                Rendered::TooLong => false,
            },
            Op::Matches(regex) => field.as_str().is_some_and(|text| {
                interrupt::guard_match(text.len());
                regex.is_match(text)
            }),
            Op::Compare(comparison, bound) => field
                .as_number()
                .and_then(|number| json::compare_numbers(number, bound))
                .is_some_and(|ordering| comparison.accepts(ordering)),
            Op::Exists(expected) => *expected,
        })
    }

    fn holds_when_missing(&self) -> bool {
        matches!(self, Op::NotEquals(_) | Op::NotIn(_) | Op::Exists(false))
    }
}

/// The length of the field's text: no longer text can equal, start or end it.
fn text_len(field: Field) -> usize {
    field.as_str().map_or(0, str::len)
}

/// The longest text `contains` could find a needle in: the field's, or its
/// longest string item.
fn longest_text(field: Field) -> usize {
    match field.as_array() {
        Some(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::len)
            .max()
            .unwrap_or(0),
        None => text_len(field),
    }
}

fn contains(field: Field, needle: &Resolved) -> bool {
    if let Some(haystack) = field.as_str() {
        matches!(needle, Resolved::Text(needle) if haystack.contains(needle.as_ref()))
    } else if let Some(items) = field.as_array() {
        items.iter().any(|item| {
            interrupt::check();
            needle.equals_value(item)
        })
    } else {
        false
    }
}

impl Operand {
    pub(crate) fn json(value: Value) -> Self {
        Operand::Json(Box::new(value))
    }

    /// See [`Template::render`] for `max_len`.
    fn resolve<'a>(&'a self, request: &Request<'a>, max_len: usize) -> Option<Resolved<'a>> {
        match self {
            Operand::Number(number) => Some(Resolved::Number(number)),
            Operand::Json(value) => Some(Resolved::Json(value)),
            Operand::Text(template) => Some(match template.render(request, max_len)? {
                Rendered::Text(text) => Resolved::Text(text),
                Rendered::TooLong => Resolved::TooLong,
            }),
        }
    }

    fn is_interpolated(&self) -> bool {
        matches!(self, Operand::Text(template) if template.has_placeholders())
    }
}

impl Choices {
    pub(crate) fn new(options: Vec<Operand>) -> Self {
        let interpolated = options.iter().any(Operand::is_interpolated);
        Choices {
            options: options.into_boxed_slice(),
            interpolated,
        }
    }

    /// Whether `field` equals one of the options; `None` when a placeholder in
    /// any option cannot be resolved.
    fn include(&self, field: Field, request: &Request) -> Option<bool> {
        let mut found = false;
        let max_len = text_len(field);
        for option in &*self.options {
            interrupt::check();
            found |= option.resolve(request, max_len)?.equals_field(field);
            if found && !self.interpolated {
                break;
            }
        }
        Some(found)
    }
}

impl Resolved<'_> {
    fn equals_value(&self, value: &Value) -> bool {
        match self {
            Resolved::Json(operand) => json::equal(value, operand),
            Resolved::Number(operand) => value
                .as_number()
                .is_some_and(|number| json::equal_numbers(number, operand)),
            Resolved::Text(text) => value.as_str() == Some(text.as_ref()),
            Resolved::TooLong => false,
        }
    }

    fn equals_field(&self, field: Field) -> bool {
        match field {
            Field::Json(value) => self.equals_value(value),
            Field::Text(text) => match self {
                Resolved::Json(operand) => operand.as_str() == Some(text),
                Resolved::Text(operand) => operand == text,
                Resolved::Number(_) | Resolved::TooLong => false,
            },
        }
    }
}

impl HeapSize for FieldTest {
    fn heap_bytes(&self) -> usize {
        self.path.heap_bytes() + self.test.heap_bytes()
    }
}

impl HeapSize for Op {
    fn heap_bytes(&self) -> usize {
        match self {
            Op::Equals(operand) | Op::NotEquals(operand) | Op::Contains(operand) => {
                operand.heap_bytes()
            }
            Op::In(choices) | Op::NotIn(choices) => choices.options.heap_bytes(),
            Op::StartsWith(template) | Op::EndsWith(template) => template.heap_bytes(),
            // Shared by every use of the pattern, and counted once when compiled.
            Op::Matches(_) => 0,
            Op::Compare(..) | Op::Exists(_) => 0,
        }
    }
}

impl HeapSize for Operand {
    fn heap_bytes(&self) -> usize {
        match self {
            Operand::Number(_) => 0,
            Operand::Json(value) => value.heap_bytes(),
            Operand::Text(template) => template.heap_bytes(),
        }
    }
}

impl Comparison {
    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
        }
    }
}
