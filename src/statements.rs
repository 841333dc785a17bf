//! Statement decisions: every statement a session of an agent role runs is
//! decided before it runs, as a tool call, with the decision every other
//! tool call gets (evaluate.rs), and leaves a receipt.
//!
//! An agent role is a member of `authensor_agent` whose sessions load the
//! library (`ALTER ROLE … SET session_preload_libraries = 'authensor'`). The
//! hooks (pg/hooks.rs) report what parse analysis shows of a statement, then
//! each plan the executor starts and each utility statement; here these
//! become a tool (`sql.select`, `sql.update`, `sql.ddl` …) and args (`tables`,
//! `writes`, `columns`, `has_where`, `functions`, `command`, `statement`).
//! A block raises 42501 with the rule's reason; the receipt, written in the
//! refused statement's transaction, is written again when it rolls back
//! (receipts/held.rs), so that it survives the refusal.
//!
//! What authensor runs itself is never decided: the decision sets a flag
//! (`own_work`) around its work, and the statements of the extension's
//! SECURITY DEFINER functions run as authensor_definer, a role no one can
//! log in as or be made a member of.

use crate::api_keys;
use crate::approvals;
use crate::errors::raise;
use crate::evaluate;
use crate::gucs::MAX_ARGS_BYTES;
use crate::lru::Recent;
use crate::pg::backend;
use crate::pg::hooks::{self, StatementHooks};
use crate::pg::inval::{self, SysCacheIdentifier};
use crate::pg::jsonb::{JsonbArg, JsonbCopy};
use crate::pg::security_context::AsRole;
use crate::pg::statement::{self, Analysed, Planned, Utility};
use crate::pg::{Oid, catalog, guc, roles};
use crate::receipts;
use crate::tenant;
use authensor_policy::{Action, Value};
use pgrx::JsonB;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::rc::Rc;

/// The role whose members' statements are decided.
pub const AGENT_ROLE: &CStr = c"authensor_agent";

/// The tool of a function called outside any statement's decision.
const FUNCTION_TOOL: &str = "sql.function";

/// The role the extension's SECURITY DEFINER functions run as.
const DEFINER_ROLE: &CStr = c"authensor_definer";

/// Statements whose analysis is remembered: at least this many of those most
/// recently analysed or run (see `analysed` for what forgetting does).
const ANALYSED_ENTRIES: usize = 4096;

/// Plans whose tool calls are kept: at least this many of those most
/// recently run.
const CALLS_ENTRIES: usize = 1024;

static HOOKS: StatementHooks = StatementHooks {
    known_inactive,
    active,
    analysed,
    executing,
    utility,
    function_prepared,
    rewritten_by_rule,
};

thread_local! {
    /// The session user, and whether it is an agent; forgotten when role
    /// memberships change.
    static AGENT: Cell<Option<(Oid, bool)>> = const { Cell::new(None) };
    /// Depth of authensor's own work in progress.
    static OWN_WORK: Cell<u32> = const { Cell::new(0) };
    /// What parse analysis showed of each statement, by query id.
    static ANALYSED: RefCell<Recent<u64, Analysed>> = RefCell::new(Recent::new(ANALYSED_ENTRIES));
    /// Each plan's tool call, by query id, with the plan's shape it was built
    /// from.
    static CALLS: RefCell<Recent<u64, PlanCalls>> = RefCell::new(Recent::new(CALLS_ENTRIES));
    /// Set when a relation, function or schema changed since CALLS was last
    /// read: a call built since may name it as it was.
    static CALLS_STALE: Cell<bool> = const { Cell::new(false) };
    /// The context of every statement decision: `{}`.
    static EMPTY_CONTEXT: (JsonbCopy, Value) = {
        let call = Call::new(String::new(), serde_json::json!({}), true);
        (call.args, call.value)
    };
}

/// Installs the hooks and the callbacks that keep the agent check current.
/// Called once per backend from `_PG_init`.
pub fn init() {
    hooks::install(&HOOKS);
    inval::on_syscache_invalidation(SysCacheIdentifier::AUTHMEMMEMROLE, forget_agent);
    inval::on_syscache_invalidation(SysCacheIdentifier::AUTHOID, forget_agent);
    // A call names relations, columns, functions and schemas: renaming or
    // dropping any of them makes it stale.
    inval::on_relcache_invalidation(|_| forget_calls());
    inval::on_syscache_invalidation(SysCacheIdentifier::PROCOID, forget_calls);
    inval::on_syscache_invalidation(SysCacheIdentifier::NAMESPACEOID, forget_calls);
}

