mod common;

use common::{invalid, policy, request, when_holds};
use serde_json::{Value, json};

fn holds_for_tenant(when: &str, args: Value, context: Value, tenant_id: &str) -> bool {
    let policy = policy(&format!("rules:\n  - action: allow\n    when: {when}\n"));
    let (args, context) = (common::value(args), common::value(context));
    policy
        .evaluate(&request("t", &args, &context, tenant_id))
        .is_some()
}

#[test]
fn placeholders_are_filled_from_context() {
    let context = json!({"user": {"id": "u1", "level": 3, "admin": true}});
    assert!(when_holds(
        "{args.owner: {equals: '${context.user.id}'}}",
        json!({"owner": "u1"}),
        context.clone()
    ));
    assert!(!when_holds(
        "{args.owner: {equals: '${context.user.id}'}}",
        json!({"owner": "u2"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.path: {startsWith: '/home/${context.user.id}/'}}",
        json!({"path": "/home/u1/x"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.path: {endsWith: '.${context.user.id}'}}",
        json!({"path": "a.u1"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.q: {contains: 'level=${context.user.level}'}}",
        json!({"q": "x level=3 y"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.flag: {equals: '${context.user.admin}'}}",
        json!({"flag": true}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.flag: {equals: 'is ${context.user.admin}'}}",
        json!({"flag": "is true"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.who: {in: [root, '${context.user.id}']}}",
        json!({"who": "u1"}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.who: {notIn: [root, '${context.user.id}']}}",
        json!({"who": "u2"}),
        context
    ));
}

#[test]
fn a_lone_placeholder_compares_as_the_value_and_text_around_it_makes_text() {
    let context = json!({"limit": 5, "ratio": 1.50, "on": false});
    for (operators, x, expected) in [
        ("{equals: '${context.limit}'}", json!(5), true),
        ("{equals: '${context.limit}'}", json!(5.0), true),
        ("{equals: '${context.limit}'}", json!("5"), false),
        ("{equals: 'n=${context.limit}'}", json!("n=5"), true),
        ("{equals: '${context.ratio}'}", json!(1.5), true),
        (
            "{equals: '${context.ratio}${context.ratio}'}",
            json!("1.51.5"),
            true,
        ),
        ("{notEquals: '${context.limit}'}", json!("5"), true),
        ("{in: [a, '${context.limit}']}", json!(5), true),
        ("{notIn: ['${context.limit}']}", json!(5), false),
        ("{equals: '${context.on}'}", json!(false), true),
        ("{equals: '${context.on}'}", json!("false"), false),
        ("{contains: '${context.limit}'}", json!([4, 5]), true),
        ("{contains: '${context.limit}'}", json!(["5"]), false),
        // Text operators take the value's text.
        ("{contains: '${context.limit}'}", json!("a5b"), true),
        ("{startsWith: '${context.ratio}'}", json!("1.5x"), true),
        ("{endsWith: '${context.on}'}", json!("is false"), true),
    ] {
        assert_eq!(
            when_holds(
                &format!("{{args.x: {operators}}}"),
                json!({ "x": x }),
                context.clone()
            ),
            expected,
            "{operators} on {x}"
        );
    }
}

#[test]
fn an_unresolvable_placeholder_leaves_its_operand_matching_nothing() {
    let args = json!({"x": "value", "list": ["value"]});
    for context in [
        json!({}),
        json!({"v": null}),
        json!({"v": [1]}),
        json!({"v": {"a": 1}}),
    ] {
        for (operators, expected) in [
            ("{equals: '${context.v}'}", false),
            ("{notEquals: '${context.v}'}", true),
            ("{in: ['${context.v}']}", false),
            ("{in: [value, '${context.v}']}", true),
            ("{notIn: [value, '${context.v}']}", false),
            ("{notIn: [other, '${context.v}']}", true),
            ("{contains: 'a${context.v}'}", false),
            ("{startsWith: '${context.v}'}", false),
            ("{endsWith: '${context.v}'}", false),
            ("{not: {equals: '${context.v}'}}", true),
        ] {
            let when = format!("{{args.x: {operators}}}");
            assert_eq!(
                when_holds(&when, args.clone(), context.clone()),
                expected,
                "{operators} with {context}"
            );
        }
        assert!(!when_holds(
            "{args.list: {contains: '${context.v}'}}",
            args.clone(),
            context.clone()
        ));
    }
}

#[test]
fn literal_operands_are_not_interpolated_inside_lists_and_maps_or_regexes() {
    let context = json!({"v": "x"});
    assert!(when_holds(
        "{args.a: {equals: ['${context.v}']}}",
        json!({"a": ["${context.v}"]}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.a: {equals: {k: '${context.v}'}}}",
        json!({"a": {"k": "${context.v}"}}),
        context.clone()
    ));
    assert!(when_holds(
        "{args.a: {matches: '^x\\$\\{$'}}",
        json!({"a": "x${"}),
        context
    ));
}

#[test]
fn a_forged_tenant_id_in_context_never_overrides_the_request() {
    let forged = json!({"tenantId": "tenant-b"});
    // As a path.
    assert!(holds_for_tenant(
        "{context.tenantId: {equals: tenant-a}}",
        json!({}),
        forged.clone(),
        "tenant-a"
    ));
    assert!(!holds_for_tenant(
        "{context.tenantId: {equals: tenant-b}}",
        json!({}),
        forged.clone(),
        "tenant-a"
    ));
    assert!(holds_for_tenant(
        "{context.tenantId: {exists: true}}",
        json!({}),
        json!({}),
        "tenant-a"
    ));
    // As a placeholder.
    let query = "{args.query: {contains: \"tenant_id = '${context.tenantId}'\"}}";
    let own = json!({"query": "SELECT * FROM t WHERE tenant_id = 'tenant-a'"});
    let other = json!({"query": "SELECT * FROM t WHERE tenant_id = 'tenant-b'"});
    assert!(holds_for_tenant(
        query,
        own.clone(),
        forged.clone(),
        "tenant-a"
    ));
    assert!(!holds_for_tenant(
        query,
        other.clone(),
        forged.clone(),
        "tenant-a"
    ));
    assert!(holds_for_tenant(query, other, forged, "tenant-b"));
    assert!(!holds_for_tenant(
        query,
        own,
        json!({"tenantId": "tenant-a"}),
        "tenant-b"
    ));
}

#[test]
fn malformed_placeholders_are_rejected_at_compile_time() {
    for operand in [
        "'${context.a'",
        "'x ${'",
        "'${args.to}'",
        "'${tool}'",
        "'${context}'",
        "'${}'",
    ] {
        for op in ["equals", "notEquals", "contains", "startsWith", "endsWith"] {
            let error = invalid(&format!(
                "rules:\n  - action: allow\n    when:\n      args.x:\n        {op}: {operand}\n"
            ));
            assert_eq!(
                error.path.as_deref(),
                Some(format!("rules[0].when.args.x.{op}").as_str())
            );
            assert_eq!(error.line, Some(5));
        }
        let error = invalid(&format!(
            "rules:\n  - action: allow\n    when:\n      args.x:\n        in: [a, {operand}]\n"
        ));
        assert_eq!(
            error.path.as_deref(),
            Some("rules[0].when.args.x.in[1]"),
            "{error}"
        );
    }
}

/// Operands whose text would be longer than the field are not built (see
/// `Template::render`); the outcome is the same as if they had been.
#[test]
fn operands_longer_than_the_field_compare_as_if_built() {
    let twice = "'${context.v}${context.v}'";
    let holds = |operators: String, x: Value| {
        when_holds(
            &format!("{{args.x: {operators}}}"),
            json!({ "x": x }),
            json!({"v": "ab"}),
        )
    };
    let cases = [
        (format!("{{equals: {twice}}}"), json!("abab"), true),
        (format!("{{equals: {twice}}}"), json!("aba"), false),
        (format!("{{equals: {twice}}}"), json!(5), false),
        (format!("{{notEquals: {twice}}}"), json!("aba"), true),
        (format!("{{startsWith: {twice}}}"), json!("ababx"), true),
        (format!("{{startsWith: {twice}}}"), json!("aba"), false),
        (format!("{{endsWith: {twice}}}"), json!("xabab"), true),
        (format!("{{endsWith: {twice}}}"), json!("bab"), false),
        (format!("{{contains: {twice}}}"), json!("xxababyy"), true),
        (format!("{{contains: {twice}}}"), json!("aba"), false),
        (format!("{{contains: {twice}}}"), json!(["abab", 1]), true),
        (format!("{{contains: {twice}}}"), json!(["aba", "b"]), false),
        (format!("{{in: [{twice}, zz]}}"), json!("abab"), true),
        (format!("{{in: [{twice}, zz]}}"), json!("ab"), false),
        (format!("{{notIn: [{twice}, zz]}}"), json!("ab"), true),
    ];
    for (operators, x, expected) in cases {
        assert_eq!(
            holds(operators.clone(), x.clone()),
            expected,
            "{operators} on {x}"
        );
    }
    // A placeholder that cannot be filled in still matches nothing, even past
    // the point where the text became too long.
    let unresolvable = "'${context.v}${context.v}${context.missing}'";
    assert!(!holds(format!("{{equals: {unresolvable}}}"), json!("a")));
    assert!(holds(format!("{{notEquals: {unresolvable}}}"), json!("a")));
    assert!(holds(format!("{{notIn: [{unresolvable}]}}"), json!("a")));
    assert!(!holds(format!("{{in: [{unresolvable}, a]}}"), json!("b")));
    assert!(holds(format!("{{in: [{unresolvable}, a]}}"), json!("a")));
}
