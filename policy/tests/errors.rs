mod common;

use authensor_policy::{ErrorKind, Limits, compile_with_limits};
use common::{compile_error, invalid};

/// A one-rule policy whose `args.x` carries `operators` (YAML block content).
fn with_operators(operators: &str) -> String {
    format!("rules:\n  - action: allow\n    when:\n      args.x:\n        {operators}\n")
}

#[test]
fn malformed_yaml_is_a_syntax_error_with_a_position() {
    let error = compile_error("rules:\n  - tool: [a, b\n    action: allow\n");
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert!(error.line.is_some() && error.column.is_some(), "{error:?}");
    assert!(
        !error
            .message
            .contains(&format!("at line {}", error.line.unwrap())),
        "{error}"
    );

    let error = compile_error("rules:\n  - id: a\n   action: allow\n");
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert_eq!(error.line, Some(3));

    let error = compile_error("default: \"unterminated\n");
    assert_eq!(error.kind, ErrorKind::Syntax);
}

#[test]
fn a_syntax_error_after_valid_content_is_still_a_syntax_error() {
    let error = compile_error("default: block\nrules:\n  - action: allow\n}\n");
    assert_eq!(error.kind, ErrorKind::Syntax, "{error}");
    let error = compile_error("default: block\n---\n[\n");
    assert_eq!(error.kind, ErrorKind::Syntax, "{error}");
}

#[test]
fn the_document_must_be_one_non_empty_mapping() {
    for source in ["", "   \n", "# only a comment\n", "~", "---\n"] {
        let error = invalid(source);
        assert_eq!(error.message, "the policy document is empty", "{source:?}");
    }
    for source in ["just text", "- a\n- b\n", "42"] {
        let error = invalid(source);
        assert!(
            error.message.starts_with("expected a policy mapping"),
            "{error}"
        );
    }
    let error = invalid("default: block\n---\ndefault: allow\n");
    assert_eq!(error.message, "a policy must be a single YAML document");
}

#[test]
fn unknown_top_level_key() {
    let error = invalid("default: block\nrulez: []\n");
    assert_eq!(error.message, "unknown key \"rulez\" in the policy");
    assert_eq!(
        error.hint.as_deref(),
        Some("valid keys: default, description, rules, tests")
    );
    assert_eq!((error.line, error.column), (Some(2), Some(1)));
    assert_eq!(error.path, None);
}

#[test]
fn unknown_rule_key() {
    let error = invalid("rules:\n  - tool: a\n    action: allow\n    condition: {}\n");
    assert_eq!(error.message, "unknown key \"condition\" in a rule");
    assert_eq!(
        error.hint.as_deref(),
        Some("valid keys: id, tool, action, reason, when, approval")
    );
    assert_eq!(error.path.as_deref(), Some("rules[0]"));
    assert_eq!((error.line, error.column), (Some(4), Some(5)));
    assert_eq!(
        error.to_string(),
        "unknown key \"condition\" in a rule at rules[0] (line 4, column 5)"
    );
}

#[test]
fn repeated_keys_are_rejected() {
    assert!(
        invalid("rules: []\nrules: []\n")
            .message
            .contains("duplicate key \"rules\"")
    );
    assert!(
        invalid("rules:\n  - action: allow\n    action: block\n")
            .message
            .contains("duplicate key")
    );
    assert!(
        invalid(&with_operators("equals: 1\n        eq: 2"))
            .message
            .contains("duplicate operator \"eq\"")
    );
    assert!(invalid("rules:\n  - action: allow\n    when: {args.a: {exists: true}, args.a: {exists: false}}\n").message.contains("duplicate key \"args.a\""));
    assert!(
        invalid(&with_operators("equals: {a: 1, a: 2}"))
            .message
            .contains("duplicate key \"a\"")
    );
}

