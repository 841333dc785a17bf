//! The YAML reader: libyaml's events, loaded once and walked by a serde
//! `Deserializer` that resolves plain scalars the way the language reference
//! says, numbers included exactly as written.
//!
//! It follows serde_yaml 0.9 (the crate this replaced) in everything else, so
//! that errors carry the same path, line and column: an error gets the
//! position of the node being read when it arose and the path of the mapping
//! keys and sequence indexes leading to it, aliases are replayed (at most 100
//! jumps per event of the document), and nothing nests more than 128 deep.
//!
//! Plain scalars, in this order: empty, `~`, `null`, `Null`, `NULL` are null;
//! `true`, `True`, `TRUE`, `false`, `False`, `FALSE` booleans; `0x`, `0o`, `0b`
//! integers (one optional sign) of at most 128 bits are numbers; then decimal
//! numbers, `[+-]?(D+|D+.D*|D*.D+)([eE][+-]?D+)?`, except a zero followed by
//! more digits only (`012`, a string); `.inf`, `-.inf`, `.nan` and their
//! capitalised forms are refused; anything else is a string. Quoted and block
//! scalars are strings. The tags `!!bool`, `!!int`, `!!float` and `!!null`
//! force their type, other `!!` tags make a string, and local tags (`!name`)
//! are refused.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::PolicyError;
use crate::interrupt;
use crate::number::{Number, NumberError};

/// The deepest nesting of collections a document may have.
pub(super) const MAX_NESTING: usize = 128;

/// How often, in events, loading calls the interrupt hook.
const EVENTS_PER_INTERRUPT_CHECK: usize = 1024;

const TAG_NULL: &str = "tag:yaml.org,2002:null";
const TAG_BOOL: &str = "tag:yaml.org,2002:bool";
const TAG_INT: &str = "tag:yaml.org,2002:int";
const TAG_FLOAT: &str = "tag:yaml.org,2002:float";

/// A position in the source, 0-based as libyaml gives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    line: usize,
    column: usize,
}

#[derive(Debug)]
enum Event {
    Scalar(Scalar),
    SequenceStart(Option<String>),
    SequenceEnd,
    MappingStart(Option<String>),
    MappingEnd,
    /// Replays the node at this index of the events.
    Alias(usize),
    /// The node of a stream without a document.
    Void,
}

#[derive(Debug)]
struct Scalar {
    value: String,
    tag: Option<String>,
    plain: bool,
    /// How many `#` its text in the source holds (anchor and tag included),
    /// which an escape such as `"\x23"` makes differ from its value's.
    hashes_in_source: usize,
}

/// The first document of a stream, as events.
#[derive(Debug)]
pub(super) struct Document {
    events: Vec<(Event, Mark)>,
}

/// A stream read whole: its first document and how many documents it has.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) first: Document,
    pub(super) documents: usize,
}

/// Why a stream could not be loaded.
#[derive(Debug)]
pub(super) enum LoadError {
    /// libyaml could not parse it, or an alias names no anchor: the caller
    /// describes the syntax error.
    Syntax,
    /// Collections nest deeper than [`MAX_NESTING`].
    TooDeep(PolicyError),
}

