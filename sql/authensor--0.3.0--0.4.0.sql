-- authensor 0.3.0 -> 0.4.0.
--
-- What changes for existing data is said beside each part below.
\echo Use "ALTER EXTENSION authensor UPDATE TO '0.4.0'" to load this file. \quit

-- Receipts and their links partitioned by month of recorded_at, with
-- add_receipt_partitions(), prune_receipts() and per-tenant checkpoints.
--
-- What changes for existing data:
-- * The existing receipts and links tables become the default partitions of
--   the new partitioned tables, without copying a row; their indexes are
--   kept, renamed as a partition's. add_receipt_partitions() then moves their
--   rows to monthly partitions (receipts from before 0.3.0, recorded at
--   -infinity, to one partition of everything before the first month).
-- * Existing links get their receipt's recorded_at (one pass over the links).
-- * approval_requests.receipt_id no longer has a foreign key: receipts are
--   pruned by dropping partitions. Nor has api_key_hashes.key_id (below).
ALTER TABLE @extschema@.approval_requests DROP CONSTRAINT approval_requests_receipt_id_fkey;

-- api_key_hashes.key_id no longer has a foreign key: pg_restore -j loads the
-- rows of api_keys and api_key_hashes in parallel, in no set order.
ALTER TABLE @extschema@.api_key_hashes DROP CONSTRAINT api_key_hashes_key_id_fkey;

-- reject_change() names a partition's partitioned table.
CREATE OR REPLACE FUNCTION @extschema@.reject_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    -- A partition's trigger names the table it is a partition of.
    RAISE EXCEPTION '% is append-only', coalesce(pg_partition_root(TG_RELID), TG_RELID)::regclass
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Receipts and policy versions are never changed or deleted; publish a new version or activate an earlier one instead.';
END
$$;

-- receipts.sql: what each partition has besides its rows.
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

-- The tables become the default partitions: their keys and indexes stay,
-- named as a partition's; their policies, grants and triggers are a
-- partition's (protect_receipt_partition()) once attached.
DROP TRIGGER receipts_append_only ON @extschema@.receipts;
DROP TRIGGER receipts_no_truncate ON @extschema@.receipts;
DROP POLICY own_tenant ON @extschema@.receipts;
DROP POLICY extension_functions ON @extschema@.receipts;
COMMENT ON TABLE @extschema@.receipts IS NULL;
ALTER TABLE @extschema@.receipts RENAME CONSTRAINT receipts_pkey TO receipts_default_pkey;
ALTER INDEX @extschema@.receipts_tenant_created_idx RENAME TO receipts_default_tenant_created_idx;
ALTER INDEX @extschema@.receipts_recorded_brin RENAME TO receipts_default_recorded_brin;
ALTER INDEX @extschema@.receipts_created_brin RENAME TO receipts_default_created_brin;
ALTER TABLE @extschema@.receipts RENAME TO receipts_default;

-- Constraints are named as a fresh installation names them: the default
-- partitions, formerly the tables, hold those names already.
CREATE TABLE @extschema@.receipts (
    id               uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id        text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    tool             text        NOT NULL,
    args             jsonb       NOT NULL,
    context          jsonb       NOT NULL,
    action           text        NOT NULL CONSTRAINT receipts_action_check CHECK (action IN ('allow', 'escalate', 'block')),
    reason           text        NOT NULL,
    layer            text        NOT NULL CONSTRAINT receipts_layer_check CHECK (layer IN ('platform', 'tenant', 'default')),
    rule_id          text,
    platform_version integer,
    tenant_version   integer,
    committed        boolean     NOT NULL DEFAULT true,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp()
) PARTITION BY RANGE (recorded_at);
ALTER TABLE @extschema@.receipts ATTACH PARTITION @extschema@.receipts_default DEFAULT;
REVOKE ALL ON @extschema@.receipts FROM PUBLIC;
GRANT SELECT ON @extschema@.receipts TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.receipts TO authensor_definer;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts', '');
CREATE TRIGGER receipts_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipts
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipts_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipts
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
SELECT @extschema@.protect_receipt_partition('@extschema@.receipts_default');
ALTER TABLE @extschema@.receipts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipts FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.receipts TO authensor_definer USING (true) WITH CHECK (true);
COMMENT ON TABLE @extschema@.receipts IS 'One row per evaluate() call; append-only, visible to its tenant only';
COMMENT ON TABLE @extschema@.receipts_default IS
    'Receipts of months without a partition of their own; add_receipt_partitions() moves them';

DROP TRIGGER receipt_links_append_only ON @extschema@.receipt_links;
DROP TRIGGER receipt_links_no_truncate ON @extschema@.receipt_links;
DROP POLICY own_tenant ON @extschema@.receipt_links;
DROP POLICY extension_functions ON @extschema@.receipt_links;
COMMENT ON TABLE @extschema@.receipt_links IS NULL;
ALTER TABLE @extschema@.receipt_links RENAME CONSTRAINT receipt_links_pkey TO receipt_links_default_pkey;
ALTER INDEX @extschema@.receipt_links_receipt RENAME TO receipt_links_default_receipt_idx;
ALTER TABLE @extschema@.receipt_links ADD COLUMN recorded_at timestamptz;
UPDATE @extschema@.receipt_links l
   SET recorded_at = coalesce((SELECT r.recorded_at FROM @extschema@.receipts_default r WHERE r.id = l.receipt_id),
                              '-infinity');
