//! Compiled `when` conditions and their evaluation.
//!
//! An operator on a missing path is false, except `notEquals`, `notIn` and
//! `exists: false`, which are true. A type mismatch is false, never an error.
//! `notEquals` and `notIn` are always the negation of `equals` and `in`.
//!
//! String operands may hold `${context...}` placeholders. In `equals`,
//! `notEquals`, the items of `in` and `notIn`, and `contains` on an array, an
//! operand that is one placeholder alone stands for the context value itself
//! (a string, number or boolean); anywhere else placeholders are replaced by
//! the value's text. A placeholder whose value is missing, null, an array or
//! an object leaves its operand (or list item) matching nothing.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::heap::HeapSize;
use crate::interrupt;
use crate::number::Number;
use crate::path::{Field, FieldPath};
use crate::rate::RateLimit;
use crate::regex::Regex;
use crate::request::Request;
use crate::template::{Rendered, Template};
use crate::trace::{FieldTracer, Tracer};
use crate::tree::BoolTree;
use crate::value::Value;

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
    /// `rate`, the only entry of its field test (whose path is `rate`).
    Rate(Box<RateLimit>),
}

/// A value to compare a field with; strings may hold placeholders.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Number(Number),
    Text(Template),
    /// Null, a boolean, a list or a mapping: boxed, as a `Value` is larger
    /// than the common operands.
    Json(Box<Value>),
}

/// The operand of `in` and `notIn`.
#[derive(Debug, Clone)]
pub(crate) struct Choices {
    options: Box<[Operand]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
}

