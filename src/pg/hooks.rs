//! The hooks through which an agent's statements are decided before they
//! run: post_parse_analyze_hook (what parse analysis shows: WHERE clauses,
//! functions), ExecutorStart_hook (every plan the executor starts: simple and
//! extended protocol, prepared statements, cursors, PL/pgSQL and SQL
//! functions' statements), ProcessUtility_hook (DDL, COPY and other utility
//! statements) and object_access_hook (functions prepared for a call outside
//! any plan: PL/pgSQL expressions, EXECUTE's and CALL's arguments, the
//! protocol's fast-path function call).
//!
//! Follows how contrib/pg_stat_statements installs and chains the same
//! hooks (_PG_init, pgss_post_parse_analyze, pgss_ExecutorStart,
//! pgss_ProcessUtility), checked against PostgreSQL 15, 16 and 18, whose
//! three hook signatures are the same. Each hook calls the one installed
//! before it (through pgrx's error boundary, as pgrx calls PostgreSQL's own
//! functions), or PostgreSQL's standard routine.

use super::Oid;
use super::statement::{self, Analysed, Planned, Utility};
use pgrx::pg_sys;
use pgrx::pg_sys::ffi::pg_guard_ffi_boundary;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the feature code does at each hook. The functions raise to refuse.
pub struct StatementHooks {
    /// True when the session is known, without a lookup, never to be
    /// decided (a cached "not an agent"): the hooks then only pass the
    /// statement on. Must not raise, panic or hold anything that needs
    /// dropping (see `on_executor_start`).
    pub known_inactive: fn() -> bool,
    /// Whether this session's statements are decided now. Called first at
    /// every hook, so it must be cheap for every other session.
    pub active: fn() -> bool,
    /// A statement was analysed and given `query_id`.
    pub analysed: fn(u64, Analysed),
    /// The executor is about to start a plan. Returns the functions the
    /// decision named (see `function_prepared`).
    pub executing: fn(Planned) -> Vec<Oid>,
    /// A utility statement is about to run (never transaction control,
    /// which must work in an aborted transaction).
    pub utility: fn(Utility),
    /// A function is being prepared for a call (execExpr.c ExecInitFunc,
    /// fastpath.c HandleFunctionRequest), one that no decision named:
    /// outside any plan, or in a plan through an operator, an aggregate, a
    /// default or an inlined SQL function, or by code a starting plan runs
    /// (partition pruning calls functions). Before it is called.
    pub function_prepared: fn(Oid),
    /// A query a rule made of the statement is about to be planned.
    pub rewritten_by_rule: fn(),
}

// Set once, by install(); PostgreSQL runs a backend on one thread.
static mut HOOKS: Option<&'static StatementHooks> = None;

static mut PREVIOUS_ANALYZE: pg_sys::post_parse_analyze_hook_type = None;
static mut PREVIOUS_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREVIOUS_UTILITY: pg_sys::ProcessUtility_hook_type = None;
static mut PREVIOUS_OBJECT_ACCESS: pg_sys::object_access_hook_type = None;
static mut PREVIOUS_PLANNER: pg_sys::planner_hook_type = None;

/// Ids given to statements that parse analysis left without one
/// (compute_query_id off): distinct from each other, and, with the top bit
/// set, unlikely to meet a query jumble's hash.
static NEXT_QUERY_ID: AtomicU64 = AtomicU64::new(1 << 63);

/// Installs the three hooks for the backend's lifetime. Called once, from
/// `_PG_init`.
pub fn install(hooks: &'static StatementHooks) {
    // SAFETY: _PG_init runs once per backend, before any statement uses the
    // hooks; the previous values are kept and called first, as every
    // extension that installs these hooks does.
    unsafe {
        HOOKS = Some(hooks);
        PREVIOUS_ANALYZE = pg_sys::post_parse_analyze_hook;
        pg_sys::post_parse_analyze_hook = Some(on_analyze);
        PREVIOUS_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(on_executor_start);
        PREVIOUS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(on_utility);
        PREVIOUS_OBJECT_ACCESS = pg_sys::object_access_hook;
        pg_sys::object_access_hook = Some(on_object_access);
        PREVIOUS_PLANNER = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(on_planner);
    }
}

