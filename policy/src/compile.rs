//! Compiling policy source into a [`Policy`].

use crate::error::PolicyError;
use crate::policy::Policy;
use crate::syntax;

/// Bounds that keep compiling an untrusted policy cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted source, in bytes. YAML aliases may expand the document to
    /// at most this many nodes.
    pub max_source_bytes: usize,
    pub max_rules: usize,
    /// Deepest nesting of condition and operator maps, counting the `when` map as 1.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_source_bytes: 1_048_576,
            max_rules: 20_000,
            max_depth: 32,
        }
    }
}

/// Parses, validates and compiles a policy with the default [`Limits`].
pub fn compile(source: &str) -> Result<Policy, PolicyError> {
    compile_with_limits(source, &Limits::default())
}

/// Parses, validates and compiles a policy. Regular expressions, globs, paths and
/// placeholders are all prepared here, so evaluation does no parsing.
pub fn compile_with_limits(source: &str, limits: &Limits) -> Result<Policy, PolicyError> {
    if source.len() > limits.max_source_bytes {
        return Err(PolicyError::too_large(format!(
            "the policy is {} bytes, more than the limit of {}",
            source.len(),
            limits.max_source_bytes
        )));
    }
    let document = syntax::parse(source, limits)?;
    Ok(Policy::new(document.rules, document.default))
}
