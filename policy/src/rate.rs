//! `rate` conditions: whether the tenant's recent calls already reach a limit.
//!
//! The policy core reads no tables. A host that keeps the record of calls
//! (the database's receipts) counts them through a [`RateCounter`] it installs
//! for the duration of one decision with [`with_rate_counter`]; without one,
//! as when a policy is tried offline, every count is unknown and taken as 0,
//! so no `rate` condition holds.

use std::cell::Cell;

use crate::decide::Layer;
use crate::duration;
use crate::error::PolicyError;
use crate::heap::HeapSize;
use crate::number::Number;
use crate::request::Request;
use crate::value::Value;

/// A compiled `rate: {max, per, scope}` condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RateLimit {
    max: u64,
    per_seconds: u64,
    /// `per` as written (`30s`, `1m`, `24h`, `7d`), for explanations.
    per: Box<str>,
    scope: RateScope,
    /// The id of the rule holding the condition, filled in once the rule is read.
    rule_id: Box<str>,
}

/// Which of the tenant's calls a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateScope {
    /// All of the tenant's calls.
    Tenant,
    /// The tenant's calls of the tool being decided.
    Tool,
    /// The tenant's calls that the rule holding the condition decided.
    Rule,
}

impl RateScope {
    pub fn as_str(self) -> &'static str {
        match self {
            RateScope::Tenant => "tenant",
            RateScope::Tool => "tool",
            RateScope::Rule => "rule",
        }
    }
}

/// What a host must count: the tenant's allowed calls in the last
/// `window_seconds`, narrowed to `tool` or `rule_id` when the scope says so.
/// Counting may stop at `max`, which is all the condition needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateQuery<'a> {
    pub tenant_id: &'a str,
    pub scope: RateScope,
    /// The tool, for [`RateScope::Tool`].
    pub tool: Option<&'a str>,
    /// The layer of the policy holding the condition: with
    /// [`RateScope::Rule`], a tenant rule counts the calls its policy allowed
    /// through it ([`crate::Decision::tenant_rule_id`]), a platform rule the
    /// calls credited to it.
    pub layer: Layer,
    /// The rule, for [`RateScope::Rule`].
    pub rule_id: Option<&'a str>,
    pub window_seconds: u64,
    pub max: u64,
}

/// Counts calls for a [`RateQuery`]. A plain function: it reads what it needs
/// from the query, and may panic (raise) to abandon the decision.
pub type RateCounter = fn(&RateQuery) -> u64;

thread_local! {
    static COUNTER: Cell<Option<RateCounter>> = const { Cell::new(None) };
    /// The layer being consulted (see [`in_layer`]).
    static LAYER: Cell<Layer> = const { Cell::new(Layer::Tenant) };
}

