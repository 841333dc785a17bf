//! explain(): a decision, and how each layer reached it, without a receipt.

use crate::errors::raise_spi;
use crate::evaluate::{Receipt, read_call};
use crate::pg::jsonb::JsonbArg;
use crate::tenant::caller_name;
use authensor_policy::{Check, Explanation, FieldState, LayerTrace, RuleTrace};
use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::{Value as Json, json};

/// The decision check() would give, and for each layer consulted every rule
/// the evaluation visited, in order: whether its tool matched and each
/// operator its condition evaluated, the last of which settled it. Writes no
/// receipt; the same callers as check(). The values of the call (a field's
/// value, an operand filled in from the context) are shown only to a role
/// that may read them in a receipt: one with SELECT on the `args` column of
/// authensor.receipts.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn explain(
    tool: Option<&str>,
    args: default!(Option<JsonbArg>, "'{}'"),
    context: default!(Option<JsonbArg>, "'{}'"),
) -> JsonB {
    let call = read_call("explain", tool, args, context, &Receipt::Skip);
    let (explanation, layers) = call.under_active_layers(authensor_policy::explain);
    let versions = json!({
        "platform": layers.platform.as_ref().map(|active| active.version),
        "tenant": layers.tenant.as_ref().map(|active| active.version),
    });
    JsonB(explanation_json(
        &explanation,
        versions,
        may_read_call_values(),
    ))
}

/// Whether the role in effect (not the function's owner) may read the
/// arguments of receipts.
fn may_read_call_values() -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.has_column_privilege($1, 'authensor.receipts', 'args', 'SELECT')",
        &[caller_name().into()],
    )
    .unwrap_or_else(|error| raise_spi("check who may read receipts", error))
    .unwrap_or(false)
}

fn explanation_json(explanation: &Explanation, versions: Json, show_values: bool) -> Json {
    let decision = &explanation.decision;
    let layers: Vec<Json> = explanation
        .layers
        .iter()
        .map(|layer| layer_json(layer, show_values))
        .collect();
    json!({
        "action": decision.action.as_str(),
        "reason": decision.reason,
        "layer": decision.layer.as_str(),
        "rule": decision.rule_id,
        "versions": versions,
        "valuesShown": show_values,
        "layers": layers,
    })
}

fn layer_json(layer: &LayerTrace, show_values: bool) -> Json {
    let visited: Vec<Json> = layer
        .visited
        .iter()
        .map(|rule| rule_json(rule, show_values))
        .collect();
    json!({
        "layer": layer.layer.as_str(),
        "rules": layer.rule_count,
        "default": layer.default.map(|action| action.as_str()),
        "visited": visited,
    })
}

fn rule_json(rule: &RuleTrace, show_values: bool) -> Json {
    let checks: Vec<Json> = rule
        .checks
        .iter()
        .map(|check| check_json(check, show_values))
        .collect();
    json!({
        "rule": rule.id,
        "action": rule.action.as_str(),
        "toolMatched": rule.tool_matched,
        "matched": rule.matched,
        "checks": checks,
    })
}

fn check_json(check: &Check, show_values: bool) -> Json {
    let (field, kind) = match check.field {
        FieldState::Missing => ("missing", None),
        FieldState::Present(kind) => ("present", Some(kind)),
        FieldState::OtherType(kind) => ("other type", Some(kind)),
        FieldState::Counted => ("counted", None),
    };
    let mut entry = json!({
        "path": check.path,
        "operator": check.operator,
        "operand": check.operand,
        "field": field,
        "type": kind,
        "held": check.held,
    });
    // What a rate condition counted is no value of the call.
    if show_values || check.field == FieldState::Counted {
        entry["value"] = check.value.clone().into();
        if let Some(filled) = &check.interpolated {
            entry["interpolated"] = filled.clone().into();
        }
    }
    entry
}
