//! authensor: safety policies for multi-tenant AI agents, enforced inside
//! PostgreSQL. The policy language lives in the `authensor-policy` crate; this
//! crate is the database layer: SQL functions, settings, cache and storage.

use pgrx::prelude::*;

mod alert_route;
mod api_keys;
mod approvals;
mod authoring;
mod cache;
mod chain;
mod drop_guard;
mod errors;
mod evaluate;
mod explain;
mod gucs;
mod import;
mod lru;
mod pg;
mod plans;
mod publish;
mod rate_ledger;
mod rate_limits;
mod receipts;
mod sentinel;
mod shadow;
mod statements;
mod store;
mod tenant;

::pgrx::pg_module_magic!(name, version);

// sql/: the roles and what every feature needs first, then one file per
// feature, each after the functions its grants and comments name, and last
// the check on every SECURITY DEFINER function. The features load in a fixed
// order, which is also the order pg_extension.extconfig lists their tables in.
extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!(
    "../sql/policies.sql",
    name = "policies",
    requires = [
        tenant::current_tenant,
        publish::policy_tables_changed,
        publish::publish_policy,
        publish::publish_platform_policy,
        publish::activate_platform_policy,
        evaluate::evaluate,
        evaluate::check,
        evaluate::guard
    ]
);
extension_sql_file!(
    "../sql/receipts.sql",
    name = "receipts",
    requires = [tenant::current_tenant, "policies"]
);
extension_sql_file!(
    "../sql/keys.sql",
    name = "keys",
    requires = [
        tenant::current_tenant,
        "receipts",
        api_keys::authenticate,
        api_keys::create_api_key,
        api_keys::revoke_api_key,
        api_keys::create_agent_key,
        api_keys::revoke_agent_key
    ]
);
extension_sql_file!(
    "../sql/approvals.sql",
    name = "approvals",
    requires = [
        tenant::current_tenant,
        "receipts",
        "keys",
        approvals::approve,
        approvals::reject,
        approvals::consume_approval
    ]
);
extension_sql_file!(
    "../sql/sentinel.sql",
    name = "sentinel",
    requires = [
        tenant::current_tenant,
        "receipts",
        "approvals",
        sentinel::sentinel_scan
    ]
);
extension_sql_file!(
    "../sql/receipt_chain.sql",
    name = "receipt_chain",
    requires = [
        tenant::current_tenant,
        "receipts",
        "approvals",
        "sentinel",
        chain::seal::seal_receipts,
        chain::verify::verify_receipts,
        chain::verify::verify_all_receipts
    ]
);
extension_sql_file!(
    "../sql/retention.sql",
    name = "retention",
    requires = ["receipts", "receipt_chain"]
);
extension_sql_file!(
    "../sql/sql_agents.sql",
    name = "sql_agents",
    requires = [tenant::current_tenant, "retention"]
);
extension_sql_file!(
    "../sql/shadow.sql",
    name = "shadow",
    requires = [
        tenant::current_tenant,
        "receipts",
        "sql_agents",
        publish::policy_tables_changed,
        shadow::clear_shadow_policy,
        shadow::clear_platform_shadow_policy
    ]
);
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    pg::backend::hide_backtraces();
    sentinel::init(); // before gucs::init(), which reserves the prefix
    gucs::init();
    // Long compiles and decisions honour statement_timeout, pg_cancel_backend
    // and pg_terminate_backend: the policy core calls this as it works, and
    // the ERROR it may raise unwinds out of the core as a panic.
    authensor_policy::set_interrupt_check(check_for_interrupts);
    authensor_policy::set_match_guard(gucs::refuse_long_match);
    cache::register_invalidation_callback();
    tenant::register_transaction_callback();
    receipts::register_transaction_callbacks();
    statements::init();
    rate_limits::init();
    pg::shared_ledger::reserve_at_server_start();
}

/// CHECK_FOR_INTERRUPTS(): raises the ERROR of a pending cancel or timeout.
fn check_for_interrupts() {
    pgrx::check_for_interrupts!();
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
