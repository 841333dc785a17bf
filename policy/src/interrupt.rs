//! A hook through which a host can stop long compiles and decisions.
//!
//! Compiling and deciding call [`check`] regularly: per rule, per condition,
//! per placeholder and every few hundred YAML nodes. A host that can cancel
//! work (a database honouring `statement_timeout`) installs a hook that raises
//! there; the hook may panic, and the unwind leaves nothing behind in a broken
//! state, since compile state is local to the call and a [`Policy`](crate::Policy)
//! is immutable.

use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// The installed hook as a `fn()` cast to a pointer; null when none is.
static HOOK: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

/// Installs `check` as the hook called during compiles and decisions,
/// replacing any earlier one. It runs on the thread doing the work, so it may
/// panic to abandon it. It must be cheap: it runs about once per condition.
pub fn set_interrupt_check(check: fn()) {
    HOOK.store(check as *mut (), Ordering::Relaxed);
}

/// Calls the hook, if one is installed.
#[inline]
pub(crate) fn check() {
    let hook = HOOK.load(Ordering::Relaxed);
    if !hook.is_null() {
        call(hook);
    }
}

/// Out of line, so that the hot paths calling [`check`] keep only a load and
/// a branch.
#[cold]
#[inline(never)]
fn call(hook: *mut ()) {
    // SAFETY: `HOOK` only ever holds null or a `fn()` stored by
    // `set_interrupt_check`, and function pointers are valid forever.
    let hook = unsafe { std::mem::transmute::<*mut (), fn()>(hook) };
    hook();
}

/// The installed match guard as a `fn(usize)` cast to a pointer; null when
/// none is.
static MATCH_GUARD: AtomicPtr<()> = AtomicPtr::new(ptr::null_mut());

/// Installs `guard`, called with a value's length in bytes before a `matches`
/// regex searches it. One regex search cannot be interrupted, and its worst
/// case grows with the value's length times the regex's size, so a host
/// bounds it here: the guard panics (raises) to refuse a value too long.
pub fn set_match_guard(guard: fn(usize)) {
    MATCH_GUARD.store(guard as *mut (), Ordering::Relaxed);
}

/// Calls the match guard, if one is installed.
#[inline]
pub(crate) fn guard_match(len: usize) {
    let guard = MATCH_GUARD.load(Ordering::Relaxed);
    if !guard.is_null() {
        // SAFETY: `MATCH_GUARD` only ever holds null or a `fn(usize)` stored by
        // `set_match_guard`, and function pointers are valid forever.
        let guard = unsafe { std::mem::transmute::<*mut (), fn(usize)>(guard) };
        guard(len);
    }
}
