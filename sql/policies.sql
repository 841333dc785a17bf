-- Policies: every published version of the platform's and each tenant's
-- policy, the version in force, and the functions that publish, activate and
-- decide with them (src/publish.rs, src/evaluate.rs).

-- Every published version of every policy. Rows are immutable; which version
-- is in force is recorded in active_policies.
CREATE TABLE @extschema@.policies (
    layer      text        NOT NULL CHECK (layer IN ('platform', 'tenant')),
    tenant_id  text        CHECK (tenant_id <> ''),
    version    integer     NOT NULL CHECK (version > 0),
    source     text        NOT NULL,
    digest     bytea       NOT NULL,   -- sha256 of source: the key of compiled-policy caches
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by text        NOT NULL,
    CONSTRAINT policies_layer_tenant CHECK ((layer = 'platform') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX policies_version_key
    ON @extschema@.policies (layer, coalesce(tenant_id, ''), version);

-- The version in force for each (layer, tenant): one row per layer and tenant.
CREATE TABLE @extschema@.active_policies (
    layer        text        NOT NULL CHECK (layer IN ('platform', 'tenant')),
    tenant_id    text        CHECK (tenant_id <> ''),
    version      integer     NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    activated_by text        NOT NULL,
    CONSTRAINT active_policies_layer_tenant CHECK ((layer = 'platform') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX active_policies_key
    ON @extschema@.active_policies (layer, coalesce(tenant_id, ''));

-- Everyone reads (row-level security filters what); the functions, running
-- as authensor_definer, only ever add versions, and change which is active.
REVOKE ALL ON @extschema@.policies, @extschema@.active_policies FROM PUBLIC;
GRANT SELECT ON @extschema@.policies, @extschema@.active_policies TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.policies TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.active_policies TO authensor_definer;

-- Part of pg_dump's output, so that a restored dump keeps every version.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.active_policies', '');

CREATE TRIGGER policies_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.policies
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER policies_no_truncate
    BEFORE TRUNCATE ON @extschema@.policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();

-- Row-level security, keyed on authensor.current_tenant(): the tenant bound by
-- authenticate() in this transaction, or authensor.tenant_id for members of
-- authensor_trusted (see src/tenant.rs); every feature's tables use it the
-- same way. The sub-select makes the planner call it once per query instead
-- of once per row; NULL matches nothing. The platform's versions are
-- everyone's to read.
ALTER TABLE @extschema@.policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.policies FOR SELECT
    USING (tenant_id IS NULL OR tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.active_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.active_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.active_policies FOR SELECT
    USING (tenant_id IS NULL OR tenant_id = (SELECT @extschema@.current_tenant()));

-- The extension's SECURITY DEFINER functions run as authensor_definer and
-- filter by tenant themselves; row-level security lets that role, and no
-- other, through. Every feature's tables have this policy.
CREATE POLICY extension_functions ON @extschema@.policies TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.active_policies TO authensor_definer USING (true) WITH CHECK (true);

-- Publishing or activating queues a cache invalidation that reaches every
-- backend at commit (see src/cache.rs).
CREATE TRIGGER policies_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();
CREATE TRIGGER active_policies_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.active_policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();
REVOKE ALL ON FUNCTION @extschema@.policy_tables_changed() FROM PUBLIC;

-- The platform layer belongs to the operator.
REVOKE ALL ON FUNCTION @extschema@.publish_platform_policy(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.activate_platform_policy(integer) FROM PUBLIC;

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

COMMENT ON TABLE @extschema@.policies IS 'Every published policy version; immutable';
COMMENT ON TABLE @extschema@.active_policies IS 'The policy version in force per layer and tenant';
COMMENT ON FUNCTION @extschema@.publish_policy(text, boolean) IS
    'Validate and activate a new version of the current tenant''s policy, or with shadow => true make it the shadow version';
COMMENT ON FUNCTION @extschema@.publish_platform_policy(text, boolean) IS
    'Validate and activate a new version of the platform policy, or with shadow => true make it the shadow version (operator only)';
COMMENT ON FUNCTION @extschema@.evaluate(text, jsonb, jsonb) IS
    'Decide allow, escalate or block for the current tenant''s tool call and write a receipt';
COMMENT ON FUNCTION @extschema@.check(text, jsonb, jsonb) IS
    'The decision evaluate() would make, without a receipt';
COMMENT ON FUNCTION @extschema@.guard(text, jsonb, jsonb) IS
    'evaluate() as JSON in the Authensor SDK shape';
