//! A receipt's fields, their canonical encoding (the leaf of the chain) and
//! the links that join the leaves of one tenant.
//!
//! Leaf: SHA-256 of
//!
//! ```text
//! "authensor.receipt.v1" 0x00
//! then, for each field in this order, its length as 4 bytes big-endian and
//! its bytes, or 0xFFFFFFFF alone for an absent (NULL) field:
//!   id                16 bytes
//!   tenant_id         UTF-8
//!   created_at        8 bytes, microseconds since 2000-01-01 00:00 UTC (PostgreSQL's
//!                     timestamp), signed, big-endian
//!   tool              UTF-8
//!   args              canonical JSON (see json.rs)
//!   context           canonical JSON
//!   action            UTF-8
//!   reason            UTF-8
//!   layer             UTF-8
//!   rule_id           UTF-8
//!   platform_version  4 bytes, signed, big-endian
//!   tenant_version    4 bytes, signed, big-endian
//!   approval_id       16 bytes
//!   committed         1 byte, 1 or 0
//! ```
//!
//! Link n: SHA-256 of `"authensor.chain.v1" 0x00`, link n-1 (32 zero bytes
//! before the first), n as 8 bytes big-endian, leaf n.

use crate::json::{Json, JsonError};
use sha2::{Digest, Sha256};

/// A SHA-256 value.
pub type Hash = [u8; 32];

/// The link before a tenant's first receipt.
pub const GENESIS: Hash = [0; 32];

/// One receipt, as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub id: [u8; 16],
    pub tenant_id: String,
    /// Microseconds since 2000-01-01 00:00 UTC, as PostgreSQL stores a
    /// timestamp.
    pub created_at: i64,
    pub tool: String,
    /// Canonical JSON.
    pub args: Vec<u8>,
    /// Canonical JSON.
    pub context: Vec<u8>,
    pub action: String,
    pub reason: String,
    pub layer: String,
    pub rule_id: Option<String>,
    pub platform_version: Option<i32>,
    pub tenant_version: Option<i32>,
    /// The approval this decision opened, if any.
    pub approval_id: Option<[u8; 16]>,
    /// False for a decision whose transaction or savepoint rolled back.
    pub committed: bool,
}

impl Receipt {
    /// Canonical JSON of `args` and `context` given as JSON text.
    pub fn canonical_json(text: &str) -> Result<Vec<u8>, JsonError> {
        Ok(Json::parse(text)?.canonical())
    }

    /// The bytes the leaf hashes.
    pub fn encoding(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            96 + self.tenant_id.len()
                + self.tool.len()
                + self.args.len()
                + self.context.len()
                + self.reason.len(),
        );
        out.extend_from_slice(b"authensor.receipt.v1\0");
        field(&mut out, Some(&self.id[..]));
        field(&mut out, Some(self.tenant_id.as_bytes()));
        field(&mut out, Some(&self.created_at.to_be_bytes()[..]));
        field(&mut out, Some(self.tool.as_bytes()));
        field(&mut out, Some(&self.args[..]));
        field(&mut out, Some(&self.context[..]));
        field(&mut out, Some(self.action.as_bytes()));
        field(&mut out, Some(self.reason.as_bytes()));
        field(&mut out, Some(self.layer.as_bytes()));
        field(&mut out, self.rule_id.as_deref().map(str::as_bytes));
        field(
            &mut out,
            self.platform_version
                .map(i32::to_be_bytes)
                .as_ref()
                .map(|b| &b[..]),
        );
        field(
            &mut out,
            self.tenant_version
                .map(i32::to_be_bytes)
                .as_ref()
                .map(|b| &b[..]),
        );
        field(&mut out, self.approval_id.as_ref().map(|id| &id[..]));
        field(&mut out, Some(&[u8::from(self.committed)][..]));
        out
    }

    /// The receipt's leaf hash.
    pub fn leaf(&self) -> Hash {
        Sha256::digest(self.encoding()).into()
    }
}

fn field(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(bytes) => {
            // Receipts are far below 4 GiB: jsonb and text stop at 1 GiB.
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    }
}

/// Link `seq` of a chain whose previous link is `previous`.
pub fn link(previous: &Hash, seq: i64, leaf: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"authensor.chain.v1\0");
    hasher.update(previous);
    hasher.update(seq.to_be_bytes());
    hasher.update(leaf);
    hasher.finalize().into()
}

