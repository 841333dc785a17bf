-- The Sentinel's settings, who may scan, and alerts and baselines under
-- row-level security. (The algorithm is tested on replayed history by the
-- #[pg_test]s in src/sentinel/tests.rs, and over real windows, with NOTIFY
-- and pg_cron, by tests/sentinel/run.sh.)
\set VERBOSITY default
-- The settings exist once the library is loaded: LOAD here, and any call
-- of an authensor function in the sessions below.
LOAD 'authensor';
SELECT name, setting, unit, min_val, max_val, context FROM pg_settings
 WHERE name LIKE 'authensor.sentinel%' ORDER BY name;

-- Out-of-range settings are refused (22023), even to a superuser. The
-- message is PostgreSQL's own (18 adds units to the range), so only the
-- SQLSTATE is shown.
\set VERBOSITY sqlstate
SET authensor.sentinel_window = 0;
SET authensor.sentinel_alpha = 1.5;
SET authensor.sentinel_block_ratio = -0.1;
SET authensor.sentinel_warmup = 0;
\set VERBOSITY default

-- Like the platform layer, scanning belongs to the operator.
GRANT EXECUTE ON FUNCTION authensor.sentinel_scan() TO authensor_operator;

-- Agents and application servers may not scan, nor change the settings.
\c - agent_untrusted
SELECT authensor.sentinel_scan();
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\c - agent_app
SELECT authensor.sentinel_scan();
SELECT authensor.current_tenant() AS tenant;
SET authensor.sentinel_window = '1s';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SET authensor.sentinel_block_ratio = 1;
SHOW authensor.sentinel_block_ratio;

-- The operator scans (how many alerts depends on the minute the earlier
-- tests ran in), but cannot call the scan's internals with its own settings.
\c - authensor_operator
SELECT authensor.sentinel_scan() >= 0 AS scanned;
SELECT authensor.sentinel_scan_windows(now(), 1, 0.3, 3, 1, 0, 1, 60);

-- Two alerts written directly as fixtures, one per tenant.
\c - postgres
INSERT INTO authensor.alerts (tenant_id, kind, tool, observed, baseline, stddev, window_start, window_end)
VALUES ('tenant-a', 'rate', NULL, 30, 5, 2.236, '2024-01-01 00:12:00+00', '2024-01-01 00:13:00+00'),
       ('tenant-b', 'block_ratio', 'email.send', 0.6, 0, 0.1, '2024-01-01 00:12:00+00', '2024-01-01 00:13:00+00');

-- Each tenant sees its own alerts and baselines only.
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT tenant_id, kind, tool, observed, baseline FROM authensor.alerts
 WHERE window_end = '2024-01-01 00:13:00+00';
SELECT count(*) AS other_tenants_alerts FROM authensor.alerts WHERE tenant_id <> 'tenant-a';
SELECT count(*) AS other_tenants_baselines FROM authensor.sentinel_baselines WHERE tenant_id <> 'tenant-a';
COMMIT;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-b';
SELECT tenant_id, kind, tool, observed, baseline FROM authensor.alerts
 WHERE window_end = '2024-01-01 00:13:00+00';
SELECT count(*) AS other_tenants_alerts FROM authensor.alerts WHERE tenant_id <> 'tenant-b';
COMMIT;

-- Without a tenant nothing is visible, and nobody writes.
\c - agent_untrusted
SELECT count(*) AS visible_alerts FROM authensor.alerts;
SELECT count(*) AS visible_baselines FROM authensor.sentinel_baselines;
INSERT INTO authensor.alerts (tenant_id, kind, observed, window_start, window_end)
VALUES ('tenant-a', 'rate', 0, now(), now());
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\c - agent_app
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
DELETE FROM authensor.alerts;
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
UPDATE authensor.sentinel_baselines SET rate_mean = 0;
ROLLBACK;
-- What the scan keeps to count late receipts covers every tenant: no tenant
-- reads it.
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT count(*) FROM authensor.sentinel_counted;
ROLLBACK;
BEGIN;
SET LOCAL authensor.tenant_id = 'tenant-a';
SELECT count(*) FROM authensor.sentinel_scan_state;
ROLLBACK;
