//! The top-level policy mapping and its rules.

use std::collections::HashSet;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess};

use super::approval::ApprovalShape;
use super::condition::ConditionShape;
use super::operand::JsonShape;
use super::shape::{FieldKey, Fields, ListOf, Node, Shape};
use super::{Document, Reader};
use crate::action::Action;
use crate::approval::ApprovalTerms;
use crate::condition::{Condition, FieldTest, Op};
use crate::error::PolicyError;
use crate::glob::Glob;
use crate::heap::HeapSize;
use crate::interrupt;
use crate::request::{MAX_TENANT_ID_BYTES, MAX_TOOL_BYTES, is_valid_tenant_id};
use crate::rule::{Label, Rule};
use crate::testing::TestCase;
use crate::value::Value;

pub(super) fn empty() -> PolicyError {
    PolicyError::invalid("the policy document is empty")
        .with_hint("a policy is a mapping with the keys default, description, rules and tests")
}

pub(super) struct PolicyShape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PolicyField {
    Default,
    Description,
    Rules,
    Tests,
}

impl Fields for PolicyField {
    const ALL: &'static [Self] = &[Self::Default, Self::Description, Self::Rules, Self::Tests];
    const OWNER: &'static str = "the policy";

    fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Description => "description",
            Self::Rules => "rules",
            Self::Tests => "tests",
        }
    }
}

impl<'de> Shape<'de> for PolicyShape {
    type Value = Document;

    fn expected(&self) -> &'static str {
        "a policy mapping (keys: default, description, rules, tests)"
    }

    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Document, E> {
        Err(empty().into_yaml())
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, mut map: A) -> Result<Document, A::Error> {
        let mut document = Document::default();
        let mut seen = Vec::new();
        while let Some(field) = map.next_key_seed(Node::new(reader, FieldKey::new(&mut seen)))? {
            match field {
                PolicyField::Default => {
                    document.default = Some(map.next_value_seed(Node::new(reader, ActionShape))?);
                }
                PolicyField::Description => {
                    map.next_value::<IgnoredAny>()?;
                }
                PolicyField::Rules => {
                    document.rules = map.next_value_seed(Node::new(reader, RulesShape))?
                }
                PolicyField::Tests => {
                    document.tests = map.next_value_seed(Node::new(reader, TestsShape))?
                }
            }
        }
        Ok(document)
    }
}

struct RulesShape;

impl<'de> Shape<'de> for RulesShape {
    type Value = Vec<Rule>;

    fn expected(&self) -> &'static str {
        "a list of rules"
    }

    /// `rules:` with nothing after it, as when every rule is commented out.
    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Vec<Rule>, E> {
        Ok(Vec::new())
    }

    fn sequence<A: SeqAccess<'de>>(
        self,
        reader: &Reader,
        mut seq: A,
    ) -> Result<Vec<Rule>, A::Error> {
        let mut rules = Vec::new();
        let mut ids = HashSet::new();
        loop {
            interrupt::check();
            let shape = RuleShape {
                position: rules.len(),
                ids: &mut ids,
            };
            let Some(rule) = seq.next_element_seed(Node::new(reader, shape))? else {
                return Ok(rules);
            };
            if rules.len() == reader.limits().max_rules {
                return Err(PolicyError::too_large(format!(
                    "the policy has more than {} rules",
                    reader.limits().max_rules
                ))
                .into_yaml());
            }
            reader
                .tally
                .settle_bytes(size_of::<Rule>() + rule.heap_bytes())
                .map_err(PolicyError::into_yaml)?;
            rules.push(rule);
        }
    }
}

struct RuleShape<'s> {
    position: usize,
    /// Ids of the rules before this one.
    ids: &'s mut HashSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleField {
    Id,
    Tool,
    Action,
    Reason,
    When,
    Approval,
}

impl Fields for RuleField {
    const ALL: &'static [Self] = &[
        Self::Id,
        Self::Tool,
        Self::Action,
        Self::Reason,
        Self::When,
        Self::Approval,
    ];
    const OWNER: &'static str = "a rule";

    fn name(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Tool => "tool",
            Self::Action => "action",
            Self::Reason => "reason",
            Self::When => "when",
            Self::Approval => "approval",
        }
    }
}

