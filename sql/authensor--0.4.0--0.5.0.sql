-- authensor 0.4.0 -> 0.5.0.
--
-- What changes for existing data is said beside each part below.
\echo Use "ALTER EXTENSION authensor UPDATE TO '0.5.0'" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Policy authoring: validate_policy(), test_policy() and explain().
--
-- What changes for existing data: nothing. Stored policy versions are read
-- as before; a document may now hold `tests:`, which publishing runs.
CREATE FUNCTION @extschema@.validate_policy(source text, layer text DEFAULT 'tenant')
RETURNS jsonb
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'validate_policy_wrapper';
ALTER FUNCTION @extschema@.validate_policy(text, text) OWNER TO authensor_definer;

CREATE FUNCTION @extschema@.test_policy(source text, layer text DEFAULT 'tenant')
RETURNS TABLE (test integer, tool text, expect text, expect_rule text, action text,
               decided_layer text, rule_id text, passed boolean)
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'test_policy_wrapper';
ALTER FUNCTION @extschema@.test_policy(text, text) OWNER TO authensor_definer;

CREATE FUNCTION @extschema@.explain(tool text, args jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'explain_wrapper';
ALTER FUNCTION @extschema@.explain(text, jsonb, jsonb) OWNER TO authensor_definer;
-- End of policy authoring.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Rate limits: `rate` conditions count the receipts.
--
-- What changes for existing data: nothing. Limits count receipts through the
-- (tenant_id, created_at) index every receipt partition already has.
-- One row per tenant whose policy has a `rate` condition: evaluate() and
-- guard() lock it (FOR UPDATE, held until the transaction ends) before
-- counting the tenant's receipts, so that two decisions near a limit cannot
-- both pass it (src/rate_limits.rs). A row lock, not an advisory lock: no
-- other role can take it, so no tenant can hold up another's decisions.
-- The rows hold nothing worth keeping and are made again as needed.
CREATE TABLE @extschema@.rate_locks (
    tenant_id text PRIMARY KEY
);
REVOKE ALL ON @extschema@.rate_locks FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.rate_locks TO authensor_definer;
-- As finalize.sql gives every table of a fresh installation.
CREATE TRIGGER rate_locks_no_truncate BEFORE TRUNCATE ON @extschema@.rate_locks
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_truncate();
-- End of rate limits.
-- ---------------------------------------------------------------------------
