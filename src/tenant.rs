//! Where the tenant of a transaction comes from: the one place.
//!
//! Two sources, in this order:
//! 1. `authensor.authenticate(api_key)`: binds the key's tenant until the end
//!    of the current transaction (cleared by a transaction callback), so it
//!    works behind transaction-pooling poolers and cannot leak to the next
//!    transaction on the same connection.
//! 2. The setting `authensor.tenant_id`, honoured only when the role in effect
//!    (after SET ROLE, ignoring SECURITY DEFINER) has the privileges of
//!    `authensor_trusted`. Any role can assign the setting, since PostgreSQL
//!    offers no per-role control over a custom setting, but for an untrusted
//!    role the assignment changes nothing: it is ignored, not refused, so a
//!    stray `SET` cannot break an application that authenticates with keys.
//!    An agent session (statements.rs) runs SQL of its own, which could
//!    assign the setting: for it only the value the operator set on the role
//!    (`ALTER ROLE … SET authensor.tenant_id`) counts, read once per session,
//!    never one assigned in the session or its startup packet.

use crate::errors::raise;
use crate::gucs::TENANT_ID;
use crate::pg::backend::in_holdable_cursor;
use crate::pg::{SubTransactionId, roles, xact};
use pgrx::prelude::*;
use std::cell::RefCell;
use std::ffi::CStr;

/// The role whose members may choose the tenant through `authensor.tenant_id`.
pub const TRUSTED_ROLE: &CStr = c"authensor_trusted";

/// What an API key may do for its tenant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// The governed: decide, guard, consume approvals.
    Agent,
    /// Who governs a tenant: also publish and activate its policy, check,
    /// approve and reject, route alerts, and issue and revoke agent keys.
    Admin,
}

impl Scope {
    pub fn parse(value: &str) -> Option<Scope> {
        match value {
            "agent" => Some(Scope::Agent),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Agent => "agent",
            Scope::Admin => "admin",
        }
    }
}

/// A tenant bound by authenticate(), and the subtransaction that bound it,
/// so that rolling that subtransaction back undoes the binding.
struct Binding {
    tenant_id: String,
    scope: Scope,
    subtransaction: SubTransactionId,
}

thread_local! {
    /// Bindings of the current transaction, innermost last.
    static BINDINGS: RefCell<Vec<Binding>> = const { RefCell::new(Vec::new()) };
}

/// The tenant the current transaction acts for, or NULL when it has none.
/// Row-level security on every authensor table is keyed on this function.
///
/// Inside a WITH HOLD cursor it is always NULL: such a cursor keeps its rows
/// after the transaction ends, when the tenant that read them no longer
/// holds the connection.
#[pg_extern(stable, parallel_restricted)]
pub fn current_tenant() -> Option<String> {
    if in_holdable_cursor() {
        return None;
    }
    if let Some(tenant) = bound().map(|(tenant, _)| tenant) {
        return Some(tenant);
    }
    if crate::statements::is_agent() {
        return agent_session_tenant();
    }
    let requested = requested_tenant()?;
    if !caller_is_trusted() {
        return None;
    }
    validate_tenant_id(&requested);
    Some(requested)
}

/// The tenant, or an ERROR that says how to provide one.
pub fn require_tenant(function: &str) -> String {
    if let Some(tenant) = current_tenant() {
        return tenant;
    }
    if requested_tenant().is_some() && !in_holdable_cursor() {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!(
                "authensor.{function}() needs a tenant, and role \"{}\" may not choose one with authensor.tenant_id",
                caller_name()
            ),
            Some(
                "Call authensor.authenticate(api_key) in the transaction first, or have the operator GRANT authensor_trusted to this role.",
            ),
        )
    }
    raise(
        PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        format!("authensor.{function}() needs a tenant, and none is set"),
        Some(
            "Call authensor.authenticate(api_key) in the transaction first, or, as a member of authensor_trusted, SET LOCAL authensor.tenant_id = '<tenant>'.",
        ),
    )
}

/// The tenant, for a function that governs it: the transaction must act
/// with an admin key, or as a trusted role that chose the tenant. A
/// transaction bound to an agent key is refused, whatever its role.
pub fn require_admin(function: &str) -> String {
    let tenant = require_tenant(function);
    refuse_agent(function);
    tenant
}

/// Refuses `function` to a transaction bound to an agent key, and to an
/// agent's session (a member of authensor_agent) bound to no admin key, whose
/// tenant comes from its role: the governed never change their own
/// governance, nor approve their own escalations, even on a privileged
/// connection.
pub fn refuse_agent(function: &str) {
    let refused = match bound() {
        Some((_, scope)) => scope == Scope::Agent,
        None => crate::statements::is_agent(),
    };
    if !refused {
        return;
    }
    let how = if bound().is_some() {
        "with an agent key".to_owned()
    } else {
        format!("in the session of agent role \"{}\"", approver_name())
    };
    raise(
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("authensor.{function}() may not be called {how}"),
        Some(
            "Agents decide (evaluate, guard) and consume approvals. Policies, checks, approvals, alert routes and keys belong to an admin key or a member of authensor_trusted.",
        ),
    )
}

