//! Warnings about a policy that compiles: rules that can never decide. They
//! never stop a policy from being published.

use std::cell::Cell;

use crate::action::Action;
use crate::condition::{Comparison, Condition, FieldTest, Op, Test};
use crate::glob::Glob;
use crate::interrupt;
use crate::number::Number;
use crate::path::FieldPath;
use crate::policy::Policy;
use crate::rate::RateScope;
use crate::request::MAX_TOOL_BYTES;
use crate::rule::Rule;
use crate::tree::BoolTree;

/// The kinds of warning; [`WarningCode::as_str`] is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningCode {
    /// An earlier rule without conditions matches every call this one does.
    ShadowedRule,
    /// The rule's conditions can never all hold.
    UnsatisfiableCondition,
    /// The platform policy blocks every call the (tenant) rule matches.
    OverriddenByPlatform,
    /// A tool pattern matches no tool name a call can have.
    GlobMatchesNothing,
    /// A rule without an `id` holds a `rate` limit of `scope: rule`, which
    /// counts by the rule's position.
    RateRuleWithoutId,
}

impl WarningCode {
    pub const ALL: [WarningCode; 5] = [
        WarningCode::ShadowedRule,
        WarningCode::UnsatisfiableCondition,
        WarningCode::OverriddenByPlatform,
        WarningCode::GlobMatchesNothing,
        WarningCode::RateRuleWithoutId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WarningCode::ShadowedRule => "shadowed-rule",
            WarningCode::UnsatisfiableCondition => "unsatisfiable-condition",
            WarningCode::OverriddenByPlatform => "overridden-by-platform",
            WarningCode::GlobMatchesNothing => "glob-matches-nothing",
            WarningCode::RateRuleWithoutId => "rate-rule-without-id",
        }
    }
}

/// A rule that can never decide, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: WarningCode,
    /// Where, such as `rules[3]` or `rules[3].tool[1]`.
    pub path: String,
    /// The id of the rule (`rules[N]` when it has none).
    pub rule: String,
    pub message: String,
}

/// The warnings for `policy`; for a tenant policy, `platform` is the platform
/// policy it will be decided under. In rule order.
pub fn lint(policy: &Policy, platform: Option<&Policy>) -> Vec<Warning> {
    lint_within(policy, platform, &Budget::new(COMPARISON_BUDGET))
}

/// Cells of the tables that align two tool patterns ([`Glob::covers`],
/// [`Glob::may_overlap`]) one lint may fill. Comparing each rule's patterns
/// with those of every earlier rule and of the platform grows with the
/// square of the policies: any role may call validate_policy(), and a
/// 20,000-rule document would otherwise cost minutes of CPU. Past it the
/// comparisons answer as for patterns they cannot compare: no warning.
const COMPARISON_BUDGET: usize = 20_000_000;

/// What is left of [`COMPARISON_BUDGET`].
struct Budget(Cell<usize>);

impl Budget {
    fn new(cells: usize) -> Self {
        Budget(Cell::new(cells))
    }

    /// Takes the cost of comparing `left` with `right`: false, and nothing
    /// left, when it is more than what remains.
    fn take(&self, left: &Glob, right: &Glob) -> bool {
        let cost = (left.symbol_count() + 1) * (right.symbol_count() + 1);
        let left_over = self.0.get().checked_sub(cost);
        self.0.set(left_over.unwrap_or(0));
        left_over.is_some()
    }

    fn spent(&self) -> bool {
        self.0.get() == 0
    }
}

