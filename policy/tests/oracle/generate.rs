//! Random policy pairs and requests that hit the language's edges. Tools,
//! patterns, paths, keys and operands come from small shared pools, so that
//! patterns match tools, paths exist and operands equal values often: a
//! decision by a rule is the common case, not the rare one.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::model::{
    Act, Case, Compare, Cond, CondEntry, Json, Op, PolicyAst, Req, Rule, Test, TestEntry,
};

const TOOLS: &[&str] = &[
    "email.send",
    "email.send_bulk",
    "email.read",
    "a",
    "",
    "a.",
    "a..b",
    ".",
    "a.b.c.d",
    "system.exec.shell",
    "système.ünï",
    "files.read?",
    "a.a.a.d",
    "ü",
    "send",
    "email.send.send",
];
const SEGMENTS: &[&str] = &["email", "send", "a", "b", "", "ü", "send_", "x*y"];
const PATTERNS: &[&str] = &[
    "email.send",
    "email.*",
    "email.send_*",
    "email.*_bulk",
    "*.send",
    "**",
    "*",
    "a",
    "a.*",
    "a.*.b",
    "a.**",
    "**.b",
    "**.*",
    "*.*",
    "a.**.d",
    "system.**",
    "syst*.*",
    "système.*",
    "*.ü*",
    "*ü",
    "s*e*d",
    "e*.s*_*",
    "**.**",
    "*.**",
    "a.**.**.d",
    "files.read?",
];
const PATHS: &[&str] = &[
    "tool",
    "args",
    "context",
    "args.x",
    "args.x",
    "args.y",
    "args.y",
    "args.o",
    "args.o.k",
    "args.o.k.k.k",
    "args.x.0",
    "args.x.1",
    "args.x.01",
    "args.x.0.k",
    "args.x.0.0",
    "args.o.k.0",
    "args.o.0",
    "args.ü",
    "args.a.b",
    "context.u",
    "context.u",
    "context.n",
    "context.o",
    "context.o.k",
    "context.tenantId",
    "context.tenantId.x",
];
/// Keys of args, context and nested objects.
const KEYS: &[&str] = &[
    "x", "x", "y", "y", "o", "k", "ü", "a.b", "0", "1", "01", "u", "n", "tenantId", "",
];
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "0.0",
    "1",
    "1.0",
    "1e0",
    "10.5",
    "10.50",
    "1.050e1",
    "-1",
    "2",
    "100",
    "1e2",
    "9007199254740992",
    "9007199254740993",
    "0.1",
    "0.1000000000000000000001",
    "1e-7",
    "1e400",
    "-1e400",
];
const STRINGS: &[&str] = &[
    "",
    "a",
    "ab",
    "b",
    "A",
    "ü",
    "aü",
    "1",
    "1.5",
    "true",
    "null",
    "tenant-a",
    "x-a",
    "x-1",
    "email.send",
    "/home/a/",
    "${context.u}",
    "日本",
];
/// String operands: plain text, or with placeholders alone or amid text.
const TEMPLATES: &[&str] = &[
    "${context.u}",
    "${context.u}",
    "${context.n}",
    "${context.tenantId}",
    "${context.o.k}",
    "${context.o}",
    "${context.missing}",
    "${context.tenantId.x}",
    "x-${context.u}",
    "x-${context.n}",
    "${context.u}${context.n}",
    "${context.u}}",
    "/home/${context.u}/",
];
const REGEXES: &[&str] = &[
    "^a", "a$", "(?i)^A", "^$", "ü", "[0-9]", "^.$", "b|c", "\\.", "^x-", "^\\$\\{",
];
const IDS: &[&str] = &["r1", "r2", "deny", "ok", "règle", "rules", "rules[x]"];
const REASONS: &[&str] = &[
    "",
    "Mail is fine",
    "réason ünïcode",
    "no rule matched; the policy default is allow",
];
const TENANTS: &[&str] = &["tenant-a", "tenant-b"];

fn pick(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    select(pool).prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![4 => pick(NUMBERS), 1 => (-20i64..20).prop_map(|n| n.to_string())]
}

