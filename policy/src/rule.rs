//! One compiled rule.

use crate::action::Action;
use crate::condition::Condition;
use crate::glob::Glob;
use crate::heap::HeapSize;
use crate::request::Request;

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// The rule's `id`, or `rules[N]` when it has none.
    pub(crate) id: String,
    /// `None` matches every tool; otherwise any of the globs must match.
    pub(crate) tools: Option<Vec<Glob>>,
    pub(crate) action: Action,
    /// The rule's `reason`, or `rule "<id>" matched` when it has none.
    pub(crate) reason: String,
    pub(crate) when: Option<Condition>,
}

impl HeapSize for Rule {
    fn heap_bytes(&self) -> usize {
        self.id.heap_bytes()
            + self.tools.heap_bytes()
            + self.reason.heap_bytes()
            + self.when.heap_bytes()
    }
}

impl Rule {
    pub(crate) fn matches(&self, request: &Request) -> bool {
        self.tools
            .as_ref()
            .is_none_or(|globs| globs.iter().any(|glob| glob.matches(request.tool)))
            && self.when.as_ref().is_none_or(|when| when.holds(request))
    }
}