fn lint_within(policy: &Policy, platform: Option<&Policy>, budget: &Budget) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let rules = policy.rules();
    for (position, rule) in rules.iter().enumerate() {
        interrupt::check();
        let warn = |code, path: String, message: String| Warning {
            code,
            path,
            rule: rule.label.id().to_owned(),
            message,
        };
        if !budget.spent()
            && let Some(earlier) = rules[..position]
                .iter()
                .find(|earlier| shadows(earlier, rule, budget))
        {
            warnings.push(warn(
                WarningCode::ShadowedRule,
                format!("rules[{position}]"),
                format!(
                    "rule {:?} never decides: the earlier rule {:?} has no conditions and matches every tool it matches",
                    rule.label.id(),
                    earlier.label.id()
                ),
            ));
        }
        if let Some(why) = rule.when.as_ref().and_then(never_holds) {
            warnings.push(warn(
                WarningCode::UnsatisfiableCondition,
                format!("rules[{position}].when"),
                format!(
                    "the conditions of rule {:?} can never hold: {why}",
                    rule.label.id()
                ),
            ));
        }
        if let Some(by) = platform
            .filter(|_| !budget.spent())
            .and_then(|platform| overriding(platform, rule, budget))
        {
            warnings.push(warn(
                WarningCode::OverriddenByPlatform,
                format!("rules[{position}]"),
                format!(
                    "rule {:?} is never consulted: {by} blocks every call it matches, and a platform block is final",
                    rule.label.id()
                ),
            ));
        }
        if rule.label.id() == format!("rules[{position}]")
            && rule.has_rate_where(|limit| limit.scope() == RateScope::Rule)
        {
            warnings.push(warn(
                WarningCode::RateRuleWithoutId,
                format!("rules[{position}]"),
                format!(
                    "rule {:?} has a `rate` limit of `scope: rule` but no `id`: it counts the calls allowed by whichever rule is at position {position}, which changes as rules are added or removed before it; give the rule an id",
                    rule.label.id()
                ),
            ));
        }
        for (index, glob) in rule.tools.iter().flatten().enumerate() {
            if glob.shortest_match() > MAX_TOOL_BYTES {
                let path = match rule.tools.as_deref() {
                    Some([_]) => format!("rules[{position}].tool"),
                    _ => format!("rules[{position}].tool[{index}]"),
                };
                let start: String = glob.source().chars().take(20).collect();
                warnings.push(warn(
                    WarningCode::GlobMatchesNothing,
                    path,
                    format!(
                        "tool pattern \"{start}…\" of rule {:?} matches no tool: every name it matches is longer than {MAX_TOOL_BYTES} bytes",
                        rule.label.id()
                    ),
                ));
            }
        }
    }
    warnings
}

/// Whether `earlier` matches, without conditions, every call `later` matches.
fn shadows(earlier: &Rule, later: &Rule, budget: &Budget) -> bool {
    earlier.when.is_none() && tools_cover(earlier.tools.as_deref(), later.tools.as_deref(), budget)
}

/// Whether every tool `narrow` matches (`None`: every tool), `wide` matches.
/// No, once the budget is spent.
fn tools_cover(wide: Option<&[Glob]>, narrow: Option<&[Glob]>, budget: &Budget) -> bool {
    let Some(wide) = wide else {
        return true;
    };
    match narrow {
        Some(narrow) => narrow.iter().all(|narrow| {
            wide.iter()
                .any(|wide| budget.take(wide, narrow) && wide.covers(narrow))
        }),
        // Only a pattern that matches every name covers a rule for any tool.
        None => wide.iter().any(Glob::matches_every_name),
    }
}

/// Whether some tool may match both; yes, once the budget is spent.
fn tools_may_overlap(left: Option<&[Glob]>, right: Option<&[Glob]>, budget: &Budget) -> bool {
    match (left, right) {
        (Some(left), Some(right)) => left.iter().any(|left| {
            right
                .iter()
                .any(|right| !budget.take(left, right) || left.may_overlap(right))
        }),
        _ => true,
    }
}

/// What in the platform policy blocks every call `rule` matches (so that the
/// tenant policy is never consulted for it), if anything does. The
/// platform's rules are taken in order: one that may match such a call
/// without blocking settles that nothing does.
fn overriding(platform: &Policy, rule: &Rule, budget: &Budget) -> Option<String> {
    // Only a block overrides, being final: under a platform `allow` or
    // `escalate` the tenant rule still counts (it keeps the tenant's later
    // rules from deciding, its `rate` limits count the calls through it, and
    // an approved escalation runs with its opinion).
    let tools = rule.tools.as_deref();
    for candidate in platform.rules() {
        interrupt::check();
        if !tools_may_overlap(candidate.tools.as_deref(), tools, budget) {
            continue;
        }
        if candidate.action != Action::Block {
            return None;
        }
        if candidate.when.is_none() && tools_cover(candidate.tools.as_deref(), tools, budget) {
            return Some(format!("platform rule {:?}", candidate.label.id()));
        }
    }
    platform
        .default_action()
        .filter(|default| *default == Action::Block)
        .map(|_| "the platform policy's default (block)".to_owned())
}

