//! The three outcomes a policy can prescribe.

use std::fmt;
use std::str::FromStr;

use crate::error::PolicyError;

/// What a policy says about a tool call. Ordered by restrictiveness:
/// `Allow < Escalate < Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Allow,
    /// Hold the call for a human's approval.
    Escalate,
    Block,
}

impl Action {
    /// Every action, least restrictive first.
    pub const ALL: [Action; 3] = [Action::Allow, Action::Escalate, Action::Block];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Escalate => "escalate",
            Action::Block => "block",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = PolicyError;

    /// Accepts exactly `allow`, `escalate` or `block`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
            .ok_or_else(|| {
                PolicyError::invalid(format!("unknown action {text:?}"))
                    .with_hint("valid actions: allow, escalate, block")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_the_three_names() {
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(action));
        }
        for wrong in ["Allow", "deny", "", " block"] {
            let error = wrong.parse::<Action>().unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::Invalid);
            assert!(error.hint.unwrap().contains("escalate"));
        }
    }

    #[test]
    fn orders_by_restrictiveness() {
        assert!(Action::Allow < Action::Escalate && Action::Escalate < Action::Block);
        assert_eq!(Action::Allow.max(Action::Block), Action::Block);
    }
}
