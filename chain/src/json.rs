//! Canonical JSON: the one byte form of a JSON value that the chain hashes.
//!
//! - no whitespace;
//! - object members sorted by the UTF-8 bytes of their keys (a text with a
//!   key twice in one object is refused: jsonb never prints one, and readers
//!   disagree on which of the two counts);
//! - strings escape `"` and `\` with a backslash and the control characters
//!   U+0000–U+001F as `\u00xx` (lower-case hex); every other character is
//!   written as itself, in UTF-8;
//! - numbers are written exactly as they were read, digit for digit: jsonb
//!   prints a numeric as it stores it, so `1.0` and `1` stay apart.
//!
//! The parser and the writer use explicit stacks, so the depth of a value is
//! bounded only by memory.

use std::fmt;

/// Why a text is not one JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for JsonError {}

/// A parsed JSON value: nodes in an arena, the root first.
#[derive(Debug, Clone)]
pub struct Json {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Null,
    Bool(bool),
    /// The number's text as read.
    Number(String),
    String(String),
    /// Indexes of the elements' nodes.
    Array(Vec<usize>),
    /// (key, index of the value's node), in the order read.
    Object(Vec<(String, usize)>),
}

impl Json {
    /// Parses `text`, one JSON value with optional surrounding whitespace.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let (json, end) = Json::parse_prefix(text.as_bytes(), 0)?;
        let end = skip_whitespace(text.as_bytes(), end);
        if end != text.len() {
            return Err(JsonError {
                offset: end,
                message: "text after the value",
            });
        }
        Ok(json)
    }

    /// Parses the value that starts at `start` (after whitespace) and returns
    /// it with the offset just past it.
    pub(crate) fn parse_prefix(bytes: &[u8], start: usize) -> Result<(Json, usize), JsonError> {
        Parser {
            bytes,
            at: start,
            nodes: Vec::new(),
        }
        .value()
    }

    /// The canonical bytes of this value.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_canonical(&mut out);
        out
    }

    /// Appends the canonical bytes of this value to `out`.
    pub fn write_canonical(&self, out: &mut Vec<u8>) {
        enum Step<'a> {
            Value(usize),
            Bytes(&'static [u8]),
            Key(&'a str),
        }
        let mut stack = vec![Step::Value(0)];
        while let Some(step) = stack.pop() {
            match step {
                Step::Bytes(bytes) => out.extend_from_slice(bytes),
                Step::Key(key) => {
                    write_string(key, out);
                    out.push(b':');
                }
                Step::Value(index) => match &self.nodes[index] {
                    Node::Null => out.extend_from_slice(b"null"),
                    Node::Bool(true) => out.extend_from_slice(b"true"),
                    Node::Bool(false) => out.extend_from_slice(b"false"),
                    Node::Number(text) => out.extend_from_slice(text.as_bytes()),
                    Node::String(text) => write_string(text, out),
                    Node::Array(elements) => {
                        out.push(b'[');
                        stack.push(Step::Bytes(b"]"));
                        for (position, &element) in elements.iter().enumerate().rev() {
                            stack.push(Step::Value(element));
                            if position > 0 {
                                stack.push(Step::Bytes(b","));
                            }
                        }
                    }
                    Node::Object(members) => {
                        out.push(b'{');
                        stack.push(Step::Bytes(b"}"));
                        let members = sorted_members(members);
                        for (position, (key, value)) in members.into_iter().enumerate().rev() {
                            stack.push(Step::Value(value));
                            stack.push(Step::Key(key));
                            if position > 0 {
                                stack.push(Step::Bytes(b","));
                            }
                        }
                    }
                },
            }
        }
    }

    /// The root's members when it is an object: (key, value) in the order
    /// read, the value as its own Json.
    pub fn members(&self) -> Option<Vec<(&str, JsonRef<'_>)>> {
        match &self.nodes[0] {
            Node::Object(members) => Some(
                members
                    .iter()
                    .map(|(key, index)| {
                        (
                            key.as_str(),
                            JsonRef {
                                json: self,
                                index: *index,
                            },
                        )
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// A value inside a parsed Json.
#[derive(Clone, Copy)]
pub struct JsonRef<'a> {
    json: &'a Json,
    index: usize,
}

impl JsonRef<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self.json.nodes[self.index], Node::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.json.nodes[self.index] {
            Node::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.json.nodes[self.index] {
            Node::Bool(value) => Some(value),
            _ => None,
        }
    }

    /// A number that is an integer within i64.
    pub fn as_i64(&self) -> Option<i64> {
        match &self.json.nodes[self.index] {
            Node::Number(text) => text.parse().ok(),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self.json.nodes[self.index], Node::Object(_))
    }

    /// The canonical bytes of this value.
    pub fn canonical(&self) -> Vec<u8> {
        self.to_json().canonical()
    }

    /// This value as a Json of its own.
    pub fn to_json(&self) -> Json {
        let mut nodes = Vec::new();
        // (source index, index of the copy's slot)
        let mut stack = vec![(self.index, 0)];
        nodes.push(Node::Null);
        while let Some((source, slot)) = stack.pop() {
            nodes[slot] = match &self.json.nodes[source] {
                Node::Array(elements) => Node::Array(
                    elements
                        .iter()
                        .map(|&element| {
                            nodes.push(Node::Null);
                            stack.push((element, nodes.len() - 1));
                            nodes.len() - 1
                        })
                        .collect(),
                ),
                Node::Object(members) => Node::Object(
                    members
                        .iter()
                        .map(|(key, value)| {
                            nodes.push(Node::Null);
                            stack.push((*value, nodes.len() - 1));
                            (key.clone(), nodes.len() - 1)
                        })
                        .collect(),
                ),
                leaf => leaf.clone(),
            };
        }
        Json { nodes }
    }
}

/// Members sorted by key bytes (keys are unique: the parser checks).
fn sorted_members(members: &[(String, usize)]) -> Vec<(&str, usize)> {
    let mut sorted: Vec<(&str, usize)> = members
        .iter()
        .map(|(key, value)| (key.as_str(), *value))
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    sorted
}

fn has_duplicate_key(members: &[(String, usize)]) -> bool {
    let mut keys: Vec<&str> = members.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in text.as_bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0xf)]);
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r') {
        at += 1;
    }
    at
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
    nodes: Vec<Node>,
}

