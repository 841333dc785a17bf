//! The export format: one JSON object per line (NDJSON), as
//! `authensor.export_receipts()` returns them, in chain order:
//!
//! ```text
//! {"seq": 12, "prev": "<hex>", "leaf": "<hex>", "link": "<hex>",
//!  "id": "<uuid>", "tenant_id": "…", "created_at": "…", "created_at_us": 1796…,
//!  "tool": "…", "args": {…}, "context": {…}, "action": "…", "reason": "…",
//!  "layer": "…", "rule_id": "…" | null, "platform_version": 3 | null,
//!  "tenant_version": 1 | null, "approval_id": "<uuid>" | null, "committed": true}
//! ```
//!
//! `prev` is the link before this one, so an export that starts in the
//! middle of a chain can be verified from an earlier head. `created_at_us`
//! (microseconds since 2000-01-01 00:00 UTC, PostgreSQL's own timestamp) is
//! what the leaf hashes; `created_at` is the same instant for people, in UTC
//! (`2026-11-29T10:13:20.123456Z`), and must agree with it.

use crate::json::{Json, JsonRef};
use crate::receipt::{Hash, Receipt, from_hex};
use crate::verify::Entry;

/// The fields of a line, and no others.
const FIELDS: [&str; 20] = [
    "seq",
    "prev",
    "leaf",
    "link",
    "id",
    "tenant_id",
    "created_at",
    "created_at_us",
    "tool",
    "args",
    "context",
    "action",
    "reason",
    "layer",
    "rule_id",
    "platform_version",
    "tenant_version",
    "approval_id",
    "committed",
    "sealed_at",
];

/// One exported line: a chain entry and the link before it.
#[derive(Debug, Clone)]
pub struct Line {
    pub previous: Hash,
    pub entry: Entry,
}

/// Reads one exported line.
pub fn parse_line(text: &str) -> Result<Line, String> {
    let json = Json::parse(text).map_err(|error| error.to_string())?;
    let members = json.members().ok_or("a line is not a JSON object")?;
    if let Some((key, _)) = members.iter().find(|(key, _)| !FIELDS.contains(key)) {
        return Err(format!("\"{key}\" is not a field of an exported receipt"));
    }
    let get = |name: &str| -> Result<JsonRef<'_>, String> {
        members
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| format!("\"{name}\" is missing"))
    };
    let text = |name: &str| -> Result<String, String> {
        get(name)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("\"{name}\" is not a string"))
    };
    let optional_text = |name: &str| -> Result<Option<String>, String> {
        let value = get(name)?;
        if value.is_null() {
            Ok(None)
        } else {
            text(name).map(Some)
        }
    };
    let integer = |name: &str| -> Result<i64, String> {
        get(name)?
            .as_i64()
            .ok_or_else(|| format!("\"{name}\" is not an integer"))
    };
    let optional_i32 = |name: &str| -> Result<Option<i32>, String> {
        let value = get(name)?;
        if value.is_null() {
            return Ok(None);
        }
        value
            .as_i64()
            .and_then(|value| i32::try_from(value).ok())
            .map(Some)
            .ok_or_else(|| format!("\"{name}\" is not a 32-bit integer"))
    };
    let hash = |name: &str| -> Result<Hash, String> {
        from_hex::<32>(&text(name)?).ok_or_else(|| format!("\"{name}\" is not a SHA-256 in hex"))
    };
    let uuid = |name: &str, value: &str| -> Result<[u8; 16], String> {
        from_hex::<16>(value).ok_or_else(|| format!("\"{name}\" is not a UUID"))
    };
    let object = |name: &str| -> Result<Vec<u8>, String> {
        let value = get(name)?;
        if !value.is_object() {
            return Err(format!("\"{name}\" is not an object"));
        }
        Ok(value.canonical())
    };
    let created_at = integer("created_at_us")?;
    if text("created_at")? != crate::receipt::format_utc(created_at) {
        return Err("\"created_at\" is not the instant \"created_at_us\" holds".to_owned());
    }
    let receipt = Receipt {
        id: uuid("id", &text("id")?)?,
        tenant_id: text("tenant_id")?,
        created_at,
        tool: text("tool")?,
        args: object("args")?,
        context: object("context")?,
        action: text("action")?,
        reason: text("reason")?,
        layer: text("layer")?,
        rule_id: optional_text("rule_id")?,
        platform_version: optional_i32("platform_version")?,
        tenant_version: optional_i32("tenant_version")?,
        approval_id: optional_text("approval_id")?
            .map(|id| uuid("approval_id", &id))
            .transpose()?,
        committed: get("committed")?
            .as_bool()
            .ok_or("\"committed\" is not a boolean")?,
    };
    Ok(Line {
        previous: hash("prev")?,
        entry: Entry {
            seq: integer("seq")?,
            receipt_id: receipt.id,
            receipt: Some(receipt),
            leaf: hash("leaf")?,
            link: hash("link")?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receipt::{GENESIS, link, to_hex};

    #[test]
    fn a_line_reads_back_the_receipt_it_was_made_from() {
        let line = r#"{"seq": 1, "prev": "PREV", "leaf": "LEAF", "link": "LINK",
            "id": "07070707-0707-0707-0707-070707070707", "tenant_id": "tenant-a",
            "created_at": "2056-11-29T00:53:20.000000Z", "created_at_us": 1796000000000000,
            "tool": "email.send", "args": {"to": "x@gmail.com"},
            "context": {"tenantId": "tenant-a"}, "action": "block",
            "reason": "external mail", "layer": "platform", "rule_id": "no-external",
            "platform_version": 3, "tenant_version": null, "approval_id": null,
            "committed": true}"#;
        let receipt = crate::receipt::tests::sample();
        let leaf = receipt.leaf();
        let line = line
            .replace("PREV", &to_hex(&GENESIS))
            .replace("LEAF", &to_hex(&leaf))
            .replace("LINK", &to_hex(&link(&GENESIS, 1, &leaf)));
        let parsed = parse_line(&line).unwrap();
        assert_eq!(parsed.entry.receipt, Some(receipt));
        assert_eq!(parsed.entry.leaf, leaf);
    }

    #[test]
    fn a_line_whose_readable_time_was_edited_is_refused() {
        let line = r#"{"created_at": "2020-01-01T00:00:00.000000Z", "created_at_us": 0}"#;
        assert!(parse_line(line).unwrap_err().contains("not the instant"));
    }

    #[test]
    fn a_line_with_a_field_of_its_own_is_refused() {
        let line = r#"{"note": "approved by the CEO"}"#;
        assert!(
            parse_line(line)
                .unwrap_err()
                .contains("\"note\" is not a field")
        );
    }

    #[test]
    fn names_what_is_wrong_with_a_line() {
        assert!(parse_line("[]").unwrap_err().contains("not a JSON object"));
        assert!(
            parse_line("{}")
                .unwrap_err()
                .contains("\"created_at_us\" is missing")
        );
    }
}
