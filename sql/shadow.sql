-- Shadow versions: a published candidate evaluated alongside the active
-- version of its layer on every decision that writes a receipt, without
-- changing its answer (src/shadow.rs). Receipts record what it would have
-- decided when that differs (receipts.sql); shadow_report() sums them up.

-- The shadow version of each (layer, tenant), if any: at most one. A
-- publish with shadow => true replaces it; activate_policy() of it, or
-- clear_shadow_policy(), removes it.
CREATE TABLE @extschema@.shadow_policies (
    layer       text        NOT NULL CHECK (layer IN ('platform', 'tenant')),
    tenant_id   text        CHECK (tenant_id <> ''),
    version     integer     NOT NULL,
    shadowed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    shadowed_by text        NOT NULL,
    CONSTRAINT shadow_policies_layer_tenant CHECK ((layer = 'platform') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX shadow_policies_key
    ON @extschema@.shadow_policies (layer, coalesce(tenant_id, ''));

REVOKE ALL ON @extschema@.shadow_policies FROM PUBLIC;
GRANT SELECT ON @extschema@.shadow_policies TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.shadow_policies TO authensor_definer;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.shadow_policies', '');

-- As policies.sql: each tenant reads its own row and the platform's.
ALTER TABLE @extschema@.shadow_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.shadow_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.shadow_policies FOR SELECT
    USING (tenant_id IS NULL OR tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.shadow_policies TO authensor_definer USING (true) WITH CHECK (true);

-- A new or cleared shadow reaches every backend's cache at commit, as a
-- publish does (src/cache.rs).
CREATE TRIGGER shadow_policies_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.shadow_policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();

-- The platform layer belongs to the operator.
REVOKE ALL ON FUNCTION @extschema@.clear_platform_shadow_policy() FROM PUBLIC;

-- What the shadow version `version` of `layer` decided beside the active
-- one, from the receipts the caller may read (row-level security: a tenant
-- its own; a superuser every tenant's). One row per tool, real decision and
-- shadow decision; `diverged` false sums the decisions on which both agreed,
-- so that the divergence rate is visible. Runs with the caller's rights.
CREATE FUNCTION @extschema@.shadow_report(version integer, layer text DEFAULT 'tenant')
RETURNS TABLE (tool text, action text, decided_layer text, rule_id text,
               shadow_action text, shadow_layer text, shadow_rule_id text,
               diverged boolean, decisions bigint,
               first_seen timestamptz, last_seen timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tenant text;
BEGIN
    IF shadow_report.version IS NULL OR shadow_report.layer IS NULL THEN
        RAISE EXCEPTION 'authensor.shadow_report(): version and layer must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF shadow_report.layer NOT IN ('platform', 'tenant') THEN
        RAISE EXCEPTION 'authensor.shadow_report(): layer must be ''platform'' or ''tenant'', not %',
                        quote_literal(shadow_report.layer)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A tenant version number names a version of one tenant's policy only:
    -- the report is the current tenant's, whoever may read more receipts.
    IF shadow_report.layer = 'tenant' THEN
        tenant := @extschema@.current_tenant();
        IF tenant IS NULL THEN
            RAISE EXCEPTION 'authensor.shadow_report(): a report on a tenant version needs a tenant'
                USING ERRCODE = 'invalid_authorization_specification',
                      HINT = 'Call authensor.authenticate(api_key) in the transaction first, or set authensor.tenant_id as a member of authensor_trusted.';
        END IF;
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.policies p
                    WHERE p.layer = shadow_report.layer AND p.version = shadow_report.version
                      AND p.tenant_id IS NOT DISTINCT FROM tenant) THEN
        RAISE EXCEPTION 'authensor.shadow_report(): there is no version % of the % policy',
                        shadow_report.version, shadow_report.layer
            USING ERRCODE = 'undefined_object',
                  HINT = 'authensor.policy_versions lists the versions; authensor.shadow_policies the shadow ones.';
    END IF;
    RETURN QUERY
    SELECT r.tool, r.action, r.layer, r.rule_id,
           coalesce(r.shadow_action, r.action),
           CASE WHEN r.shadow_action IS NULL THEN r.layer ELSE r.shadow_layer END,
           CASE WHEN r.shadow_action IS NULL THEN r.rule_id ELSE r.shadow_rule_id END,
           r.shadow_action IS NOT NULL, count(*), min(r.created_at), max(r.created_at)
      FROM @extschema@.receipts r
     WHERE CASE shadow_report.layer WHEN 'platform' THEN r.shadow_platform_version
                                    ELSE r.shadow_tenant_version END = shadow_report.version
       AND (tenant IS NULL OR r.tenant_id = tenant)
     GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
     ORDER BY 8 DESC, 9 DESC, 1, 2, 4, 5, 7;
END
$$;

COMMENT ON TABLE @extschema@.shadow_policies IS
    'The shadow version per layer and tenant: evaluated beside the active one, never deciding';
COMMENT ON FUNCTION @extschema@.shadow_report(integer, text) IS
    'How a shadow version''s decisions differed from the active version''s, by tool, rule and action, from the caller''s receipts';
COMMENT ON FUNCTION @extschema@.clear_shadow_policy() IS
    'Stop evaluating the current tenant''s shadow version; returns it, or NULL if there was none';
COMMENT ON FUNCTION @extschema@.clear_platform_shadow_policy() IS
    'Stop evaluating the platform''s shadow version (operator only)';
