//! The values a request carries in its args and context: JSON, with numbers as
//! exact decimals ([`Number`]), as PostgreSQL's jsonb holds them.

use std::fmt;

use crate::heap::{self, HeapSize};
use crate::number::Number;

/// A JSON value. Equality (and so the hash) is by value at every depth:
/// numbers by value (`1` equals `1.0`), objects whatever the order of their
/// keys, each having one representation.
///
/// Dropping a value takes no stack however deeply it nests.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Object),
}

/// A JSON object: each key once, in jsonb's order (shorter keys first, then
/// byte by byte), so that the order of construction never matters.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Object {
    entries: Vec<(String, Value)>,
}

/// jsonb's order of object keys (`lengthCompareJsonbString` in jsonb_util.c).
fn key_order(left: &str, right: &str) -> std::cmp::Ordering {
    left.len()
        .cmp(&right.len())
        .then_with(|| left.as_bytes().cmp(right.as_bytes()))
}

impl Object {
    pub fn new() -> Self {
        Object::default()
    }

    /// An object of these entries; of entries with the same key, the last
    /// one is kept, as jsonb keeps it. Entries already in jsonb's order (as
    /// jsonb gives them) are taken as they are.
    pub fn from_entries(mut entries: Vec<(String, Value)>) -> Self {
        let ordered = entries
            .windows(2)
            .all(|pair| key_order(&pair[0].0, &pair[1].0).is_lt());
        if !ordered {
            // A stable sort keeps entries with the same key in their order,
            // and dedup keeps the first of each run: reverse first, so it is
            // the last one written.
            entries.reverse();
            entries.sort_by(|left, right| key_order(&left.0, &right.0));
            entries.dedup_by(|later, earlier| later.0 == earlier.0);
        }
        Object { entries }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        // A few keys are found faster one by one, lengths first.
        if self.entries.len() <= 8 {
            return self
                .entries
                .iter()
                .find(|(probe, _)| probe.len() == key.len() && probe == key)
                .map(|(_, value)| value);
        }
        self.entries
            .binary_search_by(|(probe, _)| key_order(probe, key))
            .ok()
            .map(|index| &self.entries[index].1)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in jsonb's order of keys.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }
}

impl Value {
    /// `{}`, the args and context of a call that gives none.
    pub fn empty_object() -> Self {
        Value::Object(Object::new())
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(number) => Some(number),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// Reads JSON text (RFC 8259) with numbers exact: `1e400` and
    /// `0.1000000000000000000001` are read as written. Of repeated keys the
    /// last is kept, as jsonb does. Nesting takes no stack.
    pub fn from_json(text: &str) -> Result<Value, JsonError> {
        JsonReader { text, at: 0 }.read()
    }
}

impl Drop for Value {
    /// Children are moved onto a list and dropped from there, one level at a
    /// time, so that a value nested a million deep does not overflow the stack.
    fn drop(&mut self) {
        let mut pending = match self {
            Value::Array(items) if items.iter().any(Value::has_children) => std::mem::take(items),
            Value::Object(object) if object.entries.iter().any(|(_, v)| v.has_children()) => {
                std::mem::take(&mut object.entries)
                    .into_iter()
                    .map(|(_, value)| value)
                    .collect()
            }
            _ => return,
        };
        while let Some(mut value) = pending.pop() {
            match &mut value {
                Value::Array(items) => pending.append(items),
                Value::Object(object) => {
                    pending.extend(object.entries.drain(..).map(|(_, value)| value))
                }
                _ => {}
            }
        }
    }
}

impl Value {
    fn has_children(&self) -> bool {
        match self {
            Value::Array(items) => !items.is_empty(),
            Value::Object(object) => !object.is_empty(),
            _ => false,
        }
    }
}

impl From<Number> for Value {
    fn from(number: Number) -> Self {
        Value::Number(number)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::String(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::String(text)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        Value::Object(object)
    }
}

/// serde_json's numbers are `i64`, `u64` or `f64`; a float is taken as the
/// shortest decimal that reads back as it (`0.1` is exactly 0.1).
impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(flag) => Value::Bool(flag),
            serde_json::Value::Number(number) => Value::Number(
                number
                    .as_i64()
                    .map(Number::from)
                    .or_else(|| number.as_u64().map(Number::from))
                    .or_else(|| {
                        number
                            .as_f64()
                            .and_then(|float| Number::parse(&float.to_string()).ok())
                    })
                    .unwrap_or_else(|| Number::from(0i64)),
            ),
            serde_json::Value::String(text) => Value::String(text),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Object::from_entries(
                map.into_iter()
                    .map(|(key, value)| (key, Value::from(value)))
                    .collect(),
            )),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(flag) => write!(f, "{flag}"),
            Value::Number(number) => write!(f, "{number:?}"),
            Value::String(text) => write!(f, "{text:?}"),
            Value::Array(items) => f.debug_list().entries(items).finish(),
            Value::Object(object) => object.fmt(f),
        }
    }
}

