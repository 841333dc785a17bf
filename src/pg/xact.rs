//! The transaction the backend is in: its state, and callbacks at its end.
//!
//! Follows access/transam/xact.c (IsTransactionBlock,
//! GetCurrentSubTransactionId, XactReadOnly, IsolationUsesXactSnapshot() of
//! access/xact.h, RegisterXactCallback, RegisterSubXactCallback) and
//! RecoveryInProgress() of access/transam/xlog.c, checked against
//! PostgreSQL 15, 16 and 18. Callbacks are plain Rust functions, passed to
//! PostgreSQL as the callback's argument and called from a trampoline here.

use super::SubTransactionId;
use pgrx::pg_sys;
use pgrx::prelude::*;

/// Whether a transaction block (BEGIN … COMMIT) is open, rather than a
/// single statement's implicit transaction.
pub fn in_transaction_block() -> bool {
    // SAFETY: reads the backend's transaction state.
    unsafe { pg_sys::IsTransactionBlock() }
}

/// The id of the subtransaction running now; ids of subtransactions started
/// later are greater.
pub fn current_subtransaction() -> SubTransactionId {
    // SAFETY: reads the backend's transaction state.
    unsafe { pg_sys::GetCurrentSubTransactionId() }
}

/// Whether the transaction is read-only (START TRANSACTION READ ONLY,
/// default_transaction_read_only, or any transaction on a hot standby).
pub fn read_only() -> bool {
    // SAFETY: reads a backend-global flag.
    unsafe { pg_sys::XactReadOnly }
}

/// Whether the server is in recovery: a hot standby, or a primary still
/// replaying its log.
pub fn recovery_in_progress() -> bool {
    // SAFETY: reads shared state through PostgreSQL's own accessor.
    unsafe { pg_sys::RecoveryInProgress() }
}

/// Whether statements read the transaction's snapshot (REPEATABLE READ or
/// SERIALIZABLE) rather than one of their own: IsolationUsesXactSnapshot().
pub fn uses_transaction_snapshot() -> bool {
    // SAFETY: reads the backend-global isolation level.
    unsafe { pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 }
}

/// Calls `callback` whenever a transaction ends: at commit, abort and
/// PREPARE TRANSACTION, and in parallel workers at theirs. Registered for the
/// backend's lifetime.
pub fn on_transaction_end(callback: fn()) {
    // SAFETY: registers a trampoline for the backend's lifetime; its argument
    // is `callback`, a function pointer, which lives as long.
    unsafe {
        pg_sys::RegisterXactCallback(Some(transaction_trampoline), callback as *mut _);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn transaction_trampoline(
    event: pg_sys::XactEvent::Type,
    arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    if matches!(
        event,
        XACT_EVENT_COMMIT
            | XACT_EVENT_ABORT
            | XACT_EVENT_PREPARE
            | XACT_EVENT_PARALLEL_COMMIT
            | XACT_EVENT_PARALLEL_ABORT
    ) {
        // SAFETY: `arg` is the fn() registered above.
        let callback = unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn()>(arg) };
        callback();
    }
}

/// Calls `callback` with the id of every subtransaction that rolls back
/// (ROLLBACK TO SAVEPOINT, or an error caught in PL/pgSQL). Registered for
/// the backend's lifetime.
pub fn on_subtransaction_abort(callback: fn(SubTransactionId)) {
    // SAFETY: as for on_transaction_end.
    unsafe {
        pg_sys::RegisterSubXactCallback(Some(subtransaction_trampoline), callback as *mut _);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn subtransaction_trampoline(
    event: pg_sys::SubXactEvent::Type,
    aborted: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        // SAFETY: `arg` is the fn(SubTransactionId) registered above.
        let callback =
            unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn(SubTransactionId)>(arg) };
        callback(aborted);
    }
}
