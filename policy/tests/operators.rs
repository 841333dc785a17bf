mod common;

use common::{op_holds, when_holds};
use serde_json::json;

fn holds(operators: &str, value: serde_json::Value) -> bool {
    op_holds(operators, Some(value))
}

fn on_missing(operators: &str) -> bool {
    op_holds(operators, None)
}

#[test]
fn equals_compares_json_with_numeric_numbers() {
    assert!(holds("{equals: 5}", json!(5)));
    assert!(holds("{equals: 5}", json!(5.0)));
    assert!(holds("{equals: 5.0}", json!(5)));
    assert!(!holds("{equals: 5}", json!(6)));
    assert!(
        !holds("{equals: 5}", json!("5")),
        "a string is not a number"
    );
    assert!(!on_missing("{equals: 5}"));
    assert!(holds("{equals: hello}", json!("hello")));
    assert!(!holds("{equals: hello}", json!("Hello")));
    assert!(holds("{equals: true}", json!(true)));
    assert!(holds("{equals: null}", json!(null)));
    assert!(!on_missing("{equals: null}"), "missing is not null");
    assert!(holds("{equals: [1, a]}", json!([1.0, "a"])));
    assert!(!holds("{equals: [1, a]}", json!(["a", 1])));
    assert!(holds(
        "{equals: {a: 1, b: [2]}}",
        json!({"b": [2.0], "a": 1})
    ));
    assert!(!holds("{equals: {a: 1}}", json!({"a": 1, "b": 2})));
}

#[test]
fn eq_is_an_alias_of_equals() {
    assert!(holds("{eq: 5}", json!(5)));
    assert!(!holds("{eq: 5}", json!(4)));
    assert!(!on_missing("{eq: 5}"));
}

#[test]
fn not_equals_and_neq_hold_on_missing_paths() {
    for op in ["notEquals", "neq"] {
        assert!(!holds(&format!("{{{op}: 5}}"), json!(5.0)));
        assert!(holds(&format!("{{{op}: 5}}"), json!(6)));
        assert!(
            holds(&format!("{{{op}: 5}}"), json!("5")),
            "different types are not equal"
        );
        assert!(on_missing(&format!("{{{op}: 5}}")));
    }
}

#[test]
fn in_and_not_in_test_membership() {
    assert!(holds("{in: [a, b, 3]}", json!("b")));
    assert!(holds("{in: [a, b, 3]}", json!(3.0)));
    assert!(!holds("{in: [a, b, 3]}", json!("c")));
    assert!(!holds("{in: [a, b, 3]}", json!("3")));
    assert!(!holds("{in: []}", json!("a")));
    assert!(holds("{in: [[1, 2]]}", json!([1, 2])));
    assert!(!on_missing("{in: [a]}"));

    assert!(holds("{notIn: [a, b]}", json!("c")));
    assert!(!holds("{notIn: [a, b]}", json!("a")));
    assert!(holds("{notIn: [a, b]}", json!(1)));
    assert!(on_missing("{notIn: [a, b]}"));
}

#[test]
fn contains_searches_strings_and_arrays() {
    assert!(holds("{contains: 'lo w'}", json!("hello world")));
    assert!(!holds("{contains: xyz}", json!("hello world")));
    assert!(holds("{contains: b}", json!(["a", "b"])));
    assert!(!holds("{contains: c}", json!(["a", "b"])));
    assert!(holds("{contains: 2}", json!([1, 2.0])));
    assert!(holds("{contains: null}", json!([null])));
    assert!(
        !holds("{contains: '2'}", json!(123)),
        "numbers have no substrings"
    );
    assert!(
        !holds("{contains: 2}", json!("123")),
        "a number is not a substring"
    );
    assert!(!holds("{contains: a}", json!({"a": 1})));
    assert!(!on_missing("{contains: a}"));
}

#[test]
fn starts_with_and_ends_with_need_strings() {
    assert!(holds("{startsWith: 'SELECT '}", json!("SELECT 1")));
    assert!(!holds("{startsWith: 'SELECT '}", json!("DELETE")));
    assert!(!holds("{startsWith: '1'}", json!(123)));
    assert!(!on_missing("{startsWith: a}"));

    assert!(holds(
        "{endsWith: '@tenant-a.com'}",
        json!("bob@tenant-a.com")
    ));
    assert!(!holds(
        "{endsWith: '@tenant-a.com'}",
        json!("bob@tenant-a.com.evil")
    ));
    assert!(!holds("{endsWith: '3'}", json!(123)));
    assert!(!holds("{endsWith: a}", json!(["a"])));
    assert!(!on_missing("{endsWith: a}"));
}

#[test]
fn matches_searches_unanchored() {
    assert!(holds("{matches: '^a.c$'}", json!("abc")));
    assert!(!holds("{matches: '^a.c$'}", json!("xabc")));
    assert!(holds("{matches: 'b'}", json!("xabc")));
    assert!(holds(
        "{matches: '(?i)drop\\s+table'}",
        json!("x; DROP  TABLE users")
    ));
    assert!(!holds("{matches: '\\d'}", json!(5)));
    assert!(!on_missing("{matches: '.*'}"));
}

