//! The tool call being decided.

use crate::value::Value;

/// The longest tool name a call may have, in bytes: the SQL functions refuse
/// longer ones.
pub const MAX_TOOL_BYTES: usize = 512;

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
