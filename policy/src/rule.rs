//! One compiled rule.

use std::num::{NonZeroU8, NonZeroU32};

use crate::action::Action;
use crate::approval::ApprovalTerms;
use crate::condition::{Condition, Op};
use crate::glob::Glob;
use crate::heap::HeapSize;
use crate::rate::RateLimit;
use crate::request::Request;
use crate::trace::Tracer;

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) label: Label,
    /// `None` matches every tool; otherwise any of the globs must match.
    pub(crate) tools: Option<Box<[Glob]>>,
    pub(crate) action: Action,
    pub(crate) when: Option<Condition>,
    /// The `approval:` terms of an escalate rule, kept as two fields so
    /// that they fit in the padding beside `action`.
    pub(crate) approvers: Option<NonZeroU8>,
    pub(crate) approval_expires: Option<NonZeroU32>,
}

/// A rule's reason and id, in one allocation as a policy may hold thousands.
/// The default reason is formatted here, once, rather than for each decision.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    /// The reason, then the id.
    text: Box<str>,
    reason_len: usize,
}

impl Label {
    /// `id` is the rule's `id`, or `rules[N]` when it has none; without a
    /// `reason`, the reason is `rule "<id>" matched`.
    pub(crate) fn new(id: &str, reason: Option<&str>) -> Self {
        let text = match reason {
            Some(reason) => [reason, id].concat(),
            None => format!("rule \"{id}\" matched{id}"),
        };
        Label {
            reason_len: text.len() - id.len(),
            text: text.into_boxed_str(),
        }
    }

    pub(crate) fn id(&self) -> &str {
        &self.text[self.reason_len..]
    }

    pub(crate) fn reason(&self) -> &str {
        &self.text[..self.reason_len]
    }
}

impl HeapSize for Rule {
    fn heap_bytes(&self) -> usize {
        self.label.text.heap_bytes() + self.tools.heap_bytes() + self.when.heap_bytes()
    }
}

impl Rule {
    /// The terms of the rule's `approval:` block, if it has one.
    pub(crate) fn approval(&self) -> Option<ApprovalTerms> {
        self.approvers.map(|required| ApprovalTerms {
            required,
            expires_seconds: self.approval_expires,
            capped_by_ttl: false,
        })
    }

    /// Whether the rule's condition has a `rate` limit.
    pub(crate) fn has_rate(&self) -> bool {
        self.has_rate_where(|_| true)
    }

    /// Whether the rule's condition has a `rate` limit `accept` accepts.
    pub(crate) fn has_rate_where(&self, accept: impl Fn(&RateLimit) -> bool) -> bool {
        self.when.as_ref().is_some_and(|when| {
            when.any_leaf(&|field| {
                field
                    .test
                    .any_leaf(&|op| matches!(op, Op::Rate(limit) if accept(limit)))
            })
        })
    }

    /// Whether the rule's tool and condition match, telling `tracer` whether
    /// the tool did and then what the condition evaluated.
    #[inline]
    pub(crate) fn matches<T: Tracer>(&self, request: &Request, tracer: T) -> bool {
        let tool_matched = self
            .tools
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|glob| glob.matches(request.tool)));
        tracer.rule(self, tool_matched);
        let matched = tool_matched
            && self
                .when
                .as_ref()
                .is_none_or(|when| when.holds(request, tracer));
        tracer.rule_matched(matched);
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::{Op, Operand, Test};
    use crate::path::FieldPath;

    /// A policy may hold thousands of rules, each of them in one array.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn rules_stay_small() {
        assert!(size_of::<Rule>() <= 104, "{}", size_of::<Rule>());
        assert!(size_of::<Condition>() <= 56);
        assert!(size_of::<FieldPath>() <= 24);
        assert!(size_of::<Test>() <= 32);
        assert!(size_of::<Op>() <= 32);
        assert!(size_of::<Operand>() <= 24);
        assert!(size_of::<Glob>() <= 32);
    }

    #[test]
    fn labels_keep_ids_and_reasons_apart() {
        let label = Label::new("rules[3]", None);
        assert_eq!(label.id(), "rules[3]");
        assert_eq!(label.reason(), "rule \"rules[3]\" matched");
        let label = Label::new("no-shell", Some("Shell access is disabled"));
        assert_eq!(label.id(), "no-shell");
        assert_eq!(label.reason(), "Shell access is disabled");
        let label = Label::new("x", Some(""));
        assert_eq!((label.id(), label.reason()), ("x", ""));
    }
}
