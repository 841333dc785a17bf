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

-- ==== Agents that run SQL: authensor_agent, protect_table(), unprotect_table() ====
-- (the same as sql/sql_agents.sql). Nothing changes for existing data.

-- Members of this role are agents: every statement their sessions run is
-- decided before it runs, once the operator has set
-- `ALTER ROLE agent SET session_preload_libraries = 'authensor'`.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'authensor_agent') THEN
        CREATE ROLE authensor_agent NOLOGIN;
    END IF;
END
$$;

-- The policies protect_table() makes carry this comment: it tells them from
-- an application's own policies of the same name, which are never touched.
CREATE FUNCTION @extschema@.protected_policy_mark() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
    SELECT 'authensor: rows of the current tenant only (protect_table)'
$$;

-- The state of row security protect_table() recorded when it first
-- protected the table ('enabled, not forced' …), or NULL when the table is
-- not protected.
CREATE FUNCTION @extschema@.protected_state_before(table_name regclass) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT CASE WHEN starts_with(d.comment, d.prefix) THEN substr(d.comment, length(d.prefix) + 1) END
      FROM pg_policy p,
           LATERAL (SELECT obj_description(p.oid, 'pg_policy') AS comment,
                           @extschema@.protected_policy_mark() || '; row security before: ' AS prefix) d
     WHERE p.polrelid = table_name AND p.polname = 'authensor_tenant_only'
$$;

