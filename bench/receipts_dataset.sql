-- The receipts `make bench` reads under row-level security: :rows receipts
-- (default 10 million) spread evenly over :tenants tenants (default 1,000),
-- and a plain copy of one tenant's receipts, :tenant, for comparison.
-- Run by psql as a superuser in an empty database; about 2 minutes on 2 cores.
\set ON_ERROR_STOP on
\if :{?rows}
\else
    \set rows 10000000
\endif
\if :{?tenants}
\else
    \set tenants 1000
\endif
\if :{?tenant}
\else
    \set tenant tenant-42
\endif

CREATE EXTENSION authensor;

-- Loading first and indexing afterwards sorts once instead of inserting
-- into 1,000 places of the tenant index; ids ascend for the same reason.
DROP INDEX authensor.receipts_tenant_created_idx;

INSERT INTO authensor.receipts
       (id, tenant_id, created_at, tool, args, context, action, reason, layer,
        rule_id, platform_version, tenant_version)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, tenant, timestamptz '2026-01-01' + i * interval '10 ms', 'database.query',
       jsonb_build_object('query', 'SELECT * FROM orders WHERE tenant_id = ''' || tenant || ''' AND id = ' || i),
       jsonb_build_object('tenantId', tenant), 'allow', 'Query is scoped to the tenant', 'tenant',
       'scoped-queries', 1, 1
  FROM generate_series(1, :rows) AS i,
       LATERAL (SELECT 'tenant-' || i % :tenants AS tenant) AS t;

SET maintenance_work_mem = '1GB';
CREATE INDEX receipts_tenant_created_idx ON authensor.receipts (tenant_id, created_at);
ANALYZE authensor.receipts;

-- The same rows of one tenant in a table of the same shape, without RLS.
CREATE SCHEMA bench;
CREATE TABLE bench.receipts_one_tenant (LIKE authensor.receipts INCLUDING ALL);
INSERT INTO bench.receipts_one_tenant SELECT * FROM authensor.receipts WHERE tenant_id = :'tenant';
ANALYZE bench.receipts_one_tenant;
GRANT USAGE ON SCHEMA bench TO bench_app;
GRANT SELECT ON bench.receipts_one_tenant TO bench_app;