/// A container being filled, with its node's index.
enum Open {
    Array(usize),
    /// The object's node and the key of the member being read.
    Object(usize, Option<String>),
}

impl Parser<'_> {
    fn error<T>(&self, message: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            offset: self.at,
            message,
        })
    }

    fn peek(&mut self) -> Option<u8> {
        self.at = skip_whitespace(self.bytes, self.at);
        self.bytes.get(self.at).copied()
    }

    fn value(mut self) -> Result<(Json, usize), JsonError> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            // Read one value, or open a container.
            let index = self.nodes.len();
            match self.peek() {
                Some(b'[') => {
                    self.at += 1;
                    self.nodes.push(Node::Array(Vec::new()));
                    if self.peek() == Some(b']') {
                        self.at += 1;
                    } else {
                        open.push(Open::Array(index));
                        continue;
                    }
                }
                Some(b'{') => {
                    self.at += 1;
                    self.nodes.push(Node::Object(Vec::new()));
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                    } else {
                        let key = self.key()?;
                        open.push(Open::Object(index, Some(key)));
                        continue;
                    }
                }
                Some(_) => {
                    let node = self.scalar()?;
                    self.nodes.push(node);
                }
                None => return self.error("a value was expected"),
            }
            // Attach the finished value, closing containers it completes.
            let mut finished = index;
            loop {
                let Some(parent) = open.last_mut() else {
                    // A container is pushed before its elements: the root is first.
                    debug_assert_eq!(finished, 0);
                    return Ok((Json { nodes: self.nodes }, self.at));
                };
                match parent {
                    Open::Array(array) => {
                        let array = *array;
                        if let Node::Array(elements) = &mut self.nodes[array] {
                            elements.push(finished);
                        }
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                break;
                            }
                            Some(b']') => {
                                self.at += 1;
                                open.pop();
                                finished = array;
                            }
                            _ => return self.error("',' or ']' was expected"),
                        }
                    }
                    Open::Object(object, key) => {
                        let object = *object;
                        let key = key.take().unwrap_or_default();
                        if let Node::Object(members) = &mut self.nodes[object] {
                            members.push((key, finished));
                        }
                        match self.peek() {
                            Some(b',') => {
                                self.at += 1;
                                let key = self.key()?;
                                if let Some(Open::Object(_, slot)) = open.last_mut() {
                                    *slot = Some(key);
                                }
                                break;
                            }
                            Some(b'}') => {
                                if let Node::Object(members) = &self.nodes[object]
                                    && has_duplicate_key(members)
                                {
                                    return self.error("a key appears twice in one object");
                                }
                                self.at += 1;
                                open.pop();
                                finished = object;
                            }
                            _ => return self.error("',' or '}' was expected"),
                        }
                    }
                }
            }
        }
    }

    /// A member's key and its colon.
    fn key(&mut self) -> Result<String, JsonError> {
        if self.peek() != Some(b'"') {
            return self.error("a string key was expected");
        }
        let key = self.string()?;
        if self.peek() != Some(b':') {
            return self.error("':' was expected");
        }
        self.at += 1;
        Ok(key)
    }

    fn scalar(&mut self) -> Result<Node, JsonError> {
        let rest = &self.bytes[self.at..];
        for (word, node) in [
            (&b"null"[..], Node::Null),
            (b"true", Node::Bool(true)),
            (b"false", Node::Bool(false)),
        ] {
            if rest.starts_with(word) {
                self.at += word.len();
                return Ok(node);
            }
        }
        match rest.first() {
            Some(b'"') => Ok(Node::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.error("a value was expected"),
        }
    }

    fn number(&mut self) -> Result<Node, JsonError> {
        let start = self.at;
        let bytes = self.bytes;
        let digits = |at: &mut usize| {
            let from = *at;
            while *at < bytes.len() && bytes[*at].is_ascii_digit() {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        if bytes.get(at) == Some(&b'0') {
            at += 1;
        } else if !digits(&mut at) {
            self.at = at;
            return self.error("a digit was expected");
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if !digits(&mut at) {
                self.at = at;
                return self.error("a digit was expected after '.'");
            }
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digits(&mut at) {
                self.at = at;
                return self.error("a digit was expected in the exponent");
            }
        }
        self.at = at;
        let text = std::str::from_utf8(&bytes[start..at]).unwrap_or_default();
        Ok(Node::Number(text.to_owned()))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.at += 1; // the opening quote
        let mut out = Vec::new();
        loop {
            let Some(&byte) = self.bytes.get(self.at) else {
                return self.error("unterminated string");
            };
            self.at += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let Some(&escape) = self.bytes.get(self.at) else {
                        return self.error("unterminated escape");
                    };
                    self.at += 1;
                    match escape {
                        b'"' | b'\\' | b'/' => out.push(escape),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let character = self.unicode_escape()?;
                            let mut buffer = [0u8; 4];
                            out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                        }
                        _ => return self.error("unknown escape"),
                    }
                }
                0x00..=0x1f => return self.error("control character in a string"),
                _ => out.push(byte),
            }
        }
        String::from_utf8(out).or_else(|_| self.error("a string is not UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.bytes.get(self.at..self.at + 4);
        let value = digits
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok());
        match value {
            Some(value) => {
                self.at += 4;
                Ok(value)
            }
            None => self.error("four hex digits were expected"),
        }
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                return self.error("a high surrogate without its low surrogate");
            }
            self.at += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return self.error("a high surrogate without its low surrogate");
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).map_or_else(|| self.error("a lone surrogate"), Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        String::from_utf8(Json::parse(text).unwrap().canonical()).unwrap()
    }

    #[test]
    fn sorts_keys_by_bytes_and_drops_whitespace() {
        assert_eq!(
            canonical(r#"{"b": 1, "a": [true, null, {"z": "x", "y": 2}], "aa": {}}"#),
            r#"{"a":[true,null,{"y":2,"z":"x"}],"aa":{},"b":1}"#
        );
    }

    #[test]
    fn refuses_a_key_twice_in_one_object() {
        assert!(Json::parse(r#"{"a": 1, "b": 2, "a": 3}"#).is_err());
        assert!(Json::parse(r#"[{"a": {"x": 1, "x": 1}}]"#).is_err());
        assert!(Json::parse(r#"[{"a": 1}, {"a": 1}]"#).is_ok());
    }

    #[test]
    fn keeps_number_text() {
        assert_eq!(
            canonical("[1, 1.0, 1e400, -0, 0.10]"),
            "[1,1.0,1e400,-0,0.10]"
        );
    }

    #[test]
    fn one_escape_form() {
        assert_eq!(
            canonical(r#"["\u0041\/\"\\\n\u001F\u00e9", "é😀", "\ud83d\ude00"]"#),
            "[\"A/\\\"\\\\\\u000a\\u001fé\",\"é😀\",\"😀\"]"
        );
    }

    #[test]
    fn deep_nesting_needs_no_call_stack() {
        let depth = 200_000;
        let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(canonical(&text), text);
        let text = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
        assert_eq!(canonical(&text), text);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for text in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "01",
            "1.",
            "\"\\x\"",
            "[1] 2",
            "\"\\ud800\"",
            "nul",
        ] {
            assert!(Json::parse(text).is_err(), "{text:?} parsed");
        }
    }
}