/// An operand with its placeholders filled in, as a value to compare with.
enum Resolved<'a> {
    Number(&'a Number),
    Json(&'a Value),
    Text(Cow<'a, str>),
    /// What a lone placeholder stands for: a string, number or boolean.
    Field(Field<'a>),
    /// Text longer than any the field offers, which therefore equals, starts,
    /// ends and is contained in nothing there (see [`Template::render`]).
    TooLong,
}

impl Condition {
    /// Whether the condition holds, telling `tracer` each operator it
    /// evaluates (nothing, at no cost, for [`NoTrace`](crate::trace::NoTrace)).
    pub(crate) fn holds<T: Tracer>(&self, request: &Request, tracer: T) -> bool {
        // `move`: the closure holds the tracer itself, which takes no room
        // for NoTrace, rather than a pointer to it.
        self.holds_if(move |FieldTest { path, test }: &FieldTest| {
            test.holds(path.resolve(request), request, tracer.on_field(path))
        })
    }
}

impl Test {
    /// `on_field` is what the tracer needs to know of the field: nothing for
    /// [`NoTrace`](crate::trace::NoTrace), so that the closure below, copied
    /// into every level of the tree, stays as small as without tracing.
    fn holds<F: FieldTracer>(&self, field: Option<Field>, request: &Request, on_field: F) -> bool {
        let field = &field;
        self.holds_if(move |op: &Op| {
            interrupt::check();
            let held = op.holds(*field, request);
            on_field.check(op, *field, request, held);
            held
        })
    }
}

impl Op {
    /// The operator's name as a policy writes it (the first of its aliases).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Equals(_) => "equals",
            Op::NotEquals(_) => "notEquals",
            Op::In(_) => "in",
            Op::NotIn(_) => "notIn",
            Op::Contains(_) => "contains",
            Op::StartsWith(_) => "startsWith",
            Op::EndsWith(_) => "endsWith",
            Op::Matches(_) => "matches",
            Op::Compare(comparison, _) => comparison.name(),
            Op::Exists(_) => "exists",
            Op::Rate(_) => "rate",
        }
    }

    /// Whether the operator holds for `field`, `None` when the path is missing.
    fn holds(&self, field: Option<Field>, request: &Request) -> bool {
        let field = match (self, field) {
            (Op::Exists(expected), field) => return field.is_some() == *expected,
            (Op::Rate(limit), _) => return limit.reached(request),
            (Op::NotEquals(operand), field) => return !operand.equals(field, request),
            (Op::NotIn(choices), field) => return !choices.include(field, request),
            (_, None) => return false,
            (_, Some(field)) => field,
        };
        match self {
            Op::Equals(operand) => operand.equals(Some(field), request),
            Op::In(choices) => choices.include(Some(field), request),
            Op::Contains(needle) => contains(field, needle, request),
            Op::StartsWith(prefix) => text_test(field, prefix, request, |text, prefix| {
                text.starts_with(prefix)
            }),
            Op::EndsWith(suffix) => text_test(field, suffix, request, |text, suffix| {
                text.ends_with(suffix)
            }),
            Op::Matches(regex) => field.as_str().is_some_and(|text| {
                interrupt::guard_match(text.len());
                regex.is_match(text)
            }),
            Op::Compare(comparison, bound) => field
                .as_number()
                .is_some_and(|number| comparison.accepts(number.cmp(bound))),
            Op::Exists(_) | Op::NotEquals(_) | Op::NotIn(_) | Op::Rate(_) => {
                unreachable!("answered before the field was needed")
            }
        }
    }
}

/// `startsWith` or `endsWith`: the field must be text, and so is the operand.
fn text_test(
    field: Field,
    template: &Template,
    request: &Request,
    test: fn(&str, &str) -> bool,
) -> bool {
    let Some(text) = field.as_str() else {
        return false;
    };
    match template.render(request, text.len()) {
        Some(Rendered::Text(operand)) => test(text, &operand),
        Some(Rendered::TooLong) | None => false,
    }
}

/// On a string, whether the operand's text is part of it; on an array,
/// whether an item equals the operand.
fn contains(field: Field, needle: &Operand, request: &Request) -> bool {
    if let Some(haystack) = field.as_str() {
        let Operand::Text(template) = needle else {
            return false;
        };
        matches!(
            template.render(request, haystack.len()),
            Some(Rendered::Text(needle)) if haystack.contains(needle.as_ref())
        )
    } else if let Some(items) = field.as_array() {
        let longest = items
            .iter()
            .filter_map(Value::as_str)
            .map(str::len)
            .max()
            .unwrap_or(0);
        needle.resolve(request, longest).is_some_and(|needle| {
            items.iter().any(|item| {
                interrupt::check();
                needle.equals(Field::Json(item))
            })
        })
    } else {
        false
    }
}

impl Operand {
    pub(crate) fn json(value: Value) -> Self {
        Operand::Json(Box::new(value))
    }

    /// The operand as a value; `None` when a placeholder cannot be resolved.
    /// See [`Template::render`] for `max_len`.
    fn resolve<'a>(&'a self, request: &Request<'a>, max_len: usize) -> Option<Resolved<'a>> {
        match self {
            Operand::Number(number) => Some(Resolved::Number(number)),
            Operand::Json(value) => Some(Resolved::Json(value)),
            Operand::Text(template) => match template.lone_placeholder() {
                Some(path) => path
                    .resolve(request)
                    .filter(|field| field.is_scalar())
                    .map(Resolved::Field),
                None => Some(match template.render(request, max_len)? {
                    Rendered::Text(text) => Resolved::Text(text),
                    Rendered::TooLong => Resolved::TooLong,
                }),
            },
        }
    }

    /// Whether `field` is present and equals the operand. The same as
    /// resolving the operand and comparing, without building a [`Resolved`]
    /// or rendering text a field that is not a string could never equal.
    fn equals(&self, field: Option<Field>, request: &Request) -> bool {
        let Some(field) = field else {
            return false;
        };
        match self {
            Operand::Number(number) => field.as_number() == Some(number),
            Operand::Json(value) => field.equals(value),
            Operand::Text(template) => match template.lone_placeholder() {
                Some(path) => path
                    .resolve(request)
                    .filter(|operand| operand.is_scalar())
                    .is_some_and(|operand| Resolved::Field(operand).equals(field)),
                None => field.as_str().is_some_and(|text| {
                    matches!(
                        template.render(request, text.len()),
                        Some(Rendered::Text(operand)) if operand == text
                    )
                }),
            },
        }
    }
}

impl Choices {
    pub(crate) fn new(options: Vec<Operand>) -> Self {
        Choices {
            options: options.into_boxed_slice(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.options.is_empty()
    }

    pub(crate) fn options(&self) -> &[Operand] {
        &self.options
    }

    /// Whether `field` is present and equals one of the options.
    fn include(&self, field: Option<Field>, request: &Request) -> bool {
        field.is_some_and(|field| {
            self.options.iter().any(|option| {
                interrupt::check();
                option.equals(Some(field), request)
            })
        })
    }
}

impl Resolved<'_> {
    fn equals(&self, field: Field) -> bool {
        match self {
            Resolved::Number(operand) => field.as_number() == Some(*operand),
            Resolved::Json(operand) => field.equals(operand),
            Resolved::Text(operand) => field.as_str() == Some(operand.as_ref()),
            Resolved::Field(operand) => match (operand, field) {
                (Field::Json(operand), field) => field.equals(operand),
                _ => operand.as_str().is_some() && operand.as_str() == field.as_str(),
            },
            Resolved::TooLong => false,
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
            Op::Compare(_, bound) => bound.heap_bytes(),
            Op::StartsWith(template) | Op::EndsWith(template) => template.heap_bytes(),
            // Shared by every use of the pattern, and counted once when compiled.
            Op::Matches(_) => 0,
            Op::Exists(_) => 0,
            Op::Rate(limit) => limit.heap_bytes(),
        }
    }
}

impl HeapSize for Operand {
    fn heap_bytes(&self) -> usize {
        match self {
            Operand::Number(number) => number.heap_bytes(),
            Operand::Json(value) => value.heap_bytes(),
            Operand::Text(template) => template.heap_bytes(),
        }
    }
}

impl Comparison {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Comparison::Greater => "gt",
            Comparison::GreaterOrEqual => "gte",
            Comparison::Less => "lt",
            Comparison::LessOrEqual => "lte",
        }
    }

    fn accepts(self, ordering: Ordering) -> bool {
        match self {
            Comparison::Greater => ordering.is_gt(),
            Comparison::GreaterOrEqual => ordering.is_ge(),
            Comparison::Less => ordering.is_lt(),
            Comparison::LessOrEqual => ordering.is_le(),
        }
    }
}
