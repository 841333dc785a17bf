-- Loaded last (finalize), once every feature's file has run: who the
-- SECURITY DEFINER functions run as, and a check that none of them is left
-- callable by PUBLIC by accident.

-- Every SECURITY DEFINER function runs as authensor_definer, never as the
-- superuser who installed the extension: whatever runs inside one (an
-- operator's trigger or default on authensor.receipts included) has that
-- role's rights on the extension's tables and nothing else. Done for all of
-- them at once, so that a new function cannot be left owned by a superuser.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO authensor_definer', fn);
    END LOOP;
END
$$;

-- PostgreSQL lets PUBLIC execute every new function. A SECURITY DEFINER
-- function that not every role may call has that revoked next to its
-- definition, in its feature's file; those every role may call (agents,
-- admin keys and trusted application servers alike, each function deciding
-- inside what its caller may do: README, "Who may call what") are listed
-- here. Any other one still executable by PUBLIC fails CREATE EXTENSION.
DO $$
DECLARE
    for_everyone regprocedure[] := ARRAY[
        '@extschema@.evaluate(text, jsonb, jsonb)',
        '@extschema@.check(text, jsonb, jsonb)',
        '@extschema@.explain(text, jsonb, jsonb)',
        '@extschema@.guard(text, jsonb, jsonb)',
        '@extschema@.publish_policy(text, boolean)',
        '@extschema@.clear_shadow_policy()',
        '@extschema@.validate_policy(text, text)',
        '@extschema@.import_policy(jsonb, text, text)',
        '@extschema@.test_policy(text, text)',
        '@extschema@.activate_policy(integer)',
        '@extschema@.authenticate(text)',
        '@extschema@.create_agent_key(text)',
        '@extschema@.revoke_agent_key(uuid)',
        '@extschema@.approve(uuid, text)',
        '@extschema@.reject(uuid, text)',
        '@extschema@.consume_approval(uuid, text, jsonb)',
        '@extschema@.set_alert_route(text)',
        '@extschema@.alert_route()'
    ];
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
                 AND pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
                 AND p.oid <> ALL (for_everyone)
               ORDER BY 1
    LOOP
        RAISE EXCEPTION 'SECURITY DEFINER function % is executable by PUBLIC', fn
            USING HINT = 'REVOKE ALL ON FUNCTION ... FROM PUBLIC next to its definition, or, if every role may call it, list it in sql/finalize.sql.';
    END LOOP;
END
$$;

-- Every table without a TRUNCATE guard of its own gets one (bootstrap.sql,
-- reject_truncate()).
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
                AND NOT c.relispartition
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
                                 WHERE g.tgrelid = c.oid AND (g.tgtype & 32) <> 0 AND (g.tgtype & 2) <> 0)
              ORDER BY c.relname
    LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_truncate()',
                                  (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t) || '_no_truncate', t);
    END LOOP;
END
$$;
