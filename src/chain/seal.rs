//! seal_receipts(): each committed receipt gets the next link of its
//! tenant's chain (the horizon is explained in chain.rs).

use super::{RECEIPT_COLUMNS, next_batch, receipt_at};
use crate::errors::raise_spi;
use crate::pg::xact;
use authensor_chain::{GENESIS, Hash, Receipt, to_hex};
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use std::collections::HashMap;

/// Seals every committed receipt not yet in its tenant's chain; returns how
/// many. Operator only (EXECUTE is revoked from PUBLIC).
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn seal_receipts() -> i64 {
    crate::tenant::refuse_agent("seal_receipts");
    // A seal must see every receipt committed before it started, and the
    // links of every earlier seal: a snapshot of its own.
    if xact::uses_transaction_snapshot() {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "authensor.seal_receipts() must run at READ COMMITTED",
            Some(
                "Call it in a READ COMMITTED transaction: under REPEATABLE READ or SERIALIZABLE it would miss receipts and links committed since the transaction began.",
            ),
        )
    }
    Spi::connect_mut(seal).unwrap_or_else(|e| raise_spi("seal receipts", e))
}

fn seal(client: &mut pgrx::spi::SpiClient<'_>) -> SpiResult<i64> {
    // One seal at a time: a chain never forks. Readers are not blocked.
    client.update(
        "LOCK TABLE authensor.chain_heads IN SHARE ROW EXCLUSIVE MODE",
        None,
        &[],
    )?;
    let sealed_at: TimestampWithTimeZone = client
        .select("SELECT clock_timestamp()", None, &[])?
        .first()
        .get_one()?
        .unwrap_or_else(|| crate::errors::corrupted("the clock returned NULL"));
    // Read after the clock: every transaction id from it on is assigned
    // after sealed_at, whatever this transaction did before.
    let next_xid = i64::try_from(xact::next_transaction_id()).unwrap_or(i64::MAX);
    let oldest_running = wait_for_older_transactions(client, next_xid)?;
    // Receipts recorded before the last seal's horizon are sealed already;
    // -infinity before the first seal.
    let since: Option<TimestampWithTimeZone> = client
        .select(
            "SELECT coalesce((SELECT horizon::timestamptz FROM authensor.receipt_seals ORDER BY id DESC LIMIT 1),
                             '-infinity'::timestamptz)",
            None,
            &[],
        )?
        .first()
        .get_one()?;
    let since = since.unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    // A horizon is a clock reading of an earlier seal: one later than now
    // was written by hand, and would have every later seal skip receipts.
    if i64::from(since) > i64::from(sealed_at) {
        crate::errors::raise(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "the last seal's horizon in authensor.receipt_seals is later than now",
            Some(
                "Only seal_receipts() writes receipt_seals; a row written by hand must go before sealing can go on (and the clock must not have gone back).",
            ),
        )
    }
    // This seal's horizon: the latest clock reading (its own, or an earlier
    // seal's) such that every transaction that had an id by then has ended.
    // Seals are numbered under the lock, so a restored database goes on from
    // its last seal.
    let (seal_id, horizon) = client
        .update(
            "INSERT INTO authensor.receipt_seals (id, sealed_at, next_xid, oldest_running, horizon)
             SELECT coalesce((SELECT max(id) FROM authensor.receipt_seals), 0) + 1, $1, $2, $3,
                    greatest($4, max(s.sealed_at), CASE WHEN $2 <= $3 THEN $1 END)
               FROM authensor.receipt_seals s
              WHERE s.next_xid <= $3
             RETURNING id::bigint, horizon::timestamptz",
            None,
            &[
                sealed_at.into(),
                next_xid.into(),
                oldest_running.into(),
                since.into(),
            ],
        )?
        .first()
        .get_two::<i64, TimestampWithTimeZone>()?;
    let seal_id = seal_id.unwrap_or_default();
    let horizon = horizon.unwrap_or(since);

    let candidates = format!(
        "SELECT r.recorded_at::timestamptz, {RECEIPT_COLUMNS}
           FROM authensor.receipts r
           LEFT JOIN authensor.approval_requests a ON a.receipt_id = r.id
          WHERE r.recorded_at >= $1 AND r.recorded_at < $2
            AND NOT EXISTS (SELECT 1 FROM authensor.receipt_links l
                             WHERE l.receipt_id = r.id AND l.recorded_at = r.recorded_at)
          ORDER BY r.recorded_at, r.id"
    );
    let mut cursor = client.open_cursor(candidates.as_str(), &[since.into(), horizon.into()]);
    let mut heads: HashMap<String, (i64, Hash)> = HashMap::new();
    let mut sealed = 0i64;
    let mut fetch = next_batch(0, 0);
    loop {
        let table = cursor.fetch(fetch)?;
        if table.is_empty() {
            break;
        }
        let (mut rows, mut bytes) = (0, 0);
        let mut batch = LinkBatch::default();
        for row in table {
            let recorded_at = row
                .get::<TimestampWithTimeZone>(1)?
                .unwrap_or_else(|| crate::errors::corrupted("a receipt without recorded_at"));
            let receipt = receipt_at(&row, 1)?;
            rows += 1;
            bytes += receipt.args.len() + receipt.context.len() + receipt.reason.len();
            let head = match heads.get(&receipt.tenant_id) {
                Some(head) => *head,
                None => head_of(&receipt.tenant_id)?,
            };
            let seq = head.0 + 1;
            let leaf = receipt.leaf();
            let link = authensor_chain::link(&head.1, seq, &leaf);
            batch.push(&receipt, recorded_at, seq, leaf, link);
            heads.insert(receipt.tenant_id, (seq, link));
        }
        crate::pg::spi::free_last_result();
        sealed += batch.insert(seal_id)?;
        fetch = next_batch(rows, bytes);
    }
    drop(cursor);
    for (tenant, (seq, link)) in &heads {
        Spi::run_with_args(
            "INSERT INTO authensor.chain_heads AS h (tenant_id, seq, link, sealed_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (tenant_id) DO UPDATE
                SET seq = excluded.seq, link = excluded.link, sealed_at = excluded.sealed_at",
            &[
                tenant.as_str().into(),
                (*seq).into(),
                link.to_vec().into(),
                sealed_at.into(),
            ],
        )?;
        let payload = format!(
            r#"{{"event": "receipts_sealed", "seq": {seq}, "head": "{}"}}"#,
            to_hex(link)
        );
        Spi::run_with_args(
            "SELECT authensor.announce(authensor.tenant_channel($1), $2)",
            &[tenant.as_str().into(), payload.as_str().into()],
        )?;
    }
    Spi::run_with_args(
        "UPDATE authensor.receipt_seals SET receipts = $2, tenants = $3 WHERE id = $1",
        &[seal_id.into(), sealed.into(), (heads.len() as i32).into()],
    )?;
    Ok(sealed)
}

