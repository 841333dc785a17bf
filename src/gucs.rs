//! The extension's settings. Each is documented in the README under "Settings".

use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// The tenant the current transaction acts for. Applications set it with
/// `SET LOCAL authensor.tenant_id = '…'` (or `set_config(…, true)`), so the
/// value ends with the transaction and never leaks through a pooled connection.
pub static TENANT_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// Compiled policies (and active-version lookups) each backend keeps.
pub static CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(256);

/// Seconds after which a cached active-version lookup is re-read even though no
/// invalidation arrived. Invalidation is exact; this is only a safety net.
pub static CACHE_TTL: GucSetting<i32> = GucSetting::<i32>::new(10);

pub fn init() {
    GucRegistry::define_string_guc(
        c"authensor.tenant_id",
        c"Tenant the current transaction acts for.",
        c"Set with SET LOCAL or set_config(..., true) by the application before calling authensor functions. Row-level security on authensor tables is keyed on it.",
        &TENANT_ID,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.cache_size",
        c"Maximum number of compiled policies each backend caches.",
        c"Least recently used entries are evicted beyond this bound. The same bound applies to cached active-version lookups.",
        &CACHE_SIZE,
        1,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.cache_ttl",
        c"Seconds a cached active-version lookup is trusted without an invalidation.",
        c"Publishing or activating a policy invalidates every backend's cache at commit; this TTL only bounds staleness if that signal is bypassed (for example by a replica applying changes with triggers disabled). 0 re-reads the active versions on every call.",
        &CACHE_TTL,
        0,
        86_400,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    // Typos such as `authensor.tenantid` become errors instead of silently
    // creating a placeholder that nothing reads.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"authensor".as_ptr()) };
}
