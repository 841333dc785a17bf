-- DROP EXTENSION authensor while receipts exist is refused, with a hint; it
-- goes through when the operator sets authensor.allow_drop in that
-- transaction. Every drop here is rolled back, so the extension stays.
\c - postgres
SELECT count(*) > 0 AS receipts_exist FROM authensor.receipts;
BEGIN;
DROP EXTENSION authensor CASCADE;
ROLLBACK;
BEGIN;
DROP SCHEMA authensor CASCADE;
ROLLBACK;
BEGIN;
DROP EXTENSION IF EXISTS no_such_extension, authensor;
ROLLBACK;
-- Other drops are not the guard's business.
DROP EXTENSION IF EXISTS no_such_extension;
-- Only a superuser may allow it.
\c - agent_app
SELECT authensor.current_tenant() IS NULL AS library_loaded;
SET authensor.allow_drop = on;
\c - postgres
BEGIN;
SET LOCAL authensor.allow_drop = on;
DROP EXTENSION authensor CASCADE;
SELECT count(*) AS extension_left FROM pg_extension WHERE extname = 'authensor';
ROLLBACK;
SELECT count(*) AS extension_kept FROM pg_extension WHERE extname = 'authensor';
-- With no receipts there is nothing to lose, and no setting is needed.
CREATE DATABASE authensor_drop_guard;
\c authensor_drop_guard
CREATE EXTENSION authensor;
DROP EXTENSION authensor;
\c authensor_regress
DROP DATABASE authensor_drop_guard;
