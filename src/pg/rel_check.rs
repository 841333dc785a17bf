//! The receipts table's CHECK constraints, prepared once per backend.
//!
//! For every insert, the executor turns each constraint's stored text back
//! into an expression and prepares it (stringToNode, expression planning,
//! ExecInitExpr): for one row, more work than the check itself. So the
//! constraints are prepared here once and evaluated here, on the row about to
//! be inserted; the executor is then lent empty states (which pass), the same
//! as ExecRelCheck's own array, so that it does not prepare them again.
//!
//! Prepared states are evaluated only in an expression context of their own
//! whose memory lives as long as they do: expression steps keep lazily built
//! data (a whole-row descriptor, a hashed IN list) in the per-query memory of
//! the context they first run in, which for the executor is freed after each
//! insert.
//!
//! They are used only when the row the checks see is the row as formed: with
//! a BEFORE INSERT row trigger or a stored generated column, the executor
//! prepares and checks the final row itself, as for any INSERT. A row that
//! fails a check here is also left to the executor, which raises the usual
//! check_violation error.
//!
//! Which constraints are checked and how each is prepared follows
//! ExecRelCheck() in executor/execMain.c of the major built against (checked
//! against PostgreSQL 15, 16 and 18): from 18 on, NOT ENFORCED constraints are
//! skipped and virtual generated columns are expanded in the expressions.
//! NOT VALID constraints are checked on every major, as the executor checks
//! them on new rows.
//!
//! They are prepared with search_path pinned (plans::pinned), as the calling
//! role, kept per role, and dropped whenever a function, type or the table changes
//! (syscache and relcache callbacks), so no caller's name resolution and no
//! replaced function body is carried from one call to the next.

use super::inval::{self, SysCacheIdentifier};
use pgrx::pg_sys;
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString};

struct Prepared {
    relation: pg_sys::Oid,
    /// The role the states were prepared as: ExecInitExpr checks EXECUTE
    /// rights then, never again, so each role gets states of its own.
    user: pg_sys::Oid,
    generation: u64,
    /// Each constraint's expression and whether it is enforced.
    expressions: Vec<(CString, bool)>,
    /// Holds everything below; a child of TopMemoryContext.
    context: pg_sys::MemoryContext,
    /// One per constraint; null for one the executor skips, as in
    /// ExecRelCheck's own array.
    states: Vec<*mut pg_sys::ExprState>,
    /// Where the states run; its per-query memory is `context`.
    econtext: *mut pg_sys::ExprContext,
    /// What the executor is lent: one empty (passing) state per constraint.
    passed: *mut *mut pg_sys::ExprState,
    /// An ExprState must not be evaluated re-entrantly, as it would be if a
    /// constraint called evaluate(): a nested insert leaves its checks to the
    /// executor.
    in_use: bool,
}

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
    /// Bumped by the invalidation callbacks; prepared states of an older
    /// generation are rebuilt.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    static CALLBACKS_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the prepared states as free again when the insert is done with them;
/// if the insert failed, they are dropped, since an error may have stopped
/// them half-way through a lazily built cache.
pub struct Loan(bool);

impl Drop for Loan {
    fn drop(&mut self) {
        if self.0 {
            let failed = std::thread::panicking();
            PREPARED.with(|prepared| {
                if let Some(prepared) = prepared.borrow_mut().as_mut() {
                    prepared.in_use = false;
                }
            });
            if failed {
                GENERATION.with(|generation| generation.set(generation.get() + 1));
            }
        }
    }
}

