//! API keys: the way an untrusted role proves which tenant it acts for.
//!
//! A key reads `ak_<key id>_<secret>`: 32 hex digits naming the row, then 64
//! hex digits (256 random bits) of secret. Only the SHA-256 of the secret is
//! stored, in a table no role can read; the key itself is shown once, by
//! create_api_key(). A secret of 256 random bits needs no slow hash.

use crate::errors::{corrupted, raise, raise_spi, required};
use crate::pg::{backend, xact};
use crate::tenant::{
    Scope, bind_for_transaction, caller_name, refuse_agent, require_admin, validate_tenant_id,
};
use pgrx::datum::Uuid;
use pgrx::prelude::*;
use std::fmt::Write;

const PREFIX: &str = "ak_";
const SECRET_BYTES: usize = 32;

/// Creates a key for `tenant_id` with `scope` (`agent` unless named) and
/// returns it. The key is not stored and cannot be shown again. EXECUTE is
/// revoked from PUBLIC: this is the operator's.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn create_api_key(
    tenant_id: Option<&str>,
    label: default!(Option<&str>, "NULL"),
    scope: default!(Option<&str>, "'agent'"),
) -> String {
    refuse_agent("create_api_key");
    let tenant_id = required(tenant_id, "create_api_key", "tenant_id");
    validate_tenant_id(tenant_id);
    let scope = required(scope, "create_api_key", "scope");
    let scope = Scope::parse(scope).unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("invalid API key scope \"{scope}\""),
            Some("A key is either 'agent' (decides) or 'admin' (governs its tenant)."),
        )
    });
    issue(tenant_id, label, scope)
}

/// Creates an agent key for the current tenant: for an admin key or a
/// trusted application server acting for the tenant.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn create_agent_key(label: default!(Option<&str>, "NULL")) -> String {
    let tenant_id = require_admin("create_agent_key");
    issue(&tenant_id, label, Scope::Agent)
}

/// Revokes a key by its id (the `id` column of authensor.api_keys). Returns
/// false when it was already revoked. EXECUTE is revoked from PUBLIC.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn revoke_api_key(key_id: Option<Uuid>) -> bool {
    refuse_agent("revoke_api_key");
    let key_id = required(key_id, "revoke_api_key", "key_id");
    revoke(key_id, None)
}

/// Revokes one of the current tenant's agent keys: for an admin key or a
/// trusted application server acting for the tenant.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn revoke_agent_key(key_id: Option<Uuid>) -> bool {
    let tenant_id = require_admin("revoke_agent_key");
    let key_id = required(key_id, "revoke_agent_key", "key_id");
    revoke(key_id, Some(&tenant_id))
}

fn issue(tenant_id: &str, label: Option<&str>, scope: Scope) -> String {
    let secret = random_hex(SECRET_BYTES);
    let key_id = Spi::connect_mut(|client| {
        let key_id = client
            .update(
                "INSERT INTO authensor.api_keys (tenant_id, label, scope, created_by)
                 VALUES ($1, $2, $3, $4) RETURNING id",
                Some(1),
                &[
                    tenant_id.into(),
                    label.into(),
                    scope.as_str().into(),
                    caller_name().into(),
                ],
            )?
            .first()
            .get_one::<Uuid>()?;
        client.update(
            "INSERT INTO authensor.api_key_hashes (key_id, secret_hash)
             VALUES ($1, sha256(convert_to($2, 'UTF8')))",
            None,
            &[key_id.into(), secret.as_str().into()],
        )?;
        Ok::<_, pgrx::spi::SpiError>(key_id)
    })
    .unwrap_or_else(|e| raise_spi("store the API key", e))
    .unwrap_or_else(|| raise_spi("store the API key", pgrx::spi::SpiError::NoTupleTable));
    format!("{PREFIX}{}_{secret}", hex(key_id.as_bytes()))
}

