-- protect_table() refuses a tenant column under a nondeterministic
-- collation: there, distinct tenant ids compare equal, and tenant sql-a
-- would read and write the rows of SQL-A. Nondeterministic collations need
-- ICU; a build without it (this test's other expected output) cannot create
-- one, so nothing is there to refuse.
\set VERBOSITY terse
CREATE ROLE nocase_owner NOLOGIN;
CREATE SCHEMA nocase AUTHORIZATION nocase_owner;
CREATE COLLATION nocase.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT 'sql-a' = 'SQL-A' COLLATE nocase.ci AS equal;
SET ROLE nocase_owner;
CREATE TABLE nocase.rows (id int PRIMARY KEY, tenant text COLLATE nocase.ci NOT NULL);
RESET ROLE;
SELECT authensor.protect_table('nocase.rows', 'tenant');
SELECT count(*) AS policies FROM pg_policy WHERE polrelid = 'nocase.rows'::regclass;
DROP SCHEMA nocase CASCADE;
DROP ROLE nocase_owner;
