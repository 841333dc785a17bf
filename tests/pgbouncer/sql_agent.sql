-- One transaction of an agent role running its own SQL through the pooler,
-- for tenant-x or tenant-y at random: each statement is decided on whatever
-- server connection the transaction got. Any violation divides by zero,
-- which aborts the pgbench client and fails the test.
\set t random(0, 1)
BEGIN;
SELECT 1 / (authensor.current_tenant() IS NULL)::int;
SELECT 1 / (authensor.authenticate(CASE :t::int WHEN 0 THEN :key_x ELSE :key_y END)
            = CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END)::int;
-- Whatever the agent writes, it sees only its tenant's rows.
SELECT 1 / (count(*) FILTER (WHERE tenant_id <> CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END) = 0
            AND count(*) > 0)::int
  FROM pooled.items WHERE tenant_id = 'tenant-x' OR true;
INSERT INTO pooled.items VALUES (nextval('pooled.item_ids'), CASE :t::int WHEN 0 THEN 'tenant-x' ELSE 'tenant-y' END);
COMMIT;
