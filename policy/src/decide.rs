//! The final decision across the platform and tenant policies.

use crate::action::Action;
use crate::approval::ApprovalTerms;
use crate::policy::{Policy, Verdict};
use crate::rate;
use crate::request::Request;
use crate::trace::{NoTrace, Tracer};

/// The policy layer credited with a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Platform,
    Tenant,
    /// Neither policy had an opinion, so the request was blocked.
    Default,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Platform => "platform",
            Layer::Tenant => "tenant",
            Layer::Default => "default",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final answer for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub layer: Layer,
    /// The deciding rule, or `None` when a policy default or the fail-closed
    /// default decided.
    pub rule_id: Option<String>,
    pub reason: String,
    /// What the approval of an escalation needs, from the deciding rule
    /// (`None`: one approver, expiry from `authensor.approval_ttl`).
    pub approval: Option<ApprovalTerms>,
    /// The rule that gave the tenant policy's own opinion, whenever the
    /// tenant policy was consulted, credited or not (a platform allow is
    /// credited on a tie): the calls a tenant rule's `rate` limit of
    /// `scope: rule` counts.
    pub tenant_rule_id: Option<String>,
}

impl Decision {
    /// What decided, in words: `platform rule "no-shell"`, `the tenant
    /// policy's default` or `the fail-closed default`.
    pub fn decided_by(&self) -> String {
        match (&self.rule_id, self.layer) {
            (Some(rule), layer) => format!("{layer} rule {rule:?}"),
            (None, Layer::Default) => "the fail-closed default".to_owned(),
            (None, layer) => format!("the {layer} policy's default"),
        }
    }
}

/// The reason given when neither layer has an opinion.
pub const FAIL_CLOSED_REASON: &str =
    "no rule matched in the platform or tenant policy and neither sets a default (fail-closed)";

/// Combines the platform and tenant policies.
///
/// A platform block is final and the tenant policy is not consulted. Otherwise
/// the more restrictive of the two opinions wins (block > escalate > allow), the
/// platform being credited on a tie. A missing policy, or one without an opinion,
/// abstains; when both abstain the request is blocked (fail-closed).
pub fn decide(platform: Option<&Policy>, tenant: Option<&Policy>, request: &Request) -> Decision {
    decide_traced(platform, tenant, request, NoTrace)
}

/// The decision for a call whose escalation an approval has granted, as it
/// is about to run: decided like [`decide`], each layer's `escalate` counting
/// as `allow` (a block still blocks, and a platform block is still final).
/// The layer and rule credited are those an `allow` of the escalating rule
/// would have had, so that `rate` limits count the call as it runs.
pub fn decide_approved(
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    request: &Request,
) -> Decision {
    combine(platform, tenant, request, NoTrace, Escalations::Granted)
}

/// Whether an escalating opinion stands, or an approval has granted it.
#[derive(Clone, Copy, PartialEq)]
enum Escalations {
    Stand,
    Granted,
}

/// [`decide()`], telling `tracer` each layer it consults and what it visits
/// there.
#[inline]
pub(crate) fn decide_traced<T: Tracer>(
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    request: &Request,
    tracer: T,
) -> Decision {
    combine(platform, tenant, request, tracer, Escalations::Stand)
}

#[inline]
fn combine<T: Tracer>(
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    request: &Request,
    tracer: T,
    escalations: Escalations,
) -> Decision {
    let consult = |layer, policy| {
        let mut verdict = consult(layer, policy, request, tracer)?;
        if escalations == Escalations::Granted && verdict.action == Action::Escalate {
            verdict.action = Action::Allow;
        }
        Some(verdict)
    };
    let platform_verdict = platform.and_then(|policy| consult(Layer::Platform, policy));
    if let Some(verdict) = platform_verdict.as_ref()
        && verdict.action == Action::Block
    {
        return decision(verdict, Layer::Platform);
    }
    let tenant_verdict = tenant.and_then(|policy| consult(Layer::Tenant, policy));
    let tenant_rule_id = tenant_verdict
        .as_ref()
        .and_then(|verdict| verdict.rule_id)
        .map(str::to_owned);
    let decision = match (platform_verdict, tenant_verdict) {
        (Some(platform), Some(tenant)) if tenant.action > platform.action => {
            decision(&tenant, Layer::Tenant)
        }
        // Both escalate: the platform is credited, and the approval needs
        // what either layer asks.
        (Some(platform), Some(tenant)) if tenant.action == Action::Escalate => Decision {
            approval: ApprovalTerms::stricter(platform.approval, tenant.approval),
            ..decision(&platform, Layer::Platform)
        },
        (Some(platform), _) => decision(&platform, Layer::Platform),
        (None, Some(tenant)) => decision(&tenant, Layer::Tenant),
        (None, None) => Decision {
            action: Action::Block,
            layer: Layer::Default,
            rule_id: None,
            reason: FAIL_CLOSED_REASON.to_owned(),
            approval: None,
            tenant_rule_id: None,
        },
    };
    Decision {
        tenant_rule_id,
        ..decision
    }
}

#[inline]
fn consult<'p, T: Tracer>(
    layer: Layer,
    policy: &'p Policy,
    request: &Request,
    tracer: T,
) -> Option<Verdict<'p>> {
    tracer.layer(layer, policy);
    rate::in_layer(layer, || policy.evaluate_traced(request, tracer))
}

fn decision(verdict: &Verdict, layer: Layer) -> Decision {
    Decision {
        action: verdict.action,
        layer,
        rule_id: verdict.rule_id.map(str::to_owned),
        reason: verdict.reason.clone().into_owned(),
        approval: verdict.approval,
        tenant_rule_id: None,
    }
}