impl<'de> Shape<'de> for RuleShape<'_> {
    type Value = Rule;

    fn expected(&self) -> &'static str {
        "a rule mapping (keys: id, tool, action, reason, when, approval)"
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, mut map: A) -> Result<Rule, A::Error> {
        let (mut id, mut tools, mut action, mut reason, mut when) = (None, None, None, None, None);
        let mut approval = None;
        let mut seen = Vec::new();
        while let Some(field) = map.next_key_seed(Node::new(reader, FieldKey::new(&mut seen)))? {
            match field {
                RuleField::Id => {
                    id = Some(map.next_value_seed(Node::new(
                        reader,
                        IdShape {
                            ids: &mut *self.ids,
                        },
                    ))?);
                }
                RuleField::Tool => tools = Some(map.next_value_seed(Node::new(reader, ToolShape))?),
                RuleField::Action => {
                    action = Some(map.next_value_seed(Node::new(reader, ActionShape))?)
                }
                RuleField::Reason => {
                    reason = Some(map.next_value_seed(Node::new(reader, ReasonShape))?)
                }
                RuleField::When => {
                    when =
                        Some(map.next_value_seed(Node::new(reader, ConditionShape::at_depth(1)))?);
                }
                RuleField::Approval => {
                    approval = Some(map.next_value_seed(Node::new(reader, ApprovalShape))?)
                }
            }
        }
        let action = action.ok_or_else(|| {
            PolicyError::invalid("the rule has no action")
                .with_hint("add `action: allow`, `action: escalate` or `action: block`")
                .into_yaml()
        })?;
        if approval.is_some() && action != Action::Escalate {
            return Err(PolicyError::invalid(format!(
                "the rule's action is {action}, and only an escalate rule takes an approval"
            ))
            .with_hint("remove `approval`, or make the action `escalate`")
            .into_yaml());
        }
        let id = match id {
            Some(id) => id,
            None => {
                let id = format!("rules[{}]", self.position);
                if !self.ids.insert(id.clone()) {
                    return Err(duplicate_id(&id).into_yaml());
                }
                id
            }
        };
        if let Some(when) = when.as_mut() {
            name_rate_limits(when, &id);
        }
        Ok(Rule {
            label: Label::new(&id, reason.as_deref()),
            tools,
            action,
            when,
            approvers: approval.map(|terms: ApprovalTerms| terms.required),
            approval_expires: approval.and_then(|terms| terms.expires_seconds),
        })
    }
}

/// Tells each `rate` condition of a rule the rule's id, which a limit with
/// `scope: rule` counts by (the id may come after `when` in the rule).
fn name_rate_limits(when: &mut Condition, id: &str) {
    when.for_each_leaf_mut(&mut |field: &mut FieldTest| {
        field.test.for_each_leaf_mut(&mut |op: &mut Op| {
            if let Op::Rate(limit) = op {
                limit.set_rule_id(id);
            }
        })
    });
}

fn duplicate_id(id: &str) -> PolicyError {
    PolicyError::invalid(format!("rule id {id:?} is used by an earlier rule"))
        .with_hint("rule ids must be unique; a rule without an id is named rules[N]")
}

struct IdShape<'s> {
    ids: &'s mut HashSet<String>,
}

impl<'de> Shape<'de> for IdShape<'_> {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a rule id string"
    }

    fn string<E: de::Error>(self, _reader: &Reader, id: &str) -> Result<String, E> {
        if id.is_empty() {
            return Err(PolicyError::invalid("the rule id is empty").into_yaml());
        }
        if !self.ids.insert(id.to_owned()) {
            return Err(duplicate_id(id).into_yaml());
        }
        Ok(id.to_owned())
    }
}

struct ReasonShape;

impl<'de> Shape<'de> for ReasonShape {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a reason string"
    }

    fn string<E: de::Error>(self, _reader: &Reader, reason: &str) -> Result<String, E> {
        Ok(reason.to_owned())
    }
}

struct ActionShape;

impl<'de> Shape<'de> for ActionShape {
    type Value = Action;

    fn expected(&self) -> &'static str {
        "an action (allow, escalate or block)"
    }

    fn string<E: de::Error>(self, _reader: &Reader, action: &str) -> Result<Action, E> {
        action.parse().map_err(PolicyError::into_yaml)
    }
}

/// `tool:` is one glob or a list of them.
struct ToolShape;

impl<'de> Shape<'de> for ToolShape {
    type Value = Box<[Glob]>;

    fn expected(&self) -> &'static str {
        "a tool pattern or a list of tool patterns"
    }

    fn string<E: de::Error>(self, reader: &Reader, pattern: &str) -> Result<Box<[Glob]>, E> {
        GlobShape
            .string(reader, pattern)
            .map(|glob| Box::from([glob]))
    }

    fn sequence<A: SeqAccess<'de>>(self, reader: &Reader, seq: A) -> Result<Box<[Glob]>, A::Error> {
        let globs = ListOf {
            item: GlobShape,
            expected: self.expected(),
        }
        .sequence(reader, seq)?;
        if globs.is_empty() {
            return Err(PolicyError::invalid("the tool list is empty")
                .with_hint("omit `tool` to match every tool")
                .into_yaml());
        }
        Ok(globs.into_boxed_slice())
    }
}

#[derive(Clone, Copy)]
struct GlobShape;

impl<'de> Shape<'de> for GlobShape {
    type Value = Glob;

    fn expected(&self) -> &'static str {
        "a tool pattern string"
    }

    fn string<E: de::Error>(self, _reader: &Reader, pattern: &str) -> Result<Glob, E> {
        Glob::parse(pattern).map_err(PolicyError::into_yaml)
    }
}

/// `tests:`, the document's own test cases (see [`crate::testing`]).
struct TestsShape;

impl<'de> Shape<'de> for TestsShape {
    type Value = Vec<TestCase>;

