//! Cache invalidation: the messages a transaction queues for every backend
//! at commit, and the callbacks that hear them.
//!
//! Follows utils/cache/inval.c (CacheRegisterRelcacheCallback,
//! CacheRegisterSyscacheCallback, AcceptInvalidationMessages,
//! CacheInvalidateRelcacheByRelid), checked against PostgreSQL 15, 16 and 18.
//! A callback is a plain Rust function, passed to PostgreSQL as the
//! callback's argument and called from a trampoline here. It runs inside
//! invalidation processing, so it must not query, raise or allocate much.

use super::Oid;
use pgrx::pg_sys;
use pgrx::prelude::*;

pub use pg_sys::SysCacheIdentifier;

/// Calls `callback` for every relcache invalidation this backend processes,
/// with the relation's oid, or `None` when every relation is invalidated.
/// Registered for the backend's lifetime; PostgreSQL holds ten such
/// callbacks at most.
pub fn on_relcache_invalidation(callback: fn(Option<Oid>)) {
    // SAFETY: registers a trampoline for the backend's lifetime; its argument
    // is `callback`, a function pointer, which lives as long.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(
            Some(relcache_trampoline),
            pg_sys::Datum::from(callback as usize),
        )
    };
}

#[pg_guard]
unsafe extern "C-unwind" fn relcache_trampoline(arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // SAFETY: `arg` is the fn(Option<Oid>) registered above.
    let callback = unsafe { std::mem::transmute::<usize, fn(Option<Oid>)>(arg.value()) };
    callback((relid != pg_sys::InvalidOid).then_some(relid));
}

/// Calls `callback` for every invalidation of an entry of system cache
/// `cache` (a changed function, a changed type …). Registered for the
/// backend's lifetime.
pub fn on_syscache_invalidation(cache: SysCacheIdentifier::Type, callback: fn()) {
    // SAFETY: as for on_relcache_invalidation.
    unsafe {
        pg_sys::CacheRegisterSyscacheCallback(
            cache as i32,
            Some(syscache_trampoline),
            pg_sys::Datum::from(callback as usize),
        )
    };
}

#[pg_guard]
unsafe extern "C-unwind" fn syscache_trampoline(arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    // SAFETY: `arg` is the fn() registered above.
    let callback = unsafe { std::mem::transmute::<usize, fn()>(arg.value()) };
    callback();
}

/// Processes the invalidation messages other backends have committed, as
/// every statement start does. Inside a transaction.
pub fn accept_invalidation_messages() {
    // SAFETY: callable anywhere inside a transaction; it runs the callbacks
    // registered above, which neither query nor raise.
    unsafe { pg_sys::AcceptInvalidationMessages() };
}

/// Queues an invalidation of relation `relation` that PostgreSQL broadcasts
/// to every backend when (and only if) this transaction commits. Raises if
/// no such relation exists.
pub fn invalidate_relcache(relation: Oid) {
    // SAFETY: looks the relation up in the syscache and raises if it is
    // missing; the message is queued in the current transaction.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relation) };
}
