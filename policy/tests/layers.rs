#[macro_use]
mod common;

use authensor_policy::{
    Action, Decision, FAIL_CLOSED_REASON, Layer, Policy, decide, decide_approved,
};
use common::{policy, request};

/// A policy giving `action` through a rule with an id naming the layer, or no
/// opinion at all.
fn layer_policy(layer: &str, action: Option<Action>) -> Policy {
    match action {
        Some(action) => policy(&format!(
            "rules:\n  - id: {layer}-rule\n    action: {action}\n    reason: {layer} says {action}\n"
        )),
        None => policy("rules:\n  - tool: never.called\n    action: allow\n"),
    }
}

fn run(platform: Option<&Policy>, tenant: Option<&Policy>) -> Decision {
    let args = value!({});
    let context = value!({});
    decide(
        platform,
        tenant,
        &request("any.tool", &args, &context, "tenant-a"),
    )
}

#[test]
fn every_cell_of_the_layering_table() {
    use Action::{Allow, Block, Escalate};
    use Layer::{Default, Platform, Tenant};
    let opinions = [None, Some(Allow), Some(Escalate), Some(Block)];
    // Rows: platform none, allow, escalate, block. Columns: tenant likewise.
    let expected = [
        [
            (Block, Default),
            (Allow, Tenant),
            (Escalate, Tenant),
            (Block, Tenant),
        ],
        [
            (Allow, Platform),
            (Allow, Platform),
            (Escalate, Tenant),
            (Block, Tenant),
        ],
        [
            (Escalate, Platform),
            (Escalate, Platform),
            (Escalate, Platform),
            (Block, Tenant),
        ],
        [
            (Block, Platform),
            (Block, Platform),
            (Block, Platform),
            (Block, Platform),
        ],
    ];
    for (row, platform_opinion) in opinions.iter().enumerate() {
        for (column, tenant_opinion) in opinions.iter().enumerate() {
            let platform = layer_policy("platform", *platform_opinion);
            let tenant = layer_policy("tenant", *tenant_opinion);
            let decision = run(Some(&platform), Some(&tenant));
            let cell = format!("platform {platform_opinion:?}, tenant {tenant_opinion:?}");
            assert_eq!(
                (decision.action, decision.layer),
                expected[row][column],
                "{cell}"
            );
            match decision.layer {
                Platform => {
                    assert_eq!(decision.rule_id.as_deref(), Some("platform-rule"), "{cell}");
                    assert_eq!(
                        decision.reason,
                        format!("platform says {}", decision.action)
                    );
                }
                Tenant => {
                    assert_eq!(decision.rule_id.as_deref(), Some("tenant-rule"), "{cell}");
                    assert_eq!(decision.reason, format!("tenant says {}", decision.action));
                }
                Default => {
                    assert_eq!(decision.rule_id, None);
                    assert_eq!(decision.reason, FAIL_CLOSED_REASON);
                }
            }
        }
    }
}

#[test]
fn missing_policies_abstain() {
    let allow = layer_policy("platform", Some(Action::Allow));
    let escalate = layer_policy("tenant", Some(Action::Escalate));
    let decision = run(None, None);
    assert_eq!(
        (decision.action, decision.layer),
        (Action::Block, Layer::Default)
    );
    assert_eq!(
        decision.reason,
        "no rule matched in the platform or tenant policy and neither sets a default (fail-closed)"
    );
    let decision = run(Some(&allow), None);
    assert_eq!(
        (decision.action, decision.layer),
        (Action::Allow, Layer::Platform)
    );
    let decision = run(None, Some(&escalate));
    assert_eq!(
        (decision.action, decision.layer),
        (Action::Escalate, Layer::Tenant)
    );
    let silent = layer_policy("tenant", None);
    let decision = run(None, Some(&silent));
    assert_eq!(
        (decision.action, decision.layer),
        (Action::Block, Layer::Default)
    );
}

#[test]
fn policy_defaults_count_as_opinions() {
    let platform = policy("default: allow");
    let tenant = policy("default: escalate");
    let decision = run(Some(&platform), Some(&tenant));
    assert_eq!(
        decision,
        Decision {
            action: Action::Escalate,
            layer: Layer::Tenant,
            rule_id: None,
            reason: "no rule matched; the policy default is escalate".into(),
            approval: None,
            tenant_rule_id: None,
        }
    );
}

