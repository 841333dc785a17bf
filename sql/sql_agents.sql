-- Agents that run SQL (README, "Agents that run SQL"): the role whose
-- members' statements are decided (src/statements.rs), and row-level
-- security on application tables keyed on the tenant.

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
