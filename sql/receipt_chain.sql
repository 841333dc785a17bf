-- The receipts' hash chain (src/chain.rs and the authensor-chain crate):
-- each tenant's committed receipts, sealed in order, each link the hash of
-- the one before, the receipt's leaf and its position.

-- One row per sealed receipt, partitioned like the receipts (by the
-- receipt's recorded_at, retention.sql), so that a month's links go with its
-- receipts. Each partition's keys are (tenant_id, seq) and receipt_id
-- (receipts.sql, index_receipt_partition()), and each is protected like
-- the receipts' (protect_receipt_partition()); seals run one at a time under a
-- lock (src/chain/seal.rs), and every chain is in recorded_at order, so a
-- position is never taken twice across partitions either.
CREATE TABLE @extschema@.receipt_links (
    tenant_id   text        NOT NULL,
    seq         bigint      NOT NULL CHECK (seq > 0),
    receipt_id  uuid        NOT NULL,
    leaf        bytea       NOT NULL CHECK (octet_length(leaf) = 32),
    link        bytea       NOT NULL CHECK (octet_length(link) = 32),
    seal_id     bigint      NOT NULL,
    recorded_at timestamptz NOT NULL  -- the receipt's
) PARTITION BY RANGE (recorded_at);
CREATE TABLE @extschema@.receipt_links_default PARTITION OF @extschema@.receipt_links DEFAULT;
SELECT @extschema@.index_receipt_partition('@extschema@.receipt_links_default');

-- Each tenant's last link: what chain_head() returns.
CREATE TABLE @extschema@.chain_heads (
    tenant_id text        PRIMARY KEY,
    seq       bigint      NOT NULL,
    link      bytea       NOT NULL,
    sealed_at timestamptz NOT NULL
);

-- One row per seal_receipts() run, numbered by it (no sequence: a restored
-- dump goes on from its last seal). next_xid and oldest_running are full
-- transaction ids (xid8 as bigint); horizon bounds the receipts the next
-- seal looks at (see src/chain.rs).
CREATE TABLE @extschema@.receipt_seals (
    id             bigint      PRIMARY KEY,
    sealed_at      timestamptz NOT NULL,
    next_xid       bigint      NOT NULL,
    oldest_running bigint      NOT NULL,
    horizon        timestamptz NOT NULL,
    receipts       bigint      NOT NULL DEFAULT 0,
    tenants        integer     NOT NULL DEFAULT 0
);

-- Where each tenant's chain now starts, once prune_receipts() (retention.sql)
-- has dropped its oldest receipts: the last link pruned. Verification walks
-- on from it.
CREATE TABLE @extschema@.receipt_checkpoints (
    tenant_id     text        PRIMARY KEY,
    seq           bigint      NOT NULL CHECK (seq > 0),
    link          bytea       NOT NULL CHECK (octet_length(link) = 32),
    pruned_before timestamptz NOT NULL,  -- receipts recorded before it are gone
    pruned_at     timestamptz NOT NULL
);
ALTER TABLE @extschema@.receipt_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipt_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipt_checkpoints FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.receipt_checkpoints TO authensor_definer USING (true);
REVOKE ALL ON @extschema@.receipt_checkpoints FROM PUBLIC;
GRANT SELECT ON @extschema@.receipt_checkpoints TO PUBLIC, authensor_definer;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipt_checkpoints', '');

-- Only the seal writes seals; everyone reads the columns granted below.
ALTER TABLE @extschema@.receipt_seals ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipt_seals FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON @extschema@.receipt_seals FOR SELECT USING (true);
CREATE POLICY extension_functions ON @extschema@.receipt_seals TO authensor_definer USING (true) WITH CHECK (true);
ALTER TABLE @extschema@.receipt_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipt_links FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipt_links FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.receipt_links TO authensor_definer USING (true) WITH CHECK (true);
ALTER TABLE @extschema@.chain_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.chain_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.chain_heads FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.chain_heads TO authensor_definer USING (true) WITH CHECK (true);

-- Seals hold counts over all tenants: only their time and horizon are shown.
REVOKE ALL ON @extschema@.receipt_links, @extschema@.chain_heads, @extschema@.receipt_seals FROM PUBLIC;
GRANT SELECT ON @extschema@.receipt_links, @extschema@.chain_heads TO PUBLIC;
GRANT SELECT (id, sealed_at, horizon) ON @extschema@.receipt_seals TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.receipt_links TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.chain_heads, @extschema@.receipt_seals TO authensor_definer;

-- Sealed links, like receipts, are never changed.
CREATE TRIGGER receipt_links_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipt_links
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipt_links_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipt_links
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
SELECT @extschema@.protect_receipt_partition('@extschema@.receipt_links_default');

SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipt_links', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipt_links_default', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chain_heads', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipt_seals', '');

