-- Sentinel: per-tenant (and per tenant + tool) baselines of the call rate and
-- of the block and escalate ratios over fixed windows, learnt from the
-- receipts, and alerts announced on each tenant's own channel. The settings
-- and the operator's entry point, sentinel_scan(), are in src/sentinel.rs.

-- One row per tenant (tool NULL: all its calls) and per tenant + tool. The
-- EWMA mean and variance of each metric, as of the end of window_end.
CREATE TABLE @extschema@.sentinel_baselines (
    tenant_id        text        NOT NULL,
    tool             text,                       -- NULL: every call of the tenant
    window_seconds   integer     NOT NULL,       -- the window length it was learnt with
    window_end       timestamptz NOT NULL,       -- end of the last window folded in
    windows          integer     NOT NULL,       -- windows folded into the rate
    idle_windows     integer     NOT NULL,       -- consecutive windows without a call
    rate_mean        double precision NOT NULL,  -- calls per window
    rate_var         double precision NOT NULL,
    ratio_windows    integer     NOT NULL,       -- windows with enough calls to judge ratios
    block_mean       double precision,           -- NULL until ratio_windows > 0
    block_var        double precision,
    escalate_mean    double precision,
    escalate_var     double precision,
    over_block_limit boolean     NOT NULL,       -- the last judged window was above the fixed limit
    CONSTRAINT sentinel_baselines_scope UNIQUE NULLS NOT DISTINCT (tenant_id, tool)
);

CREATE TABLE @extschema@.alerts (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id    text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('rate', 'block_ratio', 'escalate_ratio')),
    tool         text,                        -- NULL: every call of the tenant
    observed     double precision NOT NULL,   -- calls in the window, or the ratio
    baseline     double precision,            -- the EWMA mean before the window; NULL if none yet
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    stddev       double precision,            -- the standard deviation compared with, after its floor
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    late         bigint      NOT NULL DEFAULT 0, -- calls counted in this window that were made in an earlier one
    CONSTRAINT alerts_once_per_window UNIQUE NULLS NOT DISTINCT (tenant_id, tool, kind, window_end)
);

-- The scan reads one window of receipts at a time, through a BRIN index on
-- created_at that each partition has (receipts.sql).

-- Late receipts: those that become visible only after the scan that folded
-- their window (a transaction that commits after it; a rolled-back decision,
-- written again at a later commit). Each is counted once, in the first window
-- folded after it became visible. A scan that folds windows leaves the next
-- one what it needs for that (see sentinel_scan_windows):
--
-- * horizon: every receipt made before counted_until that this scan did not
--   count was recorded (recorded_at) at or after it. So the next scan finds
--   them among the receipts recorded since the horizon, and sentinel_counted
--   says how many of those were counted already.
-- * began_at and next_xid: when this scan's transaction began, and its
--   transaction id. Every id from next_xid on was assigned after began_at,
--   and a receipt's recorded_at is read after its transaction has its id, so
--   began_at becomes the horizon of the first later scan whose oldest running
--   transaction id is at least next_xid.
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

ALTER TABLE @extschema@.sentinel_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sentinel_baselines FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.sentinel_baselines FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.alerts FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

-- Both hold every tenant's recent activity: the scan's alone.
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

REVOKE ALL ON @extschema@.sentinel_baselines, @extschema@.alerts FROM PUBLIC;
GRANT SELECT ON @extschema@.sentinel_baselines, @extschema@.alerts TO PUBLIC;
-- The scan, run as authensor_definer, keeps the baselines (and forgets
-- idle tools' ones) and adds alerts.
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.sentinel_baselines TO authensor_definer;
GRANT SELECT, INSERT ON @extschema@.alerts TO authensor_definer;
CREATE POLICY extension_functions ON @extschema@.sentinel_baselines TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.alerts TO authensor_definer USING (true) WITH CHECK (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentinel_baselines', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts', '');

-- EWMA with smoothing alpha. The first value starts the baseline (variance
-- 0); a NULL value (a ratio in a window with too few calls) leaves it as is.
CREATE FUNCTION @extschema@.sentinel_ewma_mean(mean double precision, x double precision, alpha double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN x IS NULL THEN mean
                WHEN mean IS NULL THEN x
                ELSE mean + alpha * (x - mean) END
$$;
CREATE FUNCTION @extschema@.sentinel_ewma_var(mean double precision, var double precision,
                                              x double precision, alpha double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN x IS NULL THEN var
                WHEN mean IS NULL THEN 0
                ELSE (1 - alpha) * (var + alpha * (x - mean) ^ 2) END
$$;

-- Folds every complete window up to scan_until into the baselines, oldest
-- first, judging each window against the baselines as they were before it.
-- Returns the number of alerts raised. Called by sentinel_scan() with the
-- settings in force; scan_until is a parameter so tests can replay history.
--
-- A window's receipts are those visible when the scan counts it. The ones
-- that become visible later (late receipts) are counted by the next scan
-- that folds a window, in the first window it folds. Which receipts those
-- are follows from counts, not from row visibility: each scan stores how
-- many receipts it has counted among those recorded since its horizon
-- (sentinel_counted), and every receipt it did not count was recorded since
-- that horizon; the next scan counts the same receipts again and the
-- difference is the late ones. (A row's xmin tested against a stored
-- snapshot would misjudge a receipt written in a subtransaction, as every
-- rolled-back decision is: pg_snapshot lists top-level transactions only.)
CREATE FUNCTION @extschema@.sentinel_scan_windows(
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

REVOKE ALL ON FUNCTION @extschema@.sentinel_ewma_mean(double precision, double precision, double precision),
                       @extschema@.sentinel_ewma_var(double precision, double precision, double precision, double precision),
                       @extschema@.sentinel_scan_windows(timestamptz, integer, double precision, double precision,
                                                         integer, double precision, integer, integer)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sentinel_ewma_mean(double precision, double precision, double precision),
                          @extschema@.sentinel_ewma_var(double precision, double precision, double precision, double precision),
                          @extschema@.sentinel_scan_windows(timestamptz, integer, double precision, double precision,
                                                            integer, double precision, integer, integer)
    TO authensor_definer;
REVOKE ALL ON FUNCTION @extschema@.sentinel_scan() FROM PUBLIC;

COMMENT ON TABLE @extschema@.sentinel_baselines IS
    'Sentinel baselines per tenant and per tenant + tool: EWMA of the call rate and of the block and escalate ratios; visible to their tenant only';
COMMENT ON TABLE @extschema@.alerts IS
    'Sentinel alerts, each announced on its tenant''s channel; visible to their tenant only';
COMMENT ON TABLE @extschema@.sentinel_scan_state IS
    'What the last Sentinel scan that folded a window left the next, to count receipts that became visible late; the scan''s alone';
COMMENT ON TABLE @extschema@.sentinel_counted IS
    'Receipts the Sentinel has counted among those recorded since its horizon, per tenant and per tenant + tool; the scan''s alone';
COMMENT ON FUNCTION @extschema@.sentinel_scan() IS
    'Fold every complete window into the Sentinel baselines and raise alerts (operator only); schedule it every minute';