/// Binds `tenant_id` to the current transaction (after a verified API key),
/// until the transaction ends or the subtransaction that bound it rolls back.
pub fn bind_for_transaction(tenant_id: String, scope: Scope) {
    let subtransaction = xact::current_subtransaction();
    BINDINGS.with(|bindings| {
        bindings.borrow_mut().push(Binding {
            tenant_id,
            scope,
            subtransaction,
        })
    });
}

/// The tenant and scope bound by authenticate(), if any.
fn bound() -> Option<(String, Scope)> {
    BINDINGS.with(|bindings| {
        bindings
            .borrow()
            .last()
            .map(|binding| (binding.tenant_id.clone(), binding.scope))
    })
}

/// Raises unless `tenant_id` is an acceptable tenant id.
pub fn validate_tenant_id(tenant_id: &str) {
    if !authensor_policy::is_valid_tenant_id(tenant_id) {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "invalid tenant id",
            Some("A tenant id is 1 to 200 bytes of text without control characters."),
        )
    }
}

/// The role in effect for the caller: the session user or the role chosen
/// with SET ROLE, never the owner a SECURITY DEFINER function runs as.
pub fn caller_name() -> String {
    roles::outer_user_name()
}

/// Who approves, for counting approvers: the login role, which neither SET
/// ROLE nor a second key on the same connection changes.
pub fn approver_name() -> String {
    roles::session_user_name()
}

/// Registers the callbacks that forget bindings when a transaction ends or a
/// subtransaction rolls back. Called once per backend from `_PG_init`.
pub fn register_transaction_callback() {
    xact::on_transaction_end(on_transaction_end);
    xact::on_subtransaction_abort(on_subtransaction_abort);
}

fn on_transaction_end() {
    BINDINGS.with(|bindings| bindings.borrow_mut().clear());
    AGENT_TRANSACTION_TENANT.with(|tenant| tenant.borrow_mut().take());
}

thread_local! {
    /// The tenant an agent's transaction was first bound to, kept until the
    /// transaction ends, whatever rolls back meanwhile.
    static AGENT_TRANSACTION_TENANT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Claims the agent's transaction for `tenant_id`: false if it was already
/// bound to another, even in a savepoint since rolled back (what was decided
/// there, a PL/pgSQL expression once per transaction, was decided for that
/// tenant).
pub fn claim_agent_transaction(tenant_id: &str) -> bool {
    AGENT_TRANSACTION_TENANT.with(|tenant| {
        let mut tenant = tenant.borrow_mut();
        match tenant.as_deref() {
            Some(claimed) => claimed == tenant_id,
            None => {
                *tenant = Some(tenant_id.to_owned());
                true
            }
        }
    })
}

/// ROLLBACK TO SAVEPOINT undoes what the savepoint saw: bindings made in the
/// aborted subtransaction or in any it started (their ids are not smaller).
fn on_subtransaction_abort(aborted: SubTransactionId) {
    BINDINGS.with(|bindings| {
        bindings
            .borrow_mut()
            .retain(|binding| binding.subtransaction < aborted)
    });
}

thread_local! {
    /// The session user, and the tenant the operator set on it.
    static ROLE_TENANT: RefCell<Option<(crate::pg::Oid, Option<String>)>> = const { RefCell::new(None) };
}

/// The tenant an agent's session is bound to by its role, the same in every
/// transaction of the session: the role's `authensor.tenant_id`, for a member
/// of authensor_trusted. None for an agent that authenticates with keys,
/// whose transactions may each be another tenant's.
pub fn agent_session_tenant() -> Option<String> {
    agent_role_tenant().filter(|_| caller_is_trusted())
}

/// The tenant the operator set on the session user with `ALTER ROLE … SET
/// authensor.tenant_id` (for this database, or for all), read from the
/// catalogue once per session, as PostgreSQL applies role settings once, at
/// the start of a session.
fn agent_role_tenant() -> Option<String> {
    let user = roles::session_user();
    if let Some((cached, tenant)) = ROLE_TENANT.with(|cell| cell.borrow().clone())
        && cached == user
    {
        return tenant;
    }
    let tenant = crate::statements::own_work(|| {
        crate::plans::pinned(|| {
            Spi::get_one_with_args::<String>(
                "SELECT (SELECT substr(setting, length('authensor.tenant_id=') + 1)
                           FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) AS setting
                          WHERE s.setrole = $1
                            AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d
                                                       WHERE d.datname = pg_catalog.current_database()))
                            AND setting LIKE 'authensor.tenant!_id=%' ESCAPE '!'
                          ORDER BY s.setdatabase DESC
                          LIMIT 1)",
                &[user.into()],
            )
        })
    })
    .unwrap_or_else(|e| crate::errors::raise_spi("read the agent role's tenant", e))
    .filter(|tenant| !tenant.is_empty());
    if let Some(tenant) = &tenant {
        validate_tenant_id(tenant);
    }
    ROLE_TENANT.with(|cell| *cell.borrow_mut() = Some((user, tenant.clone())));
    tenant
}

/// The value of `authensor.tenant_id`, or `None` when unset or empty.
fn requested_tenant() -> Option<String> {
    let value = TENANT_ID.get()?.into_string().unwrap_or_default();
    (!value.is_empty()).then_some(value)
}

/// Whether the role in effect has the privileges of authensor_trusted
/// (superusers always do).
pub fn caller_is_trusted() -> bool {
    roles::outer_user_has_privs_of(TRUSTED_ROLE)
}