-- The tenant's last sealed link, to keep outside the database: verifying
-- against it later shows whether anything up to it changed or went.
CREATE FUNCTION @extschema@.chain_head(OUT seq bigint, OUT hash text, OUT sealed_at timestamptz)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT h.seq, encode(h.link, 'hex'), h.sealed_at
      FROM @extschema@.chain_heads h
     WHERE h.tenant_id = (SELECT @extschema@.current_tenant())
$$;

-- The caller's sealed receipts with their chain fields, in chain order, for
-- the off-line verifier (authensor-chain verify): those sealed in
-- [sealed_from, sealed_to), which are consecutive links of each chain.
CREATE FUNCTION @extschema@.export_receipts(sealed_from timestamptz DEFAULT '-infinity',
                                            sealed_to timestamptz DEFAULT 'infinity')
RETURNS SETOF jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT jsonb_build_object(
               'seq', l.seq,
               'prev', encode(coalesce((SELECT p.link FROM @extschema@.receipt_links p
                                         WHERE p.tenant_id = l.tenant_id AND p.seq = l.seq - 1),
                                       (SELECT c.link FROM @extschema@.receipt_checkpoints c
                                         WHERE c.tenant_id = l.tenant_id AND c.seq = l.seq - 1),
                                       '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
                              'hex'),
               'leaf', encode(l.leaf, 'hex'),
               'link', encode(l.link, 'hex'),
               'id', r.id,
               'tenant_id', r.tenant_id,
               'created_at', to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'created_at_us', ((extract(epoch FROM r.created_at) - 946684800) * 1000000)::bigint,
               'tool', r.tool,
               'args', r.args,
               'context', r.context,
               'action', r.action,
               'reason', r.reason,
               'layer', r.layer,
               'rule_id', r.rule_id,
               'platform_version', r.platform_version,
               'tenant_version', r.tenant_version,
               'approval_id', a.id,
               'committed', r.committed)
      FROM @extschema@.receipt_links l
      JOIN @extschema@.receipt_seals s ON s.id = l.seal_id
      JOIN @extschema@.receipts r ON r.id = l.receipt_id
      LEFT JOIN @extschema@.approval_requests a ON a.receipt_id = r.id
     WHERE l.tenant_id = (SELECT @extschema@.current_tenant())
       AND s.sealed_at >= sealed_from AND s.sealed_at < sealed_to
     ORDER BY l.seq
$$;

REVOKE ALL ON FUNCTION @extschema@.seal_receipts(), @extschema@.verify_all_receipts() FROM PUBLIC;

COMMENT ON TABLE @extschema@.receipt_links IS
    'Each tenant''s hash chain of sealed receipts; append-only, visible to its tenant only';
COMMENT ON TABLE @extschema@.chain_heads IS 'Each tenant''s last sealed link; visible to its tenant only';
COMMENT ON TABLE @extschema@.receipt_seals IS 'One row per seal_receipts() run, with the horizon of the next';
COMMENT ON FUNCTION @extschema@.seal_receipts() IS
    'Seal every committed receipt into its tenant''s hash chain (operator only); schedule it every minute';
COMMENT ON FUNCTION @extschema@.verify_all_receipts() IS 'Verify every tenant''s receipt chain (operator only)';
COMMENT ON TABLE @extschema@.receipt_checkpoints IS
    'Where each tenant''s chain starts after its oldest receipts were pruned; visible to its tenant only';
COMMENT ON FUNCTION @extschema@.chain_head() IS 'The caller''s last sealed link, to keep outside the database';
