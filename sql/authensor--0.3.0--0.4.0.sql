-- authensor 0.3.0 -> 0.4.0.
--
-- What changes for existing data is said beside each part below.
\echo Use "ALTER EXTENSION authensor UPDATE TO '0.4.0'" to load this file. \quit

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