#[test]
fn unknown_operator_lists_the_valid_ones() {
    let error = invalid(&with_operators("startswith: x"));
    assert_eq!(error.message, "unknown operator \"startswith\"");
    assert_eq!(error.path.as_deref(), Some("rules[0].when.args.x"));
    assert_eq!((error.line, error.column), (Some(5), Some(9)));
    let hint = error.hint.unwrap();
    for operator in [
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
    ] {
        assert!(hint.contains(operator), "{operator} missing from {hint}");
    }
}

#[test]
fn an_empty_operator_map_is_rejected() {
    let error = invalid(&with_operators("{}").replace("\n        {}", " {}"));
    assert_eq!(error.message, "the operator mapping is empty");
}

#[test]
fn bad_regex() {
    let error = invalid(&with_operators("matches: '(unclosed'"));
    assert_eq!(error.message, "invalid regular expression: unclosed group");
    assert_eq!(error.path.as_deref(), Some("rules[0].when.args.x.matches"));
    assert_eq!(error.line, Some(5));
    assert!(error.hint.unwrap().contains("(unclosed"));

    let error = invalid(&with_operators("matches: '(?:\\w{500}){500}'"));
    assert!(error.message.contains("too large"), "{error}");
}

#[test]
fn operand_types_are_checked_per_operator() {
    let cases = [
        ("in: a", "in expects a list of values, found a string"),
        ("notIn: 3", "notIn expects a list of values, found a number"),
        (
            "contains: [a]",
            "contains expects a string, number, boolean or null, found a list",
        ),
        (
            "contains: {a: 1}",
            "contains expects a string, number, boolean or null, found a mapping",
        ),
        (
            "startsWith: 5",
            "startsWith expects a string, found a number",
        ),
        ("endsWith: [x]", "endsWith expects a string, found a list"),
        (
            "matches: true",
            "matches expects a regular expression string, found a boolean",
        ),
        ("gt: '5'", "gt expects a number, found a string"),
        ("gte: null", "gte expects a number, found null"),
        ("lt: [1]", "lt expects a number, found a list"),
        ("lte: true", "lte expects a number, found a boolean"),
        (
            "exists: 'yes'",
            "exists expects true or false, found a string",
        ),
        ("exists: 1", "exists expects true or false, found a number"),
        ("equals: !custom x", "YAML tags are not supported"),
        ("equals: .nan", "numbers must be finite"),
    ];
    for (operators, message) in cases {
        let error = invalid(&with_operators(operators));
        assert_eq!(error.message, message, "{operators}");
        assert_eq!(error.line, Some(5), "{operators}");
        let operator = operators.split(':').next().unwrap();
        assert_eq!(
            error.path.as_deref(),
            Some(format!("rules[0].when.args.x.{operator}").as_str())
        );
    }
}

#[test]
fn structural_types_are_checked() {
    let cases = [
        ("rules: 5", "expected a list of rules, found a number"),
        (
            "rules: [5]",
            "expected a rule mapping (keys: id, tool, action, reason, when, approval), found a number",
        ),
        (
            "rules:\n  - action: 1",
            "expected an action (allow, escalate or block), found a number",
        ),
        ("rules:\n  - action: deny", "unknown action \"deny\""),
        ("default: maybe", "unknown action \"maybe\""),
        (
            "rules:\n  - action: allow\n    id: 7",
            "expected a rule id string, found a number",
        ),
        (
            "rules:\n  - action: allow\n    id: ''",
            "the rule id is empty",
        ),
        (
            "rules:\n  - action: allow\n    reason: [a]",
            "expected a reason string, found a list",
        ),
        (
            "rules:\n  - action: allow\n    when: [a]",
            "expected a condition mapping (field paths, all, any, not), found a list",
        ),
        (
            "rules:\n  - action: allow\n    when:",
            "expected a condition mapping (field paths, all, any, not), found null",
        ),
        (
            "rules:\n  - action: allow\n    when: {all: {}}",
            "expected a list of condition mappings, found a mapping",
        ),
        (
            "rules:\n  - action: allow\n    when: {args.x: 5}",
            "expected an operator mapping such as `equals: value`, found a number",
        ),
        (
            "rules:\n  - action: allow\n    when: {args.x: {any: {}}}",
            "expected a list of operator mappings, found a mapping",
        ),
        (
            "rules:\n  - action: allow\n    when: {5: {}}",
            "expected a field path, rate, or all, any, not, found a number",
        ),
        ("rules:\n  - tool: a", "the rule has no action"),
    ];
    for (source, message) in cases {
        assert_eq!(invalid(source).message, message, "{source}");
    }
    let error = invalid("rules:\n  - action: maybe\n");
    assert_eq!(
        error.hint.as_deref(),
        Some("valid actions: allow, escalate, block")
    );
    assert_eq!(error.path.as_deref(), Some("rules[0].action"));
}

