//! Authensor JSON import: each template of tests/fixtures/authensor-templates
//! imports, compiles, and decides as the Authensor engine would decide for
//! that one policy (rules in order, first match wins, then defaultEffect;
//! outside the scope, or with no default, no opinion and so fail-closed).

#[macro_use]
mod common;

use authensor_policy::{Action, ApprovalTerms, Decision, Layer, compile, decide, import_authensor};
use common::{json_text, request};

const TEMPLATES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/authensor-templates"
);

/// Who decides: a rule id, the policy's `default:`, or the fail-closed default.
#[derive(Debug, Clone, Copy)]
enum By {
    Rule(&'static str),
    PolicyDefault,
    FailClosed,
}
use By::{FailClosed, PolicyDefault, Rule};

fn imported(template: &str) -> String {
    let path = format!("{TEMPLATES}/{template}.json");
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    import_authensor(&source)
        .unwrap_or_else(|e| panic!("{template} should import: {e}"))
        .yaml
}

fn decide_on(yaml: &str, tool: &str, args: &str, context: &str) -> Decision {
    let policy = compile(yaml).unwrap_or_else(|e| panic!("the import should compile: {e}\n{yaml}"));
    let (args, context) = (json_text(args), json_text(context));
    decide(
        None,
        Some(&policy),
        &request(tool, &args, &context, "tenant-a"),
    )
}

fn check(template: &str, calls: &[(&str, &str, &str, Action, By)]) {
    let yaml = imported(template);
    for &(tool, args, context, action, by) in calls {
        let decision = decide_on(&yaml, tool, args, context);
        let what = format!("{template}: {tool} {args} {context}\n{yaml}");
        assert_eq!(decision.action, action, "{what}");
        match by {
            Rule(id) => assert_eq!(decision.rule_id.as_deref(), Some(id), "{what}"),
            PolicyDefault => {
                assert_eq!(
                    (decision.layer, decision.rule_id.as_deref()),
                    (Layer::Tenant, None),
                    "{what}"
                )
            }
            FailClosed => assert_eq!(decision.layer, Layer::Default, "{what}"),
        }
    }
}

use Action::{Allow, Block, Escalate};

#[test]
fn every_template_is_imported() {
    let count = std::fs::read_dir(TEMPLATES)
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|e| e == "json")
        })
        .count();
    assert_eq!(count, 16, "the tests below cover each template");
}

