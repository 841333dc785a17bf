-- Sealing and verifying throughput: :rows receipts of 100 tenants, written
-- as evaluate() writes them (small args and context), sealed by one
-- seal_receipts() and verified by one verify_all_receipts(), each on one
-- backend, so one core. Run by psql as a superuser in a fresh database with
-- the extension; prints key=value lines.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
INSERT INTO authensor.receipts (tenant_id, created_at, tool, args, context, action, reason, layer, rule_id,
                                platform_version, tenant_version, recorded_at)
SELECT 'tenant-' || n % 100, t, 'tool.' || n % 7 || '.run',
       jsonb_build_object('path', '/data/' || n, 'size', n % 1000, 'flags', jsonb_build_array('r', n % 2 = 0)),
       jsonb_build_object('tenantId', 'tenant-' || n % 100, 'user', 'u' || n % 13),
       'allow', 'rule "reads" matched', 'tenant', 'reads', 1, 1, t
  FROM generate_series(1, :rows) AS n,
       LATERAL (SELECT clock_timestamp() AS t) AS c;
VACUUM ANALYZE authensor.receipts;
SELECT clock_timestamp() AS t0 \gset
SELECT authensor.seal_receipts() AS sealed \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS seal_seconds \gset
VACUUM ANALYZE authensor.receipt_links;
SELECT clock_timestamp() AS t0 \gset
SELECT sum(checked) AS verified, sum(problems) AS problems FROM authensor.verify_all_receipts() \gset
SELECT extract(epoch FROM clock_timestamp() - :'t0') AS verify_seconds \gset
SELECT line FROM (VALUES
    ('chain_receipts=' || :sealed),
    ('chain_seal_seconds=' || :seal_seconds),
    ('chain_verified=' || :verified),
    ('chain_verify_problems=' || :problems),
    ('chain_verify_seconds=' || :verify_seconds)) AS report(line);
