-- What every feature needs, loaded first (bootstrap), before the functions
-- that pgrx generates: the extension's roles, the schema's grant, the type
-- the decision functions return, and the append-only trigger function. Each
-- feature's tables, row-level security, triggers, grants and comments are in
-- a file of its own (policies.sql, receipts.sql, keys.sql, approvals.sql,
-- sentinel.sql); finalize.sql hands the SECURITY DEFINER functions to
-- authensor_definer and checks that none is left callable by PUBLIC by
-- accident.

COMMENT ON SCHEMA @extschema@ IS 'authensor: safety policies for multi-tenant AI agents';

-- Members of this role may choose the tenant with authensor.tenant_id
-- (trusted application servers). Everyone else authenticates with a key.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'authensor_trusted') THEN
        CREATE ROLE authensor_trusted NOLOGIN;
    END IF;
END
$$;

-- The role every SECURITY DEFINER function of the extension runs as (see
-- finalize.sql): no superuser, no login, no members, and only the table
-- rights each feature's file grants it. A role of that name made earlier by
-- someone else is used only if it is just as powerless.
DO $$
DECLARE
    definer pg_catalog.pg_roles;
BEGIN
    SELECT * INTO definer FROM pg_catalog.pg_roles WHERE rolname = 'authensor_definer';
    IF NOT FOUND THEN
        CREATE ROLE authensor_definer NOLOGIN NOINHERIT;
    ELSIF definer.rolsuper OR definer.rolcanlogin OR definer.rolbypassrls OR definer.rolcreaterole
          OR definer.rolcreatedb OR definer.rolreplication
          OR EXISTS (SELECT FROM pg_catalog.pg_auth_members WHERE roleid = definer.oid OR member = definer.oid) THEN
        RAISE EXCEPTION 'role authensor_definer exists and has more rights than the extension allows'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'authensor''s functions run as authensor_definer, which must be NOLOGIN, not a superuser, without special attributes, and neither a member of any role nor have members. Drop or fix the role, then retry.';
    END IF;
END
$$;

-- Ordinary roles read the tables (row-level security filters what they see)
-- and never write: all writes go through the extension's SECURITY DEFINER
-- functions.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

-- What evaluate(), check() and the internals of guard() return; it exists
-- before them.
CREATE TYPE @extschema@.decision AS (
    action           text,         -- allow | escalate | block
    reason           text,
    layer            text,         -- platform | tenant | default
    rule_id          text,         -- NULL when a policy default or fail-closed decided
    tenant_id        text,
    platform_version integer,      -- NULL when no platform policy is active
    tenant_version   integer,      -- NULL when the tenant has no active policy
    receipt_id       uuid,         -- NULL for check()
    decided_at       timestamptz,
    approval_id      uuid          -- the approval evaluate() opened for an escalate decision
);

-- Receipts are append-only and policy versions immutable, even for roles
-- that own the tables: receipts.sql and policies.sql attach this to them. An
-- operator pruning old receipts disables the trigger explicitly (see README,
-- "Retention").
CREATE FUNCTION @extschema@.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    -- A partition's trigger names the table it is a partition of.
    RAISE EXCEPTION '% is append-only', coalesce(pg_partition_root(TG_RELID), TG_RELID)::regclass
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Receipts and policy versions are never changed or deleted; publish a new version or activate an earlier one instead.';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.reject_change() FROM PUBLIC;

-- TRUNCATE passes over row-level security: every other table of the
-- extension refuses it (finalize.sql attaches this to each), so that a role
-- an operator granted too much can still not empty another tenant's rows.
CREATE FUNCTION @extschema@.reject_truncate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION 'TRUNCATE of % is refused', TG_RELID::regclass
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'It would pass over row-level security; as the table''s owner, DELETE the rows instead.';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.reject_truncate() FROM PUBLIC;
