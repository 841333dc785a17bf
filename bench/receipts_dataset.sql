-- The receipts `make bench` reads under row-level security: :rows receipts
-- (default 10 million) spread evenly over :tenants tenants (default 1,000)
-- and over the four months before this one (UTC), in their months'
-- partitions, and a plain copy of one tenant's receipts, :tenant, for
-- comparison. Sets :first_month for bench/retention.sql.
-- Run by psql as a superuser in an empty database; a few minutes on 2 cores.
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

-- The four months' partitions, named and bounded as add_receipt_partitions()
-- makes them. They are loaded first and indexed afterwards, as
-- index_receipt_partition() indexes every partition: that sorts once
-- instead of inserting into 1,000 places of the tenant index; ids ascend
-- for the same reason.
SELECT date_trunc('month', now() AT TIME ZONE 'UTC') - interval '4 months' AS first_month \gset
SELECT format('CREATE TABLE authensor.%I PARTITION OF authensor.%I FOR VALUES FROM (%L) TO (%L)',
              parent || '_' || to_char(m, 'YYYY_MM'), parent,
              m AT TIME ZONE 'UTC', (m + interval '1 month') AT TIME ZONE 'UTC')
  FROM generate_series(timestamp :'first_month', timestamp :'first_month' + interval '3 months',
                       interval '1 month') AS m,
       unnest(ARRAY['receipts', 'receipt_links']) AS parent
\gexec

INSERT INTO authensor.receipts
       (id, tenant_id, created_at, tool, args, context, action, reason, layer,
        rule_id, platform_version, tenant_version, recorded_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, tenant, t, 'database.query',
       jsonb_build_object('query', 'SELECT * FROM orders WHERE tenant_id = ''' || tenant || ''' AND id = ' || i),
       jsonb_build_object('tenantId', tenant), 'allow', 'Query is scoped to the tenant', 'tenant',
       'scoped-queries', 1, 1, t
  FROM generate_series(1, :rows) AS i,
       LATERAL (SELECT 'tenant-' || i % :tenants AS tenant,
                       (timestamp :'first_month' AT TIME ZONE 'UTC')
                       + (i - 1) * (interval '120 days' / :rows) AS t) AS t;

SET maintenance_work_mem = '1GB';
SELECT format('SELECT authensor.index_receipt_partition(%L)', p.partition)
  FROM authensor.receipt_partitions('authensor.receipts') AS p
 UNION ALL
SELECT format('SELECT authensor.index_receipt_partition(%L)', p.partition)
  FROM authensor.receipt_partitions('authensor.receipt_links') AS p
\gexec
ANALYZE authensor.receipts;

-- The same rows of one tenant in a table of the same shape and the same
-- indexes, without RLS.
CREATE SCHEMA bench;
CREATE TABLE bench.receipts_one_tenant (LIKE authensor.receipts INCLUDING ALL, PRIMARY KEY (id));
INSERT INTO bench.receipts_one_tenant SELECT * FROM authensor.receipts WHERE tenant_id = :'tenant';
CREATE INDEX ON bench.receipts_one_tenant (tenant_id, created_at);
ANALYZE bench.receipts_one_tenant;
GRANT USAGE ON SCHEMA bench TO bench_app;
GRANT SELECT ON bench.receipts_one_tenant TO bench_app;
