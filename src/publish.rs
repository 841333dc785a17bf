//! Publishing and activating policy versions.

use crate::cache;
use crate::errors::{raise, raise_policy_error, required};
use crate::gucs::policy_limits;
use crate::pg::inval;
use crate::store::{self, LayerKind};
use crate::tenant::{caller_name, refuse_agent, require_admin};
use authensor_policy::{
    CompiledDocument, DEFAULT_TEST_TENANT, TestOutcome, UnderTest, compile_document_with_limits,
    run_tests,
};
use pgrx::prelude::*;

/// Validates `source` and stores it as the current tenant's next version,
/// which becomes active, or, with `shadow`, the tenant's shadow version
/// (shadow.rs). Returns the new version number.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn publish_policy(source: Option<&str>, shadow: default!(Option<bool>, false)) -> i32 {
    let tenant_id = require_admin("publish_policy");
    publish(
        LayerKind::Tenant,
        Some(&tenant_id),
        "publish_policy",
        source,
        shadow,
    )
}

/// Validates `source` and stores it as the platform's next version, which
/// becomes active for every tenant, or, with `shadow`, the platform's shadow
/// version, evaluated for every tenant. EXECUTE is revoked from PUBLIC.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn publish_platform_policy(source: Option<&str>, shadow: default!(Option<bool>, false)) -> i32 {
    refuse_agent("publish_platform_policy");
    publish(
        LayerKind::Platform,
        None,
        "publish_platform_policy",
        source,
        shadow,
    )
}

/// Makes an earlier (rollback) or later (roll-forward) version of the current
/// tenant's policy the active one. Activating the shadow version promotes it:
/// it is no longer a shadow.
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

/// Compiles `source` with the configured limits, or raises its error.
pub(crate) fn compile(source: &str) -> CompiledDocument {
    compile_document_with_limits(source, &policy_limits())
        .unwrap_or_else(|error| raise_policy_error(&error))
}

/// A tenant policy's tests, under the platform policy in force: nothing of
/// any other tenant is read.
pub(crate) fn tenant_test_outcomes<'d>(
    document: &'d CompiledDocument,
    tenant_id: &str,
) -> Vec<TestOutcome<'d>> {
    let platform = cache::active_layers(tenant_id).platform;
    let under_test = UnderTest::Tenant {
        policy: &document.policy,
        platform: platform.as_ref().map(|active| &*active.policy),
    };
    run_tests(&document.tests, under_test, tenant_id)
}

/// A platform policy's tests, decided by it alone.
pub(crate) fn platform_test_outcomes(document: &CompiledDocument) -> Vec<TestOutcome<'_>> {
    run_tests(
        &document.tests,
        UnderTest::Platform(&document.policy),
        DEFAULT_TEST_TENANT,
    )
}

fn publish(
    layer: LayerKind,
    tenant_id: Option<&str>,
    function: &str,
    source: Option<&str>,
    shadow: Option<bool>,
) -> i32 {
    let source = required(source, function, "source");
    let shadow = required(shadow, function, "shadow");
    // Validate and test fully before writing anything.
    let document = compile(source);
    let outcomes = match tenant_id {
        Some(tenant_id) => tenant_test_outcomes(&document, tenant_id),
        None => platform_test_outcomes(&document),
    };
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|outcome| !outcome.passed())
        .map(TestOutcome::to_string)
        .collect();
    if let Some(first) = failed.first() {
        raise(
            PgSqlErrorCode::ERRCODE_ASSERT_FAILURE,
            format!(
                "policy not published: {} of {} tests failed; {first}",
                failed.len(),
                outcomes.len()
            ),
            Some("authensor.test_policy(source) shows the decision of every test case."),
        )
    }
    let caller = caller_name();
    let version = store::insert_version(layer, tenant_id, source, &caller);
    match shadow {
        true => store::shadow_version(layer, tenant_id, version, &caller),
        false => store::activate_version(layer, tenant_id, version, &caller),
    }
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