fn forget_agent() {
    AGENT.set(None);
}

/// Runs inside invalidation processing: only sets a flag, which the next
/// lookup honours (see `executing`).
fn forget_calls() {
    CALLS_STALE.set(true);
}

/// Runs `f` as authensor's own work: no statement it runs is decided.
pub fn own_work<R>(f: impl FnOnce() -> R) -> R {
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            OWN_WORK.set(OWN_WORK.get().saturating_sub(1));
        }
    }
    OWN_WORK.set(OWN_WORK.get() + 1);
    let _depth = Depth;
    f()
}

/// Runs `f` as the extension's SECURITY DEFINER functions run: as
/// authensor_definer, and as authensor's own work.
pub fn as_extension<R>(f: impl FnOnce() -> R) -> R {
    own_work(|| {
        let _definer = AsRole::switch(DEFINER_ROLE);
        f()
    })
}

/// Whether the session user is known not to be an agent: the cached answer
/// for the same user, without a lookup. Reads a thread-local and a
/// backend-global only.
fn known_inactive() -> bool {
    matches!(AGENT.get(), Some((user, false)) if user == roles::session_user())
}

/// Whether the statement about to run is an agent's to decide. In an
/// aborted transaction, where only ROLLBACK (analysed, never decided) may
/// run, nothing is: the catalogues cannot be read there.
fn active() -> bool {
    OWN_WORK.get() == 0
        && is_agent()
        && hooks::in_valid_transaction()
        && !roles::current_user_is(DEFINER_ROLE)
}

/// Whether the session user is a member of authensor_agent: looked up once,
/// and again only after a change to roles or memberships.
pub fn is_agent() -> bool {
    let user = roles::session_user();
    match AGENT.get() {
        Some((cached, agent)) if cached == user => agent,
        // Nothing can be looked up in an aborted transaction; no statement
        // but transaction control runs there.
        _ if !hooks::in_valid_transaction() => false,
        _ => {
            let agent = roles::session_user_is_member_of(AGENT_ROLE);
            AGENT.set(Some((user, agent)));
            agent
        }
    }
}

/// Remembers what parse analysis showed of a statement. When that makes the
/// map forget older statements, every cached plan of the session is marked
/// for parse analysis again before its next run (as DISCARD PLANS does), so
/// that no prepared statement or PL/pgSQL plan runs with its analysis
/// forgotten: analysing it again remembers it again, under a new id. Only
/// flags change, so this is safe in the middle of parse analysis, even of a
/// cached plan's own statement.
///
/// Refused here, because its text would not say what it does: a statement
/// parsed with standard_conforming_strings off (whose text a person
/// approving it reads as standard SQL: `'\' -- '` is one string there, a
/// comment here), transform_null_equals on (`x = NULL` holds) or
/// array_nulls off. The date and time settings it was parsed with, which
/// decide how its literals read, are kept among its args.
fn analysed(query_id: u64, mut analysed: Analysed) {
    if !statement::standard_strings() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an agent's statements must be parsed with standard_conforming_strings on",
            Some(
                "SET standard_conforming_strings = on: with it off, a statement's text reads differently to the people who approve it than it ran.",
            ),
        )
    }
    for (setting, reads_as_written) in [(c"transform_null_equals", "off"), (c"array_nulls", "on")] {
        if guc::value(setting) != reads_as_written {
            raise(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!(
                    "an agent's statements must be parsed with {} = {reads_as_written}",
                    setting.to_string_lossy()
                ),
                Some(
                    "Otherwise a statement's text reads differently to the people who approve it than it ran.",
                ),
            )
        }
    }
    analysed.settings = [
        c"DateStyle",
        c"IntervalStyle",
        c"TimeZone",
        c"timezone_abbreviations",
    ]
    .into_iter()
    .map(|setting| {
        let value = guc::value(setting);
        (setting.to_string_lossy().into_owned(), value)
    })
    .collect();
    if ANALYSED.with(|cell| cell.borrow_mut().insert(query_id, analysed)) {
        hooks::forget_cached_plans();
    }
}

