//! The receipts' hash chain in the database: sealing committed receipts into
//! each tenant's chain, and verifying the chains. The encoding, the links and
//! the walk are the `authensor-chain` crate's, shared with the off-line
//! verifier; the SQL objects are in sql/receipt_chain.sql.
//!
//! Sealing runs after commit, never on the decision path: evaluate() only
//! appends its receipt, and seal_receipts() (pg_cron, or on demand) gives each
//! committed receipt the next position in its tenant's chain. Each seal takes
//! the receipts recorded in [its predecessor's horizon, its own horizon), in
//! `recorded_at` order: every chain is in `recorded_at` order, so the months
//! that retention drops are a prefix of it. The horizon is a time before
//! which every receipt is final (committed and visible, or never to be):
//!
//! - `recorded_at` is read after the receipt's transaction has its id;
//! - seal k notes the clock T_k, then the next transaction id to be assigned
//!   N_k, then waits (up to a second) until the oldest transaction id X_k
//!   still running is at least N_k;
//! - a receipt recorded before T_j belongs to a transaction with an id below
//!   N_j; if N_j ≤ X_k, that transaction has ended;
//! - so seal k's horizon is the latest T_j, its own or an earlier seal's,
//!   with N_j ≤ X_k (never earlier than its predecessor's). A receipt
//!   recorded before the last horizon that is still unsealed was put there by
//!   hand ("inserted").

use authensor_chain::{Hash, Receipt};
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::spi::{SpiHeapTupleData, SpiResult};

mod seal;
mod verify;

/// Rows read from a cursor at a time: as many as fit in BATCH_BYTES of
/// receipts of the size seen so far, between 1 and MAX_BATCH.
const MAX_BATCH: i64 = 10_000;
const BATCH_BYTES: usize = 32 << 20;

/// How many rows to fetch next, after a batch of `rows` rows and `bytes`
/// bytes of receipts.
fn next_batch(rows: usize, bytes: usize) -> i64 {
    if rows == 0 {
        return 16;
    }
    let per_row = (bytes / rows).max(1);
    ((BATCH_BYTES / per_row) as i64).clamp(1, MAX_BATCH)
}

/// The receipt columns the chain hashes, after the first `offset` columns
/// of a row: see RECEIPT_COLUMNS. Each is cast to the type it is read as,
/// so that a column an operator changed the type of reads as its value
/// would (and a changed value shows as such), or fails with the cast's own
/// error.
const RECEIPT_COLUMNS: &str = "r.id::uuid, r.tenant_id::text, r.created_at::timestamptz, r.tool::text, \
     r.args::text, r.context::text, r.action::text, r.reason::text, r.layer::text, r.rule_id::text, \
     r.platform_version::integer, r.tenant_version::integer, a.id::uuid, r.committed::boolean";

/// The receipt in `row`, its columns (RECEIPT_COLUMNS) starting after the
/// first `offset`.
fn receipt_at(row: &SpiHeapTupleData, offset: usize) -> SpiResult<Receipt> {
    let column = |n: usize| offset + n;
    let text =
        |n: usize| -> SpiResult<String> { Ok(row.get::<String>(column(n))?.unwrap_or_default()) };
    let json = |n: usize| -> SpiResult<Vec<u8>> {
        let text = text(n)?;
        // jsonb prints valid JSON; anything else hashes as it is, and so
        // cannot match what was sealed.
        Ok(Receipt::canonical_json(&text).unwrap_or_else(|_| text.into_bytes()))
    };
    let created_at = row
        .get::<TimestampWithTimeZone>(column(3))?
        .map_or(i64::MIN, i64::from);
    Ok(Receipt {
        id: row
            .get::<Uuid>(column(1))?
            .map_or([0; 16], |id| *id.as_bytes()),
        tenant_id: text(2)?,
        created_at,
        tool: text(4)?,
        args: json(5)?,
        context: json(6)?,
        action: text(7)?,
        reason: text(8)?,
        layer: text(9)?,
        rule_id: row.get::<String>(column(10))?,
        platform_version: row.get::<i32>(column(11))?,
        tenant_version: row.get::<i32>(column(12))?,
        approval_id: row.get::<Uuid>(column(13))?.map(|id| *id.as_bytes()),
        committed: row.get::<bool>(column(14))?.unwrap_or(true),
    })
}

fn hash_from(bytes: &[u8]) -> Hash {
    bytes.try_into().unwrap_or([0; 32])
}
