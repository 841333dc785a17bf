//! The receipts' hash chain in the database: sealing committed receipts into
//! each tenant's chain, and verifying the chains. The encoding, the links and
//! the walk are the `authensor-chain` crate's, shared with the off-line
//! verifier; the SQL objects are in sql/receipt_chain.sql.
//!
//! Sealing runs after commit, never on the decision path: evaluate() only
//! appends its receipt, and seal_receipts() (pg_cron, or on demand) gives each
//! committed receipt the next position in its tenant's chain. Which receipts
//! a seal must look at is bounded by a horizon on `recorded_at`, the time a
//! receipt was written, taken after its transaction had its id:
//!
//! - seal k notes the clock T_k, then the next transaction id to be assigned
//!   N_k, then the oldest transaction id X_k still running in its snapshot;
//! - every receipt seal k cannot see was written by a transaction with an id
//!   of at least X_k; an id of at least N_j was assigned after T_j, so any
//!   such receipt has recorded_at ≥ T_j for the latest earlier seal j with
//!   N_j ≤ X_k;
//! - that T_j is seal k's horizon: seal k+1 looks only at receipts recorded
//!   since, and a receipt recorded before the last horizon that is still
//!   unsealed was put there by hand ("inserted").

use crate::errors::raise_spi;
use crate::pg::xact;
use authensor_chain::{Entry, GENESIS, Hash, Receipt, Report, Walk, from_hex, to_hex};
use pgrx::datum::{TimestampWithTimeZone, Uuid};
use pgrx::prelude::*;
use pgrx::spi::{SpiHeapTupleData, SpiResult};
use std::collections::HashMap;

/// Rows read from a cursor at a time: as many as fit in BATCH_BYTES of
/// receipts of the size seen so far, between 1 and MAX_BATCH.
const MAX_BATCH: i64 = 10_000;
const BATCH_BYTES: usize = 32 << 20;

/// How many rows to fetch next, after a batch of `rows` rows and `bytes`
/// bytes of receipts.
fn next_batch(rows: usize, bytes: usize) -> i64 {
    if rows == 0 {
        return 100;
    }
    let per_row = (bytes / rows).max(1);
    ((BATCH_BYTES / per_row) as i64).clamp(1, MAX_BATCH)
}

/// The receipt columns the chain hashes, after the first `offset` columns
/// of a row: see RECEIPT_COLUMNS.
const RECEIPT_COLUMNS: &str = "r.id, r.tenant_id, r.created_at, r.tool, r.args::text, r.context::text, \
     r.action, r.reason, r.layer, r.rule_id, r.platform_version, r.tenant_version, a.id, r.committed";

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
    let oldest_running: i64 = client
        .select(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            None,
            &[],
        )?
        .first()
        .get_one()?
        .unwrap_or_default();
    // The last seal's horizon; -infinity before the first seal.
    let horizon: Option<TimestampWithTimeZone> = client
        .select(
            "SELECT coalesce((SELECT horizon FROM authensor.receipt_seals ORDER BY id DESC LIMIT 1),
                             '-infinity'::timestamptz)",
            None,
            &[],
        )?
        .first()
        .get_one()?;
    // Seals are numbered under the lock, so a restored database goes on from
    // its last seal.
    let seal_id: i64 = client
        .update(
            "INSERT INTO authensor.receipt_seals (id, sealed_at, next_xid, oldest_running, horizon)
             SELECT coalesce((SELECT max(id) FROM authensor.receipt_seals), 0) + 1, $1, $2, $3,
                    coalesce(max(s.sealed_at), '-infinity')
               FROM authensor.receipt_seals s
              WHERE s.next_xid <= $3
             RETURNING id",
            None,
            &[sealed_at.into(), next_xid.into(), oldest_running.into()],
        )?
        .first()
        .get_one()?
        .unwrap_or_default();

    let candidates = format!(
        "SELECT {RECEIPT_COLUMNS}
           FROM authensor.receipts r
           LEFT JOIN authensor.approval_requests a ON a.receipt_id = r.id
          WHERE r.recorded_at >= $1
            AND NOT EXISTS (SELECT 1 FROM authensor.receipt_links l WHERE l.receipt_id = r.id)
          ORDER BY r.recorded_at, r.id"
    );
    let horizon = horizon.unwrap_or_else(TimestampWithTimeZone::negative_infinity);
    let mut cursor = client.open_cursor(candidates.as_str(), &[horizon.into()]);
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
            let receipt = receipt_at(&row, 0)?;
            rows += 1;
            bytes += receipt.args.len() + receipt.context.len() + receipt.reason.len();
            let head = match heads.get(&receipt.tenant_id) {
                Some(head) => *head,
                None => head_of(&receipt.tenant_id)?,
            };
            let seq = head.0 + 1;
            let leaf = receipt.leaf();
            let link = authensor_chain::link(&head.1, seq, &leaf);
            batch.push(&receipt, seq, leaf, link);
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