ALTER TABLE @extschema@.receipt_links ALTER COLUMN recorded_at SET NOT NULL;
ALTER TABLE @extschema@.receipt_links RENAME TO receipt_links_default;

CREATE TABLE @extschema@.receipt_links (
    tenant_id   text        NOT NULL,
    seq         bigint      NOT NULL CONSTRAINT receipt_links_seq_check CHECK (seq > 0),
    receipt_id  uuid        NOT NULL,
    leaf        bytea       NOT NULL CONSTRAINT receipt_links_leaf_check CHECK (octet_length(leaf) = 32),
    link        bytea       NOT NULL CONSTRAINT receipt_links_link_check CHECK (octet_length(link) = 32),
    seal_id     bigint      NOT NULL,
    recorded_at timestamptz NOT NULL
) PARTITION BY RANGE (recorded_at);
ALTER TABLE @extschema@.receipt_links ATTACH PARTITION @extschema@.receipt_links_default DEFAULT;
REVOKE ALL ON @extschema@.receipt_links FROM PUBLIC;
GRANT SELECT ON @extschema@.receipt_links TO PUBLIC;
GRANT SELECT, INSERT ON @extschema@.receipt_links TO authensor_definer;
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipt_links', '');
CREATE TRIGGER receipt_links_append_only
    BEFORE UPDATE OR DELETE ON @extschema@.receipt_links
    FOR EACH ROW EXECUTE FUNCTION @extschema@.reject_change();
CREATE TRIGGER receipt_links_no_truncate
    BEFORE TRUNCATE ON @extschema@.receipt_links
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change();
SELECT @extschema@.protect_receipt_partition('@extschema@.receipt_links_default');
ALTER TABLE @extschema@.receipt_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipt_links FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.receipt_links FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));
CREATE POLICY extension_functions ON @extschema@.receipt_links TO authensor_definer USING (true) WITH CHECK (true);
COMMENT ON TABLE @extschema@.receipt_links IS
    'Each tenant''s hash chain of sealed receipts; append-only, visible to its tenant only';

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

COMMENT ON TABLE @extschema@.receipt_checkpoints IS
    'Where each tenant''s chain starts after its oldest receipts were pruned; visible to its tenant only';

-- export_receipts(): a chain's first link after a checkpoint follows from it.
CREATE OR REPLACE FUNCTION @extschema@.export_receipts(sealed_from timestamptz DEFAULT '-infinity',
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

-- retention.sql
-- The partitions of `parent` with their bounds (NULL for MINVALUE and
-- MAXVALUE), read back from the catalogue's text in UTC and ISO.
CREATE FUNCTION @extschema@.receipt_partitions(parent regclass)
RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' AS $$
    SELECT c.oid::regclass,
           substring(b.bound FROM 'FROM \(''([^'']*)''\)')::timestamptz,
           substring(b.bound FROM 'TO \(''([^'']*)''\)')::timestamptz
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
     WHERE i.inhparent = parent AND b.bound <> 'DEFAULT'
$$;

-- Maintenance takes the tables' owner, and READ COMMITTED (a transaction
-- snapshot would miss receipts that arrive meanwhile): say so plainly before
-- anything else fails. Anyone may call it; it only checks.
CREATE FUNCTION @extschema@.require_receipts_maintainer(caller text)
RETURNS void
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c
                                       WHERE c.oid = '@extschema@.receipts'::regclass), 'USAGE') THEN
        RAISE EXCEPTION 'authensor.%() must be run by the owner of authensor.receipts', caller
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as the role that installed the extension, and schedule it in pg_cron as that role.';
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'authensor.%() must run at READ COMMITTED', caller
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Under REPEATABLE READ or SERIALIZABLE it would miss receipts committed since the transaction began.';
    END IF;
END
$$;

-- Moves the rows recorded in [lower_bound, upper_bound) from `source` to
-- `target` (a table not yet attached). The append-only triggers are what
-- the superuser's replica role sets aside, for this function only.
CREATE FUNCTION @extschema@.move_receipt_rows(source regclass, target regclass,
                                              lower_bound timestamptz, upper_bound timestamptz)
RETURNS bigint
LANGUAGE plpgsql STRICT
SET search_path = pg_catalog, pg_temp SET session_replication_role = replica AS $$
DECLARE
    columns text;
    moved   bigint;
BEGIN
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
      FROM pg_attribute a
     WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('WITH moved AS (DELETE FROM %s WHERE recorded_at >= $1 AND recorded_at < $2 RETURNING %s)
                    INSERT INTO %s (%s) SELECT %s FROM moved',
                   source, columns, target, columns, columns)
        USING lower_bound, upper_bound;
    GET DIAGNOSTICS moved = ROW_COUNT;
    RETURN moved;
END
$$;

-- Makes the partition of `parent` (receipts or receipt_links) for
-- [lower_bound, upper_bound), named `name` (or, if that name is taken, the
-- first free one with a suffix), with the rows of that range that wait in the
-- parent's default partition. It is made as a table of its own, given its
-- keys, indexes and protection, and attached.
CREATE FUNCTION @extschema@.make_receipt_partition(parent regclass, name text,
                                                   lower_bound timestamptz, upper_bound timestamptz)