-- Enables and forces row-level security on an application table, with two
-- policies that let through only the rows whose tenant column equals
-- current_tenant(): a permissive one (so the table is usable) and a
-- restrictive one (so that no other permissive policy of the application
-- widens it). Runs with the caller's rights: only the table's owner (or a
-- superuser) can change its row-level security. Idempotent; calling it again
-- with another column moves the policies to that column. Warns about every
-- key whose checks, which bypass row-level security, see other tenants' rows.
CREATE FUNCTION @extschema@.protect_table(table_name regclass, tenant_column name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel       pg_catalog.pg_class;
    tenant_at smallint;
    col_type  text;
    base_type regtype;
    condition text;
    policy    text;
    before    text;
    key       text;
BEGIN
    IF table_name IS NULL OR tenant_column IS NULL THEN
        RAISE EXCEPTION 'authensor.protect_table(): table_name and tenant_column must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO rel FROM pg_class WHERE oid = table_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation with OID % does not exist', table_name::oid
            USING ERRCODE = 'undefined_table';
    END IF;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', table_name
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Row-level security applies to tables; protect the tables a view reads instead.';
    END IF;
    IF rel.relnamespace = '@extschema@'::regnamespace THEN
        RAISE EXCEPTION '% belongs to authensor, whose tables have row-level security of their own', table_name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The type without its modifier: a cast to varchar(n), char(n) or
    -- numeric(p, s) would cut or round the tenant id, and let one tenant's
    -- id match another's rows.
    SELECT a.attnum, format_type(a.atttypid, NULL), a.atttypid INTO tenant_at, col_type, base_type
      FROM pg_attribute a
     WHERE a.attrelid = table_name AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', tenant_column, table_name
            USING ERRCODE = 'undefined_column';
    END IF;
    WHILE (SELECT t.typtype = 'd' FROM pg_type t WHERE t.oid = base_type) LOOP
        SELECT t.typbasetype INTO base_type FROM pg_type t WHERE t.oid = base_type;
    END LOOP;
    -- Under a nondeterministic collation distinct ids compare equal ('sql-a'
    -- and 'SQL-A' under a case-insensitive one): each would read the other's
    -- rows.
    IF EXISTS (SELECT FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
                WHERE a.attrelid = table_name AND a.attname = tenant_column AND NOT c.collisdeterministic) THEN
        RAISE EXCEPTION 'column "%" of relation % has a nondeterministic collation, under which distinct tenant ids can compare equal', tenant_column, table_name
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Give the column a deterministic collation, e.g. ALTER TABLE ... ALTER COLUMN ... TYPE text COLLATE "C".';
    END IF;
    -- The owner of a table, and every member of the owner, can turn its
    -- row-level security off: no agent may be one. (pg_has_role counts a
    -- superuser as a member of every role; superusers bypass row-level
    -- security anyway.)
    IF EXISTS (SELECT FROM pg_roles r
                WHERE NOT r.rolsuper
                  AND pg_has_role(r.oid, 'authensor_agent', 'MEMBER')
                  AND pg_has_role(r.oid, rel.relowner, 'MEMBER')) THEN
        RAISE EXCEPTION '% is owned by an agent role, or by a role an agent role is a member of, which could turn its row-level security off', table_name
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Give the table to a role that no member of authensor_agent belongs to (ALTER TABLE ... OWNER TO).';
    END IF;
    -- Row security as it was before the table was first protected, which
    -- unprotect_table() puts back; kept in the restrictive policy's comment.
    before := @extschema@.protected_state_before(table_name);
    FOR policy IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = table_name AND p.polname IN ('authensor_tenant_rows', 'authensor_tenant_only')
    LOOP
        IF NOT starts_with(coalesce(obj_description((SELECT p.oid FROM pg_policy p
                                                      WHERE p.polrelid = table_name AND p.polname = policy),
                                                     'pg_policy'), ''),
                           @extschema@.protected_policy_mark()) THEN
            RAISE EXCEPTION 'table % already has a policy named % that authensor did not make', table_name, policy
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Rename the application''s policy; authensor names its own authensor_tenant_rows and authensor_tenant_only.';
        END IF;
    END LOOP;
    IF before IS NULL THEN
        before := format('%s, %s',
                         CASE WHEN rel.relrowsecurity THEN 'enabled' ELSE 'disabled' END,
                         CASE WHEN rel.relforcerowsecurity THEN 'forced' ELSE 'not forced' END);
    END IF;
    FOR policy IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = table_name AND p.polname IN ('authensor_tenant_rows', 'authensor_tenant_only')
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', policy, table_name);
    END LOOP;
    -- The tenant is read once per statement (an InitPlan), cast to the
    -- column's type so that an index on the column serves. Only text and
    -- varchar compare as the tenant id does, byte for byte: under any other
    -- type distinct ids can equal one value (citext's 'sql-a' and 'SQL-A',
    -- uuid's upper and lower case, integer's '1' and '01'), so the column's
    -- text must also be the tenant id itself.
    condition := format('%I = (SELECT @extschema@.current_tenant())::%s', tenant_column, col_type);
    IF base_type NOT IN ('text'::regtype, 'varchar'::regtype) THEN
        condition := condition || format(' AND (%I)::text COLLATE "C" = (SELECT @extschema@.current_tenant())', tenant_column);
    END IF;
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', table_name);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', table_name);
    EXECUTE format('CREATE POLICY authensor_tenant_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                   table_name, condition, condition);
    EXECUTE format('CREATE POLICY authensor_tenant_only ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                   table_name, condition, condition);
    EXECUTE format('COMMENT ON POLICY authensor_tenant_rows ON %s IS %L', table_name, @extschema@.protected_policy_mark());
    EXECUTE format('COMMENT ON POLICY authensor_tenant_only ON %s IS %L', table_name,
                   @extschema@.protected_policy_mark() || '; row security before: ' || before);
    -- Unique, exclusion and foreign key checks bypass row-level security: a
    -- key without the tenant column tells one tenant which values other
    -- tenants' rows hold (a unique violation, ON CONFLICT DO NOTHING), and a
    -- foreign key lets one tenant reference another's row, which then cannot
    -- be deleted. Only the key columns count (not an index's INCLUDE ones).
    FOR key IN
        SELECT format('constraint "%s" of %s does not include tenant column "%s"', c.conname, table_name, tenant_column)
          FROM pg_constraint c
         WHERE c.conrelid = table_name AND c.contype IN ('p', 'u', 'x', 'f')
           AND (NOT tenant_at = ANY (c.conkey) OR (c.confrelid = table_name AND NOT tenant_at = ANY (c.confkey)))
        UNION ALL
        SELECT format('constraint "%s" of %s references %s without tenant column "%s"',
                      c.conname, c.conrelid::regclass, table_name, tenant_column)
          FROM pg_constraint c
         WHERE c.confrelid = table_name AND c.conrelid <> table_name AND c.contype = 'f'
           AND NOT tenant_at = ANY (c.confkey)
        UNION ALL
        SELECT format('unique index "%s" of %s does not include tenant column "%s"', i.relname, table_name, tenant_column)
          FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
         WHERE x.indrelid = table_name AND x.indisunique
           AND NOT EXISTS (SELECT FROM pg_constraint c
                            WHERE c.conindid = x.indexrelid AND c.conrelid = table_name AND c.contype IN ('p', 'u', 'x'))
           AND NOT tenant_at = ANY ((x.indkey::smallint[])[0:x.indnkeyatts - 1])
        ORDER BY 1
    LOOP
        RAISE WARNING '%: its checks see every tenant''s rows', key
            USING HINT = format('Make the key composite with the tenant column, e.g. PRIMARY KEY (%1$I, id), '
                                'and foreign keys (%1$I, order_id) REFERENCES ... (%1$I, id).', tenant_column);
    END LOOP;
END
$$;

-- Removes what protect_table() made: its two policies, and puts row-level
-- security back as it was before (enabled or not, forced or not). A table
-- it did not protect is left alone. Idempotent.
CREATE FUNCTION @extschema@.unprotect_table(table_name regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    policy  text;
    before  text;
    dropped boolean := false;
BEGIN
    IF table_name IS NULL THEN
        RAISE EXCEPTION 'authensor.unprotect_table(): table_name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    before := @extschema@.protected_state_before(table_name);
    FOR policy IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = table_name AND p.polname IN ('authensor_tenant_rows', 'authensor_tenant_only')
                     AND starts_with(coalesce(obj_description(p.oid, 'pg_policy'), ''), @extschema@.protected_policy_mark())
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', policy, table_name);
        dropped := true;
    END LOOP;
    -- Without a recorded state (its comment changed), row security stays on.
    IF NOT dropped OR before IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY', table_name,
                   CASE WHEN before LIKE '%not forced' THEN 'NO FORCE' ELSE 'FORCE' END);
    EXECUTE format('ALTER TABLE %s %s ROW LEVEL SECURITY', table_name,
                   CASE WHEN before LIKE 'disabled%' THEN 'DISABLE' ELSE 'ENABLE' END);
END
$$;

-- Operator only: EXECUTE is granted to whoever protects application tables.
REVOKE ALL ON FUNCTION @extschema@.protect_table(regclass, name), @extschema@.unprotect_table(regclass) FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.protect_table(regclass, name) IS
    'Row-level security on an application table: each session reads and writes only the rows of its tenant (operator only)';
COMMENT ON FUNCTION @extschema@.unprotect_table(regclass) IS
    'Removes the row-level security protect_table() made (operator only)';
-- ==== end of: Agents that run SQL ====

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
-- Rate limits: `rate` conditions count the receipts.
--
-- What changes for existing data: nothing. Limits count receipts through the
-- (tenant_id, created_at) index every receipt partition already has, and
-- decisions under a limit take the tenant's rate lock, a lock in a space no
-- SQL command reaches (src/pg/locks.rs), not a row. Its key derives from the
-- channel secret, whose changes now reach every backend's cached keys.
CREATE TRIGGER channel_secret_invalidate_cache
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @extschema@.channel_secret
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.policy_tables_changed();
-- End of rate limits.
-- ---------------------------------------------------------------------------

-- ---------------------------------------------------------------------------
-- Shadow versions: publish_policy(source, shadow => true), shadow_report(),
-- clear_shadow_policy() (the same as sql/shadow.sql).
--
-- What changes for existing data: receipts gain five NULL columns (no
-- rewrite; old receipts read as decided under no shadow, and the chain hashes
-- none of them, so every seal verifies as before). publish_policy() and
-- publish_platform_policy() take a second argument, shadow, DEFAULT false:
-- calls with one argument behave as before, and the grants of the old
-- functions are carried over to the new ones.
ALTER TABLE @extschema@.receipts
    ADD COLUMN shadow_platform_version integer,
    ADD COLUMN shadow_tenant_version   integer,
    ADD COLUMN shadow_action  text CHECK (shadow_action IN ('allow', 'escalate', 'block', 'error')),
    ADD COLUMN shadow_layer   text CHECK (shadow_layer IN ('platform', 'tenant', 'default')),
    ADD COLUMN shadow_rule_id text,
    -- The tenant policy's own deciding rule (sql/receipts.sql), counted by
    -- a tenant rule's rate limit of scope rule. NULL in older receipts,
    -- which no rate limit counts: limits are new in 0.5.0.
    ADD COLUMN tenant_rule_id text;

CREATE FUNCTION @extschema@.publish_policy(source text, shadow boolean DEFAULT false)
RETURNS integer
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'publish_policy_wrapper';
CREATE FUNCTION @extschema@.publish_platform_policy(source text, shadow boolean DEFAULT false)
RETURNS integer
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'publish_platform_policy_wrapper';
-- Whoever could execute the old function can execute the new one, and no
-- one else.
DO $$
DECLARE
    name    text;
    old_fn  regprocedure;
    new_fn  regprocedure;
    grantee oid;
BEGIN
    FOREACH name IN ARRAY ARRAY['publish_policy', 'publish_platform_policy']
    LOOP
        old_fn := pg_catalog.format('@extschema@.%I(text)', name)::regprocedure;
        new_fn := pg_catalog.format('@extschema@.%I(text, boolean)', name)::regprocedure;
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO authensor_definer', new_fn);
        -- Never granted or revoked: the default, as the new one has.
        IF (SELECT p.proacl IS NOT NULL FROM pg_catalog.pg_proc p WHERE p.oid = old_fn) THEN
            EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', new_fn);
        END IF;
        FOR grantee IN
            SELECT DISTINCT a.grantee FROM pg_catalog.pg_proc p,
                   pg_catalog.aclexplode(p.proacl) AS a
             WHERE p.oid = old_fn AND p.proacl IS NOT NULL
               AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
        LOOP
            EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', new_fn,
                CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END);
        END LOOP;
        EXECUTE pg_catalog.format('DROP FUNCTION %s', old_fn);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.publish_policy(text, boolean) IS
    'Validate and activate a new version of the current tenant''s policy, or with shadow => true make it the shadow version';
COMMENT ON FUNCTION @extschema@.publish_platform_policy(text, boolean) IS
    'Validate and activate a new version of the platform policy, or with shadow => true make it the shadow version (operator only)';

CREATE FUNCTION @extschema@.clear_shadow_policy()
RETURNS integer
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'clear_shadow_policy_wrapper';
ALTER FUNCTION @extschema@.clear_shadow_policy() OWNER TO authensor_definer;
CREATE FUNCTION @extschema@.clear_platform_shadow_policy()
RETURNS integer
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'clear_platform_shadow_policy_wrapper';
ALTER FUNCTION @extschema@.clear_platform_shadow_policy() OWNER TO authensor_definer;
-- The platform layer belongs to the operator.
REVOKE ALL ON FUNCTION @extschema@.clear_platform_shadow_policy() FROM PUBLIC;
-- Whoever may publish the platform policy, and so a platform shadow, may
-- clear that shadow too.
DO $$
DECLARE
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_catalog.pg_proc p,
               pg_catalog.aclexplode(p.proacl) AS a
         WHERE p.oid = '@extschema@.publish_platform_policy(text, boolean)'::pg_catalog.regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION @extschema@.clear_platform_shadow_policy() TO %s',
            CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END);
    END LOOP;
END
$$;

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
-- As finalize.sql gives every table of a fresh installation.
CREATE TRIGGER shadow_policies_no_truncate BEFORE TRUNCATE ON @extschema@.shadow_policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_truncate();
-- End of shadow versions.
-- ---------------------------------------------------------------------------
