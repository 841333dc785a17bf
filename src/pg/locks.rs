//! Heavyweight locks the extension takes for its own objects.
//!
//! Follows LockDatabaseObject() of storage/lmgr/lmgr.c and the resource
//! owners of utils/resowner (TopTransactionResourceOwner, as
//! storage/large_object/inv_api.c uses it), checked against PostgreSQL 15, 16
//! and 18.

use super::Oid;
use pgrx::pg_sys;

/// Takes an exclusive lock on the object `(class, id)` of this database and
/// holds it until the top-level transaction ends, also when taken inside a
/// savepoint or a PL/pgSQL exception block that later rolls back. Waits for
/// a holder as any lock does (deadlock detection, `lock_timeout` and cancel
/// apply). `class` is one of the extension's tables: no SQL command locks an
/// object of a class that is not a system catalog, so only the extension's
/// own code can take or hold such a lock.
pub fn lock_until_transaction_end(class: Oid, id: u32) {
    let _restore = OwnerRestore::switch_to_top_transaction();
    // SAFETY: LockDatabaseObject() takes a lock in MyDatabaseId's lock space,
    // in the resource owner just made current, which exists while a
    // transaction is open (this runs inside one). An ERROR while waiting
    // unwinds through `_restore`, which puts the caller's owner back.
    unsafe {
        pg_sys::LockDatabaseObject(class, Oid::from(id), 0, pg_sys::ExclusiveLock as i32);
    }
}

/// Makes TopTransactionResourceOwner current until dropped, so that what is
/// acquired meanwhile outlives the subtransaction running now.
struct OwnerRestore(pg_sys::ResourceOwner);

impl OwnerRestore {
    fn switch_to_top_transaction() -> Self {
        // SAFETY: reads and sets backend globals, as inv_api.c does; both
        // owners belong to the open transaction.
        unsafe {
            let previous = pg_sys::CurrentResourceOwner;
            pg_sys::CurrentResourceOwner = pg_sys::TopTransactionResourceOwner;
            Self(previous)
        }
    }
}

impl Drop for OwnerRestore {
    fn drop(&mut self) {
        // SAFETY: restores the owner that was current, still alive: it is
        // the owner of a (sub)transaction that cannot end while this frame,
        // inside it, runs.
        unsafe {
            pg_sys::CurrentResourceOwner = self.0;
        }
    }
}
