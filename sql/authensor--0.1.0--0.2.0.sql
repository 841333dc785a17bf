-- authensor 0.1.0 -> 0.2.0: least privilege and separation of duties, a
-- bounded cache, pg_dump of every table, and a guarded DROP EXTENSION.
--
-- What changes for existing data:
-- * Existing API keys become agent keys: they decide, and no longer publish,
--   check, approve or route alerts. Issue admin keys with
--   create_api_key(tenant, label, 'admin'), or keep those tasks on trusted
--   application servers.
-- * Default alert channels are now derived from a secret as well as the
--   tenant id, so they change: listeners read the new name from
--   authensor.alert_route(). Channels set with set_alert_route() stay.
\echo Use "ALTER EXTENSION authensor UPDATE TO '0.2.0'" to load this file. \quit

-- The role every SECURITY DEFINER function of the extension runs as (see
-- finalize.sql): no superuser, no login, no members, and only the table
-- rights granted below. A role of that name made earlier by someone else is
-- used only if it is just as powerless.
DO $$
DECLARE
    definer pg_catalog.pg_roles;
BEGIN
    SELECT * INTO definer FROM pg_catalog.pg_roles WHERE rolname = 'authensor_definer';
    IF NOT FOUND THEN
        CREATE ROLE authensor_definer NOLOGIN NOINHERIT;
    ELSIF definer.rolsuper OR definer.rolcanlogin OR definer.rolbypassrls OR definer.rolcreaterole
          OR definer.rolcreatedb OR definer.rolreplication
          OR EXISTS (SELECT FROM pg_catalog.pg_auth_members WHERE roleid = definer.oid OR member = definer.oid) THEN
        RAISE EXCEPTION 'role authensor_definer exists and has more rights than the extension allows'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'authensor''s functions run as authensor_definer, which must be NOLOGIN, not a superuser, without special attributes, and neither a member of any role nor have members. Drop or fix the role, then retry.';
    END IF;
END
$$;

-- Keys have a scope; those issued before are agent keys.
ALTER TABLE @extschema@.api_keys
    ADD COLUMN scope text NOT NULL DEFAULT 'agent' CHECK (scope IN ('agent', 'admin'));

-- What the extension's functions need, and no more.
GRANT SELECT, INSERT ON @extschema@.policies, @extschema@.receipts, @extschema@.api_key_hashes
    TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.active_policies, @extschema@.api_keys TO authensor_definer;
GRANT SELECT, INSERT, UPDATE ON @extschema@.tenant_settings, @extschema@.approval_requests
    TO authensor_definer;
GRANT SELECT, INSERT, UPDATE, DELETE ON @extschema@.sentinel_baselines TO authensor_definer;
GRANT SELECT, INSERT ON @extschema@.alerts TO authensor_definer;
ALTER TABLE @extschema@.api_key_hashes FORCE ROW LEVEL SECURITY;
CREATE POLICY extension_functions ON @extschema@.policies TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.active_policies TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.receipts TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.api_keys TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.api_key_hashes TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.tenant_settings TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.approval_requests TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.sentinel_baselines TO authensor_definer USING (true) WITH CHECK (true);
CREATE POLICY extension_functions ON @extschema@.alerts TO authensor_definer USING (true) WITH CHECK (true);

