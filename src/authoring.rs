//! Writing policies: validate_policy() and test_policy() say what publishing
//! would, without publishing.

use crate::cache;
use crate::errors::{raise, required};
use crate::gucs::policy_limits;
use crate::publish::{compile, platform_test_outcomes, tenant_test_outcomes};
use crate::store::LayerKind;
use crate::tenant::{current_tenant, refuse_agent, require_admin};
use authensor_policy::{PolicyError, Warning, compile_with_limits, lint};
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::json;

/// The errors publishing `source` would raise, and warnings about rules that
/// can never decide, which never stop a publish:
/// `{"valid", "errors": [{"sqlstate", "message", "path", "line", "column",
/// "hint"}], "warnings": [{"code", "path", "rule", "message"}]}`. A tenant
/// policy is compared with the platform policy in force. Reads nothing any
/// role could not read (the platform policy is visible to every tenant).
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn validate_policy(source: Option<&str>, layer: default!(Option<&str>, "'tenant'")) -> JsonB {
    let source = required(source, "validate_policy", "source");
    let layer = layer_argument("validate_policy", layer);
    JsonB(validation_report(source, layer))
}

/// What validate_policy() says of `source` as a policy of `layer`.
pub(crate) fn validation_report(source: &str, layer: LayerKind) -> serde_json::Value {
    match compile_with_limits(source, &policy_limits()) {
        Err(error) => json!({
            "valid": false,
            "errors": [error_json(&error)],
            "warnings": [],
        }),
        Ok(policy) => {
            let warnings = match layer {
                LayerKind::Tenant => {
                    let layers = cache::active_layers(&current_tenant().unwrap_or_default());
                    lint(
                        &policy,
                        layers.platform.as_ref().map(|active| &*active.policy),
                    )
                }
                LayerKind::Platform => lint(&policy, None),
            };
            json!({
                "valid": true,
                "errors": [],
                "warnings": warnings.iter().map(warning_json).collect::<Vec<_>>(),
            })
        }
    }
}

fn error_json(error: &PolicyError) -> serde_json::Value {
    json!({
        "sqlstate": error.kind.sqlstate(),
        "message": error.message,
        "path": error.path,
        "line": error.line,
        "column": error.column,
        "hint": error.hint,
    })
}

fn warning_json(warning: &Warning) -> serde_json::Value {
    json!({
        "code": warning.code.as_str(),
        "path": warning.path,
        "rule": warning.rule,
        "message": warning.message,
    })
}

/// Runs the `tests:` of `source` without publishing it: one row per test
/// case. A tenant policy (the default) is tested as the current tenant's,
/// under the platform policy in force, by those who may publish it; a
/// platform policy alone, by anyone but an agent.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx reads the column names from the tuple
fn test_policy(
    source: Option<&str>,
    layer: default!(Option<&str>, "'tenant'"),
) -> TableIterator<
    'static,
    (
        name!(test, i32),
        name!(tool, String),
        name!(expect, String),
        name!(expect_rule, Option<String>),
        name!(action, String),
        name!(decided_layer, String),
        name!(rule_id, Option<String>),
        name!(passed, bool),
    ),
> {
    let layer = layer_argument("test_policy", layer);
    let tenant_id = match layer {
        LayerKind::Tenant => Some(require_admin("test_policy")),
        LayerKind::Platform => {
            refuse_agent("test_policy");
            None
        }
    };
    let source = required(source, "test_policy", "source");
    let document = compile(source);
    let outcomes = match &tenant_id {
        Some(tenant_id) => tenant_test_outcomes(&document, tenant_id),
        None => platform_test_outcomes(&document),
    };
    let rows: Vec<_> = outcomes
        .iter()
        .map(|outcome| {
            let (case, decision) = (outcome.case, &outcome.decision);
            (
                i32::try_from(case.index).unwrap_or(i32::MAX),
                case.tool.clone(),
                case.expect.to_string(),
                case.rule.clone(),
                decision.action.to_string(),
                decision.layer.to_string(),
                decision.rule_id.clone(),
                outcome.passed(),
            )
        })
        .collect();
    TableIterator::new(rows)
}

/// `layer`: `tenant` or `platform`.
pub(crate) fn layer_argument(function: &str, layer: Option<&str>) -> LayerKind {
    match required(layer, function, "layer") {
        "tenant" => LayerKind::Tenant,
        "platform" => LayerKind::Platform,
        other => raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("authensor.{function}(): unknown layer {other:?}"),
            Some("The layer is 'tenant' or 'platform'."),
        ),
    }
}
