//! Shadow versions inside one transaction; across sessions, see
//! tests/isolation/specs/shadow_cache.spec, and as roles with keys,
//! tests/pg_regress/sql/shadow.sql.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn one<T: IntoDatum + FromDatum>(sql: &str) -> Option<T> {
        Spi::get_one::<T>(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// `tenant`, as a trusted non-superuser role, with `active` in force and
    /// `shadow` as its shadow version (version 2). Each test has a tenant of
    /// its own: the receipts of a rolled-back test are written again when its
    /// backend exits, and another test's could see them.
    fn tenant_with_shadow(tenant: &str, active: &str, shadow: &str) {
        run("SELECT authensor.publish_platform_policy('rules: []')");
        run("CREATE ROLE shadow_app NOLOGIN NOSUPERUSER NOBYPASSRLS IN ROLE authensor_trusted");
        run("SET LOCAL ROLE shadow_app");
        run(&format!("SET LOCAL authensor.tenant_id = '{tenant}'"));
        Spi::run_with_args("SELECT authensor.publish_policy($1)", &[active.into()]).unwrap();
        let version = Spi::get_one_with_args::<i32>(
            "SELECT authensor.publish_policy($1, shadow => true)",
            &[shadow.into()],
        )
        .unwrap();
        assert_eq!(version, Some(2));
    }

    /// The last receipt's action and shadow columns.
    fn last_receipt() -> (String, Option<i32>, Option<String>, Option<String>) {
        Spi::connect(|client| {
            let row = client
                .select(
                    "SELECT action, shadow_tenant_version, shadow_action, shadow_rule_id
                       FROM authensor.receipts ORDER BY recorded_at DESC LIMIT 1",
                    None,
                    &[],
                )?
                .first();
            Ok::<_, pgrx::spi::Error>((
                row.get::<String>(1)?.unwrap(),
                row.get::<i32>(2)?,
                row.get::<String>(3)?,
                row.get::<String>(4)?,
            ))
        })
        .unwrap()
    }

    #[pg_test]
    fn the_shadow_is_recorded_and_never_decides() {
        tenant_with_shadow(
            "shadow-recorded",
            "default: allow",
            "default: allow\nrules:\n  - id: no-fetch\n    tool: web.fetch\n    action: block\n",
        );
        assert_eq!(
            one::<String>("SELECT action FROM authensor.evaluate('web.fetch')").as_deref(),
            Some("allow")
        );
        assert_eq!(
            last_receipt(),
            (
                "allow".to_owned(),
                Some(2),
                Some("block".to_owned()),
                Some("no-fetch".to_owned())
            )
        );
        // Agreement: the version only.
        run("SELECT authensor.evaluate('files.read')");
        assert_eq!(last_receipt(), ("allow".to_owned(), Some(2), None, None));
        // check() shows the real decision (that it writes nothing is
        // tested in tests/pg_regress/sql/shadow.sql).
        assert_eq!(
            one::<String>("SELECT action FROM authensor.check('web.fetch')").as_deref(),
            Some("allow")
        );
        assert_eq!(
            one::<i64>(
                "SELECT sum(decisions)::bigint FROM authensor.shadow_report(2) WHERE diverged"
            ),
            Some(1)
        );
    }

    #[pg_test]
    fn a_shadow_takes_no_rate_lock_and_opens_no_approval() {
        tenant_with_shadow(
            "shadow-rate",
            "default: allow",
            "default: allow\nrules:\n  - id: limited\n    tool: mail.send\n    action: escalate\n    when:\n      rate: {max: 1, per: 1h}\n",
        );
        run("SELECT authensor.evaluate('mail.send')");
        run("SELECT authensor.evaluate('mail.send')");
        // The second call's shadow counted the first (allowed) receipt.
        assert_eq!(
            last_receipt(),
            (
                "allow".to_owned(),
                Some(2),
                Some("escalate".to_owned()),
                Some("limited".to_owned())
            )
        );
        run("RESET ROLE");
        assert_eq!(crate::pg_tests::own_rate_locks(), 0);
        assert_eq!(
            one::<i64>(
                "SELECT count(*) FROM authensor.approval_requests WHERE tenant_id = 'shadow-rate'"
            ),
            Some(0)
        );
    }

    #[pg_test]
    fn activating_the_shadow_promotes_it_and_clearing_ends_it() {
        tenant_with_shadow("shadow-promote", "default: allow", "default: block");
        // Another version activated: the shadow stays.
        run("SELECT authensor.activate_policy(1)");
        assert_eq!(
            one::<i32>("SELECT version FROM authensor.shadow_policies"),
            Some(2)
        );
        run("SELECT authensor.activate_policy(2)");
        assert_eq!(
            one::<i64>("SELECT count(*) FROM authensor.shadow_policies"),
            Some(0)
        );
        run("SELECT authensor.evaluate('x')");
        assert_eq!(last_receipt(), ("block".to_owned(), None, None, None));
        assert_eq!(
            one::<i32>("SELECT authensor.publish_policy('default: escalate', shadow => true)"),
            Some(3)
        );
        assert_eq!(
            one::<i32>("SELECT authensor.clear_shadow_policy()"),
            Some(3)
        );
        assert_eq!(one::<i32>("SELECT authensor.clear_shadow_policy()"), None);
        run("SELECT authensor.evaluate('x')");
        assert_eq!(last_receipt(), ("block".to_owned(), None, None, None));
    }

    #[pg_test]
    fn an_agents_statements_are_decided_under_the_shadow_too() {
        run("SELECT authensor.publish_platform_policy('rules: []')");
        run("SET LOCAL authensor.tenant_id = 'shadow-sql'");
        run("SELECT authensor.publish_policy('default: allow')");
        run("SELECT authensor.publish_policy('default: block', shadow => true)");
        run("CREATE TABLE public.shadow_items (id int)");
        run("CREATE ROLE shadow_agent NOLOGIN IN ROLE authensor_agent, authensor_trusted");
        run("GRANT SELECT ON public.shadow_items TO shadow_agent");
        run("ALTER ROLE shadow_agent SET authensor.tenant_id = 'shadow-sql'");
        run("SET LOCAL SESSION AUTHORIZATION shadow_agent");
        // Allowed by the active version: the shadow would have blocked it.
        run("SELECT id FROM public.shadow_items");
        assert_eq!(
            one::<String>(
                "SELECT string_agg(tool || ' ' || action || ' ' || shadow_tenant_version || ' ' || shadow_action, ', ')
                   FROM authensor.receipts WHERE args->>'statement' LIKE '%shadow_items%'"
            )
            .as_deref(),
            Some("sql.select allow 2 block")
        );
    }

    /// A stored shadow version that no longer compiles (the language or a
    /// limit changed since it was published; here, a row written by hand)
    /// never makes a decision fail: its receipts record 'error'.
    #[pg_test]
    fn a_shadow_that_no_longer_compiles_fails_no_decision() {
        tenant_with_shadow("shadow-broken", "default: allow", "default: block");
        run("RESET ROLE");
        run(
            "INSERT INTO authensor.policies (layer, tenant_id, version, source, digest, created_by)
             VALUES ('tenant', 'shadow-broken', 3, 'rules: [', sha256('rules: ['), 'operator')",
        );
        run("UPDATE authensor.shadow_policies SET version = 3 WHERE tenant_id = 'shadow-broken'");
        run("SET LOCAL ROLE shadow_app");
        assert_eq!(
            one::<String>("SELECT action FROM authensor.evaluate('x')").as_deref(),
            Some("allow")
        );
        assert_eq!(
            last_receipt(),
            ("allow".to_owned(), Some(3), Some("error".to_owned()), None)
        );
        assert_eq!(
            one::<String>("SELECT action FROM authensor.check('x')").as_deref(),
            Some("allow")
        );
    }

    /// A version published under the deepest authensor.max_condition_depth
    /// allowed compiles again when loaded, whatever the setting is then.
    #[pg_test]
    fn a_version_as_deep_as_publishing_allowed_loads_again() {
        run("SET LOCAL authensor.max_condition_depth = 64");
        let deep = format!(
            "default: allow\nrules:\n  - tool: x\n    action: block\n    when: {}{{args.a: {{exists: true}}}}{}\n",
            "{not: ".repeat(50),
            "}".repeat(50)
        );
        tenant_with_shadow("shadow-deep", "default: allow", &deep);
        run("RESET ROLE");
        run("RESET authensor.max_condition_depth");
        run("SET LOCAL ROLE shadow_app");
        run("SELECT authensor.evaluate('x')");
        assert_eq!(last_receipt(), ("allow".to_owned(), Some(2), None, None));
    }

    /// Version numbers of tenant policies are per tenant: a superuser's
    /// report on a tenant version is the current tenant's only.
    #[pg_test]
    fn a_report_on_a_tenant_version_is_one_tenants() {
        tenant_with_shadow("shadow-report-a", "default: allow", "default: block");
        run("SELECT authensor.evaluate('x')");
        run("SET LOCAL authensor.tenant_id = 'shadow-report-b'");
        run("SELECT authensor.publish_policy('default: allow')");
        run("SELECT authensor.publish_policy('default: escalate', shadow => true)");
        run("SELECT authensor.evaluate('x')");
        run("RESET ROLE");
        assert_eq!(
            one::<String>(
                "SELECT string_agg(shadow_action || ' ' || decisions, ', ') FROM authensor.shadow_report(2)"
            )
            .as_deref(),
            Some("escalate 1")
        );
    }

    #[pg_test(
        error = "policy not published: 1 of 1 tests failed; tests[0] (tool \"x\") expected allow, got block by the tenant policy's default"
    )]
    fn a_shadow_whose_tests_fail_is_refused() {
        tenant_with_shadow("shadow-tests", "default: allow", "default: allow");
        run(
            "SELECT authensor.publish_policy(E'default: block\\ntests:\\n  - tool: x\\n    expect: allow\\n', shadow => true)",
        );
    }
}
