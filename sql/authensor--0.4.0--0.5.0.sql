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
-- Quorum approvals and per-rule expiry: a rule's `approval:` block.
--
-- What changes for existing data: every approval already open needs one
-- approver, as before (required = 1), and keeps its expiry; who requested it
-- is unknown (requested_by NULL). approve() now counts each login role once.
ALTER TABLE @extschema@.approval_requests
    ADD COLUMN required integer NOT NULL DEFAULT 1 CHECK (required BETWEEN 1 AND 16),
    ADD COLUMN requested_by text;

CREATE TABLE @extschema@.approval_votes (
    approval_id uuid        NOT NULL,
    tenant_id   text        NOT NULL,
    approver    text        NOT NULL,
    voted_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    note        text,
    PRIMARY KEY (approval_id, approver)
);
ALTER TABLE @extschema@.approval_votes ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.approval_votes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.approval_votes FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
REVOKE ALL ON @extschema@.approval_votes FROM PUBLIC;
GRANT SELECT ON @extschema@.approval_votes TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.approval_votes TO authensor_definer;
CREATE POLICY extension_functions ON @extschema@.approval_votes TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.approval_votes', '');
-- As every table of the extension (finalize.sql): TRUNCATE would pass over
-- row-level security.
CREATE TRIGGER approval_votes_no_truncate BEFORE TRUNCATE ON @extschema@.approval_votes
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_truncate();

CREATE OR REPLACE VIEW @extschema@.approvals WITH (security_invoker = true) AS
SELECT id,
       receipt_id,
       tenant_id,
       tool,
       CASE WHEN status IN ('pending', 'approved') AND expires_at <= clock_timestamp()
            THEN 'expired' ELSE status END AS status,
       requested_at,
       expires_at,
       decided_at,
       decided_by,
       note,
       required,
       (SELECT count(*) FROM @extschema@.approval_votes v WHERE v.approval_id = a.id) AS approvers
  FROM @extschema@.approval_requests a;

COMMENT ON FUNCTION @extschema@.approve(uuid, text) IS
    'Approve the pending approval of an escalated receipt, once per login role; approved when its rule''s required approvers have (admin keys and members of authensor_trusted, within their tenant)';
-- End of quorum approvals.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Authensor JSON import: import_policy().
--
-- What changes for existing data: nothing; the function writes nothing.
CREATE FUNCTION @extschema@.import_policy(source jsonb, format text DEFAULT 'authensor',
                                          layer text DEFAULT 'tenant')
RETURNS jsonb
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'import_policy_wrapper';
ALTER FUNCTION @extschema@.import_policy(jsonb, text, text) OWNER TO authensor_definer;
-- End of Authensor JSON import.
-- ---------------------------------------------------------------------------
