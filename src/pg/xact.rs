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

/// A point in the life of a top-level transaction, for
/// on_transaction_event (parallel workers' events are not passed on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionEvent {
    /// About to commit: the transaction can still write, and fail.
    PreCommit,
    /// Committed.
    Commit,
    /// Rolled back, by ROLLBACK, an error, or the session ending.
    Abort,
    /// About to be prepared (PREPARE TRANSACTION): can still fail.
    PrePrepare,
}

/// Calls `callback` at each TransactionEvent of every top-level transaction.
/// Registered for the backend's lifetime.
pub fn on_transaction_event(callback: fn(TransactionEvent)) {
    // SAFETY: as for on_transaction_end.
    unsafe {
        pg_sys::RegisterXactCallback(Some(event_trampoline), callback as *mut _);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn event_trampoline(
    event: pg_sys::XactEvent::Type,
    arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    let event = match event {
        XACT_EVENT_PRE_COMMIT => TransactionEvent::PreCommit,
        XACT_EVENT_COMMIT => TransactionEvent::Commit,
        XACT_EVENT_ABORT => TransactionEvent::Abort,
        XACT_EVENT_PRE_PREPARE => TransactionEvent::PrePrepare,
        _ => return,
    };
    // SAFETY: `arg` is the fn(TransactionEvent) registered above.
    let callback =
        unsafe { std::mem::transmute::<*mut std::ffi::c_void, fn(TransactionEvent)>(arg) };
    callback(event);
}

/// The transaction id the next transaction to need one will get
/// (ReadNextFullTransactionId() of access/transam/varsup.c): every id from it
/// on is assigned after this call.
pub fn next_transaction_id() -> u64 {
    // SAFETY: reads the shared counter under its lock, as the C function does.
    unsafe { pg_sys::ReadNextFullTransactionId().value }
}

/// Gives the transaction its id now if it has none (GetCurrentTransactionId()),
/// as its first write would. Whatever happens after this call happens after
/// the id was assigned, which is what the receipts' seal horizon relies on.
pub fn assign_transaction_id() {
    // SAFETY: called inside a transaction that may write (the caller checked
    // it is not read-only and not in recovery); assigns and returns the id.
    unsafe {
        pg_sys::GetCurrentTransactionId();
    }
}

/// Runs `f` in a subtransaction of its own and keeps what it did, or, if it
/// raises an ERROR, rolls the subtransaction back and returns the error; the transaction goes on either way. This is what PL/pgSQL does
/// for a block with an EXCEPTION clause (exec_stmt_block() in pl_exec.c:
/// BeginInternalSubTransaction(), then ReleaseCurrentSubTransaction() or
/// RollbackAndReleaseCurrentSubTransaction(), restoring the memory context
/// and resource owner). BeginInternalSubTransaction() also accepts a
/// transaction that is committing, so this may run at PreCommit.
pub fn in_subtransaction<R>(f: impl FnOnce() -> R) -> Result<R, Caught> {
    // SAFETY: saves the memory context and resource owner that the
    // subtransaction calls change, and puts them back on both paths, as
    // exec_stmt_block() does; an ERROR inside `f` is caught by PgTryBuilder
    // (which copies and flushes the error state) before the subtransaction
    // is rolled back.
    unsafe {
        let context = pg_sys::CurrentMemoryContext;
        let owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        let f = std::panic::AssertUnwindSafe(f);
        let result = PgTryBuilder::new(move || Ok(f()))
            .catch_others(|error| Err(caught_message(error)))
            .execute();
        match result {
            Ok(_) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
        result
    }
}

/// Runs `f` in a transaction of its own, after rolling back whatever
/// transaction is open, and commits it; returns the error's message if `f`
/// or the commit raised (the transaction is then rolled back). For a backend
/// that is exiting: RemoveTempRelationsCallback() (catalog/namespace.c) runs
/// its cleanup the same way from before_shmem_exit.
pub fn in_own_transaction(f: impl FnOnce()) -> Result<(), Caught> {
    // SAFETY: AbortOutOfAnyTransaction() leaves no transaction open; the new
    // one gets an active snapshot for the executor, popped before commit; on
    // ERROR the transaction is aborted, which also releases the snapshot.
    unsafe {
        pg_sys::AbortOutOfAnyTransaction();
        pg_sys::StartTransactionCommand();
        if !pg_sys::RecoveryInProgress() {
            // What check_transaction_read_only() allows at the start of a
            // transaction (utils/misc/variable.c), set as its GUC would.
            pg_sys::XactReadOnly = false;
        }
        let f = std::panic::AssertUnwindSafe(f);
        PgTryBuilder::new(move || {
            pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
            f();
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
            Ok(())
        })
        .catch_others(|error| {
            pg_sys::AbortCurrentTransaction();
            Err(caught_message(error))
        })
        .execute()
    }
}

/// Runs `f` with an active snapshot, as a statement would have one: at
/// PreCommit the statement's own is already gone, and the executor and
/// triggers need one.
pub fn with_active_snapshot<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: pushes a snapshot and pops it after `f`; if `f` raises, the
    // (sub)transaction's abort pops it.
    unsafe {
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        let result = f();
        pg_sys::PopActiveSnapshot();
        result
    }
}

/// An ERROR caught by in_subtransaction or in_own_transaction.
#[derive(Debug)]
pub struct Caught {
    pub code: PgSqlErrorCode,
    pub message: String,
}

fn caught_message(error: pgrx::pg_sys::panic::CaughtError) -> Caught {
    use pgrx::pg_sys::panic::CaughtError;
    match error {
        CaughtError::PostgresError(report)
        | CaughtError::ErrorReport(report)
        | CaughtError::RustPanic {
            ereport: report, ..
        } => Caught {
            code: report.sql_error_code(),
            message: report.message().to_owned(),
        },
    }
}