/// The tenant's last link, (0, GENESIS) before its first seal.
fn head_of(tenant: &str) -> SpiResult<(i64, Hash)> {
    let head = Spi::get_two_with_args::<i64, Vec<u8>>(
        "SELECT seq, link FROM authensor.chain_heads WHERE tenant_id = $1",
        &[tenant.into()],
    );
    match head {
        Ok((Some(seq), Some(link))) => Ok((seq, hash_from(&link))),
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
}

impl LinkBatch {
    fn push(&mut self, receipt: &Receipt, seq: i64, leaf: Hash, link: Hash) {
        self.tenants.push(receipt.tenant_id.clone());
        self.seqs.push(seq);
        self.receipts.push(Uuid::from_bytes(receipt.id));
        self.leaves.push(leaf.to_vec());
        self.links.push(link.to_vec());
    }

    fn insert(self, seal_id: i64) -> SpiResult<i64> {
        let count = self.seqs.len() as i64;
        Spi::run_with_args(
            "INSERT INTO authensor.receipt_links (tenant_id, seq, receipt_id, leaf, link, seal_id)
             SELECT t, s, r, l, k, $6
               FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::bytea[], $5::bytea[])
                    AS u(t, s, r, l, k)",
            &[
                self.tenants.into(),
                self.seqs.into(),
                self.receipts.into(),
                self.leaves.into(),
                self.links.into(),
                seal_id.into(),
            ],
        )?;
        Ok(count)
    }
}

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

/// Verifies the chain of every tenant whose receipts the caller can see:
/// under row-level security, the caller's own. With `witness_seq` and
/// `witness_hash` (what chain_head() returned earlier, kept outside the
/// database), the chain must still hold that link.
#[pg_extern(stable)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx reads the column names from the tuple
fn verify_receipts(
    witness_seq: default!(Option<i64>, "NULL"),
    witness_hash: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(tenant_id, String),
        name!(checked, i64),
        name!(unsealed, i64),
        name!(problems, i64),
        name!(first_seq, Option<i64>),
        name!(first_receipt, Option<Uuid>),
        name!(problem, Option<String>),
        name!(head_seq, Option<i64>),
        name!(head_hash, Option<String>),
    ),
> {
    let witness = witness(witness_seq, witness_hash)
        .map(|(seq, hash)| (crate::tenant::require_tenant("verify_receipts"), seq, hash));
    TableIterator::new(verify(witness))
}

/// Verifies every tenant's chain, whatever the caller's tenant. Operator
/// only (EXECUTE is revoked from PUBLIC).
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // as verify_receipts
fn verify_all_receipts() -> TableIterator<
    'static,
    (
        name!(tenant_id, String),
        name!(checked, i64),
        name!(unsealed, i64),
        name!(problems, i64),
        name!(first_seq, Option<i64>),
        name!(first_receipt, Option<Uuid>),
        name!(problem, Option<String>),
        name!(head_seq, Option<i64>),
        name!(head_hash, Option<String>),
    ),
> {
    crate::tenant::refuse_agent("verify_all_receipts");
    TableIterator::new(verify(None))
}

/// A row of verify_receipts(): tenant, checked, unsealed, problems,
/// first_seq, first_receipt, problem, head_seq, head_hash.
type VerifyRow = (
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<Uuid>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

fn witness(seq: Option<i64>, hash: Option<&str>) -> Option<(i64, Hash)> {
    match (seq, hash) {
        (None, None) => None,
        (Some(seq), Some(hash)) if seq > 0 => match from_hex::<32>(hash) {
            Some(hash) => Some((seq, hash)),
            None => crate::errors::raise(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                "authensor.verify_receipts(): witness_hash is not a SHA-256 in hex",
                Some("Pass the hash that authensor.chain_head() returned."),
            ),
        },
        _ => crate::errors::raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "authensor.verify_receipts(): witness_seq must be positive and come with witness_hash",
            Some("Pass both values authensor.chain_head() returned, or neither."),
        ),
    }
}

