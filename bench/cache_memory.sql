-- The memory 1,000 cached 100-rule policies take in one backend: the
-- backend's private memory (RssAnon) before and after checking once for each
-- of 1,000 tenants, each with a policy of its own. Run by psql as a superuser
-- with the backend's /proc status file in :status; prints key=value lines.
\set ON_ERROR_STOP on
SET authensor.cache_size = 1000;
SET authensor.cache_max_bytes = '1GB';
SET client_min_messages = warning;
-- The library is loaded and the platform policy cached before the baseline.
SELECT authensor.check('warm.up') IS NOT NULL AS warmed FROM (SELECT set_config('authensor.tenant_id', 'mem-1', false)) AS s \gset
SELECT pg_read_file(:'status') AS before \gset
SELECT count(authensor.check('tool.100.run', '{"n": 100}'))
  FROM (SELECT set_config('authensor.tenant_id', 'mem-' || n, false) FROM generate_series(1, 1000) AS n) AS s \gset
SELECT pg_read_file(:'status') AS after \gset
SELECT line FROM (VALUES
    ('rss_anon_before_kb=' || substring(:'before' FROM 'RssAnon:\s+(\d+)')),
    ('rss_anon_after_kb=' || substring(:'after' FROM 'RssAnon:\s+(\d+)')),
    ('cache_entries=' || (authensor.cache_stats()->>'entries')),
    ('cache_bytes=' || (authensor.cache_stats()->>'bytes'))) AS report(line);
