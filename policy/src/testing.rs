//! A policy document's own tests: the `tests:` list of calls and the decision
//! each must get.
//!
//! A tenant policy's tests are decided with the platform policy above it, as
//! they will be once it is published; a platform policy's tests are decided
//! with the platform policy alone, as if the tenant had no policy.

use std::fmt;

use crate::action::Action;
use crate::decide::{Decision, decide};
use crate::policy::Policy;
use crate::request::Request;
use crate::value::Value;

/// The tenant of the test cases of a platform policy that name none.
pub const DEFAULT_TEST_TENANT: &str = "test-tenant";

/// One entry of `tests:`.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Its position in `tests:`, from 0.
    pub index: usize,
    pub tool: String,
    /// `{}` when the case gives none.
    pub args: Value,
    /// `{}` when the case gives none.
    pub context: Value,
    /// The tenant the call is made for; when absent, the tenant the runner
    /// is given (the publishing tenant in the database).
    pub tenant: Option<String>,
    pub expect: Action,
    /// The id of the rule that must decide, when the case names one.
    pub rule: Option<String>,
}

/// A test case and the decision it got.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome<'t> {
    pub case: &'t TestCase,
    pub decision: Decision,
}

/// Where the policy under test stands.
#[derive(Debug, Clone, Copy)]
pub enum UnderTest<'p> {
    /// A tenant policy, below this platform policy (if any).
    Tenant {
        policy: &'p Policy,
        platform: Option<&'p Policy>,
    },
    /// A platform policy, decided alone.
    Platform(&'p Policy),
}

/// Decides every case; `tenant_id` is the tenant of the cases that name none.
pub fn run_tests<'t>(
    cases: &'t [TestCase],
    under_test: UnderTest,
    tenant_id: &str,
) -> Vec<TestOutcome<'t>> {
    let (platform, tenant) = match under_test {
        UnderTest::Tenant { policy, platform } => (platform, Some(policy)),
        UnderTest::Platform(policy) => (Some(policy), None),
    };
    cases
        .iter()
        .map(|case| {
            let request = Request {
                tool: &case.tool,
                args: &case.args,
                context: &case.context,
                tenant_id: case.tenant.as_deref().unwrap_or(tenant_id),
            };
            TestOutcome {
                case,
                decision: decide(platform, tenant, &request),
            }
        })
        .collect()
}

impl TestOutcome<'_> {
    /// The expected action, and the expected rule when the case names one.
    pub fn passed(&self) -> bool {
        self.decision.action == self.case.expect
            && self
                .case
                .rule
                .as_ref()
                .is_none_or(|rule| self.decision.rule_id.as_ref() == Some(rule))
    }
}

/// `tests[2] (tool "email.send") expected allow by rule "mail", got block by
/// platform rule "no-shell"`: what a failed case says.
impl fmt::Display for TestOutcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let case = self.case;
        write!(
            f,
            "tests[{}] (tool {:?}) expected {}",
            case.index, case.tool, case.expect
        )?;
        if let Some(rule) = &case.rule {
            write!(f, " by rule {rule:?}")?;
        }
        write!(
            f,
            ", got {} by {}",
            self.decision.action,
            self.decision.decided_by()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile_document;

    const TENANT: &str = "rules:
  - id: mail
    tool: email.send
    action: allow
    when:
      args.to:
        endsWith: \"@${context.tenantId}.com\"
  - id: rest
    action: escalate
tests:
  - tool: email.send
    args: {to: bob@tenant-a.com}
    expect: allow
    rule: mail
  - tool: email.send
    args: {to: bob@tenant-a.com}
    tenant: tenant-b
    expect: escalate
  - tool: system.exec
    expect: allow
  - tool: file.read
    expect: escalate
    rule: mail
";

    #[test]
    fn cases_decide_under_the_platform_with_their_tenant() {
        let platform =
            compile_document("rules:\n  - id: no-shell\n    tool: system.*\n    action: block\n")
                .unwrap()
                .policy;
        let document = compile_document(TENANT).unwrap();
        assert_eq!(document.tests.len(), 4);
        let under_test = UnderTest::Tenant {
            policy: &document.policy,
            platform: Some(&platform),
        };
        let outcomes = run_tests(&document.tests, under_test, "tenant-a");
        let passed: Vec<bool> = outcomes.iter().map(TestOutcome::passed).collect();
        assert_eq!(passed, [true, true, false, false]);
        assert_eq!(
            outcomes[2].to_string(),
            "tests[2] (tool \"system.exec\") expected allow, got block by platform rule \"no-shell\""
        );
        assert_eq!(
            outcomes[3].to_string(),
            "tests[3] (tool \"file.read\") expected escalate by rule \"mail\", got escalate by tenant rule \"rest\""
        );
    }

    #[test]
    fn a_platform_policy_is_tested_alone() {
        let document = compile_document(
            "rules:\n  - tool: system.*\n    action: block\ntests:\n  - tool: file.read\n    expect: block\n",
        )
        .unwrap();
        let outcomes = run_tests(&document.tests, UnderTest::Platform(&document.policy), "t");
        assert!(outcomes[0].passed());
        assert_eq!(outcomes[0].decision.layer, crate::Layer::Default);
        assert_eq!(
            outcomes[0].to_string(),
            "tests[0] (tool \"file.read\") expected block, got block by the fail-closed default"
        );
    }

    #[test]
    fn malformed_cases_are_refused_where_they_stand() {
        for (tests, message, path) in [
            ("[{tool: a}]", "the test case has no expect", "tests[0]"),
            ("[{expect: allow}]", "the test case has no tool", "tests[0]"),
            (
                "[{tool: a, expect: allow}, {tool: b, expect: allow, name: x}]",
                "unknown key \"name\" in a test case",
                "tests[1]",
            ),
            (
                "[{tool: a, expect: maybe}]",
                "unknown action \"maybe\"",
                "tests[0].expect",
            ),
            (
                "[{tool: a, expect: allow, args: [1]}]",
                "expected a mapping, found a list",
                "tests[0].args",
            ),
            (
                "{tool: a}",
                "expected a list of test cases, found a mapping",
                "tests",
            ),
            // Calls check() refuses: a tenant no call is made for, a tool
            // longer than any a call can have.
            (
                "[{tool: a, expect: allow, tenant: ''}]",
                "invalid tenant id",
                "tests[0].tenant",
            ),
            (
                "[{tool: a, expect: allow, tenant: \"a\\tb\"}]",
                "invalid tenant id",
                "tests[0].tenant",
            ),
            (
                &format!("[{{tool: {}, expect: block}}]", "t".repeat(513)),
                "the test case's tool is longer than 512 bytes",
                "tests[0].tool",
            ),
        ] {
            let error = compile_document(&format!("tests: {tests}\n")).unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::Invalid, "{tests}");
            assert_eq!(error.message, message, "{tests}");
            assert_eq!(error.path.as_deref(), Some(path), "{tests}");
            assert_eq!(error.line, Some(1), "{tests}");
        }
    }
}
