//! The tenant the current transaction acts for.

use crate::errors::raise;
use crate::gucs::TENANT_ID;
use pgrx::prelude::*;

/// Longest tenant id accepted, in bytes.
const MAX_TENANT_ID_BYTES: usize = 200;

/// The tenant set with `authensor.tenant_id`, or `None` when unset or empty.
pub fn session_tenant() -> Option<String> {
    let value = TENANT_ID.get()?;
    let value = value.into_string().ok()?;
    (!value.is_empty()).then_some(value)
}

/// The tenant, or an ERROR naming the setting to use.
pub fn require_tenant(function: &str) -> String {
    let Some(tenant) = session_tenant() else {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!("authensor.{function}() needs a tenant, and authensor.tenant_id is not set"),
            Some("Run SET LOCAL authensor.tenant_id = '<tenant>' (or SELECT set_config('authensor.tenant_id', '<tenant>', true)) in the transaction first."),
        )
    };
    if tenant.len() > MAX_TENANT_ID_BYTES || tenant.chars().any(char::is_control) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "authensor.tenant_id is not a valid tenant id",
            Some("A tenant id is 1 to 200 bytes of text without control characters."),
        )
    }
    tenant
}