/// Checks the row in `slot` against `rel`'s CHECK constraints with states
/// prepared once per backend, and lends `result_rel` passing states so that
/// the executor does not prepare them again. Leaves everything to the
/// executor when that would not be the same as an INSERT (see the module
/// documentation), and when a check fails.
///
/// # Safety
/// `result_rel` must have been set up for `rel` by InitResultRelInfo, `slot`
/// must hold the row as formed for `rel`, and the loan must outlive every use
/// of `result_rel` by the executor.
pub unsafe fn check_and_lend(
    rel: pg_sys::Relation,
    result_rel: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
) -> Loan {
    // SAFETY: reads the relation's constraints and evaluates prepared states
    // on the slot as ExecRelCheck does (execMain.c); see the caller's contract.
    unsafe {
        let constr = (*(*rel).rd_att).constr;
        if constr.is_null() || (*constr).num_check == 0 || (*constr).has_generated_stored {
            return Loan(false);
        }
        let triggers = (*result_rel).ri_TrigDesc;
        if !triggers.is_null() && (*triggers).trig_insert_before_row {
            return Loan(false);
        }
        register_callbacks();
        let checks = std::slice::from_raw_parts((*constr).check, (*constr).num_check as usize);
        let prepared = PREPARED.with(|cell| {
            let mut prepared = cell.borrow_mut();
            if prepared.as_ref().is_some_and(|p| p.in_use) {
                return None;
            }
            let generation = GENERATION.with(Cell::get);
            let user = pg_sys::GetUserId();
            let current = prepared.as_ref().is_some_and(|p| {
                p.relation == (*rel).rd_id
                    && p.user == user
                    && p.generation == generation
                    && p.expressions.len() == checks.len()
                    && p.expressions
                        .iter()
                        .zip(checks)
                        .all(|((expression, enforced), check)| {
                            expression.as_c_str() == CStr::from_ptr(check.ccbin)
                                && *enforced == is_enforced(check)
                        })
            });
            if !current {
                if let Some(stale) = prepared.take() {
                    pg_sys::MemoryContextDelete(stale.context);
                }
                *prepared = Some(prepare(rel, user, generation, checks));
            }
            let p = prepared.as_mut()?;
            p.in_use = true;
            Some((p.states.clone(), p.econtext, p.passed))
        });
        let Some((states, econtext, passed)) = prepared else {
            return Loan(false);
        };
        // From here the loan owns `in_use`, also if a check raises. The
        // RefCell is not borrowed while checks run, as they may re-enter.
        let loan = Loan(true);
        (*econtext).ecxt_scantuple = slot;
        let all_pass = states.iter().all(|&state| {
            pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
            state.is_null() || pg_sys::ExecCheck(state, econtext)
        });
        pg_sys::MemoryContextReset((*econtext).ecxt_per_tuple_memory);
        (*econtext).ecxt_scantuple = std::ptr::null_mut();
        if !all_pass {
            return loan_released(loan);
        }
        lend(result_rel, passed);
        loan
    }
}

/// Sets the states ExecRelCheck() uses for `result_rel`'s CHECK constraints
/// (it prepares its own only while none are set).
/// 15 and 16: ResultRelInfo.ri_ConstraintExprs.
#[cfg(any(feature = "pg15", feature = "pg16"))]
unsafe fn lend(result_rel: *mut pg_sys::ResultRelInfo, passed: *mut *mut pg_sys::ExprState) {
    // SAFETY: `result_rel` is valid (check_and_lend's contract) and `passed`
    // holds one null state per constraint, outliving the insert.
    unsafe { (*result_rel).ri_ConstraintExprs = passed }
}

/// 18: renamed ri_CheckConstraintExprs.
#[cfg(feature = "pg18")]
unsafe fn lend(result_rel: *mut pg_sys::ResultRelInfo, passed: *mut *mut pg_sys::ExprState) {
    // SAFETY: as for 15 and 16 above.
    unsafe { (*result_rel).ri_CheckConstraintExprs = passed }
}

/// Whether the executor checks the constraint on new rows.
/// 15 and 16: every CHECK constraint is enforced.
#[cfg(any(feature = "pg15", feature = "pg16"))]
fn is_enforced(_check: &pg_sys::ConstrCheck) -> bool {
    true
}

/// 18: NOT ENFORCED constraints are skipped (ExecRelCheck of 18:
/// `if (!check[i].ccenforced) continue;`). ccvalid is not consulted: a NOT
/// VALID constraint still holds for new rows.
#[cfg(feature = "pg18")]
fn is_enforced(check: &pg_sys::ConstrCheck) -> bool {
    check.ccenforced
}

