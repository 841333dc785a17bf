//! `#[pg_test]`s: each runs inside one rolled-back transaction of a real
//! PostgreSQL, as the bootstrap superuser. Row-level security is exercised by
//! switching to a freshly created non-superuser role with SET LOCAL ROLE.

/// The rate locks this backend holds (src/pg/locks.rs's lock space), as
/// pg_locks shows them.
pub(crate) fn own_rate_locks() -> i64 {
    pgrx::Spi::get_one::<i64>(&format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = {} AND pid = pg_backend_pid()",
        crate::pg::locks::OWN_LOCK_SPACE
    ))
    .unwrap()
    .unwrap()
}

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    const PLATFORM: &str = include_str!("../tests/fixtures/platform.yaml");

    const TENANT_A: &str = r#"
    rules:
      - id: internal-email
        tool: "email.send"
        action: allow
        when:
          args.to:
            endsWith: "@tenant-a.com"
      - id: external-email
        tool: "email.send"
        action: escalate
        reason: "External emails need approval"
      - id: tenant-filter
        tool: "database.query"
        action: block
        reason: "Queries must include tenant_id filter"
        when:
          args.query:
            not:
              contains: "tenant_id = '${context.tenantId}'"
      - tool: "**"
        action: allow
    "#;

    const TENANT_B: &str = r#"
    default: block
    rules:
      - tool: "file.read"
        action: allow
    "#;

    fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    fn text(sql: &str) -> String {
        one::<String>(sql).unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    fn publish_tenant(tenant: &str, source: &str) -> i32 {
        run(&format!("SET LOCAL authensor.tenant_id = '{tenant}'"));
        Spi::get_one_with_args::<i32>("SELECT authensor.publish_policy($1)", &[source.into()])
            .unwrap()
            .unwrap()
    }

    /// Publishes the seed's policies and becomes a non-superuser application role.
    fn seed_as_app_role() {
        Spi::run_with_args(
            "SELECT authensor.publish_platform_policy($1)",
            &[PLATFORM.into()],
        )
        .unwrap();
        run("CREATE ROLE authensor_app NOLOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_trusted");
        run("SET LOCAL ROLE authensor_app");
        publish_tenant("tenant-a", TENANT_A);
        publish_tenant("tenant-b", TENANT_B);
    }

    fn decision(tenant: &str, tool: &str, args: &str) -> (String, String) {
        run(&format!("SET LOCAL authensor.tenant_id = '{tenant}'"));
        let (action, layer) = Spi::get_two_with_args::<String, String>(
            "SELECT action, layer FROM authensor.evaluate($1, $2::jsonb)",
            &[tool.into(), args.into()],
        )
        .unwrap();
        (action.unwrap(), layer.unwrap())
    }

    #[pg_test]
    fn seed_scenario_decides_per_layer_for_two_tenants() {
        seed_as_app_role();
        let cases = [
            (
                "tenant-a",
                "email.send",
                r#"{"to": "bob@tenant-a.com"}"#,
                "allow",
                "tenant",
            ),
            (
                "tenant-a",
                "email.send",
                r#"{"to": "x@gmail.com"}"#,
                "escalate",
                "tenant",
            ),
            ("tenant-a", "system.exec", "{}", "block", "platform"),
            (
                "tenant-a",
                "shell.execute",
                r#"{"cmd": "ls"}"#,
                "block",
                "platform",
            ),
            (
                "tenant-a",
                "database.query",
                r#"{"query": "SELECT 1 FROM t WHERE tenant_id = 'tenant-a'"}"#,
                "allow",
                "tenant",
            ),
            (
                "tenant-a",
                "database.query",
                r#"{"query": "SELECT 1 FROM t WHERE tenant_id = 'tenant-b'"}"#,
                "block",
                "tenant",
            ),
            (
                "tenant-b",
                "file.read",
                r#"{"path": "/data/report.csv"}"#,
                "allow",
                "tenant",
            ),
            (
                "tenant-b",
                "email.send",
                r#"{"to": "bob@tenant-a.com"}"#,
                "block",
                "tenant",
            ),
            ("tenant-b", "system.exec", "{}", "block", "platform"),
        ];
        for (tenant, tool, args, action, layer) in cases {
            assert_eq!(
                decision(tenant, tool, args),
                (action.to_owned(), layer.to_owned()),
                "{tenant} {tool} {args}"
            );
        }
    }

    #[pg_test]
    fn a_block_by_the_platform_is_final() {
        seed_as_app_role();
        // tenant-a ends with an allow-everything rule; the platform still blocks.
        assert_eq!(
            decision("tenant-a", "system.reboot", "{}"),
            ("block".into(), "platform".into())
        );
        assert_eq!(
            text("SELECT reason FROM authensor.check('system.reboot')"),
            "System tools are blocked for all tenants"
        );
    }

    #[pg_test]
    fn nothing_matching_anywhere_is_blocked() {
        run("CREATE ROLE authensor_app NOLOGIN IN ROLE authensor_trusted");
        run("SET LOCAL ROLE authensor_app");
        run("SET LOCAL authensor.tenant_id = 'tenant-new'");
        assert_eq!(
            text("SELECT action || '/' || layer FROM authensor.check('file.read')"),
            "block/default"
        );
        assert_eq!(
            one::<String>("SELECT rule_id FROM authensor.check('file.read')"),
            None
        );
    }

    #[pg_test]
    fn a_forged_tenant_in_the_context_changes_nothing() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        let query = r#"{"query": "SELECT * FROM t WHERE tenant_id = 'tenant-a'"}"#;
        let (action, tenant) = Spi::get_two_with_args::<String, String>(
            "SELECT action, tenant_id FROM authensor.evaluate('database.query', $1::jsonb, '{\"tenantId\": \"tenant-a\"}')",
            &[query.into()],
        )
        .unwrap();
        assert_eq!(
            (action.unwrap(), tenant.unwrap()),
            ("block".to_owned(), "tenant-b".to_owned())
        );
        assert_eq!(
            text(
                "SELECT context->>'tenantId' FROM authensor.receipts WHERE committed ORDER BY created_at DESC LIMIT 1"
            ),
            "tenant-b"
        );
    }

    #[pg_test]
    fn each_tenant_sees_only_its_own_receipts_and_policies() {
        seed_as_app_role();
        decision("tenant-a", "email.send", r#"{"to": "x@gmail.com"}"#);
        decision("tenant-a", "file.read", "{}");
        decision("tenant-b", "file.read", "{}");
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(2)
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts WHERE committed AND tenant_id = 'tenant-b'"
            ),
            Some(0)
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.policies WHERE tenant_id IS DISTINCT FROM 'tenant-a'"
            ),
            Some(1),
            "only the platform's version besides its own"
        );
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(1)
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.policies WHERE tenant_id = 'tenant-a'"),
            Some(0)
        );
        run("RESET authensor.tenant_id");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(0)
        );
    }

    #[pg_test(error = "permission denied for table receipts")]
    fn receipts_cannot_be_deleted_by_a_tenant() {
        seed_as_app_role();
        decision("tenant-b", "file.read", "{}");
        run("DELETE FROM authensor.receipts");
    }

    #[pg_test(error = "permission denied for table receipts")]
    fn receipts_cannot_be_inserted_directly() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        run(
            "INSERT INTO authensor.receipts (tenant_id, tool, args, context, action, reason, layer)
             VALUES ('tenant-a', 'x', '{}', '{}', 'allow', 'forged', 'tenant')",
        );
    }

    #[pg_test(error = "authensor.receipts is append-only")]
    fn receipts_are_append_only_even_for_their_owner() {
        seed_as_app_role();
        decision("tenant-b", "file.read", "{}");
        run("RESET ROLE");
        run("UPDATE authensor.receipts SET action = 'allow'");
    }

    #[pg_test(error = "permission denied for function publish_platform_policy")]
    fn a_tenant_cannot_publish_the_platform_policy() {
        seed_as_app_role();
        run("SELECT authensor.publish_platform_policy('rules: []')");
    }

    #[pg_test(error = "authensor.evaluate() needs a tenant, and none is set")]
    fn evaluate_without_a_tenant_is_an_error() {
        run("SELECT authensor.evaluate('file.read')");
    }

    #[pg_test(
        error = "invalid policy: unknown operator \"startswith\" at rules[0].when.args.to (line 7, column 13)"
    )]
    fn an_unknown_operator_is_named_with_its_location() {
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        run("SELECT authensor.publish_policy($$
    rules:
      - tool: email.send
        action: allow
        when:
          args.to:
            startswith: '@x.com'
    $$)");
    }

    #[pg_test(error = "authensor.evaluate(): args must be a JSON object, not an array")]
    fn args_must_be_an_object() {
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        run("SELECT authensor.evaluate('file.read', '[1]')");
    }

    #[pg_test]
    fn check_writes_no_receipt_and_evaluate_writes_one() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        assert_eq!(
            one::<bool>("SELECT receipt_id IS NULL FROM authensor.check('file.read')"),
            Some(true)
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(0)
        );
        let (id, decided_at) = Spi::get_two::<String, String>(
            "SELECT receipt_id::text, decided_at::text FROM authensor.evaluate('file.read', '{\"path\": \"/x\"}')",
        )
        .unwrap();
        let (id, decided_at) = (id.unwrap(), decided_at.unwrap());
        let matches = one::<bool>(&format!(
            "SELECT action = 'allow' AND layer = 'tenant' AND tenant_version = 1 AND platform_version = 1
                    AND created_at = '{decided_at}'::timestamptz AND args = '{{\"path\": \"/x\"}}'
               FROM authensor.receipts WHERE id = '{id}'"
        ));
        assert_eq!(matches, Some(true));
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(1)
        );
    }

    #[pg_test]
    fn guard_answers_in_the_sdk_shape() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        let json =
            text("SELECT authensor.guard('file.read', '{\"path\": \"/data/report.csv\"}')::text");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["action"], "allow");
        assert_eq!(value["layer"], "tenant");
        assert_eq!(value["receipt"]["tenantId"], "tenant-b");
        assert_eq!(value["receipt"]["tool"], "file.read");
        assert!(
            value["receipt"]["id"].is_string() && value["receipt"]["createdAt"].is_string(),
            "{json}"
        );
        let stored = one::<i64>(&format!(
            "SELECT count(*) FROM authensor.receipts WHERE id = '{}'",
            value["receipt"]["id"].as_str().unwrap()
        ));
        assert_eq!(stored, Some(1));
    }

    #[pg_test]
    fn publishing_makes_numbered_versions_and_decisions_record_them() {
        seed_as_app_role();
        assert_eq!(publish_tenant("tenant-b", "default: allow"), 2);
        assert_eq!(
            one::<i32>("SELECT tenant_version FROM authensor.check('email.send')"),
            Some(2)
        );
        assert_eq!(
            one::<i32>("SELECT platform_version FROM authensor.check('email.send')"),
            Some(1)
        );
        assert_eq!(
            text("SELECT action FROM authensor.check('email.send')"),
            "allow"
        );
        assert_eq!(one::<i32>("SELECT authensor.activate_policy(1)"), Some(1));
        assert_eq!(
            text("SELECT action FROM authensor.check('email.send')"),
            "block"
        );
        assert_eq!(
            text(
                "SELECT string_agg(version || ':' || active, ',' ORDER BY version) FROM authensor.policy_versions WHERE layer = 'tenant'"
            ),
            "1:true,2:false"
        );
    }

    #[pg_test]
    fn repeated_decisions_are_served_from_the_cache() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        run("SELECT authensor.check('file.read')");
        let before = one::<pgrx::JsonB>("SELECT authensor.cache_stats()")
            .unwrap()
            .0;
        run("SELECT authensor.check('file.read') FROM generate_series(1, 50)");
        let after = one::<pgrx::JsonB>("SELECT authensor.cache_stats()")
            .unwrap()
            .0;
        let delta = |key: &str| after[key].as_u64().unwrap() - before[key].as_u64().unwrap();
        assert_eq!(delta("hits"), 50, "{before} -> {after}");
        assert_eq!(delta("misses"), 0, "{before} -> {after}");
        assert_eq!(delta("compiles"), 0, "{before} -> {after}");
    }

    /// Creates an API key as the operator, then becomes an untrusted role.
    fn key_for(tenant: &str) -> String {
        let key = one::<String>(&format!(
            "SELECT authensor.create_api_key('{tenant}', 'test')"
        ))
        .unwrap();
        run("CREATE ROLE keyed_agent NOLOGIN NOSUPERUSER NOBYPASSRLS");
        run("SET LOCAL ROLE keyed_agent");
        key
    }

    #[pg_test]
    fn an_untrusted_role_setting_the_tenant_changes_nothing() {
        seed_as_app_role();
        decision("tenant-b", "file.read", "{}");
        run("RESET ROLE");
        run("CREATE ROLE keyed_agent NOLOGIN NOSUPERUSER NOBYPASSRLS");
        run("SET LOCAL ROLE keyed_agent");
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        assert_eq!(one::<String>("SELECT authensor.current_tenant()"), None);
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.receipts WHERE committed"),
            Some(0)
        );
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.policies WHERE tenant_id IS NOT NULL"),
            Some(0)
        );
    }

    #[pg_test(
        error = "authensor.check() needs a tenant, and role \"keyed_agent\" may not choose one with authensor.tenant_id"
    )]
    fn an_untrusted_role_is_told_how_to_get_a_tenant() {
        run("CREATE ROLE keyed_agent NOLOGIN");
        run("SET LOCAL ROLE keyed_agent");
        run("SET LOCAL authensor.tenant_id = 'tenant-b'");
        run("SELECT authensor.check('file.read')");
    }

    #[pg_test]
    fn an_api_key_binds_its_tenant_for_the_transaction() {
        seed_as_app_role();
        run("RESET ROLE");
        let key = key_for("tenant-b");
        assert_eq!(
            Spi::get_one_with_args::<String>(
                "SELECT authensor.authenticate($1)",
                &[key.as_str().into()]
            )
            .unwrap(),
            Some("tenant-b".to_owned())
        );
        assert_eq!(text("SELECT authensor.current_tenant()"), "tenant-b");
        // The bound tenant wins over a forged setting.
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        assert_eq!(
            text("SELECT action || '/' || tenant_id FROM authensor.evaluate('file.read')"),
            "allow/tenant-b"
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts WHERE committed AND tenant_id = 'tenant-b'"
            ),
            Some(1)
        );
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts WHERE committed AND tenant_id = 'tenant-a'"
            ),
            Some(0)
        );
        assert_eq!(
            text("SELECT tenant_id || ':' || label FROM authensor.api_keys"),
            "tenant-b:test"
        );
    }

    #[pg_test(error = "invalid API key")]
    fn a_revoked_key_no_longer_authenticates() {
        let key = one::<String>("SELECT authensor.create_api_key('tenant-b')").unwrap();
        run("SELECT authensor.revoke_api_key(id) FROM authensor.api_keys");
        Spi::run_with_args("SELECT authensor.authenticate($1)", &[key.as_str().into()]).unwrap();
    }

    #[pg_test(error = "invalid API key")]
    fn a_key_with_a_wrong_secret_does_not_authenticate() {
        let key = one::<String>("SELECT authensor.create_api_key('tenant-b')").unwrap();
        let last = if key.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &key[..key.len() - 1]);
        Spi::run_with_args(
            "SELECT authensor.authenticate($1)",
            &[forged.as_str().into()],
        )
        .unwrap();
    }

    #[pg_test(error = "permission denied for function create_api_key")]
    fn only_the_operator_creates_keys() {
        let _ = key_for("tenant-b");
        run("SELECT authensor.create_api_key('tenant-a')");
    }

    #[pg_test(error = "permission denied for table api_key_hashes")]
    fn key_hashes_are_unreadable() {
        let _ = key_for("tenant-b");
        run("SELECT * FROM authensor.api_key_hashes");
    }

    #[pg_test]
    fn an_escalation_opens_an_approval_consumed_once_for_the_same_action() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        let receipt = text(
            "SELECT receipt_id::text FROM authensor.evaluate('email.send', '{\"to\": \"x@gmail.com\"}')",
        );
        assert_eq!(
            text(&format!(
                "SELECT status FROM authensor.approvals WHERE receipt_id = '{receipt}'"
            )),
            "pending"
        );
        assert_eq!(
            text(&format!("SELECT authensor.approve('{receipt}')")),
            "approved"
        );
        let consume = |args: &str| {
            one::<bool>(&format!(
                "SELECT authensor.consume_approval('{receipt}', 'email.send', '{args}')"
            ))
            .unwrap()
        };
        assert!(
            !consume(r#"{"to": "y@gmail.com"}"#),
            "other args must not match"
        );
        assert!(consume(r#"{"to": "x@gmail.com"}"#));
        assert!(
            !consume(r#"{"to": "x@gmail.com"}"#),
            "an approval is used once"
        );
    }

    const QUORUM: &str = r#"
    rules:
      - tool: payments.payout
        action: escalate
        approval: {required: 2, expires: 5m}
    "#;

    /// Opens the escalation of QUORUM's rule for tenant "quorum" and returns
    /// its receipt, with two trusted approvers ready.
    fn quorum_escalation() -> String {
        run("CREATE ROLE quorum_first NOLOGIN IN ROLE authensor_trusted");
        run("CREATE ROLE quorum_second NOLOGIN IN ROLE authensor_trusted");
        publish_tenant("quorum", QUORUM);
        text(
            "SELECT receipt_id::text FROM authensor.evaluate('payments.payout', '{\"amount\": 9}')",
        )
    }

    #[pg_test]
    fn a_quorum_approval_carries_its_rule_terms_and_needs_distinct_approvers() {
        let receipt = quorum_escalation();
        assert_eq!(
            text(&format!(
                "SELECT required || ' ' || extract(epoch FROM expires_at - requested_at)::int
                   FROM authensor.approvals WHERE receipt_id = '{receipt}'"
            )),
            "2 300"
        );
        let approve = || text(&format!("SELECT authensor.approve('{receipt}')"));
        let consume = || {
            one::<bool>(&format!(
                "SELECT authensor.consume_approval('{receipt}', 'payments.payout', '{{\"amount\": 9}}')"
            ))
            .unwrap()
        };
        run("SET LOCAL SESSION AUTHORIZATION quorum_first");
        assert_eq!(approve(), "pending");
        assert!(!consume(), "one approver of two is not enough");
        run("SET LOCAL SESSION AUTHORIZATION quorum_second");
        assert_eq!(approve(), "approved");
        assert!(consume());
    }

    #[pg_test(error = "role \"quorum_first\" has already approved this approval")]
    fn an_approver_counts_once() {
        let receipt = quorum_escalation();
        run("SET LOCAL SESSION AUTHORIZATION quorum_first");
        run(&format!("SELECT authensor.approve('{receipt}')"));
        run(&format!("SELECT authensor.approve('{receipt}')"));
    }

    #[pg_test(
        error = "role \"postgres\" requested this action, so it cannot count as one of its approvers"
    )]
    fn the_requester_is_not_an_approver_of_a_quorum() {
        let receipt = quorum_escalation();
        run(&format!("SELECT authensor.approve('{receipt}')"));
    }

    #[pg_test]
    fn an_imported_authensor_policy_is_shown_valid_and_publishes() {
        run("SET LOCAL authensor.tenant_id = 'imported'");
        let source = r#"{"id": "p", "defaultEffect": "deny", "rules": [
            {"id": "reads", "effect": "allow",
             "condition": {"field": "action.type", "operator": "eq", "value": "file.read"}}]}"#;
        let report = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT authensor.import_policy($1::jsonb)",
            &[source.into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(report["valid"], true, "{report}");
        let yaml = report["yaml"].as_str().unwrap();
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.policy_versions"),
            Some(0),
            "importing publishes nothing"
        );
        Spi::get_one_with_args::<i32>("SELECT authensor.publish_policy($1)", &[yaml.into()])
            .unwrap();
        assert_eq!(decision("imported", "file.read", "{}").0, "allow");
        assert_eq!(decision("imported", "file.write", "{}").0, "block");
    }

    #[pg_test(
        error = "cannot import the policy: session rules (sequences, counts and risk across a session) cannot be expressed at sessionRules"
    )]
    fn an_authensor_policy_with_session_rules_is_refused() {
        run(r#"SELECT authensor.import_policy('{"id": "p", "rules": [], "sessionRules": {}}')"#);
    }

    #[pg_test(error = "authensor.approve() may not be called with an agent key")]
    fn an_agent_cannot_approve_its_own_escalation() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        let receipt = text(
            "SELECT receipt_id::text FROM authensor.evaluate('email.send', '{\"to\": \"x@gmail.com\"}')",
        );
        run("RESET ROLE");
        let key = key_for("tenant-a");
        Spi::run_with_args("SELECT authensor.authenticate($1)", &[key.as_str().into()]).unwrap();
        run(&format!("SELECT authensor.approve('{receipt}')"));
    }

    #[pg_test]
    fn jsonb_arguments_read_into_the_same_values_as_their_text() {
        use crate::pg::jsonb::JsonbArg;
        use authensor_policy::Value;
        let documents = [
            r#"{}"#,
            r#"{"to": "x@gmail.com", "n": 3, "neg": -17, "pi": 3.14159, "big": 12345678901234567890, "tiny": 1e-7}"#,
            r#"{"nested": {"a": [1, [2, [3, {"b": null}]], true, false], "e": {}, "l": []}}"#,
            r#"{"text": "line\nbreak \"quoted\" \\ tab\t é ☃ 😀", "": "empty key"}"#,
            // Numbers of any size and precision, read exactly.
            r#"{"x": 1e400, "y": -1e400, "z": 1e-400, "w": -1e-400, "v": 0.1000000000000000000001}"#,
            r#"{"a": 9007199254740993, "b": 10.50, "c": -0.0, "d": 123456789012345678901234567890.5}"#,
            r#"{"max": 9223372036854775807, "min": -9223372036854775808, "over": 9223372036854775808}"#,
            r#"{"n": [0.0001, 1e131071, 99999999999999999999, 100000000000000000000, 1.23e-16380, 1e-16383]}"#,
            // jsonb keeps the last of repeated keys; its order of keys is ours.
            r#"{"bb": 1, "a": 2, "ccc": [3], "a": 4}"#,
        ];
        for document in documents {
            let expected = Value::from_json(document).unwrap();
            let read = JsonbArg::from_text(document).object();
            assert_eq!(read.as_ref(), Some(&expected), "{document}");
        }
        let value = JsonbArg::from_text(r#"{"x": 10.50}"#).object().unwrap();
        assert_eq!(value, Value::from_json(r#"{"x": 10.5}"#).unwrap());
        assert_ne!(value, Value::from_json(r#"{"x": 10.51}"#).unwrap());
        for not_an_object in ["[1]", "\"s\"", "3", "null", "true", "1e400"] {
            assert!(
                JsonbArg::from_text(not_an_object).object().is_none(),
                "{not_an_object}"
            );
        }
    }

    /// A cancel that arrives while a policy compiles stops the compile: the
    /// policy core calls CHECK_FOR_INTERRUPTS() as it works.
    #[pg_test(error = "canceling statement due to user request")]
    fn a_pending_cancel_stops_a_compile() {
        crate::pg::backend::request_cancel();
        let _ = authensor_policy::compile(PLATFORM);
    }

    /// And a decision.
    #[pg_test(error = "canceling statement due to user request")]
    fn a_pending_cancel_stops_a_decision() {
        let platform = authensor_policy::compile(PLATFORM).unwrap();
        let (args, context) = (authensor_policy::Value::Null, authensor_policy::Value::Null);
        let request = authensor_policy::Request {
            tool: "system.exec",
            args: &args,
            context: &context,
            tenant_id: "tenant-a",
        };
        crate::pg::backend::request_cancel();
        let _ = authensor_policy::decide(Some(&platform), None, &request);
    }

    const TESTED: &str = r#"
    rules:
      - id: own-domain
        tool: email.send
        action: allow
        when:
          args.to:
            endsWith: "@${context.tenantId}.com"
    tests:
      - tool: email.send
        args: {to: bob@tenant-a.com}
        expect: allow
        rule: own-domain
      - tool: system.exec
        expect: block
        rule: no-system-tools
    "#;

    fn tenant_versions() -> i64 {
        one::<i64>("SELECT count(*) FROM authensor.policy_versions WHERE layer = 'tenant'").unwrap()
    }

    #[pg_test]
    fn publishing_runs_the_documents_tests_under_the_platform_policy() {
        seed_as_app_role();
        let before = tenant_versions();
        publish_tenant("tenant-a", TESTED);
        assert_eq!(tenant_versions(), before + 1);
        let failing = format!(
            "{}\n      - {{tool: file.read, expect: allow}}\n",
            TESTED.trim_end()
        );
        Spi::run_with_args(
            "SELECT set_config('pg_test.source', $1, true)",
            &[failing.as_str().into()],
        )
        .unwrap();
        run(
            "DO $$ BEGIN PERFORM authensor.publish_policy(current_setting('pg_test.source'));
               EXCEPTION WHEN assert_failure THEN
                 PERFORM set_config('pg_test.error', SQLERRM, true); END $$",
        );
        assert_eq!(
            text("SELECT current_setting('pg_test.error')"),
            "policy not published: 1 of 3 tests failed; tests[2] (tool \"file.read\") expected allow, got block by the fail-closed default"
        );
        assert_eq!(tenant_versions(), before + 1, "nothing stored");
        let (passed, cases) = Spi::get_two_with_args::<i64, i64>(
            "SELECT count(*) FILTER (WHERE passed), count(*) FROM authensor.test_policy($1)",
            &[failing.as_str().into()],
        )
        .unwrap();
        assert_eq!((passed, cases), (Some(2), Some(3)));
    }

    #[pg_test]
    fn validate_policy_gives_errors_with_their_sqlstate_and_warnings() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        let report = text(
            "SELECT authensor.validate_policy('rules: [{tool: system.exec, action: allow}, {tool: system.exec, action: block}]')::text",
        );
        assert_eq!(
            report,
            r#"{"valid": true, "errors": [], "warnings": [{"code": "overridden-by-platform", "path": "rules[0]", "rule": "rules[0]", "message": "rule \"rules[0]\" is never consulted: platform rule \"no-system-tools\" blocks every call it matches, and a platform block is final"}, {"code": "shadowed-rule", "path": "rules[1]", "rule": "rules[1]", "message": "rule \"rules[1]\" never decides: the earlier rule \"rules[0]\" has no conditions and matches every tool it matches"}, {"code": "overridden-by-platform", "path": "rules[1]", "rule": "rules[1]", "message": "rule \"rules[1]\" is never consulted: platform rule \"no-system-tools\" blocks every call it matches, and a platform block is final"}]}"#
        );
        let error = text(
            "SELECT (authensor.validate_policy('rules: [{action: maybe}]')->'errors'->0)::text",
        );
        assert_eq!(
            error,
            r#"{"hint": "valid actions: allow, escalate, block", "line": 1, "path": "rules[0].action", "column": 18, "message": "unknown action \"maybe\"", "sqlstate": "22023"}"#
        );
    }

    #[pg_test]
    fn explain_gives_checks_decision_without_a_receipt() {
        seed_as_app_role();
        run("SET LOCAL authensor.tenant_id = 'tenant-a'");
        // Counted by their address alone: other backends of the test run may
        // write their own rolled-back receipts at any time.
        let receipts = || {
            one::<i64>(
                "SELECT count(*) FROM authensor.receipts WHERE args->>'to' = 'x@explain-probe.com'",
            )
            .unwrap()
        };
        let explained = text(
            r#"SELECT e->>'action' || ' ' || (e->'layers'->1->'visited'->0->'checks'->0->>'operator')
                      || ' ' || (e->'layers'->1->'visited'->0->'checks'->0->>'value')
                 FROM authensor.explain('email.send', '{"to": "x@explain-probe.com"}') AS e"#,
        );
        assert_eq!(explained, r#"escalate endsWith "x@explain-probe.com""#);
        let checked = text(
            r#"SELECT action FROM authensor.check('email.send', '{"to": "x@explain-probe.com"}')"#,
        );
        assert_eq!(checked, "escalate");
        assert_eq!(receipts(), 0);
        run(r#"SELECT authensor.evaluate('email.send', '{"to": "x@explain-probe.com"}')"#);
        assert_eq!(
            receipts(),
            1,
            "the count sees a receipt when one is written"
        );
    }

    #[pg_test]
    fn a_rate_limit_counts_allowed_calls_and_locks_only_its_tenant() {
        seed_as_app_role();
        publish_tenant(
            "tenant-c",
            "default: allow\nrules:\n  - tool: mail.send\n    action: block\n    when:\n      rate: {max: 2, per: 1h, scope: tool}\n",
        );
        let actions: Vec<String> = [
            "mail.send",
            "file.read",
            "mail.send",
            "mail.send",
            "mail.send",
        ]
        .iter()
        .map(|tool| decision("tenant-c", tool, "{}").0)
        .collect();
        assert_eq!(actions, ["allow", "allow", "allow", "block", "block"]);
        // A tenant without a rate condition takes no lock.
        assert_eq!(decision("tenant-b", "file.read", "{}").0, "allow");
        run("RESET ROLE");
        // One rate lock taken, tenant-c's, in the extension's own lock space.
        assert_eq!(super::own_rate_locks(), 1);
    }
}