-- Default channel names come from a secret only the extension reads, and
-- notifications are skipped rather than fail a commit on a full queue.
CREATE TABLE @extschema@.channel_secret (
    secret  bytea       NOT NULL CHECK (octet_length(secret) = 32),
    made_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO @extschema@.channel_secret (secret)
VALUES (pg_catalog.uuid_send(pg_catalog.gen_random_uuid()) || pg_catalog.uuid_send(pg_catalog.gen_random_uuid()));
REVOKE ALL ON @extschema@.channel_secret FROM PUBLIC;
GRANT SELECT ON @extschema@.channel_secret TO authensor_definer;
ALTER TABLE @extschema@.channel_secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE @extschema@.channel_secret FORCE ROW LEVEL SECURITY;
CREATE POLICY extension_functions ON @extschema@.channel_secret FOR SELECT TO authensor_definer USING (true);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.channel_secret', '');

CREATE FUNCTION @extschema@.channel_secret() RETURNS bytea
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT secret FROM @extschema@.channel_secret ORDER BY made_at, secret LIMIT 1
$$;

-- Notifications are hints (see README, Channels). Any role can LISTEN on a
-- channel and never read it, which fills PostgreSQL's one NOTIFY queue, and a
-- transaction that notifies on a full queue fails at commit. So when the
-- queue is half full, a notification is skipped with a WARNING instead:
-- publishing, approvals and alerts never wait for another session to read.
CREATE FUNCTION @extschema@.announce(channel text, payload text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
BEGIN
    IF pg_notification_queue_usage() < 0.5 THEN
        PERFORM pg_notify(channel, payload);
        RETURN true;
    END IF;
    RAISE WARNING 'the NOTIFY queue is % full, so no notification is sent on channel %',
        to_char(100 * pg_notification_queue_usage(), 'FM990%'), channel
        USING HINT = 'A session that LISTENs and never reads holds the queue; pg_stat_activity shows it. The rows themselves are written.';
    RETURN false;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@.tenant_channel(tenant_id text) RETURNS text
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog AS $$
    SELECT coalesce((SELECT s.alert_channel FROM @extschema@.tenant_settings s WHERE s.tenant_id = $1),
                    'authensor_' || left(encode(sha256(@extschema@.channel_secret() || convert_to($1, 'UTF8')),
                                                'hex'), 24))
$$;
REVOKE ALL ON FUNCTION @extschema@.channel_secret(), @extschema@.announce(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.request_hash(text, text, jsonb), @extschema@.tenant_channel(text),
                          @extschema@.channel_secret(), @extschema@.announce(text, text)
    TO authensor_definer;

-- The scan checks its arguments against its settings' bounds.
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

GRANT EXECUTE ON FUNCTION @extschema@.sentinel_ewma_mean(double precision, double precision, double precision),
                          @extschema@.sentinel_ewma_var(double precision, double precision, double precision, double precision),
                          @extschema@.sentinel_scan_windows(timestamptz, integer, double precision, double precision,
                                                            integer, double precision, integer, integer)
    TO authensor_definer;

-- Every table that holds user data is dumped by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.policies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.active_policies', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.receipts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_key_hashes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_settings', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.approval_requests', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sentinel_baselines', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts', '');

-- API keys with a scope; tenant admins manage their agent keys.
DROP FUNCTION @extschema@.create_api_key(text, text);
CREATE FUNCTION @extschema@."create_api_key"(
    "tenant_id" TEXT,
    "label" TEXT DEFAULT NULL,
    "scope" TEXT DEFAULT 'agent'
) RETURNS TEXT
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'create_api_key_wrapper';
REVOKE ALL ON FUNCTION @extschema@.create_api_key(text, text, text) FROM PUBLIC;
CREATE FUNCTION @extschema@."create_agent_key"(
    "label" TEXT DEFAULT NULL
) RETURNS TEXT
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'create_agent_key_wrapper';
CREATE FUNCTION @extschema@."revoke_agent_key"(
    "key_id" uuid
) RETURNS bool
VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'revoke_agent_key_wrapper';

-- alert_route() is volatile, as a function that reads another's settings.
ALTER FUNCTION @extschema@.alert_route() VOLATILE;

-- DROP EXTENSION is refused while receipts exist.
CREATE FUNCTION @extschema@.drop_guard() RETURNS event_trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'authensor_drop_guard';
REVOKE ALL ON FUNCTION @extschema@.drop_guard() FROM PUBLIC;
CREATE EVENT TRIGGER authensor_drop_guard ON ddl_command_start
    WHEN TAG IN ('DROP EXTENSION', 'DROP SCHEMA')
    EXECUTE FUNCTION @extschema@.drop_guard();

-- Every SECURITY DEFINER function runs as authensor_definer.
DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = '@extschema@'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO authensor_definer', fn);
    END LOOP;
END
$$;

COMMENT ON FUNCTION @extschema@.create_agent_key(text) IS
    'A new agent key for the current tenant (admin keys and trusted roles)';
COMMENT ON FUNCTION @extschema@.revoke_agent_key(uuid) IS
    'Revoke one of the current tenant''s agent keys (admin keys and trusted roles)';