/// Reads every document of `source`, keeping the first one's events. Stops at
/// the first syntax error, or as soon as collections nest too deeply: libyaml
/// spends time in proportion to the depth on every token, so a megabyte of
/// `[[[[...` would otherwise take minutes.
pub(super) fn load(source: &str) -> Result<Stream, LoadError> {
    let mut parser = Parser::new(source).ok_or(LoadError::Syntax)?;
    // libyaml's marks count from after a leading byte order mark.
    let bom = if source.starts_with('\u{feff}') { 3 } else { 0 };
    let mut events = Vec::new();
    let mut anchors: HashMap<String, usize> = HashMap::new();
    let mut documents = 0usize;
    let mut depth = 0usize;
    let mut count = 0usize;
    loop {
        count += 1;
        if count.is_multiple_of(EVENTS_PER_INTERRUPT_CHECK) {
            interrupt::check();
        }
        let raw = parser.next().ok_or(LoadError::Syntax)?;
        let keep = documents == 1;
        let event = match raw.kind {
            RawKind::StreamEnd => {
                if events.is_empty() {
                    events.push((Event::Void, raw.mark));
                }
                break;
            }
            RawKind::StreamStart | RawKind::DocumentEnd => continue,
            RawKind::DocumentStart => {
                // Anchors belong to their document.
                anchors.clear();
                documents += 1;
                continue;
            }
            RawKind::SequenceStart | RawKind::MappingStart => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(LoadError::TooDeep(PolicyError {
                        line: Some(raw.mark.line.saturating_add(1)),
                        column: Some(raw.mark.column.saturating_add(1)),
                        ..PolicyError::too_large(format!(
                            "the YAML nests more than {MAX_NESTING} levels deep"
                        ))
                    }));
                }
                if raw.kind == RawKind::SequenceStart {
                    Event::SequenceStart(raw.tag)
                } else {
                    Event::MappingStart(raw.tag)
                }
            }
            RawKind::SequenceEnd => {
                depth = depth.saturating_sub(1);
                Event::SequenceEnd
            }
            RawKind::MappingEnd => {
                depth = depth.saturating_sub(1);
                Event::MappingEnd
            }
            RawKind::Alias => match anchors.get(raw.alias.as_deref().unwrap_or_default()) {
                Some(&position) if keep => Event::Alias(position),
                Some(_) => continue,
                None => return Err(LoadError::Syntax),
            },
            RawKind::Scalar => Event::Scalar(Scalar {
                value: raw.value,
                tag: raw.tag,
                plain: raw.plain,
                hashes_in_source: source
                    .get(raw.span.start + bom..raw.span.end + bom)
                    .map_or(0, |text| text.matches('#').count()),
            }),
        };
        if !keep {
            if let Some(anchor) = raw.anchor {
                anchors.insert(anchor, usize::MAX);
            }
            continue;
        }
        if let Some(anchor) = raw.anchor {
            anchors.insert(anchor, events.len());
        }
        events.push((event, raw.mark));
    }
    Ok(Stream {
        first: Document { events },
        documents,
    })
}

impl Document {
    /// How many `#` the scalars (keys included) hold as written in the
    /// source, each counted once however often aliases repeat it: the `#` of
    /// the source that are not comments.
    pub(super) fn hashes_in_scalars(&self) -> usize {
        self.events
            .iter()
            .map(|(event, _)| match event {
                Event::Scalar(scalar) => scalar.hashes_in_source,
                _ => 0,
            })
            .sum()
    }
}

/// Reads `document` as `seed` would read any serde input.
pub(super) fn read<'de, S: DeserializeSeed<'de>>(
    document: &Document,
    seed: S,
) -> Result<S::Value, PolicyError> {
    let position = Cell::new(0);
    let jumps = Cell::new(0);
    let mut walker = Walker {
        document,
        position: &position,
        jumps: &jumps,
        path: Path::Root,
        remaining_depth: MAX_NESTING,
    };
    seed.deserialize(&mut walker)
        .map_err(Error::into_policy_error)
}

/// An error while walking a document: a message (a framed [`PolicyError`],
/// see [`PolicyError::into_yaml`]) and, once known, where it arose.
#[derive(Debug)]
pub(super) struct Error {
    message: String,
    /// `None` until the node being read when the error arose stamps it.
    position: Option<Position>,
}

#[derive(Debug)]
struct Position {
    mark: Option<Mark>,
    path: Option<String>,
}

impl Error {
    fn policy(error: PolicyError) -> Self {
        error.into_yaml()
    }

    /// The error with the position and path of the node it arose in, unless
    /// a node inside that one already gave them.
    fn at(mut self, mark: Mark, path: &Path) -> Self {
        if self.position.is_none() {
            let path = path.to_string();
            self.position = Some(Position {
                mark: Some(mark),
                path: (path != ".").then_some(path),
            });
        }
        self
    }