/// The values drawn most often, on both sides of a comparison, so that
/// operands and values are often equal (and of the same type).
fn hot_scalar() -> impl Strategy<Value = Json> {
    select(vec![
        Json::Num("1".into()),
        Json::Num("1.0".into()),
        Json::Num("2".into()),
        Json::Str("a".into()),
        Json::Str("".into()),
        Json::Str("ü".into()),
        Json::Str("tenant-a".into()),
        Json::Bool(true),
        Json::Null,
    ])
}

fn scalar() -> impl Strategy<Value = Json> {
    prop_oneof![
        8 => hot_scalar(),
        1 => Just(Json::Null),
        1 => any::<bool>().prop_map(Json::Bool),
        4 => number().prop_map(Json::Num),
        4 => pick(STRINGS).prop_map(Json::Str),
        // Any text, but no `${`: in an operand it must begin a placeholder.
        1 => "\\PC{0,3}".prop_filter("no ${", |text| !text.contains("${")).prop_map(Json::Str),
    ]
}

/// Objects get unique keys: of a key drawn twice the first is kept.
fn unique(entries: Vec<(String, Json)>) -> Vec<(String, Json)> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|(key, _)| seen.insert(key.clone()))
        .collect()
}

/// Any JSON value, nested a few levels (paths such as `args.o.k.k.k`).
pub fn json() -> impl Strategy<Value = Json> {
    scalar().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Arr),
            vec((pick(KEYS), inner), 0..4).prop_map(|entries| Json::Obj(unique(entries))),
        ]
    })
}

fn object() -> impl Strategy<Value = Json> {
    vec((pick(KEYS), json()), 0..5).prop_map(|entries| Json::Obj(unique(entries)))
}

/// A context: mostly with the fields placeholders name, `u` and `n`.
fn context() -> impl Strategy<Value = Json> {
    (
        proptest::option::weighted(0.8, (scalar(), number())),
        object(),
    )
        .prop_map(|(named, extra)| {
            let Json::Obj(extra) = extra else {
                unreachable!("object() makes objects")
            };
            let mut entries = Vec::new();
            if let Some((u, n)) = named {
                entries.push(("u".to_string(), u));
                entries.push(("n".to_string(), Json::Num(n)));
            }
            entries.extend(extra);
            Json::Obj(unique(entries))
        })
}

fn text_operand() -> impl Strategy<Value = String> {
    prop_oneof![2 => pick(STRINGS), 2 => pick(TEMPLATES)]
}

