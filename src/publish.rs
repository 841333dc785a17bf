//! Publishing and activating policy versions.

use crate::errors::{raise_policy_error, required};
use crate::gucs::policy_limits;
use crate::pg::inval;
use crate::store::{self, LayerKind};
use crate::tenant::{caller_name, refuse_agent, require_admin};
use pgrx::prelude::*;

/// Validates `source` and stores it as the current tenant's next version,
/// which becomes active. Returns the new version number.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn publish_policy(source: Option<&str>) -> i32 {
    let tenant_id = require_admin("publish_policy");
    publish(
        LayerKind::Tenant,
        Some(&tenant_id),
        "publish_policy",
        source,
    )
}

/// Validates `source` and stores it as the platform's next version, which
/// becomes active for every tenant. EXECUTE is revoked from PUBLIC.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn publish_platform_policy(source: Option<&str>) -> i32 {
    refuse_agent("publish_platform_policy");
    publish(LayerKind::Platform, None, "publish_platform_policy", source)
}

/// Makes an earlier (rollback) or later (roll-forward) version of the current
/// tenant's policy the active one.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn activate_policy(version: Option<i32>) -> i32 {
    let tenant_id = require_admin("activate_policy");
    activate(
        LayerKind::Tenant,
        Some(&tenant_id),
        "activate_policy",
        version,
    )
}

/// Makes another version of the platform policy the active one. EXECUTE is
/// revoked from PUBLIC.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn activate_platform_policy(version: Option<i32>) -> i32 {
    refuse_agent("activate_platform_policy");
    activate(
        LayerKind::Platform,
        None,
        "activate_platform_policy",
        version,
    )
}

fn publish(layer: LayerKind, tenant_id: Option<&str>, function: &str, source: Option<&str>) -> i32 {
    let source = required(source, function, "source");
    // Validate fully before writing anything.
    if let Err(error) = authensor_policy::compile_with_limits(source, &policy_limits()) {
        raise_policy_error(&error)
    }
    let caller = caller_name();
    let version = store::insert_version(layer, tenant_id, source, &caller);
    store::activate_version(layer, tenant_id, version, &caller);
    version
}

fn activate(
    layer: LayerKind,
    tenant_id: Option<&str>,
    function: &str,
    version: Option<i32>,
) -> i32 {
    let version = required(version, function, "version");
    store::activate_version(layer, tenant_id, version, &caller_name());
    version
}

/// Statement trigger on the policy tables: queue a relcache invalidation that
/// PostgreSQL broadcasts to every backend when this transaction commits.
#[pg_trigger]
fn policy_tables_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    inval::invalidate_relcache(trigger.relid()?);
    Ok(None)
}
