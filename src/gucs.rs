//! The extension's settings. Each is documented in the README under "Settings".

use crate::pg::guc;
use authensor_policy::Limits;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

/// The tenant the current transaction acts for. Applications set it with
/// `SET LOCAL authensor.tenant_id = '…'` (or `set_config(…, true)`), so the
/// value ends with the transaction and never leaks through a pooled connection.
pub static TENANT_ID: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

// Every setting but the tenant is superuser-only (PGC_SUSET): an agent must
// not lengthen its approvals, stretch the cache's trust in a stale version,
// or make its backend hold more memory. Operators set them in
// postgresql.conf, or per role or database with ALTER ROLE / DATABASE SET.

/// Compiled policies (and active-version lookups) each backend keeps.
pub static CACHE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(256);

/// Estimated bytes of compiled policies each backend caches.
pub static CACHE_MAX_BYTES: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024 * 1024);

/// Seconds after which a cached active-version lookup is re-read even though no
/// invalidation arrived. Invalidation is exact; this is only a safety net.
pub static CACHE_TTL: GucSetting<i32> = GucSetting::<i32>::new(10);

/// Publishing limits: a policy's size in bytes, its number of rules and how
/// deeply its conditions nest. Superuser-only, so a tenant cannot raise them.
pub static MAX_POLICY_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1024 * 1024);
pub static MAX_POLICY_RULES: GucSetting<i32> = GucSetting::<i32>::new(20_000);
pub static MAX_CONDITION_DEPTH: GucSetting<i32> = GucSetting::<i32>::new(32);
/// The most authensor.max_condition_depth may be set to: a version published
/// under it must compile again when it is loaded (cache.rs).
pub const MAX_CONDITION_DEPTH_CEILING: i32 = 64;
pub static MAX_COMPILED_BYTES: GucSetting<i32> = GucSetting::<i32>::new(16 * 1024 * 1024);
pub static MAX_CONDITIONS: GucSetting<i32> = GucSetting::<i32>::new(50_000);
pub static MAX_INTERPOLATIONS: GucSetting<i32> = GucSetting::<i32>::new(10_000);

/// Longest value a `matches` regex searches, in bytes.
pub static MAX_MATCH_BYTES: GucSetting<i32> = GucSetting::<i32>::new(16 * 1024);

/// Largest args plus context, in bytes of stored jsonb, that a decision accepts.
pub static MAX_ARGS_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1024 * 1024);

/// Lets `DROP EXTENSION authensor` delete receipts (see drop_guard.rs).
pub static ALLOW_DROP: GucSetting<bool> = GucSetting::<bool>::new(false);

/// Seconds an approval stays usable after it opens; fixed when it opens.
pub static APPROVAL_TTL: GucSetting<i32> = GucSetting::<i32>::new(3600);