/// Revokes `key_id`; with `tenant_id`, only an agent key of that tenant.
fn revoke(key_id: Uuid, tenant_id: Option<&str>) -> bool {
    let revoked_now = Spi::get_one_with_args::<bool>(
        "WITH target AS (SELECT id, revoked_at FROM authensor.api_keys
                          WHERE id = $1 AND ($3::text IS NULL OR (tenant_id = $3 AND scope = 'agent'))
                            FOR UPDATE),
              revoked AS (UPDATE authensor.api_keys k SET revoked_at = clock_timestamp(), revoked_by = $2
                            FROM target WHERE k.id = target.id AND target.revoked_at IS NULL RETURNING k.id)
         SELECT EXISTS (SELECT FROM revoked) FROM target",
        &[key_id.into(), caller_name().into(), tenant_id.into()],
    );
    // No row at all when no key matched.
    let revoked_now = match revoked_now {
        Err(pgrx::spi::SpiError::InvalidPosition) => None,
        other => other.unwrap_or_else(|e| raise_spi("revoke the API key", e)),
    };
    revoked_now.unwrap_or_else(|| {
        raise(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            match tenant_id {
                None => format!("API key {key_id} does not exist"),
                Some(tenant) => format!("tenant \"{tenant}\" has no agent key {key_id}"),
            },
            None,
        )
    })
}

/// Verifies `api_key` and binds its tenant to the current transaction.
/// Returns the tenant id. Unknown, malformed and revoked keys all fail the
/// same way, with SQLSTATE 28P01 and nothing said about which part was wrong.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn authenticate(api_key: Option<&str>) -> String {
    let parsed = api_key.and_then(parse_key);
    // Sessions of the same role (agents of other tenants among them) can
    // read this statement's text in pg_stat_activity while it runs and
    // after it ends: a key written in it as a literal must not stay there.
    if let (Some(key), Some(_)) = (api_key, &parsed) {
        backend::hide_in_activity(key, HIDDEN);
    }
    let (key_id, secret) = parsed.unwrap_or((Uuid::from_bytes([0; 16]), String::new()));
    let row = Spi::connect(|client| {
        let rows = client.select(
            "SELECT k.tenant_id, h.secret_hash, sha256(convert_to($2, 'UTF8')), k.revoked_at IS NULL, k.scope
               FROM authensor.api_keys k JOIN authensor.api_key_hashes h ON h.key_id = k.id
              WHERE k.id = $1",
            Some(1),
            &[key_id.into(), secret.as_str().into()],
        )?;
        match rows.into_iter().next() {
            Some(row) => Ok::<_, pgrx::spi::SpiError>(Some((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<Vec<u8>>(2)?.unwrap_or_default(),
                row.get::<Vec<u8>>(3)?.unwrap_or_default(),
                row.get::<bool>(4)?.unwrap_or(false),
                row.get::<String>(5)?.unwrap_or_default(),
            ))),
            None => Ok(None),
        }
    })
    .unwrap_or_else(|e| raise_spi("verify the API key", e));

    // Compare even when the key is unknown, so every failure costs the same.
    let (tenant_id, stored, presented, active, scope) = row.unwrap_or_else(|| {
        (
            String::new(),
            vec![0; 32],
            vec![1; 32],
            false,
            String::new(),
        )
    });
    let verified = constant_time_eq(&stored, &presented) & active & !secret.is_empty();
    if !verified {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_PASSWORD,
            "invalid API key",
            None,
        )
    }
    if !xact::in_transaction_block() {
        pgrx::warning!(
            "authensor.authenticate() outside a transaction block binds tenant \"{tenant_id}\" for this statement only"
        );
    }
    // The table's CHECK admits only known scopes; anything else binds nothing.
    let scope =
        Scope::parse(&scope).unwrap_or_else(|| corrupted("an API key has an unknown scope"));
    // An agent's transaction is one tenant's: what was decided in it (a
    // PL/pgSQL expression is decided once per transaction) was decided for
    // that tenant.
    if crate::statements::is_agent()
        && (crate::tenant::current_tenant().is_some_and(|bound| bound != tenant_id)
            || !crate::tenant::claim_agent_transaction(&tenant_id))
    {
        raise(
            PgSqlErrorCode::ERRCODE_INVALID_TRANSACTION_STATE,
            "an agent's transaction is bound to one tenant: authenticate() cannot switch it to another",
            Some("End the transaction, then authenticate with the other key in a new one."),
        )
    }
    bind_for_transaction(tenant_id.clone(), scope);
    tenant_id
}

