//! Generated policies for the benchmarks. Not part of the supported API.

use std::fmt::Write;

/// A policy of `rules` rules: a few wildcard rules, then one rule per tool
/// `tool.N.run` (rule `rules[N + 3]`) that allows calls whose `args.amount` is
/// below `N`. The policy default is `block`.
pub fn generated_policy(rules: usize) -> String {
    let wildcards = [
        ("admin.*", "block"),
        ("**.delete", "escalate"),
        ("*.export_*", "escalate"),
    ];
    let mut source = String::from("default: block\nrules:\n");
    for (pattern, action) in wildcards.iter().take(rules) {
        let _ = writeln!(source, "  - tool: \"{pattern}\"\n    action: {action}");
    }
    for n in 0..rules.saturating_sub(wildcards.len()) {
        let _ = writeln!(
            source,
            "  - tool: tool.{n}.run\n    action: allow\n    when:\n      args.amount:\n        lt: {n}"
        );
    }
    source
}

/// A tool matched by one of the last rules of [`generated_policy`]`(rules)`.
pub fn tool_near_the_end(rules: usize) -> String {
    format!("tool.{}.run", rules.saturating_sub(5))
}

/// A platform policy of the same shape as the seed example.
pub const PLATFORM_POLICY: &str = "rules:
  - tool: \"system.*\"
    action: block
    reason: \"System tools are blocked for all tenants\"
  - tool: \"shell.execute\"
    action: block
    reason: \"Shell access is disabled\"
";