#[test]
fn a_platform_block_is_final() {
    let platform = policy("default: block");
    let tenant = policy("rules:\n  - action: block\n    reason: tenant\n");
    let decision = run(Some(&platform), Some(&tenant));
    assert_eq!(decision.layer, Layer::Platform);
    assert_eq!(
        decision.reason,
        "no rule matched; the policy default is block"
    );
}

#[test]
fn names_of_layers_and_actions() {
    assert_eq!(
        [Layer::Platform, Layer::Tenant, Layer::Default].map(Layer::as_str),
        ["platform", "tenant", "default"]
    );
    assert_eq!(
        Action::ALL.map(Action::as_str),
        ["allow", "escalate", "block"]
    );
}

/// The tenant policy's own deciding rule is kept whenever it was consulted,
/// also when the platform is credited on a tie, and never when a platform
/// block left it unconsulted.
#[test]
fn the_tenant_rule_is_kept_whether_or_not_it_is_credited() {
    use Action::{Allow, Block, Escalate};
    let tenant = layer_policy("tenant", Some(Allow));
    for (platform, layer, tenant_rule) in [
        (Some(Allow), Layer::Platform, Some("tenant-rule")),
        (Some(Escalate), Layer::Platform, Some("tenant-rule")),
        (None, Layer::Tenant, Some("tenant-rule")),
        (Some(Block), Layer::Platform, None),
    ] {
        let platform = platform.map(|action| layer_policy("platform", Some(action)));
        let decision = run(platform.as_ref(), Some(&tenant));
        assert_eq!(decision.layer, layer, "{platform:?}");
        assert_eq!(
            decision.tenant_rule_id.as_deref(),
            tenant_rule,
            "{platform:?}"
        );
    }
    let by_default = policy("default: allow");
    let decision = run(Some(&by_default), Some(&by_default));
    assert_eq!((decision.rule_id, decision.tenant_rule_id), (None, None));
}

/// A granted escalation decides as an allow of the escalating rule would
/// have: every cell of the layering table with `escalate` read as `allow`,
/// a platform block still final, a tenant block still blocking.
#[test]
fn an_approved_call_is_decided_with_escalations_as_allows() {
    use Action::{Allow, Block, Escalate};
    let args = value!({});
    let context = value!({});
    let call = request("any.tool", &args, &context, "tenant-a");
    let granted = |action: Option<Action>| match action {
        Some(Escalate) => Some(Allow),
        other => other,
    };
    let opinions = [None, Some(Allow), Some(Escalate), Some(Block)];
    for platform_action in opinions {
        for tenant_action in opinions {
            let platform = layer_policy("platform", platform_action);
            let tenant = layer_policy("tenant", tenant_action);
            let expected = decide(
                Some(&layer_policy("platform", granted(platform_action))),
                Some(&layer_policy("tenant", granted(tenant_action))),
                &call,
            );
            let approved = decide_approved(Some(&platform), Some(&tenant), &call);
            let case = format!("{platform_action:?} {tenant_action:?}");
            assert_eq!(
                (
                    approved.action,
                    approved.layer,
                    &approved.rule_id,
                    &approved.tenant_rule_id
                ),
                (
                    expected.action,
                    expected.layer,
                    &expected.rule_id,
                    &expected.tenant_rule_id
                ),
                "{case}"
            );
            assert_ne!(approved.action, Escalate, "{case}");
        }
    }
}

thread_local! {
    static ASKED: std::cell::RefCell<Vec<(Layer, Option<String>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn record(query: &authensor_policy::RateQuery) -> u64 {
    ASKED.with(|asked| {
        asked
            .borrow_mut()
            .push((query.layer, query.rule_id.map(str::to_owned)))
    });
    0
}

/// A `rate` condition asks for the counts of the layer holding it, so that
/// the host counts a tenant rule's calls by the tenant's own rule.
#[test]
fn a_rate_condition_asks_for_its_own_layer() {
    let limited = |id: &str| {
        policy(&format!(
            "rules:\n  - id: {id}\n    action: allow\n    when:\n      not:\n        rate: {{max: 5, per: 1m, scope: rule}}\n"
        ))
    };
    let (platform, tenant) = (limited("same"), limited("same"));
    let decision =
        authensor_policy::with_rate_counter(record, || run(Some(&platform), Some(&tenant)));
    assert_eq!(decision.tenant_rule_id.as_deref(), Some("same"));
    let asked = ASKED.with(|asked| asked.borrow().clone());
    assert_eq!(
        asked,
        vec![
            (Layer::Platform, Some("same".to_owned())),
            (Layer::Tenant, Some("same".to_owned())),
        ]
    );
}