/// Why a condition can never hold, if it is plain that it cannot: the tests
/// that must all hold on one path rule each other out, or an `any` or `in`
/// has nothing to choose from.
fn never_holds(condition: &Condition) -> Option<String> {
    let mut musts = Vec::new();
    if let Some(why) = required_tests(condition, &mut musts) {
        return Some(why);
    }
    let mut paths: Vec<&FieldPath> = Vec::new();
    for (path, _) in &musts {
        if !paths.contains(path) {
            paths.push(path);
        }
    }
    paths.into_iter().find_map(|path| {
        let ops: Vec<&Op> = musts
            .iter()
            .filter(|(other, _)| *other == path)
            .map(|(_, op)| *op)
            .collect();
        conflict(&ops).map(|why| format!("{path}: {why}"))
    })
}

/// Collects the operators that must all hold for `condition` to hold (those
/// outside any `any` or `not`); answers at once for an empty `any` or `in`.
fn required_tests<'c>(
    condition: &'c Condition,
    musts: &mut Vec<(&'c FieldPath, &'c Op)>,
) -> Option<String> {
    match condition {
        BoolTree::All(parts) => parts.iter().find_map(|part| required_tests(part, musts)),
        BoolTree::Any(parts) if parts.is_empty() => Some("`any: []` never holds".to_owned()),
        BoolTree::Any(_) | BoolTree::Not(_) => None,
        BoolTree::Leaf(FieldTest { path, test }) => required_ops(path, test, musts),
    }
}

fn required_ops<'c>(
    path: &'c FieldPath,
    test: &'c Test,
    musts: &mut Vec<(&'c FieldPath, &'c Op)>,
) -> Option<String> {
    match test {
        BoolTree::All(parts) => parts
            .iter()
            .find_map(|part| required_ops(path, part, musts)),
        BoolTree::Any(parts) if parts.is_empty() => Some(format!("{path}: `any: []` never holds")),
        BoolTree::Any(_) | BoolTree::Not(_) => None,
        BoolTree::Leaf(Op::In(choices)) if choices.is_empty() => {
            Some(format!("{path}: `in: []` never holds"))
        }
        BoolTree::Leaf(op) => {
            musts.push((path, op));
            None
        }
    }
}

/// Why operators that must all hold on one field cannot, if they cannot.
fn conflict(ops: &[&Op]) -> Option<String> {
    let exists = |expected: bool| {
        ops.iter()
            .any(|op| matches!(op, Op::Exists(e) if *e == expected))
    };
    if exists(true) && exists(false) {
        return Some("`exists: true` and `exists: false`".to_owned());
    }
    if exists(false)
        && let Some(op) = ops.iter().find(|op| needs_the_field(op))
    {
        return Some(format!(
            "`exists: false`, and `{}`, which never holds on a missing field",
            op.name()
        ));
    }
    number_range_is_empty(ops)
}

/// Whether the operator is false on a missing field.
fn needs_the_field(op: &Op) -> bool {
    !matches!(
        op,
        Op::Exists(_) | Op::NotEquals(_) | Op::NotIn(_) | Op::Rate(_)
    )
}