impl fmt::Debug for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl HeapSize for Value {
    fn heap_bytes(&self) -> usize {
        match self {
            Value::Null | Value::Bool(_) => 0,
            Value::Number(number) => number.heap_bytes(),
            Value::String(text) => text.heap_bytes(),
            Value::Array(items) => items.heap_bytes(),
            Value::Object(object) => {
                heap::allocation(object.entries.capacity() * size_of::<(String, Value)>())
                    + object
                        .iter()
                        .map(|(key, value)| heap::allocation(key.len()) + value.heap_bytes())
                        .sum::<usize>()
            }
        }
    }
}

/// Why text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub message: String,
    /// Byte offset in the text.
    pub offset: usize,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

/// An array or object being read.
enum Open {
    Array(Vec<Value>),
    Object(Vec<(String, Value)>, String),
}

struct JsonReader<'t> {
    text: &'t str,
    at: usize,
}

impl JsonReader<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, JsonError> {
        Err(JsonError {
            message: message.into(),
            offset: self.at,
        })
    }

    fn skip_space(&mut self) {
        let rest = &self.text.as_bytes()[self.at..];
        self.at += rest
            .iter()
            .take_while(|byte| matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            self.error(format!("expected `{}`", byte as char))
        }
    }

    /// Reads a whole document, with an explicit stack instead of recursion.
    fn read(mut self) -> Result<Value, JsonError> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            self.skip_space();
            // A value starts here: a scalar, or a container whose first
            // element (or whose end) follows.
            let mut value = match self.peek() {
                Some(b'[') => {
                    self.at += 1;
                    self.skip_space();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                        Value::Array(Vec::new())
                    } else {
                        open.push(Open::Array(Vec::new()));
                        continue;
                    }
                }
                Some(b'{') => {
                    self.at += 1;
                    self.skip_space();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                        Value::Object(Object::new())
                    } else {
                        let key = self.string()?;
                        self.expect(b':')?;
                        open.push(Open::Object(Vec::new(), key));
                        continue;
                    }
                }
                _ => self.scalar()?,
            };
            // Put the value in its container; close every container that ends.
            loop {
                match open.last_mut() {
                    None => {
                        self.skip_space();
                        if self.at != self.text.len() {
                            return self.error("unexpected text after the JSON value");
                        }
                        return Ok(value);
                    }
                    Some(Open::Array(items)) => {
                        items.push(value);
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                break;
                            }
                            Some(b']') => {
                                self.at += 1;
                                let Some(Open::Array(items)) = open.pop() else {
                                    unreachable!("the last container is this array")
                                };
                                value = Value::Array(items);
                            }
                            _ => return self.error("expected `,` or `]`"),
                        }
                    }
                    Some(Open::Object(entries, key)) => {
                        entries.push((std::mem::take(key), value));
                        self.skip_space();
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                self.skip_space();
                                *key = self.string()?;
                                self.expect(b':')?;
                                break;
                            }
                            Some(b'}') => {
                                self.at += 1;
                                let Some(Open::Object(entries, _)) = open.pop() else {
                                    unreachable!("the last container is this object")
                                };
                                value = Value::Object(Object::from_entries(entries));
                            }
                            _ => return self.error("expected `,` or `}`"),
                        }
                    }
                }
            }
        }
    }

    fn scalar(&mut self) -> Result<Value, JsonError> {
        let rest = &self.text[self.at..];
        for (word, value) in [
            ("null", Value::Null),
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                return Ok(value);
            }
        }
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => {
                let len = rest
                    .bytes()
                    .take_while(|byte| {
                        matches!(byte, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                    })
                    .count();
                match Number::parse_json(&rest[..len]) {
                    Ok(number) => {
                        self.at += len;
                        Ok(Value::Number(number))
                    }
                    Err(error) => self.error(format!("invalid number: {error}")),
                }
            }
            None => self.error("unexpected end of the JSON text"),
            Some(_) => self.error("expected a JSON value"),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        if self.peek() != Some(b'"') {
            return self.error("expected a string");
        }
        self.at += 1;
        let mut text = String::new();
        loop {
            let rest = &self.text[self.at..];
            let plain = rest
                .find(|c: char| c == '"' || c == '\\' || c < ' ')
                .unwrap_or(rest.len());
            text.push_str(&rest[..plain]);
            self.at += plain;
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let simple = match self.peek() {
                        Some(b'"') => Some('"'),
                        Some(b'\\') => Some('\\'),
                        Some(b'/') => Some('/'),
                        Some(b'b') => Some('\u{8}'),
                        Some(b'f') => Some('\u{c}'),
                        Some(b'n') => Some('\n'),
                        Some(b'r') => Some('\r'),
                        Some(b't') => Some('\t'),
                        Some(b'u') => None,
                        _ => return self.error("invalid escape"),
                    };
                    self.at += 1;
                    text.push(match simple {
                        Some(escaped) => escaped,
                        None => self.unicode_escape()?,
                    });
                }
                None => return self.error("unterminated string"),
                Some(_) => return self.error("control character in a string"),
            }
        }
    }

    /// The character of `\uXXXX` (the `\u` read), with a surrogate pair's second half.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.text[self.at..].starts_with("\\u") {
                return self.error("unpaired surrogate in a \\u escape");
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return self.error("unpaired surrogate in a \\u escape");
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.error("unpaired surrogate in a \\u escape"),
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.text.get(self.at..self.at + 4).unwrap_or_default();
        match u32::from_str_radix(digits, 16) {
            Ok(code) if digits.bytes().all(|byte| byte.is_ascii_hexdigit()) => {
                self.at += 4;
                Ok(code)
            }
            _ => self.error("expected four hex digits after \\u"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn reads_json_with_exact_numbers() {
        let value = json(
            r#" {"x": 1e400, "y": [0.1000000000000000000001, -0, true, null], "s": "a\"\\\/\u00e9\ud83d\ude00\n"} "#,
        );
        let object = value.as_object().unwrap();
        assert_eq!(
            object.get("x").and_then(Value::as_number),
            Some(&Number::parse("1e400").unwrap())
        );
        let items = object.get("y").and_then(Value::as_array).unwrap();
        assert_ne!(items[0], Value::Number(Number::parse("0.1").unwrap()));
        assert_eq!(items[1], Value::Number(Number::from(0i64)));
        assert_eq!(object.get("s").and_then(Value::as_str), Some("a\"\\/é😀\n"));
        assert_eq!(json("[]"), Value::Array(Vec::new()));
        assert_eq!(json("{}"), Value::Object(Object::new()));
        assert_eq!(json("\"\""), Value::String(String::new()));
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\": 1,}",
            "01",
            "+1",
            ".5",
            "NaN",
            "'a'",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"a\nb\"",
            "[1] 2",
            "{a: 1}",
            "tru",
            "\"\\u12\"",
            "[1 2]",
        ] {
            assert!(Value::from_json(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_are_kept_once_in_jsonb_order() {
        let value = json(r#"{"bb": 1, "a": 2, "c": 3, "a": 4}"#);
        let object = value.as_object().unwrap();
        let keys: Vec<&str> = object.iter().map(|(key, _)| key).collect();
        assert_eq!(keys, ["a", "c", "bb"]);
        assert_eq!(object.get("a"), Some(&Value::Number(Number::from(4i64))));
        assert_eq!(object.get("zz"), None);
        assert_eq!(
            json(r#"{"a": 1, "b": [1.0]}"#),
            json(r#"{"b": [1], "a": 1.00}"#)
        );
        assert_ne!(json(r#"{"a": 1}"#), json(r#"{"a": 1, "b": 2}"#));
    }

    #[test]
    fn large_objects_find_every_key() {
        let text = format!(
            "{{{}}}",
            (0..100)
                .map(|n| format!("\"k{n}\": {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let value = json(&text);
        let object = value.as_object().unwrap();
        for n in 0..100 {
            assert_eq!(
                object.get(&format!("k{n}")),
                Some(&Value::Number(Number::from(n as i64)))
            );
        }
        assert_eq!(object.get("k100"), None);
        assert_eq!(object.get(""), None);
    }

    #[test]
    fn deep_values_read_and_drop_without_recursion() {
        let depth = 1_000_000;
        let objects = format!("{}1{}", "[{\"a\":".repeat(depth), "}]".repeat(depth));
        drop(json(&objects));
        assert!(Value::from_json(&objects[..objects.len() - 1]).is_err());
        let arrays = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let value = json(&arrays);
        // Equality stops at the shallower side.
        assert_ne!(value, json("[[1]]"));
        drop(value);
    }

    #[test]
    fn serde_json_values_convert_by_value() {
        let value = Value::from(serde_json::json!({"a": [1, 2.5, u64::MAX, 0.1], "b": null}));
        assert_eq!(
            value,
            json(r#"{"b": null, "a": [1, 2.5, 18446744073709551615, 0.1]}"#)
        );
    }
}