/// The constraint's expression as ExecRelCheck() prepares it.
/// 15 and 16: as stored.
#[cfg(any(feature = "pg15", feature = "pg16"))]
unsafe fn check_expression(
    _rel: pg_sys::Relation,
    check: &pg_sys::ConstrCheck,
) -> *mut pg_sys::Expr {
    // SAFETY: ccbin is the relcache's nodeToString() text of an expression.
    unsafe { pg_sys::stringToNode(check.ccbin).cast::<pg_sys::Expr>() }
}

/// 18: with virtual generated columns replaced by their expressions, which
/// the row as formed does not hold (a check on such a column would otherwise
/// see NULL, and pass).
#[cfg(feature = "pg18")]
unsafe fn check_expression(
    rel: pg_sys::Relation,
    check: &pg_sys::ConstrCheck,
) -> *mut pg_sys::Expr {
    // SAFETY: as for 15 and 16 above; `rel` is the relation the constraint
    // belongs to, open and locked, its range table index 1 as in ExecRelCheck.
    unsafe {
        let expression = pg_sys::stringToNode(check.ccbin).cast::<pg_sys::Node>();
        pg_sys::expand_generated_columns_in_expr(expression, rel, 1).cast::<pg_sys::Expr>()
    }
}

/// Gives the states back at once, for the executor to check on its own.
fn loan_released(loan: Loan) -> Loan {
    drop(loan);
    Loan(false)
}

/// Prepares each constraint as ExecRelCheck would, in a context that outlives
/// the transaction. The context is attached to TopMemoryContext only once
/// every state is built, so an error on the way frees it with the transaction.
unsafe fn prepare(
    rel: pg_sys::Relation,
    user: pg_sys::Oid,
    generation: u64,
    checks: &[pg_sys::ConstrCheck],
) -> Prepared {
    // SAFETY: prepares each constraint as ExecRelCheck does (execMain.c), in
    // a context of its own that is parented to TopMemoryContext at the end.
    unsafe {
        let context = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"authensor receipt checks".as_ptr(),
            0,
            1024,
            8 * 1024 * 1024,
        );
        let caller = pg_sys::MemoryContextSwitchTo(context);
        let states = checks
            .iter()
            .map(|check| {
                if !is_enforced(check) {
                    return std::ptr::null_mut();
                }
                let expression = check_expression(rel, check);
                pg_sys::ExecInitExpr(pg_sys::expression_planner(expression), std::ptr::null_mut())
            })
            .collect();
        let passed = pg_sys::palloc0(checks.len() * size_of::<*mut pg_sys::ExprState>())
            .cast::<*mut pg_sys::ExprState>();
        let econtext = pg_sys::CreateStandaloneExprContext();
        pg_sys::MemoryContextSwitchTo(caller);
        pg_sys::MemoryContextSetParent(context, pg_sys::TopMemoryContext);
        Prepared {
            relation: (*rel).rd_id,
            user,
            generation,
            expressions: checks
                .iter()
                .map(|check| (CStr::from_ptr(check.ccbin).to_owned(), is_enforced(check)))
                .collect(),
            context,
            states,
            econtext,
            passed,
            in_use: false,
        }
    }
}

/// Any change to a function, a type, or the receipts table makes the
/// prepared states stale: a constraint's function may have been replaced, or
/// inlined from a body that changed.
fn register_callbacks() {
    if CALLBACKS_REGISTERED.with(|registered| registered.replace(true)) {
        return;
    }
    for cache in [SysCacheIdentifier::PROCOID, SysCacheIdentifier::TYPEOID] {
        inval::on_syscache_invalidation(cache, on_syscache_invalidation);
    }
    inval::on_relcache_invalidation(on_relcache_invalidation);
}

fn on_syscache_invalidation() {
    GENERATION.with(|generation| generation.set(generation.get() + 1));
}

fn on_relcache_invalidation(relation: Option<pg_sys::Oid>) {
    let prepared_for = PREPARED.with(|cell| {
        cell.try_borrow()
            .ok()
            .and_then(|prepared| prepared.as_ref().map(|p| p.relation))
    });
    if relation.is_none_or(|relation| prepared_for.is_none_or(|oid| oid == relation)) {
        GENERATION.with(|generation| generation.set(generation.get() + 1));
    }
}