#[test]
fn bad_path_roots_name_the_valid_ones() {
    let error =
        invalid("rules:\n  - action: allow\n    when:\n      request.tool:\n        equals: x\n");
    assert_eq!(
        error.message,
        "unknown path root \"request\" in \"request.tool\""
    );
    assert_eq!(error.path.as_deref(), Some("rules[0].when"));
    assert_eq!((error.line, error.column), (Some(4), Some(7)));
    assert!(error.hint.unwrap().contains("tool, args or context"));
    for path in ["args..x", "args.", "tool.name", "''"] {
        invalid(&format!(
            "rules:\n  - action: allow\n    when: {{{path}: {{exists: true}}}}\n"
        ));
    }
}

#[test]
fn bad_globs_carry_the_tool_location() {
    let error = invalid("rules:\n  - action: allow\n    tool: 'a**b'\n");
    assert!(error.message.contains("must be a whole segment"), "{error}");
    assert_eq!(error.path.as_deref(), Some("rules[0].tool"));
    assert_eq!((error.line, error.column), (Some(3), Some(11)));
    let error = invalid("rules:\n  - action: allow\n    tool: [ok, 'x..y']\n");
    assert_eq!(error.path.as_deref(), Some("rules[0].tool[1]"));
    assert_eq!(
        invalid("rules:\n  - action: allow\n    tool: []\n").message,
        "the tool list is empty"
    );
}

#[test]
fn limits_are_too_large_errors() {
    let limits = Limits {
        max_source_bytes: 64,
        ..Limits::default()
    };
    let error =
        compile_with_limits(&format!("description: {}\n", "x".repeat(100)), &limits).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge);

    let limits = Limits {
        max_rules: 2,
        ..Limits::default()
    };
    let two = "rules:\n  - action: allow\n  - action: block\n";
    assert_eq!(compile_with_limits(two, &limits).unwrap().rule_count(), 2);
    let error = compile_with_limits(&format!("{two}  - action: allow\n"), &limits).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge);
    assert_eq!(error.message, "the policy has more than 2 rules");
    assert_eq!(error.path.as_deref(), Some("rules"));

    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let depth_3 = "rules:\n  - action: allow\n    when: {not: {args.a: {exists: true}}}\n";
    compile_with_limits(depth_3, &limits).unwrap();
    let depth_4 = "rules:\n  - action: allow\n    when: {not: {args.a: {not: {exists: true}}}}\n";
    let error = compile_with_limits(depth_4, &limits).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge);
    assert_eq!(
        error.message,
        "conditions are nested more than 3 levels deep"
    );
    assert_eq!(error.path.as_deref(), Some("rules[0].when.not.args.a.not"));
}

#[test]
fn display_is_a_single_line() {
    let error = invalid(&with_operators("matches: '(unclosed'"));
    let shown = error.to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert_eq!(
        shown,
        "invalid regular expression: unclosed group at rules[0].when.args.x.matches (line 5, column 18)"
    );
}
