//! The match guard sees each value's length before a `matches` regex
//! searches it, and can refuse it. One test per binary: the guard is global.

use authensor_policy::{Action, Request, Value, compile, decide, set_match_guard};
use serde_json::json;
use std::panic::catch_unwind;

#[test]
fn the_guard_is_asked_before_each_regex_search_and_may_refuse() {
    set_match_guard(|len| assert!(len <= 10, "value of {len} bytes"));
    let policy = compile(
        "default: allow\nrules:\n  - tool: t\n    action: block\n    when: {args.s: {matches: \"secret\"}}\n",
    )
    .unwrap();
    let decide_on = |text: &str| {
        let (args, context) = (Value::from(json!({ "s": text })), Value::from(json!({})));
        let request = Request {
            tool: "t",
            args: &args,
            context: &context,
            tenant_id: "x",
        };
        decide(Some(&policy), None, &request).action
    };
    assert_eq!(decide_on("a secret"), Action::Block);
    assert_eq!(decide_on("nothing"), Action::Allow);
    let refused = catch_unwind(|| decide_on("a secret that is long"));
    assert!(
        refused.is_err(),
        "a value over the guard's bound is refused"
    );
    assert_eq!(
        decide_on("secret"),
        Action::Block,
        "the policy is usable after a refusal"
    );
}
