//! Structure-aware mutation of policies: a seed policy read into a YAML
//! tree, changed by operations the fuzzer's bytes choose (swap operators,
//! paths, globs and values, nest, copy, share through anchors and aliases,
//! insert placeholders), and written back as flow-style YAML.

use std::collections::HashSet;
use std::sync::Arc;

use crate::bytes::Bytes;

/// A YAML node. Scalars are kept as the YAML text written for them; a
/// `Shared` node is written in full with an anchor the first time its name
/// is met and as an alias of that name after that, so the text stays small
/// however often it is repeated; mutations do not reach inside it.
#[derive(Clone, Debug)]
pub enum Node {
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Shared(u8, Arc<Node>),
}

/// Keys of policies, rules, conditions and operators, and paths.
const KEYS: &[&str] = &[
    "rules",
    "default",
    "description",
    "id",
    "tool",
    "action",
    "reason",
    "when",
    "all",
    "any",
    "not",
    "equals",
    "eq",
    "notEquals",
    "neq",
    "in",
    "notIn",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "args",
    "context",
    "args.to",
    "args.x",
    "args.a.b",
    "args.a.b.c.d.e.f.g",
    "args.",
    "args..x",
    "context.tenantId",
    "context.user.role",
    "context.tenantId.x",
    "tool.x",
    "\"args.x y\"",
    "args.\u{e9}",
    "args.0",
    "args.*",
    "\"\"",
    "? [a]",
    "<<",
];

/// Values: actions, numbers exact and odd, globs, regexes, placeholders,
/// tags and YAML 1.1 spellings.
const SCALARS: &[&str] = &[
    "allow",
    "block",
    "escalate",
    "Allow",
    "true",
    "false",
    "null",
    "~",
    "0",
    "-0",
    "1",
    "-1",
    "1e2",
    "1e400",
    "-1e-400",
    "1e-99999999999",
    "0.1000000000000000000001",
    "123456789012345678901234567890123456789",
    "9223372036854775808",
    "-9223372036854775809",
    "0x1F",
    "0o17",
    "012",
    ".inf",
    "-.inf",
    ".nan",
    "1_000",
    "yes",
    "off",
    "\"\"",
    "''",
    "\"${context.tenantId}\"",
    "\"@${context.tenantId}.com\"",
    "\"${context.user.id}-x\"",
    "\"${context.\"",
    "\"${args.x}\"",
    "\"${context.a}${context.b}${context.a}\"",
    "\"${context}\"",
    "\"$${context.a}}\"",
    "\"**\"",
    "\"*\"",
    "\"a.*.b\"",
    "\"email.**\"",
    "\"**.send_*\"",
    "\"?\"",
    "\"a[1]\"",
    "\"{x,y}\"",
    "\"*.*.*.*.*.*.*.*.*.*\"",
    "\".\"",
    "'(a+)+$'",
    "'\\b\\w{50}\\b'",
    "'[a-q][^u-z]{40}x'",
    "'(?i)x{1000}'",
    "'a{100000}'",
    "'(?s).*'",
    "'['",
    "'\\p{Greek}+'",
    "'(a|b|c|d|e|f|g|h){1,300}'",
    "\"\\0\\u0000\"",
    "\"\u{e9}\u{1f600}\u{202e}\"",
    "!!int 5",
    "!!str 5",
    "!!bool yes",
    "!!float 1",
    "!!null ''",
    "!foo x",
    "!!binary aGk=",
    "|\n  block\n",
    "[]",
    "{}",
    "[1, 2, 3]",
    "{a: 1}",
    "&x 1",
    "*x",
    "\"a\\\"b\"",
];

/// Keys and scalars alike, for inserting into strings.
const SPLICES: &[&str] = &[
    "${context.tenantId}",
    "${context.",
    "}",
    "*",
    "**",
    ".",
    "\\",
    "\u{0}",
    "\u{e9}",
    "${context.a.b}",
    "@",
    "?",
    "[",
    "(",
    "{",
];

impl Node {
    /// Reads a seed through serde_yaml (anchors already expanded).
    pub fn from_yaml(value: &serde_yaml::Value) -> Node {
        use serde_yaml::Value as Y;
        match value {
            Y::Null => Node::Scalar("null".into()),
            Y::Bool(b) => Node::Scalar(b.to_string()),
            Y::Number(n) => Node::Scalar(n.to_string()),
            Y::String(s) => Node::Scalar(quote(s)),
            Y::Sequence(items) => Node::Seq(items.iter().map(Node::from_yaml).collect()),
            Y::Mapping(map) => Node::Map(
                map.iter()
                    .map(|(k, v)| (Node::from_yaml(k), Node::from_yaml(v)))
                    .collect(),
            ),
            Y::Tagged(tagged) => match Node::from_yaml(&tagged.value) {
                Node::Scalar(text) => Node::Scalar(format!("{} {text}", tagged.tag)),
                other => other,
            },
        }
    }