/// The hooks, when the statement about to run is one to decide: not a
/// referential integrity check (ri_triggers.c runs those with
/// SECURITY_NOFORCE_RLS, which nothing else sets).
///
/// Every statement of every session that loaded the library comes here, so
/// the session's own test (`active`, for most sessions a cached "not an
/// agent") comes first.
fn hooks() -> Option<&'static StatementHooks> {
    // SAFETY: HOOKS is written once, by install(), before any hook runs.
    let hooks = unsafe { HOOKS }?;
    if !(hooks.active)() {
        return None;
    }
    // SAFETY: a function that reads a backend-global and cannot raise
    // (miscinit.c InNoForceRLSOperation).
    let internal = unsafe { in_no_force_rls_operation() };
    (!internal).then_some(hooks)
}

thread_local! {
    /// Set once a parallel worker has started its part of its leader's plan.
    static WORKER_PLAN_STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The plans of a session that is decided that are starting now, each
    /// with the functions its decision named (None: a parallel worker's
    /// part of its leader's plan, decided by the leader).
    static PLANS_STARTING: std::cell::RefCell<Vec<Option<Vec<Oid>>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A plan starting, until dropped (also when an ERROR unwinds).
struct PlanStarting;

impl PlanStarting {
    fn begin(named: Option<Vec<Oid>>) -> PlanStarting {
        PLANS_STARTING.with(|plans| plans.borrow_mut().push(named));
        PlanStarting
    }
}

impl Drop for PlanStarting {
    fn drop(&mut self) {
        PLANS_STARTING.with(|plans| plans.borrow_mut().pop());
    }
}

/// Whether the plan about to start is a parallel worker's part of its
/// leader's plan, which the leader decided: the first plan a worker starts
/// (execParallel.c ParallelQueryMain). Any later one is a statement that a
/// function runs inside the worker; it is decided, which refuses it (nothing
/// can be written in a worker).
fn leaders_plan() -> bool {
    in_parallel_worker() && !WORKER_PLAN_STARTED.replace(true)
}

// Called without pgrx's error boundary (a sigsetjmp per call): it only reads
// backend-local state and cannot raise.
unsafe extern "C" {
    #[link_name = "InNoForceRLSOperation"]
    fn in_no_force_rls_operation() -> bool;
}

/// Marks every cached plan of the backend (prepared statements, PL/pgSQL's
/// and SPI's saved plans) for parse analysis and planning again before its
/// next use, as DISCARD PLANS does (plancache.c ResetPlanCache); a plan that
/// is running goes on.
pub fn forget_cached_plans() {
    // SAFETY: walks the backend's list of saved plans and marks them invalid;
    // plans in use are reference-counted and stay valid until released.
    unsafe { pg_sys::ResetPlanCache() };
}

/// Whether the backend is a parallel worker.
pub fn in_parallel_worker() -> bool {
    // SAFETY: a backend-global, set when a parallel worker starts.
    unsafe { pg_sys::ParallelWorkerNumber >= 0 }
}

/// Whether the backend is in parallel mode, where nothing may be written.
pub fn in_parallel_mode() -> bool {
    // SAFETY: reads the backend's transaction state.
    unsafe { pg_sys::IsInParallelMode() }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_analyze(
    pstate: *mut pg_sys::ParseState,
    query: *mut pg_sys::Query,
    jstate: *mut pg_sys::JumbleState,
) {
    // SAFETY: the hook's arguments, passed on unchanged; then the analysed
    // query, read and given an id.
    unsafe {
        if let Some(previous) = PREVIOUS_ANALYZE {
            pg_guard_ffi_boundary(|| previous(pstate, query, jstate));
        }
        if let Some(hooks) = hooks() {
            register(hooks, query);
        }
    }
}

/// Gives `query` an id if it has none, which the planner copies into its
/// plan, and reports what parse analysis shows of it (and of the queries a
/// utility statement carries).
///
/// # Safety
/// `query` is an analysed Query.
unsafe fn register(hooks: &StatementHooks, query: *mut pg_sys::Query) {
    // SAFETY: see the function's contract.
    unsafe {
        if (*query).queryId == 0 {
            (*query).queryId =
                statement::query_id_field(NEXT_QUERY_ID.fetch_add(1, Ordering::Relaxed));
        }
        if (*query).commandType == pg_sys::CmdType::CMD_UTILITY {
            for inner in statement::nested_queries(query) {
                register(hooks, inner);
            }
            return;
        }
        (hooks.analysed)(
            statement::query_id_of((*query).queryId),
            statement::analyse(query),
        );
    }
}

/// Whether the hooks only pass the statement on, decided without any call
/// that can raise.
fn known_inactive() -> bool {
    // SAFETY: HOOKS is written once, by install(), before any hook runs.
    unsafe { HOOKS }.is_none_or(|hooks| (hooks.known_inactive)())
}

// PostgreSQL's own routines, called without pgrx's error boundary on the
// path of sessions that are never decided (see on_executor_start).
unsafe extern "C-unwind" {
    #[link_name = "standard_ExecutorStart"]
    fn standard_executor_start(desc: *mut pg_sys::QueryDesc, eflags: i32);
    #[link_name = "standard_planner"]
    fn standard_planner(
        parse: *mut pg_sys::Query,
        query_string: *const std::ffi::c_char,
        cursor_options: i32,
        bound_params: pg_sys::ParamListInfo,
    ) -> *mut pg_sys::PlannedStmt;
}

/// Every query a session that loaded the library plans passes here, after
/// the rewriter: the one place where a query that a rule made of a
/// statement (an INSTEAD or ALSO rule, reached directly or through a view)
/// can be told from the statement. Passed on as on_executor_start passes a
/// plan on.
unsafe extern "C-unwind" fn on_planner(
    parse: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
    cursor_options: i32,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: the hook's arguments, passed on unchanged to the hook
    // installed before this one or to PostgreSQL's routine (planner.c
    // planner); `parse` is a rewritten Query.
    unsafe {
        if !known_inactive() {
            check_rewritten(parse);
        }
        match PREVIOUS_PLANNER {
            Some(previous) => previous(parse, query_string, cursor_options, bound_params),
            None => standard_planner(parse, query_string, cursor_options, bound_params),
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn check_rewritten(parse: *mut pg_sys::Query) {
    // SAFETY: the rewritten Query the planner was given.
    if unsafe { statement::made_by_rule(parse) }
        && let Some(hooks) = hooks()
    {
        (hooks.rewritten_by_rule)();
    }
}

/// Every plan of every session that loaded the library starts here, most of
/// them of sessions that are never decided: for those, the plan is passed on
/// without pgrx's error boundary (a sigsetjmp and a thread check on each
/// way in and out), which showed in the time of a cached plan run in a
/// loop. That path holds nothing to drop and cannot panic, so an ERROR
/// raised by the next hook may longjmp across this frame, as it does across
/// the C frames of any other extension's hook.
unsafe extern "C-unwind" fn on_executor_start(desc: *mut pg_sys::QueryDesc, eflags: i32) {
    // SAFETY: the QueryDesc ExecutorStart() was given, passed on unchanged
    // to the hook installed before this one or to PostgreSQL's routine
    // (execMain.c ExecutorStart); known_inactive() only reads cached state.
    unsafe {
        if known_inactive() {
            match PREVIOUS_EXECUTOR_START {
                Some(previous) => previous(desc, eflags),
                None => standard_executor_start(desc, eflags),
            }
        } else {
            decide_and_start(desc, eflags)
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn decide_and_start(desc: *mut pg_sys::QueryDesc, eflags: i32) {
    // SAFETY: the QueryDesc ExecutorStart() was given, read before the
    // executor starts and then passed on unchanged.
    unsafe {
        let named = if leaders_plan() {
            None
        } else if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0
            && let Some(hooks) = hooks()
            && let Some(planned) = statement::planned(desc)
        {
            Some((hooks.executing)(planned))
        } else {
            Some(Vec::new())
        };
        let _starting = PlanStarting::begin(named);
        match PREVIOUS_EXECUTOR_START {
            Some(previous) => pg_guard_ffi_boundary(|| previous(desc, eflags)),
            None => pg_sys::standard_ExecutorStart(desc, eflags),
        }
    }
}

/// Every function prepared for a call (once per plan start for those in a
/// plan) passes here; for sessions that are never decided it is passed on
/// as on_executor_start passes a plan on.
unsafe extern "C-unwind" fn on_object_access(
    access: pg_sys::ObjectAccessType::Type,
    class_id: pg_sys::Oid,
    object_id: pg_sys::Oid,
    sub_id: i32,
    arg: *mut std::ffi::c_void,
) {
    // SAFETY: the hook's arguments, passed on unchanged to the hook
    // installed before this one (objectaccess.c RunFunctionExecuteHook).
    unsafe {
        if access == pg_sys::ObjectAccessType::OAT_FUNCTION_EXECUTE && !known_inactive() {
            function_prepared(object_id);
        }
        if let Some(previous) = PREVIOUS_OBJECT_ACCESS {
            previous(access, class_id, object_id, sub_id, arg);
        }
    }
}

/// A function prepared for a call, within a plan that is starting or
/// outside any (in a PL/pgSQL expression, as an argument of EXECUTE or
/// CALL, or for the fast-path function call): decided unless the decision
/// of the plan starting named it.
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn function_prepared(function: pg_sys::Oid) {
    let named = PLANS_STARTING.with(|plans| match plans.borrow().last() {
        Some(None) => true,
        Some(Some(named)) => named.contains(&function),
        None => false,
    });
    if !named && let Some(hooks) = hooks() {
        (hooks.function_prepared)(function);
    }
}

#[allow(clippy::too_many_arguments)]
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn on_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: the hook's arguments, read and then passed on unchanged.
    // Transaction control is let through first: ROLLBACK must work in an
    // aborted transaction, where nothing may be looked up.
    unsafe {
        let statement = (*pstmt).utilityStmt;
        let transaction_control =
            !statement.is_null() && (*statement).type_ == pg_sys::NodeTag::T_TransactionStmt;
        // A subcommand (the sequence of a serial column, an element of CREATE
        // SCHEMA) is part of a statement that was decided.
        let subcommand = context == pg_sys::ProcessUtilityContext::PROCESS_UTILITY_SUBCOMMAND;
        if !transaction_control
            && !subcommand
            && let Some(hooks) = hooks()
        {
            (hooks.utility)(statement::utility(pstmt, query_string));
        }
        match PREVIOUS_UTILITY {
            Some(previous) => pg_guard_ffi_boundary(|| {
                previous(
                    pstmt,
                    query_string,
                    read_only_tree,
                    context,
                    params,
                    query_env,
                    dest,
                    qc,
                )
            }),
            None => pg_sys::standard_ProcessUtility(
                pstmt,
                query_string,
                read_only_tree,
                context,
                params,
                query_env,
                dest,
                qc,
            ),
        }
    }
}

/// Whether the backend is inside a transaction whose catalogues can be read
/// (not an aborted one).
pub fn in_valid_transaction() -> bool {
    // SAFETY: reads the backend's transaction state.
    unsafe { pg_sys::IsTransactionState() }
}
