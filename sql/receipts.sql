-- Receipts: one row per evaluate() call, the audit trail (written by
-- src/receipts.rs), and the guard that keeps DROP EXTENSION from taking them
-- along (src/drop_guard.rs).

CREATE TABLE @extschema@.receipts (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
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
    -- seal_receipts() bounds its search by (src/chain.rs), and what the
    -- table is partitioned by (retention.sql).
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Shadow versions (shadow.sql): the shadow version of each layer the
    -- decision was also evaluated under, if any (the other layer's was the
    -- active one), and, only when the shadow decided otherwise (another
    -- action, layer or rule), what it decided: 'error' when it could not
    -- decide (src/shadow.rs). Not hashed by the chain.
    shadow_platform_version integer,
    shadow_tenant_version   integer,
    shadow_action    text        CHECK (shadow_action IN ('allow', 'escalate', 'block', 'error')),
    shadow_layer     text        CHECK (shadow_layer IN ('platform', 'tenant', 'default')),
    shadow_rule_id   text,
    -- The rule that gave the tenant policy's own opinion whenever it was
    -- consulted, also when a platform allow was credited on a tie: what a
    -- tenant rule's `rate` limit of scope rule counts (src/rate_limits.rs).
    -- Not hashed by the chain.
    tenant_rule_id   text
) PARTITION BY RANGE (recorded_at);

-- The keys and indexes of a partition of receipts or receipt_links. Each
-- partition has its own, and the partitioned tables none: pg_dump restores
-- the monthly partitions, which are not part of the extension, onto the
-- partitioned tables CREATE EXTENSION makes, and an index of those would be
-- made again on each partition as it is attached, and clash with the
-- partition's own in the dump. Receipt ids are UUIDv7: unique by themselves.
CREATE FUNCTION @extschema@.index_receipt_partition(partition regclass)
RETURNS void
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parent regclass := (SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = partition);
    name   text := (SELECT c.relname FROM pg_class c WHERE c.oid = partition);
BEGIN
    IF parent = '@extschema@.receipts'::regclass THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (id)', partition, name || '_pkey');
        EXECUTE format('CREATE INDEX %I ON %s (tenant_id, created_at)', name || '_tenant_created_idx', partition);
        -- Rows arrive in recorded_at order (and nearly in created_at
        -- order), which is what a BRIN index needs: the seal and the
        -- Sentinel read ranges of them.
        EXECUTE format('CREATE INDEX %I ON %s USING brin (recorded_at) WITH (autosummarize = on)',
                       name || '_recorded_brin', partition);
        EXECUTE format('CREATE INDEX %I ON %s USING brin (created_at) WITH (autosummarize = on)',
                       name || '_created_brin', partition);
    ELSIF parent = '@extschema@.receipt_links'::regclass THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (tenant_id, seq)', partition, name || '_pkey');
        -- A receipt is sealed once; seal_receipts() finds unsealed ones
        -- through it.
        EXECUTE format('CREATE UNIQUE INDEX %I ON %s (receipt_id)', name || '_receipt_idx', partition);
    ELSE
        RAISE EXCEPTION 'authensor.index_receipt_partition(): % is not a partition of receipts or receipt_links',
                        partition
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- What a partition of receipts or receipt_links has besides its rows:
-- nobody but its owner may use it directly (grants that default privileges
-- or a schema-wide GRANT gave it are taken back), its row-level security
-- holds for anyone granted it later, and TRUNCATE is refused (statement
-- triggers are not passed on to partitions). Receipts are read through the
-- partitioned table, under its row-level security.
CREATE FUNCTION @extschema@.protect_receipt_partition(partition regclass)
RETURNS void
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    parent  regclass := (SELECT i.inhparent FROM pg_inherits i WHERE i.inhrelid = partition);
    grantee oid;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) AS a
         WHERE c.oid = partition AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %s CASCADE', partition,
                       CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(grantee)) END);
    END LOOP;
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', partition);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', partition);
    -- Each once: a partition made by hand may be given them later.
    IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = partition AND p.polname = 'own_tenant') THEN
        EXECUTE format('CREATE POLICY own_tenant ON %s FOR SELECT
                        USING (tenant_id = (SELECT @extschema@.current_tenant()))', partition);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = partition AND (g.tgtype & 32) <> 0 AND (g.tgtype & 2) <> 0) THEN
        EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s
                        FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change()',
                       (SELECT c.relname FROM pg_class c WHERE c.oid = parent) || '_no_truncate', partition);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION @extschema@.index_receipt_partition(regclass),
                       @extschema@.protect_receipt_partition(regclass) FROM PUBLIC;

-- Rows of months without a partition of their own (add_receipt_partitions()
-- makes those and moves such rows there).
CREATE TABLE @extschema@.receipts_default PARTITION OF @extschema@.receipts DEFAULT;
SELECT @extschema@.index_receipt_partition('@extschema@.receipts_default');

-- Everyone reads their tenant's; the functions, running as
-- authensor_definer, only ever add.
REVOKE ALL ON @extschema@.receipts FROM PUBLIC;
GRANT SELECT ON @extschema@.receipts TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.receipts TO authensor_definer;

-- Part of pg_dump's output, so that a restored dump keeps every receipt:
-- the default partition's rows as the extension's data; the monthly
-- partitions, made after installation, are ordinary tables to pg_dump.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts_default', '');

CREATE TRIGGER receipts_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipts
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipts_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipts
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
SELECT @extschema@.protect_receipt_partition('@extschema@.receipts_default');

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
COMMENT ON TABLE @extschema@.receipts_default IS
    'Receipts of months without a partition of their own; add_receipt_partitions() moves them';

