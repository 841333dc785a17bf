//! Documents built to exhaust the compiler must end in an error instead. (How
//! quickly they fail is a matter for the benchmarks, not for these tests.)

mod common;

use authensor_policy::{ErrorKind, compile};

#[test]
fn billion_laughs_is_rejected() {
    let mut source =
        String::from("description:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let (previous, next) = (pair[0], pair[1]);
        let refs = vec![format!("*{previous}"); 10].join(", ");
        source.push_str(&format!("  {next}: &{next} [{refs}]\n"));
    }
    source.push_str("rules:\n  - action: allow\n    when:\n      args.x:\n        in: *i\n");
    let error = compile(&source).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
}

#[test]
fn aliases_may_not_multiply_a_large_list() {
    let items = vec!["x"; 5_000].join(", ");
    let refs = vec!["*big"; 5_000].join(", ");
    let source = format!(
        "description: &big [{items}]\nrules:\n  - action: allow\n    when:\n      args.x:\n        equals: [{refs}]\n"
    );
    let error = compile(&source).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
}

#[test]
fn modest_aliases_still_work() {
    let source = "rules:
  - tool: a
    action: block
    when: &internal {args.to: {endsWith: '@corp.com'}}
  - tool: b
    action: block
    when: *internal
";
    assert_eq!(compile(source).unwrap().rule_count(), 2);
}

#[test]
fn many_aliases_of_one_anchor_each_read_the_anchored_node() {
    let mut source = String::from(
        "rules:\n  - tool: a\n    action: block\n    when: &c {args.a: {exists: true}}\n",
    );
    for n in 1..=10_000 {
        source.push_str(&format!(
            "  - tool: a{n}\n    action: block\n    when: *c\n"
        ));
    }
    assert_eq!(compile(&source).unwrap().rule_count(), 10_001);
}

#[test]
fn ten_thousand_nested_conditions_are_rejected() {
    let depth = 10_000;
    let source = format!(
        "rules:\n  - action: allow\n    when: {}{{args.a: {{exists: true}}}}{}\n",
        "{not: ".repeat(depth),
        "}".repeat(depth)
    );
    let error = compile(&source).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
}

#[test]
fn ten_thousand_nested_block_conditions_are_rejected() {
    let mut source = String::from("rules:\n  - action: allow\n    when:\n");
    for level in 0..10_000 {
        source.push_str(&" ".repeat(6 + level));
        source.push_str("not:\n");
    }
    let error = compile(&source).unwrap_err();
    assert!(
        matches!(error.kind, ErrorKind::TooLarge | ErrorKind::Invalid),
        "{error}"
    );
}

#[test]
fn ten_thousand_nested_lists_are_rejected() {
    let depth = 10_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for source in [
        format!("rules:\n  - action: allow\n    when:\n      args.a:\n        equals: {nested}\n"),
        nested.clone(),
        format!("rules: {nested}\n"),
    ] {
        let error = compile(&source).unwrap_err();
        assert!(
            matches!(error.kind, ErrorKind::TooLarge | ErrorKind::Invalid),
            "{error}"
        );
    }
    let error = compile(&format!(
        "rules:\n  - action: allow\n    when:\n      args.a:\n        equals: {nested}\n"
    ))
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge, "{error}");
}

#[test]
fn deep_nesting_is_rejected_even_where_it_would_be_ignored() {
    let depth = 10_000;
    let source = format!(
        "description: {}{}\ndefault: block\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let error = compile(&source).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge);
    assert_eq!(error.message, "the YAML nests more than 128 levels deep");
    assert_eq!(error.line, Some(1));
}

#[test]
fn a_megabyte_of_nesting_fails_fast() {
    let depth = 500_000;
    let source = format!("rules: {}{}", "[".repeat(depth), "]".repeat(depth));
    let error = compile(&source).unwrap_err();
    assert_eq!(error.kind, ErrorKind::TooLarge);
}

#[test]
fn control_characters_in_keys_do_not_confuse_error_reporting() {
    let error = compile("rules:\n  - action: allow\n    \"\\x1e\\x1f\": 1\n").unwrap_err();
    assert_eq!(error.kind, ErrorKind::Invalid);
    assert_eq!(error.message, "unknown key \"\\u{1e}\\u{1f}\" in a rule");
    let error = compile(
        "rules:\n  - action: allow\n    when:\n      \"args.\\x1e: \\x1f\":\n        bad: 1\n",
    )
    .unwrap_err();
    assert_eq!(error.message, "unknown operator \"bad\"");
    assert_eq!(
        error.path.as_deref(),
        Some("rules[0].when.args.\u{1e}: \u{1f}")
    );
}