RETURNS regclass
LANGUAGE plpgsql STRICT
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD'
SET lock_timeout = '5s' AS $$
DECLARE
    default_partition regclass := (SELECT i.inhrelid::regclass
                                     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                    WHERE i.inhparent = parent
                                      AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT');
    free     text := name;
    made     regclass;
    waiting  boolean := false;
    n        integer := 0;
BEGIN
    WHILE to_regclass(format('@extschema@.%I', free)) IS NOT NULL LOOP
        n := n + 1;
        free := name || '_' || n;
    END LOOP;
    -- No receipt can reach the default partition in the new range between
    -- the check and the attach: those routed there wait.
    IF default_partition IS NOT NULL THEN
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', default_partition);
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE recorded_at >= $1 AND recorded_at < $2)',
                       default_partition)
            INTO waiting USING lower_bound, upper_bound;
    END IF;
    EXECUTE format('CREATE TABLE @extschema@.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                                INCLUDING GENERATED INCLUDING STORAGE)', free, parent);
    made := format('@extschema@.%I', free)::regclass;
    IF waiting THEN
        PERFORM @extschema@.move_receipt_rows(default_partition, made, lower_bound, upper_bound);
    END IF;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)',
                   parent, made, lower_bound, upper_bound);
    PERFORM @extschema@.index_receipt_partition(made);
    PERFORM @extschema@.protect_receipt_partition(made);
    RETURN made;
END
$$;

CREATE FUNCTION @extschema@.add_receipt_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' AS $$
DECLARE
    this_month timestamptz := date_trunc('month', now());
    month      timestamptz;
    first      timestamptz;
    made       integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'authensor.add_receipt_partitions(): months_ahead must be between 0 and 120'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The default, 3, makes this month''s partition and the next three months''.';
    END IF;
    PERFORM @extschema@.require_receipts_maintainer('add_receipt_partitions');
    -- One at a time, and never while a seal writes links.
    LOCK TABLE @extschema@.chain_heads IN SHARE ROW EXCLUSIVE MODE;
    FOR month IN
        SELECT m FROM generate_series(this_month, this_month + make_interval(months => months_ahead),
                                      interval '1 month') AS m
        UNION
        SELECT date_trunc('month', d.recorded_at) FROM @extschema@.receipts_default d
         WHERE isfinite(d.recorded_at)
        UNION
        SELECT date_trunc('month', d.recorded_at) FROM @extschema@.receipt_links_default d
         WHERE isfinite(d.recorded_at)
        ORDER BY 1
    LOOP
        -- A month any partition (the operator's own included) already
        -- covers a part of is left alone.
        CONTINUE WHEN EXISTS (
            SELECT FROM @extschema@.receipt_partitions('@extschema@.receipts') p
             WHERE coalesce(p.lower_bound < month + interval '1 month', true)
               AND coalesce(p.upper_bound > month, true)
            UNION ALL
            SELECT FROM @extschema@.receipt_partitions('@extschema@.receipt_links') p
             WHERE coalesce(p.lower_bound < month + interval '1 month', true)
               AND coalesce(p.upper_bound > month, true));
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipts',
                    'receipts_' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipt_links',
                    'receipt_links_' || to_char(month, 'YYYY_MM'), month, month + interval '1 month');
        made := made + 1;
    END LOOP;
    -- Partitions made by hand get what the extension's own have.
    PERFORM @extschema@.protect_receipt_partition(p.partition)
       FROM (SELECT partition FROM @extschema@.receipt_partitions('@extschema@.receipts')
             UNION ALL
             SELECT partition FROM @extschema@.receipt_partitions('@extschema@.receipt_links')) AS p
      JOIN pg_class c ON c.oid = p.partition
     WHERE NOT c.relforcerowsecurity;
    -- Receipts written before 0.3.0 were recorded at -infinity: they go to a
    -- partition of everything before the first month.
    IF EXISTS (SELECT FROM @extschema@.receipts_default WHERE NOT isfinite(recorded_at))
       OR EXISTS (SELECT FROM @extschema@.receipt_links_default WHERE NOT isfinite(recorded_at)) THEN
        SELECT min(lower_bound) INTO first FROM @extschema@.receipt_partitions('@extschema@.receipts');
        IF first IS NOT NULL AND isfinite(first) THEN
            PERFORM @extschema@.make_receipt_partition('@extschema@.receipts',
                        'receipts_before_' || to_char(first, 'YYYY_MM'), '-infinity', first);
            PERFORM @extschema@.make_receipt_partition('@extschema@.receipt_links',
                        'receipt_links_before_' || to_char(first, 'YYYY_MM'), '-infinity', first);
            made := made + 1;
        END IF;
    END IF;
    RETURN made;
END
$$;

-- prune_receipts(), step 1: each tenant's checkpoint for every month that
-- may go, oldest first; returns the partitions to drop (receipts and links
-- of each month). A month may go when it ended more than `older_than` ago, when every receipt recorded in it is sealed, and when its receipts
-- and links partitions have the same bounds; the first month that fails
-- any of these stops it, with a NOTICE.
CREATE FUNCTION @extschema@.checkpoint_old_receipts(older_than interval)
RETURNS regclass[]
LANGUAGE plpgsql STRICT
SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD'
SET lock_timeout = '5s' AS $$
DECLARE
    -- In UTC (pinned above), as the months are.
    cutoff timestamptz := now() - older_than;
    sealed timestamptz;
    month  record;
    doomed regclass[] := '{}';
