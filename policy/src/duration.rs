//! Durations as policies write them (`approval.expires`, `rate.per`): digits,
//! then `s`, `m`, `h` or `d`.

/// The seconds `text` stands for: digits then a unit, as in `30s`, `1m`,
/// `24h` or `7d`; with `bare_seconds`, digits alone are seconds too. `None`
/// when `text` is not written so, or its seconds overflow.
pub(crate) fn seconds(text: &str, bare_seconds: bool) -> Option<u64> {
    let at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(at);
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "" if bare_seconds => 1,
        _ => return None,
    };
    if digits.is_empty() {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn digits_then_a_unit() {
        for (text, expected) in [
            ("30s", 30),
            ("1m", 60),
            ("24h", 86_400),
            ("7d", 604_800),
            ("0s", 0),
        ] {
            assert_eq!(seconds(text, false), Some(expected), "{text}");
        }
        assert_eq!(seconds("90", true), Some(90));
        assert_eq!(seconds("90", false), None);
        for bad in [
            "",
            "m",
            "1.5m",
            "-1m",
            "1 m",
            "1w",
            "1mm",
            "99999999999999999999d",
            "4000000000000000000d",
            "٣m",
        ] {
            assert_eq!(seconds(bad, true), None, "{bad}");
        }
    }
}
