//! The tool call being decided.

use crate::value::Value;

/// The longest tool name a call may have, in bytes: the SQL functions refuse
/// longer ones.
pub const MAX_TOOL_BYTES: usize = 512;

/// The longest tenant id, in bytes.
pub const MAX_TENANT_ID_BYTES: usize = 200;

/// Whether a call can be made for `tenant_id`: 1 to [`MAX_TENANT_ID_BYTES`]
/// bytes without control characters, as the extension requires.
pub fn is_valid_tenant_id(tenant_id: &str) -> bool {
    !tenant_id.is_empty()
        && tenant_id.len() <= MAX_TENANT_ID_BYTES
        && !tenant_id.chars().any(char::is_control)
}

/// A tool call an agent wants to make, as seen by a policy.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Dot-separated tool name, such as `email.send`.
    pub tool: &'a str,
    /// The call's arguments, reached by `args.<path>`.
    pub args: &'a Value,
    /// Caller-supplied context, reached by `context.<path>`.
    pub context: &'a Value,
    /// The tenant making the call. `context.tenantId` always resolves to this,
    /// whatever `context` holds.
    pub tenant_id: &'a str,
}
