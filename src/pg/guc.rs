//! Settings the extension assigns or reserves.
//!
//! Follows fmgr_security_definer() (utils/fmgr/fmgr.c) applying a
//! function's SET clause, with NewGUCNestLevel(), set_config_option() and
//! AtEOXact_GUC() of utils/misc/guc.c, and MarkGUCPrefixReserved() of the
//! same file; checked against PostgreSQL 15, 16 and 18.

use pgrx::pg_sys;
use std::ffi::CStr;

/// Runs `f` with setting `name` at `value`, as a function's `SET name =
/// value` clause would: the value holds until `f` returns, and is undone by
/// PostgreSQL itself if `f` raises.
pub fn with_setting<R>(name: &CStr, value: &CStr, f: impl FnOnce() -> R) -> R {
    with_settings(&[(name, value)], f)
}

/// Runs `f` with each setting of `settings` at its value, as a function's
/// `SET` clauses would (see `with_setting`).
pub fn with_settings<R>(settings: &[(&CStr, &CStr)], f: impl FnOnce() -> R) -> R {
    // SAFETY: as fmgr_security_definer applies a function's SET clauses: a
    // new GUC nest level, the assignments at it, undone below or by
    // transaction abort if `f` raises.
    let level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        for (name, value) in settings {
            pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pg_sys::GucContext::PGC_USERSET,
                pg_sys::GucSource::PGC_S_SESSION,
                pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
        level
    };
    let result = f();
    // SAFETY: closes the nest level opened above (guc.c AtEOXact_GUC).
    unsafe { pg_sys::AtEOXact_GUC(true, level) };
    result
}

/// The value of setting `name` now (guc.c GetConfigOption). Only for
/// settings that exist.
pub fn value(name: &CStr) -> String {
    // SAFETY: a lookup of a built-in setting by name, returning the
    // setting's own string, copied here.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), false, false);
        if value.is_null() {
            return String::new();
        }
        CStr::from_ptr(value).to_string_lossy().into_owned()
    }
}

/// Makes settings `<prefix>.<anything>` that no module defined errors
/// instead of placeholders. Called from `_PG_init`, after the module's own
/// settings are defined.
pub fn reserve_prefix(prefix: &'static CStr) {
    // SAFETY: a static C string; removes placeholders and marks the prefix
    // reserved, as an extension's _PG_init does.
    unsafe { pg_sys::MarkGUCPrefixReserved(prefix.as_ptr()) };
}