/// The tool calls of a plan (the statement's, then its data-modifying
/// CTEs'), with the plan's shape and the settings they were built from.
type PlanCalls = (Planned, Vec<(String, String)>, Rc<Vec<Call>>);

/// A statement as a tool call: what a decision takes, built once per plan.
struct Call {
    tool: String,
    /// The args as jsonb, stored in the receipt, and as the policy core
    /// reads them.
    args: JsonbCopy,
    value: Value,
    /// May run before the transaction has a tenant, undecided: reads and
    /// writes nothing outside the session (see `decide`).
    runs_without_tenant: bool,
    /// An approval of it would bind what runs: false for a function call
    /// (decided before its arguments are known) and for a statement without
    /// text (a BEGIN ATOMIC function's).
    approvable: bool,
}

impl Call {
    fn new(tool: String, args: serde_json::Value, runs_without_tenant: bool) -> Call {
        let approvable = tool != FUNCTION_TOOL
            && args["statement"]
                .as_str()
                .is_none_or(|text| !text.is_empty());
        let arg = JsonbArg::from_value(JsonB(args));
        Call {
            approvable,
            tool,
            args: arg.copy(),
            value: arg.object().unwrap_or_default(),
            runs_without_tenant,
        }
    }
}

/// Decides a plan the executor is about to run. Its relations and written
/// columns come from the plan itself (views expanded, so a view's tables
/// count; partitions counted as their table); its WHERE clause and functions
/// from parse analysis. A plan whose analysis is no longer remembered counts
/// as having no WHERE clause and no functions.
///
/// A data-modifying CTE (`WITH d AS (DELETE FROM t RETURNING *) SELECT …`)
/// is a statement of its own, decided after the statement that holds it,
/// with args of its own.
///
/// The calls are built once per plan (a prepared statement's runs share
/// them) and kept until a relation, function or schema changes.
///
/// A statement with bind parameters has their values among its args
/// (`parameters`), so that an approval of it is an approval of those
/// values: its calls are built for each run.
fn executing(mut planned: Planned) -> Vec<Oid> {
    // Row-level security keeps tenants apart; read as a role exempt from it
    // (a view's or a SECURITY DEFINER function's owner that is a superuser,
    // or the table's owner), a protected table would show every tenant's
    // rows.
    if let Some((relation, role)) = planned.read_bypassing_rls {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "an agent's statement would read {} as role \"{}\", which row-level security does not apply to",
                statement::relation_name(relation).unwrap_or_default(),
                roles::role_name(role)
            ),
            Some(
                "A view or SECURITY DEFINER function owned by a superuser, a BYPASSRLS role or the table's owner reads every tenant's rows: give it an owner without those rights, or make the view security_invoker.",
            ),
        )
    }
    // A plan's analysis stays among the most recently used while it runs.
    // The calls kept for the plan were built from an analysis with the same
    // settings: the same text analysed again under others (its query id
    // the same, with compute_query_id on) reads differently.
    let (named, settings) = ANALYSED.with(|cell| {
        cell.borrow_mut()
            .get(&planned.query_id)
            .map(|analysed| (analysed.functions.clone(), analysed.settings.clone()))
            .unwrap_or_default()
    });
    let parameters = std::mem::take(&mut planned.parameters);
    if !parameters.is_empty() {
        for call in statement_calls(&planned, &parameters) {
            decide(&call);
        }
        return named;
    }
    let cached = CALLS.with(|cell| {
        let mut calls = cell.borrow_mut();
        if CALLS_STALE.replace(false) {
            calls.clear();
        }
        calls
            .get(&planned.query_id)
            .filter(|(shape, read_with, _)| *shape == planned && *read_with == settings)
            .map(|(_, _, call)| Rc::clone(call))
    });
    let calls = cached.unwrap_or_else(|| {
        let calls = Rc::new(statement_calls(&planned, &[]));
        CALLS.with(|cell| {
            cell.borrow_mut()
                .insert(planned.query_id, (planned, settings, Rc::clone(&calls)))
        });
        calls
    });
    for call in calls.iter() {
        decide(call);
    }
    named
}