    fn into_policy_error(self) -> PolicyError {
        let mut error = PolicyError::from_framed(&self.message);
        if let Some(Position { mark, path }) = self.position {
            error.path = path;
            error.line = mark.map(|mark| mark.line.saturating_add(1));
            error.column = mark.map(|mark| mark.column.saturating_add(1));
        }
        error
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Error {
            message: message.to_string(),
            position: None,
        }
    }
}

/// Where a node is, for error messages: `rules[0].when.args.to`.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Seq { parent: &'a Path<'a>, index: usize },
    Map { parent: &'a Path<'a>, key: &'a str },
    Alias { parent: &'a Path<'a> },
    Unknown { parent: &'a Path<'a> },
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Parent<'a>(&'a Path<'a>);
        impl fmt::Display for Parent<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Path::Root => Ok(()),
                    path => write!(f, "{path}."),
                }
            }
        }
        match self {
            Path::Root => f.write_str("."),
            Path::Seq { parent, index } => write!(f, "{parent}[{index}]"),
            Path::Map { parent, key } => write!(f, "{}{key}", Parent(parent)),
            Path::Alias { parent } => write!(f, "{parent}"),
            Path::Unknown { parent } => write!(f, "{}?", Parent(parent)),
        }
    }
}

/// A cursor over a document's events, at one node.
struct Walker<'a> {
    document: &'a Document,
    position: &'a Cell<usize>,
    jumps: &'a Cell<usize>,
    path: Path<'a>,
    remaining_depth: usize,
}

impl<'a> Walker<'a> {
    fn peek(&self) -> Result<&'a (Event, Mark), Error> {
        self.document
            .events
            .get(self.position.get())
            .ok_or_else(|| de::Error::custom("unexpected end of the YAML document"))
    }

    fn next(&mut self) -> Result<&'a (Event, Mark), Error> {
        let event = self.peek()?;
        self.position.set(self.position.get() + 1);
        Ok(event)
    }

    fn child<'b>(&'b self, path: Path<'b>) -> Walker<'b> {
        Walker {
            document: self.document,
            position: self.position,
            jumps: self.jumps,
            path,
            remaining_depth: self.remaining_depth,
        }
    }

    /// Skips one node, without following aliases.
    fn skip(&mut self) -> Result<(), Error> {
        let mut open = 0usize;
        loop {
            match self.next()?.0 {
                Event::SequenceStart(_) | Event::MappingStart(_) => open += 1,
                Event::SequenceEnd | Event::MappingEnd => open = open.saturating_sub(1),
                Event::Scalar(_) | Event::Alias(_) | Event::Void => {}
            }
            if open == 0 {
                return Ok(());
            }
        }
    }

    fn enter(&self, mark: Mark) -> Result<usize, Error> {
        self.remaining_depth.checked_sub(1).ok_or_else(|| Error {
            position: Some(Position {
                mark: Some(mark),
                path: None,
            }),
            ..Error::policy(PolicyError::too_large("the YAML is nested too deeply"))
        })
    }
}

/// Refuses a local tag (`!name`), which the language does not use.
fn local_tag(tag: &Option<String>) -> Result<(), Error> {
    match tag {
        Some(tag) if tag.starts_with('!') => Err(tags_unsupported()),
        _ => Ok(()),
    }
}

fn tags_unsupported() -> Error {
    Error::policy(
        PolicyError::invalid("YAML tags are not supported").with_hint("remove the `!tag`"),
    )
}