pub fn init() {
    GucRegistry::define_string_guc(
        c"authensor.tenant_id",
        c"Tenant the current transaction acts for (honoured for members of authensor_trusted).",
        c"Trusted application servers set it with SET LOCAL or set_config(..., true). For other roles it is ignored: they call authensor.authenticate(api_key).",
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
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.cache_max_bytes",
        c"Maximum estimated size of the compiled policies each backend caches.",
        c"Least recently used policies are evicted beyond this bound, as beyond authensor.cache_size; the policy in use is kept. cache_stats() reports the bytes held.",
        &CACHE_MAX_BYTES,
        1024 * 1024,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"authensor.cache_ttl",
        c"Seconds a cached active-version lookup is trusted without an invalidation.",
        c"Publishing or activating a policy invalidates every backend's cache at commit; this TTL only bounds staleness if that signal is bypassed (for example by a replica applying changes with triggers disabled). 0 re-reads the active versions on every call.",
        &CACHE_TTL,
        0,
        86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"authensor.max_policy_bytes",
        c"Largest policy source accepted by publish, in bytes.",
        c"Publishing a larger policy fails with SQLSTATE 54000.",
        &MAX_POLICY_BYTES,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"authensor.max_policy_rules",
        c"Most rules a published policy may have.",
        c"Publishing a policy with more rules fails with SQLSTATE 54000.",
        &MAX_POLICY_RULES,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.max_condition_depth",
        c"Deepest nesting of conditions (all, any, not) a published policy may have.",
        c"Publishing a policy nested deeper fails with SQLSTATE 54000. The bound protects the stack.",
        &MAX_CONDITION_DEPTH,
        1,
        MAX_CONDITION_DEPTH_CEILING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.max_compiled_bytes",
        c"Largest estimated size of one compiled policy, in bytes.",
        c"Publishing a policy whose rules, globs and regexes (with the search caches they may grow) need more fails with SQLSTATE 54000.",
        &MAX_COMPILED_BYTES,
        64 * 1024,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"authensor.max_conditions",
        c"Most operators (equals, matches, ...) a published policy may have, counted after YAML aliases are expanded.",
        c"Publishing a policy with more fails with SQLSTATE 54000.",
        &MAX_CONDITIONS,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.max_interpolations",
        c"Most ${context...} placeholders a published policy may have, counted after YAML aliases are expanded.",
        c"Publishing a policy with more fails with SQLSTATE 54000.",
        &MAX_INTERPOLATIONS,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"authensor.max_match_bytes",
        c"Longest value a matches condition searches, in bytes.",
        c"A decision that would search a longer value with a regex fails with SQLSTATE 54000: one regex search cannot be interrupted, and its worst case grows with the value's length.",
        &MAX_MATCH_BYTES,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"authensor.max_args_bytes",
        c"Largest args plus context a decision accepts, in bytes of jsonb.",
        c"evaluate(), check() and guard() fail with SQLSTATE 54000 for larger arguments, before deciding or writing anything.",
        &MAX_ARGS_BYTES,
        1,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"authensor.approval_ttl",
        c"How long an approval opened by an escalate decision stays usable.",
        c"Fixed when the approval opens; an approval past it reads as expired and can no longer be approved or consumed.",
        &APPROVAL_TTL,
        1,
        7 * 86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_bool_guc(
        c"authensor.allow_drop",
        c"Lets DROP EXTENSION authensor proceed although receipts exist.",
        c"Set it with SET LOCAL in the transaction that drops the extension, after keeping the receipts elsewhere.",
        &ALLOW_DROP,
        GucContext::Suset,
        GucFlags::default(),
    );
    // Typos such as `authensor.tenantid` become errors instead of silently
    // creating a placeholder that nothing reads.
    guc::reserve_prefix(c"authensor");
}

/// The publishing limits in force.
pub fn policy_limits() -> Limits {
    Limits {
        max_source_bytes: MAX_POLICY_BYTES.get().max(1) as usize,
        max_rules: MAX_POLICY_RULES.get().max(1) as usize,
        max_depth: MAX_CONDITION_DEPTH.get().max(1) as usize,
        max_compiled_bytes: MAX_COMPILED_BYTES.get().max(1) as usize,
        max_conditions: MAX_CONDITIONS.get().max(1) as usize,
        max_interpolations: MAX_INTERPOLATIONS.get().max(0) as usize,
    }
}

/// Refuses a `matches` search of a value longer than authensor.max_match_bytes:
/// the call fails, unless a shadow version is deciding, which is abandoned
/// instead (shadow.rs).
pub fn refuse_long_match(len: usize) {
    let limit = MAX_MATCH_BYTES.get().max(1) as usize;
    if len > limit {
        if crate::shadow::deciding() {
            crate::shadow::abandon();
        }
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "a matches condition would search a value of {len} bytes, more than authensor.max_match_bytes ({limit})"
            ),
            Some(
                "Pass a shorter value, or have the operator raise authensor.max_match_bytes: one regex search runs to its end, and its worst case grows with the value.",
            ),
        )
    }
}