    fn expected(&self) -> &'static str {
        "a list of test cases"
    }

    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Vec<TestCase>, E> {
        Ok(Vec::new())
    }

    fn sequence<A: SeqAccess<'de>>(
        self,
        reader: &Reader,
        mut seq: A,
    ) -> Result<Vec<TestCase>, A::Error> {
        let mut tests = Vec::new();
        loop {
            interrupt::check();
            let shape = TestCaseShape { index: tests.len() };
            let Some(test) = seq.next_element_seed(Node::new(reader, shape))? else {
                return Ok(tests);
            };
            tests.push(test);
        }
    }
}

struct TestCaseShape {
    index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestField {
    Tool,
    Args,
    Context,
    Tenant,
    Expect,
    Rule,
}

impl Fields for TestField {
    const ALL: &'static [Self] = &[
        Self::Tool,
        Self::Args,
        Self::Context,
        Self::Tenant,
        Self::Expect,
        Self::Rule,
    ];
    const OWNER: &'static str = "a test case";

    fn name(self) -> &'static str {
        match self {
            Self::Tool => "tool",
            Self::Args => "args",
            Self::Context => "context",
            Self::Tenant => "tenant",
            Self::Expect => "expect",
            Self::Rule => "rule",
        }
    }
}

impl<'de> Shape<'de> for TestCaseShape {
    type Value = TestCase;

    fn expected(&self) -> &'static str {
        "a test case mapping (keys: tool, args, context, tenant, expect, rule)"
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, mut map: A) -> Result<TestCase, A::Error> {
        let (mut tool, mut args, mut context) = (None, None, None);
        let (mut tenant, mut expect, mut rule) = (None, None, None);
        let mut seen = Vec::new();
        while let Some(field) = map.next_key_seed(Node::new(reader, FieldKey::new(&mut seen)))? {
            match field {
                TestField::Tool => {
                    tool = Some(map.next_value_seed(Node::new(reader, TestToolShape))?)
                }
                TestField::Args => {
                    args = Some(map.next_value_seed(Node::new(reader, ObjectShape))?)
                }
                TestField::Context => {
                    context = Some(map.next_value_seed(Node::new(reader, ObjectShape))?)
                }
                TestField::Tenant => {
                    tenant = Some(map.next_value_seed(Node::new(reader, TenantShape))?)
                }
                TestField::Expect => {
                    expect = Some(map.next_value_seed(Node::new(reader, ActionShape))?)
                }
                TestField::Rule => rule = Some(map.next_value_seed(Node::new(reader, TextShape))?),
            }
        }
        let missing = |key: &str, hint: &str| {
            PolicyError::invalid(format!("the test case has no {key}"))
                .with_hint(hint)
                .into_yaml()
        };
        Ok(TestCase {
            index: self.index,
            tool: tool.ok_or_else(|| missing("tool", "add `tool: <tool name>`"))?,
            args: args.unwrap_or_else(Value::empty_object),
            context: context.unwrap_or_else(Value::empty_object),
            tenant,
            expect: expect.ok_or_else(|| {
                missing(
                    "expect",
                    "add `expect: allow`, `expect: escalate` or `expect: block`",
                )
            })?,
            rule,
        })
    }
}

/// A test case's `tool`: a name a call can have (check() refuses longer ones).
struct TestToolShape;

impl<'de> Shape<'de> for TestToolShape {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a tool name"
    }

    fn string<E: de::Error>(self, _reader: &Reader, tool: &str) -> Result<String, E> {
        if tool.len() > MAX_TOOL_BYTES {
            return Err(PolicyError::invalid(format!(
                "the test case's tool is longer than {MAX_TOOL_BYTES} bytes"
            ))
            .into_yaml());
        }
        Ok(tool.to_owned())
    }
}

/// A test case's `tenant`: one a call can be made for.
struct TenantShape;

impl<'de> Shape<'de> for TenantShape {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a tenant id"
    }

    fn string<E: de::Error>(self, _reader: &Reader, tenant: &str) -> Result<String, E> {
        if !is_valid_tenant_id(tenant) {
            return Err(PolicyError::invalid("invalid tenant id")
                .with_hint(format!(
                    "a tenant id is 1 to {MAX_TENANT_ID_BYTES} bytes of text without control characters"
                ))
                .into_yaml());
        }
        Ok(tenant.to_owned())
    }
}

/// A test case's `rule`.
struct TextShape;

impl<'de> Shape<'de> for TextShape {
    type Value = String;

    fn expected(&self) -> &'static str {
        "a string"
    }

    fn string<E: de::Error>(self, _reader: &Reader, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }
}

/// A test case's `args` or `context`: a mapping, as `check()` requires.
struct ObjectShape;

impl<'de> Shape<'de> for ObjectShape {
    type Value = Value;

    fn expected(&self) -> &'static str {
        "a mapping"
    }

    fn null<E: de::Error>(self, _reader: &Reader) -> Result<Value, E> {
        Ok(Value::empty_object())
    }

    fn mapping<A: MapAccess<'de>>(self, reader: &Reader, map: A) -> Result<Value, A::Error> {
        JsonShape.mapping(reader, map)
    }
}
