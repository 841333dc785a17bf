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

-- Enables and forces row-level security on an application table, with two
-- policies that let through only the rows whose tenant column equals
-- current_tenant(): a permissive one (so the table is usable) and a
-- restrictive one (so that no other permissive policy of the application
-- widens it). Runs with the caller's rights: only the table's owner (or a
-- superuser) can change its row-level security. Idempotent; calling it again
-- with another column moves the policies to that column.
CREATE FUNCTION @extschema@.protect_table(table_name regclass, tenant_column name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rel       pg_catalog.pg_class;
    col_type  text;
    condition text;
    policy    text;
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
    SELECT format_type(a.atttypid, NULL) INTO col_type
      FROM pg_attribute a
     WHERE a.attrelid = table_name AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of relation % does not exist', tenant_column, table_name
            USING ERRCODE = 'undefined_column';
    END IF;
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
    FOR policy IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = table_name AND p.polname IN ('authensor_tenant_rows', 'authensor_tenant_only')
    LOOP
        IF obj_description((SELECT p.oid FROM pg_policy p WHERE p.polrelid = table_name AND p.polname = policy),
                           'pg_policy') IS DISTINCT FROM @extschema@.protected_policy_mark() THEN
            RAISE EXCEPTION 'table % already has a policy named % that authensor did not make', table_name, policy
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Rename the application''s policy; authensor names its own authensor_tenant_rows and authensor_tenant_only.';
        END IF;
        EXECUTE format('DROP POLICY %I ON %s', policy, table_name);
    END LOOP;
    -- The tenant is read once per statement (an InitPlan), cast to the
    -- column's type so that an index on the column serves.
    condition := format('%I = (SELECT @extschema@.current_tenant())::%s', tenant_column, col_type);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', table_name);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', table_name);
    EXECUTE format('CREATE POLICY authensor_tenant_rows ON %s AS PERMISSIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                   table_name, condition, condition);
    EXECUTE format('CREATE POLICY authensor_tenant_only ON %s AS RESTRICTIVE FOR ALL TO PUBLIC USING (%s) WITH CHECK (%s)',
                   table_name, condition, condition);
    EXECUTE format('COMMENT ON POLICY authensor_tenant_rows ON %s IS %L', table_name, @extschema@.protected_policy_mark());
    EXECUTE format('COMMENT ON POLICY authensor_tenant_only ON %s IS %L', table_name, @extschema@.protected_policy_mark());
END
$$;

-- Removes what protect_table() made: its two policies, and row-level security
-- itself when no other policy is left on the table. Idempotent.
CREATE FUNCTION @extschema@.unprotect_table(table_name regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    policy text;
BEGIN
    IF table_name IS NULL THEN
        RAISE EXCEPTION 'authensor.unprotect_table(): table_name must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR policy IN SELECT p.polname FROM pg_policy p
                   WHERE p.polrelid = table_name AND p.polname IN ('authensor_tenant_rows', 'authensor_tenant_only')
                     AND obj_description(p.oid, 'pg_policy') = @extschema@.protected_policy_mark()
    LOOP
        EXECUTE format('DROP POLICY %I ON %s', policy, table_name);
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = table_name) THEN
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', table_name);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', table_name);
    END IF;
END
$$;

-- Operator only: EXECUTE is granted to whoever protects application tables.
REVOKE ALL ON FUNCTION @extschema@.protect_table(regclass, name), @extschema@.unprotect_table(regclass) FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.protect_table(regclass, name) IS
    'Row-level security on an application table: each session reads and writes only the rows of its tenant (operator only)';
COMMENT ON FUNCTION @extschema@.unprotect_table(regclass) IS
    'Removes the row-level security protect_table() made (operator only)';