#[test]
fn email_comms() {
    check(
        "email-comms",
        &[
            (
                "email.send",
                r#"{"to": "a@example.com"}"#,
                "{}",
                Allow,
                Rule("internal"),
            ),
            (
                "email.send",
                r#"{"to": "x@gmail.com", "attachments": ["q3.pdf"]}"#,
                "{}",
                Escalate,
                Rule("external-attachments"),
            ),
            // Authensor's exists counts null as absent.
            (
                "email.send",
                r#"{"to": "x@gmail.com", "attachments": null}"#,
                "{}",
                Allow,
                Rule("external-plain"),
            ),
            (
                "email.read",
                r#"{"to": "x@gmail.com"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
            // Out of scope: the policy has no opinion.
            ("file.read", "{}", "{}", Block, FailClosed),
        ],
    );
    let decision = decide_on(
        &imported("email-comms"),
        "email.send",
        r#"{"to": "x@y.com", "attachments": 1}"#,
        "{}",
    );
    assert_eq!(
        decision.approval,
        Some(ApprovalTerms {
            required: 2.try_into().unwrap(),
            expires_seconds: Some(3_600.try_into().unwrap()),
            capped_by_ttl: false
        })
    );
}

#[test]
fn default_safe() {
    check(
        "default-safe",
        &[
            (
                "stripe.charge",
                "{}",
                "{}",
                Escalate,
                Rule("payments-approval"),
            ),
            (
                "files.remove",
                "{}",
                r#"{"action": {"operation": "delete"}}"#,
                Block,
                Rule("no-deletes"),
            ),
            (
                "files.list",
                "{}",
                r#"{"action": {"operation": "list"}}"#,
                Allow,
                Rule("reads"),
            ),
            ("files.list", "{}", "{}", Block, PolicyDefault),
        ],
    );
}

#[test]
fn file_access() {
    check(
        "file-access",
        &[
            (
                "file.read",
                r#"{"path": "/workspace/a.txt"}"#,
                "{}",
                Allow,
                Rule("workspace-reads"),
            ),
            (
                "file.read",
                r#"{"path": "/workspace/.env"}"#,
                "{}",
                Block,
                Rule("no-secrets"),
            ),
            (
                "file.read",
                r#"{"path": "/home/k/.ssh/id_rsa"}"#,
                "{}",
                Block,
                Rule("no-secrets"),
            ),
            (
                "file.write",
                r#"{"path": "/workspace/b.txt"}"#,
                "{}",
                Escalate,
                Rule("workspace-writes"),
            ),
            (
                "file.delete",
                r#"{"path": "/workspace/b.txt"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
            (
                "file.read.all",
                r#"{"path": "/workspace/b.txt"}"#,
                "{}",
                Block,
                FailClosed,
            ),
        ],
    );
}

#[test]
fn database_queries() {
    check(
        "database-queries",
        &[
            (
                "db.query",
                r#"{"query": "SELECT 1"}"#,
                "{}",
                Allow,
                Rule("selects"),
            ),
            (
                "db.query",
                r#"{"query": "  DROP TABLE users"}"#,
                "{}",
                Block,
                Rule("no-ddl"),
            ),
            (
                "db.pg.query",
                r#"{"query": "SELECT *", "limit": 20000}"#,
                "{}",
                Escalate,
                Rule("big-reads"),
            ),
            // No coercion: the string "20000" is not greater than anything.
            (
                "db.query",
                r#"{"query": "SELECT *", "limit": "20000"}"#,
                "{}",
                Allow,
                Rule("selects"),
            ),
            (
                "db.query",
                r#"{"query": "UPDATE t SET x = 1"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
        ],
    );
}

#[test]
fn payments() {
    check(
        "payments",
        &[
            (
                "stripe.charge",
                r#"{"amount": 10, "currency": "usd"}"#,
                "{}",
                Allow,
                Rule("small"),
            ),
            (
                "stripe.charge",
                r#"{"amount": 5000, "currency": "eur"}"#,
                "{}",
                Escalate,
                Rule("large"),
            ),
            (
                "stripe.charge",
                r#"{"amount": 10, "currency": "gbp"}"#,
                "{}",
                Block,
                Rule("no-foreign"),
            ),
            // notIn holds on a missing field.
            (
                "payments.refund",
                r#"{"amount": 10}"#,
                "{}",
                Block,
                Rule("no-foreign"),
            ),
            (
                "payments.refund",
                r#"{"amount": 0, "currency": "usd"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
        ],
    );
    let decision = decide_on(
        &imported("payments"),
        "stripe.charge",
        r#"{"amount": 5000, "currency": "usd"}"#,
        "{}",
    );
    assert_eq!(
        decision.approval,
        Some(ApprovalTerms {
            required: 2.try_into().unwrap(),
            expires_seconds: Some(1_800.try_into().unwrap()),
            capped_by_ttl: false
        })
    );
}

#[test]
fn github_ops() {
    check(
        "github-ops",
        &[
            (
                "github.push",
                r#"{"branch": "main"}"#,
                "{}",
                Block,
                Rule("protected-branches"),
            ),
            (
                "github.push",
                r#"{"branch": "feature"}"#,
                "{}",
                Allow,
                Rule("default-effect"),
            ),
            (
                "github.merge",
                r#"{"force": true}"#,
                "{}",
                Block,
                Rule("force-push"),
            ),
            (
                "github.delete_repo",
                "{}",
                "{}",
                Escalate,
                Rule("repo-delete"),
            ),
            (
                "gitlab.push",
                r#"{"branch": "main"}"#,
                "{}",
                Block,
                FailClosed,
            ),
        ],
    );
}

#[test]
fn http_egress() {
    check(
        "http-egress",
        &[
            (
                "http.get",
                r#"{"url": "http://example.com/"}"#,
                "{}",
                Block,
                Rule("no-plain-http"),
            ),
            (
                "http.get",
                r#"{"url": "https://api.example.com/v1"}"#,
                "{}",
                Allow,
                Rule("allowed-hosts"),
            ),
            (
                "http.post",
                r#"{"url": "https://other.org/", "method": "POST"}"#,
                "{}",
                Escalate,
                Rule("posts-elsewhere"),
            ),
            (
                "http.get",
                r#"{"url": "https://other.org/", "method": "GET"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
            // neq holds on a missing field.
            (
                "http.get",
                r#"{"url": "https://other.org/"}"#,
                "{}",
                Escalate,
                Rule("posts-elsewhere"),
            ),
        ],
    );
}

#[test]
fn shell_commands() {
    check(
        "shell-commands",
        &[
            (
                "shell.exec",
                r#"{"command": "rm -rf /", "program": "rm"}"#,
                "{}",
                Block,
                Rule("no-rm-rf"),
            ),
            (
                "shell.exec",
                r#"{"command": "sudo ls", "program": "sudo"}"#,
                "{}",
                Block,
                Rule("no-sudo"),
            ),
            (
                "shell.bash.exec",
                r#"{"command": "ls -la", "program": "ls"}"#,
                "{}",
                Allow,
                Rule("safe-commands"),
            ),
            (
                "shell.exec",
                r#"{"command": "python x.py", "program": "python"}"#,
                "{}",
                Block,
                Rule("default-effect"),
            ),
        ],
    );
}

#[test]
fn cloud_infra_without_a_default_falls_through() {
    check(
        "cloud-infra",
        &[
            (
                "aws.iam.create_user",
                r#"{"service": "iam"}"#,
                "{}",
                Block,
                Rule("no-iam"),
            ),
            (
                "aws.ec2.run",
                r#"{"service": "ec2", "count": 10}"#,
                "{}",
                Escalate,
                Rule("instance-count"),
            ),
            (
                "gcp.compute.list",
                r#"{"verb": "describeInstances"}"#,
                "{}",
                Allow,
                Rule("describe"),
            ),
            ("aws.s3.put", r#"{"verb": "put"}"#, "{}", Block, FailClosed),
            ("azure.vm.create", "{}", "{}", Block, FailClosed),
        ],
    );
}

#[test]
fn slack_messaging() {
    check(
        "slack-messaging",
        &[
            (
                "slack.post",
                r#"{"text": "hi @channel"}"#,
                "{}",
                Escalate,
                Rule("no-broadcast"),
            ),
            // Authensor's contains reads strings only.
            (
                "slack.post",
                r#"{"text": ["@channel"]}"#,
                "{}",
                Allow,
                Rule("default-effect"),
            ),
            (
                "slack.post",
                r#"{"text": "hi", "shared": true}"#,
                "{}",
                Block,
                Rule("no-external"),
            ),
            (
                "slack.dm",
                r#"{"text": "hello"}"#,
                "{}",
                Escalate,
                Rule("dm-long"),
            ),
            (
                "slack.dm",
                r#"{"text": "done (automated)"}"#,
                "{}",
                Allow,
                Rule("default-effect"),
            ),
        ],
    );
}

#[test]
fn crm_data() {
    check(
        "crm-data",
        &[
            (
                "crm.export",
                r#"{"fields": ["email"]}"#,
                "{}",
                Block,
                Rule("pii-export"),
            ),
            ("crm.update", "{}", "{}", Block, Rule("updates-need-reason")),
            (
                "crm.update",
                r#"{"reason": null}"#,
                "{}",
                Block,
                Rule("updates-need-reason"),
            ),
            (
                "crm.update",
                r#"{"reason": "typo"}"#,
                "{}",
                Allow,
                Rule("read-update"),
            ),
            ("crm.read", "{}", "{}", Allow, Rule("read-update")),
            ("crm.delete", "{}", "{}", Block, Rule("default-effect")),
        ],
    );
}

#[test]
fn calendar() {
    check(
        "calendar",
        &[
            (
                "calendar.create",
                r#"{"attendees": 25}"#,
                "{}",
                Escalate,
                Rule("big-meetings"),
            ),
            (
                "calendar.create",
                r#"{"attendees": "25", "day": "saturday"}"#,
                "{}",
                Block,
                Rule("weekend"),
            ),
            (
                "calendar.create",
                r#"{"minutes": 15}"#,
                "{}",
                Allow,
                Rule("short"),
            ),
            (
                "calendar.create",
                r#"{"day": "monday", "minutes": 60}"#,
                "{}",
                Allow,
                Rule("default-effect"),
            ),
        ],
    );
}

#[test]
fn customer_support() {
    check(
        "customer-support",
        &[
            (
                "support.refund",
                r#"{"amount": 20}"#,
                "{}",
                Allow,
                Rule("refund-small"),
            ),
            (
                "support.refund",
                r#"{"amount": 200}"#,
                "{}",
                Escalate,
                Rule("refund-large"),
            ),
            ("support.reply", "{}", "{}", Allow, Rule("replies")),
            ("support.close", "{}", "{}", Block, Rule("default-effect")),
        ],
    );
    let decision = decide_on(
        &imported("customer-support"),
        "support.refund",
        r#"{"amount": 200}"#,
        "{}",
    );
    assert_eq!(
        decision.approval,
        Some(ApprovalTerms {
            required: 1.try_into().unwrap(),
            expires_seconds: Some(86_400.try_into().unwrap()),
            capped_by_ttl: false
        })
    );
}

#[test]
fn deployment_scoped_by_environment() {
    check(
        "deployment",
        &[
            (
                "deploy.run",
                "{}",
                r#"{"environment": "production"}"#,
                Escalate,
                Rule("prod-approval"),
            ),
            (
                "deploy.run",
                "{}",
                r#"{"environment": "staging"}"#,
                Allow,
                Rule("staging"),
            ),
            (
                "deploy.run",
                "{}",
                r#"{"environment": "development"}"#,
                Block,
                FailClosed,
            ),
            // A call without an environment passes the scope, as in Authensor.
            ("deploy.run", "{}", "{}", Block, Rule("default-effect")),
        ],
    );
}

#[test]
fn data_export_scoped_by_principal_type() {
    check(
        "data-export",
        &[
            (
                "export.csv",
                r#"{"format": "csv", "rows": 10}"#,
                r#"{"principal": {"type": "agent"}}"#,
                Allow,
                Rule("csv-small"),
            ),
            (
                "export.csv",
                r#"{"format": "csv", "rows": 10}"#,
                r#"{"principal": {"type": "user"}}"#,
                Block,
                FailClosed,
            ),
            (
                "export.json",
                r#"{"format": "json"}"#,
                r#"{"principal": {"type": "service"}}"#,
                Escalate,
                Rule("service-bulk"),
            ),
            (
                "export.json",
                r#"{"format": "json"}"#,
                r#"{"principal": {"type": "agent"}}"#,
                Block,
                Rule("default-effect"),
            ),
            (
                "export.csv",
                r#"{"format": "csv", "rows": 10}"#,
                "{}",
                Block,
                FailClosed,
            ),
        ],
    );
}

#[test]
fn read_only() {
    check(
        "read-only",
        &[
            (
                "files.remove",
                "{}",
                r#"{"action": {"operation": "delete"}}"#,
                Block,
                Rule("writes"),
            ),
            (
                "db.apply",
                r#"{"dryRun": false}"#,
                "{}",
                Block,
                Rule("writes"),
            ),
            (
                "db.apply",
                r#"{"dryRun": true}"#,
                "{}",
                Allow,
                PolicyDefault,
            ),
        ],
    );
}

#[test]
fn notes_say_what_was_carried_into_the_context() {
    let source = std::fs::read_to_string(format!("{TEMPLATES}/data-export.json")).unwrap();
    let notes = import_authensor(&source).unwrap().notes;
    for expected in [
        "priority 10",
        "scope.principalTypes",
        "principal.type is read from context.principal.type",
    ] {
        assert!(
            notes.iter().any(|note| note.contains(expected)),
            "{expected}: {notes:?}"
        );
    }
}

#[test]
fn a_literal_dollar_brace_is_matched_as_text_not_a_placeholder() {
    let yaml = import_authensor(
        r#"{"id": "p", "defaultEffect": "allow", "rules": [{"id": "r", "effect": "deny",
            "condition": {"field": "action.parameters.t", "operator": "eq", "value": "a${context.x}"}}]}"#,
    )
    .unwrap()
    .yaml;
    let decide_t =
        |t: &str| decide_on(&yaml, "x", &format!(r#"{{"t": "{t}"}}"#), r#"{"x": "b"}"#).action;
    assert_eq!(decide_t("a${context.x}"), Block);
    assert_eq!(decide_t("ab"), Allow);
}

#[test]
fn what_cannot_be_expressed_is_refused_naming_the_field() {
    let rule = |extra: &str| {
        format!(r#"{{"id": "p", "rules": [{{"id": "r", "effect": "allow"{extra}}}]}}"#)
    };
    for (source, path, message) in [
        (rule(r#", "rateLimit": {"requests": 5, "window": "1m"}"#), "rules[0].rateLimit.scope", "per principal"),
        (rule(r#", "rateLimit": {"requests": 5, "window": "1m", "scope": "principal"}"#), "rules[0].rateLimit.scope", "per principal"),
        (rule(r#", "rateLimit": {"requests": 5, "window": "1m", "scope": "action"}"#), "rules[0].rateLimit.scope", "one action type"),
        (rule(r#", "condition": {"field": "action.type", "operator": "in", "value": ["a", "b"]}, "rateLimit": {"requests": 5, "window": "1m", "scope": "action"}"#), "rules[0].rateLimit.scope", "one action type"),
        (rule(r#", "rateLimit": {"requests": 0, "window": "1m", "scope": "global"}"#), "rules[0].rateLimit.requests", "from 1"),
        (rule(r#", "rateLimit": {"requests": 5, "window": "367d", "scope": "global"}"#), "rules[0].rateLimit.window", "366d"),
        (rule(r#", "rateLimit": {"requests": 5, "window": "1m", "scope": "global", "burst": 2}"#), "rules[0].rateLimit.burst", "unknown rateLimit field"),
        (r#"{"id": "p", "rules": [{"id": "r", "effect": "require_approval", "rateLimit": {"requests": 5, "window": "1m", "scope": "global"}}]}"#.to_owned(), "rules[0].rateLimit", "escalated ones are not"),
        (rule(r#", "constraints": {"maxAmount": 5}"#), "rules[0].constraints", "constraints"),
        (r#"{"id": "p", "rules": [], "sessionRules": {}}"#.to_owned(), "sessionRules", "session rules"),
        (r#"{"id": "p", "rules": [], "enabled": false}"#.to_owned(), "enabled", "disabled"),
        (r#"[{"id": "a", "rules": []}, {"id": "b", "rules": []}]"#.to_owned(), "", "priority"),
        (r#"{"id": "p", "rules": [], "scope": {"actionTypes": ["email.(send|read)"]}}"#.to_owned(), "scope.actionTypes[0]", "regex syntax"),
        (r#"{"id": "p", "rules": [], "scope": {"actionTypes": ["a**"]}}"#.to_owned(), "scope.actionTypes[0]", "inside a segment"),
        (rule(r#", "condition": {"any": [{"field": "action.type", "operator": "eq", "value": "x"}]}"#), "rules[0].condition.any[0].field", "action.type"),
        (rule(r#", "condition": {"field": "action.type", "operator": "startsWith", "value": "x"}"#), "rules[0].condition", "eq"),
        (rule(r#", "condition": {"field": "a", "operator": "like", "value": "x"}"#), "rules[0].condition.operator", "unknown operator"),
        (rule(r#", "condition": {"field": "a", "operator": "gt", "value": "5"}"#), "rules[0].condition.value", "needs a number"),
        (rule(r#", "approvalConfig": {"requiredApprovals": 2}"#), "rules[0].approvalConfig", "require_approval"),
        (r#"{"id": "p", "rules": [{"id": "r", "effect": "require_approval", "approvalConfig": {"approvers": [{"id": "bob"}]}}]}"#.to_owned(), "rules[0].approvalConfig.approvers", "named approvers"),
        (rule(r#", "weight": 3"#), "rules[0].weight", "unknown rule field"),
        // Named by the source's position, not the document's (where a rate
        // limit adds a rule before it).
        (r#"{"id": "p", "rules": [{"id": "r", "effect": "allow", "rateLimit": {"requests": 5, "window": "1m", "scope": "global"}}, {"id": "r", "effect": "deny"}]}"#.to_owned(), "rules[1].id", "also that of rules[0]"),
        (r#"{"id": "p", "rules": [{"id": "r", "effect": "allow", "rateLimit": {"requests": 5, "window": "1m", "scope": "global"}}, {"id": "", "effect": "deny"}]}"#.to_owned(), "rules[1].id", "id is empty"),
        // Authensor reads an array's length (and an object's methods) where
        // this language finds nothing: a deny on it would never hold here.
        (rule(r#", "condition": {"field": "action.parameters.to.length", "operator": "gt", "value": 10}"#), "rules[0].condition.field", "length"),
        (rule(r#", "condition": {"field": "principal.constructor", "operator": "exists", "value": true}"#), "rules[0].condition.field", "constructor"),
    ] {
        let error = import_authensor(&source).expect_err(&source);
        assert_eq!(error.path.as_deref().unwrap_or(""), path, "{source}: {error}");
        assert!(error.message.contains(message), "{source}: {error}");
    }
}

#[test]
fn a_source_far_larger_than_a_policy_is_refused_before_it_is_read() {
    let metadata = "x".repeat(5 * 1_048_576);
    let source = format!(r#"{{"id": "p", "rules": [], "metadata": {{"blob": "{metadata}"}}}}"#);
    let error = import_authensor(&source).unwrap_err();
    assert!(
        error.message.contains("more than the limit of 4194304"),
        "{error}"
    );
    // Within the bound, dropped metadata does not count against the policy.
    let metadata = "x".repeat(2 * 1_048_576);
    let source = format!(r#"{{"id": "p", "rules": [], "metadata": {{"blob": "{metadata}"}}}}"#);
    assert!(import_authensor(&source).is_ok());
}

#[test]
fn approval_terms_out_of_range_fail_validation() {
    let error = import_authensor(
        r#"{"id": "p", "rules": [{"id": "r", "effect": "require_approval", "approvalConfig": {"expiresIn": "30d"}}]}"#,
    )
    .unwrap_err();
    assert!(
        error
            .message
            .contains("approval.expires must be from 1s to 7d"),
        "{error}"
    );
}

/// A policy that allows `x` when `action.parameters.s` matches `pattern`,
/// and denies otherwise.
fn allow_matching(pattern: &str) -> Result<String, authensor_policy::PolicyError> {
    let source = serde_json::json!({
        "id": "p", "defaultEffect": "deny",
        "rules": [{"id": "fits", "effect": "allow",
                   "condition": {"field": "action.parameters.s", "operator": "matches", "value": pattern}}]
    });
    import_authensor(&source.to_string()).map(|imported| imported.yaml)
}

#[test]
fn matches_patterns_mean_what_javascript_reads() {
    // JavaScript's \d, \w and \b are ASCII, and its `.` stops at \r and the
    // Unicode line separators: none may widen an allow here.
    for (pattern, value, allowed) in [
        (r"^\d+$", "123", true),
        (r"^\d+$", "١٢٣", false),
        (r"^[\d.]+$", "1.5", true),
        (r"^[\d.]+$", "١.٥", false),
        (r"^\w+$", "abc_1", true),
        (r"^\w+$", "héllo", false),
        (r"^\W$", "é", true),
        (r"\bDROP\b", "éDROP", true),
        (r"\bDROP\b", "xDROP", false),
        (r"^a.b$", "a-b", true),
        (r"^a.b$", "a\rb", false),
        (r"^a.b$", "a\u{2028}b", false),
        (r"^[[a]$", "[", true),
        (r"^[a&&b]$", "&", true),
        (r"^\$\.$", "$.", true),
        (r"^(?:ab)+$", "abab", true),
    ] {
        let yaml = allow_matching(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let args = serde_json::json!({ "s": value }).to_string();
        let decision = decide_on(&yaml, "x", &args, "{}");
        assert_eq!(
            decision.action == Action::Allow,
            allowed,
            "{pattern} on {value:?}\n{yaml}"
        );
    }
    // What JavaScript reads otherwise, or not at all, is refused.
    for pattern in [
        r"(?i)admin",
        r"\Aadmin",
        r"\p{L}",
        r"[]",
        r"[^]",
        r"(a)\1",
        r"[a--b]",
        r"[\D]",
        "a\\",
    ] {
        let error = allow_matching(pattern).expect_err(pattern);
        assert_eq!(
            error.path.as_deref(),
            Some("rules[0].condition.value"),
            "{pattern}: {error}"
        );
        assert!(
            error.message.contains("JavaScript reads otherwise"),
            "{pattern}: {error}"
        );
    }
}

thread_local! {
    /// What the rate counter below answers, and the queries it was asked.
    static COUNT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static ASKED: std::cell::RefCell<Vec<(Option<String>, u64, u64)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn counted(query: &authensor_policy::RateQuery) -> u64 {
    ASKED.with(|asked| {
        asked.borrow_mut().push((
            query.rule_id.map(str::to_owned),
            query.window_seconds,
            query.max,
        ))
    });
    COUNT.get()
}

/// Authensor's `rateLimit` on an allow rule: the rule allows until the
/// count of the calls it allowed reaches `requests` in the window, then the
/// calls it matches are denied with Authensor's reason.
#[test]
fn a_rate_limit_allows_until_reached_then_blocks_with_authensors_reason() {
    for scope in ["global", "action"] {
        let source = format!(
            r#"{{"id": "p", "defaultEffect": "deny", "rules": [
              {{"id": "send", "effect": "allow",
                "condition": {{"all": [{{"field": "action.type", "operator": "eq", "value": "email.send"}},
                                      {{"field": "action.parameters.to", "operator": "endsWith", "value": "@a.com"}}]}},
                "rateLimit": {{"requests": 3, "window": "10m", "scope": "{scope}"}}}}]}}"#
        );
        let yaml = import_authensor(&source).expect("imports").yaml;
        let policy = compile(&yaml).expect("compiles");
        let (args, other, context) = (
            json_text(r#"{"to": "x@a.com"}"#),
            json_text(r#"{"to": "x@b.com"}"#),
            json_text("{}"),
        );
        for (count, tool, args, action, rule) in [
            (0, "email.send", &args, Allow, Some("send")),
            (2, "email.send", &args, Allow, Some("send")),
            (3, "email.send", &args, Block, Some("send.rate-limited")),
            (50, "email.send", &args, Block, Some("send.rate-limited")),
            // Calls the rule does not match are not limited by it.
            (50, "email.send", &other, Block, None),
            (50, "email.read", &args, Block, None),
        ] {
            COUNT.set(count);
            ASKED.with(|asked| asked.borrow_mut().clear());
            let decision = authensor_policy::with_rate_counter(counted, || {
                decide(
                    None,
                    Some(&policy),
                    &request(tool, args, &context, "tenant-a"),
                )
            });
            let what = format!("{scope}, {count} counted, {tool}\n{yaml}");
            assert_eq!(
                (decision.action, decision.rule_id.as_deref()),
                (action, rule),
                "{what}"
            );
            if rule == Some("send.rate-limited") {
                assert_eq!(
                    decision.reason, "Rate limit exceeded: 3 requests per 10m",
                    "{what}"
                );
            }
            if rule.is_some() {
                // The calls counted are those the rule allowed, in the window.
                let asked = ASKED.with(|asked| asked.borrow().clone());
                assert_eq!(asked, vec![(Some("send".to_owned()), 600, 3)], "{what}");
            }
        }
    }
}

#[test]
fn a_rate_limit_on_a_deny_rule_is_noted_as_not_carried() {
    let imported = import_authensor(
        r#"{"id": "p", "rules": [{"id": "r", "effect": "deny", "rateLimit": {"requests": 5, "window": "1m"}}]}"#,
    )
    .expect("imports");
    assert!(!imported.yaml.contains("rate"), "{}", imported.yaml);
    assert!(
        imported
            .notes
            .iter()
            .any(|note| note.contains("rules[0].rateLimit is not carried")),
        "{:?}",
        imported.notes
    );
}

/// Decides `tool` with `args` under `policy`, the rate counter answering
/// `count`.
fn decide_counted(
    policy: &authensor_policy::Policy,
    count: u64,
    tool: &str,
    args: &str,
) -> Decision {
    COUNT.set(count);
    let (args, context) = (json_text(args), json_text("{}"));
    authensor_policy::with_rate_counter(counted, || {
        decide(
            None,
            Some(policy),
            &request(tool, &args, &context, "tenant-a"),
        )
    })
}

/// Authensor's ids are free text: one may be `<id>.rate-limited`, or
/// `default-effect`, which the rules the import adds would otherwise take.
#[test]
fn the_rules_a_rate_limit_adds_take_ids_no_source_rule_has() {
    let yaml = import_authensor(
        r#"{"id": "p", "scope": {"actionTypes": ["email.*"]}, "defaultEffect": "deny", "rules": [
          {"id": "send", "effect": "allow",
           "condition": {"field": "action.parameters.to", "operator": "endsWith", "value": "@a.com"},
           "rateLimit": {"requests": 2, "window": "1m", "scope": "global"}},
          {"id": "send.rate-limited", "effect": "allow",
           "condition": {"field": "action.parameters.to", "operator": "endsWith", "value": "@b.com"}},
          {"id": "default-effect", "effect": "require_approval",
           "condition": {"field": "action.parameters.to", "operator": "endsWith", "value": "@c.com"}}]}"#,
    )
    .expect("imports")
    .yaml;
    let policy = compile(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    for (count, to, action, rule) in [
        (0, "x@a.com", Allow, "send"),
        (2, "x@a.com", Block, "send.rate-limited_"),
        (2, "x@b.com", Allow, "send.rate-limited"),
        (2, "x@c.com", Escalate, "default-effect"),
        (2, "x@d.com", Block, "default-effect_"),
    ] {
        let decision = decide_counted(
            &policy,
            count,
            "email.send",
            &format!(r#"{{"to": "{to}"}}"#),
        );
        assert_eq!(
            (decision.action, decision.rule_id.as_deref()),
            (action, Some(rule)),
            "{count} counted, {to}\n{yaml}"
        );
    }
}

/// An allow rule `r` with `"rateLimit": <limit>`.
fn limited(limit: &str) -> String {
    format!(r#"{{"id": "p", "rules": [{{"id": "r", "effect": "allow", "rateLimit": {limit}}}]}}"#)
}

/// Odd `rateLimit`s are refused at their field, with a hint showing one
/// that imports; on a deny rule too, though its limit is not carried.
#[test]
fn odd_rate_limits_are_refused_at_their_field_with_a_hint() {
    let with = |field: &str| {
        let mut limit = serde_json::json!({"requests": 5, "window": "1m", "scope": "global"});
        let (key, value) = field.split_once('=').unwrap();
        limit[key] = serde_json::from_str(value).unwrap();
        limited(&limit.to_string())
    };
    let mut cases = vec![
        (limited("null"), "rules[0].rateLimit", "rateLimit object"),
        (limited("[]"), "rules[0].rateLimit", "rateLimit object"),
        (r#"{"id": "p", "rules": [{"id": "r", "effect": "deny", "rateLimit": {"requests": 5, "window": "1m", "scope": "bogus"}}]}"#.to_owned(), "rules[0].rateLimit.scope", "expected principal"),
    ];
    for requests in [r#""5""#, "-1", "0", "2.5", "true", "null"] {
        cases.push((
            with(&format!("requests={requests}")),
            "rules[0].rateLimit.requests",
            "whole number from 1",
        ));
    }
    for requests in ["9223372036854775808", "18446744073709551616", "1e30"] {
        cases.push((
            with(&format!("requests={requests}")),
            "rules[0].rateLimit.requests",
            "the largest limit",
        ));
    }
    for window in [
        r#""0s""#,
        r#""1w""#,
        r#""""#,
        r#""367d""#,
        r#""1M""#,
        r#""1 m""#,
        "60",
    ] {
        cases.push((
            with(&format!("window={window}")),
            "rules[0].rateLimit.window",
            "1s to 366d",
        ));
    }
    for scope in ["null", "5", r#""Global""#] {
        cases.push((
            with(&format!("scope={scope}")),
            "rules[0].rateLimit.scope",
            "expected principal",
        ));
    }
    for (source, path, message) in cases {
        let error = import_authensor(&source).expect_err(&source);
        assert_eq!(error.path.as_deref(), Some(path), "{source}: {error}");
        assert!(error.message.contains(message), "{source}: {error}");
        assert!(error.hint.is_some(), "{source}: {error}");
        assert_eq!(error.kind.sqlstate(), "22023", "{source}: {error}");
    }
}

/// JSON's `1e3` and `5.0` are whole numbers, as Authensor's JavaScript
/// reads them; the longest window is 366 days; `in` naming one action type
/// twice is one action type.
#[test]
fn whole_numbers_however_written_and_the_longest_window_import() {
    for (limit, max, reason) in [
        (
            r#"{"requests": 1e3, "window": "366d", "scope": "global"}"#,
            1000,
            "Rate limit exceeded: 1000 requests per 366d",
        ),
        (
            r#"{"requests": 5.0, "window": "1s", "scope": "global"}"#,
            5,
            "Rate limit exceeded: 5 requests per 1s",
        ),
    ] {
        let yaml = import_authensor(&limited(limit)).expect(limit).yaml;
        let policy = compile(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let below = decide_counted(&policy, max - 1, "x", "{}");
        assert_eq!(
            (below.action, below.rule_id.as_deref()),
            (Allow, Some("r")),
            "{yaml}"
        );
        let reached = decide_counted(&policy, max, "x", "{}");
        assert_eq!(
            (
                reached.action,
                reached.rule_id.as_deref(),
                reached.reason.as_str()
            ),
            (Block, Some("r.rate-limited"), reason),
            "{yaml}"
        );
    }
    let yaml = import_authensor(
        r#"{"id": "p", "rules": [{"id": "r", "effect": "allow",
            "condition": {"field": "action.type", "operator": "in", "value": ["a", "a"]},
            "rateLimit": {"requests": 2, "window": "1m", "scope": "action"}}]}"#,
    )
    .expect("one action type")
    .yaml;
    let policy = compile(&yaml).unwrap();
    assert_eq!(
        decide_counted(&policy, 2, "a", "{}").action,
        Block,
        "{yaml}"
    );
    assert_eq!(
        decide_counted(&policy, 1, "a", "{}").action,
        Allow,
        "{yaml}"
    );
    assert_eq!(
        decide_counted(&policy, 0, "b", "{}").layer,
        Layer::Default,
        "{yaml}"
    );
}

thread_local! {
    /// The calls each rule has allowed in its window, for `counted_by_rule`.
    static BY_RULE: std::cell::RefCell<std::collections::HashMap<String, u64>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn counted_by_rule(query: &authensor_policy::RateQuery) -> u64 {
    let rule = query.rule_id.expect("imported limits count by rule");
    BY_RULE.with(|counts| counts.borrow().get(rule).copied().unwrap_or(0))
}

/// Authensor's engine for one policy (reference §2.3–2.5), for the fields,
/// operators and scopes `RATE_POLICY` uses: the effect and rule id, the
/// reason of a rate-limited call, or `None` (no opinion). `counts` gives
/// the count under each rule's key: for `global` and for `action` on a rule
/// of one action type, both are the rule's own.
fn authensor_decides(
    policy: &serde_json::Value,
    envelope: &serde_json::Value,
    count: impl Fn(&str) -> u64,
) -> Option<(String, Option<String>, Option<String>)> {
    use serde_json::Value as J;
    fn field<'v>(envelope: &'v J, path: &str) -> Option<&'v J> {
        path.split('.')
            .try_fold(envelope, |value, key| value.get(key))
    }
    fn holds(condition: &J, envelope: &J) -> bool {
        if let Some(all) = condition.get("all") {
            return all.as_array().unwrap().iter().all(|c| holds(c, envelope));
        }
        if let Some(any) = condition.get("any") {
            return any.as_array().unwrap().iter().any(|c| holds(c, envelope));
        }
        if let Some(not) = condition.get("not") {
            return !holds(not, envelope);
        }
        let value = field(envelope, condition["field"].as_str().unwrap());
        let operand = &condition["value"];
        match condition["operator"].as_str().unwrap() {
            "eq" => value == Some(operand),
            "in" => operand
                .as_array()
                .unwrap()
                .iter()
                .any(|item| Some(item) == value),
            "gt" => {
                matches!((value.and_then(J::as_f64), operand.as_f64()), (Some(a), Some(b)) if a > b)
            }
            "endsWith" => {
                matches!((value.and_then(J::as_str), operand.as_str()), (Some(a), Some(b)) if a.ends_with(b))
            }
            "exists" => value.is_some_and(|value| !value.is_null()) == operand.as_bool().unwrap(),
            other => panic!("the model has no {other}"),
        }
    }
    let scope = &policy["scope"];
    let tool = envelope["action"]["type"].as_str().unwrap();
    let glob = |pattern: &str| {
        let regex = format!("^{}$", regex_escape_glob(pattern));
        regex::Regex::new(&regex).unwrap().is_match(tool)
    };
    let in_list = |list: &J, value: Option<&J>| {
        list.as_array()
            .unwrap()
            .iter()
            .any(|item| Some(item) == value)
    };
    if scope.get("actionTypes").is_some_and(|types| {
        !types
            .as_array()
            .unwrap()
            .iter()
            .any(|t| glob(t.as_str().unwrap()))
    }) || scope
        .get("principalTypes")
        .is_some_and(|types| !in_list(types, field(envelope, "principal.type")))
        || scope.get("environments").is_some_and(|envs| {
            field(envelope, "context.environment").is_some_and(|env| !in_list(envs, Some(env)))
        })
    {
        return None;
    }
    for rule in policy["rules"].as_array().unwrap() {
        if rule
            .get("condition")
            .is_some_and(|condition| !holds(condition, envelope))
        {
            continue;
        }
        let id = rule["id"].as_str().unwrap().to_owned();
        if let Some(limit) = rule.get("rateLimit")
            && count(&id) >= limit["requests"].as_u64().unwrap()
        {
            let reason = format!(
                "Rate limit exceeded: {} requests per {}",
                limit["requests"],
                limit["window"].as_str().unwrap()
            );
            return Some(("rate_limited".to_owned(), Some(id), Some(reason)));
        }
        return Some((rule["effect"].as_str().unwrap().to_owned(), Some(id), None));
    }
    let default = policy.get("defaultEffect")?.as_str()?.to_owned();
    Some((default, None, None))
}

/// Authensor's glob as a regex: `*` within a segment, `**` across them.
fn regex_escape_glob(pattern: &str) -> String {
    pattern
        .replace('.', "\\.")
        .replace("**", "\u{0}")
        .replace('*', "[^.]*")
        .replace('\u{0}', ".*")
}

/// Rate-limited rules of both scopes among rules before and after them, a
/// require_approval rule with terms, conditions with `any` and `not`, and a
/// scope of action types, principal types and environments.
const RATE_POLICY: &str = r#"{"id": "p", "name": "P", "version": "1.0.0",
  "scope": {"actionTypes": ["email.*", "files.read"], "principalTypes": ["agent"], "environments": ["production"]},
  "rules": [
    {"id": "big", "effect": "require_approval",
     "condition": {"all": [{"field": "action.type", "operator": "eq", "value": "email.send"},
                           {"field": "action.parameters.n", "operator": "gt", "value": 100}]},
     "approvalConfig": {"requiredApprovals": 2, "expiresIn": "1h"}},
    {"id": "send", "effect": "allow", "description": "mail ok",
     "condition": {"all": [{"field": "action.type", "operator": "eq", "value": "email.send"},
                           {"any": [{"field": "action.parameters.to", "operator": "endsWith", "value": "@a.com"},
                                    {"not": {"field": "action.parameters.bulk", "operator": "exists", "value": true}}]}]},
     "rateLimit": {"requests": 3, "window": "10m", "scope": "action"}},
    {"id": "reads", "effect": "allow",
     "condition": {"not": {"field": "action.parameters.bulk", "operator": "exists", "value": true}},
     "rateLimit": {"requests": 100, "window": "1h", "scope": "global"}},
    {"id": "after", "effect": "deny", "condition": {"field": "action.type", "operator": "eq", "value": "email.send"}}
  ]}"#;

/// The imported policy decides as Authensor's engine does, for each count
/// the two limits may have, within and outside the scope, with the default
/// effect absent, `allow` and `deny`.
#[test]
fn rate_limited_policies_decide_as_authensor_for_every_count() {
    let calls: Vec<(&str, &str, Option<&str>, Option<&str>)> = {
        let mut calls = Vec::new();
        for tool in [
            "email.send",
            "email.read",
            "files.read",
            "shell.exec",
            "email.send.bulk",
        ] {
            for args in [
                r#"{"to": "x@a.com"}"#,
                r#"{"to": "x@b.com", "bulk": true}"#,
                r#"{"to": "x@b.com", "bulk": null}"#,
                r#"{"n": 500, "to": "x@a.com"}"#,
            ] {
                for principal in [Some("agent"), Some("user"), None] {
                    for environment in [Some("production"), Some("staging"), None] {
                        calls.push((tool, args, principal, environment));
                    }
                }
            }
        }
        calls
    };
    let mut decided = std::collections::BTreeMap::new();
    for default in [None, Some("allow"), Some("deny")] {
        let mut source: serde_json::Value = serde_json::from_str(RATE_POLICY).unwrap();
        if let Some(default) = default {
            source["defaultEffect"] = default.into();
        }
        let yaml = import_authensor(&source.to_string()).expect("imports").yaml;
        let policy = compile(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        for (send, reads) in [(0, 0), (2, 99), (3, 100), (7, 250)] {
            BY_RULE.with(|counts| {
                *counts.borrow_mut() =
                    [("send".to_owned(), send), ("reads".to_owned(), reads)].into();
            });
            for &(tool, args, principal, environment) in &calls {
                let mut context = serde_json::json!({});
                let mut envelope = serde_json::json!({"action": {"type": tool, "parameters": serde_json::from_str::<serde_json::Value>(args).unwrap()}});
                if let Some(principal) = principal {
                    context["principal"] = serde_json::json!({"type": principal});
                    envelope["principal"] = serde_json::json!({"type": principal});
                }
                if let Some(environment) = environment {
                    context["environment"] = environment.into();
                    envelope["context"] = serde_json::json!({"environment": environment});
                }
                let expected = authensor_decides(&source, &envelope, |rule| {
                    BY_RULE.with(|counts| counts.borrow()[rule])
                });
                let (args, context_value) = (json_text(args), json_text(&context.to_string()));
                let decision = authensor_policy::with_rate_counter(counted_by_rule, || {
                    decide(
                        None,
                        Some(&policy),
                        &request(tool, &args, &context_value, "tenant-a"),
                    )
                });
                let what = format!(
                    "default {default:?}, counts {send}/{reads}: {tool} {args:?} {context}\n{yaml}"
                );
                match expected {
                    None => assert_eq!(decision.layer, Layer::Default, "{what}"),
                    Some((effect, rule, reason)) => {
                        let action = match effect.as_str() {
                            "allow" => Allow,
                            "require_approval" => Escalate,
                            _ => Block,
                        };
                        assert_eq!(decision.action, action, "{what}");
                        match (effect.as_str(), rule) {
                            ("rate_limited", Some(rule)) => {
                                assert_eq!(
                                    decision.rule_id,
                                    Some(format!("{rule}.rate-limited")),
                                    "{what}"
                                );
                                assert_eq!(Some(decision.reason.clone()), reason, "{what}");
                            }
                            (_, Some(rule)) => assert_eq!(decision.rule_id, Some(rule), "{what}"),
                            (_, None) => assert!(
                                decision.rule_id.is_none()
                                    || decision.rule_id.as_deref() == Some("default-effect"),
                                "{what}"
                            ),
                        }
                        if action == Escalate {
                            let terms = decision.approval.expect("the rule's approval terms");
                            assert_eq!(
                                (terms.required.get(), terms.expires_seconds.map(|s| s.get())),
                                (2, Some(3600)),
                                "{what}"
                            );
                        }
                        *decided.entry(effect).or_insert(0) += 1;
                    }
                }
            }
        }
    }
    // Every outcome is reached, rate-limited ones included.
    for effect in ["allow", "deny", "require_approval", "rate_limited"] {
        assert!(
            decided.get(effect).is_some_and(|n| *n > 0),
            "{effect}: {decided:?}"
        );
    }
}

/// A tenant's call that the platform also allows is credited to the
/// platform, and still counted by the imported rule's limit: the decision
/// names the tenant's own rule as the one its policy decided by, which is
/// what a tenant rule's `scope: rule` limit counts.
#[test]
fn a_carried_rate_limit_counts_calls_the_platform_also_allows() {
    let imported = import_authensor(&limited(
        r#"{"requests": 1, "window": "1m", "scope": "global"}"#,
    ))
    .expect("imports");
    let tenant = compile(&imported.yaml).unwrap();
    let platform = compile("default: allow\nrules: []\n").unwrap();
    let (args, context) = (json_text("{}"), json_text("{}"));
    let decision = decide(
        Some(&platform),
        Some(&tenant),
        &request("x", &args, &context, "tenant-a"),
    );
    assert_eq!(
        (decision.action, decision.layer, decision.rule_id),
        (Allow, Layer::Platform, None)
    );
    assert_eq!(decision.tenant_rule_id.as_deref(), Some("r"));
}
