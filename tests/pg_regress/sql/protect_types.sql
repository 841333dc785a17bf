-- protect_table() on tenant columns that are not text, and unprotect_table()
-- putting row-level security back as it was.
\set VERBOSITY terse
CREATE ROLE typed_owner NOLOGIN;
CREATE SCHEMA typed AUTHORIZATION typed_owner;
GRANT USAGE ON SCHEMA typed TO agent_app;
SET ROLE typed_owner;
CREATE TABLE typed.by_uuid (id int PRIMARY KEY, tenant uuid NOT NULL);
CREATE TABLE typed.by_number (id int PRIMARY KEY, tenant int NOT NULL);
CREATE DOMAIN typed.tenant_name AS text;
CREATE TABLE typed.by_domain (id int PRIMARY KEY, tenant typed.tenant_name NOT NULL);
INSERT INTO typed.by_uuid VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO typed.by_number VALUES (1, 1);
INSERT INTO typed.by_domain VALUES (1, 'typed-a');
GRANT SELECT ON ALL TABLES IN SCHEMA typed TO agent_app;
RESET ROLE;
SELECT authensor.protect_table('typed.by_uuid', 'tenant');
SELECT authensor.protect_table('typed.by_number', 'tenant');
SELECT authensor.protect_table('typed.by_domain', 'tenant');
-- Under uuid and integer, distinct tenant ids cast to one value: the
-- column's text must be the tenant id as well. A domain over text compares
-- as text does.
SELECT tablename, qual FROM pg_policies
 WHERE schemaname = 'typed' AND policyname = 'authensor_tenant_rows' ORDER BY 1;

\c - agent_app
-- Only the id the row's value prints as reads it; the others are distinct
-- tenants to authensor.
BEGIN;
SET LOCAL authensor.tenant_id = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11';
SELECT count(*) AS lower_case FROM typed.by_uuid;
SET LOCAL authensor.tenant_id = 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11';
SELECT count(*) AS upper_case FROM typed.by_uuid;
SET LOCAL authensor.tenant_id = '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}';
SELECT count(*) AS braces FROM typed.by_uuid;
SET LOCAL authensor.tenant_id = '1';
SELECT count(*) AS one FROM typed.by_number;
SET LOCAL authensor.tenant_id = '01';
SELECT count(*) AS zero_one FROM typed.by_number;
SET LOCAL authensor.tenant_id = ' 1';
SELECT count(*) AS space_one FROM typed.by_number;
SET LOCAL authensor.tenant_id = 'typed-a';
SELECT count(*) AS domain_text FROM typed.by_domain;
SET LOCAL authensor.tenant_id = 'TYPED-A';
SELECT count(*) AS domain_upper FROM typed.by_domain;
COMMIT;

\c - postgres
-- unprotect_table() puts row-level security back as protect_table() found
-- it: a table whose row security was on without policies (only its owner
-- reads it) stays so, a forced one stays forced, and a table authensor did
-- not protect is left alone.
SET ROLE typed_owner;
CREATE TABLE typed.owner_only (id int, tenant text);
ALTER TABLE typed.owner_only ENABLE ROW LEVEL SECURITY;
CREATE TABLE typed.forced (id int, tenant text);
ALTER TABLE typed.forced ENABLE ROW LEVEL SECURITY;
ALTER TABLE typed.forced FORCE ROW LEVEL SECURITY;
RESET ROLE;
SELECT authensor.unprotect_table('typed.owner_only');
SELECT authensor.protect_table('typed.owner_only', 'tenant');
SELECT authensor.protect_table('typed.owner_only', 'id');
SELECT authensor.unprotect_table('typed.owner_only');
SELECT authensor.protect_table('typed.forced', 'tenant');
SELECT authensor.unprotect_table('typed.forced');
SELECT authensor.unprotect_table('typed.by_domain');
SELECT authensor.unprotect_table('typed.by_domain');
SELECT relname, relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE relnamespace = 'typed'::regnamespace AND relkind = 'r' ORDER BY 1;
-- A protected table whose policies' comment was changed: row security stays
-- on when they are dropped.
SELECT authensor.protect_table('typed.by_domain', 'tenant');
COMMENT ON POLICY authensor_tenant_only ON typed.by_domain IS 'authensor: rows of the current tenant only (protect_table)';
SELECT authensor.unprotect_table('typed.by_domain');
SELECT relrowsecurity, relforcerowsecurity,
       (SELECT count(*) FROM pg_policy WHERE polrelid = 'typed.by_domain'::regclass) AS policies
  FROM pg_class WHERE oid = 'typed.by_domain'::regclass;

-- Unique and foreign key checks bypass row-level security: each key of a
-- protected table without the tenant column, and each foreign key into it
-- that leaves the column out, draws a WARNING, and the table is protected
-- all the same. Keys that include the column draw none; nor do an index's
-- INCLUDE columns count as its key.
\set VERBOSITY default
SET ROLE typed_owner;
CREATE TABLE typed.orders (id int PRIMARY KEY, tenant text NOT NULL);
CREATE TABLE typed.tenant_orders (tenant text, id int, code text, PRIMARY KEY (tenant, id), UNIQUE (tenant, code));
CREATE TABLE typed.items (tenant text, id int, order_id int REFERENCES typed.orders (id), tenant_order int,
                          PRIMARY KEY (tenant, id),
                          FOREIGN KEY (tenant, tenant_order) REFERENCES typed.tenant_orders (tenant, id));
CREATE UNIQUE INDEX items_order_only ON typed.items (order_id) INCLUDE (tenant);
RESET ROLE;
SELECT authensor.protect_table('typed.orders', 'tenant');
SELECT authensor.protect_table('typed.tenant_orders', 'tenant');
SELECT authensor.protect_table('typed.items', 'tenant');
\set VERBOSITY terse
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, count(p.oid) AS policies
  FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
 WHERE c.oid IN ('typed.orders'::regclass, 'typed.tenant_orders'::regclass, 'typed.items'::regclass)
 GROUP BY 1, 2, 3 ORDER BY 1;
DROP SCHEMA typed CASCADE;
DROP ROLE typed_owner;
