-- Retention: receipts and their links are partitioned by month of
-- recorded_at (receipts.sql, receipt_chain.sql). add_receipt_partitions()
-- makes the months' partitions ahead of time; prune_receipts() drops whole
-- months, leaving each tenant a checkpoint from which its chain still
-- verifies. Every chain is in recorded_at order (src/chain.rs), so the
-- months dropped are a prefix of each chain.
--
-- Both are operator only and run with the caller's own rights: making and
-- dropping partitions takes ownership of the tables (the role that installed
-- the extension), and moving rows out of a default partition a superuser.
-- Making or dropping a partition locks out the decisions that write to the
-- partitioned table; a lock that cannot be had in 5 s (a long transaction
-- that wrote receipts) fails the call rather than stall every decision
-- queued behind it, and the next run tries again.

-- The partitions of `parent` and their bounds. The bounds are read back from
-- the catalogue's own text, under the session's settings, as they were
-- printed.
CREATE FUNCTION @extschema@.receipt_partitions(parent regclass)
RETURNS TABLE (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.oid::regclass,
           substring(b.bound FROM 'FROM \(''([^'']*)''\)')::timestamptz,
           substring(b.bound FROM 'TO \(''([^'']*)''\)')::timestamptz
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
     WHERE i.inhparent = parent AND b.bound <> 'DEFAULT'
$$;

-- Moves the rows recorded in [lower_bound, upper_bound) from `source` to
-- `target` (a table not yet attached). The append-only triggers are what
-- the superuser's replica role sets aside, for this function only.
CREATE FUNCTION @extschema@.move_receipt_rows(source regclass, target regclass,
                                              lower_bound timestamptz, upper_bound timestamptz)
RETURNS bigint
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp SET session_replication_role = replica AS $$
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
-- [lower_bound, upper_bound), named `name`, with the rows of that range
-- that wait in the parent's default partition.
CREATE FUNCTION @extschema@.make_receipt_partition(parent regclass, name text,
                                                   lower_bound timestamptz, upper_bound timestamptz)
RETURNS void
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    default_partition regclass := (SELECT i.inhrelid::regclass
                                     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                                    WHERE i.inhparent = parent
                                      AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT');
    waiting boolean := false;
BEGIN
    -- Locked in the order evaluate() takes them (the partitioned table, then
    -- a partition), before anything is read: receipts routed to the default
    -- partition wait until the partition is made, and none can arrive in its
    -- range after the check below.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', parent);
    IF default_partition IS NOT NULL THEN
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', default_partition);
        EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE recorded_at >= $1 AND recorded_at < $2)',
                       default_partition)
            INTO waiting USING lower_bound, upper_bound;
    END IF;
    IF waiting THEN
        -- A partition cannot be made over rows of its range in the default
        -- one: the rows move to a table of the parent's shape, which is
        -- then attached.
        EXECUTE format('CREATE TABLE @extschema@.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS
                                                    INCLUDING GENERATED INCLUDING STORAGE)',
                       name, parent);
        PERFORM @extschema@.move_receipt_rows(default_partition, format('@extschema@.%I', name)::regclass,
                                              lower_bound, upper_bound);
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION @extschema@.%I FOR VALUES FROM (%L) TO (%L)',
                       parent, name, lower_bound, upper_bound);
    ELSE
        EXECUTE format('CREATE TABLE @extschema@.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       name, parent, lower_bound, upper_bound);
    END IF;
    PERFORM @extschema@.index_receipt_partition(format('@extschema@.%I', name)::regclass);
    -- Statement triggers are not passed on to partitions.
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON @extschema@.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.reject_change()',
                   (SELECT c.relname FROM pg_class c WHERE c.oid = parent) || '_no_truncate', name);
END
$$;

-- Making and dropping partitions takes the tables' owner: say so plainly
-- before anything else fails. Anyone may call it; it only checks.
CREATE FUNCTION @extschema@.require_receipts_owner(caller text)
RETURNS void
LANGUAGE plpgsql STABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c
                                       WHERE c.oid = '@extschema@.receipts'::regclass), 'USAGE') THEN
        RAISE EXCEPTION 'authensor.%() must be run by the owner of authensor.receipts', caller
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Run it as the role that installed the extension, and schedule it in pg_cron as that role.';
    END IF;
END
$$;

CREATE FUNCTION @extschema@.add_receipt_partitions(months_ahead integer DEFAULT 3)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Months are counted in UTC, whatever the session's time zone.
    this_month timestamp := date_trunc('month', now() AT TIME ZONE 'UTC');
    month      timestamp;
    first      timestamptz;
    made       integer := 0;