impl<'de> de::Deserializer<'de> for &mut Walker<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let (event, mark) = self.next()?;
        let mark = *mark;
        let result = match event {
            Event::Alias(target) => {
                let jumps = self.jumps.get() + 1;
                self.jumps.set(jumps);
                if jumps > self.document.events.len().saturating_mul(100) {
                    return Err(Error {
                        position: Some(Position {
                            mark: None,
                            path: None,
                        }),
                        ..Error::policy(PolicyError::too_large(
                            "YAML aliases expand the document too many times",
                        ))
                    });
                }
                let position = Cell::new(*target);
                let mut replay = Walker {
                    document: self.document,
                    position: &position,
                    jumps: self.jumps,
                    path: Path::Alias { parent: &self.path },
                    remaining_depth: self.remaining_depth,
                };
                replay.deserialize_any(visitor)
            }
            Event::Scalar(scalar) => visit_scalar(visitor, scalar),
            Event::SequenceStart(tag) => local_tag(tag).and_then(|()| {
                let remaining_depth = self.enter(mark)?;
                let value = {
                    let mut items = Items {
                        walker: Walker {
                            remaining_depth,
                            ..self.child(self.path)
                        },
                        read: 0,
                    };
                    let value = visitor.visit_seq(&mut items)?;
                    while items.next_element::<IgnoredAny>()?.is_some() {}
                    value
                };
                self.next()?;
                Ok(value)
            }),
            Event::MappingStart(tag) => local_tag(tag).and_then(|()| {
                let remaining_depth = self.enter(mark)?;
                let value = {
                    let mut entries = Entries {
                        walker: Walker {
                            remaining_depth,
                            ..self.child(self.path)
                        },
                        key: None,
                    };
                    let value = visitor.visit_map(&mut entries)?;
                    while entries.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    value
                };
                self.next()?;
                Ok(value)
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                Err(de::Error::custom("unexpected end of a YAML collection"))
            }
            Event::Void => visitor.visit_none(),
        };
        result.map_err(|error| error.at(mark, &self.path))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.skip()?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        struct enum identifier
    }
}

/// The items of a sequence.
struct Items<'a> {
    walker: Walker<'a>,
    read: usize,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if let Event::SequenceEnd = self.walker.peek()?.0 {
            return Ok(None);
        }
        let path = Path::Seq {
            parent: &self.walker.path,
            index: self.read,
        };
        self.read += 1;
        seed.deserialize(&mut self.walker.child(path)).map(Some)
    }
}

/// The entries of a mapping.
struct Entries<'a> {
    walker: Walker<'a>,
    /// The key just read, when it was a scalar.
    key: Option<&'a str>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let (event, _) = self.walker.peek()?;
        self.key = match event {
            Event::MappingEnd => return Ok(None),
            Event::Scalar(scalar) => Some(&scalar.value),
            _ => None,
        };
        seed.deserialize(&mut self.walker.child(self.walker.path))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let path = match self.key {
            Some(key) => Path::Map {
                parent: &self.walker.path,
                key,
            },
            None => Path::Unknown {
                parent: &self.walker.path,
            },
        };
        seed.deserialize(&mut self.walker.child(path))
    }
}

/// What a plain scalar is, before any visitor sees it.
#[derive(Debug, PartialEq)]
enum Plain {
    Null,
    Bool(bool),
    /// A `0x`, `0o` or `0b` integer.
    Radix(i128),
    /// A `0x`, `0o` or `0b` integer above `i128::MAX`.
    LargeRadix(u128),
    /// Decimal: the text is read by [`Number::parse`].
    Decimal,
    /// `.inf`, `-.inf` or `.nan`.
    NotFinite(f64),
    Text,
}

fn visit_scalar<'de, V: Visitor<'de>>(visitor: V, scalar: &Scalar) -> Result<V::Value, Error> {
    let text = scalar.value.as_str();
    let kind = match scalar.tag.as_deref() {
        None if scalar.plain => plain(text),
        None => Plain::Text,
        Some(tag) if tag.starts_with('!') => return Err(tags_unsupported()),
        Some(TAG_NULL) => match text {
            "~" | "null" | "Null" | "NULL" => Plain::Null,
            _ => return Err(forced(text, "null")),
        },
        Some(TAG_BOOL) => bool_word(text).map_or_else(
            || Err(forced(text, "a boolean")),
            |flag| Ok(Plain::Bool(flag)),
        )?,
        Some(TAG_INT) => match radix(text) {
            Some(kind) => kind,
            None if integer(text) => Plain::Decimal,
            None => return Err(forced(text, "an integer")),
        },
        Some(TAG_FLOAT) => match not_finite(text) {
            Some(float) => Plain::NotFinite(float),
            None if Number::parse(text) != Err(NumberError::Syntax) => Plain::Decimal,
            None => return Err(forced(text, "a float")),
        },
        Some(_) => Plain::Text,
    };
    match kind {
        Plain::Null => visitor.visit_unit(),
        Plain::Bool(flag) => visitor.visit_bool(flag),
        Plain::Radix(int) => visitor.visit_i128(int),
        Plain::LargeRadix(int) => visitor.visit_u128(int),
        // The text of a number reaches the visitor as bytes, which no other
        // node produces: see `Node::visit_bytes`.
        Plain::Decimal => visitor.visit_bytes(text.as_bytes()),
        Plain::NotFinite(float) => visitor.visit_f64(float),
        Plain::Text => visitor.visit_str(text),
    }
}

