-- Receipts: one row per evaluate() call, the audit trail (written by
-- src/receipts.rs), and the guard that keeps DROP EXTENSION from taking them
-- along (src/drop_guard.rs).

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
    tenant_version   integer,
    -- False for a decision whose transaction or savepoint rolled back: its
    -- receipt is written again afterwards (src/receipts/held.rs).
    committed        boolean     NOT NULL DEFAULT true,
    -- When the row was written, after its transaction had an id: what
    -- seal_receipts() bounds its search by (src/chain.rs).
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX receipts_tenant_created_idx
    ON @extschema@.receipts (tenant_id, created_at);
-- Rows arrive in recorded_at order, which is what a BRIN index needs.
CREATE INDEX receipts_recorded_brin ON @extschema@.receipts
    USING brin (recorded_at) WITH (autosummarize = on);

-- Everyone reads their tenant's; the functions, running as
-- authensor_definer, only ever add.
REVOKE ALL ON @extschema@.receipts FROM PUBLIC;
GRANT SELECT ON @extschema@.receipts TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.receipts TO authensor_definer;

-- Part of pg_dump's output, so that a restored dump keeps every receipt.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts', '');

CREATE TRIGGER receipts_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipts
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipts_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipts
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();

-- Row-level security as in policies.sql: the current tenant's rows only.
ALTER TABLE @extschema@.receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipts FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.receipts TO authensor_definer USING (true) WITH CHECK (true);

-- DROP EXTENSION authensor is refused while receipts exist, unless
-- authensor.allow_drop is set (see src/drop_guard.rs).
CREATE FUNCTION @extschema@.drop_guard() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'authensor_drop_guard';
REVOKE ALL ON FUNCTION @extschema@.drop_guard() FROM PUBLIC;
CREATE EVENT TRIGGER authensor_drop_guard ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION @extschema@.drop_guard();

COMMENT ON TABLE @extschema@.receipts IS 'One row per evaluate() call; append-only, visible to its tenant only';
