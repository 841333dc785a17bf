-- One transaction of an agent through the pooler, for tenant-x or tenant-y at
-- random. Any violation divides by zero, which aborts the pgbench client and
-- fails the test.
\set t random(0, 1)
BEGIN;
-- Nothing is left of the previous transaction that used this server connection.
SELECT 1 / (authensor.current_tenant() IS NULL)::int;
SELECT 1 / (authensor.authenticate(CASE :t::int WHEN 0 THEN :key_x ELSE :key_y END)
            = CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END)::int;
-- The decision is this tenant's, by this tenant's policy: x allows, y blocks.
SELECT 1 / ((d).tenant_id = CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END
            AND (d).action = CASE :t::int WHEN 0 THEN 'allow' ELSE 'block' END
            AND (d).rule_id = CASE :t::int WHEN 0 THEN 'x-probe' ELSE 'y-probe' END)::int
  FROM (SELECT authensor.evaluate('probe.run', jsonb_build_object('client', CASE :t::int WHEN 0 THEN 'x' ELSE 'y' END)) AS d) AS s;
-- Only this tenant's receipts are visible.
SELECT 1 / (count(*) FILTER (WHERE tenant_id <> CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END) = 0)::int
  FROM authensor.receipts;
COMMIT;