fn forced(text: &str, expected: &str) -> Error {
    Error::policy(PolicyError::invalid(format!(
        "the tagged value {text:?} is not {expected}"
    )))
}

/// Whether `text`, written as a plain scalar, reads as that string.
pub(super) fn reads_as_text(text: &str) -> bool {
    plain(text) == Plain::Text
}

/// Resolves an untagged plain scalar.
fn plain(text: &str) -> Plain {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Plain::Null;
    }
    if let Some(flag) = bool_word(text) {
        return Plain::Bool(flag);
    }
    if let Some(kind) = radix(text) {
        return kind;
    }
    if !zero_then_digits(text) {
        if Number::parse(text) != Err(NumberError::Syntax) {
            return Plain::Decimal;
        }
        if let Some(float) = not_finite(text) {
            return Plain::NotFinite(float);
        }
    }
    Plain::Text
}

fn bool_word(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// `[+-]?0x…`, `0o…` or `0b…` within 128 bits (a negative one within `i128`).
fn radix(text: &str) -> Option<Plain> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (digits, radix) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .into_iter()
        .find_map(|(prefix, radix)| unsigned.strip_prefix(prefix).map(|digits| (digits, radix)))?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u128::from_str_radix(digits, radix).ok()?;
    if negative {
        0i128.checked_sub_unsigned(magnitude).map(Plain::Radix)
    } else {
        Some(match i128::try_from(magnitude) {
            Ok(int) => Plain::Radix(int),
            Err(_) => Plain::LargeRadix(magnitude),
        })
    }
}

/// A decimal integer as `!!int` takes it: `[+-]?` digits, without a leading zero.
fn integer(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !zero_then_digits(text)
}

/// A zero followed by digits only, such as `012`: a string in YAML 1.2.
fn zero_then_digits(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    unsigned.len() > 1
        && unsigned.starts_with('0')
        && unsigned[1..].bytes().all(|b| b.is_ascii_digit())
}