/// `micros` (since 2000-01-01 00:00 UTC) as `YYYY-MM-DDTHH:MM:SS.ffffffZ`,
/// the form of an export's `created_at`.
pub fn format_utc(micros: i64) -> String {
    const DAY: i64 = 86_400_000_000;
    let (days, time) = (micros.div_euclid(DAY), micros.rem_euclid(DAY));
    // Days since 2000-03-01, then the civil date (Howard Hinnant's algorithm).
    let shifted = days - 60;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = 2000 + era * 400 + year_of_era + i64::from(month <= 2);
    let seconds = time / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        time % 1_000_000
    )
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// The bytes of hex text (either case), if it is hex of exactly N bytes.
/// Hyphens are skipped, so a UUID's text reads as its 16 bytes.
pub fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *slot = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Receipt {
        Receipt {
            id: [7; 16],
            tenant_id: "tenant-a".into(),
            created_at: 1_796_000_000_000_000,
            tool: "email.send".into(),
            args: br#"{"to":"x@gmail.com"}"#.to_vec(),
            context: br#"{"tenantId":"tenant-a"}"#.to_vec(),
            action: "block".into(),
            reason: "external mail".into(),
            layer: "platform".into(),
            rule_id: Some("no-external".into()),
            platform_version: Some(3),
            tenant_version: None,
            approval_id: None,
            committed: true,
        }
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let base = sample().leaf();
        let changes: Vec<fn(&mut Receipt)> = vec![
            |r| r.id[15] = 8,
            |r| r.tenant_id.push('x'),
            |r| r.created_at += 1,
            |r| r.tool.push('x'),
            |r| r.args = br#"{"to":"y@gmail.com"}"#.to_vec(),
            |r| r.context = b"{}".to_vec(),
            |r| r.action = "allow".into(),
            |r| r.reason.push('x'),
            |r| r.layer = "tenant".into(),
            |r| r.rule_id = None,
            |r| r.rule_id = Some(String::new()),
            |r| r.platform_version = Some(4),
            |r| r.platform_version = None,
            |r| r.tenant_version = Some(0),
            |r| r.approval_id = Some([0; 16]),
            |r| r.committed = false,
        ];
        for (index, change) in changes.into_iter().enumerate() {
            let mut receipt = sample();
            change(&mut receipt);
            assert_ne!(
                receipt.leaf(),
                base,
                "change {index} left the leaf as it was"
            );
        }
    }

    #[test]
    fn fields_cannot_bleed_into_each_other() {
        // The same concatenated text split differently gives another leaf.
        let mut a = sample();
        a.tool = "email.sendx".into();
        a.action = "y".into();
        let mut b = sample();
        b.tool = "email.send".into();
        b.action = "xy".into();
        assert_ne!(a.leaf(), b.leaf());
    }

    #[test]
    fn links_depend_on_order_position_and_previous() {
        let (one, two) = (sample().leaf(), {
            let mut r = sample();
            r.id[0] = 1;
            r.leaf()
        });
        let forward = link(&link(&GENESIS, 1, &one), 2, &two);
        let swapped = link(&link(&GENESIS, 1, &two), 2, &one);
        assert_ne!(forward, swapped);
        assert_ne!(link(&GENESIS, 1, &one), link(&GENESIS, 2, &one));
        assert_ne!(link(&GENESIS, 1, &one), link(&one, 1, &one));
    }

    #[test]
    fn times_read_as_postgresql_prints_them_in_utc() {
        assert_eq!(format_utc(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(format_utc(-1), "1999-12-31T23:59:59.999999Z");
        assert_eq!(format_utc(5_108_400_000_000), "2000-02-29T03:00:00.000000Z");
        // 2026-11-29 10:13:20.123456 UTC
        assert_eq!(
            format_utc(849_262_400_123_456),
            "2026-11-29T10:13:20.123456Z"
        );
        assert_eq!(
            format_utc(-946_684_800_000_000),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn hex_round_trips() {
        let id = from_hex::<16>("0190f5e2-7c1a-7b3e-8a4f-1234567890AB").unwrap();
        assert_eq!(to_hex(&id), "0190f5e27c1a7b3e8a4f1234567890ab");
        assert!(from_hex::<16>("0190").is_none());
        assert!(from_hex::<2>("zz00").is_none());
    }
}