/// An operand of `equals` or an item of `in`: mostly a scalar or a
/// placeholder, sometimes a list or mapping (whose strings are literal).
fn value_operand() -> impl Strategy<Value = Json> {
    prop_oneof![
        3 => scalar(),
        2 => pick(TEMPLATES).prop_map(Json::Str),
        1 => json(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let compare = select(&[Compare::Gt, Compare::Gte, Compare::Lt, Compare::Lte][..]);
    prop_oneof![
        4 => (any::<bool>(), value_operand()).prop_map(|(short, operand)| Op::Equals { short, operand }),
        2 => (any::<bool>(), value_operand()).prop_map(|(short, operand)| Op::NotEquals { short, operand }),
        2 => vec(value_operand(), 0..4).prop_map(Op::In),
        1 => vec(value_operand(), 0..4).prop_map(Op::NotIn),
        2 => prop_oneof![
            3 => text_operand().prop_map(Json::Str),
            1 => scalar(),
        ]
        .prop_map(Op::Contains),
        1 => text_operand().prop_map(Op::StartsWith),
        1 => text_operand().prop_map(Op::EndsWith),
        1 => pick(REGEXES).prop_map(Op::Matches),
        2 => (compare, number()).prop_map(|(compare, n)| Op::Compare(compare, n)),
        2 => any::<bool>().prop_map(Op::Exists),
    ]
}

/// A test keeps the first entry of each key: a test names each operator
/// (under either name) and each combinator once.
fn test_of(entries: Vec<TestEntry>) -> Test {
    let mut seen = std::collections::HashSet::new();
    Test(
        entries
            .into_iter()
            .filter(|entry| seen.insert(entry.key()))
            .collect(),
    )
}

fn test() -> impl Strategy<Value = Test> {
    let leaf = vec(op().prop_map(TestEntry::Op), 1..3).prop_map(test_of);
    leaf.prop_recursive(2, 12, 3, |inner| {
        vec(
            prop_oneof![
                4 => op().prop_map(TestEntry::Op),
                1 => vec(inner.clone(), 0..3).prop_map(TestEntry::All),
                1 => vec(inner.clone(), 0..3).prop_map(TestEntry::Any),
                1 => inner.prop_map(|test| TestEntry::Not(Box::new(test))),
            ],
            1..4,
        )
        .prop_map(test_of)
    })
}

fn cond_of(entries: Vec<CondEntry>) -> Cond {
    let mut seen = std::collections::HashSet::new();
    Cond(
        entries
            .into_iter()
            .filter(|entry| seen.insert(entry.key().to_string()))
            .collect(),
    )
}

fn cond() -> impl Strategy<Value = Cond> {
    let path_entry = || (pick(PATHS), test()).prop_map(|(path, test)| CondEntry::Path(path, test));
    let leaf = vec(path_entry(), 0..3).prop_map(cond_of);
    leaf.prop_recursive(2, 10, 3, move |inner| {
        vec(
            prop_oneof![
                4 => path_entry(),
                1 => vec(inner.clone(), 0..3).prop_map(CondEntry::All),
                1 => vec(inner.clone(), 0..3).prop_map(CondEntry::Any),
                1 => inner.prop_map(|cond| CondEntry::Not(Box::new(cond))),
            ],
            0..3,
        )
        .prop_map(cond_of)
    })
}

fn action() -> impl Strategy<Value = Act> {
    select(&[Act::Allow, Act::Escalate, Act::Block][..])
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        proptest::option::weighted(0.4, pick(IDS)),
        proptest::option::weighted(0.7, vec(pick(PATTERNS), 1..3)),
        any::<bool>(),
        action(),
        proptest::option::weighted(0.3, pick(REASONS)),
        proptest::option::weighted(0.6, cond()),
    )
        .prop_map(|(id, tools, tool_as_list, action, reason, when)| Rule {
            id,
            tools,
            tool_as_list,
            action,
            reason,
            when,
        })
}

/// A rule id (given, or `rules[N]`) may be used once: a given id an earlier
/// rule already has is dropped.
fn policy() -> impl Strategy<Value = PolicyAst> {
    (proptest::option::of(action()), vec(rule(), 0..7)).prop_map(|(default, mut rules)| {
        let mut seen = std::collections::HashSet::new();
        for (position, rule) in rules.iter_mut().enumerate() {
            if rule.id.as_ref().is_some_and(|id| seen.contains(id)) {
                rule.id = None;
            }
            seen.insert(
                rule.id
                    .clone()
                    .unwrap_or_else(|| format!("rules[{position}]")),
            );
        }
        PolicyAst { default, rules }
    })
}

fn tool() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pick(TOOLS),
        1 => vec(pick(SEGMENTS), 1..4).prop_map(|segments| segments.join(".")),
    ]
}

fn request() -> impl Strategy<Value = Req> {
    (
        tool(),
        object(),
        vec((pick(KEYS), scalar()), 0..2),
        context(),
    )
        .prop_map(|(tool, args, shadowed, context)| {
            let Json::Obj(entries) = &args else {
                unreachable!("object() makes objects")
            };
            let shadowed = shadowed
                .into_iter()
                .filter(|(key, _)| entries.iter().any(|(k, _)| k == key))
                .collect();
            Req {
                tool,
                args,
                shadowed,
                context,
            }
        })
}

pub fn case() -> impl Strategy<Value = Case> {
    (
        proptest::option::weighted(0.75, policy()),
        proptest::option::weighted(0.85, policy()),
        pick(TENANTS),
        vec(request(), 1..9),
    )
        .prop_map(|(platform, tenant, tenant_id, requests)| Case {
            platform,
            tenant,
            tenant_id,
            requests,
        })
}
