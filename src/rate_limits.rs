//! `rate` conditions, counted from the receipts.
//!
//! A limit counts the tenant's receipts whose action is `allow` and whose
//! `created_at` (the decision's time) lies within the window, through the
//! `(tenant_id, created_at)` index every receipt partition has. Only a
//! policy with a `rate` condition pays for it: the count runs when the
//! evaluation reaches the condition, and the lock below only when the tenant's
//! active layers have one.
//!
//! Exactness: evaluate() and guard() under such a policy first take the
//! tenant's rate lock (src/pg/locks.rs, in a lock space no SQL reaches),
//! held until the top-level transaction commits or rolls back, also when
//! taken in a savepoint that rolls back. Every decision that may write a receipt counted by a limit
//! therefore waits for the previous one to finish, and counts what it
//! committed: two sessions near a limit cannot both pass it. The receipts of
//! a rolled-back savepoint are written again before that transaction
//! commits, still under the lock. Under REPEATABLE READ or SERIALIZABLE the
//! transaction's snapshot could predate the commit the lock waited for, so
//! such a decision is refused.

use crate::errors::{raise, raise_spi};
use crate::evaluate::Caller;
use crate::pg::{backend, guc, locks, xact};
use crate::plans;
use crate::rate_ledger;
use crate::receipts;
use authensor_policy::{Layer, Policy, RateQuery, RateScope};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

/// Before a decision that writes a receipt: when a layer has a `rate`
/// condition, waits for and takes the tenant's rate lock, held until the
/// top-level transaction ends. True if it took the lock (the caller then
/// checks that no policy change committed while it waited).
pub(crate) fn hold_if_limited(
    caller: Caller,
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    tenant_id: &str,
) -> bool {
    if !platform.into_iter().chain(tenant).any(Policy::uses_rate) {
        return false;
    }
    if xact::uses_transaction_snapshot() {
        raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!(
                "{}: a policy with rate limits decides only under READ COMMITTED",
                caller.describe()
            ),
            Some(
                "Call it outside a REPEATABLE READ or SERIALIZABLE transaction: its snapshot could miss calls committed meanwhile.",
            ),
        )
    }
    // The lock's wait ends when the decision before it commits; the count's
    // statement that follows takes a new snapshot (READ COMMITTED) and sees
    // what that decision wrote.
    locks::lock_until_transaction_end(lock_key(tenant_id));
    LOCKED_TENANTS.with(|locked| {
        let mut locked = locked.borrow_mut();
        if !locked.iter().any(|locked| locked == tenant_id) {
            locked.push(tenant_id.to_owned());
        }
    });
    true
}

/// The tenant's lock key: the first 64 bits of SHA-256 of the
/// installation's secret (the one channel names are derived from) and the
/// tenant id, so that `pg_locks` does not tell who can guess tenant ids which
/// tenant a session acts for. Read once per backend and tenant. Two tenants
/// sharing a key would only take turns deciding under rate limits.
fn lock_key(tenant_id: &str) -> u64 {
    const KEY: &str = "
        SELECT ('x' || pg_catalog.encode(pg_catalog.substr(pg_catalog.sha256(
                    authensor.channel_secret() || pg_catalog.convert_to($1, 'UTF8')), 1, 8),
                'hex'))::bit(64)::bigint";
    if let Some(key) = LOCK_KEYS.with(|keys| keys.borrow().get(tenant_id).copied()) {
        return key;
    }
    SECRET_TABLE.set(crate::store::table_oid(c"channel_secret"));
    let key = plans::pinned(|| {
        plans::read(KEY, &[tenant_id.into()], |rows| {
            rows.first().get_one::<i64>()
        })
    })
    .unwrap_or_else(|e| raise_spi("derive the tenant's rate lock", e))
    .unwrap_or_else(|| {
        raise_spi(
            "derive the tenant's rate lock",
            pgrx::spi::SpiError::NoTupleTable,
        )
    });
    LOCK_KEYS.with(|keys| {
        let mut keys = keys.borrow_mut();
        if keys.len() >= 4096 {
            keys.clear();
        }
        keys.insert(tenant_id.to_owned(), key as u64);
    });
    key as u64
}

/// Forgets the derived lock keys when the channel secret may have changed
/// (its table's statement trigger queues this invalidation). Called once
/// from `_PG_init`.
pub(crate) fn init() {
    crate::pg::inval::on_relcache_invalidation(|relation| {
        if relation.is_none() || relation == SECRET_TABLE.get() {
            LOCK_KEYS.with(|keys| keys.borrow_mut().clear());
        }
    });
}

