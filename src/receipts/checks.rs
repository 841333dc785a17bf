//! The receipts table's CHECK constraints, prepared once per backend.
//!
//! For every insert, the executor turns each constraint's stored text back
//! into an expression and prepares it (stringToNode, expression planning,
//! ExecInitExpr): for one row, more work than the check itself. The executor
//! does this only when `ResultRelInfo.ri_ConstraintExprs` is empty, so the
//! states prepared here are lent to it through that field. They are keyed by
//! the relation and each constraint's stored expression, compared on every
//! insert, so a constraint that was added, dropped or replaced is never served
//! from a stale entry.

use pgrx::pg_sys;
use std::cell::RefCell;
use std::ffi::{CStr, CString};

struct Prepared {
    relation: pg_sys::Oid,
    expressions: Vec<CString>,
    /// Holds `states`; a child of TopMemoryContext.
    context: pg_sys::MemoryContext,
    states: *mut *mut pg_sys::ExprState,
    /// An ExprState must not be evaluated re-entrantly, as it would be if a
    /// constraint called evaluate(): a nested insert prepares its own.
    lent: bool,
}

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

/// Marks the prepared states as free again when the insert is done with them.
pub struct Loan(bool);

impl Drop for Loan {
    fn drop(&mut self) {
        if self.0 {
            PREPARED.with(|prepared| {
                if let Some(prepared) = prepared.borrow_mut().as_mut() {
                    prepared.lent = false;
                }
            });
        }
    }
}

/// Gives `result_rel` the prepared states of its relation's CHECK constraints,
/// for as long as the returned loan lives.
///
/// # Safety
/// `result_rel` must have been set up for `rel` by InitResultRelInfo, and the
/// loan must outlive every use of `result_rel` by the executor.
pub unsafe fn lend(rel: pg_sys::Relation, result_rel: *mut pg_sys::ResultRelInfo) -> Loan {
    unsafe {
        let constr = (*(*rel).rd_att).constr;
        if constr.is_null() || (*constr).num_check == 0 {
            return Loan(false);
        }
        let checks = std::slice::from_raw_parts((*constr).check, (*constr).num_check as usize);
        PREPARED.with(|prepared| {
            let mut prepared = prepared.borrow_mut();
            let current = prepared.as_ref().is_some_and(|p| {
                p.relation == (*rel).rd_id
                    && p.expressions.len() == checks.len()
                    && p.expressions.iter().zip(checks).all(|(expression, check)| {
                        expression.as_c_str() == CStr::from_ptr(check.ccbin)
                    })
            });
            if !current {
                if let Some(stale) = prepared.take() {
                    pg_sys::MemoryContextDelete(stale.context);
                }
                *prepared = Some(prepare((*rel).rd_id, checks));
            }
            match prepared.as_mut() {
                Some(p) if !p.lent => {
                    p.lent = true;
                    (*result_rel).ri_ConstraintExprs = p.states;
                    Loan(true)
                }
                _ => Loan(false),
            }
        })
    }
}

/// Prepares each constraint as ExecRelCheck would, in a context that outlives
/// the transaction. The context is attached to TopMemoryContext only once
/// every state is built, so an error on the way frees it with the transaction.
unsafe fn prepare(relation: pg_sys::Oid, checks: &[pg_sys::ConstrCheck]) -> Prepared {
    unsafe {
        let context = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"authensor receipt checks".as_ptr(),
            0,
            1024,
            8 * 1024 * 1024,
        );
        let caller = pg_sys::MemoryContextSwitchTo(context);
        let states = pg_sys::palloc(checks.len() * size_of::<*mut pg_sys::ExprState>())
            .cast::<*mut pg_sys::ExprState>();
        for (index, check) in checks.iter().enumerate() {
            let expression = pg_sys::stringToNode(check.ccbin).cast::<pg_sys::Expr>();
            *states.add(index) =
                pg_sys::ExecInitExpr(pg_sys::expression_planner(expression), std::ptr::null_mut());
        }
        pg_sys::MemoryContextSwitchTo(caller);
        pg_sys::MemoryContextSetParent(context, pg_sys::TopMemoryContext);
        Prepared {
            relation,
            expressions: checks
                .iter()
                .map(|check| CStr::from_ptr(check.ccbin).to_owned())
                .collect(),
            context,
            states,
            lent: false,
        }
    }
}
