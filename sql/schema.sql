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
    decided_at       timestamptz
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

-- Row-level security keyed on the session's tenant. The sub-select makes the
-- planner evaluate current_setting() once per query instead of once per row,
-- and NULLIF turns the empty string a RESET or rolled-back SET LOCAL leaves
-- behind into NULL, which matches nothing.
ALTER TABLE @extschema@.policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.policies FOR SELECT
    USING (tenant_id IS NULL
           OR tenant_id = (SELECT NULLIF(current_setting('authensor.tenant_id', true), '')));

ALTER TABLE @extschema@.active_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.active_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_or_platform ON @extschema@.active_policies FOR SELECT
    USING (tenant_id IS NULL
           OR tenant_id = (SELECT NULLIF(current_setting('authensor.tenant_id', true), '')));

ALTER TABLE @extschema@.receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipts FOR SELECT
    USING (tenant_id = (SELECT NULLIF(current_setting('authensor.tenant_id', true), '')));

-- Ordinary roles read (RLS filters what they see) and never write: all writes
-- go through the extension's SECURITY DEFINER functions.
GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;
REVOKE ALL ON @extschema@.policies, @extschema@.active_policies, @extschema@.receipts FROM PUBLIC;
GRANT SELECT ON @extschema@.policies, @extschema@.active_policies, @extschema@.receipts TO PUBLIC;

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
