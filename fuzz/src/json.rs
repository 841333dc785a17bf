//! JSON text built from the fuzzer's bytes, for a request's args and
//! context: deep and wide values, long strings of any Unicode, numbers of
//! any size and precision, and keys the seed policies look at.

use std::fmt::Write as _;

use crate::bytes::Bytes;

const KEYS: &[&str] = &[
    "x", "a", "b", "c", "n", "to", "body", "query", "path", "amount", "currency", "user", "role",
    "id", "tenantId", "limit", "text", "tags", "", "\u{e9}", "x.y", "0",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "0.1",
    "10.50",
    "1e2",
    "1E+2",
    "1e400",
    "-1e400",
    "1e-400",
    "0.1000000000000000000001",
    "123456789012345678901234567890",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1e999999999",
    "1e-999999999",
    "5e-324",
    "1.7976931348623157e308",
];

const STRINGS: &[&str] = &[
    "",
    "yes",
    "tenant-a",
    "tenant-b",
    "bob@tenant-a.com",
    "@tenant-a.com",
    "/workspace/tenant-a/",
    "tenant_id = 'tenant-a'",
    "${context.tenantId}",
    "email.send",
    "\u{0}",
    "\u{e9}\u{1f600}",
    "\u{202e}",
    "admin",
    "USD",
];

/// Appends a value of at most `depth` levels of recursion (deep nesting is
/// built in a loop, not by recursion).
pub fn value(bytes: &mut Bytes, depth: usize, out: &mut String) {
    let kind = if depth == 0 {
        bytes.byte() % 6
    } else {
        bytes.byte() % 11
    };
    match kind {
        0 => out.push_str("null"),
        1 => out.push_str(if bytes.coin() { "true" } else { "false" }),
        2 => out.push_str(bytes.pick_str(NUMBERS)),
        3 => number(bytes, out),
        4 => out.push_str(&quote(bytes.pick_str(STRINGS))),
        5 => out.push_str(&quote(&text(bytes))),
        6 => {
            out.push('[');
            for n in 0..bytes.below(8) {
                if n > 0 {
                    out.push(',');
                }
                value(bytes, depth - 1, out);
            }
            out.push(']');
        }
        7 => object(bytes, depth - 1, out),
        8 => {
            // Deep: up to 4,000 levels of arrays or objects.
            let levels = bytes.below(4_000);
            let array = bytes.coin();
            let key = quote(bytes.pick_str(KEYS));
            for _ in 0..levels {
                if array {
                    out.push('[');
                } else {
                    let _ = write!(out, "{{{key}:");
                }
            }
            value(bytes, 0, out);
            for _ in 0..levels {
                out.push(if array { ']' } else { '}' });
            }
        }
        9 => {
            // Wide: up to 2,000 copies of one scalar.
            let mut item = String::new();
            value(bytes, 0, &mut item);
            let copies = bytes.below(2_000);
            out.push('[');
            for n in 0..copies {
                if n > 0 {
                    out.push(',');
                }
                out.push_str(&item);
            }
            out.push(']');
        }
        _ => {
            // A long string of one character.
            let c = char::from_u32(u32::from(bytes.u16())).unwrap_or('x');
            let times = bytes.below(20_000);
            out.push_str(&quote(&c.to_string().repeat(times)));
        }
    }
}

/// An object whose keys are mostly those the policies read.
pub fn object(bytes: &mut Bytes, depth: usize, out: &mut String) {
    out.push('{');
    for n in 0..bytes.below(6) {
        if n > 0 {
            out.push(',');
        }
        let key = if bytes.byte().is_multiple_of(4) {
            text(bytes)
        } else {
            bytes.pick_str(KEYS).to_string()
        };
        out.push_str(&quote(&key));
        out.push(':');
        value(bytes, depth, out);
    }
    out.push('}');
}

/// A number of up to a few hundred digits, a fraction and an exponent.
fn number(bytes: &mut Bytes, out: &mut String) {
    if bytes.coin() {
        out.push('-');
    }
    let digits = 1 + bytes.below(300);
    let seed = bytes.byte();
    out.push(char::from(b'1' + seed % 9));
    for n in 1..digits {
        out.push(char::from(
            b'0' + ((usize::from(seed) * 7 + n * 13) % 10) as u8,
        ));
    }
    if bytes.coin() {
        let _ = write!(out, ".{}", bytes.u16());
    }
    if bytes.coin() {
        let _ = write!(
            out,
            "e{}",
            i32::from(bytes.u16() as i16) * i32::from(bytes.byte())
        );
    }
}

/// Text of any Unicode characters, from the bytes.
fn text(bytes: &mut Bytes) -> String {
    let len = bytes.below(24);
    (0..len)
        .map(|_| {
            let wide = u32::from(bytes.u16()) << (bytes.byte() % 6);
            char::from_u32(wide).unwrap_or('\u{fffd}')
        })
        .collect()
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}
