//! A compiled policy and its verdict on a request.

use std::borrow::Cow;

use crate::action::Action;
use crate::approval::ApprovalTerms;
use crate::index::ToolIndex;
use crate::interrupt;
use crate::request::Request;
use crate::rule::Rule;
use crate::trace::{NoTrace, Tracer};

/// A compiled policy: immutable, `Send + Sync`, and cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Box<[Rule]>,
    default: Option<Action>,
    index: ToolIndex,
    approx_bytes: usize,
    uses_rate: bool,
}

/// One policy's opinion on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict<'p> {
    pub action: Action,
    /// The rule that decided, or `None` when the policy default did.
    pub rule_id: Option<&'p str>,
    pub reason: Cow<'p, str>,
    /// The approval an escalating rule asks for (`None`: the defaults).
    pub approval: Option<ApprovalTerms>,
}

impl Policy {
    /// `rules_bytes` estimates the memory of the rules, one `Rule` each and
    /// what they own, and of their regexes (see [`Policy::approx_bytes`]).
    pub(crate) fn new(rules: Vec<Rule>, default: Option<Action>, rules_bytes: usize) -> Self {
        let rules = rules.into_boxed_slice();
        let index = ToolIndex::build(&rules);
        let approx_bytes = size_of::<Policy>() + rules_bytes + index.approx_bytes();
        let uses_rate = rules.iter().any(Rule::has_rate);
        Policy {
            rules,
            default,
            index,
            approx_bytes,
            uses_rate,
        }
    }

    pub(crate) fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// An estimate of the memory this policy holds, in bytes, counting for each
    /// regular expression the most its search caches may grow to. Computed once,
    /// when the policy is compiled, and bounded by
    /// [`Limits::max_compiled_bytes`](crate::Limits::max_compiled_bytes).
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// Whether a rule has a `rate` condition, whose count a host must supply
    /// (see [`with_rate_counter`](crate::with_rate_counter)).
    pub fn uses_rate(&self) -> bool {
        self.uses_rate
    }

    /// The action taken when no rule matches, if the policy sets one.
    pub fn default_action(&self) -> Option<Action> {
        self.default
    }

    /// The first rule (in document order) whose tool and condition match decides;
    /// then the policy default. `None` means the policy has no opinion.
    pub fn evaluate<'p>(&'p self, request: &Request) -> Option<Verdict<'p>> {
        self.evaluate_traced(request, NoTrace)
    }

    /// [`Policy::evaluate`], telling `tracer` each rule it visits (those the
    /// tool index offers, in order) and what each rule's condition evaluated.
    #[inline]
    pub(crate) fn evaluate_traced<'p, T: Tracer>(
        &'p self,
        request: &Request,
        tracer: T,
    ) -> Option<Verdict<'p>> {
        let matched = self
            .index
            .candidates(request.tool)
            .filter_map(|position| self.rules.get(position))
            .find(|rule| {
                interrupt::check();
                rule.matches(request, tracer)
            });
        match matched {
            Some(rule) => Some(Verdict {
                action: rule.action,
                rule_id: Some(rule.label.id()),
                reason: Cow::Borrowed(rule.label.reason()),
                approval: rule.approval(),
            }),
            None => self.default.map(|action| Verdict {
                action,
                rule_id: None,
                reason: Cow::Borrowed(default_reason(action)),
                approval: None,
            }),
        }
    }
}

fn default_reason(action: Action) -> &'static str {
    match action {
        Action::Allow => "no rule matched; the policy default is allow",
        Action::Escalate => "no rule matched; the policy default is escalate",
        Action::Block => "no rule matched; the policy default is block",
    }
}
