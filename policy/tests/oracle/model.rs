//! The oracle's own picture of policies and requests: a small syntax tree,
//! independent of the engine's types, and its rendering as JSON text, which
//! is also a YAML 1.2 flow document the engine reads.

use std::fmt::Write;

/// A JSON value. Numbers keep the text they are written with (`1.0`, `1e2`);
/// object keys are unique and keep their order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Act {
    Allow,
    Escalate,
    Block,
}

impl Act {
    pub fn name(self) -> &'static str {
        match self {
            Act::Allow => "allow",
            Act::Escalate => "escalate",
            Act::Block => "block",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PolicyAst {
    pub default: Option<Act>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub id: Option<String>,
    /// `None`: no `tool` key. A single pattern is written as a string unless
    /// `tool_as_list`.
    pub tools: Option<Vec<String>>,
    pub tool_as_list: bool,
    pub action: Act,
    pub reason: Option<String>,
    pub when: Option<Cond>,
}

/// A condition mapping: entries in the order written, keys unique.
#[derive(Debug, Clone)]
pub struct Cond(pub Vec<CondEntry>);

#[derive(Debug, Clone)]
pub enum CondEntry {
    Path(String, Test),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

/// A test (operator mapping): at least one entry, keys unique.
#[derive(Debug, Clone)]
pub struct Test(pub Vec<TestEntry>);

#[derive(Debug, Clone)]
pub enum TestEntry {
    Op(Op),
    All(Vec<Test>),
    Any(Vec<Test>),
    Not(Box<Test>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone)]
pub enum Op {
    /// `short`: written `eq` (`neq`) rather than `equals` (`notEquals`).
    Equals {
        short: bool,
        operand: Json,
    },
    NotEquals {
        short: bool,
        operand: Json,
    },
    In(Vec<Json>),
    NotIn(Vec<Json>),
    Contains(Json),
    StartsWith(String),
    EndsWith(String),
    Matches(String),
    Compare(Compare, String),
    Exists(bool),
}

impl Op {
    /// The operator's key as written.
    pub fn key(&self) -> &'static str {
        match self {
            Op::Equals { short: false, .. } => "equals",
            Op::Equals { short: true, .. } => "eq",
            Op::NotEquals { short: false, .. } => "notEquals",
            Op::NotEquals { short: true, .. } => "neq",
            Op::In(_) => "in",
            Op::NotIn(_) => "notIn",
            Op::Contains(_) => "contains",
            Op::StartsWith(_) => "startsWith",
            Op::EndsWith(_) => "endsWith",
            Op::Matches(_) => "matches",
            Op::Compare(Compare::Gt, _) => "gt",
            Op::Compare(Compare::Gte, _) => "gte",
            Op::Compare(Compare::Lt, _) => "lt",
            Op::Compare(Compare::Lte, _) => "lte",
            Op::Exists(_) => "exists",
        }
    }

    /// The operator whatever its spelling: a test may name each once.
    pub fn canonical_key(&self) -> &'static str {
        match self {
            Op::Equals { .. } => "equals",
            Op::NotEquals { .. } => "notEquals",
            other => other.key(),
        }
    }

    fn operand(&self) -> Json {
        match self {
            Op::Equals { operand, .. } | Op::NotEquals { operand, .. } | Op::Contains(operand) => {
                operand.clone()
            }
            Op::In(items) | Op::NotIn(items) => Json::Arr(items.clone()),
            Op::StartsWith(text) | Op::EndsWith(text) | Op::Matches(text) => {
                Json::Str(text.clone())
            }
            Op::Compare(_, number) => Json::Num(number.clone()),
            Op::Exists(flag) => Json::Bool(*flag),
        }
    }
}

impl TestEntry {
    pub fn key(&self) -> &'static str {
        match self {
            TestEntry::Op(op) => op.canonical_key(),
            TestEntry::All(_) => "all",
            TestEntry::Any(_) => "any",
            TestEntry::Not(_) => "not",
        }
    }
}

impl CondEntry {
    pub fn key(&self) -> &str {
        match self {
            CondEntry::Path(path, _) => path,
            CondEntry::All(_) => "all",
            CondEntry::Any(_) => "any",
            CondEntry::Not(_) => "not",
        }
    }
}