    /// Writes the tree as flow-style YAML.
    pub fn emit(&self) -> String {
        let mut out = String::new();
        self.emit_into(&mut out, &mut HashSet::new());
        out.push('\n');
        out
    }

    fn emit_into(&self, out: &mut String, anchored: &mut HashSet<u8>) {
        match self {
            Node::Scalar(text) => out.push_str(text),
            Node::Seq(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    item.emit_into(out, anchored);
                }
                out.push(']');
            }
            Node::Map(entries) => {
                out.push('{');
                for (n, (key, value)) in entries.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    key.emit_into(out, anchored);
                    out.push_str(": ");
                    value.emit_into(out, anchored);
                }
                out.push('}');
            }
            Node::Shared(name, node) => {
                if anchored.insert(*name) {
                    out.push_str(&format!("&a{name} "));
                    node.emit_into(out, anchored);
                } else {
                    out.push_str(&format!("*a{name}"));
                }
            }
        }
    }

    /// How many nodes the tree has, in the order `nth_mut` counts them.
    fn count(&self) -> usize {
        1 + match self {
            Node::Scalar(_) => 0,
            Node::Seq(items) => items.iter().map(Node::count).sum(),
            Node::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
            Node::Shared(..) => 0,
        }
    }

    /// The node at position `n` in pre-order, counting `n` down on the way.
    fn nth_mut(&mut self, n: &mut usize) -> Option<&mut Node> {
        if *n == 0 {
            return Some(self);
        }
        *n -= 1;
        let children: Box<dyn Iterator<Item = &mut Node>> = match self {
            Node::Scalar(_) | Node::Shared(..) => return None,
            Node::Seq(items) => Box::new(items.iter_mut()),
            Node::Map(entries) => Box::new(entries.iter_mut().flat_map(|(k, v)| [k, v])),
        };
        for child in children {
            if let Some(found) = child.nth_mut(n) {
                return Some(found);
            }
        }
        None
    }

    fn pick_mut(&mut self, bytes: &mut Bytes) -> &mut Node {
        let mut n = bytes.below(self.count());
        self.nth_mut(&mut n).expect("a node below the count")
    }

    fn pick(&mut self, bytes: &mut Bytes) -> Node {
        self.pick_mut(bytes).clone()
    }
}

/// A JSON string, which YAML reads as the same double-quoted string.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