fn parse_key(key: &str) -> Option<(Uuid, String)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    let is_hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex(id, 32) || !is_hex(secret, SECRET_BYTES * 2) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((Uuid::from_bytes(bytes), secret.to_ascii_lowercase()))
}

/// What a key is replaced with in pg_stat_activity.
pub const HIDDEN: &str = "<API key hidden>";

/// `text` with every API key in it replaced by `<API key ak_<id>… hidden
/// #<digest>>`: a statement's text and parameters as its receipt keeps them
/// (`authenticate('ak_…')` run where a tenant is already bound is decided
/// like any statement). The digest, 128 bits of SHA-256 of the key's secret,
/// keeps distinct keys distinct, so that an approval of a statement holding
/// one key never covers the same statement holding another; it tells
/// nothing usable about the secret.
pub fn hide_keys(text: &str) -> std::borrow::Cow<'_, str> {
    const KEY_LEN: usize = PREFIX.len() + 32 + 1 + SECRET_BYTES * 2;
    if !text.contains(PREFIX) {
        return text.into();
    }
    let mut hidden = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let candidate = rest[at..].get(..KEY_LEN);
        if let Some((id, secret)) = candidate.and_then(parse_key) {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(secret.as_bytes());
            hidden.push_str(&rest[..at]);
            let _ = write!(
                hidden,
                "<API key {PREFIX}{}… hidden #{}>",
                hex(id.as_bytes()),
                hex(&digest[..16])
            );
            rest = &rest[at + KEY_LEN..];
        } else {
            hidden.push_str(&rest[..at + PREFIX.len()]);
            rest = &rest[at + PREFIX.len()..];
        }
    }
    hidden.push_str(rest);
    hidden.into()
}

/// Equality whose running time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    if !backend::strong_random(&mut buffer) {
        raise(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "could not generate random bytes for the API key",
            None,
        )
    }
    hex(&buffer)
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::{constant_time_eq, hex, hide_keys, parse_key};

    #[test]
    fn keys_are_hidden_wherever_they_appear() {
        let id = "0123456789abcdef".repeat(2);
        let key = format!("ak_{id}_{}", "Ab".repeat(32));
        let text = format!("SELECT authensor.authenticate('{key}'), 'ak_', '{key}x' -- ak_1");
        let hidden = hide_keys(&text);
        assert!(!hidden.contains(&"Ab".repeat(32)), "{hidden}");
        let shown = hidden.split('\'').nth(1).unwrap().to_owned();
        assert!(
            shown.starts_with(&format!("<API key ak_{id}… hidden #")),
            "{shown}"
        );
        assert_eq!(
            hidden,
            format!("SELECT authensor.authenticate('{shown}'), 'ak_', '{shown}x' -- ak_1")
        );
        // Keys that differ in their secret stay distinct; hex digits' case
        // does not make another key.
        let other = format!("ak_{id}_{}", "cd".repeat(32));
        assert_ne!(hide_keys(&key), hide_keys(&other));
        assert_eq!(hide_keys(&key), hide_keys(&key.to_ascii_lowercase()));
        assert_eq!(hide_keys("SELECT 'ak_é'"), "SELECT 'ak_é'");
        assert_eq!(hide_keys(&key[..key.len() - 1]), &key[..key.len() - 1]);
    }

    #[test]
    fn keys_parse_only_in_their_exact_shape() {
        let id = "0123456789abcdef0123456789abcdef";
        let secret = "ab".repeat(32);
        let (uuid, parsed) = parse_key(&format!("ak_{id}_{secret}")).unwrap();
        assert_eq!(hex(uuid.as_bytes()), id);
        assert_eq!(parsed, secret);
        for bad in [
            String::new(),
            format!("ak_{id}"),
            format!("ak_{id}_{}", &secret[1..]),
            format!("xx_{id}_{secret}"),
            format!("ak_{}_{secret}", &id[1..]),
            format!("ak_{id}_{secret}_"),
            format!("ak_{}z_{secret}", &id[1..]),
            format!("ak_{id}_é{}", &secret[2..]),
        ] {
            assert!(parse_key(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn constant_time_eq_compares_whole_slices() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