/// Whether the bounds of `gt`, `gte`, `lt` and `lte` leave no number.
fn number_range_is_empty(ops: &[&Op]) -> Option<String> {
    // The highest lower bound and the lowest upper bound, each with whether
    // it is strict.
    let mut lower: Option<(&Number, bool, &Comparison)> = None;
    let mut upper: Option<(&Number, bool, &Comparison)> = None;
    for op in ops {
        let Op::Compare(comparison, bound) = op else {
            continue;
        };
        let strict = matches!(comparison, Comparison::Greater | Comparison::Less);
        let (slot, tighter) = match comparison {
            Comparison::Greater | Comparison::GreaterOrEqual => {
                (&mut lower, std::cmp::Ordering::Greater)
            }
            Comparison::Less | Comparison::LessOrEqual => (&mut upper, std::cmp::Ordering::Less),
        };
        let replace = slot.is_none_or(|(current, current_strict, _)| {
            let order = bound.cmp(current);
            order == tighter || (order.is_eq() && strict && !current_strict)
        });
        if replace {
            *slot = Some((bound, strict, comparison));
        }
    }
    let ((low, low_strict, low_op), (high, high_strict, high_op)) = (lower?, upper?);
    let empty = match low.cmp(high) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Equal => low_strict || high_strict,
        std::cmp::Ordering::Less => false,
    };
    empty.then(|| {
        format!(
            "`{}: {low}` and `{}: {high}` leave no number",
            low_op.name(),
            high_op.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile;

    fn codes(source: &str, platform: Option<&str>) -> Vec<(WarningCode, String)> {
        let policy = compile(source).unwrap();
        let platform = platform.map(|source| compile(source).unwrap());
        lint(&policy, platform.as_ref())
            .into_iter()
            .map(|warning| (warning.code, warning.path))
            .collect()
    }

    #[test]
    fn a_rule_after_a_broader_one_without_conditions_is_shadowed() {
        let source = "rules:
  - {id: mail, tool: email.*, action: allow}
  - {id: send, tool: email.send, action: block}
  - {id: other, tool: [email.read, file.write], action: block}
  - {id: files, tool: file.read, action: block, when: {args.x: {exists: true}}}
  - {id: files-again, tool: file.read, action: allow}
  - {id: all, action: block}
  - {id: after-all, tool: x, action: allow}
";
        assert_eq!(
            codes(source, None),
            [
                (WarningCode::ShadowedRule, "rules[1]".to_owned()),
                (WarningCode::ShadowedRule, "rules[6]".to_owned()),
            ]
        );
    }

    #[test]
    fn conditions_that_rule_each_other_out() {
        let never = [
            "{args.n: {gt: 5, lt: 3}}",
            "{args.n: {gt: 5}, all: [{args.n: {lte: 5}}]}",
            "{args.n: {gte: 5, lt: 5}}",
            "{args.n: {exists: true, all: [{exists: false}]}}",
            "{args.n: {exists: false, equals: 1}}",
            "{args.n: {in: []}}",
            "{any: []}",
            "{args.n: {any: []}}",
        ];
        for when in never {
            let source = format!("rules:\n  - {{action: allow, when: {when}}}\n");
            assert_eq!(
                codes(&source, None),
                [(
                    WarningCode::UnsatisfiableCondition,
                    "rules[0].when".to_owned()
                )],
                "{when}"
            );
        }
        let possible = [
            "{args.n: {gte: 5, lte: 5}}",
            "{args.n: {gt: 3, lt: 5}}",
            "{args.n: {gt: 5}, args.m: {lt: 3}}",
            "{args.n: {any: [{gt: 5}, {lt: 3}]}}",
            "{args.n: {exists: false, notEquals: 1}}",
            "{not: {args.n: {in: []}}}",
        ];
        for when in possible {
            let source = format!("rules:\n  - {{action: allow, when: {when}}}\n");
            assert_eq!(codes(&source, None), [], "{when}");
        }
    }

    #[test]
    fn the_message_names_the_path_and_the_bounds() {
        let policy =
            compile("rules:\n  - {id: r, action: allow, when: {args.amount: {gt: 5, lt: 3}}}\n")
                .unwrap();
        let warning = &lint(&policy, None)[0];
        assert_eq!(
            warning.message,
            "the conditions of rule \"r\" can never hold: args.amount: `gt: 5` and `lt: 3` leave no number"
        );
    }

    #[test]
    fn tenant_rules_the_platform_always_decides() {
        let platform = "default: escalate
rules:
  - {id: no-shell, tool: system.*, action: block}
  - {id: reads, tool: file.read, action: allow}
  - {id: admin, tool: admin.**, action: escalate, when: {args.x: {exists: true}}}
";
        let tenant = "rules:
  - {id: shell, tool: system.exec, action: allow}
  - {id: read, tool: file.read, action: escalate}
  - {id: admin, tool: admin.run, action: allow}
  - {id: mail, tool: email.send, action: escalate}
  - {id: mail-block, tool: email.bulk, action: block, when: {args.x: {exists: true}}}
  - {id: kill, tool: system.kill, action: block}
";
        // Only a platform block overrides: under the platform's escalations
        // (admin, mail) the tenant's own opinion still keeps its later rules
        // from deciding, and runs the call once approved.
        assert_eq!(
            codes(tenant, Some(platform)),
            [
                (WarningCode::OverriddenByPlatform, "rules[0]".to_owned()),
                (WarningCode::OverriddenByPlatform, "rules[5]".to_owned()),
            ]
        );
        assert_eq!(codes(tenant, None), []);
    }

    #[test]
    fn a_rule_scoped_limit_needs_an_id() {
        let source = "default: allow
rules:
  - {tool: a, action: allow, when: {not: {rate: {max: 2, per: 1m, scope: rule}}}}
  - {id: b, tool: b, action: allow, when: {not: {rate: {max: 2, per: 1m, scope: rule}}}}
  - {tool: c, action: block, when: {rate: {max: 2, per: 1m, scope: tool}}}
";
        assert_eq!(
            codes(source, None),
            [(WarningCode::RateRuleWithoutId, "rules[0]".to_owned())]
        );
    }

    #[test]
    fn a_pattern_longer_than_any_tool_name_matches_nothing() {
        let long = "x".repeat(MAX_TOOL_BYTES + 1);
        let fits = "y".repeat(MAX_TOOL_BYTES);
        let source = format!(
            "rules:\n  - {{tool: [\"{long}.*\", \"{fits}\"], action: block}}\n  - {{tool: \"{long}\", action: block}}\n"
        );
        assert_eq!(
            codes(&source, None),
            [
                (
                    WarningCode::GlobMatchesNothing,
                    "rules[0].tool[0]".to_owned()
                ),
                (WarningCode::GlobMatchesNothing, "rules[1].tool".to_owned()),
            ]
        );
    }

    #[test]
    fn once_the_comparison_budget_is_spent_patterns_warn_of_nothing() {
        let shadowed = compile(
            "rules:\n  - {id: mail, tool: email.*, action: allow}\n  - {id: send, tool: email.send, action: block}\n",
        )
        .unwrap();
        let platform =
            compile("rules:\n  - {id: no-shell, tool: system.*, action: block}\n").unwrap();
        let overridden =
            compile("rules:\n  - {id: shell, tool: system.exec, action: allow}\n").unwrap();
        let count = |policy: &Policy, platform: Option<&Policy>, cells: usize| {
            lint_within(policy, platform, &Budget::new(cells)).len()
        };
        assert_eq!(count(&shadowed, None, 100), 1);
        assert_eq!(count(&shadowed, None, 5), 0);
        assert_eq!(count(&overridden, Some(&platform), 100), 1);
        assert_eq!(count(&overridden, Some(&platform), 5), 0);
    }

    #[test]
    fn a_policy_of_many_rules_spends_the_budget_and_stops() {
        // 20,000 rules without conditions, one shadowed by the first: comparing
        // each with every earlier one would fill 1.2 billion cells.
        let rules: String = (0..19_999)
            .map(|i| format!("  - {{tool: t{i}.x, action: allow}}\n"))
            .collect();
        let policy = compile(&format!(
            "rules:\n{rules}  - {{tool: t0.x, action: block}}\n"
        ))
        .unwrap();
        let budget = Budget::new(COMPARISON_BUDGET);
        // The last rule is shadowed, but found only past the budget.
        assert_eq!(lint_within(&policy, None, &budget).len(), 0);
        assert!(budget.spent());
        // Each of those rules against a platform of as many: the same.
        let budget = Budget::new(COMPARISON_BUDGET);
        assert!(lint_within(&policy, Some(&policy), &budget).len() < 20_000);
        assert!(budget.spent());
    }

    #[test]
    fn codes_are_distinct() {
        let names: std::collections::HashSet<_> =
            WarningCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), WarningCode::ALL.len());
    }
}
