//! A rule's `approval:` block: the terms it gives an escalation, and the
//! combination of both layers' terms.

#[macro_use]
mod common;

use authensor_policy::{Action, ApprovalTerms, Decision, Layer, Policy, decide};
use common::{invalid, policy, request};

fn terms(required: u8, expires_seconds: Option<u32>) -> Option<ApprovalTerms> {
    Some(ApprovalTerms {
        required: required.try_into().unwrap(),
        expires_seconds: expires_seconds.map(|s| s.try_into().unwrap()),
        capped_by_ttl: false,
    })
}

/// Terms whose expiry is also capped by `authensor.approval_ttl`.
fn ttl_capped(required: u8, expires_seconds: u32) -> Option<ApprovalTerms> {
    terms(required, Some(expires_seconds)).map(|terms| ApprovalTerms {
        capped_by_ttl: true,
        ..terms
    })
}

fn run(platform: Option<&Policy>, tenant: Option<&Policy>, tool: &str) -> Decision {
    let (args, context) = (value!({}), value!({}));
    decide(
        platform,
        tenant,
        &request(tool, &args, &context, "tenant-a"),
    )
}

const TENANT: &str = "
rules:
  - id: payouts
    tool: payments.*
    action: escalate
    approval: {required: 2, expires: 30m}
  - id: email
    tool: email.send
    action: escalate
  - id: quick
    tool: deploy
    action: escalate
    approval:
      expires: 90
";

#[test]
fn the_deciding_rule_gives_its_terms() {
    let tenant = policy(TENANT);
    let decision = run(None, Some(&tenant), "payments.refund");
    assert_eq!(decision.action, Action::Escalate);
    assert_eq!(decision.approval, terms(2, Some(1_800)));
    assert_eq!(run(None, Some(&tenant), "email.send").approval, None);
    assert_eq!(
        run(None, Some(&tenant), "deploy").approval,
        terms(1, Some(90))
    );
}

#[test]
fn when_both_layers_escalate_the_approval_needs_what_either_asks() {
    let platform = policy(
        "rules:\n  - {tool: payments.*, action: escalate, approval: {required: 3, expires: 1h}}\n  - {tool: deploy, action: escalate}\n",
    );
    let tenant = policy(TENANT);
    let decision = run(Some(&platform), Some(&tenant), "payments.refund");
    assert_eq!(decision.layer, Layer::Platform);
    assert_eq!(decision.approval, terms(3, Some(1_800)));
    // The platform asks nothing particular: the tenant's terms stand, and
    // authensor.approval_ttl, which the platform's rule leaves the expiry
    // to, caps the tenant's.
    assert_eq!(
        run(Some(&platform), Some(&tenant), "deploy").approval,
        ttl_capped(1, 90)
    );
    // A tenant block wins over the platform's escalation, with no approval.
    let blocking = policy("rules:\n  - {tool: payments.*, action: block}\n");
    let decision = run(Some(&platform), Some(&blocking), "payments.refund");
    assert_eq!((decision.action, decision.approval), (Action::Block, None));
}

#[test]
fn neither_layer_lengthens_the_expiry_the_other_leaves_to_the_setting() {
    // The platform leaves its expiry to authensor.approval_ttl; a tenant's
    // week must not outlast it.
    let platform = policy("rules:\n  - {tool: deploy, action: escalate}\n");
    let tenant = policy("rules:\n  - {tool: deploy, action: escalate, approval: {expires: 7d}}\n");
    assert_eq!(
        run(Some(&platform), Some(&tenant), "deploy").approval,
        ttl_capped(1, 604_800)
    );
    // Nor the platform's week the tenant's setting-length expiry.
    let platform = policy(
        "rules:\n  - {tool: deploy, action: escalate, approval: {required: 2, expires: 7d}}\n",
    );
    let tenant = policy("rules:\n  - {tool: deploy, action: escalate}\n");
    assert_eq!(
        run(Some(&platform), Some(&tenant), "deploy").approval,
        ttl_capped(2, 604_800)
    );
    // A platform escalation the tenant allows keeps the platform's own terms.
    let allowing = policy("rules:\n  - {tool: deploy, action: allow}\n");
    assert_eq!(
        run(Some(&platform), Some(&allowing), "deploy").approval,
        terms(2, Some(604_800))
    );
    // Both explicit: the shorter, with nothing left to the setting.
    let tenant = policy("rules:\n  - {tool: deploy, action: escalate, approval: {expires: 1d}}\n");
    assert_eq!(
        run(Some(&platform), Some(&tenant), "deploy").approval,
        terms(2, Some(86_400))
    );
}

#[test]
fn approval_terms_are_checked() {
    for (source, message) in [
        (
            "rules:\n  - {action: allow, approval: {required: 2}}\n",
            "only an escalate rule takes an approval",
        ),
        (
            "rules:\n  - {action: escalate, approval: {required: 0}}\n",
            "approval.required must be a whole number from 1 to 16",
        ),
        (
            "rules:\n  - {action: escalate, approval: {required: 1.5}}\n",
            "approval.required must be a whole number",
        ),
        (
            "rules:\n  - {action: escalate, approval: {expires: 30 minutes}}\n",
            "is not a duration",
        ),
        (
            "rules:\n  - {action: escalate, approval: {expires: 8d}}\n",
            "approval.expires must be from 1s to 7d",
        ),
        (
            "rules:\n  - {action: escalate, approval: {quorum: 2}}\n",
            "quorum",
        ),
        (
            "rules:\n  - {action: escalate, approval: 2}\n",
            "expected an approval mapping",
        ),
    ] {
        let error = invalid(source);
        assert!(error.to_string().contains(message), "{source}: {error}");
    }
}