/// How long a seal waits for the transactions that had an id when it
/// started to end, so that it can seal up to its own start.
const WAIT_FOR_OLDER: std::time::Duration = std::time::Duration::from_secs(1);

/// The oldest id of another transaction still running (the next id to be
/// assigned if none is), once every other transaction with an id below
/// `next_xid` has ended or WAIT_FOR_OLDER has passed. This transaction's own
/// receipts are visible to it, whether or not it has an id.
///
/// Running transactions are read from their id locks: a transaction holds
/// the lock on its id from before it can read the clock for a receipt until
/// it ends. The locks name 32-bit ids, widened here against the next id.
/// Only this database's sessions (and prepared transactions, whose database
/// is not shown) can write its receipts; others are not waited for.
fn wait_for_older_transactions(
    client: &mut pgrx::spi::SpiClient<'_>,
    next_xid: i64,
) -> SpiResult<i64> {
    let deadline = std::time::Instant::now() + WAIT_FOR_OLDER;
    loop {
        let next_now = i64::try_from(xact::next_transaction_id()).unwrap_or(i64::MAX);
        let oldest = client
            .update(
                "SELECT coalesce(min($1 - (($1 % 4294967296) - l.transactionid::text::bigint
                                            + 4294967296) % 4294967296), $1)
                   FROM pg_locks l
                  WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted
                    AND l.pid IS DISTINCT FROM pg_backend_pid()
                    AND (l.pid IS NULL
                         OR l.pid IN (SELECT a.pid FROM pg_stat_activity a
                                       WHERE a.datname = current_database()))",
                None,
                &[next_now.into()],
            )?
            .first()
            .get_one::<i64>()?
            .unwrap_or_default();
        if oldest >= next_xid || std::time::Instant::now() >= deadline {
            return Ok(oldest);
        }
        client.update("SELECT pg_sleep(0.005)", None, &[])?;
    }
}

/// The tenant's last link, (0, GENESIS) before its first seal.
fn head_of(tenant: &str) -> SpiResult<(i64, Hash)> {
    let head = Spi::get_two_with_args::<i64, Vec<u8>>(
        "SELECT seq::bigint, link::bytea FROM authensor.chain_heads WHERE tenant_id = $1",
        &[tenant.into()],
    );
    match head {
        Ok((Some(seq), Some(link))) => Ok((seq, super::hash_from(&link))),
        Ok(_) | Err(pgrx::spi::SpiError::InvalidPosition) => Ok((0, GENESIS)),
        Err(error) => Err(error),
    }
}

/// Links made by one batch of a seal, as arrays for one INSERT.
#[derive(Default)]
struct LinkBatch {
    tenants: Vec<String>,
    seqs: Vec<i64>,
    receipts: Vec<Uuid>,
    leaves: Vec<Vec<u8>>,
    links: Vec<Vec<u8>>,
    recorded: Vec<TimestampWithTimeZone>,
}

impl LinkBatch {
    fn push(
        &mut self,
        receipt: &Receipt,
        recorded_at: TimestampWithTimeZone,
        seq: i64,
        leaf: Hash,
        link: Hash,
    ) {
        self.tenants.push(receipt.tenant_id.clone());
        self.seqs.push(seq);
        self.receipts.push(Uuid::from_bytes(receipt.id));
        self.leaves.push(leaf.to_vec());
        self.links.push(link.to_vec());
        self.recorded.push(recorded_at);
    }

    fn insert(self, seal_id: i64) -> SpiResult<i64> {
        let count = self.seqs.len() as i64;
        Spi::run_with_args(
            "INSERT INTO authensor.receipt_links
                    (tenant_id, seq, receipt_id, leaf, link, seal_id, recorded_at)
             SELECT t, s, r, l, k, $6, a
               FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::bytea[], $5::bytea[],
                           $7::timestamptz[]) AS u(t, s, r, l, k, a)",
            &[
                self.tenants.into(),
                self.seqs.into(),
                self.receipts.into(),
                self.leaves.into(),
                self.links.into(),
                seal_id.into(),
                self.recorded.into(),
            ],
        )?;
        Ok(count)
    }
}