thread_local! {
    /// The channel secret's table, as of the last key derived.
    static SECRET_TABLE: std::cell::Cell<Option<crate::pg::Oid>> = const { std::cell::Cell::new(None) };
    /// Lock keys already derived, by tenant.
    static LOCK_KEYS: std::cell::RefCell<std::collections::HashMap<String, u64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
    /// The tenants whose rate lock the open transaction took.
    static LOCKED_TENANTS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether the open transaction took a tenant's rate lock.
pub(crate) fn holds_a_rate_lock() -> bool {
    LOCKED_TENANTS.with(|locked| !locked.borrow().is_empty())
}

/// The tenants whose rate lock the transaction now ending took, forgotten:
/// called once it commits or aborts (receipts/held.rs lists the aborting
/// one's rolled-back decisions of these tenants, rate_ledger.rs).
pub(crate) fn forget_locked_tenants() -> Vec<String> {
    LOCKED_TENANTS.with(|locked| std::mem::take(&mut *locked.borrow_mut()))
}

/// The count for a `rate` condition: the tenant's allowed receipts in the
/// window (and of the tool or rule the scope names), stopped at the limit.
/// A tenant rule counts the calls its policy allowed through it
/// (`tenant_rule_id`), also those credited to a platform allow on a tie; a
/// platform rule the calls credited to it.
/// Receipts of other transactions count once committed; those of the
/// caller's own transaction at once, and so do this backend's rolled-back
/// ones that wait to be written again (the same filter, in Rust), and, with
/// the library preloaded, other backends' (rate_ledger.rs).
pub(crate) fn count(query: &RateQuery) -> u64 {
    const COUNT: &str = "
        SELECT pg_catalog.count(*) FROM (
            SELECT FROM authensor.receipts r
             WHERE r.tenant_id = $1
               AND r.created_at > $2
               AND r.recorded_at > $2
               AND r.action = 'allow'
               AND ($3::text IS NULL OR r.tool = $3)
               AND ($4::text IS NULL OR CASE WHEN $6 THEN r.tenant_rule_id = $4
                                             ELSE r.layer = 'platform' AND r.rule_id = $4 END)
             LIMIT $5) counted";
    let window_micros = i64::try_from(query.window_seconds)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000);
    let start_micros = backend::now_micros().saturating_sub(window_micros);
    // recorded_at is never before created_at: bounding it too lets the
    // query skip the monthly partitions before the window.
    let start = TimestampWithTimeZone::try_from(start_micros).unwrap_or_else(|_| {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "a rate window is out of range",
            None,
        )
    });
    let (tool, rule) = match query.scope {
        RateScope::Tenant => (None, None),
        RateScope::Tool => (query.tool, None),
        RateScope::Rule => (None, query.rule_id),
    };
    let tenant_rule = query.layer == Layer::Tenant;
    let rolled_back = receipts::count_rolled_back(|receipt| {
        receipt.tenant_id == query.tenant_id
            && receipt.created_at > start_micros
            && receipt.action == "allow"
            && tool.is_none_or(|tool| receipt.tool == tool)
            && rule.is_none_or(|rule| match tenant_rule {
                true => receipt.tenant_rule_id == Some(rule),
                false => receipt.layer == "platform" && receipt.rule_id == Some(rule),
            })
    });
    let rolled_back = rolled_back.saturating_add(rate_ledger::count(&rate_ledger::Filter {
        tenant_id: query.tenant_id,
        since: start_micros,
        tool,
        rule: rule.map(|rule| (tenant_rule, rule)),
    }));
    if rolled_back >= query.max {
        return query.max;
    }
    let limit = i64::try_from(query.max - rolled_back).unwrap_or(i64::MAX);
    // A bitmap scan would read every receipt of the tenant in the window
    // before the LIMIT applies; an index scan stops at the max-th allowed one.
    plans::pinned(|| {
        guc::with_setting(c"enable_bitmapscan", c"off", || {
            plans::read(
                COUNT,
                &[
                    query.tenant_id.into(),
                    start.into(),
                    tool.into(),
                    rule.into(),
                    limit.into(),
                    tenant_rule.into(),
                ],
                |rows| rows.first().get_one::<i64>(),
            )
        })
    })
    .unwrap_or_else(|e| raise_spi("count the calls of a rate limit", e))
    .map_or(0, |count| count.max(0) as u64)
        + rolled_back
}
