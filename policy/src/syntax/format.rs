//! The canonical layout of a policy document, for `authensor fmt`: block
//! style, two spaces of indentation, the keys of the policy, its rules and its
//! tests in a fixed order (other mappings keep theirs), strings quoted only
//! when they must be, numbers exactly as written. Formatting a formatted
//! document changes nothing.

use std::fmt::{self, Write as _};
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::yaml;
use crate::compile::compile;
use crate::error::PolicyError;

/// A YAML node as the policy reads it: aliases replayed, plain scalars
/// resolved (so `True` is `true` and `0x1F` is `31`).
enum Tree {
    Null,
    Bool(bool),
    /// A number's text as written, or an integer's decimal digits.
    Number(String),
    Text(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

/// Where a mapping stands, which sets the order of its keys.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Policy,
    Rule,
    Test,
    Other,
}

const POLICY_KEYS: &[&str] = &["description", "default", "rules", "tests"];
const RULE_KEYS: &[&str] = &["id", "tool", "action", "reason", "when", "approval"];
const TEST_KEYS: &[&str] = &["tool", "tenant", "args", "context", "expect", "rule"];

/// `source` in the canonical layout. The policy must compile; comments are
/// kept only at the top of the document, before anything else: any other
/// comment is refused rather than dropped.
pub fn format(source: &str) -> Result<String, PolicyError> {
    compile(source)?;
    let header = leading_comments(source);
    let stream = yaml::load(source).map_err(|_| PolicyError::invalid("malformed YAML"))?;
    let tree = yaml::read(&stream.first, PhantomData::<Tree>)?;
    let hashes_in_header = header.matches('#').count();
    if source.matches('#').count() > stream.first.hashes_in_scalars() + hashes_in_header {
        return Err(PolicyError::invalid(
            "the document has comments below its top, which the canonical layout would drop",
        )
        .with_hint("keep comments at the top of the document, or move them into `description` or a rule's `reason`"));
    }
    let mut out = header;
    match &tree {
        Tree::Map(entries) if entries.is_empty() => out.push_str("{}\n"),
        Tree::Map(entries) => write_map_body(&mut out, entries, 0, Place::Policy),
        Tree::Null => {}
        _ => unreachable!("a compiled policy is a mapping"),
    }
    // The layout writes each alias out in full: a short document that
    // repeats a long list can come out past the size limit. Such a result
    // could no longer be published, so it is refused, never handed back.
    if let Err(error) = compile(&out) {
        return Err(PolicyError {
            message: format!("formatted, the policy would not compile: {}", error.message),
            path: None,
            line: None,
            column: None,
            ..error
        }
        .with_hint("the canonical layout writes aliases out in full; repeat less, or keep this file as it is"));
    }
    Ok(out)
}

/// The comment lines and blank lines the document starts with.
fn leading_comments(source: &str) -> String {
    let mut header = String::new();
    // A byte order mark is no part of the first line (the layout drops it).
    for line in source.trim_start_matches('\u{feff}').lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            header.push_str(line.trim_end());
            header.push('\n');
        } else {
            break;
        }
    }
    // Blank lines after the comments go; one separates them from the body.
    let kept = header.trim_end();
    if kept.is_empty() {
        String::new()
    } else {
        format!("{}\n\n", kept.trim_start_matches('\n'))
    }
}

fn ordered(entries: &[(String, Tree)], place: Place) -> Vec<&(String, Tree)> {
    let order = match place {
        Place::Policy => POLICY_KEYS,
        Place::Rule => RULE_KEYS,
        Place::Test => TEST_KEYS,
        Place::Other => return entries.iter().collect(),
    };
    let rank = |key: &str| {
        order
            .iter()
            .position(|known| *known == key)
            .unwrap_or(order.len())
    };
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort_by_key(|(key, _)| rank(key));
    sorted
}

/// What the items of the value of `key` in a mapping at `place` are.
fn place_of_items(place: Place, key: &str) -> Place {
    match (place, key) {
        (Place::Policy, "rules") => Place::Rule,
        (Place::Policy, "tests") => Place::Test,
        _ => Place::Other,
    }
}

fn indent(out: &mut String, depth: usize) {
    out.extend(std::iter::repeat_n("  ", depth));
}

/// `: value` after a key: scalars and empty collections on the same line,
/// others below it, one level deeper.
fn write_value(out: &mut String, value: &Tree, depth: usize, items: Place) {
    match value {
        Tree::List(list) if !list.is_empty() => {
            out.push_str(":\n");
            write_list(out, list, depth + 1, items);
        }
        Tree::Map(entries) if !entries.is_empty() => {
            out.push_str(":\n");
            indent(out, depth + 1);
            write_map_body(out, entries, depth + 1, Place::Other);
        }
        scalar => {
            out.push_str(": ");
            write_scalar(out, scalar);
            out.push('\n');
        }
    }
}