fn not_finite(text: &str) -> Option<f64> {
    let unpositive = text.strip_prefix('+').unwrap_or(text);
    match (text, unpositive) {
        (_, ".inf" | ".Inf" | ".INF") => Some(f64::INFINITY),
        ("-.inf" | "-.Inf" | "-.INF", _) => Some(f64::NEG_INFINITY),
        (".nan" | ".NaN" | ".NAN", _) => Some(f64::NAN),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawKind {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias,
    Scalar,
    SequenceStart,
    SequenceEnd,
    MappingStart,
    MappingEnd,
}

/// One libyaml event, copied out of the parser.
struct RawEvent {
    kind: RawKind,
    mark: Mark,
    /// Where the event stands in the source, in bytes.
    span: std::ops::Range<usize>,
    /// The anchor a node defines.
    anchor: Option<String>,
    /// The anchor an alias names.
    alias: Option<String>,
    tag: Option<String>,
    value: String,
    plain: bool,
}

/// A libyaml parser over a borrowed string.
struct Parser<'s> {
    /// Boxed because libyaml keeps a pointer to the parser inside it.
    parser: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    input: PhantomData<&'s str>,
}

impl<'s> Parser<'s> {
    fn new(source: &'s str) -> Option<Self> {
        let mut parser = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        // SAFETY: `yaml_parser_initialize` fully initializes the parser when it
        // succeeds. The input outlives the parser (`'s`), and the parser never
        // moves because it lives behind the box.
        unsafe {
            if unsafe_libyaml::yaml_parser_initialize(parser.as_mut_ptr()).fail {
                return None;
            }
            unsafe_libyaml::yaml_parser_set_input_string(
                parser.as_mut_ptr(),
                source.as_ptr(),
                source.len() as u64,
            );
        }
        Some(Parser {
            parser,
            input: PhantomData,
        })
    }

    /// The next event, or `None` on a syntax error (after which the parser
    /// must not be asked again; `load` never does).
    fn next(&mut self) -> Option<RawEvent> {
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser is initialized (see `new`) and has not failed; a
        // successful `yaml_parser_parse` initializes the event, whose union
        // member is the one its type names and whose strings are NUL-terminated
        // (anchors, tags) or `length` bytes long (scalar values); they are
        // copied before the event is released, exactly once.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(self.parser.as_mut_ptr(), event.as_mut_ptr()).fail
            {
                return None;
            }
            let event = event.as_mut_ptr();
            let (start, end) = ((*event).start_mark, (*event).end_mark);
            let byte = |index: u64| usize::try_from(index).unwrap_or(usize::MAX);
            let mut raw = RawEvent {
                kind: RawKind::StreamStart,
                mark: Mark {
                    line: usize::try_from(start.line).unwrap_or(usize::MAX),
                    column: usize::try_from(start.column).unwrap_or(usize::MAX),
                },
                span: byte(start.index)..byte(end.index),
                anchor: None,
                alias: None,
                tag: None,
                value: String::new(),
                plain: false,
            };
            let data = &(*event).data;
            raw.kind = match (*event).type_ {
                unsafe_libyaml::YAML_STREAM_START_EVENT => RawKind::StreamStart,
                unsafe_libyaml::YAML_STREAM_END_EVENT => RawKind::StreamEnd,
                unsafe_libyaml::YAML_DOCUMENT_START_EVENT => RawKind::DocumentStart,
                unsafe_libyaml::YAML_DOCUMENT_END_EVENT => RawKind::DocumentEnd,
                unsafe_libyaml::YAML_ALIAS_EVENT => {
                    raw.alias = c_string(data.alias.anchor);
                    RawKind::Alias
                }
                unsafe_libyaml::YAML_SCALAR_EVENT => {
                    let scalar = data.scalar;
                    raw.anchor = c_string(scalar.anchor);
                    raw.tag = c_string(scalar.tag);
                    let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                    raw.value = String::from_utf8_lossy(bytes).into_owned();
                    raw.plain = scalar.style == unsafe_libyaml::YAML_PLAIN_SCALAR_STYLE;
                    RawKind::Scalar
                }
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT => {
                    raw.anchor = c_string(data.sequence_start.anchor);
                    raw.tag = c_string(data.sequence_start.tag);
                    RawKind::SequenceStart
                }
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT => RawKind::SequenceEnd,
                unsafe_libyaml::YAML_MAPPING_START_EVENT => {
                    raw.anchor = c_string(data.mapping_start.anchor);
                    raw.tag = c_string(data.mapping_start.tag);
                    RawKind::MappingStart
                }
                unsafe_libyaml::YAML_MAPPING_END_EVENT => RawKind::MappingEnd,
                _ => {
                    unsafe_libyaml::yaml_event_delete(event);
                    return None;
                }
            };
            unsafe_libyaml::yaml_event_delete(event);
            Some(raw)
        }
    }
}

