-- The backend-local cache: repeated decisions are hits, and the size setting
-- bounds it with least-recently-used eviction.
\c - agent_app

BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.check('file.read');  -- warms the cache
SELECT authensor.cache_stats() AS before \gset
SELECT count(*) AS decisions FROM (SELECT authensor.check('file.read') FROM generate_series(1, 200)) AS s;
SELECT (authensor.cache_stats()->>'hits')::int - (:'before'::jsonb->>'hits')::int AS new_hits,
       (authensor.cache_stats()->>'misses')::int - (:'before'::jsonb->>'misses')::int AS new_misses,
       (authensor.cache_stats()->>'compiles')::int - (:'before'::jsonb->>'compiles')::int AS new_compiles;
COMMIT;

-- With room for one compiled policy, alternating between two tenants evicts.
-- The size bounds a backend's memory, so only a superuser sets it.
SET authensor.cache_size = 1;
\c - postgres
SET authensor.cache_size = 1;
SELECT authensor.cache_stats() AS before \gset
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.check('file.read');
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT action FROM authensor.check('file.read', '{"path": "/data/x"}');
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT action FROM authensor.check('file.read');
COMMIT;
-- Each call compiled both layers again (the other tenant's policy and the
-- platform's evicted each other), and no more than one policy is kept.
SELECT (authensor.cache_stats()->>'entries')::int AS entries,
       (authensor.cache_stats()->>'compiles')::int - (:'before'::jsonb->>'compiles')::int AS new_compiles,
       (authensor.cache_stats()->>'evictions')::int > (:'before'::jsonb->>'evictions')::int AS evicted;
RESET authensor.cache_size;

-- The settings are documented and reserved: a typo is an error.
SELECT name, setting, unit, short_desc FROM pg_settings WHERE name LIKE 'authensor.%' ORDER BY name;
SET authensor.tenantid = 'x';
