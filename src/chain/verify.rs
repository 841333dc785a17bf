//! verify_receipts() and verify_all_receipts(): every visible chain walked
//! link by link, and the receipts in none.

use super::{RECEIPT_COLUMNS, hash_from, next_batch, receipt_at};
use crate::errors::raise_spi;
use authensor_chain::{Entry, GENESIS, Hash, Report, Walk, from_hex, to_hex};
use pgrx::datum::Uuid;
use pgrx::prelude::*;
use pgrx::spi::SpiResult;
use std::collections::HashMap;

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
    let mut checkpoints =
        checkpoints().unwrap_or_else(|e| raise_spi("read the chains' checkpoints", e));
    // Where a tenant's walk starts: after its checkpoint, if its oldest
    // receipts were pruned.
    let start = |checkpoints: &mut HashMap<String, (i64, Hash)>, tenant: &str| {
        let (seq, link) = checkpoints.remove(tenant).unwrap_or((0, GENESIS));
        Walk::after(seq, link).against(witness_of(tenant))
    };
    Spi::connect(|client| -> SpiResult<()> {
        let entries = format!(
            "SELECT l.tenant_id::text, l.seq::bigint, l.receipt_id::uuid, l.leaf::bytea, l.link::bytea, {RECEIPT_COLUMNS}
               FROM authensor.receipt_links l
               LEFT JOIN authensor.receipts r ON r.id = l.receipt_id
               LEFT JOIN authensor.approval_requests a ON a.receipt_id = l.receipt_id
               -- Links up to a checkpoint are pruned history: prune_receipts()
               -- commits the checkpoints before it drops their partitions.
               LEFT JOIN authensor.receipt_checkpoints c ON c.tenant_id = l.tenant_id
              WHERE l.seq > coalesce(c.seq, 0)
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
                    current = Some((tenant.clone(), start(&mut checkpoints, &tenant)));
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
    // Tenants whose every link left was pruned.
    let pruned: Vec<String> = checkpoints.keys().cloned().collect();
    for tenant in pruned {
        let walk = start(&mut checkpoints, &tenant);
        reports.push((tenant, walk.finish()));
    }
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

/// Each visible tenant's checkpoint: the last link pruned, (seq, link).
fn checkpoints() -> SpiResult<HashMap<String, (i64, Hash)>> {
    Spi::connect(|client| {
        client
            .select(
                "SELECT tenant_id::text, seq::bigint, link::bytea FROM authensor.receipt_checkpoints",
                None,
                &[],
            )?
            .map(|row| {
                Ok((
                    row.get::<String>(1)?.unwrap_or_default(),
                    (
                        row.get::<i64>(2)?.unwrap_or_default(),
                        hash_from(&row.get::<Vec<u8>>(3)?.unwrap_or_default()),
                    ),
                ))
            })
            .collect()
    })
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
            "SELECT r.tenant_id::text, count(*),
                    count(*) FILTER (WHERE r.recorded_at < h.horizon),
                    ((array_agg(r.id ORDER BY r.recorded_at, r.id)
                        FILTER (WHERE r.recorded_at < h.horizon))[1])::uuid
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