/// Runs `evaluate`, a layer's evaluation, with its `rate` conditions asking
/// for `layer`'s counts, and restores the layer before (also when
/// `evaluate` panics).
pub(crate) fn in_layer<R>(layer: Layer, evaluate: impl FnOnce() -> R) -> R {
    struct Restore(Layer);
    impl Drop for Restore {
        fn drop(&mut self) {
            LAYER.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(LAYER.with(|cell| cell.replace(layer)));
    evaluate()
}

/// Runs `decide` with `counter` answering its `rate` conditions, and restores
/// the counter in place before (also when `decide` panics).
pub fn with_rate_counter<R>(counter: RateCounter, decide: impl FnOnce() -> R) -> R {
    struct Restore(Option<RateCounter>);
    impl Drop for Restore {
        fn drop(&mut self) {
            COUNTER.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(COUNTER.with(|cell| cell.replace(Some(counter))));
    decide()
}

/// The longest window a limit may have: 366 days.
const MAX_WINDOW_SECONDS: u64 = 366 * 86_400;

pub(crate) const RATE_HINT: &str = "write for example `rate: {max: 20, per: 1m, scope: tool}`: max a whole number from 1, per a number of s, m, h or d, scope tenant, tool or rule";

impl RateLimit {
    /// Which calls the limit counts.
    pub(crate) fn scope(&self) -> RateScope {
        self.scope
    }

    /// Reads the mapping given to `rate`.
    pub(crate) fn from_value(value: &Value) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::invalid(message).with_hint(RATE_HINT);
        let Some(map) = value.as_object() else {
            return Err(invalid("rate must be a mapping".to_owned()));
        };
        if let Some((key, _)) = map
            .iter()
            .find(|(key, _)| !["max", "per", "scope"].contains(key))
        {
            return Err(invalid(format!("unknown key {key:?} in rate")));
        }
        let max = map
            .get("max")
            .and_then(Value::as_number)
            .and_then(Number::as_i64)
            .filter(|max| *max >= 1)
            .ok_or_else(|| invalid("rate needs max, a whole number from 1".to_owned()))?;
        let per = map
            .get("per")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("rate needs per, such as 30s, 1m, 24h or 7d".to_owned()))?;
        let per_seconds = parse_window(per)
            .ok_or_else(|| invalid(format!("rate per {per:?} is not a window of 1s to 366d")))?;
        let scope = match map.get("scope").map(|scope| scope.as_str()) {
            None | Some(Some("tenant")) => RateScope::Tenant,
            Some(Some("tool")) => RateScope::Tool,
            Some(Some("rule")) => RateScope::Rule,
            Some(_) => {
                return Err(invalid(
                    "rate scope must be tenant, tool or rule".to_owned(),
                ));
            }
        };
        Ok(RateLimit {
            max: max as u64,
            per_seconds,
            per: per.into(),
            scope,
            rule_id: Box::default(),
        })
    }

    pub(crate) fn set_rule_id(&mut self, id: &str) {
        self.rule_id = id.into();
    }

    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The condition as written, for explanations: `{max: 20, per: 1m, scope: tool}`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{{max: {}, per: {}, scope: {}}}",
            self.max,
            self.per,
            self.scope.as_str()
        )
    }

    /// What the host must count for `request`.
    pub(crate) fn query<'a>(&'a self, request: &Request<'a>) -> RateQuery<'a> {
        RateQuery {
            tenant_id: request.tenant_id,
            scope: self.scope,
            tool: (self.scope == RateScope::Tool).then_some(request.tool),
            layer: LAYER.with(Cell::get),
            rule_id: (self.scope == RateScope::Rule).then_some(&*self.rule_id),
            window_seconds: self.per_seconds,
            max: self.max,
        }
    }

    /// The count for `request`, `None` when no counter is installed.
    pub(crate) fn count(&self, request: &Request) -> Option<u64> {
        let counter = COUNTER.with(Cell::get)?;
        Some(counter(&self.query(request)))
    }

    /// Whether the calls counted already reach the limit.
    pub(crate) fn reached(&self, request: &Request) -> bool {
        self.count(request).is_some_and(|count| count >= self.max)
    }
}

/// `30s`, `1m`, `24h`, `7d`: digits then a unit, 1 second to 366 days.
pub(crate) fn parse_window(text: &str) -> Option<u64> {
    duration::seconds(text, false).filter(|seconds| (1..=MAX_WINDOW_SECONDS).contains(seconds))
}

