-- Tables, types and row-level security. Loaded first (bootstrap), before the
-- functions that pgrx generates.

-- What evaluate(), check() and the internals of guard() return.
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

-- Every published version of every policy. Rows are immutable; which version
-- is in force is recorded in active_policies.
CREATE TABLE @extschema@.policies (
    layer      text        NOT NULL CHECK (layer IN ('platform', 'tenant')),
    tenant_id  text        CHECK (tenant_id <> ''),
    version    integer     NOT NULL CHECK (version > 0),
    source     text        NOT NULL,
    digest     bytea       NOT NULL,   -- sha256 of source: the key of compiled-policy caches
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by text        NOT NULL,
    CONSTRAINT policies_layer_tenant CHECK ((layer = 'platform') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX policies_version_key
    ON @extschema@.policies (layer, coalesce(tenant_id, ''), version);

-- The version in force for each (layer, tenant): one row per layer and tenant.
CREATE TABLE @extschema@.active_policies (
    layer        text        NOT NULL CHECK (layer IN ('platform', 'tenant')),
    tenant_id    text        CHECK (tenant_id <> ''),
    version      integer     NOT NULL,
    activated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    activated_by text        NOT NULL,
    CONSTRAINT active_policies_layer_tenant CHECK ((layer = 'platform') = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX active_policies_key
    ON @extschema@.active_policies (layer, coalesce(tenant_id, ''));

-- One row per evaluate() call: the audit trail.
CREATE TABLE @extschema@.receipts (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    tool             text        NOT NULL,
    args             jsonb       NOT NULL,
    context          jsonb       NOT NULL,
    action           text        NOT NULL CHECK (action IN ('allow', 'escalate', 'block')),
    reason           text        NOT NULL,
    layer            text        NOT NULL CHECK (layer IN ('platform', 'tenant', 'default')),
    rule_id          text,
    platform_version integer,
    tenant_version   integer
);
CREATE INDEX receipts_tenant_created_idx
    ON @extschema@.receipts (tenant_id, created_at);

-- API keys. The listing holds no secrets; the hashes live in a table that
-- no role but the extension's functions can read.
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

CREATE TABLE @extschema@.api_key_hashes (
    key_id      uuid  PRIMARY KEY REFERENCES @extschema@.api_keys (id),
    secret_hash bytea NOT NULL   -- sha256 of the key's secret part
);

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
-- rights granted below. A role of that name made earlier by someone else is
-- used only if it is just as powerless.
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

-- Ordinary roles read (RLS filters what they see) and never write: all writes
-- go through the extension's SECURITY DEFINER functions.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
REVOKE ALL ON @extschema@.policies, @extschema@.active_policies, @extschema@.receipts,
              @extschema@.api_keys, @extschema@.api_key_hashes FROM PUBLIC;
GRANT SELECT ON @extschema@.policies, @extschema@.active_policies, @extschema@.receipts,
                @extschema@.api_keys TO PUBLIC;
-- What the extension's functions need, and no more: receipts and policy
-- versions are only ever added, active versions and keys also changed.
GRANT SELECT, INSERT ON @extschema@.policies, @extschema@.receipts, @extschema@.api_key_hashes
    TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.active_policies, @extschema@.api_keys TO authensor_definer;

-- Every table that holds user data is part of pg_dump's output, so that a
-- dump restored into a new database keeps every policy, key and receipt.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.active_policies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_key_hashes', '');

-- Receipts are append-only and policy versions immutable, even for roles
-- that own the tables. An operator pruning old receipts disables the trigger
-- explicitly (see README, "Retention").
CREATE FUNCTION @extschema@.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Receipts and policy versions are never changed or deleted; publish a new version or activate an earlier one instead.';
END
$$;
REVOKE ALL ON FUNCTION @extschema@.reject_change() FROM PUBLIC;

CREATE TRIGGER receipts_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipts
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipts_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipts
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER policies_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.policies
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER policies_no_truncate
    BEFORE TRUNCATE ON @extschema@.policies
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
