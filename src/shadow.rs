//! Shadow versions: a candidate version of a layer, published with
//! `shadow => true`, decided beside the active one on every decision that
//! writes a receipt, without changing its answer.
//!
//! The shadow decision is the policy core's decide() with each layer's
//! shadow version in place of its active one (a layer without a shadow keeps
//! its active version). It takes no rate lock and opens no approval: only the
//! real decision does. Its `rate` conditions count the receipts as the real
//! ones do. check() and explain() show the real decision only.
//!
//! A shadow never makes a decision fail: a shadow version whose source no
//! longer compiles, or whose `matches` would search a value over
//! authensor.max_match_bytes, is recorded as `shadow_action = 'error'` and
//! the real decision goes on. Cancels and timeouts still stop the call.

use crate::cache::{ActivePolicy, Layers, ShadowPolicy};
use crate::store::{self, LayerKind};
use crate::tenant::{refuse_agent, require_admin};
use authensor_policy::{Action, Decision, Layer, Policy, Request, with_rate_counter};
use pgrx::prelude::*;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// Set while the shadow decides, so that a refused `matches` search
    /// abandons the shadow decision instead of raising (gucs.rs).
    static DECIDING: Cell<bool> = const { Cell::new(false) };
}

/// The unwind that abandons a shadow decision, caught by shadow_decision(),
/// and the outcome it records. A plain Rust unwind, never a PostgreSQL ERROR:
/// nothing of PostgreSQL's state needs cleaning up after it.
struct Abandoned;

/// Whether the shadow is deciding: a refusal then abandons it instead.
pub(crate) fn deciding() -> bool {
    DECIDING.get()
}

/// Abandons the shadow decision under way ([`deciding`] must hold): its
/// receipt records that the shadow could not decide.
pub(crate) fn abandon() -> ! {
    panic::resume_unwind(Box::new(Abandoned))
}

/// A layer's shadow version if it has one, else its active version; `Err`
/// when its shadow version does not compile.
fn in_shadow<'l>(
    shadow: &'l Option<ShadowPolicy>,
    active: &'l Option<ActivePolicy>,
) -> Result<Option<&'l Policy>, Abandoned> {
    match shadow {
        Some(shadow) => shadow.policy.as_deref().map(Some).ok_or(Abandoned),
        None => Ok(active.as_ref().map(|version| &*version.policy)),
    }
}

/// The shadow decision, or `Err` when the shadow could not decide. Only the
/// unwind of [`abandon`] is caught: a raised ERROR (a cancel, an SPI failure
/// in a rate count) goes on to fail the call.
fn shadow_decision(layers: &Layers, request: &Request) -> Result<Decision, Abandoned> {
    let platform = in_shadow(&layers.platform_shadow, &layers.platform)?;
    let tenant = in_shadow(&layers.tenant_shadow, &layers.tenant)?;
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DECIDING.set(false);
        }
    }
    DECIDING.set(true);
    let _reset = Reset;
    panic::catch_unwind(AssertUnwindSafe(|| {
        with_rate_counter(crate::rate_limits::count, || {
            authensor_policy::decide(platform, tenant, request)
        })
    }))
    .map_err(|unwind| match unwind.downcast::<Abandoned>() {
        Ok(_) => Abandoned,
        Err(other) => panic::resume_unwind(other),
    })
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

/// What the shadow decided; `action` and `layer` `None` when it could not
/// decide (recorded as `shadow_action = 'error'`).
#[derive(Clone)]
pub(crate) struct ShadowDecision {
    pub action: Option<Action>,
    pub layer: Option<Layer>,
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
    let differs = match shadow_decision(layers, request) {
        Ok(shadow) => {
            let same = shadow.action == decision.action
                && shadow.layer == decision.layer
                && shadow.rule_id == decision.rule_id;
            (!same).then_some(ShadowDecision {
                action: Some(shadow.action),
                layer: Some(shadow.layer),
                rule_id: shadow.rule_id,
            })
        }
        Err(Abandoned) => Some(ShadowDecision {
            action: None,
            layer: None,
            rule_id: None,
        }),
    };
    Some(ShadowOutcome {
        platform_version: layers.platform_shadow.as_ref().map(|v| v.version),
        tenant_version: layers.tenant_shadow.as_ref().map(|v| v.version),
        differs,
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
