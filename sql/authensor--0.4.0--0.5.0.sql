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
