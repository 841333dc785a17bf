-- Retention: receipts and their links are partitioned by month of
-- recorded_at (receipts.sql, receipt_chain.sql). add_receipt_partitions()
-- makes the months' partitions ahead of time; CALL prune_receipts() drops
-- whole months, leaving each tenant a checkpoint from which its chain still
-- verifies. Every chain is in recorded_at order (src/chain.rs), so the
-- months dropped are a prefix of each chain.
--
-- Both are operator only and run with the caller's own rights: making and
-- dropping partitions takes ownership of the tables (the role that installed
-- the extension), and moving rows out of a default partition a superuser.
-- Months and bounds are in UTC, and every function here pins TimeZone and
-- DateStyle, so that bounds written and read back as text mean one instant
-- whatever the session's settings.
--
-- Locks: a partition is made as a table of its own and attached, which
-- takes SHARE UPDATE EXCLUSIVE on the partitioned table (decisions go on)
-- and ACCESS EXCLUSIVE on its default partition; a partition is dropped
-- under ACCESS EXCLUSIVE on the partitioned table, which holds decisions
-- while it waits. A lock that cannot be had in 5 s fails the call (55P03)
-- rather than hold everything queued behind it; the next run tries again.

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
