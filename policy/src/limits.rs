//! The bounds on an untrusted policy, and its tally against them while it is
//! read, so that a document too large by any measure is refused as soon as it
//! crosses a bound, before the rest of it is built.

use std::cell::Cell;

use crate::error::PolicyError;
use crate::interrupt;

/// Bounds that keep compiling and evaluating an untrusted policy cheap. All
/// counts are taken after YAML aliases are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted source, in bytes. YAML aliases may expand the document to
    /// at most this many nodes.
    pub max_source_bytes: usize,
    pub max_rules: usize,
    /// Deepest nesting of condition and operator maps, counting the `when` map as 1.
    pub max_depth: usize,
    /// Most memory the compiled policy may need, as estimated by
    /// [`Policy::approx_bytes`](crate::Policy::approx_bytes). Regular
    /// expressions count with the search caches they may grow.
    pub max_compiled_bytes: usize,
    /// Most operators (`equals`, `matches`, ...) across all rules.
    pub max_conditions: usize,
    /// Most `${context.<path>}` placeholders across all rules.
    pub max_interpolations: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 1_048_576,
            max_rules: 20_000,
            max_depth: 32,
            max_compiled_bytes: 16 << 20,
            max_conditions: 50_000,
            max_interpolations: 10_000,
        }
    }
}

/// How often, in YAML nodes, reading calls the interrupt hook.
const NODES_PER_INTERRUPT_CHECK: usize = 256;

/// What a policy being read has used of its [`Limits`].
pub(crate) struct Tally {
    limits: Limits,
    /// Nodes that may still be read; bounds what YAML aliases can expand to.
    nodes_left: Cell<usize>,
    conditions: Cell<usize>,
    interpolations: Cell<usize>,
    /// Estimated heap of the rules read so far and of the regexes compiled.
    bytes: Cell<usize>,
    /// A lower estimate for the nodes of the rule being read, so that a rule
    /// far too large is refused before it is complete.
    unsettled: Cell<usize>,
}

impl Tally {
    pub(crate) fn new(limits: Limits) -> Self {
        Tally {
            limits,
            nodes_left: Cell::new(limits.max_source_bytes),
            conditions: Cell::new(0),
            interpolations: Cell::new(0),
            bytes: Cell::new(0),
            unsettled: Cell::new(0),
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The estimated heap of the rules read so far and the regexes compiled.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.get()
    }

    pub(crate) fn spend_node(&self) -> Result<(), PolicyError> {
        let left = self.nodes_left.get().checked_sub(1).ok_or_else(|| {
            PolicyError::too_large(format!(
                "the policy expands to more than {} YAML nodes",
                self.limits.max_source_bytes
            ))
            .with_hint("YAML aliases repeat what they refer to; repeat less")
        })?;
        self.nodes_left.set(left);
        if left % NODES_PER_INTERRUPT_CHECK == 0 {
            interrupt::check();
        }
        Ok(())
    }

    pub(crate) fn spend_condition(&self) -> Result<(), PolicyError> {
        spend(&self.conditions, 1, self.limits.max_conditions).map_err(|limit| {
            PolicyError::too_large(format!(
                "the policy has more than {limit} conditions (max_conditions)"
            ))
            .with_hint(
                "every operator such as `equals` or `matches` counts, again each time a YAML alias repeats it; merge conditions, e.g. with `in`",
            )
        })
    }

    pub(crate) fn spend_interpolations(&self, count: usize) -> Result<(), PolicyError> {
        spend(&self.interpolations, count, self.limits.max_interpolations).map_err(|limit| {
            PolicyError::too_large(format!(
                "the policy has more than {limit} ${{context...}} placeholders (max_interpolations)"
            ))
            .with_hint("every placeholder counts, again each time a YAML alias repeats it")
        })
    }

    pub(crate) fn spend_bytes(&self, bytes: usize) -> Result<(), PolicyError> {
        self.charge(self.bytes.get().saturating_add(bytes), self.unsettled.get())
    }

    /// Charges part of a rule being read, until [`settle_bytes`](Self::settle_bytes).
    pub(crate) fn spend_unsettled_bytes(&self, bytes: usize) -> Result<(), PolicyError> {
        self.charge(self.bytes.get(), self.unsettled.get().saturating_add(bytes))
    }

    /// Replaces the unsettled charges with the estimate of the complete rule.
    pub(crate) fn settle_bytes(&self, bytes: usize) -> Result<(), PolicyError> {
        self.charge(self.bytes.get().saturating_add(bytes), 0)
    }

    fn charge(&self, settled: usize, unsettled: usize) -> Result<(), PolicyError> {
        let total = settled.saturating_add(unsettled);
        if total > self.limits.max_compiled_bytes {
            return Err(compiled_too_large(total, self.limits.max_compiled_bytes));
        }
        self.bytes.set(settled);
        self.unsettled.set(unsettled);
        Ok(())
    }
}

/// Adds `amount` to `used`, or returns `limit` if that would exceed it.
fn spend(used: &Cell<usize>, amount: usize, limit: usize) -> Result<(), usize> {
    match used.get().checked_add(amount) {
        Some(total) if total <= limit => {
            used.set(total);
            Ok(())
        }
        _ => Err(limit),
    }
}

pub(crate) fn compiled_too_large(bytes: usize, limit: usize) -> PolicyError {
    PolicyError::too_large(format!(
        "the compiled policy would need about {}, more than the limit of {} (max_compiled_bytes)",
        human_bytes(bytes),
        human_bytes(limit)
    ))
    .with_hint("each regular expression (`matches`) takes 200 KiB or more with its search caches; use fewer, or startsWith, endsWith, contains and in")
}

fn human_bytes(bytes: usize) -> String {
    const KIB: usize = 1 << 10;
    const MIB: usize = 1 << 20;
    match bytes {
        _ if bytes >= MIB => format!("{:.1} MiB", bytes as f64 / MIB as f64),
        _ if bytes >= KIB => format!("{} KiB", bytes / KIB),
        _ => format!("{bytes} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_stops_at_the_limit() {
        let tally = Tally::new(Limits {
            max_conditions: 2,
            max_compiled_bytes: 100,
            ..Limits::default()
        });
        assert!(tally.spend_condition().is_ok());
        assert!(tally.spend_condition().is_ok());
        let error = tally.spend_condition().unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::TooLarge);
        assert!(error.message.contains("max_conditions"), "{error}");
        assert!(tally.spend_bytes(60).is_ok());
        assert!(tally.spend_bytes(usize::MAX).is_err());
        let error = tally.spend_bytes(41).unwrap_err();
        assert_eq!(
            error.message,
            "the compiled policy would need about 101 bytes, more than the limit of 100 bytes (max_compiled_bytes)"
        );
        assert_eq!(tally.bytes(), 60);
    }

    #[test]
    fn unsettled_bytes_count_until_settled() {
        let tally = Tally::new(Limits {
            max_compiled_bytes: 100,
            ..Limits::default()
        });
        tally.spend_unsettled_bytes(70).unwrap();
        assert!(tally.spend_bytes(31).is_err());
        tally.spend_bytes(30).unwrap();
        assert!(tally.spend_unsettled_bytes(1).is_err());
        tally.settle_bytes(20).unwrap();
        assert_eq!(tally.bytes(), 50);
        tally.spend_unsettled_bytes(50).unwrap();
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(200 * 1024 + 5), "200 KiB");
        assert_eq!(human_bytes(8 << 20), "8.0 MiB");
        assert_eq!(human_bytes((9 << 20) + (1 << 19)), "9.5 MiB");
    }
}