/// A request as the generator makes it; `args` and `context` are objects.
/// `shadowed` are entries of args written before it in the JSON text under
/// keys args also has: JSON keeps the last value of a key written twice.
#[derive(Debug, Clone)]
pub struct Req {
    pub tool: String,
    pub args: Json,
    pub shadowed: Vec<(String, Json)>,
    pub context: Json,
}

impl Req {
    /// The args as JSON text, shadowed entries first.
    pub fn args_text(&self) -> String {
        let Json::Obj(entries) = &self.args else {
            panic!("args is an object")
        };
        let written: Vec<(String, Json)> = self.shadowed.iter().chain(entries).cloned().collect();
        Json::Obj(written).to_text()
    }
}

/// One generated case: two optional layers, the session's tenant and the
/// calls decided under them.
#[derive(Debug, Clone)]
pub struct Case {
    pub platform: Option<PolicyAst>,
    pub tenant: Option<PolicyAst>,
    pub tenant_id: String,
    pub requests: Vec<Req>,
}

impl Json {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        write_json(self, &mut out);
        out
    }
}

fn write_json(value: &Json, out: &mut String) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Json::Num(text) => out.push_str(text),
        Json::Str(text) => out.push_str(&quoted(text)),
        Json::Arr(items) => {
            out.push('[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                write_json(item, out);
            }
            out.push(']');
        }
        Json::Obj(entries) => {
            out.push('{');
            for (n, (key, item)) in entries.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, "{}: ", quoted(key));
                write_json(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal, which YAML reads as the same double-quoted string
/// once the characters YAML takes for line breaks are escaped too.
fn quoted(text: &str) -> String {
    let json = serde_json::to_string(text).expect("a string serialises");
    json.replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn str(text: &str) -> Json {
    Json::Str(text.to_string())
}

fn test_json(test: &Test) -> Json {
    Json::Obj(
        test.0
            .iter()
            .map(|entry| match entry {
                TestEntry::Op(op) => (op.key().to_string(), op.operand()),
                TestEntry::All(items) => (
                    "all".into(),
                    Json::Arr(items.iter().map(test_json).collect()),
                ),
                TestEntry::Any(items) => (
                    "any".into(),
                    Json::Arr(items.iter().map(test_json).collect()),
                ),
                TestEntry::Not(inner) => ("not".into(), test_json(inner)),
            })
            .collect(),
    )
}

fn cond_json(cond: &Cond) -> Json {
    Json::Obj(
        cond.0
            .iter()
            .map(|entry| match entry {
                CondEntry::Path(path, test) => (path.clone(), test_json(test)),
                CondEntry::All(items) => (
                    "all".into(),
                    Json::Arr(items.iter().map(cond_json).collect()),
                ),
                CondEntry::Any(items) => (
                    "any".into(),
                    Json::Arr(items.iter().map(cond_json).collect()),
                ),
                CondEntry::Not(inner) => ("not".into(), cond_json(inner)),
            })
            .collect(),
    )
}

fn rule_json(rule: &Rule) -> Json {
    let mut entries = Vec::new();
    if let Some(id) = &rule.id {
        entries.push(("id".to_string(), str(id)));
    }
    if let Some(tools) = &rule.tools {
        let tool = match tools.as_slice() {
            [one] if !rule.tool_as_list => str(one),
            many => Json::Arr(many.iter().map(|pattern| str(pattern)).collect()),
        };
        entries.push(("tool".to_string(), tool));
    }
    entries.push(("action".to_string(), str(rule.action.name())));
    if let Some(reason) = &rule.reason {
        entries.push(("reason".to_string(), str(reason)));
    }
    if let Some(when) = &rule.when {
        entries.push(("when".to_string(), cond_json(when)));
    }
    Json::Obj(entries)
}

impl PolicyAst {
    /// The policy as a JSON document: what the engine publishes (JSON is YAML
    /// 1.2 flow style) and what the PL/pgSQL baseline stores as jsonb.
    pub fn to_source(&self) -> String {
        let mut entries = Vec::new();
        if let Some(default) = self.default {
            entries.push(("default".to_string(), str(default.name())));
        }
        entries.push((
            "rules".to_string(),
            Json::Arr(self.rules.iter().map(rule_json).collect()),
        ));
        Json::Obj(entries).to_text()
    }
}
