//! The transaction the backend is in.
//!
//! Follows access/transam/xact.c (XactReadOnly, IsolationUsesXactSnapshot()
//! of access/xact.h) and RecoveryInProgress() of access/transam/xlog.c,
//! checked against PostgreSQL 15, 16 and 18.

use pgrx::pg_sys;

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