/// A mapping whose first line's indentation is already written.
fn write_map_body(out: &mut String, entries: &[(String, Tree)], depth: usize, place: Place) {
    for (position, (key, value)) in ordered(entries, place).into_iter().enumerate() {
        if position > 0 {
            indent(out, depth);
        }
        write_text(out, key);
        write_value(out, value, depth, place_of_items(place, key));
    }
}

fn write_list(out: &mut String, list: &[Tree], depth: usize, place: Place) {
    for item in list {
        indent(out, depth);
        match item {
            Tree::Map(entries) if !entries.is_empty() => {
                out.push_str("- ");
                write_map_body(out, entries, depth + 1, place);
            }
            Tree::List(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                write_list(out, inner, depth + 1, Place::Other);
            }
            scalar => {
                out.push_str("- ");
                write_scalar(out, scalar);
                out.push('\n');
            }
        }
    }
}

fn write_scalar(out: &mut String, scalar: &Tree) {
    match scalar {
        Tree::Null => out.push_str("null"),
        Tree::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Tree::Number(text) => out.push_str(text),
        Tree::Text(text) => write_text(out, text),
        Tree::List(_) => out.push_str("[]"),
        Tree::Map(_) => out.push_str("{}"),
    }
}

/// A string plain when it reads back as the same string in any position,
/// double-quoted otherwise.
fn write_text(out: &mut String, text: &str) {
    if is_plain_safe(text) {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if must_escape(c) => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn is_plain_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    !"-?:,[]{}#&*!|>'\"%@` ".contains(first)
        && !text.ends_with([' ', ':'])
        && !text.contains(": ")
        && !text.contains(" #")
        && !text.contains(['\n', '\t', '\r', ',', '[', ']', '{', '}'])
        && !text.chars().any(must_escape)
        && text != "<<"
        && yaml::reads_as_text(text)
        && !looks_like_yaml_1_1_scalar(text)
}

/// Characters a YAML reader does not take as written, even in double quotes:
/// controls, the byte order mark, the line and paragraph separators (line
/// breaks to YAML 1.1, which a reader folds or ends a plain scalar at) and
/// the noncharacters U+FFFE and U+FFFF (not printable to YAML).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Words and digits that YAML 1.1 readers (and people) take for booleans or
/// numbers, such as `yes` or `012`: quoted, though this reader takes them
/// for strings.
fn looks_like_yaml_1_1_scalar(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-', '.']).unwrap_or(text);
    unsigned.starts_with(|c: char| c.is_ascii_digit())
        || ["y", "n", "yes", "no", "on", "off"]
            .iter()
            .any(|word| text.eq_ignore_ascii_case(word))
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tree, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML node")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(flag))
    }

    fn visit_i128<E: de::Error>(self, number: i128) -> Result<Tree, E> {
        Ok(Tree::Number(number.to_string()))
    }

    fn visit_u128<E: de::Error>(self, number: u128) -> Result<Tree, E> {
        Ok(Tree::Number(number.to_string()))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Tree, E> {
        Ok(Tree::Number(number.to_string()))
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Tree, E> {
        Ok(Tree::Number(number.to_string()))
    }

    /// A decimal number's text (see `yaml::visit_scalar`).
    fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<Tree, E> {
        Ok(Tree::Number(String::from_utf8_lossy(text).into_owned()))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Tree, E> {
        Ok(Tree::Text(text.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Tree>()? {
            items.push(item);
        }
        Ok(Tree::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Tree>()? {
            let Tree::Text(key) = key else {
                return Err(de::Error::custom("a mapping key that is not a string"));
            };
            entries.push((key, map.next_value::<Tree>()?));
        }
        Ok(Tree::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_a_policy_out_canonically() {
        let source = "# Header kept.\n\n\ntests: [{expect: allow, tool: a.b, args: {m: 0x1F, s: '012', t: True}}]\nrules:\n- action: block\n  tool: [\"*.send\", system.*]\n  reason: \"two\\nlines: here\"\n  id: r1\n  when: {args.x: {in: [1, 10.50, null, '', yes]}, tool: {equals: [[1]]}}\ndefault: allow\ndescription: d\n";
        let expected = "# Header kept.

description: d
default: allow
rules:
  - id: r1
    tool:
      - \"*.send\"
      - system.*
    action: block
    reason: \"two\\nlines: here\"
    when:
      args.x:
        in:
          - 1
          - 10.50
          - null
          - \"\"
          - \"yes\"
      tool:
        equals:
          -
            - 1
tests:
  - tool: a.b
    args:
      m: 31
      s: \"012\"
      t: true
    expect: allow
";
        let formatted = format(source).unwrap();
        assert_eq!(formatted, expected);
        assert_eq!(format(&formatted).unwrap(), formatted);
    }

    #[test]
    fn refuses_to_drop_comments_below_the_top() {
        for source in [
            "rules: []  # trailing\n",
            "rules:\n  # inside\n  - action: allow\n",
        ] {
            let error = format(source).unwrap_err();
            assert!(error.message.contains("comments below its top"), "{source}");
        }
        // A `#` inside a value is no comment, and one an alias repeats is
        // counted once.
        let aliased = "description: &x \"#\"\nrules: [{action: allow, reason: *x}]\n";
        assert!(format(aliased).is_ok());
        let error = format(&format!("{aliased}# note\n")).unwrap_err();
        assert!(error.message.contains("comments below its top"));
        // An escaped `#` is no `#` of the source: the comment is still found.
        let error = format("description: \"\\x23\"\nrules: []  # note\n").unwrap_err();
        assert!(error.message.contains("comments below its top"));
        assert!(format("description: \"\\x23\"\nrules: []\n").is_ok());
        // Nor does a byte order mark shift where the scalars are.
        let error = format("\u{feff}rules: [] #\ndescription: dddd\n").unwrap_err();
        assert!(error.message.contains("comments below its top"));
        assert!(format("\u{feff}description: \"#\"\nrules: []\n").is_ok());
        assert_eq!(
            format("\u{feff}# header\nrules: []\n").unwrap(),
            "# header\n\nrules: []\n"
        );

        assert_eq!(
            format("rules: [{id: \"a #1\", action: allow}]\n").unwrap(),
            "rules:\n  - id: \"a #1\"\n    action: allow\n"
        );
    }

    #[test]
    fn strings_keep_every_character() {
        // Each alone, at the end and inside: what the formatted document
        // reads as must be what the source read as.
        for c in [
            '\u{2028}', '\u{2029}', '\u{fffe}', '\u{ffff}', '\u{85}', '\u{feff}', '\u{7}',
        ] {
            for text in [format!("{c}"), format!("a{c}"), format!("a{c}b")] {
                let escaped: String = text
                    .chars()
                    .map(|c| match c {
                        'a' | 'b' => c.to_string(),
                        _ => format!("\\u{:04x}", u32::from(c)),
                    })
                    .collect();
                let quoted = format!("\"{escaped}\"");
                let source = format!(
                    "rules: [{{action: allow, when: {{args.a: {{equals: {quoted}}}}}}}]\ntests: [{{tool: t, args: {{a: {quoted}, {quoted}: 1}}, expect: allow}}]\n"
                );
                let formatted = format(&source).unwrap();
                let read = |source: &str| crate::compile::compile_document(source).unwrap();
                let (before, after) = (read(&source), read(&formatted));
                assert_eq!(after.tests, before.tests, "{text:?}");
                assert_eq!(
                    format!("{:?}", after.policy),
                    format!("{:?}", before.policy),
                    "{text:?}"
                );
                assert_eq!(format(&formatted).unwrap(), formatted, "{text:?}");
            }
        }
        assert_eq!(
            format("tests: [{tool: t, args: {\"<<\": 1}, expect: block}]\n").unwrap(),
            "tests:\n  - tool: t\n    args:\n      \"<<\": 1\n    expect: block\n"
        );
    }

    #[test]
    fn a_layout_past_the_size_limit_is_refused() {
        // 20 kB that aliases repeat into 1.6 MB once written out.
        let items: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
        let mut source = format!(
            "rules:\n  - {{tool: t, action: allow, when: {{args.a: {{in: &l [{}]}}}}}}\n",
            items.join(",")
        );
        for _ in 1..30 {
            source.push_str("  - {tool: t, action: allow, when: {args.a: {in: *l}}}\n");
        }
        assert!(compile(&source).is_ok());
        let error = format(&source).unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::TooLarge);
        assert!(
            error
                .message
                .starts_with("formatted, the policy would not compile: the policy is "),
            "{}",
            error.message
        );
    }

    #[test]
    fn an_invalid_policy_is_not_formatted() {
        assert!(format("rules: [{action: maybe}]").is_err());
        assert!(format("").is_err());
        assert_eq!(format("{}").unwrap(), "{}\n");
    }
}
