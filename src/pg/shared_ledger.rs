//! A fixed table in the server's shared memory, reserved when the library is
//! in `shared_preload_libraries`, behind one LWLock.
//!
//! Follows the shared memory of an add-in (RequestAddinShmemSpace,
//! RequestNamedLWLockTranche and ShmemInitStruct of storage/ipc/shmem.c and
//! storage/lmgr/lwlock.c, through pgrx's PgLwLock), checked against
//! PostgreSQL 15, 16 and 18. The postmaster makes it once; every backend
//! forked after inherits it, and a crash restart makes it afresh, empty.

use pgrx::lwlock::PgLwLock;
use pgrx::pg_shmem_init;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use std::sync::atomic::{AtomicBool, Ordering};

/// Entries the table holds at most.
pub const SLOTS: usize = 4096;

/// One entry; `owner` 0 is a free slot.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub struct Entry {
    /// The process id of the backend that added it.
    pub owner: i32,
    /// What the entry stands for, as its user defines.
    pub flags: u32,
    pub id: [u8; 16],
    /// A second id, as its user defines (zero: none).
    pub other_id: [u8; 16],
    pub keys: [u64; 4],
    pub at: i64,
}

/// The entries in use, first `len` of `slots`, and a secret the postmaster
/// drew for keyed hashing.
#[repr(C)]
pub struct Table {
    pub secret: [u8; 16],
    pub len: usize,
    pub slots: [Entry; SLOTS],
}

// SAFETY: plain integers and arrays of them, the same in every process.
unsafe impl PGRXSharedMemory for Table {}

// SAFETY: the name is the extension's own and used for nothing else.
static TABLE: PgLwLock<Table> = unsafe { PgLwLock::new(c"authensor rolled-back decisions") };

/// Set in the postmaster once the table is requested, and so in every
/// backend it forks.
static RESERVED: AtomicBool = AtomicBool::new(false);

/// In `_PG_init`: reserves the table if the library is being loaded by
/// `shared_preload_libraries`, and does nothing otherwise.
// pgrx's macro names the features of majors this crate does not build for.
#[allow(unexpected_cfgs)]
pub fn reserve_at_server_start() {
    // SAFETY: reads a backend-global flag set while the postmaster loads the
    // preloaded libraries.
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    pg_shmem_init!(TABLE = Table::empty());
    RESERVED.store(true, Ordering::Relaxed);
}

/// Whether the table exists (the library was preloaded).
pub fn reserved() -> bool {
    RESERVED.load(Ordering::Relaxed)
}

/// Runs `f` on the table under its lock in exclusive mode.
pub fn exclusive<R>(f: impl FnOnce(&mut Table) -> R) -> R {
    f(&mut TABLE.exclusive())
}

/// Runs `f` on the table under its lock in shared mode.
pub fn shared<R>(f: impl FnOnce(&Table) -> R) -> R {
    f(&TABLE.share())
}

impl Table {
    fn empty() -> Table {
        let mut secret = [0u8; 16];
        // Without a strong random source the secret stays zero: collisions
        // then become possible to aim for, which only makes a count larger.
        super::backend::strong_random(&mut secret);
        Table {
            secret,
            len: 0,
            slots: [Entry::default(); SLOTS],
        }
    }
}