fn scalar(bytes: &mut Bytes, from: &[&'static str]) -> Node {
    Node::Scalar(bytes.pick_str(from).to_string())
}

/// Most nodes a mutated tree may have (a `Shared` node counting as one): an
/// operation that would make it larger is undone, so that repeated copies
/// cannot grow the tree itself exponentially.
const MAX_NODES: usize = 4_000;

/// The tree `seed` becomes under the operations `bytes` chooses, until they
/// run out (at most 24). An operation that would make it larger than
/// [`MAX_NODES`] is undone by applying the kept ones to the seed again, from
/// the bytes they read: rare, where copying the tree before every operation
/// to undo it took about a fifth of mutate_policy's time.
pub fn mutate(seed: &Node, bytes: &mut Bytes) -> Node {
    let mut root = seed.clone();
    let mut next_anchor = 0u8;
    // Each kept operation's bytes, and the anchor name it started from.
    let mut kept: Vec<(Bytes, u8)> = Vec::new();
    for _ in 0..24 {
        if bytes.is_empty() {
            break;
        }
        let start = (bytes.clone(), next_anchor);
        apply(&mut root, bytes, &mut next_anchor);
        if root.count() > MAX_NODES {
            root = seed.clone();
            for (from, anchor) in &kept {
                let (mut from, mut anchor) = (from.clone(), *anchor);
                apply(&mut root, &mut from, &mut anchor);
            }
        } else {
            kept.push(start);
        }
    }
    root
}

/// Applies one operation.
fn apply(root: &mut Node, bytes: &mut Bytes, next_anchor: &mut u8) {
    let op = bytes.byte() % 13;
    match op {
        // Swap a mapping's key for a keyword or path.
        0 => {
            if let Node::Map(entries) = root.pick_mut(bytes)
                && !entries.is_empty()
            {
                let at = bytes.below(entries.len());
                entries[at].0 = scalar(bytes, KEYS);
            }
        }
        // Replace a node with a value.
        1 => *root.pick_mut(bytes) = scalar(bytes, SCALARS),
        // Nest a node under `not`, `any` or `all`, or an operator.
        2 => {
            let inner = root.pick(bytes);
            let key = bytes.pick(&["not", "any", "all", "when", "args.x", "equals"]);
            let wrapped = match *key {
                "any" | "all" => Node::Seq(vec![inner.clone(), inner]),
                _ => inner,
            };
            *root.pick_mut(bytes) = Node::Map(vec![(Node::Scalar(key.to_string()), wrapped)]);
        }
        // Copy a subtree over another node.
        3 => {
            let copy = root.pick(bytes);
            *root.pick_mut(bytes) = copy;
        }
        // Share a subtree through an anchor, and alias it elsewhere.
        4 => {
            let name = *next_anchor;
            *next_anchor = (name + 1) % 16;
            let target = root.pick_mut(bytes);
            let shared = Node::Shared(name, Arc::new(target.clone()));
            *target = shared.clone();
            let copies = 1 + bytes.below(9);
            let alias = if copies == 1 {
                shared
            } else {
                Node::Seq(vec![shared; copies])
            };
            *root.pick_mut(bytes) = alias;
        }
        // Remove an entry or item.
        5 => match root.pick_mut(bytes) {
            Node::Map(entries) if !entries.is_empty() => {
                let at = bytes.below(entries.len());
                entries.remove(at);
            }
            Node::Seq(items) if !items.is_empty() => {
                let at = bytes.below(items.len());
                items.remove(at);
            }
            _ => {}
        },
        // Add an entry or item: a keyword with a value, or a subtree.
        6 => {
            let value = if bytes.coin() {
                scalar(bytes, SCALARS)
            } else {
                root.pick(bytes)
            };
            let key = scalar(bytes, KEYS);
            match root.pick_mut(bytes) {
                Node::Map(entries) => entries.push((key, value)),
                Node::Seq(items) => items.push(value),
                _ => {}
            }
        }
        // Splice a token into a scalar.
        7 => {
            let token = bytes.pick_str(SPLICES);
            if let Node::Scalar(text) = root.pick_mut(bytes) {
                let mut at = bytes.below(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let escaped = quote(token);
                if text.starts_with('"') && at > 0 && at < text.len() {
                    text.insert_str(at, &escaped[1..escaped.len() - 1]);
                } else {
                    *text = quote(&(text.clone() + token));
                }
            }
        }
        // Nest deeply: `not` many times, or a list in a list.
        8 => {
            let depth = 1 + bytes.below(64);
            let list = bytes.coin();
            let target = root.pick_mut(bytes);
            let mut node = target.clone();
            for _ in 0..depth {
                node = if list {
                    Node::Seq(vec![node])
                } else {
                    Node::Map(vec![(Node::Scalar("not".into()), node)])
                };
            }
            *target = node;
        }
        // Repeat an item many times (wide lists, many rules).
        9 => {
            let times = 1 + bytes.below(200);
            if let Node::Seq(items) = root.pick_mut(bytes)
                && let Some(first) = items.first().cloned()
            {
                items.extend(std::iter::repeat_n(first, times));
            }
        }
        // A long string, of a repeated token.
        10 => {
            let token = bytes.pick_str(SPLICES);
            let times = 1 + bytes.below(2_000);
            *root.pick_mut(bytes) = Node::Scalar(quote(&token.repeat(times)));
        }
        // Nested aliases: a billion-laughs ladder over a subtree.
        11 => {
            let mut node = root.pick(bytes);
            let rungs = 1 + bytes.below(8);
            for _ in 0..rungs {
                let name = *next_anchor;
                *next_anchor = (name + 1) % 16;
                node = Node::Seq(vec![
                    Node::Shared(name, Arc::new(node.clone()));
                    2 + bytes.below(9)
                ]);
            }
            *root.pick_mut(bytes) = node;
        }
        // A new anchor over an existing one's name (redefinition, or an
        // alias inside its own anchor).
        _ => {
            let name = bytes.byte() % 16;
            let target = root.pick_mut(bytes);
            *target = Node::Shared(name, Arc::new(target.clone()));
        }
    }
}
