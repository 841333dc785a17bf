//! Compiling policy source into a [`Policy`].

use crate::error::PolicyError;
use crate::limits::{self, Limits};
use crate::policy::Policy;
use crate::syntax;
use crate::testing::TestCase;

/// A compiled policy and the test cases its document holds.
#[derive(Debug, Clone)]
pub struct CompiledDocument {
    pub policy: Policy,
    pub tests: Vec<TestCase>,
}

/// Parses, validates and compiles a policy with the default [`Limits`].
pub fn compile(source: &str) -> Result<Policy, PolicyError> {
    compile_with_limits(source, &Limits::default())
}

/// Parses, validates and compiles a policy. Regular expressions, globs, paths and
/// placeholders are all prepared here, so evaluation does no parsing.
pub fn compile_with_limits(source: &str, limits: &Limits) -> Result<Policy, PolicyError> {
    compile_document_with_limits(source, limits).map(|document| document.policy)
}

/// [`compile()`], keeping the document's `tests:`.
pub fn compile_document(source: &str) -> Result<CompiledDocument, PolicyError> {
    compile_document_with_limits(source, &Limits::default())
}

/// [`compile_with_limits()`], keeping the document's `tests:`, which count
/// against the same limits as the rules.
pub fn compile_document_with_limits(
    source: &str,
    limits: &Limits,
) -> Result<CompiledDocument, PolicyError> {
    if source.len() > limits.max_source_bytes {
        return Err(PolicyError::too_large(format!(
            "the policy is {} bytes, more than the limit of {}",
            source.len(),
            limits.max_source_bytes
        )));
    }
    let document = syntax::parse(source, limits)?;
    let policy = Policy::new(document.rules, document.default, document.approx_bytes);
    // Reading kept within the budget; the tool index, built last, may still tip it.
    if policy.approx_bytes() > limits.max_compiled_bytes {
        return Err(limits::compiled_too_large(
            policy.approx_bytes(),
            limits.max_compiled_bytes,
        ));
    }
    Ok(CompiledDocument {
        policy,
        tests: document.tests,
    })
}
