-- Objects that refer to the generated functions. Loaded last (finalize).

-- Publishing or activating queues a cache invalidation that reaches every
-- backend at commit (see src/cache.rs).
CREATE TRIGGER policies_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();
CREATE TRIGGER active_policies_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.active_policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();
REVOKE ALL ON FUNCTION @extschema@.policy_tables_changed() FROM PUBLIC;

-- The platform layer and the API keys belong to the operator.
REVOKE ALL ON FUNCTION @extschema@.publish_platform_policy(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activate_platform_policy(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.create_api_key(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.revoke_api_key(uuid) FROM PUBLIC;

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

-- DROP EXTENSION authensor is refused while receipts exist, unless
-- authensor.allow_drop is set (see src/drop_guard.rs).
CREATE FUNCTION @extschema@.drop_guard() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'authensor_drop_guard';
REVOKE ALL ON FUNCTION @extschema@.drop_guard() FROM PUBLIC;
CREATE EVENT TRIGGER authensor_drop_guard ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION @extschema@.drop_guard();

-- Version history: every version the caller may see, and which is in force.
CREATE VIEW @extschema@.policy_versions WITH (security_invoker = true) AS
SELECT p.layer,
       p.tenant_id,
       p.version,
       p.created_at,
       p.created_by,
       a.version IS NOT NULL AS active
  FROM @extschema@.policies p
  LEFT JOIN @extschema@.active_policies a
         ON a.layer = p.layer
        AND coalesce(a.tenant_id, '') = coalesce(p.tenant_id, '')
        AND a.version = p.version;
GRANT SELECT ON @extschema@.policy_versions TO PUBLIC;

COMMENT ON SCHEMA @extschema@ IS 'authensor: safety policies for multi-tenant AI agents';
COMMENT ON FUNCTION @extschema@.evaluate(text, jsonb, jsonb) IS
    'Decide allow, escalate or block for the current tenant''s tool call and write a receipt';
COMMENT ON FUNCTION @extschema@.check(text, jsonb, jsonb) IS
    'The decision evaluate() would make, without a receipt';
COMMENT ON FUNCTION @extschema@.guard(text, jsonb, jsonb) IS
    'evaluate() as JSON in the Authensor SDK shape';
COMMENT ON FUNCTION @extschema@.publish_policy(text) IS
    'Validate and activate a new version of the current tenant''s policy';
COMMENT ON FUNCTION @extschema@.publish_platform_policy(text) IS
    'Validate and activate a new version of the platform policy (operator only)';
COMMENT ON FUNCTION @extschema@.current_tenant() IS
    'The tenant of the current transaction: bound by authenticate(), or authensor.tenant_id for members of authensor_trusted';
COMMENT ON FUNCTION @extschema@.authenticate(text) IS
    'Verify an API key and bind its tenant to the current transaction';
COMMENT ON FUNCTION @extschema@.create_agent_key(text) IS
    'A new agent key for the current tenant (admin keys and trusted roles)';
COMMENT ON FUNCTION @extschema@.revoke_agent_key(uuid) IS
    'Revoke one of the current tenant''s agent keys (admin keys and trusted roles)';
COMMENT ON TABLE @extschema@.api_keys IS 'API keys per tenant (no secrets); visible to their tenant only';
COMMENT ON FUNCTION @extschema@.approve(uuid, text) IS
    'Approve the pending approval of an escalated receipt (members of authensor_trusted, within their tenant)';
COMMENT ON FUNCTION @extschema@.reject(uuid, text) IS
    'Reject an approval that is pending or approved and not yet used; final';
COMMENT ON FUNCTION @extschema@.consume_approval(uuid, text, jsonb) IS
    'True exactly once, for an approved, unexpired approval presented with the same tool and args';
COMMENT ON VIEW @extschema@.approvals IS 'Approvals opened by escalate decisions, with their status; visible to their tenant only';
COMMENT ON TABLE @extschema@.receipts IS 'One row per evaluate() call; append-only, visible to its tenant only';
COMMENT ON TABLE @extschema@.policies IS 'Every published policy version; immutable';
COMMENT ON TABLE @extschema@.active_policies IS 'The policy version in force per layer and tenant';
