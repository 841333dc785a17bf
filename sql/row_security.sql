-- Row-level security, keyed on authensor.current_tenant(): the tenant bound by
-- authenticate() in this transaction, or authensor.tenant_id for members of
-- authensor_trusted (see src/tenant.rs). The sub-select makes the planner
-- call it once per query instead of once per row; NULL matches nothing.

ALTER TABLE @extschema@.policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.policies FOR SELECT
    USING (tenant_id IS NULL OR tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.active_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.active_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.active_policies FOR SELECT
    USING (tenant_id IS NULL OR tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipts FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.api_keys FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

-- No policy for anyone else: nobody reads the hashes except through the
-- extension's functions.
ALTER TABLE @extschema@.api_key_hashes ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_key_hashes FORCE ROW LEVEL SECURITY;

-- The extension's SECURITY DEFINER functions run as authensor_definer and
-- filter by tenant themselves; row-level security lets that role, and no
-- other, through.
CREATE POLICY extension_functions ON @extschema@.policies TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.active_policies TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.receipts TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.api_keys TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.api_key_hashes TO authensor_definer USING (true) WITH CHECK (true);
