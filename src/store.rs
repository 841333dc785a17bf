//! The SQL statements the extension runs against its own tables (receipts are
//! appended by receipts.rs).
//!
//! The public functions are SECURITY DEFINER, so these statements run as the
//! extension's owner and filter by tenant explicitly; all table names are
//! schema-qualified.

use crate::errors::{corrupted, raise, raise_spi};
use crate::pg::{Oid, catalog};
use crate::plans;
use pgrx::prelude::*;
use std::ffi::CStr;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LayerKind {
    Platform,
    Tenant,
}

impl LayerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Platform => "platform",
            LayerKind::Tenant => "tenant",
        }
    }

    fn parse(value: &str) -> Self {
        if value == "platform" {
            LayerKind::Platform
        } else {
            LayerKind::Tenant
        }
    }
}

/// An active version as stored: which row, and the digest of its source.
pub struct ActiveHead {
    pub layer: LayerKind,
    pub tenant_id: Option<String>,
    pub version: i32,
    pub digest: Vec<u8>,
}

/// The active platform version and the active version of `tenant_id`.
pub fn active_heads(tenant_id: &str) -> Vec<ActiveHead> {
    const QUERY: &str = "
        SELECT a.layer, a.tenant_id, a.version, p.digest
          FROM authensor.active_policies a
          JOIN authensor.policies p
            ON p.layer = a.layer
           AND coalesce(p.tenant_id, '') = coalesce(a.tenant_id, '')
           AND p.version = a.version
         WHERE (a.layer, coalesce(a.tenant_id, '')) IN (('platform', ''), ('tenant', $1))";
    let result = plans::pinned(|| {
        plans::read(QUERY, &[tenant_id.into()], |rows| {
            let mut heads = Vec::with_capacity(2);
            for row in rows {
                let layer: String = row.get(1)?.unwrap_or_default();
                heads.push(ActiveHead {
                    layer: LayerKind::parse(&layer),
                    tenant_id: row.get(2)?,
                    version: row.get(3)?.unwrap_or_default(),
                    digest: row.get(4)?.unwrap_or_default(),
                });
            }
            Ok(heads)
        })
    });
    result.unwrap_or_else(|e| raise_spi("read the active policy versions", e))
}

/// The source of one stored version. Read as `active_heads` reads, so that
/// it sees every version that read saw.
pub fn policy_source(layer: LayerKind, tenant_id: Option<&str>, version: i32) -> String {
    const QUERY: &str = "
        SELECT (SELECT source FROM authensor.policies
                 WHERE layer = $1 AND coalesce(tenant_id, '') = coalesce($2, '') AND version = $3)";
    let source = plans::pinned(|| {
        plans::read(
            QUERY,
            &[layer.as_str().into(), tenant_id.into(), version.into()],
            |rows| rows.first().get_one::<String>(),
        )
    })
    .unwrap_or_else(|e| raise_spi("read a policy version", e));
    source.unwrap_or_else(|| {
        corrupted(format!(
            "{} policy version {version} is active but not stored",
            layer.as_str()
        ))
    })
}

/// The oid of table `authensor.<name>` from the syscache (no query), or
/// `None` while the extension is not installed.
pub fn table_oid(name: &CStr) -> Option<Oid> {
    catalog::relation_oid(c"authensor", name)
}

/// Whether authensor.receipts is of 0.3.0 or later, and so records
/// rolled-back decisions (`committed`) and when each receipt was written
/// (`recorded_at`): until ALTER EXTENSION UPDATE has run, the library may
/// serve an older schema. Told by `recorded_at`, which the table is
/// partitioned by from 0.4.0 on and so cannot lose; a table that lost
/// `committed` takes no receipt (relation_insert.rs refuses it).
pub fn receipts_record_rollbacks() -> bool {
    table_oid(c"receipts").is_some_and(|table| catalog::has_column(table, c"recorded_at"))
}

/// Oids of `authensor.policies` and `authensor.active_policies`, for
/// filtering relcache invalidations.
pub fn policy_table_oids() -> Option<[Oid; 2]> {
    Some([table_oid(c"policies")?, table_oid(c"active_policies")?])
}

/// Stores a new version of a policy and returns its number, the next after
/// the newest stored.
///
/// Concurrent publishes of one layer are ordered by the version key itself:
/// a second publisher's insert of the same number waits for the first to end
/// and, once it has committed, finds the number taken and tries the next.
/// No lock is taken that another role could take first, so no tenant can
/// hold up another's publishing, or its own beyond its own transaction.
pub fn insert_version(
    layer: LayerKind,
    tenant_id: Option<&str>,
    source: &str,
    created_by: &str,
) -> i32 {
    const ATTEMPTS: usize = 100;
    for _ in 0..ATTEMPTS {
        // Each attempt is a statement with a snapshot of its own (under READ
        // COMMITTED); under REPEATABLE READ a conflict with a version this
        // transaction cannot see raises serialization_failure instead.
        let version = Spi::get_one_with_args::<i32>(
            "INSERT INTO authensor.policies (layer, tenant_id, version, source, digest, created_by)
             SELECT $1, $2, coalesce(max(version), 0) + 1, $3, sha256(convert_to($3, 'UTF8')), $4
               FROM authensor.policies
              WHERE layer = $1 AND coalesce(tenant_id, '') = coalesce($2, '')
             ON CONFLICT (layer, (coalesce(tenant_id, '')), version) DO NOTHING
             RETURNING version",
            &[
                layer.as_str().into(),
                tenant_id.into(),
                source.into(),
                created_by.into(),
            ],
        );
        match version {
            Ok(Some(version)) => return version,
            Ok(None) | Err(pgrx::spi::SpiError::InvalidPosition) => continue,
            Err(error) => raise_spi("store the policy version", error),
        }
    }
    raise(
        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        "too many concurrent publishes of this policy",
        Some("Retry the transaction."),
    )
}

/// Makes `version` the one in force and announces it on `authensor_policy`
/// (delivered to listeners only if the transaction commits).
pub fn activate_version(
    layer: LayerKind,
    tenant_id: Option<&str>,
    version: i32,
    activated_by: &str,
) {
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM authensor.policies
                         WHERE layer = $1 AND coalesce(tenant_id, '') = coalesce($2, '') AND version = $3)",
        &[layer.as_str().into(), tenant_id.into(), version.into()],
    )
    .unwrap_or_else(|e| raise_spi("look up the policy version", e))
    .unwrap_or(false);
    if !exists {
        let owner = match tenant_id {
            Some(tenant) => format!("tenant \"{tenant}\""),
            None => "the platform".to_owned(),
        };
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("{owner} has no {} policy version {version}", layer.as_str()),
            Some("authensor.policy_versions lists the versions that exist."),
        )
    }
    let payload = serde_json::json!({
        "layer": layer.as_str(),
        "tenantId": tenant_id,
        "version": version,
    })
    .to_string();
    Spi::run_with_args(
        "INSERT INTO authensor.active_policies AS a (layer, tenant_id, version, activated_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (layer, (coalesce(tenant_id, '')))
         DO UPDATE SET version = excluded.version,
                       activated_at = clock_timestamp(),
                       activated_by = excluded.activated_by",
        &[
            layer.as_str().into(),
            tenant_id.into(),
            version.into(),
            activated_by.into(),
        ],
    )
    .unwrap_or_else(|e| raise_spi("activate the policy version", e));
    Spi::run_with_args(
        "SELECT authensor.announce('authensor_policy', $1)",
        &[payload.into()],
    )
    .unwrap_or_else(|e| raise_spi("announce the policy change", e));
}