#[test]
fn comparisons_need_numbers() {
    assert!(holds("{gt: 10}", json!(11)));
    assert!(!holds("{gt: 10}", json!(10)));
    assert!(holds("{gte: 10}", json!(10.0)));
    assert!(!holds("{gte: 10}", json!(9.99)));
    assert!(holds("{lt: 0.5}", json!(0)));
    assert!(!holds("{lt: 0.5}", json!(0.5)));
    assert!(holds("{lte: -1}", json!(-1)));
    assert!(!holds("{lte: -1}", json!(0)));
    assert!(holds("{gt: 18446744073709551614}", json!(u64::MAX)));
    for op in ["gt", "gte", "lt", "lte"] {
        assert!(!holds(&format!("{{{op}: 10}}"), json!("10")), "{op}");
        assert!(!holds(&format!("{{{op}: 10}}"), json!(null)), "{op}");
        assert!(!on_missing(&format!("{{{op}: 10}}")), "{op}");
    }
}

#[test]
fn exists_tests_presence() {
    assert!(holds("{exists: true}", json!(null)));
    assert!(!holds("{exists: false}", json!(0)));
    assert!(!on_missing("{exists: true}"));
    assert!(on_missing("{exists: false}"));
}

#[test]
fn several_operators_in_one_map_must_all_hold() {
    let range = "{gte: 1, lte: 5}";
    assert!(holds(range, json!(1)));
    assert!(holds(range, json!(5)));
    assert!(!holds(range, json!(6)));
    assert!(!holds(range, json!(0)));
    assert!(holds(
        "{startsWith: a, endsWith: z, contains: m}",
        json!("a-m-z")
    ));
    assert!(!holds(
        "{startsWith: a, endsWith: z, contains: m}",
        json!("a-n-z")
    ));
}

#[test]
fn operator_level_combinators() {
    assert!(holds("{not: {equals: 1}}", json!(2)));
    assert!(!holds("{not: {equals: 1}}", json!(1)));
    assert!(on_missing("{not: {equals: 1}}"), "not of a false leaf");
    assert!(!on_missing("{not: {notEquals: 1}}"));
    assert!(holds("{any: [{equals: 1}, {equals: 2}]}", json!(2)));
    assert!(!holds("{any: [{equals: 1}, {equals: 2}]}", json!(3)));
    assert!(holds("{all: [{gt: 1}, {lt: 5}]}", json!(3)));
    assert!(!holds("{all: [{gt: 1}, {lt: 5}]}", json!(5)));
    assert!(holds("{all: []}", json!(0)), "empty all holds");
    assert!(!holds("{any: []}", json!(0)), "empty any fails");
    assert!(holds(
        "{gt: 0, not: {in: [3, 4]}, any: [{lt: 10}, {equals: 99}]}",
        json!(99)
    ));
    assert!(!holds(
        "{gt: 0, not: {in: [3, 4]}, any: [{lt: 10}, {equals: 99}]}",
        json!(3)
    ));
}

#[test]
fn condition_level_combinators() {
    let any = "{any: [{args.a: {equals: 1}}, {args.b: {equals: 2}}]}";
    assert!(when_holds(any, json!({"b": 2}), json!({})));
    assert!(!when_holds(any, json!({"a": 2, "b": 1}), json!({})));

    let all = "{all: [{args.a: {equals: 1}}, {args.b: {equals: 2}}]}";
    assert!(when_holds(all, json!({"a": 1, "b": 2}), json!({})));
    assert!(!when_holds(all, json!({"a": 1}), json!({})));

    let not = "{not: {args.a: {exists: true}}}";
    assert!(when_holds(not, json!({}), json!({})));
    assert!(!when_holds(not, json!({"a": null}), json!({})));

    assert!(when_holds("{all: []}", json!({}), json!({})));
    assert!(!when_holds("{any: []}", json!({}), json!({})));
    assert!(when_holds("{}", json!({}), json!({})));

    let mixed =
        "{args.a: {equals: 1}, not: {context.role: {equals: admin}}, any: [{tool: {equals: t}}]}";
    assert!(when_holds(mixed, json!({"a": 1}), json!({"role": "user"})));
    assert!(!when_holds(
        mixed,
        json!({"a": 1}),
        json!({"role": "admin"})
    ));
}

#[test]
fn paths_reach_into_args_context_and_arrays() {
    assert!(when_holds(
        "{args.items.1.id: {equals: 7}}",
        json!({"items": [{}, {"id": 7}]}),
        json!({})
    ));
    assert!(!when_holds(
        "{args.items.2.id: {exists: true}}",
        json!({"items": [{}, {"id": 7}]}),
        json!({})
    ));
    assert!(when_holds(
        "{context.user.roles: {contains: admin}}",
        json!({}),
        json!({"user": {"roles": ["admin"]}})
    ));
    assert!(when_holds(
        "{args: {equals: {a: 1}}}",
        json!({"a": 1}),
        json!({})
    ));
    assert!(when_holds(
        "{context: {exists: true}}",
        json!({}),
        json!({})
    ));
    assert!(when_holds("{tool: {equals: t}}", json!({}), json!({})));
    assert!(when_holds("{tool: {matches: '^t$'}}", json!({}), json!({})));
}