/// Walks each visible chain, then adds what is not in one. A witness head
/// applies to its tenant's chain only.
fn verify(witness: Option<(String, i64, Hash)>) -> Vec<VerifyRow> {
    let witness_of = |tenant: &str| {
        witness
            .as_ref()
            .filter(|(owner, _, _)| owner == tenant)
            .map(|(_, seq, hash)| (*seq, *hash))
    };
    let mut reports: Vec<(String, Report)> = Vec::new();
    Spi::connect(|client| -> SpiResult<()> {
        let entries = format!(
            "SELECT l.tenant_id, l.seq, l.receipt_id, l.leaf, l.link, {RECEIPT_COLUMNS}
               FROM authensor.receipt_links l
               LEFT JOIN authensor.receipts r ON r.id = l.receipt_id
               LEFT JOIN authensor.approval_requests a ON a.receipt_id = l.receipt_id
              ORDER BY l.tenant_id, l.seq"
        );
        let mut cursor = client.open_cursor(entries.as_str(), &[]);
        let mut current: Option<(String, Walk)> = None;
        let mut fetch = next_batch(0, 0);
        loop {
            let table = cursor.fetch(fetch)?;
            if table.is_empty() {
                break;
            }
            let (mut rows, mut bytes) = (0, 0);
            for row in table {
                rows += 1;
                let tenant = row.get::<String>(1)?.unwrap_or_default();
                if current.as_ref().is_none_or(|(name, _)| *name != tenant) {
                    if let Some((name, walk)) = current.take() {
                        reports.push((name, walk.finish()));
                    }
                    current = Some((
                        tenant.clone(),
                        Walk::after(0, GENESIS).against(witness_of(&tenant)),
                    ));
                }
                let found = row.get::<Uuid>(6)?.is_some();
                let entry = Entry {
                    seq: row.get::<i64>(2)?.unwrap_or_default(),
                    receipt_id: row.get::<Uuid>(3)?.map_or([0; 16], |id| *id.as_bytes()),
                    receipt: if found {
                        Some(receipt_at(&row, 5)?)
                    } else {
                        None
                    },
                    leaf: hash_from(&row.get::<Vec<u8>>(4)?.unwrap_or_default()),
                    link: hash_from(&row.get::<Vec<u8>>(5)?.unwrap_or_default()),
                };
                bytes += entry
                    .receipt
                    .as_ref()
                    .map_or(0, |r| r.args.len() + r.context.len() + r.reason.len());
                if let Some((_, walk)) = current.as_mut() {
                    walk.push(entry);
                }
            }
            crate::pg::spi::free_last_result();
            fetch = next_batch(rows, bytes);
        }
        if let Some((name, walk)) = current.take() {
            reports.push((name, walk.finish()));
        }
        Ok(())
    })
    .unwrap_or_else(|e| raise_spi("verify receipts", e));
    let unsealed = unsealed().unwrap_or_else(|e| raise_spi("count unsealed receipts", e));
    let mut rows: HashMap<String, VerifyRow> = HashMap::new();
    for (tenant, report) in reports {
        let first = report.first.as_ref();
        rows.insert(
            tenant.clone(),
            (
                tenant,
                report.checked as i64,
                0,
                report.problems as i64,
                first.map(|f| f.seq),
                first.and_then(|f| f.receipt_id).map(Uuid::from_bytes),
                first.map(|f| f.problem.as_str().to_owned()),
                report.head.map(|(seq, _)| seq),
                report.head.map(|(_, link)| to_hex(&link)),
            ),
        );
    }
    for Unsealed {
        tenant,
        count,
        inserted,
        first_inserted,
    } in unsealed
    {
        let truncated = witness_of(&tenant).map(|(seq, _)| seq);
        let row = rows.entry(tenant.clone()).or_insert_with(|| {
            (
                tenant,
                0,
                0,
                i64::from(truncated.is_some()),
                truncated,
                None,
                truncated.map(|_| "truncated".to_owned()),
                None,
                None,
            )
        });
        row.2 = count;
        row.3 += inserted;
        if row.6.is_none() && inserted > 0 {
            row.5 = first_inserted;
            row.6 = Some("inserted".to_owned());
        }
    }
    // A tenant with a head kept outside but nothing left in the database.
    if let Some((tenant, seq, _)) = &witness {
        rows.entry(tenant.clone()).or_insert_with(|| {
            (
                tenant.clone(),
                0,
                0,
                1,
                Some(*seq),
                None,
                Some("truncated".to_owned()),
                None,
                None,
            )
        });
    }
    let mut rows: Vec<VerifyRow> = rows.into_values().collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// A tenant's receipts in no chain.
struct Unsealed {
    tenant: String,
    count: i64,
    /// Of them, recorded before the last seal's horizon: a seal should have
    /// taken them, so they were put there by hand.
    inserted: i64,
    first_inserted: Option<Uuid>,
}

/// Per tenant, its receipts in no chain.
fn unsealed() -> SpiResult<Vec<Unsealed>> {
    Spi::connect(|client| {
        let table = client.select(
            "SELECT r.tenant_id, count(*),
                    count(*) FILTER (WHERE r.recorded_at < h.horizon),
                    (array_agg(r.id ORDER BY r.recorded_at, r.id)
                        FILTER (WHERE r.recorded_at < h.horizon))[1]
               FROM authensor.receipts r
               LEFT JOIN LATERAL (SELECT s.horizon FROM authensor.receipt_seals s
                                   ORDER BY s.id DESC LIMIT 1) h ON true
              WHERE NOT EXISTS (SELECT 1 FROM authensor.receipt_links l WHERE l.receipt_id = r.id)
              GROUP BY r.tenant_id",
            None,
            &[],
        )?;
        table
            .map(|row| {
                Ok(Unsealed {
                    tenant: row.get::<String>(1)?.unwrap_or_default(),
                    count: row.get::<i64>(2)?.unwrap_or_default(),
                    inserted: row.get::<i64>(3)?.unwrap_or_default(),
                    first_inserted: row.get::<Uuid>(4)?,
                })
            })
            .collect()
    })
}
