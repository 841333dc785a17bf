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

/// A version in force, or the shadow version of its layer, as stored: which
/// row, and the digest of its source.
pub struct ActiveHead {
    pub layer: LayerKind,
    pub tenant_id: Option<String>,
    pub version: i32,
    pub digest: Vec<u8>,
    /// The shadow version of its layer (shadow.rs), not the active one.
    pub shadow: bool,
}

/// The active and shadow platform versions and the active and shadow
/// versions of `tenant_id`.
pub fn active_heads(tenant_id: &str) -> Vec<ActiveHead> {
    // The versions of every layer and tenant, joined to their digests.
    macro_rules! heads_of {
        ($versions:literal) => {
            concat!(
                "SELECT a.layer, a.tenant_id, a.version, p.digest, a.shadow FROM ",
                $versions,
                " a JOIN authensor.policies p
                   ON p.layer = a.layer
                  AND coalesce(p.tenant_id, '') = coalesce(a.tenant_id, '')
                  AND p.version = a.version
                WHERE (a.layer, coalesce(a.tenant_id, '')) IN (('platform', ''), ('tenant', $1))"
            )
        };
    }
    const QUERY: &str = heads_of!(
        "(SELECT layer, tenant_id, version, false AS shadow FROM authensor.active_policies
          UNION ALL
          SELECT layer, tenant_id, version, true FROM authensor.shadow_policies)"
    );
    // Until ALTER EXTENSION UPDATE to 0.5.0 there are no shadow versions.
    const BEFORE_SHADOWS: &str = heads_of!(
        "(SELECT layer, tenant_id, version, false AS shadow FROM authensor.active_policies)"
    );
    let query = match table_oid(c"shadow_policies") {
        Some(_) => QUERY,
        None => BEFORE_SHADOWS,
    };
    let result = plans::pinned(|| {
        plans::read(query, &[tenant_id.into()], |rows| {
            let mut heads = Vec::with_capacity(2);
            for row in rows {
                let layer: String = row.get(1)?.unwrap_or_default();
                heads.push(ActiveHead {
                    layer: LayerKind::parse(&layer),
                    tenant_id: row.get(2)?,
                    version: row.get(3)?.unwrap_or_default(),
                    digest: row.get(4)?.unwrap_or_default(),
                    shadow: row.get(5)?.unwrap_or_default(),
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

/// Whether authensor.receipts (`table`) is of 0.5.0 or later, and so has the
/// shadow columns (shadow.rs).
pub fn receipts_record_shadows(table: Oid) -> bool {
    catalog::has_column(table, c"shadow_action")
}

/// Oids of `authensor.policies`, `authensor.active_policies` and
/// `authensor.shadow_policies` (none before 0.5.0), for filtering relcache
/// invalidations.
pub fn policy_table_oids() -> Option<[Option<Oid>; 3]> {
    Some([
        Some(table_oid(c"policies")?),
        Some(table_oid(c"active_policies")?),
        table_oid(c"shadow_policies"),
    ])
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
    // The shadow, once promoted, has nothing left to be compared with
    // (there are none before 0.5.0).
    if table_oid(c"shadow_policies").is_some() {
        remove_shadow(layer, tenant_id, Some(version));
    }
    announce(&payload);
}

fn announce(payload: &str) {
    Spi::run_with_args(
        "SELECT authensor.announce('authensor_policy', $1)",
        &[payload.into()],
    )
    .unwrap_or_else(|e| raise_spi("announce the policy change", e));
}

/// Makes `version`, just stored, the shadow version of its layer, in place
/// of any other, and announces it as activation does, marked `"shadow": true`.
pub fn shadow_version(layer: LayerKind, tenant_id: Option<&str>, version: i32, shadowed_by: &str) {
    Spi::run_with_args(
        "INSERT INTO authensor.shadow_policies AS s (layer, tenant_id, version, shadowed_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (layer, (coalesce(tenant_id, '')))
         DO UPDATE SET version = excluded.version,
                       shadowed_at = clock_timestamp(),
                       shadowed_by = excluded.shadowed_by",
        &[
            layer.as_str().into(),
            tenant_id.into(),
            version.into(),
            shadowed_by.into(),
        ],
    )
    .unwrap_or_else(|e| raise_spi("store the shadow version", e));
    announce(&shadow_payload(layer, tenant_id, Some(version)));
}

/// Removes the shadow version of a layer; returns it, or `None` if there
/// was none.
pub fn clear_shadow(layer: LayerKind, tenant_id: Option<&str>) -> Option<i32> {
    remove_shadow(layer, tenant_id, None)
}

/// Removes the shadow version of a layer, if it is `only` (any, given
/// `None`), and announces that the layer has none; returns it, or `None` if
/// nothing was removed.
fn remove_shadow(layer: LayerKind, tenant_id: Option<&str>, only: Option<i32>) -> Option<i32> {
    // Without a row limit: a DELETE stopped at its first returned row would
    // never reach its AFTER STATEMENT trigger, and so would invalidate no
    // cache.
    let cleared = Spi::connect_mut(|client| {
        let rows = client.update(
            "DELETE FROM authensor.shadow_policies
              WHERE layer = $1 AND coalesce(tenant_id, '') = coalesce($2, '')
                AND ($3::integer IS NULL OR version = $3)
             RETURNING version",
            None,
            &[layer.as_str().into(), tenant_id.into(), only.into()],
        )?;
        match rows.is_empty() {
            true => Ok(None),
            false => rows.first().get_one::<i32>(),
        }
    })
    .unwrap_or_else(|e| raise_spi("clear the shadow version", e));
    if cleared.is_some() {
        announce(&shadow_payload(layer, tenant_id, None));
    }
    cleared
}

fn shadow_payload(layer: LayerKind, tenant_id: Option<&str>, version: Option<i32>) -> String {
    serde_json::json!({
        "layer": layer.as_str(),
        "tenantId": tenant_id,
        "version": version,
        "shadow": true,
    })
    .to_string()
}