fn statement_calls(planned: &Planned, parameters: &[(i32, Option<String>)]) -> Vec<Call> {
    let analysed = ANALYSED
        .with(|cell| cell.borrow_mut().get(&planned.query_id).cloned())
        .unwrap_or_default();
    let mut relations = planned.relations.clone();
    relations.extend(&analysed.relations);
    statement::sort_oids(&mut relations);
    let functions = analysed.functions.clone();
    let mut calls = vec![dml_call(
        &analysed,
        planned,
        parameters,
        Dml {
            command: planned.command,
            relations: &relations,
            writes: &planned.writes,
            columns: &planned.columns,
            has_where: analysed.has_where,
            merge_actions: &analysed.merge_actions,
            functions: &functions,
        },
    )];
    for nested in &analysed.nested_writes {
        let columns: Vec<(Oid, i16)> = nested
            .columns
            .iter()
            .map(|attnum| (nested.target, *attnum))
            .collect();
        calls.push(dml_call(
            &analysed,
            planned,
            parameters,
            Dml {
                command: nested.command,
                relations: &nested.relations,
                writes: &[nested.target],
                columns: &columns,
                has_where: nested.has_where,
                merge_actions: &[],
                functions: &functions,
            },
        ));
    }
    calls
}

/// What one statement of a plan (the plan's own, or a data-modifying CTE's)
/// does.
struct Dml<'a> {
    command: statement::Command,
    relations: &'a [Oid],
    writes: &'a [Oid],
    columns: &'a [(Oid, i16)],
    has_where: bool,
    merge_actions: &'a [statement::Command],
    /// The whole statement's.
    functions: &'a [Oid],
}

/// The tool call of `dml`, a statement of `planned`, whose functions, text
/// and bind parameters' values are the whole statement's.
fn dml_call(
    analysed: &Analysed,
    planned: &Planned,
    parameters: &[(i32, Option<String>)],
    dml: Dml,
) -> Call {
    let mut args = serde_json::json!({
        "command": dml.command.tag(),
        "tables": names(dml.relations, statement::relation_name),
        "writes": names(dml.writes, statement::relation_name),
        "columns": dml
            .columns
            .iter()
            .filter_map(|(relation, attnum)| statement::column_name(*relation, *attnum))
            .collect::<Vec<_>>(),
        "functions": names(dml.functions, statement::function_name),
        "statement": normalise(&planned.text),
    });
    if matches!(
        dml.command,
        statement::Command::Update | statement::Command::Delete
    ) {
        args["has_where"] = dml.has_where.into();
    }
    if !analysed.settings.is_empty() {
        args["settings"] = analysed
            .settings
            .iter()
            .map(|(name, value)| (name.clone(), value.clone().into()))
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    if dml.command == statement::Command::Merge {
        args["actions"] = dml
            .merge_actions
            .iter()
            .map(|command| command.tag())
            .collect::<Vec<_>>()
            .into();
    }
    if !parameters.is_empty() {
        args["parameters"] = parameters
            .iter()
            .map(|(number, value)| {
                let value = value
                    .as_deref()
                    .map(|value| api_keys::hide_keys(value).into_owned());
                (format!("${number}"), value.into())
            })
            .collect::<serde_json::Map<_, _>>()
            .into();
    }
    // authenticate() itself, or SELECT 1: no relation, and no VOLATILE
    // function but authensor's (setval(), pg_notify() or lo_create() reach
    // beyond the session).
    let runs_without_tenant = dml.relations.is_empty()
        && !dml
            .functions
            .iter()
            .any(|function| changes_things(*function));
    Call::new(tool_of(dml.command), args, runs_without_tenant)
}

fn tool_of(command: statement::Command) -> String {
    format!("sql.{}", command.tag().to_lowercase())
}

/// Decides a utility statement: `sql.copy` for COPY of a table, `sql.ddl`
/// for what log_statement = 'ddl' logs, `sql.utility` for the rest.
fn utility(utility: Utility) {
    if utility.truncates_hidden_rows {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "an agent may not TRUNCATE a table under row-level security, nor with CASCADE: TRUNCATE empties every tenant's rows",
            Some("Delete the tenant's rows with DELETE, which row-level security keeps to them."),
        )
    }
    // An agent's role settings are its governance: a role bound to a tenant
    // could name another (ALTER ROLE … SET authensor.tenant_id), and agents
    // sharing a login role would change each other's sessions.
    if utility.manages_roles {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "an agent may not create, change or grant roles, nor change role or database settings ({})",
                utility.tag
            ),
            Some("Roles and their settings are the operator's."),
        )
    }
    // A temporary object outlives the transaction, and is found before any
    // schema's by the session's later statements: behind a pooler, the next
    // transaction on the connection may be another tenant's, whose rows
    // would land in it.
    if utility.creates_lasting_temporary && tenant::agent_session_tenant().is_none() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "an agent that authenticates with keys may not create temporary objects that outlive the transaction, nor alter temporary sequences",
            Some(
                "Create temporary tables ON COMMIT DROP; another tenant's transaction may be the next on this connection.",
            ),
        )
    }
    // FETCH and MOVE read the rows of a cursor's query: they are decided as
    // that query again, so that a rule published since the cursor was
    // declared stops it.
    if let Some(cursor) = utility.cursor {
        executing(cursor);
        return;
    }
    let (tool, tables, writes) = match utility.copy {
        Some((relation, is_from)) => {
            let tables: Vec<String> = relation
                .and_then(statement::relation_name)
                .into_iter()
                .collect();
            let writes = if is_from { tables.clone() } else { Vec::new() };
            ("sql.copy", tables, writes)
        }
        None if utility.is_ddl => ("sql.ddl", Vec::new(), Vec::new()),
        None => ("sql.utility", Vec::new(), Vec::new()),
    };
    let args = serde_json::json!({
        "command": utility.tag,
        "tables": tables,
        "writes": writes,
        "statement": normalise(&utility.text),
    });
    decide(&Call::new(
        tool.to_owned(),
        args,
        utility.runs_without_tenant,
    ));
}

