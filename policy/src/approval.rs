//! What an escalating rule asks of its approval: how many distinct approvers,
//! and how long it stays usable.

use std::num::{NonZeroU8, NonZeroU32};

use crate::duration;
use crate::error::PolicyError;

/// Most approvers a rule may require.
pub const MAX_APPROVERS: u8 = 16;

/// Longest expiry a rule may set, in seconds (as `authensor.approval_ttl`).
pub const MAX_EXPIRY_SECONDS: u32 = 7 * 86_400;

/// A rule's `approval:` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApprovalTerms {
    /// Distinct approvers needed before the approval can be consumed.
    pub required: NonZeroU8,
    /// Seconds the approval stays usable; `None` leaves it to
    /// `authensor.approval_ttl`.
    pub expires_seconds: Option<NonZeroU32>,
    /// Whether the approval must also expire within `authensor.approval_ttl`:
    /// set when both layers escalate and one of them left its expiry to that
    /// setting, so that neither layer lengthens what the other asks.
    pub capped_by_ttl: bool,
}

impl Default for ApprovalTerms {
    fn default() -> Self {
        ApprovalTerms {
            required: NonZeroU8::MIN,
            expires_seconds: None,
            capped_by_ttl: false,
        }
    }
}

impl ApprovalTerms {
    /// Terms asking what both `a` and `b` ask: the most approvers and the
    /// shorter expiry (`None` stands for the defaults: one approver, expiry
    /// by `authensor.approval_ttl`, which then caps the other's expiry).
    pub fn stricter(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        if a.is_none() && b.is_none() {
            return None;
        }
        let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
        let expires_seconds = match (a.expires_seconds, b.expires_seconds) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let either_left_it_to_ttl = a.expires_seconds.is_none() || b.expires_seconds.is_none();
        Some(ApprovalTerms {
            required: a.required.max(b.required),
            expires_seconds,
            capped_by_ttl: expires_seconds.is_some()
                && (a.capped_by_ttl || b.capped_by_ttl || either_left_it_to_ttl),
        })
    }
}

/// Checks `required: N`.
pub(crate) fn required(count: Option<i64>) -> Result<NonZeroU8, PolicyError> {
    count
        .filter(|count| (1..=i64::from(MAX_APPROVERS)).contains(count))
        .and_then(|count| u8::try_from(count).ok())
        .and_then(NonZeroU8::new)
        .ok_or_else(|| {
            PolicyError::invalid(format!(
                "approval.required must be a whole number from 1 to {MAX_APPROVERS}"
            ))
        })
}

/// Reads a duration such as `90s`, `30m`, `12h` or `2d` (a bare number is
/// seconds) into seconds, from 1 second to [`MAX_EXPIRY_SECONDS`].
pub fn parse_duration(text: &str) -> Result<NonZeroU32, PolicyError> {
    let seconds = duration::seconds(text, true).ok_or_else(|| {
        PolicyError::invalid(format!("{text:?} is not a duration"))
            .with_hint("write a whole number followed by s, m, h or d, as in 30m")
    })?;
    u32::try_from(seconds)
        .ok()
        .filter(|seconds| *seconds <= MAX_EXPIRY_SECONDS)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            PolicyError::invalid(format!(
                "approval.expires must be from 1s to 7d, not {text:?}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds() {
        let seconds = |text| parse_duration(text).map(NonZeroU32::get);
        assert_eq!(seconds("90").unwrap(), 90);
        assert_eq!(seconds("45s").unwrap(), 45);
        assert_eq!(seconds("30m").unwrap(), 1_800);
        assert_eq!(seconds("12h").unwrap(), 43_200);
        assert_eq!(seconds("7d").unwrap(), 604_800);
        for bad in [
            "",
            "m",
            "0s",
            "8d",
            "1.5h",
            "-1m",
            "30 m",
            "30min",
            "99999999999s",
        ] {
            assert!(seconds(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn required_counts_stay_in_range() {
        assert_eq!(required(Some(2)).unwrap().get(), 2);
        assert_eq!(required(Some(16)).unwrap().get(), 16);
        for bad in [None, Some(0), Some(17), Some(-1)] {
            assert!(required(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
