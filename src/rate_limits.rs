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
//! tenant's rate lock (src/pg/locks.rs), held until the top-level
//! transaction commits or rolls back, also when taken in a savepoint that
//! rolls back. Every decision that may write a receipt counted by a limit
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
/// top-level transaction ends. The tenant's row is made the first time; a
/// concurrent first decision waits on that insert.
pub(crate) fn hold_if_limited(
    caller: Caller,
    platform: Option<&Policy>,
    tenant: Option<&Policy>,
    tenant_id: &str,
) {
    if !platform.into_iter().chain(tenant).any(Policy::uses_rate) {
        return;
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
    const FIND: &str = "SELECT lock_id FROM authensor.rate_locks WHERE tenant_id = $1";
    const MAKE: &str = "
        INSERT INTO authensor.rate_locks (tenant_id) VALUES ($1)
        ON CONFLICT DO NOTHING RETURNING lock_id";
    let find = || {
        plans::read(FIND, &[tenant_id.into()], |rows| match rows.is_empty() {
            true => Ok(None),
            false => rows.first().get_one::<i32>(),
        })
    };
    let make = || match Spi::get_one_with_args::<i32>(MAKE, &[tenant_id.into()]) {
        Err(pgrx::spi::SpiError::InvalidPosition) => Ok(None),
        made => made,
    };
    // A concurrent first decision's insert makes this one wait, then insert
    // nothing: a statement of its own then sees the row it committed (or,
    // if it rolled back, makes it).
    let lock_id = plans::pinned(|| {
        for _ in 0..3 {
            if let Some(id) = find()?.map_or_else(make, |id| Ok(Some(id)))? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    })
    .unwrap_or_else(|e| raise_spi("lock the tenant's rate limits", e))
    .unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "the tenant's row of authensor.rate_locks could not be made",
            None,
        )
    });
    let class = crate::store::table_oid(c"rate_locks").unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            "authensor.rate_locks does not exist",
            Some("ALTER EXTENSION authensor UPDATE makes it."),
        )
    });
    // Taken after the reads above, the lock's wait ends when the decision
    // before it commits; the count's statement that follows takes a new
    // snapshot (READ COMMITTED) and sees what that decision wrote.
    locks::lock_until_transaction_end(class, lock_id as u32);
    LOCKED_TENANTS.with(|locked| {
        let mut locked = locked.borrow_mut();
        if !locked.iter().any(|locked| locked == tenant_id) {
            locked.push(tenant_id.to_owned());
        }
    });
}

thread_local! {
    /// The tenants whose rate lock the open transaction took.
    static LOCKED_TENANTS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
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
    let rolled_back = rolled_back
        + rate_ledger::count(&rate_ledger::Filter {
            tenant_id: query.tenant_id,
            since: start_micros,
            tool,
            rule: rule.map(|rule| (tenant_rule, rule)),
        });
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