/// Refuses a query that a rule (CREATE RULE) made of an agent's statement,
/// reached directly or through a view: the rule makes the statement do
/// something its text does not say, and can be changed after an approval
/// of it.
fn rewritten_by_rule() {
    raise(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "an agent's statement may not be rewritten by a rule: it would do something other than its text says",
        Some(
            "Write the tables the rule writes directly, or have the operator replace the rule with a trigger.",
        ),
    )
}

/// Whether `function` may change something beyond the statement: VOLATILE,
/// and neither authensor's own nor a procedure (whose CALL is decided).
fn changes_things(function: Oid) -> bool {
    catalog::function_is_volatile(function)
        && !catalog::function_is_procedure(function)
        && !catalog::function_in_schema(function, c"authensor")
}

/// Decides a VOLATILE function prepared for a call outside any statement's
/// plan, where no statement decision saw it: in a PL/pgSQL expression (`x :=
/// setval(…)`, prepared once per transaction), as an argument of EXECUTE or
/// CALL, or for the protocol's fast-path function call (libpq's PQfn, and
/// its large-object functions). Its tool is `sql.function`. Functions that
/// change nothing (see `changes_things`) are left out.
fn function_prepared(function: Oid) {
    if !changes_things(function) {
        return;
    }
    let Some(name) = statement::function_name(function) else {
        return;
    };
    let args = serde_json::json!({
        "command": "FUNCTION CALL",
        "tables": [],
        "writes": [],
        "functions": [name],
        "statement": normalise(&statement::running_text()),
    });
    decide(&Call::new(FUNCTION_TOOL.to_owned(), args, false));
}

