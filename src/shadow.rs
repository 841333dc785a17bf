//! Shadow versions: a candidate version of a layer, published with
//! `shadow => true`, decided beside the active one on every decision that
//! writes a receipt, without changing its answer.
//!
//! The shadow decision is the policy core's decide() with each layer's
//! shadow version in place of its active one (a layer without a shadow keeps
//! its active version). It takes no rate lock and opens no approval: only the
//! real decision does. Its `rate` conditions count the receipts as the real
//! ones do. check() and explain() show the real decision only.

use crate::cache::{ActivePolicy, Layers};
use crate::store::{self, LayerKind};
use crate::tenant::{refuse_agent, require_admin};
use authensor_policy::{Action, Decision, Layer, Policy, Request, with_rate_counter};
use pgrx::prelude::*;

/// A layer's shadow version if it has one, else its active version.
fn in_shadow<'l>(
    shadow: &'l Option<ActivePolicy>,
    active: &'l Option<ActivePolicy>,
) -> Option<&'l Policy> {
    shadow
        .as_ref()
        .or(active.as_ref())
        .map(|version| &*version.policy)
}

/// What a receipt records of the shadow versions a decision was evaluated
/// under.
#[derive(Clone)]
pub(crate) struct ShadowOutcome {
    /// The shadow version of each layer that had one.
    pub platform_version: Option<i32>,
    pub tenant_version: Option<i32>,
    /// What the shadow decided, only when it is not what was decided.
    pub differs: Option<ShadowDecision>,
}

#[derive(Clone)]
pub(crate) struct ShadowDecision {
    pub action: Action,
    pub layer: Layer,
    pub rule_id: Option<String>,
}

/// The shadow decision on `request`, given the real `decision`, or `None`
/// when neither layer has a shadow version (at the cost of two checks).
#[inline]
pub(crate) fn decide_shadow(
    layers: &Layers,
    request: &Request,
    decision: &Decision,
) -> Option<ShadowOutcome> {
    if layers.platform_shadow.is_none() && layers.tenant_shadow.is_none() {
        return None;
    }
    let shadow = with_rate_counter(crate::rate_limits::count, || {
        authensor_policy::decide(
            in_shadow(&layers.platform_shadow, &layers.platform),
            in_shadow(&layers.tenant_shadow, &layers.tenant),
            request,
        )
    });
    let same = shadow.action == decision.action
        && shadow.layer == decision.layer
        && shadow.rule_id == decision.rule_id;
    Some(ShadowOutcome {
        platform_version: layers.platform_shadow.as_ref().map(|v| v.version),
        tenant_version: layers.tenant_shadow.as_ref().map(|v| v.version),
        differs: (!same).then_some(ShadowDecision {
            action: shadow.action,
            layer: shadow.layer,
            rule_id: shadow.rule_id,
        }),
    })
}

/// Stops evaluating the current tenant's shadow version without activating
/// it. Returns the version cleared, or NULL if there was none.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn clear_shadow_policy() -> Option<i32> {
    let tenant_id = require_admin("clear_shadow_policy");
    store::clear_shadow(LayerKind::Tenant, Some(&tenant_id))
}

/// The same for the platform's shadow version. EXECUTE is revoked from
/// PUBLIC.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn clear_platform_shadow_policy() -> Option<i32> {
    refuse_agent("clear_platform_shadow_policy");
    store::clear_shadow(LayerKind::Platform, None)
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