BEGIN
    PERFORM @extschema@.require_receipts_maintainer('prune_receipts');
    -- Rows still in a default partition move to their months' first, so
    -- that every month goes whole.
    IF EXISTS (SELECT FROM @extschema@.receipts_default WHERE recorded_at < cutoff)
       OR EXISTS (SELECT FROM @extschema@.receipt_links_default WHERE recorded_at < cutoff) THEN
        PERFORM @extschema@.add_receipt_partitions(0);
    END IF;
    -- No seal runs meanwhile; every receipt recorded before the last seal's
    -- horizon is in its chain.
    LOCK TABLE @extschema@.chain_heads IN SHARE ROW EXCLUSIVE MODE;
    -- (Never later than now: a horizon written by hand would not make
    -- unsealed receipts go.)
    sealed := least(coalesce((SELECT s.horizon FROM @extschema@.receipt_seals s ORDER BY s.id DESC LIMIT 1),
                             '-infinity'), now());
    FOR month IN
        SELECT r.partition AS receipts, l.partition AS links, coalesce(r.upper_bound, l.upper_bound) AS upper_bound,
               r.lower_bound IS NOT NULL AND r.upper_bound IS NOT NULL AND l.partition IS NOT NULL
               AND r.partition IS NOT NULL AS paired
          FROM @extschema@.receipt_partitions('@extschema@.receipts') r
          FULL JOIN @extschema@.receipt_partitions('@extschema@.receipt_links') l
                 ON l.upper_bound = r.upper_bound AND l.lower_bound = r.lower_bound
         ORDER BY coalesce(r.upper_bound, l.upper_bound) NULLS LAST
    LOOP
        EXIT WHEN month.upper_bound IS NULL OR month.upper_bound > cutoff;
        IF NOT month.paired THEN
            RAISE NOTICE 'authensor.prune_receipts(): % has no partition of the same bounds beside it; kept from there on',
                         coalesce(month.receipts, month.links)
                USING HINT = 'Partitions of receipts and receipt_links go in pairs of the same bounds; add_receipt_partitions() makes them so.';
            EXIT;
        END IF;
        IF month.upper_bound > now() OR month.upper_bound > sealed THEN
            RAISE NOTICE 'authensor.prune_receipts(): receipts recorded before % are not all sealed yet; kept from there on',
                         month.upper_bound
                USING HINT = 'Run authensor.seal_receipts() (scheduled every minute), then prune again.';
            EXIT;
        END IF;
        -- Each tenant's last link of the month is where its chain now starts.
        EXECUTE format(
            'INSERT INTO @extschema@.receipt_checkpoints AS c (tenant_id, seq, link, pruned_before, pruned_at)
             SELECT h.tenant_id, x.seq, x.link, $1, now()
               FROM @extschema@.chain_heads h
              CROSS JOIN LATERAL (SELECT l.seq, l.link FROM %s l
                                   WHERE l.tenant_id = h.tenant_id
                                   ORDER BY l.seq DESC LIMIT 1) x
             ON CONFLICT (tenant_id) DO UPDATE
                SET seq = excluded.seq, link = excluded.link,
                    pruned_before = excluded.pruned_before, pruned_at = excluded.pruned_at
              WHERE excluded.seq > c.seq', month.links)
            USING month.upper_bound;
        doomed := doomed || month.links || month.receipts;
    END LOOP;
    RETURN doomed;
END
$$;

-- prune_receipts(), step 2: waits (up to `patience`) until no session of this
-- database holds a snapshot taken before transaction `checkpointed` ended,
-- so that none can still read the chains from before the checkpoints while
-- their oldest links are gone. Returns whether it got there.
CREATE FUNCTION @extschema@.wait_for_older_snapshots(checkpointed xid8, patience interval)
RETURNS boolean
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + patience;
BEGIN
    LOOP
        -- Activity is read once per transaction unless cleared.
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN NOT EXISTS (
            SELECT FROM pg_stat_activity a
             WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
               AND a.backend_type <> 'autovacuum worker'
               AND a.backend_xmin IS NOT NULL
               AND age(a.backend_xmin) >= age((checkpointed::text::numeric % 4294967296)::text::xid));
        IF clock_timestamp() >= deadline THEN
            RETURN false;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN true;
END
$$;

-- prune_receipts(), step 3: drops the partitions step 1 chose.
CREATE FUNCTION @extschema@.drop_receipt_partitions(doomed regclass[])
RETURNS integer
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    partition regclass;
BEGIN
    PERFORM @extschema@.require_receipts_maintainer('prune_receipts');
    FOREACH partition IN ARRAY doomed LOOP
        EXECUTE format('DROP TABLE %s', partition);
    END LOOP;
    RETURN coalesce(array_length(doomed, 1), 0) / 2;
END
$$;

-- Drops every month older than `older_than` that may go (see
-- checkpoint_old_receipts()). A procedure: the checkpoints commit first; the
-- partitions are dropped once no session still reads with a snapshot from
-- before them (at most a minute's wait; otherwise the next run drops them).
CREATE PROCEDURE @extschema@.prune_receipts(older_than interval, INOUT months_pruned integer DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
    doomed       regclass[];
    checkpointed xid8;
BEGIN
    IF older_than IS NULL OR older_than OPERATOR(pg_catalog.<) interval '0' THEN
        RAISE EXCEPTION 'authensor.prune_receipts(): older_than must be an interval of zero or more'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'CALL authensor.prune_receipts(''13 months'') drops every month whose receipts are all older than 13 months.';
    END IF;
    PERFORM @extschema@.require_receipts_maintainer('prune_receipts');
    doomed := @extschema@.checkpoint_old_receipts(older_than);
    months_pruned := 0;
    IF pg_catalog.cardinality(doomed) OPERATOR(pg_catalog.=) 0 THEN
        RETURN;
    END IF;
    checkpointed := pg_catalog.pg_current_xact_id();
    COMMIT;
    IF NOT @extschema@.wait_for_older_snapshots(checkpointed, interval '1 minute') THEN
        RAISE NOTICE 'authensor.prune_receipts(): a session still reads with a snapshot from before the checkpoints; the partitions are dropped by the next run'
            USING HINT = 'Long transactions (REPEATABLE READ ones included) hold such snapshots.';
        RETURN;
    END IF;
    months_pruned := @extschema@.drop_receipt_partitions(doomed);
END
$$;

REVOKE ALL ON FUNCTION @extschema@.receipt_partitions(regclass),
                       @extschema@.move_receipt_rows(regclass, regclass, timestamptz, timestamptz),
                       @extschema@.make_receipt_partition(regclass, text, timestamptz, timestamptz),
                       @extschema@.add_receipt_partitions(integer),
                       @extschema@.checkpoint_old_receipts(interval),
                       @extschema@.wait_for_older_snapshots(xid8, interval),
                       @extschema@.drop_receipt_partitions(regclass[])
    FROM PUBLIC;
REVOKE ALL ON PROCEDURE @extschema@.prune_receipts(interval, integer) FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.add_receipt_partitions(integer) IS
    'Make the monthly partitions of receipts and their links from this month to months_ahead ahead, and for rows waiting in the default partitions (operator only)';
COMMENT ON PROCEDURE @extschema@.prune_receipts(interval, integer) IS
    'Drop every sealed month of receipts older than older_than, keeping each tenant''s chain verifiable from a checkpoint (operator only)';

-- ===========================================================================
-- Sentinel: late receipts counted.
--
-- A receipt that becomes visible only after the scan that folded its window
-- (its transaction committed later; a rolled-back decision written again at
-- a later commit) is counted once, in the first window folded after it
-- became visible, instead of never. sentinel_scan_windows() is replaced (same
-- arguments); alerts gain a column; two tables keep what a scan leaves the
-- next (see sql/sentinel.sql).
--
-- What changes for existing data:
-- * Existing alerts read late = 0.
-- * The update records when it ran and its transaction id as if it were a
--   scan, so the first scan after it reads only the receipts recorded since
--   (unless a transaction older than the update is still running then). That
--   first scan counts no late receipts: what the scans before the update
--   counted is not known. Every later scan does.
-- * Baselines and earlier alerts are kept as they are.
-- ===========================================================================

ALTER TABLE @extschema@.alerts
    ADD COLUMN late bigint NOT NULL DEFAULT 0; -- calls counted in this window that were made in an earlier one

-- As in a fresh installation (sql/sentinel.sql).
CREATE TABLE @extschema@.sentinel_scan_state (
    singleton      boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    window_seconds integer,                -- the window length of that scan
    counted_until  timestamptz,            -- end of the last window folded; NULL: none known
    horizon        timestamptz NOT NULL,
    began_at       timestamptz NOT NULL,
    next_xid       xid8        NOT NULL
);
-- Per tenant (tool NULL) and per tenant + tool: the receipts made before
-- sentinel_scan_state.counted_until and recorded since its horizon that the
-- scans have counted.
CREATE TABLE @extschema@.sentinel_counted (
    tenant_id text   NOT NULL,
    tool      text,
    calls     bigint NOT NULL,
    blocks    bigint NOT NULL,
    escalates bigint NOT NULL,
    CONSTRAINT sentinel_counted_scope UNIQUE NULLS NOT DISTINCT (tenant_id, tool)
);

ALTER TABLE @extschema@.sentinel_scan_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sentinel_scan_state FORCE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sentinel_counted ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sentinel_counted FORCE ROW LEVEL SECURITY;
REVOKE ALL ON @extschema@.sentinel_scan_state, @extschema@.sentinel_counted FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON @extschema@.sentinel_scan_state TO authensor_definer;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.sentinel_counted TO authensor_definer;
CREATE POLICY extension_functions ON @extschema@.sentinel_scan_state TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.sentinel_counted TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentinel_scan_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentinel_counted', '');

COMMENT ON TABLE @extschema@.sentinel_scan_state IS
    'What the last Sentinel scan that folded a window left the next, to count receipts that became visible late; the scan''s alone';
COMMENT ON TABLE @extschema@.sentinel_counted IS
    'Receipts the Sentinel has counted among those recorded since its horizon, per tenant and per tenant + tool; the scan''s alone';

-- The update's own time and transaction id (every later id is assigned after
-- now()); no window is known to be counted yet.
INSERT INTO @extschema@.sentinel_scan_state (window_seconds, counted_until, horizon, began_at, next_xid)
VALUES (NULL, NULL, '-infinity', now(), pg_catalog.pg_current_xact_id());

CREATE OR REPLACE FUNCTION @extschema@.sentinel_scan_windows(
    scan_until        timestamptz,
    window_length     integer,           -- seconds
    alpha             double precision,
    threshold         double precision,  -- in standard deviations
    warmup            integer,           -- windows before the deviation rules judge
    block_ratio_limit double precision,
    min_calls         integer,           -- calls a window needs for its ratios to count
    max_windows       integer)           -- most windows one scan folds in
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    step       interval := make_interval(secs => window_length);
    last_end   timestamptz := to_timestamp(floor(extract(epoch FROM scan_until) / window_length) * window_length);
    w_start    timestamptz;
    w_end      timestamptz;
    raised     integer := 0;
    n          integer;
    prev       @extschema@.sentinel_scan_state;  -- all NULL before the first scan
    oldest     xid8;
    horizon    timestamptz;                      -- set when this scan folds a window
    late_until timestamptz;
    late       @extschema@.sentinel_counted[];   -- per scope, for the first window
    kept       @extschema@.sentinel_counted[];
BEGIN
    -- The bounds of the settings that sentinel_scan() passes.
    IF scan_until IS NULL OR NOT isfinite(scan_until)
       OR window_length IS NULL OR window_length NOT BETWEEN 1 AND 86400
       OR alpha IS NULL OR NOT alpha BETWEEN 0.01 AND 0.99
       OR threshold IS NULL OR NOT threshold BETWEEN 0.1 AND 1000
       OR warmup IS NULL OR warmup NOT BETWEEN 1 AND 100000
       OR block_ratio_limit IS NULL OR NOT block_ratio_limit BETWEEN 0 AND 1
       OR min_calls IS NULL OR min_calls NOT BETWEEN 1 AND 1000000
       OR max_windows IS NULL OR max_windows NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'sentinel_scan_windows(): an argument is outside the range of its setting'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'See the authensor.sentinel_* settings for each range.';
    END IF;
    -- One scan at a time (a second one waits, then finds the windows done);
    -- readers are not blocked.
    LOCK TABLE @extschema@.sentinel_baselines IN EXCLUSIVE MODE;

    -- Rates learnt over another window length mean something else: start over.
    DELETE FROM @extschema@.sentinel_baselines b WHERE b.window_seconds <> window_length;

    -- Every baseline has folded in the same windows, and so has the last scan
    -- that folded any (also when no tenant had a baseline yet). After a long
    -- pause only the last max_windows windows are folded in; older ones are
    -- skipped.
    SELECT max(b.window_end) INTO w_end FROM @extschema@.sentinel_baselines b;
    SELECT * INTO prev FROM @extschema@.sentinel_scan_state;
    IF prev.window_seconds = window_length THEN
        w_end := greatest(w_end, prev.counted_until);
    END IF;
    w_end := greatest(w_end, last_end - max_windows * step);

    IF w_end < last_end THEN
        -- Every receipt this scan will not see was written by a transaction
        -- whose id is at least the oldest one running now (a subtransaction's
        -- id is above its parent's), and so was recorded at or after the
        -- horizon: the last scan's, or, once the oldest transaction running
        -- got its id after the last scan's, the time the last scan began.
        -- Read after the lock, so after the last scan committed; before the
        -- first count.
        oldest := pg_snapshot_xmin(pg_current_snapshot());
        horizon := greatest(coalesce(prev.horizon, '-infinity'),
                            CASE WHEN prev.next_xid <= oldest THEN prev.began_at END);
        -- The late receipts: made before the windows the last scan folded
        -- ended, recorded since its horizon, less those it counted (never
        -- below 0, should receipts be deleted by hand). None when the windows
        -- start over earlier (a new window length): what the last scan
        -- counted cannot be told apart by window. Then what is counted from
        -- now on: every receipt made before the first window to fold and
        -- recorded since the new horizon, late or not, is counted or skipped.
        late_until := CASE WHEN prev.counted_until <= w_end THEN prev.counted_until END;
        WITH seen AS (
            SELECT r.tenant_id, r.tool,
                   count(*) FILTER (WHERE r.created_at < late_until AND r.recorded_at >= prev.horizon) AS calls,
                   count(*) FILTER (WHERE r.created_at < late_until AND r.recorded_at >= prev.horizon
                                      AND r.action = 'block') AS blocks,
                   count(*) FILTER (WHERE r.created_at < late_until AND r.recorded_at >= prev.horizon
                                      AND r.action = 'escalate') AS escalates,
                   count(*) FILTER (WHERE r.created_at < w_end AND r.recorded_at >= horizon) AS kept_calls,
                   count(*) FILTER (WHERE r.created_at < w_end AND r.recorded_at >= horizon
                                      AND r.action = 'block') AS kept_blocks,
                   count(*) FILTER (WHERE r.created_at < w_end AND r.recorded_at >= horizon
                                      AND r.action = 'escalate') AS kept_escalates
              FROM @extschema@.receipts r
             WHERE r.recorded_at >= least(CASE WHEN late_until IS NOT NULL THEN prev.horizon END, horizon)
               AND r.created_at < greatest(late_until, w_end)
             GROUP BY GROUPING SETS ((r.tenant_id), (r.tenant_id, r.tool))
        )
        SELECT coalesce(array_agg(ROW(s.tenant_id, s.tool, greatest(s.calls - coalesce(c.calls, 0), 0),
                                      greatest(s.blocks - coalesce(c.blocks, 0), 0),
                                      greatest(s.escalates - coalesce(c.escalates, 0), 0))::@extschema@.sentinel_counted)
                              FILTER (WHERE s.calls > coalesce(c.calls, 0)), '{}'),
               coalesce(array_agg(ROW(s.tenant_id, s.tool, s.kept_calls, s.kept_blocks,
                                      s.kept_escalates)::@extschema@.sentinel_counted)
                              FILTER (WHERE s.kept_calls > 0), '{}')
          INTO late, kept
          FROM seen s
          LEFT JOIN @extschema@.sentinel_counted c
            ON c.tenant_id = s.tenant_id
           AND (c.tool IS NULL) = (s.tool IS NULL)
           AND coalesce(c.tool, '') = coalesce(s.tool, '');
        DELETE FROM @extschema@.sentinel_counted;
        INSERT INTO @extschema@.sentinel_counted SELECT * FROM unnest(kept);
    END IF;

    WHILE w_end < last_end LOOP
        w_start := w_end;
        w_end := w_end + step;

        WITH observed AS (
            -- The window's receipts, and, in the first window, the late ones.
            SELECT o.tenant_id, o.tool,
                   sum(o.calls)::bigint AS calls,
                   sum(o.blocks)::bigint AS blocks,
                   sum(o.escalates)::bigint AS escalates,
                   sum(o.late)::bigint AS late,
                   sum(o.kept_calls)::bigint AS kept_calls,
                   sum(o.kept_blocks)::bigint AS kept_blocks,
                   sum(o.kept_escalates)::bigint AS kept_escalates
              FROM (SELECT r.tenant_id, r.tool,
                           count(*) AS calls,
                           count(*) FILTER (WHERE r.action = 'block') AS blocks,
                           count(*) FILTER (WHERE r.action = 'escalate') AS escalates,
                           0 AS late,
                           count(*) FILTER (WHERE r.recorded_at >= horizon) AS kept_calls,
                           count(*) FILTER (WHERE r.recorded_at >= horizon AND r.action = 'block') AS kept_blocks,
                           count(*) FILTER (WHERE r.recorded_at >= horizon AND r.action = 'escalate') AS kept_escalates
                      FROM @extschema@.receipts r
                     WHERE r.created_at >= w_start AND r.created_at < w_end
                     GROUP BY GROUPING SETS ((r.tenant_id), (r.tenant_id, r.tool))
                    UNION ALL
                    SELECT l.tenant_id, l.tool, l.calls, l.blocks, l.escalates, l.calls, 0, 0, 0
                      FROM unnest(late) AS l) AS o
             GROUP BY o.tenant_id, o.tool
        ), scope AS (
            -- A known scope without calls in this window has rate 0.
            SELECT coalesce(b.tenant_id, o.tenant_id) AS tenant_id,
                   CASE WHEN b.tenant_id IS NULL THEN o.tool ELSE b.tool END AS tool,
                   coalesce(o.calls, 0)::double precision AS rate,
                   CASE WHEN o.calls >= min_calls THEN o.blocks::double precision / o.calls END AS block_ratio,
                   CASE WHEN o.calls >= min_calls THEN o.escalates::double precision / o.calls END AS escalate_ratio,
                   coalesce(o.late, 0) AS late,
                   coalesce(b.windows, 0) AS windows,
                   coalesce(b.idle_windows, 0) AS idle_windows,
                   b.rate_mean, b.rate_var,
                   coalesce(b.ratio_windows, 0) AS ratio_windows,
                   b.block_mean, b.block_var, b.escalate_mean, b.escalate_var,
                   coalesce(b.over_block_limit, false) AS over_block_limit
              FROM @extschema@.sentinel_baselines b
              FULL JOIN observed o
                ON o.tenant_id = b.tenant_id
               AND (o.tool IS NULL) = (b.tool IS NULL)
               AND coalesce(o.tool, '') = coalesce(b.tool, '')
        ), judged AS (
            -- Standard deviations with a floor, so that a perfectly steady
            -- baseline (variance 0) does not alert on the smallest change:
            -- Poisson noise for counts, 0.1 for ratios.
            SELECT s.*,
                   greatest(sqrt(s.rate_var), sqrt(greatest(s.rate_mean, 1))) AS rate_sd,
                   CASE WHEN s.block_mean IS NOT NULL THEN greatest(sqrt(s.block_var), 0.1) END AS block_sd,
                   CASE WHEN s.escalate_mean IS NOT NULL THEN greatest(sqrt(s.escalate_var), 0.1) END AS escalate_sd
              FROM scope s
        ), inserted AS (
            INSERT INTO @extschema@.alerts AS a
                   (tenant_id, kind, tool, observed, baseline, stddev, window_start, window_end, late)
            SELECT j.tenant_id, m.kind, j.tool, m.observed, m.baseline, m.stddev, w_start, w_end, j.late
              FROM judged j
             CROSS JOIN LATERAL (VALUES
                   ('rate', j.rate, j.rate_mean, j.rate_sd,
                    j.windows >= warmup AND abs(j.rate - j.rate_mean) > threshold * j.rate_sd),
                   -- The fixed limit alerts when the ratio crosses it, not
                   -- again in every window it stays above.
                   ('block_ratio', j.block_ratio, j.block_mean, j.block_sd,
                    (j.ratio_windows >= warmup AND abs(j.block_ratio - j.block_mean) > threshold * j.block_sd)
                    OR (j.block_ratio > block_ratio_limit AND NOT j.over_block_limit)),
                   ('escalate_ratio', j.escalate_ratio, j.escalate_mean, j.escalate_sd,
                    j.ratio_windows >= warmup AND abs(j.escalate_ratio - j.escalate_mean) > threshold * j.escalate_sd)
                 ) AS m(kind, observed, baseline, stddev, fired)
             WHERE m.fired
            ON CONFLICT ON CONSTRAINT alerts_once_per_window DO NOTHING
            RETURNING a.id, a.tenant_id, a.kind
        ), learnt AS (
            INSERT INTO @extschema@.sentinel_baselines AS b
                   (tenant_id, tool, window_seconds, window_end, windows, idle_windows,
                    rate_mean, rate_var, ratio_windows, block_mean, block_var,
                    escalate_mean, escalate_var, over_block_limit)
            SELECT j.tenant_id, j.tool, window_length, w_end, j.windows + 1,
                   CASE WHEN j.rate = 0 THEN j.idle_windows + 1 ELSE 0 END,
                   @extschema@.sentinel_ewma_mean(j.rate_mean, j.rate, alpha),
                   @extschema@.sentinel_ewma_var(j.rate_mean, j.rate_var, j.rate, alpha),
                   j.ratio_windows + (j.block_ratio IS NOT NULL)::integer,
                   @extschema@.sentinel_ewma_mean(j.block_mean, j.block_ratio, alpha),
                   @extschema@.sentinel_ewma_var(j.block_mean, j.block_var, j.block_ratio, alpha),
                   @extschema@.sentinel_ewma_mean(j.escalate_mean, j.escalate_ratio, alpha),
                   @extschema@.sentinel_ewma_var(j.escalate_mean, j.escalate_var, j.escalate_ratio, alpha),
                   coalesce(j.block_ratio > block_ratio_limit, j.over_block_limit)
              FROM judged j
            ON CONFLICT ON CONSTRAINT sentinel_baselines_scope DO UPDATE
               SET window_end = excluded.window_end,
                   windows = excluded.windows,
                   idle_windows = excluded.idle_windows,
                   rate_mean = excluded.rate_mean,
                   rate_var = excluded.rate_var,
                   ratio_windows = excluded.ratio_windows,
                   block_mean = excluded.block_mean,
                   block_var = excluded.block_var,
                   escalate_mean = excluded.escalate_mean,
                   escalate_var = excluded.escalate_var,
                   over_block_limit = excluded.over_block_limit
        ), counted AS (
            -- What this window counted of the receipts recorded since the
            -- horizon (the late ones were counted above).
            INSERT INTO @extschema@.sentinel_counted AS c (tenant_id, tool, calls, blocks, escalates)
            SELECT o.tenant_id, o.tool, o.kept_calls, o.kept_blocks, o.kept_escalates
              FROM observed o
             WHERE o.kept_calls > 0
            ON CONFLICT ON CONSTRAINT sentinel_counted_scope DO UPDATE
               SET calls = c.calls + excluded.calls,
                   blocks = c.blocks + excluded.blocks,
                   escalates = c.escalates + excluded.escalates
        )
        -- Each alert goes to its own tenant's channel, with ids only.
        SELECT count(*) INTO n
          FROM inserted i
         WHERE @extschema@.announce(@extschema@.tenant_channel(i.tenant_id),
                         json_build_object('alertId', i.id, 'kind', i.kind)::text) IS NOT NULL;
        raised := raised + n;
        late := '{}';
    END LOOP;

    -- What the next scan needs to find the receipts this one did not see.
    -- This transaction got its id after it began (now()).
    IF horizon IS NOT NULL THEN
        INSERT INTO @extschema@.sentinel_scan_state AS s
               (window_seconds, counted_until, horizon, began_at, next_xid)
        VALUES (window_length, w_end, horizon, now(), pg_current_xact_id())
        ON CONFLICT (singleton) DO UPDATE
           SET window_seconds = excluded.window_seconds,
               counted_until = excluded.counted_until,
               horizon = excluded.horizon,
               began_at = excluded.began_at,
               next_xid = excluded.next_xid;
    END IF;

    -- Tool names are free text: forget a tool after an hour's worth of
    -- default windows without a call, so idle names do not pile up.
    DELETE FROM @extschema@.sentinel_baselines b WHERE b.tool IS NOT NULL AND b.idle_windows >= 60;
    RETURN raised;
END
$$;

-- ===========================================================================
-- TRUNCATE refused on every table, and receipt_seals under row-level
-- security: a role granted too much can neither empty another tenant's rows
-- nor write a seal.
-- ===========================================================================
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
ALTER TABLE @extschema@.receipt_seals ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.receipt_seals FORCE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON @extschema@.receipt_seals FOR SELECT USING (true);
CREATE POLICY extension_functions ON @extschema@.receipt_seals TO authensor_definer USING (true) WITH CHECK (true);
-- Every table without a TRUNCATE guard of its own gets one (bootstrap.sql,
-- reject_truncate()).
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN SELECT c.oid FROM pg_catalog.pg_class c
              WHERE c.relnamespace = '@extschema@'::regnamespace AND c.relkind IN ('r', 'p')
                AND NOT c.relispartition
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
                                 WHERE g.tgrelid = c.oid AND (g.tgtype & 32) <> 0 AND (g.tgtype & 2) <> 0)
              ORDER BY c.relname
    LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_truncate()',
                                  (SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid = t) || '_no_truncate', t);
    END LOOP;
END
$$;