/// Decides `call` for the session's tenant, writes the receipt, and raises
/// if the statement may not run.
///
/// Without a tenant (before authenticate() in the transaction) there is
/// nothing to decide for: a statement that reaches nothing outside the
/// session (authenticate() itself, SET, SHOW, PREPARE) runs, and leaves no
/// receipt; any other is refused.
fn decide(call: &Call) {
    let tool = call.tool.as_str();
    if catalog::relation_oid(c"authensor", c"receipts").is_none() {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "authensor is not installed in this database: an agent's statements ({tool}) cannot be decided here"
            ),
            Some(
                "Install it here (CREATE EXTENSION authensor), or keep agent roles out of this database (REVOKE CONNECT, or pg_hba.conf).",
            ),
        )
    }
    let tenant = tenant::current_tenant();
    if tenant.is_none() && call.runs_without_tenant {
        return;
    }
    if hooks::in_parallel_mode() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("an agent's statement ({tool}) inside a parallel query cannot be decided"),
            Some(
                "A function that runs statements is called from a parallel plan; mark it PARALLEL UNSAFE.",
            ),
        )
    }
    let Some(tenant_id) = tenant else {
        // A WITH HOLD cursor's rows outlive its transaction, and with it the
        // tenant they were read for (tenant.rs reads none inside one).
        if backend::in_holdable_cursor() {
            raise(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("an agent may not declare a WITH HOLD cursor over a relation ({tool})"),
                Some(
                    "Declare the cursor without HOLD, and read it within the transaction bound to the tenant.",
                ),
            )
        }
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!("an agent's statement ({tool}) needs a tenant, and none is set"),
            Some(
                "Call authensor.authenticate(api_key) in the transaction first (BEGIN; SELECT authensor.authenticate(...); ...).",
            ),
        )
    };
    // Row-level security keeps tenants apart; a role that bypasses it, which
    // an agent may be able to SET ROLE to, would read every tenant's rows.
    if roles::outer_user_bypasses_rls() {
        raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "an agent may not run statements as a role that bypasses row-level security ({tool} as \"{}\")",
                roles::outer_user_name()
            ),
            Some(
                "RESET ROLE; the operator should not make agent roles members of BYPASSRLS roles.",
            ),
        )
    }
    if !backend::database_is_utf8() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "an agent's statement ({tool}) cannot be decided in a database whose encoding is not UTF8"
            ),
            Some(
                "Statement decisions compare statements' text as UTF-8; create the application's database with ENCODING 'UTF8'.",
            ),
        )
    }
    let limit = MAX_ARGS_BYTES.get().max(1) as usize;
    if call.args.size() > limit {
        raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "an agent's statement ({tool}) is too large to decide: its args exceed authensor.max_args_bytes ({limit} bytes)"
            ),
            Some(
                "The statement's text and bind parameters' values are among its args; send a shorter statement, or have the operator raise authensor.max_args_bytes.",
            ),
        )
    }
    receipts::refuse_if_read_only("statement decisions");
    // The receipt, and the approval an escalation consumes, are written with
    // authensor_definer's rights, as the extension's functions write them.
    let (outcome, approved) = as_extension(|| {
        let args = call.args.to_arg();
        let context = EMPTY_CONTEXT.with(|(copy, value)| (copy.to_arg(), value.clone()));
        let outcome = evaluate::decide_for(
            tenant_id,
            tool,
            &call.value,
            &context.1,
            Some((args, context.0)),
            evaluate::Caller::Statement,
        );
        // An escalated statement with an approval runs as that approval's
        // call, decided again with the escalation granted.
        let approved = (outcome.decision.action == Action::Escalate && call.approvable)
            .then(|| approvals::run_for_statement(&outcome.tenant_id, tool, args))
            .flatten();
        (outcome, approved)
    });
    let outcome = approved.unwrap_or(outcome);
    let receipt = outcome
        .receipt_id
        .map(|id| id.to_string())
        .unwrap_or_default();
    match outcome.decision.action {
        Action::Allow => {}
        Action::Block => raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "authensor blocked this statement ({tool}): {}",
                outcome.decision.reason
            ),
            Some(&format!("The decision's receipt is {receipt}.")),
        ),
        Action::Escalate => raise(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "authensor escalated this statement ({tool}): {}",
                outcome.decision.reason
            ),
            Some(&if !call.approvable {
                format!(
                    "Receipt {receipt}. No approval lets this run: a function call is decided before its arguments are known, and a statement of a BEGIN ATOMIC function has no text to bind."
                )
            } else {
                format!(
                    "An approval of receipt {receipt} opens when this session next commits (or ends); once it is approved, the same statement runs once."
                )
            }),
        ),
    }
}

/// Names of `oids`, sorted, without those dropped meanwhile.
fn names(oids: &[Oid], name: fn(Oid) -> Option<String>) -> Vec<String> {
    let mut names: Vec<String> = oids.iter().filter_map(|oid| name(*oid)).collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// A statement's text as receipts show it and approvals compare it: as sent,
/// without white space or semicolons at either end, and without API keys.
/// White space inside is kept: made one space, the line end of a `--` comment would show what
/// follows it as part of the comment (`WHERE id = 1 -- one row` then `OR
/// true` on the next line), and a literal's white space is its value.
fn normalise(text: &str) -> String {
    let text = text
        .trim()
        .trim_end_matches(|c: char| c == ';' || c.is_whitespace());
    api_keys::hide_keys(text).into_owned()
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