impl HeapSize for RateLimit {
    fn heap_bytes(&self) -> usize {
        self.per.heap_bytes() + self.rule_id.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(yaml_json: &str) -> Result<RateLimit, PolicyError> {
        RateLimit::from_value(&Value::from_json(yaml_json).unwrap())
    }

    #[test]
    fn windows_are_digits_and_a_unit() {
        assert_eq!(parse_window("30s"), Some(30));
        assert_eq!(parse_window("1m"), Some(60));
        assert_eq!(parse_window("24h"), Some(86_400));
        assert_eq!(parse_window("366d"), Some(MAX_WINDOW_SECONDS));
        for bad in [
            "",
            "m",
            "0s",
            "367d",
            "1.5m",
            "-1m",
            "1 m",
            "1w",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_are_read_and_refused_clearly() {
        let rate = limit(r#"{"max": 20, "per": "1m", "scope": "tool"}"#).unwrap();
        assert_eq!(
            (rate.max, rate.per_seconds, rate.scope),
            (20, 60, RateScope::Tool)
        );
        assert_eq!(rate.describe(), "{max: 20, per: 1m, scope: tool}");
        let rate = limit(r#"{"max": 3, "per": "1h"}"#).unwrap();
        assert_eq!(rate.scope, RateScope::Tenant);
        for (bad, message) in [
            (r#"{"max": 0, "per": "1m"}"#, "max"),
            (r#"{"max": 2.5, "per": "1m"}"#, "max"),
            (r#"{"per": "1m"}"#, "max"),
            (r#"{"max": 1}"#, "per"),
            (r#"{"max": 1, "per": "1y"}"#, "per"),
            (r#"{"max": 1, "per": "1m", "scope": "org"}"#, "scope"),
            (r#"{"max": 1, "per": "1m", "burst": 2}"#, "burst"),
            ("[1]", "mapping"),
        ] {
            let error = limit(bad).unwrap_err();
            assert!(error.to_string().contains(message), "{bad}: {error}");
        }
    }

    fn twenty(_: &RateQuery) -> u64 {
        20
    }

    #[test]
    fn a_limit_holds_once_the_count_reaches_it_and_never_offline() {
        let rate = limit(r#"{"max": 20, "per": "1m", "scope": "tool"}"#).unwrap();
        let (args, context) = (Value::empty_object(), Value::empty_object());
        let request = Request {
            tool: "email.send",
            args: &args,
            context: &context,
            tenant_id: "t",
        };
        assert!(!rate.reached(&request), "no counter: unknown, taken as 0");
        assert!(with_rate_counter(twenty, || rate.reached(&request)));
        assert_eq!(
            rate.count(&request),
            None,
            "the counter is removed afterwards"
        );
        let rate = limit(r#"{"max": 21, "per": "1m"}"#).unwrap();
        assert!(!with_rate_counter(twenty, || rate.reached(&request)));
    }

    thread_local! {
        static SEEN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Records each query and answers 5.
    fn five(query: &RateQuery) -> u64 {
        SEEN.with(|seen| seen.borrow_mut().push(format!("{query:?}")));
        5
    }

    #[test]
    fn rules_ask_their_host_only_when_the_condition_is_reached() {
        let policy = crate::compile(
            "default: allow\nrules:\n  - tool: email.send\n    action: block\n    when:\n      all:\n        - args.bulk: {equals: true}\n        - rate: {max: 5, per: 10m, scope: rule}\n    id: bulk-mail\n",
        )
        .unwrap();
        let context = Value::empty_object();
        let decide = |tool: &str, args: &str| {
            let args = Value::from_json(args).unwrap();
            let request = Request {
                tool,
                args: &args,
                context: &context,
                tenant_id: "t",
            };
            with_rate_counter(five, || crate::decide(None, Some(&policy), &request).action)
        };
        assert!(policy.uses_rate());
        assert!(!crate::compile("rules: []").unwrap().uses_rate());
        assert_eq!(
            decide("email.send", r#"{"bulk": true}"#),
            crate::Action::Block
        );
        assert_eq!(
            decide("email.send", r#"{"bulk": false}"#),
            crate::Action::Allow
        );
        assert_eq!(
            decide("files.read", r#"{"bulk": true}"#),
            crate::Action::Allow
        );
        let seen = SEEN.with(|seen| seen.take());
        assert_eq!(
            seen.len(),
            1,
            "counted once, for the call that reached it: {seen:?}"
        );
        assert!(
            seen[0].contains(r#"scope: Rule, tool: None, layer: Tenant, rule_id: Some("bulk-mail"), window_seconds: 600, max: 5"#),
            "{}",
            seen[0]
        );
    }
}
