-- API keys and the tenant of a transaction: keys are issued by the operator
-- (any scope) or by a tenant's admins (agent keys), and authenticate() binds
-- a key's tenant to the transaction, which current_tenant() then returns
-- (src/api_keys.rs, src/tenant.rs).

-- The listing holds no secrets; the hashes live in a table that no role but
-- the extension's functions can read.
CREATE TABLE @extschema@.api_keys (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id  text        NOT NULL CHECK (tenant_id <> ''),
    label      text,
    scope      text        NOT NULL DEFAULT 'agent' CHECK (scope IN ('agent', 'admin')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by text        NOT NULL,
    revoked_at timestamptz,
    revoked_by text
);
CREATE INDEX api_keys_tenant_idx ON @extschema@.api_keys (tenant_id);

-- No foreign key to api_keys: pg_restore -j loads the two tables' rows in
-- parallel, in no set order, and a key whose hash arrived first would be
-- lost. Only create_api_key() and create_agent_key() write both, together.
CREATE TABLE @extschema@.api_key_hashes (
    key_id      uuid  PRIMARY KEY,
    secret_hash bytea NOT NULL   -- sha256 of the key's secret part
);

-- Everyone reads their tenant's keys and nobody the hashes; the functions,
-- running as authensor_definer, add keys and hashes and revoke keys.
REVOKE ALL ON @extschema@.api_keys, @extschema@.api_key_hashes FROM PUBLIC;
GRANT SELECT ON @extschema@.api_keys TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.api_key_hashes TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.api_keys TO authensor_definer;

-- Part of pg_dump's output, so that a restored dump keeps every key.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_key_hashes', '');

-- Row-level security as in policies.sql. No policy but the functions' on the
-- hashes: nobody reads them except through the extension's functions.
ALTER TABLE @extschema@.api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.api_keys FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
ALTER TABLE @extschema@.api_key_hashes ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.api_key_hashes FORCE ROW LEVEL SECURITY;
CREATE POLICY extension_functions ON @extschema@.api_keys TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.api_key_hashes TO authensor_definer USING (true) WITH CHECK (true);

-- Keys of any tenant and scope belong to the operator.
REVOKE ALL ON FUNCTION @extschema@.create_api_key(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.revoke_api_key(uuid) FROM PUBLIC;

COMMENT ON TABLE @extschema@.api_keys IS 'API keys per tenant (no secrets); visible to their tenant only';
COMMENT ON FUNCTION @extschema@.current_tenant() IS
    'The tenant of the current transaction: bound by authenticate(), or authensor.tenant_id for members of authensor_trusted';
COMMENT ON FUNCTION @extschema@.authenticate(text) IS
    'Verify an API key and bind its tenant to the current transaction';
COMMENT ON FUNCTION @extschema@.create_agent_key(text) IS
    'A new agent key for the current tenant (admin keys and trusted roles)';
COMMENT ON FUNCTION @extschema@.revoke_agent_key(uuid) IS
    'Revoke one of the current tenant''s agent keys (admin keys and trusted roles)';
