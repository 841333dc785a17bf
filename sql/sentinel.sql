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
    CONSTRAINT alerts_once_per_window UNIQUE NULLS NOT DISTINCT (tenant_id, tool, kind, window_end)
);

-- The scan reads one window of receipts at a time, through a BRIN index on
-- created_at that each partition has (receipts.sql).

ALTER TABLE @extschema@.sentinel_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.sentinel_baselines FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.sentinel_baselines FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

ALTER TABLE @extschema@.alerts ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.alerts FORCE ROW LEVEL SECURITY;
CREATE POLICY own_tenant ON @extschema@.alerts FOR SELECT
    USING (tenant_id = (SELECT @extschema@.current_tenant()));

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
    step     interval := make_interval(secs => window_length);
    last_end timestamptz := to_timestamp(floor(extract(epoch FROM scan_until) / window_length) * window_length);
    w_start  timestamptz;
    w_end    timestamptz;
    raised   integer := 0;
    n        integer;
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

    -- Every baseline has folded in the same windows. After a long pause only
    -- the last max_windows windows are folded in; older ones are skipped.
    SELECT max(b.window_end) INTO w_end FROM @extschema@.sentinel_baselines b;
    w_end := greatest(w_end, last_end - max_windows * step);

    WHILE w_end < last_end LOOP
        w_start := w_end;
        w_end := w_end + step;

        WITH observed AS (
            SELECT r.tenant_id, r.tool,
                   count(*) AS calls,
                   count(*) FILTER (WHERE r.action = 'block') AS blocks,
                   count(*) FILTER (WHERE r.action = 'escalate') AS escalates
              FROM @extschema@.receipts r
             WHERE r.created_at >= w_start AND r.created_at < w_end
             GROUP BY GROUPING SETS ((r.tenant_id), (r.tenant_id, r.tool))
        ), scope AS (
            -- A known scope without calls in this window has rate 0.
            SELECT coalesce(b.tenant_id, o.tenant_id) AS tenant_id,
                   CASE WHEN b.tenant_id IS NULL THEN o.tool ELSE b.tool END AS tool,
                   coalesce(o.calls, 0)::double precision AS rate,
                   CASE WHEN o.calls >= min_calls THEN o.blocks::double precision / o.calls END AS block_ratio,
                   CASE WHEN o.calls >= min_calls THEN o.escalates::double precision / o.calls END AS escalate_ratio,
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
                   (tenant_id, kind, tool, observed, baseline, stddev, window_start, window_end)
            SELECT j.tenant_id, m.kind, j.tool, m.observed, m.baseline, m.stddev, w_start, w_end
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
        )
        -- Each alert goes to its own tenant's channel, with ids only.
        SELECT count(*) INTO n
          FROM inserted i
         WHERE @extschema@.announce(@extschema@.tenant_channel(i.tenant_id),
                         json_build_object('alertId', i.id, 'kind', i.kind)::text) IS NOT NULL;
        raised := raised + n;
    END LOOP;

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
COMMENT ON FUNCTION @extschema@.sentinel_scan() IS
    'Fold every complete window into the Sentinel baselines and raise alerts (operator only); schedule it every minute';