BEGIN
    IF months_ahead IS NULL OR months_ahead NOT BETWEEN 0 AND 120 THEN
        RAISE EXCEPTION 'authensor.add_receipt_partitions(): months_ahead must be between 0 and 120'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The default, 3, makes this month''s partition and the next three months''.';
    END IF;
    PERFORM @extschema@.require_receipts_owner('add_receipt_partitions');
    -- One at a time, and never while a seal writes links.
    LOCK TABLE @extschema@.chain_heads IN SHARE ROW EXCLUSIVE MODE;
    FOR month IN
        SELECT m FROM generate_series(this_month, this_month + make_interval(months => months_ahead),
                                      interval '1 month') AS m
        UNION
        SELECT date_trunc('month', d.recorded_at AT TIME ZONE 'UTC') FROM @extschema@.receipts_default d
         WHERE isfinite(d.recorded_at)
        UNION
        SELECT date_trunc('month', d.recorded_at AT TIME ZONE 'UTC') FROM @extschema@.receipt_links_default d
         WHERE isfinite(d.recorded_at)
        ORDER BY 1
    LOOP
        CONTINUE WHEN EXISTS (SELECT FROM @extschema@.receipt_partitions('@extschema@.receipts')
                               WHERE lower_bound <= month AT TIME ZONE 'UTC'
                                 AND upper_bound > month AT TIME ZONE 'UTC');
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipts',
                    'receipts_' || to_char(month, 'YYYY_MM'),
                    month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipt_links',
                    'receipt_links_' || to_char(month, 'YYYY_MM'),
                    month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
        made := made + 1;
    END LOOP;
    -- Receipts written before 0.3.0 were recorded at -infinity: they go to a
    -- partition of everything before the first month.
    IF EXISTS (SELECT FROM @extschema@.receipts_default WHERE NOT isfinite(recorded_at))
       OR EXISTS (SELECT FROM @extschema@.receipt_links_default WHERE NOT isfinite(recorded_at)) THEN
        SELECT min(lower_bound) INTO first FROM @extschema@.receipt_partitions('@extschema@.receipts');
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipts',
                    'receipts_before_' || to_char(first AT TIME ZONE 'UTC', 'YYYY_MM'), '-infinity', first);
        PERFORM @extschema@.make_receipt_partition('@extschema@.receipt_links',
                    'receipt_links_before_' || to_char(first AT TIME ZONE 'UTC', 'YYYY_MM'), '-infinity', first);
        made := made + 1;
    END IF;
    RETURN made;
END
$$;

CREATE FUNCTION @extschema@.prune_receipts(older_than interval)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    cutoff timestamptz;
    sealed timestamptz;
    month  record;
    pruned integer := 0;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'authensor.prune_receipts(): older_than must be an interval of zero or more'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'prune_receipts(''13 months'') drops every month whose receipts are all older than 13 months.';
    END IF;
    PERFORM @extschema@.require_receipts_owner('prune_receipts');
    cutoff := now() - older_than;
    -- Rows still in a default partition move to their months' first, so
    -- that every month goes whole; this also takes the seals' lock.
    PERFORM @extschema@.add_receipt_partitions(0);
    -- Only sealed months go: every receipt recorded before the last seal's
    -- horizon is in its chain.
    sealed := coalesce((SELECT s.horizon FROM @extschema@.receipt_seals s ORDER BY s.id DESC LIMIT 1),
                       '-infinity');
    FOR month IN
        SELECT r.partition AS receipts, l.partition AS links, r.upper_bound
          FROM @extschema@.receipt_partitions('@extschema@.receipts') r
          LEFT JOIN @extschema@.receipt_partitions('@extschema@.receipt_links') l
                 ON l.upper_bound = r.upper_bound AND l.lower_bound = r.lower_bound
         WHERE r.upper_bound <= cutoff
         ORDER BY r.upper_bound
    LOOP
        IF month.upper_bound > sealed THEN
            RAISE NOTICE 'authensor.prune_receipts(): receipts recorded before % are not all sealed yet; kept from there on',
                         month.upper_bound
                USING HINT = 'Run authensor.seal_receipts() (scheduled every minute), then prune again.';
            EXIT;
        END IF;
        IF month.links IS NOT NULL THEN
            -- Each tenant's last link of the month is where its chain now
            -- starts.
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
            EXECUTE format('DROP TABLE %s', month.links);
        END IF;
        EXECUTE format('DROP TABLE %s', month.receipts);
        pruned := pruned + 1;
    END LOOP;
    RETURN pruned;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.receipt_partitions(regclass),
                       @extschema@.move_receipt_rows(regclass, regclass, timestamptz, timestamptz),
                       @extschema@.make_receipt_partition(regclass, text, timestamptz, timestamptz),
                       @extschema@.add_receipt_partitions(integer),
                       @extschema@.prune_receipts(interval)
    FROM PUBLIC;

COMMENT ON FUNCTION @extschema@.add_receipt_partitions(integer) IS
    'Make the monthly partitions of receipts and their links from this month to months_ahead ahead, and for rows waiting in the default partitions (operator only)';
COMMENT ON FUNCTION @extschema@.prune_receipts(interval) IS
    'Drop every sealed month of receipts older than older_than, keeping each tenant''s chain verifiable from a checkpoint (operator only)';