/// A copy of a NUL-terminated libyaml string, if there is one.
///
/// # Safety
/// `text` is null or points at a NUL-terminated string.
unsafe fn c_string(text: *const u8) -> Option<String> {
    if text.is_null() {
        return None;
    }
    // SAFETY: as the caller promises.
    let text = unsafe { CStr::from_ptr(text.cast()) };
    Some(text.to_string_lossy().into_owned())
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized in `new` and is released once.
        unsafe { unsafe_libyaml::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_as_the_reference_says() {
        for (text, kind) in [
            ("", Plain::Null),
            ("~", Plain::Null),
            ("Null", Plain::Null),
            ("nULL", Plain::Text),
            ("TRUE", Plain::Bool(true)),
            ("False", Plain::Bool(false)),
            ("yes", Plain::Text),
            ("off", Plain::Text),
            ("y", Plain::Text),
            ("0x1F", Plain::Radix(31)),
            ("-0x10", Plain::Radix(-16)),
            ("+0o17", Plain::Radix(15)),
            ("0b101", Plain::Radix(5)),
            ("0X1F", Plain::Text),
            ("0x", Plain::Text),
            ("0x_1", Plain::Text),
            ("0x+1", Plain::Text),
            (
                "0xffffffffffffffffffffffffffffffff",
                Plain::LargeRadix(u128::MAX),
            ),
            ("0x1ffffffffffffffffffffffffffffffff", Plain::Text),
            (
                "-0x80000000000000000000000000000000",
                Plain::Radix(i128::MIN),
            ),
            ("-0x80000000000000000000000000000001", Plain::Text),
            ("12", Plain::Decimal),
            ("-0", Plain::Decimal),
            ("012", Plain::Text),
            ("-012", Plain::Text),
            ("0.5", Plain::Decimal),
            ("012.5", Plain::Decimal),
            ("1e2", Plain::Decimal),
            ("1e400", Plain::Decimal),
            ("1e9999999999", Plain::Decimal),
            (".5", Plain::Decimal),
            ("5.", Plain::Decimal),
            ("+1", Plain::Decimal),
            ("++1", Plain::Text),
            ("1_000", Plain::Text),
            ("inf", Plain::Text),
            ("-Infinity", Plain::Text),
            ("nan", Plain::Text),
            ("+.nan", Plain::Text),
            ("2001-12-14", Plain::Text),
            ("1:20", Plain::Text),
        ] {
            assert_eq!(plain(text), kind, "{text:?}");
        }
        assert_eq!(plain(".inf"), Plain::NotFinite(f64::INFINITY));
        assert_eq!(plain("+.INF"), Plain::NotFinite(f64::INFINITY));
        assert_eq!(plain("-.Inf"), Plain::NotFinite(f64::NEG_INFINITY));
        assert!(matches!(plain(".NaN"), Plain::NotFinite(float) if float.is_nan()));
    }

    #[test]
    fn deep_documents_stop_loading_with_a_position() {
        let deep = format!("when: {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let Err(LoadError::TooDeep(error)) = load(&deep) else {
            panic!("loads");
        };
        assert_eq!(error.kind, crate::ErrorKind::TooLarge);
        assert_eq!(error.line, Some(1));
        // The mapping is the first level: the 128th `[` is one too many.
        assert_eq!(error.column, Some(6 + MAX_NESTING));
        assert!(load(&format!("a: {}1{}", "[".repeat(127), "]".repeat(127))).is_ok());
    }

    #[test]
    fn counts_documents_and_keeps_the_first() {
        let stream = load("a: 1\n---\nb: [2]\n").unwrap();
        assert_eq!(stream.documents, 2);
        assert_eq!(stream.first.events.len(), 4);
        let stream = load("# nothing\n").unwrap();
        assert_eq!(stream.documents, 0);
        assert!(matches!(stream.first.events[..], [(Event::Void, _)]));
        assert!(matches!(load("a: *nowhere\n"), Err(LoadError::Syntax)));
        // An alias names the node of its anchor, never an earlier alias.
        let stream = load("a: &x [1]\nb: *x\nc: *x\n").unwrap();
        let targets: Vec<usize> = (stream.first.events.iter())
            .filter_map(|(event, _)| match event {
                Event::Alias(target) => Some(*target),
                _ => None,
            })
            .collect();
        assert_eq!(targets, [2, 2]);
        assert!(matches!(load("a: [1\n"), Err(LoadError::Syntax)));
    }
}
