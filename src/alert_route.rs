//! Where a tenant's approvals and alerts are announced.

use crate::errors::{raise, raise_spi};
use crate::tenant::{caller_name, require_admin, require_tenant};
use pgrx::prelude::*;

/// Sets the current tenant's NOTIFY channel for approvals and alerts.
/// Members of authensor_trusted only, so an agent cannot divert its own
/// tenant's alerts. Returns the channel.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn set_alert_route(channel: Option<&str>) -> String {
    let tenant_id = require_admin("set_alert_route");
    let channel = match channel {
        Some(channel) if !channel.is_empty() && channel.len() <= 63 => channel,
        _ => raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "an alert channel is a NOTIFY channel name of 1 to 63 bytes",
            None,
        ),
    };
    Spi::run_with_args(
        "INSERT INTO authensor.tenant_settings (tenant_id, alert_channel, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE
            SET alert_channel = excluded.alert_channel, updated_at = clock_timestamp(), updated_by = excluded.updated_by",
        &[tenant_id.as_str().into(), channel.into(), caller_name().into()],
    )
    .unwrap_or_else(|e| raise_spi("set the alert route", e));
    channel.to_owned()
}

/// The current tenant's NOTIFY channel for approvals and alerts: the one set
/// with set_alert_route(), or a fixed default derived from the tenant id.
#[pg_extern(volatile, security_definer, parallel_restricted)]
#[search_path(pg_catalog, pg_temp)]
fn alert_route() -> String {
    let tenant_id = require_tenant("alert_route");
    Spi::get_one_with_args::<String>(
        "SELECT authensor.tenant_channel($1)",
        &[tenant_id.as_str().into()],
    )
    .unwrap_or_else(|e| raise_spi("read the alert route", e))
    .unwrap_or_default()
}
