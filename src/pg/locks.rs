//! Heavyweight locks the extension takes for itself.
//!
//! Follows LockAcquire() of storage/lmgr/lock.c with a tag built as
//! SET_LOCKTAG_ADVISORY of storage/lock.h does, the resource owners of
//! utils/resowner (TopTransactionResourceOwner, as
//! storage/large_object/inv_api.c uses it) and AcceptInvalidationMessages()
//! of utils/cache/inval.c, checked against PostgreSQL 15, 16 and 18.

use pgrx::pg_sys;

/// The fourth field of the extension's lock tags. SQL's advisory lock
/// functions only ever use 1 (one bigint key) and 2 (two integer keys), so
/// no role can take, wait for or hold one of these locks from SQL.
pub const OWN_LOCK_SPACE: u16 = 0x6175;

/// Takes the exclusive lock on `key` in this database and holds it until the
/// top-level transaction ends, also when taken inside a savepoint or a
/// PL/pgSQL exception block that later rolls back. Waits for a holder as any
/// lock does (deadlock detection, `lock_timeout` and cancel apply), then
/// takes in the invalidations of what committed meanwhile, as
/// LockDatabaseObject() does.
pub fn lock_until_transaction_end(key: u64) {
    let tag = pg_sys::LOCKTAG {
        locktag_field1: super::backend::database_id(),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: OWN_LOCK_SPACE,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    };
    let _restore = OwnerRestore::switch_to_top_transaction();
    // SAFETY: LockAcquire() takes a lock the tag describes, in the resource
    // owner just made current, which exists while a transaction is open (this
    // runs inside one). An ERROR while waiting unwinds through `_restore`,
    // which puts the caller's owner back.
    unsafe {
        pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as i32, false, false);
        pg_sys::AcceptInvalidationMessages();
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
